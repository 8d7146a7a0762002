// Package benchkit holds what the benchmarks against transformers + torch share: timed
// repetitions and their median, peak resident memory, achieved and nominal FLOP rates, running
// the Python peer, and a description of the machine they ran on. Its Python half,
// benchkit.py, does the same measurements on the peer's side.
package benchkit

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	osexec "os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"golang.org/x/sys/cpu"

	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/hfmodel"
)

// Result is one side's timing of a benchmark.
type Result struct {
	Side          string  `json:"side"`
	MedianSeconds float64 `json:"median_seconds"`
	SamplesPerSec float64 `json:"samples_per_second"`
	// GFLOPS is the achieved rate: the counted FLOPs of one repetition (ForwardFLOPs,
	// TrainingStepFLOPs) over MedianSeconds, in 1e9 FLOP/s.
	GFLOPS float64 `json:"gflops,omitempty"`
	// PeakRSSBytes is the process's peak resident memory (bytes) from the warm-up repetition on:
	// the loaded model plus what the repetitions need at most (see Measure).
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
	// FirstSeconds is the warm-up repetition's time: the compilation of the program (XLA,
	// torch's first-call set-up) plus one run.
	FirstSeconds float64 `json:"first_seconds,omitempty"`
	// Devices is how many devices the batch was split across (0: not recorded, one).
	Devices int `json:"devices,omitempty"`
	// CoresBusy is the CPU cores the timed repetitions kept busy on average (see Measurement).
	CoresBusy float64 `json:"cores_busy,omitempty"`
}

// Summarize returns the median of times (seconds per repetition of batch samples); times must
// not be empty. It sorts times.
func Summarize(side string, times []float64, batch int) Result {
	slices.Sort(times)
	median := times[len(times)/2]
	return Result{Side: side, MedianSeconds: median, SamplesPerSec: float64(batch) / median}
}

// GFLOPS returns flops per seconds in 1e9 FLOP/s.
func GFLOPS(flops int64, seconds float64) float64 {
	return float64(flops) / seconds / 1e9
}

// MiB converts bytes to mebibytes.
func MiB(bytes int64) float64 {
	return float64(bytes) / (1 << 20)
}

// Measurement is what Measure measured. Its JSON is what peers print (benchkit.py's measure)
// and what processes of MeasureAlone answer.
type Measurement struct {
	// Times are the timed repetitions' seconds; First is the warm-up's.
	Times []float64 `json:"seconds"`
	First float64   `json:"first_seconds"`
	// PeakRSSBytes is the peak resident memory from the warm-up on (see ResetPeakRSS).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// CoresBusy is the process's CPU time during the timed repetitions over their wall time:
	// how many cores they kept busy on average.
	CoresBusy float64 `json:"cores_busy"`
}

// Result summarizes m as side's Result for batch samples per repetition (see Summarize).
func (m Measurement) Result(side string, batch int) Result {
	r := Summarize(side, slices.Clone(m.Times), batch)
	r.PeakRSSBytes, r.FirstSeconds, r.CoresBusy = m.PeakRSSBytes, m.First, m.CoresBusy
	return r
}

// Measure runs step reps+1 times with i = 1, ..., reps+1; the first run is a warm-up (it also
// compiles the graph) and is timed apart. ResetPeakRSS is called right before it. With profile
// non-nil, the timed runs are CPU-profiled into it.
func Measure(reps int, profile io.Writer, step func(i int) error) (Measurement, error) {
	var m Measurement
	if err := ResetPeakRSS(); err != nil {
		return m, err
	}
	var cpuStart time.Duration
	for i := 1; i <= reps+1; i++ {
		if i == 2 {
			cpuStart = cpuTime()
			if profile != nil {
				if err := pprof.StartCPUProfile(profile); err != nil {
					return m, err
				}
				defer pprof.StopCPUProfile()
			}
		}
		start := time.Now()
		if err := step(i); err != nil {
			return m, fmt.Errorf("repetition %d: %w", i, err)
		}
		if i > 1 {
			m.Times = append(m.Times, time.Since(start).Seconds())
		} else {
			m.First = time.Since(start).Seconds()
		}
	}
	wall := 0.0
	for _, t := range m.Times {
		wall += t
	}
	if wall > 0 {
		m.CoresBusy = (cpuTime() - cpuStart).Seconds() / wall
	}
	var err error
	m.PeakRSSBytes, err = PeakRSS()
	return m, err
}

