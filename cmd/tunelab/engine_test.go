package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/backend/xlacache"
)

// TestEngineSaysWhereProgramsAreCached: on XLA's CPU plugin `tunelab engine` names the folder of
// the compilation cache, or says why there is none: turned off, or a folder that cannot be made.
func TestEngineSaysWhereProgramsAreCached(t *testing.T) {
	if wantEngine(t) != backend.XLACPU {
		t.Skip("the compilation cache is XLA's; this runs on " + wantEngine(t))
	}
	folder := t.TempDir()
	file := filepath.Join(folder, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for setting, want := range map[string]string{
		folder: "tunelab: compiled programs are cached in " + folder + " (TUNELAB_XLA_CACHE=off: compile in every run)\n",
		"off":  "tunelab: compiled programs are not cached: every run compiles its own (TUNELAB_XLA_CACHE=off)\n",
		filepath.Join(file, "xla"): "tunelab: compiled programs are not cached: every run compiles its own (xlacache: mkdir " +
			file + ": not a directory)\n",
	} {
		t.Setenv(xlacache.EnvVar, setting)
		var stdout, stderr bytes.Buffer
		if err := runEngine(context.Background(), nil, &stdout, &stderr); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stdout.String(), "tunelab: engine "+backend.XLACPU+" (") || !strings.HasSuffix(stdout.String(), want) {
			t.Errorf("%s=%s: tunelab engine said\n%s\nwant the engine line, then\n%s", xlacache.EnvVar, setting, stdout.String(), want)
		}
	}
}
