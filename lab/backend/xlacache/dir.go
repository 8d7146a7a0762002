// Package xlacache keeps the programs XLA's CPU plugin compiles in a folder, so that a process
// compiling a program compiled before loads it instead: a notebook cell run again, or the same
// fine-tune with another learning rate, skips the seconds each padded length's training program
// takes to compile (GoNB runs every cell as a new process, so nothing in memory survives).
//
// go-xla v0.4.5 has no binding for PJRT's executable serialization, so the cache sits in front
// of the plugin's own PJRT_Client_Compile, in its PJRT_Api table: go-xla and GoMLX see an
// ordinary compiled executable either way.
package xlacache

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// EnvVar names the cache folder; "off" turns the cache off.
const EnvVar = "TUNELAB_XLA_CACHE"

// Stats counts the compilations since the process started: Loaded from the cache, Compiled
// afresh (and stored).
type Stats struct {
	Loaded, Compiled int
}

var (
	mu    sync.Mutex
	stats Stats
	dir   string // the folder Install put the cache in; "" while it is off
)

// Folder returns the folder the cache keeps programs in, "" where it is off or not installed.
func Folder() string {
	mu.Lock()
	defer mu.Unlock()
	return dir
}

// Counts returns the compilations since the process started.
func Counts() Stats {
	mu.Lock()
	defer mu.Unlock()
	return stats
}

// Dir returns the cache folder that $TUNELAB_XLA_CACHE names, or by default tunelab/xla in the
// user's cache folder (~/.cache/tunelab/xla on Linux); "" when the variable is "off".
func Dir() (string, error) {
	switch v := os.Getenv(EnvVar); v {
	case "off":
		return "", nil
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("xlacache: no folder for the compilation cache (set %s): %w", EnvVar, err)
		}
		return filepath.Join(base, "tunelab", "xla"), nil
	default:
		return v, nil
	}
}
