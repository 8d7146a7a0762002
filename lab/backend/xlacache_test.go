//go:build !noxla

package backend_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/backend/xlacache"
)

// cachedXLA returns a CPU XLA backend whose compilation cache is folder ("off": none).
func cachedXLA(t *testing.T, folder string) compute.Backend {
	t.Helper()
	if _, err := backend.FindPlugin("cpu"); err != nil {
		testenv.Missing(t, "XLA's CPU plugin is not installed (make setup): "+err.Error())
	}
	t.Setenv(xlacache.EnvVar, folder)
	b, err := backend.New(backend.XLACPU)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Finalize)
	return b
}

// affine compiles and runs x*3 - 2 on x = [1, 2, 4] (by hand: 1, 4, 10) and returns the
// compilations it made: from the cache, afresh.
func affine(t *testing.T, b compute.Backend) xlacache.Stats {
	t.Helper()
	before := xlacache.Counts()
	got := tensors.MustCopyFlatData[float32](MustExecOnce(b, func(x *Node) *Node {
		return AddScalar(MulScalar(x, 3), -2)
	}, []float32{1, 2, 4}))
	if fmt.Sprint(got) != "[1 4 10]" {
		t.Fatalf("x*3 - 2 of [1 2 4] = %v, want [1 4 10]", got)
	}
	after := xlacache.Counts()
	return xlacache.Stats{Loaded: after.Loaded - before.Loaded, Compiled: after.Compiled - before.Compiled}
}

func programFiles(t *testing.T, folder string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(folder, "*.xla"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestCompilationCache: a program compiled once is stored, and loaded, with the same results,
// the next time it is compiled: in this process and in a new one (a notebook cell run again).
func TestCompilationCache(t *testing.T) {
	folder := t.TempDir()
	b := cachedXLA(t, folder)
	if got := affine(t, b); got != (xlacache.Stats{Compiled: 1}) {
		t.Fatalf("first compilation: %+v, want 1 compiled", got)
	}
	if files := programFiles(t, folder); len(files) != 1 {
		t.Fatalf("the cache holds %v, want one program", files)
	}
	if got := affine(t, b); got != (xlacache.Stats{Loaded: 1}) {
		t.Errorf("second compilation in the process: %+v, want 1 loaded", got)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestCompilationCacheChild$", "-test.v")
	child.Env = append(os.Environ(), "TUNELAB_CACHE_CHILD="+folder)
	out, err := child.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child: loaded 1, compiled 0") {
		t.Errorf("a new process compiling the program: %v\n%s\nwant it loaded from the cache", err, out)
	}
}

// TestCompilationCacheChild is TestCompilationCache's new process.
func TestCompilationCacheChild(t *testing.T) {
	folder := os.Getenv("TUNELAB_CACHE_CHILD")
	if folder == "" {
		t.Skip("run by TestCompilationCache")
	}
	got := affine(t, cachedXLA(t, folder))
	fmt.Printf("child: loaded %d, compiled %d\n", got.Loaded, got.Compiled)
}

// TestCompilationCacheDamagedFile: a program whose file was damaged is compiled again, correctly,
// and stored whole.
func TestCompilationCacheDamagedFile(t *testing.T) {
	folder := t.TempDir()
	b := cachedXLA(t, folder)
	affine(t, b)
	files := programFiles(t, folder)
	if len(files) != 1 {
		t.Fatalf("the cache holds %v, want one program", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(files[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := affine(t, b); got != (xlacache.Stats{Compiled: 1}) {
		t.Errorf("compilation over a damaged file: %+v, want 1 compiled", got)
	}
	if got := affine(t, b); got != (xlacache.Stats{Loaded: 1}) {
		t.Errorf("compilation after the damaged file was replaced: %+v, want 1 loaded", got)
	}
}

// TestCompilationCacheOff: with the cache off every compilation is afresh and nothing is written.
func TestCompilationCacheOff(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // where the default folder would be
	b := cachedXLA(t, "off")
	for range 2 {
		if got := affine(t, b); got != (xlacache.Stats{Compiled: 1}) {
			t.Errorf("compilation with the cache off: %+v, want 1 compiled", got)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "*", "*", "*")); len(files) > 0 {
		t.Errorf("the cache is off but %v were written", files)
	}
}

// TestCompilationCacheKeepsUpdatesInPlace: a program loaded from the cache still writes its
// variable's update over the old value (UpdateInPlace's buffer donation survives the cache).
func TestCompilationCacheKeepsUpdatesInPlace(t *testing.T) {
	b := cachedXLA(t, t.TempDir())
	before := xlacache.Counts()
	halveAndAddOne(t, b, true) // compiles and stores its programs (the variable's initialization too)
	first := xlacache.Counts()
	values, _, extra := halveAndAddOne(t, b, true)
	compiled, second := first.Compiled-before.Compiled, xlacache.Counts()
	if second.Loaded-first.Loaded != compiled || second.Compiled != first.Compiled {
		t.Fatalf("the first graph compiled %d programs; the second loaded %d and compiled %d, want all loaded",
			compiled, second.Loaded-first.Loaded, second.Compiled-first.Compiled)
	}
	if fmt.Sprint(values) != "[1 1.5 1.75]" || extra > variableBytes/4 {
		t.Errorf("loaded from the cache: values %v, a call added %d MiB to the peak (variable: %d MiB); want 1, 1.5, 1.75 and at most 1/4 of it",
			values, extra>>20, variableBytes>>20)
	}
}

// TestCompilationCacheFlagsAsLoaded: XLA_FLAGS changed after the plugin loaded (which read them
// then) does not change a program's file: the same program is loaded, not compiled again.
func TestCompilationCacheFlagsAsLoaded(t *testing.T) {
	folder := t.TempDir()
	affine(t, cachedXLA(t, folder))
	t.Setenv("XLA_FLAGS", os.Getenv("XLA_FLAGS")+" --xla_cpu_enable_fast_math=false")
	if got := affine(t, cachedXLA(t, folder)); got != (xlacache.Stats{Loaded: 1}) {
		t.Errorf("after XLA_FLAGS changed in the process: %+v, want 1 loaded", got)
	}
}

// TestCompilationCacheIgnoresGraphNames: the same program built by an Exec of another name (GoMLX
// names graphs "EXEC#N" in the order their shapes were first compiled, which concurrent
// compilation changes from run to run) is loaded, not compiled again.
func TestCompilationCacheIgnoresGraphNames(t *testing.T) {
	b := cachedXLA(t, t.TempDir())
	run := func(name string) xlacache.Stats {
		before := xlacache.Counts()
		exec := MustNewExec(b, func(x *Node) *Node { return AddScalar(MulScalar(x, 3), -2) }).WithName(name)
		got := tensors.MustCopyFlatData[float32](exec.MustExec([]float32{1, 2, 4})[0])
		if fmt.Sprint(got) != "[1 4 10]" {
			t.Fatalf("x*3 - 2 of [1 2 4] = %v, want [1 4 10]", got)
		}
		after := xlacache.Counts()
		return xlacache.Stats{Loaded: after.Loaded - before.Loaded, Compiled: after.Compiled - before.Compiled}
	}
	if got := run("first"); got != (xlacache.Stats{Compiled: 1}) {
		t.Fatalf("first compilation: %+v, want 1 compiled", got)
	}
	if got := run("second"); got != (xlacache.Stats{Loaded: 1}) {
		t.Errorf("the same program under another name: %+v, want 1 loaded", got)
	}
}
