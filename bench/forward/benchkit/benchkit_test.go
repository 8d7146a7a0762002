package benchkit

import (
	"math"
	"os"
	osexec "os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tunelab/tunelab/lab/hfmodel"
)

// TestForwardFLOPs checks the count for a tiny encoder (hidden 4, 2 heads, intermediate 8, 2
// layers; batch 1 x seq 3) against a hand count of its matrix products, each 2*m*k*n FLOPs:
//
//	Q, K, V, output projections: 4 x [3, 4] x [4, 4]     = 4 * 2*3*4*4 =  384
//	feed-forward up and down:    [3, 4] x [4, 8], back   = 2 * 2*3*4*8 =  384
//	scores per head:             [3, 2] x [2, 3], 2 heads = 2 * 2*3*2*3 =   72
//	probabilities x values:      [3, 3] x [3, 2], 2 heads = 2 * 2*3*3*2 =   72
//	one layer: 912; two layers: 1824.
func TestForwardFLOPs(t *testing.T) {
	cfg := &hfmodel.Config{HiddenSize: 4, NumHeads: 2, IntermediateSize: 8, NumLayers: 2}
	if got := ForwardFLOPs(cfg, 1, 3); got != 1824 {
		t.Errorf("ForwardFLOPs = %d, want 1824", got)
	}
	if got := TrainingStepFLOPs(cfg, 1, 3); got != 3*1824 {
		t.Errorf("TrainingStepFLOPs = %d, want %d", got, 3*1824)
	}
	// The batch multiplies everything; the sequence length enters the attention squared: batch
	// 2 x seq 6 has 4x the dense FLOPs (768 a layer) and 8x the attention FLOPs (144 a layer).
	if got, want := ForwardFLOPs(cfg, 2, 6), int64(4*2*(384+384)+8*2*(72+72)); got != want {
		t.Errorf("ForwardFLOPs(batch 2, seq 6) = %d, want %d", got, want)
	}
}

// cpuinfoEPYC is /proc/cpuinfo of a 2-core AMD EPYC VM, trimmed to the lines that matter and a
// few around them.
const cpuinfoEPYC = `processor	: 0
vendor_id	: AuthenticAMD
model name	: AMD EPYC
cpu MHz		: 2445.432
cache size	: 512 KB
physical id	: 0
siblings	: 2
core id		: 0
cpu cores	: 2
flags		: fpu vme sse sse2 ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 bmi2

processor	: 1
vendor_id	: AuthenticAMD
model name	: AMD EPYC
cpu MHz		: 2445.432
cache size	: 512 KB
physical id	: 0
siblings	: 2
core id		: 1
cpu cores	: 2
flags		: fpu vme sse sse2 ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 bmi2
`

// cpuinfoXeon is a hyperthreaded AVX-512 Xeon: 4 processors on 2 cores, one clocked higher.
const cpuinfoXeon = `processor	: 0
model name	: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz
cpu MHz		: 2500.000
physical id	: 0
core id		: 0
flags		: fpu sse2 fma avx2 avx512f avx512dq
processor	: 1
cpu MHz		: 3100.000
physical id	: 0
core id		: 1
flags		: fpu sse2 fma avx2 avx512f avx512dq
processor	: 2
cpu MHz		: 2500.000
physical id	: 0
core id		: 0
flags		: fpu sse2 fma avx2 avx512f avx512dq
processor	: 3
cpu MHz		: 2500.000
physical id	: 0
core id		: 1
flags		: fpu sse2 fma avx2 avx512f avx512dq
`

// cpuinfoZen4 is an AVX-512 EPYC of AMD's family 25 (Zen 4), whose 512-bit FMAs take its two
// 256-bit units together.
const cpuinfoZen4 = `processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 25
model		: 17
model name	: AMD EPYC
cpu MHz		: 2596.146
physical id	: 0
core id		: 0
flags		: fpu sse2 fma avx2 avx512f avx512_bf16
processor	: 1
vendor_id	: AuthenticAMD
cpu family	: 25
model		: 17
model name	: AMD EPYC
cpu MHz		: 2596.146
physical id	: 0
core id		: 1
flags		: fpu sse2 fma avx2 avx512f avx512_bf16
`

func TestCPUName(t *testing.T) {
	for _, tc := range []struct{ cpuinfo, want string }{
		{cpuinfoZen4, "AMD EPYC (family 25, model 17, 2596 MHz)"},
		// The first processor's clock, not the highest: the name says which CPU, not its peak.
		{cpuinfoXeon, "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz (2500 MHz)"},
		{"processor : 0\n", runtime.GOARCH},
		{"", runtime.GOARCH}, // /proc/cpuinfo unreadable
	} {
		if got := cpuName(tc.cpuinfo); got != tc.want {
			t.Errorf("cpuName = %q, want %q", got, tc.want)
		}
	}
}

