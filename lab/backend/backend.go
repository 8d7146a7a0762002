// Package backend creates the GoMLX compute backend (the engine) that every tunelab job runs on.
//
// The default engine is XLA on the CPU ("xla:cpu"): XLA's CPU PJRT plugin, installed by `make
// setup` (scripts/setup/xla-plugin.sh) into go-xla's user folder. Where it does not load (no
// plugin, macOS, ARM, a binary built with -tags noxla) the default is GoMLX's pure Go backend,
// 2-5x slower (by machine), and tunelab says once on stderr why and how to install the plugin.
// The --backend flag or $GOMLX_BACKEND choose explicitly ("go", "xla:cpu", "xla:cuda"); an
// explicit choice that cannot load is an error, never a silent fallback. tunelab never
// downloads plugins. Each engine also has a default dtype for the encoder's matrix products
// (MatmulDType): bfloat16 on XLA's CPU plugin where the CPU has AMX or AVX512_BF16.
package backend

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
)

const (
	// XLACPU is the default engine where XLA's CPU plugin loads.
	XLACPU = "xla:cpu"
	// GoConfig is the Go backend with every op free to run in parallel: the library default
	// deadlocked while training on 2 cores (its matmul workers waited for pool slots that never
	// freed), and this setting did not.
	GoConfig = "go:ops_parallel,parallelism=-1"
	// EnvVar names the environment variable that selects the backend when no flag does.
	EnvVar = compute.ConfigEnvVar
	// InstallHint says how to get the CPU plugin.
	InstallHint = "`make setup` (scripts/setup/xla-plugin.sh) installs it"
)

// Notices receives the one-line notice of a fallback to the Go backend (standard error).
var Notices io.Writer = os.Stderr

// New returns the backend described by config ("go[:options]", "xla:cpu", "xla:cuda",
// "xla:/path/to/pjrt_c_api_NAME_plugin.so", ...; "xla:cpu,cpu_device_count=N" for N CPU
// devices, by default one per core up to 4). An empty config means $GOMLX_BACKEND, or,
// when that is unset too, the default engine: xla:cpu where its plugin loads, else the Go backend.
func New(config string) (compute.Backend, error) {
	if config == "" {
		config = os.Getenv(EnvVar)
	}
	if config == "" {
		return Default(), nil
	}
	name, _, _ := strings.Cut(config, ":")
	switch {
	case name == "go":
		if config == "go" {
			config = GoConfig
		}
		return newGo(config)
	case slices.Contains(xlaNames, name):
		return newXLA(config)
	default:
		return nil, fmt.Errorf("unknown backend %q in %q: use %q, %q or \"xla:cuda\"", name, config, XLACPU, "go")
	}
}

// xlaNames are the names New takes for XLA (GoMLX's and go-xla's aliases).
var xlaNames = []string{"xla", "stablehlo", "shlo", "hlo"}

// IsEngineName reports whether name ("go", "xla", ...: a config's part before ":") is an engine
// that New knows.
func IsEngineName(name string) bool {
	return name == "go" || slices.Contains(xlaNames, name)
}

var fallbackNotice sync.Once

// Default returns the default engine: xla:cpu where its plugin loads, else the Go backend with a
// one-line notice (once per process) of why.
func Default() compute.Backend {
	b, err := newXLA(XLACPU)
	if err == nil {
		return b
	}
	fallbackNotice.Do(func() {
		advice := preemptionAdvice()
		if advice != "" {
			advice = "; " + advice
		}
		fmt.Fprintf(Notices, "tunelab: running on GoMLX's Go backend (2-5x slower than XLA): %v%s\n", err, advice)
	})
	goBackend, goErr := newGo(GoConfig)
	if goErr != nil { // the Go backend is compiled in and takes no resources: this cannot fail
		panic(goErr)
	}
	return goBackend
}

var pluginDescription = regexp.MustCompile(`PJRT "?([\w.-]*)"? ?plugin \(([^)]*)\) (v[\d.]+)`)

