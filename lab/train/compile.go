package train

import (
	"fmt"
	"slices"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"

	"github.com/tunelab/tunelab/lab/checkpoint"
)

// compileAhead compiles, on engines that compile a program per input shape (XLA), the training
// step and evaluation programs for every input shape a run on trainSet and evalSet (nil: none)
// from state st uses, and returns the number of programs and how long that took: the
// compilation is then measured apart from the steps, and neither a step's time nor the progress
// bar's estimate includes one. The shapes are known ahead because the epochs' batch orders
// depend only on the seed. On the Go backend, whose programs cost microseconds to build, and on
// several devices, it does nothing.
func (t *Trainer) compileAhead(trainSet, evalSet *Dataset, st *State) (programs int, took time.Duration, err error) {
	// Several devices compile lazily: GoMLX v0.28.8 cannot compile an AutoSharding program from
	// input shapes alone (Exec.Compile panics on the sharded inputs), only from sharded inputs.
	if !t.shapes.Few || t.parallel != nil {
		return 0, 0, nil
	}
	start := time.Now()
	rows := t.trainRows(1)
	applies := []bool{true}
	if t.cfg.GradAccum > 1 {
		applies = append(applies, false)
	}
	scalar := shapes.Make(dtypes.Float32)
	targets := shapes.Make(dtypes.Int32, rows) // class ids, or Dataset.Targets' rows of floats
	if t.model.Problem() != checkpoint.SingleLabel {
		targets = shapes.Make(dtypes.Float32, rows, t.model.NumLabels())
	}
	for _, seq := range t.trainLengths(trainSet, st) {
		tokens := shapes.Make(dtypes.Int32, rows, seq)
		for _, apply := range applies {
			exec, err := t.stepExec(apply)
			if err != nil {
				return programs, 0, err
			}
			if _, err := exec.Compile(tokens, tokens, tokens, targets, scalar, scalar, scalar, shapes.Make(dtypes.Bool, rows)); err != nil {
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
		for _, shape := range p.Shapes(evalSet, t.cfg.BatchSize) {
			if err := p.Compile(shape[0], shape[1]); err != nil {
				return programs, 0, err
			}
			programs++
		}
	}
	return programs, time.Since(start), nil
}

// trainLengths returns the padded lengths of the training batches from st's epoch to the last
// one, each once.
func (t *Trainer) trainLengths(trainSet *Dataset, st *State) []int {
	c := t.cfg
	batchesPerEpoch := (trainSet.Len() + c.BatchSize - 1) / c.BatchSize
	epochs := c.Epochs
	if c.MaxSteps > 0 {
		epochs = (c.MaxSteps*c.GradAccum + batchesPerEpoch - 1) / batchesPerEpoch
	}
	lengths := t.seqLengths()
	var used []int
	for epoch := st.Epoch; epoch < max(epochs, st.Epoch+1); epoch++ {
		for _, batch := range trainSet.order(c.Seed, epoch, c.BatchSize) {
			if seq := trainSet.paddedLength(batch, lengths); !slices.Contains(used, seq) {
				used = append(used, seq)
			}
		}
	}
	slices.Sort(used)
	return used
}
