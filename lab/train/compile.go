package train

import (
	"fmt"
	"slices"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// compileAhead compiles, on engines that compile a program per input shape (XLA), the training
// step and evaluation programs for every padded shape a run on trainSet and evalSet (nil: none)
// can use, and returns the number of programs and how long that took: the compilation is then
// measured apart from the steps, and neither a step's time nor the progress bar's estimate
// includes one. On the Go backend, whose programs cost microseconds to build, it does nothing.
func (t *Trainer) compileAhead(trainSet, evalSet *Dataset) (programs int, took time.Duration, err error) {
	if !t.shapes.Few {
		return 0, 0, nil
	}
	start := time.Now()
	rows := t.trainRows(1)
	applies := []bool{true}
	if t.cfg.GradAccum > 1 {
		applies = append(applies, false)
	}
	for _, seq := range t.usedLengths(trainSet) {
		tokens, vector := shapes.Make(dtypes.Int32, rows, seq), shapes.Make(dtypes.Int32, rows)
		scalar := shapes.Make(dtypes.Float32)
		for _, apply := range applies {
			exec, err := t.stepExec(apply)
			if err != nil {
				return programs, 0, err
			}
			if _, err := exec.Compile(tokens, tokens, tokens, vector, scalar, scalar, scalar, shapes.Make(dtypes.Bool, rows)); err != nil {
				return programs, 0, fmt.Errorf("train: compiling the training step for %d x %d: %w", rows, seq, err)
			}
			programs++
		}
	}
	if evalSet != nil {
		exec, err := t.evaluationExec()
		if err != nil {
			return programs, 0, err
		}
		for _, seq := range t.usedLengths(evalSet) {
			tokens := shapes.Make(dtypes.Int32, rows, seq)
			if _, err := exec.Compile(tokens, tokens, tokens); err != nil {
				return programs, 0, fmt.Errorf("train: compiling the evaluation for %d x %d: %w", rows, seq, err)
			}
			programs++
		}
	}
	return programs, time.Since(start), nil
}

// usedLengths returns the padded lengths batches of d can have: the buckets from the shortest
// example's to the longest one's.
func (t *Trainer) usedLengths(d *Dataset) []int {
	shortest, longest := len(d.IDs[0]), 0
	for _, ids := range d.IDs {
		shortest, longest = min(shortest, len(ids)), max(longest, len(ids))
	}
	lengths := t.seqLengths()
	lo, _ := slices.BinarySearch(lengths, shortest)
	hi, _ := slices.BinarySearch(lengths, longest)
	return lengths[lo:min(hi+1, len(lengths))]
}
