//go:build noxla

package backend

import (
	"fmt"

	"github.com/gomlx/compute"
)

func newXLA(config string) (compute.Backend, error) {
	return nil, fmt.Errorf("backend %q is not available: this tunelab binary was built with -tags noxla; rebuild without it or use %q", config, "go")
}

func markBufferDonor(compute.Value) bool { return false }

// ProgramCache: without XLA nothing is compiled ahead, so nothing is cached.
func ProgramCache(compute.Backend) (string, error) {
	return "", fmt.Errorf("this tunelab binary was built with -tags noxla")
}