// cpuTime is the CPU time (user and system) of every thread of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RunPeer runs a Python peer that prints what benchkit.py's measure returns ({"seconds": [...],
// "peak_rss_bytes": n}) and summarizes it as side's Result for batch samples per repetition.
// The peer's standard error goes to ours. This process's free memory goes back to the OS first
// (ReleaseFreeMemory), so that the peer has the machine's: after the Go backend's BERT-base steps
// (16 GB at their peak) it kept 17.7 GB, and torch's BERT-base step then ran out of 24.
func RunPeer(cmd *osexec.Cmd, side string, batch int) (Result, error) {
	if cmd.Env == nil {
		cmd.Env = PeerEnviron()
	}
	m, err := runMeasuring(cmd)
	if err != nil {
		return Result{}, err
	}
	return m.Result(side, batch), nil
}

// runMeasuring runs cmd, a process that prints a Measurement as JSON on standard output, with
// its standard error going to ours, after returning this process's free memory to the OS; cmd
// ends with this process.
func runMeasuring(cmd *osexec.Cmd) (Measurement, error) {
	ReleaseFreeMemory()
	dieWithParent(cmd)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return Measurement{}, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	var m Measurement
	if err := json.Unmarshal(out, &m); err != nil || len(m.Times) == 0 {
		return Measurement{}, fmt.Errorf("%s printed %q: want {\"seconds\": [...], \"peak_rss_bytes\": n} (%v)", strings.Join(cmd.Args[1:], " "), out, err)
	}
	return m, nil
}

// PeerEnviron is this process's environment for a peer (torch, Gradio, tokenizers) as its own
// users run it: without the glibc tunable and the tcmalloc preload that tunelab sets for XLA's
// buffers (backend.TunedEnviron), which are no settings of theirs.
func PeerEnviron() []string { return backend.Untuned(os.Environ()) }

// EnvOr returns the environment variable key, or def when it is unset or empty.
func EnvOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// ResetPeakRSS resets the kernel's high-water mark of this process's resident memory (VmHWM) to
// its current resident size, after returning its free memory to the OS (ReleaseFreeMemory), so
// that PeakRSS then measures what the following work adds on top of the live heap.
func ResetPeakRSS() error {
	ReleaseFreeMemory()
	f, err := os.OpenFile("/proc/self/clear_refs", os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("resetting the peak resident memory: %w", err)
	}
	// "5" resets the peak RSS counter (Documentation/filesystems/proc.rst, clear_refs).
	if _, err := f.WriteString("5"); err != nil {
		_ = f.Close()
		return fmt.Errorf("resetting the peak resident memory: writing /proc/self/clear_refs: %w", err)
	}
	return f.Close()
}

// PeakRSS returns the peak resident memory (VmHWM) of this process in bytes since it started or
// since the last ResetPeakRSS.
func PeakRSS() (int64, error) {
	return statusBytes("VmHWM")
}

// statusBytes reads one memory field of /proc/self/status ("VmHWM", "VmRSS") in bytes.
func statusBytes(field string) (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return parseStatusBytes(string(status), field)
}

