// Package datadir decides where the official dataset layouts are when no directory is given:
// the one rule the command, the library and the tests share.
package datadir

import (
	"os"
	"path/filepath"
)

// Find returns the data directory for the repository checkout (or working folder) root, ""
// for the current folder: $TUNELAB_DATA when set; else root/../shared/data, the folder beside
// the repository that the README's set-up uses, when it exists; else root/data, the
// repository's own folder, where missing datasets are downloaded.
func Find(root string) string {
	if dir := os.Getenv("TUNELAB_DATA"); dir != "" {
		return dir
	}
	shared := filepath.Join(root, "..", "shared", "data")
	if st, err := os.Stat(shared); err == nil && st.IsDir() {
		return shared
	}
	return filepath.Join(root, "data")
}