func TestParsePeak(t *testing.T) {
	for _, tc := range []struct {
		name, cpuinfo      string
		cores, flopsPerCyc int
		mhz, gflops        float64
	}{
		// 2 cores x 2445.432e6 cycles/s x 32 FLOPs = 156.507648e9 FLOP/s.
		{"EPYC AVX2", cpuinfoEPYC, 2, 32, 2445.432, 156.507648},
		// 2 physical cores (4 hyperthreads) x 3100e6 x 64 = 396.8e9.
		{"Xeon AVX-512, hyperthreads", cpuinfoXeon, 2, 64, 3100, 396.8},
		// AVX-512 on Zen 4's 256-bit units: 2 x 2596.146e6 x 32 = 166.153344e9.
		{"EPYC family 25 AVX-512", cpuinfoZen4, 2, 32, 2596.146, 166.153344},
		// Without physical id / core id lines each processor counts as a core: 3 x 2000e6 x 32.
		{"no core ids", "processor : 0\ncpu MHz : 2000\nflags : avx2 fma\nprocessor : 1\ncpu MHz : 2000\nflags : avx2 fma\nprocessor : 2\ncpu MHz : 2000\nflags : avx2 fma\n", 3, 32, 2000, 192},
	} {
		p, err := parsePeak(tc.cpuinfo)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if p.Cores != tc.cores || p.FLOPsPerCycle != tc.flopsPerCyc || p.MHz != tc.mhz || math.Abs(p.GFLOPS-tc.gflops) > 1e-9 {
			t.Errorf("%s: got %+v, want %d cores x %v MHz x %d = %v GFLOP/s", tc.name, p, tc.cores, tc.mhz, tc.flopsPerCyc, tc.gflops)
		}
	}
	// AVX2 without FMA (and no AVX-512): the peak is unknown, not guessed.
	if p, err := parsePeak("processor : 0\ncpu MHz : 2000\nflags : sse2 avx avx2\n"); err == nil {
		t.Errorf("AVX2 without FMA: got %+v, want an error", p)
	}
}

func TestParseStatusBytes(t *testing.T) {
	status := "Name:\tbench\nVmPeak:\t  123456 kB\nVmSize:\t  120000 kB\nVmHWM:\t    1984 kB\nVmRSS:\t    1900 kB\n"
	for field, want := range map[string]int64{"VmHWM": 1984 * 1024, "VmRSS": 1900 * 1024} {
		if got, err := parseStatusBytes(status, field); err != nil || got != want {
			t.Errorf("parseStatusBytes(%s) = %d, %v; want %d", field, got, err, want)
		}
	}
	if _, err := parseStatusBytes("Name:\tbench\nVmRSS:\t    1900 kB\n", "VmHWM"); err == nil {
		t.Error("status without VmHWM: want an error")
	}
}

// resident returns n bytes whose every page has been written, so they count in the RSS.
func resident(n int) []byte {
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = 1
	}
	return buf
}

// resetPeak resets the peak RSS, skipping the test where the kernel cannot reset it.
func resetPeak(t *testing.T) {
	t.Helper()
	if err := ResetPeakRSS(); err != nil {
		t.Skipf("no resettable peak RSS here: %v", err)
	}
}

