// Package hfhub decides how tunelab reaches the Hugging Face Hub, for models and datasets
// (lab/data) alike: the token, the cache, the endpoint and offline mode, from the environment
// variables Python's huggingface_hub reads, and the layout of that shared cache; and it resolves
// a model name to a model folder (Resolve: a directory, models/NAME, or a Hub download).
package hfhub

import (
	"cmp"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/tunelab/tunelab/internal/atomicfile"
)

// Env is how to reach the Hub. Zero fields take their defaults in WithDefaults.
type Env struct {
	// Token is sent to the Hub as "Authorization: Bearer TOKEN". Default: $HF_TOKEN, else the
	// token file that `huggingface-cli login` writes ($HF_TOKEN_PATH, else $HF_HOME/token).
	Token string

	// CacheDir is the Hugging Face cache (shared with Python's huggingface_hub). Default:
	// $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
	// ~/.cache/huggingface/hub.
	CacheDir string

	// Endpoint is the Hub's base URL, without a trailing slash. Default: $HF_ENDPOINT, else
	// https://huggingface.co.
	Endpoint string

	// Offline forbids network access: only the cache is used. It is also on when
	// $HF_HUB_OFFLINE or $TRANSFORMERS_OFFLINE is set to 1 (or true, yes, on).
	Offline bool
}

// WithDefaults returns e with its zero fields read from the environment (see the fields).
func (e Env) WithDefaults() Env {
	hfHome := cmp.Or(os.Getenv("HF_HOME"), filepath.Join(xdgCacheHome(), "huggingface"))
	if e.Token == "" {
		e.Token = os.Getenv("HF_TOKEN")
	}
	if e.Token == "" {
		if b, err := os.ReadFile(cmp.Or(os.Getenv("HF_TOKEN_PATH"), filepath.Join(hfHome, "token"))); err == nil {
			e.Token = strings.TrimSpace(string(b))
		}
	}
	e.CacheDir = cmp.Or(e.CacheDir, os.Getenv("HF_HUB_CACHE"), filepath.Join(hfHome, "hub"))
	e.Endpoint = strings.TrimSuffix(cmp.Or(e.Endpoint, os.Getenv("HF_ENDPOINT"), "https://huggingface.co"), "/")
	e.Offline = e.Offline || EnvTrue("HF_HUB_OFFLINE") || EnvTrue("TRANSFORMERS_OFFLINE")
	return e
}

// EnvTrue reads a boolean environment variable the way huggingface_hub does.
func EnvTrue(key string) bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(key))) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func xdgCacheHome() string {
	if dir := os.Getenv("XDG_CACHE_HOME"); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".cache"
	}
	return filepath.Join(home, ".cache")
}

// Kind is the kind of a Hub repository, as its cache folder names it.
type Kind string

const (
	Models   Kind = "models"
	Datasets Kind = "datasets"
)

// Cache is one repository's entry in a Hugging Face cache, in huggingface_hub's layout:
// KIND--ORG--NAME/refs/REVISION holds the commit a branch or tag resolved to, and
// KIND--ORG--NAME/snapshots/COMMIT/ the repository's files at that commit.
type Cache struct {
	// Root is the cache folder (Env.CacheDir), ID the repository ("org/name").
	Root string
	Kind Kind
	ID   string
}

// RepoDir is the repository's folder in the cache.
func (c Cache) RepoDir() string {
	return filepath.Join(c.Root, string(c.Kind)+"--"+strings.ReplaceAll(c.ID, "/", "--"))
}

// RefPath is the file recording the commit of revision.
func (c Cache) RefPath(revision string) string {
	return filepath.Join(c.RepoDir(), "refs", filepath.FromSlash(revision))
}

// SnapshotDir is the folder of the files at commit.
func (c Cache) SnapshotDir(commit string) string {
	return filepath.Join(c.RepoDir(), "snapshots", commit)
}

// commitID matches a full Git commit id, which names a snapshot directly.
var commitID = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Snapshot returns the snapshot folder of revision (a full commit id, or a branch or tag that
// RefPath resolves), or an error wrapping fs.ErrNotExist when the cache has none.
func (c Cache) Snapshot(revision string) (string, error) {
	commit := revision
	if !commitID.MatchString(commit) {
		raw, err := os.ReadFile(c.RefPath(revision))
		if err != nil {
			return "", fmt.Errorf("the cache has no %s: %w", c.RefPath(revision), fs.ErrNotExist)
		}
		commit = strings.TrimSpace(string(raw))
	}
	dir := c.SnapshotDir(commit)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("the cache has no %s: %w", dir, fs.ErrNotExist)
	}
	return dir, nil
}

// WriteRef records commit as what revision resolved to, as huggingface_hub does after a
// download, so that offline runs (Python's and tunelab's) find the snapshot.
func (c Cache) WriteRef(revision, commit string) error {
	path := c.RefPath(revision)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, []byte(commit))
}