// Accelerated reports whether b runs on an accelerator (a GPU, ...): XLA with a plugin other
// than the CPU one.
func Accelerated(b compute.Backend) bool {
	name, ok := xlaPlugin(b)
	return ok && name != "cpu"
}

// xlaPlugin returns the name of b's PJRT plugin ("cpu", "cuda"), and false when b is not XLA.
func xlaPlugin(b compute.Backend) (string, bool) {
	m := pluginDescription.FindStringSubmatch(b.Description())
	if m == nil {
		return "", false
	}
	if name := pluginName(m[2]); name != "" {
		return name, true
	}
	return m[1], true
}

// Describe names the engine b in one line for the start of a job: "xla:cpu (XLA PJRT plugin
// v0.115, 2 devices: /root/.local/lib/go-xla/pjrt_c_api_cpu_plugin.so)" or "go (GoMLX's pure Go
// backend, 2 threads)".
func Describe(b compute.Backend) string {
	if b.String() == gobackend.BackendName {
		return fmt.Sprintf("go (%s)", b.Description())
	}
	m := pluginDescription.FindStringSubmatch(b.Description())
	if m == nil {
		return b.Description()
	}
	name, _ := xlaPlugin(b)
	devices := "devices"
	if b.NumDevices() == 1 {
		devices = "device"
	}
	return fmt.Sprintf("%s:%s (XLA PJRT plugin %s, %d %s: %s)", b.Name(), name, m[3], b.NumDevices(), devices, m[2])
}

// Announce writes the start-of-job line "tunelab: engine ..." to w, and says so when the
// encoder's matrix products (matmul, see MatmulDType) are not float32.
func Announce(w io.Writer, b compute.Backend, matmul dtypes.DType) {
	precision := ""
	if matmul != dtypes.Float32 {
		precision = fmt.Sprintf(", matrix products in %s (float32 weights and sums)", DTypeName(matmul))
	}
	fmt.Fprintf(w, "tunelab: engine %s%s\n", Describe(b), precision)
}

// goBackendMu serialises the stdout redirection in newGo.
var goBackendMu sync.Mutex

var preemptionNotice sync.Once

// preemptionAdvice returns, the first time it is asked in a process that runs with the Go
// runtime's asynchronous preemption on, the advice to turn it off for the Go backend (see
// newGo); "" otherwise.
func preemptionAdvice() (advice string) {
	if asyncPreemptionOff(os.Getenv("GODEBUG")) {
		return ""
	}
	preemptionNotice.Do(func() {
		advice = "GODEBUG=asyncpreemptoff=1 in the environment makes the Go backend up to 3.6x faster (make, the notebooks' kernel and the Space image set it)"
	})
	return advice
}

// asyncPreemptionOff reports whether the GODEBUG value godebug turns the Go runtime's
// asynchronous preemption off (its last asyncpreemptoff setting is 1, as the runtime reads it).
func asyncPreemptionOff(godebug string) bool {
	off := false
	for _, field := range strings.Split(godebug, ",") {
		if value, ok := strings.CutPrefix(strings.TrimSpace(field), "asyncpreemptoff="); ok {
			off = value == "1"
		}
	}
	return off
}

// newGo builds a Go backend. The backend prints its parallelism setting on standard output,
// which would corrupt the JSON that `tunelab predict` writes there (and shows as an error box in
// every notebook cell), so that line is dropped. It says once on stderr (on the fallback
// notice's line when there is one) when the process runs with the Go runtime's asynchronous
// preemption on: a MiniLM 32 x 128 training step then took 52 s instead of 14.5 s
// (bench/results, AVX-512 Xeon; profiles put the time in runtime.asyncPreempt), and the runtime
// reads the setting at start-up only, so make, the notebooks' kernel and the Space image set
// GODEBUG=asyncpreemptoff=1 in the environment.
func newGo(config string) (compute.Backend, error) {
	if advice := preemptionAdvice(); advice != "" {
		fmt.Fprintln(Notices, "tunelab: "+advice)
	}
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
