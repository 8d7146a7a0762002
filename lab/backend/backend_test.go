package backend

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultIsTheGoBackend(t *testing.T) {
	t.Setenv(EnvVar, "")
	b, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "go" && !strings.Contains(strings.ToLower(b.Description()), "go") {
		t.Errorf("default backend is %q (%s), want the Go backend", b.Name(), b.Description())
	}
}

func TestEnvironmentSelectsBackend(t *testing.T) {
	t.Setenv(EnvVar, "nonesuch:x")
	_, err := New("")
	if err == nil || !strings.Contains(err.Error(), `unknown backend "nonesuch"`) {
		t.Fatalf("error = %v, want the unknown backend named", err)
	}
}

// TestXLAWithoutPluginFailsFast: no PJRT plugin is installed in the test environment, and asking
// for XLA must say so at once instead of downloading or hanging.
func TestXLAWithoutPluginFailsFast(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	start := time.Now()
	_, err := New("xla:cuda")
	if err == nil {
		t.Skip("a PJRT plugin is installed here")
	}
	if !strings.Contains(err.Error(), "PJRT plugin") {
		t.Errorf("error %q does not explain the missing plugin", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v: it must fail fast", time.Since(start))
	}
}
