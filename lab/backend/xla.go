//go:build !noxla

package backend

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/go-xla/pjrt"
	"github.com/gomlx/go-xla/stablehlo"

	"github.com/tunelab/tunelab/lab/backend/xlacache"
)

// newXLA builds an XLA backend from config "xla:NAME[,options]" or "xla:/path/to/plugin.so[,options]".
// It finds and checks the plugin file itself and hands go-xla its absolute path, so a broken file
// is an error naming it rather than a crash in go-xla's own search.
func newXLA(config string) (compute.Backend, error) {
	// Never download plugins: tunelab runs offline, and a failed download would only hide the
	// real problem (no plugin installed).
	xla.EnableAutoInstall(false)
	_, plugin, _ := strings.Cut(config, ":")
	plugin, options, _ := strings.Cut(plugin, ",")
	if plugin == "" {
		plugin = "cpu"
	}
	path := plugin
	if !filepath.IsAbs(plugin) {
		var err error
		if path, err = FindPlugin(plugin); err != nil {
			return nil, fmt.Errorf("backend %q needs XLA's PJRT plugin: %w; %s", config, err, installAdvice(plugin))
		}
	}
	if err := CheckPlugin(path); err != nil {
		return nil, fmt.Errorf("backend %q: %w", config, err)
	}
	isCPU := pluginName(path) == "cpu"
	var createOptions pjrt.NamedValuesMap
	if isCPU {
		devices, rest, err := cpuDevices(options)
		if err != nil {
			return nil, fmt.Errorf("backend %q: %w", config, err)
		}
		createOptions, options = pjrt.NamedValuesMap{cpuDeviceCount: int64(devices)}, rest
	}
	withOptions := path
	if options != "" {
		withOptions += "," + options
	}
	b, err := xla.NewWithOptions(withOptions, createOptions)
	if err != nil {
		return nil, fmt.Errorf("backend %q: %w", config, err)
	}
	if isCPU {
		cacheCompiledPrograms(path)
	}
	return b, nil
}

// cpuDeviceCount is the CPU plugin's create option for how many devices it shows.
const cpuDeviceCount = "cpu_device_count"

// cpuDevices returns the CPU plugin's device count and the other options of options (go-xla's,
// comma-separated): N where options hold cpu_device_count=N, else the plugin's own default, 4,
// but no more than the cores. The plugin runs one thread per device or per core, whichever are
// more: on 2 cores its default 4 devices made 4 threads, and a MiniLM training step at 16 x 32
// tokens took 0.215 s where, with 2 devices and 2 threads, it took 0.175 s (bench/results).
func cpuDevices(options string) (devices int, rest string, err error) {
	devices = min(4, runtime.NumCPU())
	var others []string
	for _, option := range strings.Split(options, ",") {
		value, ok := strings.CutPrefix(option, cpuDeviceCount+"=")
		if !ok {
			if option != "" {
				others = append(others, option)
			}
			continue
		}
		if devices, err = strconv.Atoi(value); err != nil || devices < 1 {
			return 0, "", fmt.Errorf("%s=%s: want a device count >= 1", cpuDeviceCount, value)
		}
	}
	return devices, strings.Join(others, ","), nil
}

var (
	cacheNotice sync.Once
	cacheMu     sync.Mutex
	cacheErr    error // why the last install of the cache failed, nil when it did not
)

// cacheCompiledPrograms puts the compilation cache (xlacache) in front of the CPU plugin at
// path; where it cannot, programs are compiled in every process, with a one-line notice of why.
func cacheCompiledPrograms(path string) {
	folder, err := xlacache.Dir()
	if err == nil {
		err = xlacache.Install(path, folder)
	}
	cacheMu.Lock()
	cacheErr = err
	cacheMu.Unlock()
	if err != nil {
		cacheNotice.Do(func() { fmt.Fprintf(os.Stderr, "tunelab: %v; every run compiles its programs\n", err) })
	}
}

// ProgramCache returns the folder that keeps the programs b compiles (xlacache), or why there is
// none: b is not XLA's CPU plugin, $TUNELAB_XLA_CACHE is off, or the cache could not be installed.
func ProgramCache(b compute.Backend) (folder string, why error) {
	if plugin, isXLA := xlaPlugin(b); !isXLA || plugin != "cpu" {
		return "", errors.New("the cache is for XLA's CPU plugin")
	}
	if folder := xlacache.Folder(); folder != "" {
		return folder, nil
	}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if cacheErr != nil {
		return "", cacheErr
	}
	return "", fmt.Errorf("%s=off", xlacache.EnvVar)
}

// installAdvice says how to install the plugin called name.
func installAdvice(name string) string {
	if name == "cpu" {
		return InstallHint
	}
	return "for CUDA, pip install jax-cuda13-pjrt, link its jax_plugins/xla_cuda13/xla_cuda_plugin.so as " +
		"DIR/lib/pjrt_c_api_cuda_plugin.so and its nvidia/ folder as DIR/nvidia, and set " +
		"PJRT_PLUGIN_LIBRARY_PATH=DIR/lib, as bench/gpu.sh does"
}

// markBufferDonor marks param, a parameter of a graph being built on XLA, as a buffer donor:
// XLA may then write an output of its shape over it when the caller donates its buffer (GoMLX
// donates those of the variables a graph changes). It returns false for a value of another
// engine.
func markBufferDonor(param compute.Value) bool {
	node, ok := param.(*xla.Node)
	if !ok {
		return false
	}
	value, ok := unexportedField(node, "value").(*stablehlo.Value)
	if !ok || value == nil {
		return false
	}
	if value.Attributes == nil {
		value.Attributes = map[string]any{}
	}
	value.Attributes["jax.buffer_donor"] = true
	return true
}
