package testenv

import (
	"fmt"
	"testing"
)

// recorder stands in for a test, recording Skip and Fatal instead of stopping.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any) { r.failed = fmt.Sprint(args...) }

// TestMissingFailsUnderCI: a missing model, tool or oracle skips the test on a developer's
// machine and fails it under CI.
func TestMissingFailsUnderCI(t *testing.T) {
	t.Setenv("TUNELAB_MODELS", t.TempDir())
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		for name, need := range map[string]func(testing.TB){
			"model":  func(tb testing.TB) { ModelDir(tb, "no-such-model") },
			"tool":   func(tb testing.TB) { Tool(tb, "no-such-tool-tunelab", "a test") },
			"oracle": func(tb testing.TB) { Python(tb, "no_such_module_tunelab") },
		} {
			r := &recorder{TB: t}
			need(r)
			if ci == "" && (r.skipped == "" || r.failed != "") {
				t.Errorf("%s missing, CI unset: skipped %q, failed %q; want a skip", name, r.skipped, r.failed)
			}
			if ci != "" && r.failed == "" {
				t.Errorf("%s missing, CI=%s: skipped %q, not failed", name, ci, r.skipped)
			}
		}
	}
}
