//go:build !noxla

package backend

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/go-xla/compute/xla"
)

func newXLA(config string) (compute.Backend, error) {
	// Never download plugins: tunelab runs offline, and a failed download would only hide the
	// real problem (no plugin installed).
	xla.EnableAutoInstall(false)
	if len(xla.GetAvailablePlugins()) == 0 {
		return nil, fmt.Errorf("backend %q needs a PJRT plugin and none is installed: install one "+
			"(CPU: the gomlx pjrt-cpu release into /usr/local/lib/go-xla; CUDA: pip install jax-cuda13-pjrt, "+
			"link its jax_plugins/xla_cuda13/xla_cuda_plugin.so as DIR/lib/pjrt_c_api_cuda_plugin.so and its nvidia/ "+
			"folder as DIR/nvidia, and set PJRT_PLUGIN_LIBRARY_PATH=DIR/lib, as bench/gpu.sh does) or use the default %q", config, DefaultConfig)
	}
	b, err := compute.NewWithConfig(config)
	if err != nil {
		return nil, fmt.Errorf("backend %q: %w", config, err)
	}
	return b, nil
}