// TestPeakRSS: the peak covers the resident memory seen while 64 MiB were touched, and after
// the memory is dropped a reset brings the peak back down (the kernel really reset it).
func TestPeakRSS(t *testing.T) {
	resetPeak(t)
	const size = 64 << 20
	buf := resident(size)
	inside, err := statusBytes("VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	high, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(buf)
	if inside < size || high < inside {
		t.Errorf("peak %d MiB, resident %d MiB while holding 64 MiB: want the peak at least that", high>>20, inside>>20)
	}
	buf = nil
	if err := ResetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	low, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	if low > high-size/2 {
		t.Errorf("peak after freeing 64 MiB and resetting = %d MiB, was %d MiB: want it at least 32 MiB lower", low>>20, high>>20)
	}
}

// TestMeasure: the step runs reps+1 times (the first untimed) and the resident memory seen
// inside the warm-up, while it holds 32 MiB it touched, counts in the peak.
func TestMeasure(t *testing.T) {
	resetPeak(t)
	var calls []int
	const size = 32 << 20
	var inside int64
	m, err := Measure(3, nil, func(i int) error {
		calls = append(calls, i)
		if i == 1 {
			buf := resident(size)
			var err error
			if inside, err = statusBytes("VmRSS"); err != nil {
				return err
			}
			runtime.KeepAlive(buf)
			time.Sleep(50 * time.Millisecond) // a warm-up slower than the timed runs, as a compilation makes it
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	times, first, peak := m.Times, m.First, m.PeakRSSBytes
	if len(times) != 3 || len(calls) != 4 || calls[0] != 1 || calls[3] != 4 {
		t.Errorf("got %d times and calls %v, want 3 times and calls 1..4", len(times), calls)
	}
	if first < 0.05 || slices.Max(times) >= first {
		t.Errorf("first run %.3f s, timed runs %v: want the 50 ms warm-up timed apart", first, times)
	}
	if inside < size || peak < inside {
		t.Errorf("peak %d MiB, resident %d MiB inside the warm-up that touched 32 MiB: want the peak at least that", peak>>20, inside>>20)
	}
}

// TestMeasureCoresBusy: a step that sleeps keeps no core busy; one that computes until the
// process has used 30 ms of CPU keeps some busy, at most every core.
func TestMeasureCoresBusy(t *testing.T) {
	sleeping, err := Measure(2, nil, func(int) error { time.Sleep(30 * time.Millisecond); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if sleeping.CoresBusy > 0.2 {
		t.Errorf("sleeping steps kept %.2f cores busy, want about 0", sleeping.CoresBusy)
	}
	sink := 0
	computing, err := Measure(2, nil, func(int) error {
		for start := cpuTime(); cpuTime()-start < 30*time.Millisecond; {
			for k := range 1000 {
				sink += k * k
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if computing.CoresBusy <= sleeping.CoresBusy || computing.CoresBusy > float64(runtime.NumCPU())+0.1 {
		t.Errorf("computing steps kept %.2f cores busy (sleeping ones %.2f), want more, and at most %d", computing.CoresBusy, sleeping.CoresBusy, runtime.NumCPU())
	}
	runtime.KeepAlive(sink)
}

// TestPythonMeasure runs benchkit.py's measure through RunPeer, with a step that touches 64 MiB,
// in the peers' Python (it needs torch).
func TestPythonMeasure(t *testing.T) {
	python := EnvOr("PYTHON", "/opt/oracle-venv/bin/python")
	if _, err := os.Stat(python); err != nil {
		t.Skipf("no peer python %s: %v", python, err)
	}
	cmd := osexec.Command(python, "-c", `
import json, benchkit
calls = []
def step():
    calls.append(b"\x01" * (64 << 20))  # written, hence resident
print(json.dumps(benchkit.measure(step, 2, benchkit.device("cpu"))))
`)
	cmd.Env = append(os.Environ(), "PYTHONPATH=.")
	r, err := RunPeer(cmd, "python", 4)
	if err != nil {
		t.Fatal(err)
	}
	if r.MedianSeconds <= 0 || r.SamplesPerSec != 4/r.MedianSeconds {
		t.Errorf("got %+v: want a positive median and 4 samples per median", r)
	}
	// Writing 64 MiB takes CPU time: some of a core, at most every core.
	if r.CoresBusy <= 0 || r.CoresBusy > float64(runtime.NumCPU())+0.1 {
		t.Errorf("cores busy %.2f: want some, at most %d", r.CoresBusy, runtime.NumCPU())
	}
	// Three runs each keep 64 MiB alive: 192 MiB on top of python with torch (> 100 MiB).
	if r.PeakRSSBytes < 192<<20+100<<20 {
		t.Errorf("peak RSS %d MiB: want at least 292 MiB", r.PeakRSSBytes>>20)
	}
}

// TestPeerEnviron: peers run without tunelab's huge-page tunable, keeping any other tunable.
func TestPeerEnviron(t *testing.T) {
	for tunables, want := range map[string]string{
		"glibc.malloc.hugetlb=1":                          "",
		"glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1": "GLIBC_TUNABLES=glibc.malloc.arena_max=2",
		"glibc.malloc.arena_max=2":                        "GLIBC_TUNABLES=glibc.malloc.arena_max=2",
	} {
		t.Setenv("GLIBC_TUNABLES", tunables)
		t.Setenv("TUNELAB_PEER_KEPT", "yes")
		env := PeerEnviron()
		got := ""
		for _, kv := range env {
			if strings.HasPrefix(kv, "GLIBC_TUNABLES=") {
				got = kv
			}
		}
		if got != want || !slices.Contains(env, "TUNELAB_PEER_KEPT=yes") {
			t.Errorf("GLIBC_TUNABLES=%s: peer gets %q (want %q) and the rest kept: %t", tunables, got, want, slices.Contains(env, "TUNELAB_PEER_KEPT=yes"))
		}
	}
}

// TestEngines: a list splits into engines, an engine's options (fields that name no engine)
// staying with it, and "+bf16" marks the variant whatever options follow.
func TestEngines(t *testing.T) {
	got := Engines("xla:cpu+bf16,cpu_device_count=4,go,xla:cuda,go:ops_parallel,parallelism=-1")
	want := []string{"xla:cpu+bf16,cpu_device_count=4", "go", "xla:cuda", "go:ops_parallel,parallelism=-1"}
	if !slices.Equal(got, want) {
		t.Errorf("Engines = %q, want %q", got, want)
	}
	for engine, want := range map[string]struct {
		config string
		bf16   bool
	}{
		"xla:cpu+bf16,cpu_device_count=4": {"xla:cpu,cpu_device_count=4", true},
		"xla:cpu+bf16":                    {"xla:cpu", true},
		"xla:cpu,cpu_device_count=4":      {"xla:cpu,cpu_device_count=4", false},
		"go":                              {"go", false},
	} {
		if config, bf16 := SplitEngine(engine); config != want.config || bf16 != want.bf16 {
			t.Errorf("SplitEngine(%q) = %q, %v; want %q, %v", engine, config, bf16, want.config, want.bf16)
		}
	}
}
