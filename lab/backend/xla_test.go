//go:build !noxla

package backend

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

func TestCPUDevicesOption(t *testing.T) {
	cores := min(4, runtime.NumCPU())
	for options, want := range map[string]struct {
		devices int
		rest    string
	}{
		"":                                {cores, ""},
		"cpu_device_count=4":              {4, ""},
		"shared_buffers=false":            {cores, "shared_buffers=false"},
		"a=1,cpu_device_count=1,b=2":      {1, "a=1,b=2"},
		"cpu_device_count=2,tf32=false,x": {2, "tf32=false,x"},
	} {
		devices, rest, err := cpuDevices(options)
		if err != nil || devices != want.devices || rest != want.rest {
			t.Errorf("cpuDevices(%q) = %d, %q, %v; want %d, %q", options, devices, rest, err, want.devices, want.rest)
		}
	}
	for _, bad := range []string{"cpu_device_count=0", "cpu_device_count=", "cpu_device_count=two"} {
		if _, _, err := cpuDevices(bad); err == nil || !strings.Contains(err.Error(), "want a device count >= 1") {
			t.Errorf("cpuDevices(%q): %v, want an error asking for a device count", bad, err)
		}
	}
}

// pluginThreads counts this process's threads of XLA's CPU plugin (its Eigen pool), once the
// count has held for 200 ms: a new thread takes its name only once it first runs, which on two
// busy cores can be well after the client that started it has returned.
func pluginThreads(t *testing.T) int {
	t.Helper()
	count := func() int {
		names, err := filepath.Glob("/proc/self/task/*/comm")
		if err != nil || len(names) == 0 {
			t.Skipf("no /proc/self/task: %v", err)
		}
		threads := 0
		for _, name := range names {
			comm, err := os.ReadFile(name)
			if err == nil && strings.Contains(string(comm), "XLAEigen") {
				threads++
			}
		}
		return threads
	}
	last, held := count(), 0
	for deadline := time.Now().Add(10 * time.Second); held < 10 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if now := count(); now != last || now == 0 {
			last, held = now, 0
		} else {
			held++
		}
	}
	return last
}

// TestCPUPluginThreads: by default the CPU plugin runs no more threads than there are cores
// (its own default of 4 devices ran 4 on 2 cores), and cpu_device_count still gives 4 devices.
// The threads are counted in a process of its own, where no other test's client is about (nor
// the threads of one finalized a moment ago, still winding down).
func TestCPUPluginThreads(t *testing.T) {
	cpuPlugin(t)
	if os.Getenv("TUNELAB_THREADS_CHILD") != "1" {
		child := exec.Command(os.Args[0], "-test.run=^TestCPUPluginThreads$", "-test.v")
		child.Env = append(os.Environ(), "TUNELAB_THREADS_CHILD=1")
		if out, err := child.CombinedOutput(); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
		return
	}
	b, err := New(XLACPU)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	// A product big enough for the plugin to split across its threads: [256, 256] x [256, 256]
	// of ones, each element 256.
	ones := make([]float32, 256*256)
	for i := range ones {
		ones[i] = 1
	}
	x := tensors.FromFlatDataAndDimensions(ones, 256, 256)
	got := tensors.MustCopyFlatData[float32](MustExecOnce(b, func(x *Node) *Node { return MatMul(x, x) }, x))
	if got[0] != 256 || got[len(got)-1] != 256 {
		t.Fatalf("ones [256, 256] squared: %v ... %v, want 256", got[0], got[len(got)-1])
	}
	if threads := pluginThreads(t); threads < 1 || threads > runtime.NumCPU() {
		t.Errorf("the plugin started %d threads on %d cores, want 1 to %d", threads, runtime.NumCPU(), runtime.NumCPU())
	}
	if want := min(4, runtime.NumCPU()); b.NumDevices() != want {
		t.Errorf("%d devices by default, want %d", b.NumDevices(), want)
	}
	four, err := New(XLACPU + ",cpu_device_count=4")
	if err != nil {
		t.Fatal(err)
	}
	defer four.Finalize()
	if four.NumDevices() != 4 {
		t.Errorf("xla:cpu,cpu_device_count=4 shows %d devices", four.NumDevices())
	}
	if _, err := New(XLACPU + ",cpu_device_count=0"); err == nil || !strings.Contains(err.Error(), `"xla:cpu,cpu_device_count=0"`) {
		t.Errorf("a device count of 0: %v, want an error naming the backend", err)
	}
}
