// Package backend creates the GoMLX compute backend that every tunelab job runs on.
//
// The default is GoMLX's pure Go backend, configured for training on a CPU. XLA (including
// `xla:cuda` on an NVIDIA GPU) is selected with the --backend flag or $GOMLX_BACKEND where a PJRT
// plugin is installed; tunelab never downloads plugins, so an offline machine gets one clear
// sentence instead of a hang.
package backend

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// DefaultConfig is the Go backend with every op free to run in parallel: the library default
// deadlocked while training on 2 cores (its matmul workers waited for pool slots that never
// freed), and this setting did not.
const DefaultConfig = "go:ops_parallel,parallelism=-1"

// EnvVar names the environment variable that selects the backend when no flag does.
const EnvVar = compute.ConfigEnvVar

// New returns the backend described by config ("go[:options]", "xla:cpu", "xla:cuda", ...).
// An empty config means $GOMLX_BACKEND, or DefaultConfig when that is unset.
func New(config string) (compute.Backend, error) {
	if config == "" {
		config = os.Getenv(EnvVar)
	}
	if config == "" {
		config = DefaultConfig
	}
	name, _, _ := strings.Cut(config, ":")
	switch name {
	case gobackend.BackendName:
		return newGo(config)
	case "xla", "stablehlo", "shlo", "hlo":
		return newXLA(config)
	default:
		return nil, fmt.Errorf("unknown backend %q in %q: use %q (the default) or \"xla:cpu\" / \"xla:cuda\" with a PJRT plugin installed", name, config, DefaultConfig)
	}
}

// goBackendMu serialises the stdout redirection in newGo.
var goBackendMu sync.Mutex

// newGo builds a Go backend. The backend prints its parallelism setting on standard output, which
// would corrupt the JSON that `tunelab predict` writes there (and shows as an error box in every
// notebook cell), so that line is dropped.
func newGo(config string) (compute.Backend, error) {
	goBackendMu.Lock()
	defer goBackendMu.Unlock()
	r, w, err := os.Pipe()
	if err != nil {
		return compute.NewWithConfig(config)
	}
	stdout := os.Stdout
	os.Stdout = w
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, r)
		close(copied)
	}()
	b, err := compute.NewWithConfig(config)
	os.Stdout = stdout
	_ = w.Close()
	<-copied
	_ = r.Close()
	return b, err
}
