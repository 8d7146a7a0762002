package benchkit

import (
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/backend/xlacache"
)

// aloneAllocation is what the tiny job's repetitions allocate and touch, in MiB.
const aloneAllocation = 64

// TestMain answers the jobs that TestMeasureAlone starts this test binary for.
func TestMain(m *testing.M) {
	if job, ok := AloneJob(); ok {
		RunJob(job, []*Workload{tinyWorkload()}, "", measureTinyJob)
	}
	if pidFile := os.Getenv(middleEnv); pidFile != "" {
		// The middle process of TestMeasuringProcessEndsWithUs: a measuring process that writes
		// its pid and waits, until this process is killed.
		_, err := runMeasuring(osexec.Command("sh", "-c", `echo $$ > "$0"; exec sleep 60`, pidFile))
		fmt.Fprintln(os.Stderr, "the measuring process ended first:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// middleEnv holds, in TestMeasuringProcessEndsWithUs's middle process, the file its measuring
// process writes its pid to.
const middleEnv = "TUNELAB_BENCHKIT_MIDDLE"

// TestMeasuringProcessEndsWithUs: a benchmark killed while a measuring process (a peer, a job
// of MeasureAlone) runs takes that process with it.
func TestMeasuringProcessEndsWithUs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kernel's parent-death signal is Linux's")
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	middle := osexec.Command(os.Args[0], "-test.run=^$")
	middle.Env = append(os.Environ(), middleEnv+"="+pidFile)
	if err := middle.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = middle.Process.Kill()
			t.Fatal("the measuring process wrote no pid in 10 s")
		}
		data, _ := os.ReadFile(pidFile)
		fmt.Sscan(string(data), &pid)
	}
	if err := middle.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = middle.Wait()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// Gone, or a zombie waiting for init to reap it: it runs no more.
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil || strings.Contains(string(status), "State:\tZ") {
			return
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the measuring process %d still runs 5 s after the benchmark was killed", pid)
		}
	}
}

// tinyWorkload is a random two-layer BERT at 2 x 8.
func tinyWorkload() *Workload {
	return &Workload{Name: "tiny", Batch: 2, Seq: 8, ConfigJSON: `{"model_type": "bert", "vocab_size": 50,
		"hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16,
		"hidden_act": "gelu", "max_position_embeddings": 16, "type_vocab_size": 2}`}
}

// measureTinyJob runs a program on b in each of 3 repetitions, which also allocate and touch
// aloneAllocation MiB; it fails where the job did not reach it whole.
func measureTinyJob(w *Workload, b compute.Backend, profile io.Writer) (Measurement, error) {
	if w.Config == nil || w.Config.NumLayers != 2 || profile != nil {
		return Measurement{}, fmt.Errorf("the job's workload came unprepared or with a profile: %+v", w)
	}
	double := MustNewExec(b, func(x *Node) *Node { return Add(x, x) })
	var kept [][]byte
	m, err := Measure(3, profile, func(int) error {
		if got := double.MustExec(float32(21))[0].Value().(float32); got != 42 {
			return fmt.Errorf("%s doubled 21 into %g", b.Name(), got)
		}
		block := make([]byte, aloneAllocation<<20)
		for i := range block {
			block[i] = 1
		}
		kept = append(kept, block)
		return nil
	})
	runtime.KeepAlive(kept)
	return m, err
}

// TestMeasureAlone: a job measured alone runs in a process of its own, whose peak resident
// memory holds what its repetitions allocated and none of what this process holds.
func TestMeasureAlone(t *testing.T) {
	const held = 512 // MiB this process holds while the job runs
	block := make([]byte, held<<20)
	for i := range block {
		block[i] = 1
	}
	m, err := MeasureAlone(Job{Engine: "go", Workload: "tiny"})
	runtime.KeepAlive(block)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Times) != 3 || m.First <= 0 {
		t.Errorf("the job answered %d timed repetitions (first %g s), want 3 after a warm-up", len(m.Times), m.First)
	}
	peak := m.PeakRSSBytes >> 20
	t.Logf("the job's peak RSS: %d MiB (this process holds %d MiB more)", peak, held)
	if peak < 3*aloneAllocation || peak >= held {
		t.Errorf("the job's peak RSS is %d MiB: want its repetitions' %d MiB and less than the %d MiB this process holds", peak, 3*aloneAllocation, held)
	}
}

// TestMeasureAloneCompiles: a job on XLA's CPU plugin compiles its program rather than loading
// it from the compilation cache, which it neither reads nor writes: its warm-up repetition is
// the compilation Result.FirstSeconds says it is.
func TestMeasureAloneCompiles(t *testing.T) {
	b, err := backend.New(backend.XLACPU)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no XLA engine in CI: %v", err)
		}
		t.Skip(err)
	}
	b.Finalize()
	cache := t.TempDir()
	t.Setenv(xlacache.EnvVar, cache)
	for range 2 {
		if _, err := MeasureAlone(Job{Engine: backend.XLACPU, Workload: "tiny"}); err != nil {
			t.Fatal(err)
		}
	}
	if entries, err := os.ReadDir(cache); err != nil || len(entries) > 0 {
		t.Fatalf("the jobs left %d entries in the compilation cache %s (%v), want none", len(entries), cache, err)
	}
}

// TestMeasureAloneUnknownWorkload: a job naming no workload fails, saying which job it was.
func TestMeasureAloneUnknownWorkload(t *testing.T) {
	for _, c := range []struct {
		job  Job
		want string
	}{
		{Job{Engine: "go", Workload: "bert-huge"}, "bert-huge on go in a process of its own"},
		{Job{Engine: "go", Workload: "bert-huge", Devices: "all"}, "bert-huge on go (devices all) in a process of its own"},
	} {
		if _, err := MeasureAlone(c.job); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want the job's failure, %q", c.job, err, c.want)
		}
	}
}
