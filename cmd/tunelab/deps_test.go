package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

// TestLinksNoNotebookUI: the tunelab binary does not link GoNB's notebook UI (gonbui, which
// lab/display draws with): what the command shares with the notebooks (charts, tables, the
// runs' records) lives in lab/plot and lab/runs.
func TestLinksNoNotebookUI(t *testing.T) {
	goTool := testenv.Tool(t, "go", "the test lists the command's dependencies")
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !strings.Contains(string(out), "github.com/tunelab/tunelab/lab/runs\n") {
		t.Fatalf("go list -deps listed %d packages without lab/runs: not the command's dependencies?\n%s", len(deps), out)
	}
	for _, pkg := range deps {
		if pkg == "github.com/tunelab/tunelab/lab/display" || strings.HasPrefix(pkg, "github.com/janpfeifer/gonb/") {
			t.Errorf("tunelab depends on %s", pkg)
		}
	}
}
