// Package testenv locates the real data and models that tests read, so every package's
// tests agree on where they live.
//
// Data: $TUNELAB_DATA, else ../shared/data beside the repository (the read-only mirror of the
// official datasets), else ./data. Models: $TUNELAB_MODELS, else the repository's models/ folder.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot is the absolute path of the repository checkout.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// DataDir returns the directory holding the official dataset layouts
// (disaster_tweets/, imdb/, ag_news/), skipping the test when none is present.
func DataDir(t testing.TB) string {
	t.Helper()
	candidates := []string{os.Getenv("TUNELAB_DATA"),
		filepath.Join(RepoRoot(), "..", "shared", "data"),
		filepath.Join(RepoRoot(), "data")}
	for _, dir := range candidates {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "disaster_tweets", "train.csv")); err == nil {
			return dir
		}
	}
	const why = "no dataset directory: set TUNELAB_DATA or place ../shared/data beside the repository"
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
	return ""
}

// ModelDir returns models/<name> (or $TUNELAB_MODELS/<name>), skipping the test when the
// checkpoint is not installed (run `make models`).
func ModelDir(t testing.TB, name string) string {
	t.Helper()
	root := os.Getenv("TUNELAB_MODELS")
	if root == "" {
		root = filepath.Join(RepoRoot(), "models")
	}
	dir := filepath.Join(root, name)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("model %s is not installed in %s (run `make models`)", name, root)
		}
		t.Skipf("model %s is not installed in %s (run `make models`)", name, root)
	}
	return dir
}

// IsolateHuggingFace clears the Hugging Face environment variables for the test (token, cache,
// endpoint, offline mode) and points HF_HOME at an empty folder, so that neither this
// machine's settings nor its cache take part.
func IsolateHuggingFace(t testing.TB) {
	for _, key := range []string{"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HF_TOKEN_PATH",
		"HF_ENDPOINT", "HF_HUB_CACHE", "XDG_CACHE_HOME", "TUNELAB_MODELS"} {
		t.Setenv(key, "")
	}
	t.Setenv("HF_HOME", t.TempDir())
}
