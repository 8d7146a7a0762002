package datadir

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFindOrder: $TUNELAB_DATA first, then ROOT/../shared/data when present, then ROOT/data.
func TestFindOrder(t *testing.T) {
	root := filepath.Join(t.TempDir(), "tunelab")
	t.Setenv("TUNELAB_DATA", "")
	if got, want := Find(root), filepath.Join(root, "data"); got != want {
		t.Errorf("without ../shared/data: %s, want %s", got, want)
	}
	shared := filepath.Join(root, "..", "shared", "data")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := Find(root); got != shared {
		t.Errorf("with ../shared/data: %s, want %s", got, shared)
	}
	t.Setenv("TUNELAB_DATA", "/srv/datasets")
	if got := Find(root); got != "/srv/datasets" {
		t.Errorf("with TUNELAB_DATA: %s, want /srv/datasets", got)
	}
}