// parseStatusBytes parses field's line of a /proc/<pid>/status file ("VmHWM:   1984 kB") into
// bytes.
func parseStatusBytes(status, field string) (int64, error) {
	for line := range strings.Lines(status) {
		v, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		kb, ok := strings.CutSuffix(strings.TrimSpace(v), " kB")
		if !ok {
			return 0, fmt.Errorf("/proc/self/status: %s %q is not in kB", field, strings.TrimSpace(v))
		}
		n, err := strconv.ParseInt(strings.TrimSpace(kb), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/self/status: %s: %w", field, err)
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("/proc/self/status has no %s line", field)
}

// ForwardFLOPs counts the floating-point operations (a multiply-add is 2) of the matrix
// products in one forward pass of cfg's encoder over batch x seq tokens: per layer, the Q, K, V
// and output projections (4 of [B*S, H] x [H, H]) and the feed-forward pair ([B*S, H] x [H, I]
// and back), plus the attention scores and their product with the values (2 of [S, H/heads] x
// [H/heads, S] per head and sample). Embeddings, LayerNorm, softmax, GELU, the pooler and the
// head are left out: elementwise or tiny, they add a few percent at most. It counts what
// transformers computes: tunelab's classifier computes the last layer at the first position
// alone (lab/encoder Logits), so its rate is one of the same work, not of its own products.
func ForwardFLOPs(cfg *hfmodel.Config, batch, seq int) int64 {
	b, s, h, i := int64(batch), int64(seq), int64(cfg.HiddenSize), int64(cfg.IntermediateSize)
	dense := 2 * b * s * (4*h*h + 2*h*i)
	attention := 2 * 2 * b * s * s * h
	return int64(cfg.NumLayers) * (dense + attention)
}

// TrainingStepFLOPs counts a training step as three forward passes: the backward pass computes
// two matrix products (the gradients of both operands) for every product of the forward pass.
func TrainingStepFLOPs(cfg *hfmodel.Config, batch, seq int) int64 {
	return 3 * ForwardFLOPs(cfg, batch, seq)
}

// Peak is a CPU's nominal peak float32 rate: every physical core retiring its widest fused
// multiply-adds on every cycle at the clock /proc/cpuinfo reports. It puts the achieved GFLOPS
// of both sides on one scale; kernels can pass it where the cores boost above that clock (an
// AVX-512 EPYC's float32 products ran at 1.3x it) or multiply bfloat16 at twice the FLOPs a
// cycle (AVX512_BF16, AMX).
type Peak struct {
	Cores         int     `json:"cores"` // physical cores: hyperthreads share FMA units
	MHz           float64 `json:"mhz"`
	FLOPsPerCycle int     `json:"flops_per_cycle"` // per core
	SIMD          string  `json:"simd"`
	GFLOPS        float64 `json:"gflops"`
}

// String states the peak and how it was derived.
func (p Peak) String() string {
	return fmt.Sprintf("nominal CPU peak %.1f GFLOP/s float32 = %d cores x %.0f MHz x %d FLOP/cycle (%s)",
		p.GFLOPS, p.Cores, p.MHz, p.FLOPsPerCycle, p.SIMD)
}

// MachinePeakGFLOPS returns this machine's nominal peak from /proc/cpuinfo; it fails on CPUs
// without AVX2 and FMA, whose peak it does not know.
func MachinePeakGFLOPS() (Peak, error) {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return Peak{}, err
	}
	return parsePeak(string(info))
}

// parsePeak derives the nominal peak from the text of /proc/cpuinfo: physical cores are the
// distinct (physical id, core id) pairs (the processor count where those lines are missing),
// the clock is the highest "cpu MHz", and the FLOPs per cycle come from the flags: 64 with
// avx512f (two 512-bit FMA units: 2 x 16 lanes x 2 FLOPs), 32 with avx2 and fma (two 256-bit
// FMA units), and 32 with avx512f on AMD's family 25 (Zen 4), which splits a 512-bit FMA over
// its two 256-bit units.
func parsePeak(cpuinfo string) (Peak, error) {
	var p Peak
	processors := 0
	cores := map[[2]string]bool{}
	var physicalID, vendor, family string
	flags := map[string]bool{}
	for k, v := range cpuinfoEntries(cpuinfo) {
		switch k {
		case "processor":
			processors++
		case "physical id":
			physicalID = v
		case "vendor_id":
			vendor = v
		case "cpu family":
			family = v
		case "core id":
			cores[[2]string{physicalID, v}] = true
		case "cpu MHz":
			mhz, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return Peak{}, fmt.Errorf("/proc/cpuinfo: cpu MHz: %w", err)
			}
			p.MHz = max(p.MHz, mhz)
		case "flags":
			for _, f := range strings.Fields(v) {
				flags[f] = true
			}
		}
	}
	p.Cores = len(cores)
	if p.Cores == 0 {
		p.Cores = processors
	}
	switch {
	case flags["avx512f"] && vendor == "AuthenticAMD" && family == "25":
		p.FLOPsPerCycle, p.SIMD = 32, "AVX-512 on two 256-bit FMA units (AMD family 25)"
	case flags["avx512f"]:
		p.FLOPsPerCycle, p.SIMD = 64, "AVX-512: two 512-bit FMA units"
	case flags["avx2"] && flags["fma"]:
		p.FLOPsPerCycle, p.SIMD = 32, "AVX2: two 256-bit FMA units"
	default:
		return Peak{}, errors.New("/proc/cpuinfo: no avx2 with fma nor avx512f in the flags: nominal peak unknown")
	}
	if p.Cores == 0 || p.MHz == 0 {
		return Peak{}, fmt.Errorf("/proc/cpuinfo: found %d cores at %.0f MHz", p.Cores, p.MHz)
	}
	p.GFLOPS = float64(p.Cores) * p.MHz * 1e6 * float64(p.FLOPsPerCycle) / 1e9
	return p, nil
}

// Machine names the CPU, its widest SIMD extension (which decides GoMLX's Go kernels) and its
// bfloat16 units (which decide the default engine's product dtype, backend.MatmulDType).
func Machine() string {
	info, _ := os.ReadFile("/proc/cpuinfo") // unreadable: cpuName("") names the architecture
	name := cpuName(string(info))
	simd := "no AVX2"
	switch x := cpu.X86; {
	case x.HasAVX512F && x.HasAMXBF16:
		simd = "AVX-512 and AMX"
	case x.HasAVX512F && x.HasAVX512BF16:
		simd = "AVX-512 with AVX512_BF16, no AMX"
	case x.HasAVX512F:
		simd = "AVX-512"
	case x.HasAVX2:
		simd = "AVX2, no AVX-512"
	}
	return fmt.Sprintf("%s, %s, %d cores", name, simd, runtime.NumCPU())
}

