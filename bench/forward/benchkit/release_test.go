package benchkit

import (
	"fmt"
	"os"
	osexec "os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/tunelab/tunelab/lab/backend"
)

// TestReleaseFreeMemory: in a process on tcmalloc, the 512 MiB output buffer of an XLA program,
// once freed, stays resident until ReleaseFreeMemory gives it back to the OS.
func TestReleaseFreeMemory(t *testing.T) {
	const size = 512 << 20
	if os.Getenv("TUNELAB_RELEASE_CHILD") == "1" {
		b, err := backend.New("xla:cpu")
		if err != nil {
			fmt.Print("no XLA engine: ", err)
			os.Exit(0)
		}
		exec := MustNewExec(b, func(x *Node) *Node {
			return Add(Iota(x.Graph(), shapes.Make(dtypes.Float32, size/4), 0), x)
		})
		rss := func() int64 {
			n, err := statusBytes("VmRSS")
			if err != nil {
				panic(err)
			}
			return n
		}
		before := rss()
		exec.MustExec(float32(1))[0].FinalizeAll()
		freed := rss()
		tcmalloc := ReleaseFreeMemory()
		fmt.Println(before>>20, freed>>20, rss()>>20, tcmalloc)
		os.Exit(0)
	}
	lib := backend.TCMalloc()
	if lib == "" {
		if runtime.GOOS == "linux" && os.Getenv("CI") != "" {
			t.Fatal("no tcmalloc on this machine: make setup installs it (scripts/setup/tcmalloc.sh)")
		}
		t.Skip("no tcmalloc here")
	}
	cmd := osexec.Command(os.Args[0], "-test.run=^TestReleaseFreeMemory$")
	cmd.Env = append(os.Environ(), "TUNELAB_RELEASE_CHILD=1", "LD_PRELOAD="+lib)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.HasPrefix(string(out), "no XLA engine") {
		t.Skip(string(out))
	}
	var before, freed, released int64
	var tcmalloc bool
	if _, err := fmt.Sscan(string(out), &before, &freed, &released, &tcmalloc); err != nil {
		t.Fatalf("child printed %q: %v", out, err)
	}
	t.Logf("resident MiB: %d before the program, %d after freeing its output, %d after ReleaseFreeMemory", before, freed, released)
	if !tcmalloc {
		t.Fatalf("ReleaseFreeMemory found no tcmalloc in a process that preloads %s", lib)
	}
	if freed-before < size>>20/2 {
		t.Fatalf("the freed output left %d MiB resident: want tcmalloc to keep at least half its 512", freed-before)
	}
	if released-before > 64 {
		t.Errorf("after ReleaseFreeMemory %d MiB over the start stay resident: want at most 64", released-before)
	}
}
