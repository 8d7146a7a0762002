package backend

import (
	"errors"
	"runtime"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"golang.org/x/sys/cpu"
)

// MatmulDType is the dtype the encoder's matrix products read their operands in by default on b
// (lab/encoder Model.WithMatmulDType; weights and sums stay float32): bfloat16 on XLA's CPU
// plugin where the CPU multiplies bfloat16 in hardware (AMX or AVX512_BF16), where a whole tweet
// fine-tune took 0.80 of float32's time with its F1 inside the seeds' spread (bench/results);
// float32 everywhere else: the Go backend, accelerators (not measured), CPUs that would emulate
// bfloat16.
func MatmulDType(b compute.Backend) dtypes.DType {
	plugin, isXLA := xlaPlugin(b)
	return matmulDType(isXLA && plugin == "cpu", CPUHasBF16())
}

// matmulDType is MatmulDType's rule for an engine that is (or not) XLA on the CPU, on a CPU that
// has (or not) bfloat16 units.
func matmulDType(xlaOnCPU, cpuHasBF16 bool) dtypes.DType {
	if xlaOnCPU && cpuHasBF16 {
		return dtypes.BFloat16
	}
	return dtypes.Float32
}

// CheckMatmulDType returns an error where b cannot run the encoder's products in dtype: bfloat16
// needs XLA, because GoMLX's Go backend (compute v0.1.6) multiplies bfloat16 operands wrongly on
// AVX2 when a side contracts an axis other than its usual one (A x B^T, A^T x B: errors of 7-31
// for sums of 16-64 products of unit normals), as a bfloat16 training step's gradients do: its
// avx2SmallBFloat16Transposed widens 16 bfloat16 to two float32x8 halves and sums only the first.
func CheckMatmulDType(b compute.Backend, dtype dtypes.DType) error {
	if _, isXLA := xlaPlugin(b); dtype == dtypes.BFloat16 && !isXLA {
		return errors.New("bfloat16 matrix products need an XLA engine (--backend xla:cpu), not the Go backend, whose bfloat16 products are wrong on AVX2 CPUs; leave --bf16 unset or use --bf16=false")
	}
	return nil
}

// CPUHasBF16 reports whether this CPU multiplies bfloat16 in hardware: x86 with AMX-BF16 or
// AVX512_BF16 (x86 is the only architecture the CPU plugin is built for).
func CPUHasBF16() bool {
	return runtime.GOARCH == "amd64" && (cpu.X86.HasAMXBF16 || cpu.X86.HasAVX512BF16)
}

// DTypeName names dtype as transformers' config.json does ("float32", "bfloat16").
func DTypeName(dtype dtypes.DType) string { return strings.ToLower(dtype.String()) }
