package train

import (
	"fmt"
	"math"
)

// Scheduler names a learning-rate schedule of transformers' optimization module.
type Scheduler string

// The schedules, as transformers' get_*_schedule_with_warmup define them: each rises linearly
// from 0 during the warmup steps, then
const (
	// Linear decays linearly to 0 at the last step (the Trainer's default, "linear").
	Linear Scheduler = "linear"
	// Cosine follows half a cosine period down to 0 at the last step ("cosine", num_cycles 0.5).
	Cosine Scheduler = "cosine"
	// Constant stays at the peak learning rate ("constant_with_warmup"; with no warmup steps it is
	// "constant").
	Constant Scheduler = "constant"
)

// ParseScheduler accepts the names above and transformers' "constant_with_warmup".
func ParseScheduler(name string) (Scheduler, error) {
	switch s := Scheduler(name); s {
	case Linear, Cosine, Constant:
		return s, nil
	case "constant_with_warmup":
		return Constant, nil
	}
	return "", fmt.Errorf("unknown scheduler %q: want linear, cosine or constant", name)
}

// Factor is the multiplier of the peak learning rate after step scheduler steps (the
// LambdaLR lambda of transformers, with step = last_epoch): the optimizer step number k
// (1-based) uses Factor(k-1, ...).
func (s Scheduler) Factor(step, warmupSteps, totalSteps int) float64 {
	if step < warmupSteps {
		return float64(step) / float64(max(1, warmupSteps))
	}
	switch s {
	case Linear:
		return math.Max(0, float64(totalSteps-step)/float64(max(1, totalSteps-warmupSteps)))
	case Cosine:
		progress := float64(step-warmupSteps) / float64(max(1, totalSteps-warmupSteps))
		return math.Max(0, 0.5*(1+math.Cos(math.Pi*0.5*2*progress)))
	default:
		return 1
	}
}

// WarmupSteps is the Trainer's get_warmup_steps: warmupSteps when positive, otherwise
// ceil(ratio * totalSteps).
func WarmupSteps(warmupSteps int, ratio float64, totalSteps int) int {
	if warmupSteps > 0 {
		return warmupSteps
	}
	return int(math.Ceil(ratio * float64(totalSteps)))
}