// cpuName is the first processor's model name in the text of /proc/cpuinfo, with its family,
// model and clock: cloud CPUs of one model name ("AMD EPYC") span generations, and two Xeons of
// one name ran 1.3-1.4x apart at different clocks.
func cpuName(cpuinfo string) string {
	fields := map[string]string{}
	for k, v := range cpuinfoEntries(cpuinfo) {
		if k == "processor" && len(fields) > 0 {
			break
		}
		fields[k] = v // a processor's keys are distinct
	}
	name := cmp.Or(fields["model name"], runtime.GOARCH)
	var details []string
	if family, ok := fields["cpu family"]; ok {
		details = append(details, "family "+family)
	}
	if model, ok := fields["model"]; ok {
		details = append(details, "model "+model)
	}
	if mhz, err := strconv.ParseFloat(fields["cpu MHz"], 64); err == nil {
		details = append(details, fmt.Sprintf("%.0f MHz", mhz))
	}
	if len(details) == 0 {
		return name
	}
	return name + " (" + strings.Join(details, ", ") + ")"
}

// cpuinfoEntries yields the "key : value" lines of the text of /proc/cpuinfo, trimmed.
func cpuinfoEntries(cpuinfo string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for line := range strings.Lines(cpuinfo) {
			if k, v, ok := strings.Cut(line, ":"); ok && !yield(strings.TrimSpace(k), strings.TrimSpace(v)) {
				return
			}
		}
	}
}

// Engines returns the tunelab engines a benchmark measures: the comma-separated list (as for
// lab/backend.New; a field that names no engine is an option of the engine before it, so
// "xla:cpu,cpu_device_count=4,go" is two engines), or where it is empty XLA's CPU plugin as
// tunelab runs it by default (with bfloat16 matrix products where the CPU has them,
// backend.MatmulDType, and then in float32 too) and the Go backend, or only the Go backend where
// the plugin does not load.
func Engines(list string) []string {
	if list != "" {
		var engines []string
		for _, field := range strings.Split(list, ",") {
			name, _, _ := strings.Cut(field, ":")
			switch {
			case len(engines) == 0, backend.IsEngineName(name):
				engines = append(engines, field)
			default:
				engines[len(engines)-1] += "," + field
			}
		}
		return engines
	}
	b, err := backend.New(backend.XLACPU)
	if err != nil {
		return []string{"go"}
	}
	defer b.Finalize()
	if backend.MatmulDType(b) == dtypes.BFloat16 {
		return []string{backend.XLACPU + BF16Suffix, backend.XLACPU, "go"}
	}
	return []string{backend.XLACPU, "go"}
}

// OpenEngine creates the backend engine and announces it on announce (nil: nowhere). An
// engine named with the suffix "+bf16" ("xla:cpu+bf16") is that engine with the encoder's
// matrix products in bfloat16, and one without it computes them in float32 whatever the
// engine's default (see MatmulDType).
func OpenEngine(engine string, announce io.Writer) (compute.Backend, error) {
	config, _ := SplitEngine(engine)
	b, err := backend.New(config)
	if err != nil {
		return nil, err
	}
	if announce != nil {
		backend.Announce(announce, b, MatmulDType(engine))
	}
	return b, nil
}

// BF16Suffix marks an engine variant with bfloat16 matrix products.
const BF16Suffix = "+bf16"

// SplitEngine returns the backend configuration of engine (for lab/backend.New) and whether it
// is the "+bf16" variant (the suffix ends the engine's name, before its options:
// "xla:cpu+bf16,cpu_device_count=4").
func SplitEngine(engine string) (config string, bf16 bool) {
	name, options, hasOptions := strings.Cut(engine, ",")
	config, bf16 = strings.CutSuffix(name, BF16Suffix)
	if hasOptions {
		config += "," + options
	}
	return config, bf16
}

// MatmulDType is the encoder's matmul dtype for engine: bfloat16 for a "+bf16" variant.
func MatmulDType(engine string) dtypes.DType {
	if _, bf16 := SplitEngine(engine); bf16 {
		return dtypes.BFloat16
	}
	return dtypes.Float32
}

// DescribeEngine names engine and the backend b it runs on for a report: backend.Describe's
// line, with the "+bf16" variant said.
func DescribeEngine(engine string, b compute.Backend) string {
	if MatmulDType(engine) == dtypes.BFloat16 {
		return backend.Describe(b) + " with bfloat16 matrix products"
	}
	return backend.Describe(b)
}
