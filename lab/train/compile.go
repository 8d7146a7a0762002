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
		p, err := t.evaluator()
		if err != nil {
			return programs, 0, err
		}
		lengths := t.usedLengths(evalSet)
		evalShapes := make([][2]int, 0, len(lengths)+1)
		for _, seq := range lengths {
			evalShapes = append(evalShapes, [2]int{p.shapes.Rows(t.cfg.BatchSize, t.cfg.BatchSize), seq})
		}
		if rest := evalSet.Len() % t.cfg.BatchSize; rest != 0 { // the last batch holds the longest examples
			evalShapes = append(evalShapes, [2]int{p.shapes.Rows(rest, t.cfg.BatchSize), lengths[len(lengths)-1]})
		}
		for _, shape := range evalShapes {
			if err := p.Compile(shape[0], shape[1]); err != nil {
				return programs, 0, err
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
