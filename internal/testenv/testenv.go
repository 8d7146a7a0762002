// Package testenv locates the real data, models, reference implementations and tools that tests
// need, so every package's tests agree on where they live and on what happens when one is
// missing: Missing skips the test on a machine without it and fails it when $CI is set, since
// CI installs everything (a missing piece there is a broken set-up, not a pass).
//
// Data: as the command finds it (internal/datadir: $TUNELAB_DATA, else ../shared/data beside the
// repository, the read-only mirror of the official datasets, else the repository's data/). Models: $TUNELAB_MODELS, else the repository's models/ folder.
package testenv

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/tunelab/tunelab/internal/datadir"
)

// RepoRoot is the absolute path of the repository checkout.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// DataDir returns the directory holding the official dataset layouts (disaster_tweets/, imdb/,
// ag_news/) as the command finds it from the repository (datadir.Find), or calls Missing when
// it holds no disaster tweets.
func DataDir(t testing.TB) string {
	t.Helper()
	dir := datadir.Find(RepoRoot())
	if _, err := os.Stat(filepath.Join(dir, "disaster_tweets", "train.csv")); err != nil {
		Missing(t, "no dataset directory at "+dir+": set TUNELAB_DATA or place ../shared/data beside the repository")
	}
	return dir
}

// Missing skips the test because something it needs is not on this machine (why says what and
// how to get it), or fails it when $CI is set.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// Tool returns the path of the program name on $PATH, or calls Missing; why says what the test
// runs it for.
func Tool(t testing.TB, name, why string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" not found on PATH: "+why)
	}
	return path
}

// BrowserTempDir returns a TMPDIR=... entry for the environment of a browser script (script
// names it in the failure), and fails the test at its end if the script left anything in that
// folder: a Chromium profile is 17 MB, and every run would add one to the machine's /tmp.
func BrowserTempDir(t testing.TB, script string) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() { // runs before TempDir's own removal (cleanups run last-in, first-out)
		if left, _ := os.ReadDir(dir); len(left) > 0 {
			t.Errorf("%s left %d entries in its temporary folder (%s first)", script, len(left), left[0].Name())
		}
	})
	return "TMPDIR=" + dir
}

// Browser returns what the headless-Chromium tests of the demo page need: node, the Chromium
// binary ($CHROMIUM, else /usr/bin/chromium) and lab/serve/e2e, where `npm ci` has installed
// playwright-core. A missing one calls Missing.
func Browser(t testing.TB) (node, chromium, e2eDir string) {
	t.Helper()
	node = Tool(t, "node", "the browser tests run lab/serve/e2e/demo.mjs")
	chromium = cmp.Or(os.Getenv("CHROMIUM"), "/usr/bin/chromium")
	if _, err := os.Stat(chromium); err != nil {
		Missing(t, "no Chromium at "+chromium+" (apt-get install chromium, or set $CHROMIUM)")
	}
	e2eDir = filepath.Join(RepoRoot(), "lab", "serve", "e2e")
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "playwright-core")); err != nil {
		Missing(t, "lab/serve/e2e/node_modules lacks playwright-core: run `npm ci` in lab/serve/e2e")
	}
	return node, chromium, e2eDir
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
		Missing(t, fmt.Sprintf("model %s is not installed in %s (run `make models`)", name, root))
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

// BatchTolerance is how far apart one model's outputs for the same text may be when they were
// computed in batches of other sizes or paddings (other programs, other summation orders), for
// matrix products in matmul: float32 sums differ in their last bits (float32Tol), while
// bfloat16 products round those differences to bfloat16's 8 significant bits, which left
// all-MiniLM-L6-v2's outputs up to 5e-4 apart (5e-3 allows ten times that).
func BatchTolerance(matmul dtypes.DType, float32Tol float64) float64 {
	if matmul == dtypes.BFloat16 {
		return max(float32Tol, 5e-3)
	}
	return float32Tol
}
