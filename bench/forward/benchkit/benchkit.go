// Package benchkit holds what the benchmarks against transformers + torch share: the median of
// timed repetitions and a description of the machine they ran on.
package benchkit

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
)

// Result is one side's timing of a benchmark.
type Result struct {
	Side          string  `json:"side"`
	MedianSeconds float64 `json:"median_seconds"`
	SamplesPerSec float64 `json:"samples_per_second"`
}

// Summarize returns the median of times (seconds per repetition of batch samples); times must
// not be empty. It sorts times.
func Summarize(side string, times []float64, batch int) Result {
	slices.Sort(times)
	median := times[len(times)/2]
	return Result{Side: side, MedianSeconds: median, SamplesPerSec: float64(batch) / median}
}

// EnvOr returns the environment variable key, or def when it is unset or empty.
func EnvOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Machine names the CPU and its widest SIMD extension, which decide GoMLX's kernels.
func Machine() string {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	name, simd := runtime.GOARCH, "no AVX2"
	for _, line := range strings.Split(string(info), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			name = strings.TrimSpace(v)
		}
	}
	switch {
	case strings.Contains(string(info), " avx512f"):
		simd = "AVX-512"
	case strings.Contains(string(info), " avx2"):
		simd = "AVX2, no AVX-512"
	}
	return fmt.Sprintf("%s, %s, %d cores", name, simd, runtime.NumCPU())
}
