package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestStartTuned: tunelab started without the engines' environment settings starts again with
// them, keeping the rest of its environment and its arguments.
func TestStartTuned(t *testing.T) {
	if os.Getenv("TUNELAB_TUNED_CHILD") == "1" {
		startTuned()
		os.Stdout.WriteString(strings.Join([]string{os.Getenv("GODEBUG"), os.Getenv("GLIBC_TUNABLES"), os.Getenv("TUNELAB_KEEP"), os.Args[len(os.Args)-1]}, "|"))
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStartTuned$", "-test.v=false")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") && !strings.HasPrefix(kv, "GLIBC_TUNABLES=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "TUNELAB_TUNED_CHILD=1", "TUNELAB_KEEP=kept", "GODEBUG=gctrace=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if want := "gctrace=0,asyncpreemptoff=1|glibc.malloc.hugetlb=1|kept|-test.v=false"; string(out) != want {
		t.Errorf("started again with %q, want %q", out, want)
	}
}
