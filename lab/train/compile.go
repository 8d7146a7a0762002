package train

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"golang.org/x/sync/errgroup"

	"github.com/tunelab/tunelab/lab/hfmodel"
)

// compileAhead compiles, on engines that compile a program per input shape (XLA), the gradient
// and evaluation programs for every input shape a run on trainSet (padded to lengths, see
// planLengths) and evalSet (nil: none) from state st uses, and the optimizer's, and returns the
// number of programs and how long that took: the compilation is then measured apart from the
// steps, and neither a step's time nor the progress bar's estimate includes one. The shapes are
// known ahead because the epochs' batch orders depend only on the seed. On the Go backend, which
// builds a program when its shape first comes, and on several devices, it does nothing.
func (t *Trainer) compileAhead(trainSet, evalSet *Dataset, st *State, lengths []int) (programs int, took time.Duration, err error) {
	// Several devices compile lazily: GoMLX v0.28.8 cannot compile an AutoSharding program from
	// input shapes alone (Exec.Compile panics on the sharded inputs), only from sharded inputs.
	if !t.shapes.Few || t.parallel != nil {
		return 0, 0, nil
	}
	start := time.Now()
	rows := t.trainRows(1)
	scalar := shapes.Make(dtypes.Float32)
	targets := shapes.Make(dtypes.Int32, rows) // class ids, or Dataset.Targets' rows of floats
	if t.model.Problem() != hfmodel.SingleLabel {
		targets = shapes.Make(dtypes.Float32, rows, t.model.NumLabels())
	}
	grads, err := t.gradExec()
	if err != nil {
		return 0, 0, err
	}
	apply, err := t.applyExec()
	if err != nil {
		return 0, 0, err
	}
	var jobs []func() error
	for _, seq := range t.usedLengths(trainSet, st, lengths) {
		tokens := shapes.Make(dtypes.Int32, rows, seq)
		jobs = append(jobs, func() error {
			if _, err := grads.Compile(tokens, tokens, tokens, targets, shapes.Make(dtypes.Bool, rows)); err != nil {
				return fmt.Errorf("train: compiling the gradients of %d x %d: %w", rows, seq, err)
			}
			return nil
		})
	}
	jobs = append(jobs, func() error {
		if _, err := apply.Compile(scalar, scalar, scalar); err != nil {
			return fmt.Errorf("train: compiling the optimizer's update: %w", err)
		}
		return nil
	})
	if evalSet != nil {
		p, err := t.evaluator()
		if err != nil {
			return 0, 0, err
		}
		for _, shape := range p.Shapes(evalSet, t.cfg.BatchSize) {
			jobs = append(jobs, func() error { return p.Compile(shape[0], shape[1]) })
		}
	}
	if err := compileAll(jobs); err != nil {
		return 0, 0, err
	}
	return len(jobs), time.Since(start), nil
}

// compileAll runs the compilation jobs, the first alone, then the others on as many goroutines
// as Go has processors (GoMLX's Exec compiles different shapes concurrently): XLA keeps the cores
// busy for only part of a compilation, and the tweets' 9 programs took 21 s two at a time against
// 23-26 s one after the other on 2 cores; compiling the first alone took 11.6-12.7 s against
// 12.0-13.8 s with all of them two at a time (three alternated pairs).
func compileAll(jobs []func() error) error {
	if len(jobs) == 0 {
		return nil
	}
	if err := jobs[0](); err != nil {
		return err
	}
	var group errgroup.Group
	group.SetLimit(runtime.GOMAXPROCS(0))
	for _, job := range jobs[1:] {
		group.Go(job)
	}
	return group.Wait()
}

// planLengths returns the padded lengths of the training batches of every run on trainSet:
// backend.Shapes.PlanLengths over its examples sorted by length and cut into batches, which the
// length-grouped batches of any seed resemble. They depend on the training set and the batch
// size alone, not on the seed, the number of epochs or a resumed run's step, so a run with
// another seed or more epochs compiles the same programs, which the compilation cache then
// holds: planned per seed, the tweets' lengths changed 4 of 5 programs from seed to seed, to pad
// 0.1-0.25% fewer tokens in one epoch (2.5% in two and 5.6% in three, where a longer run plans
// more lengths).
func (t *Trainer) planLengths(trainSet *Dataset) []int {
	var longest, rows []int
	for _, batch := range inferenceBatches(trainSet, t.cfg.BatchSize) {
		longest = append(longest, trainSet.paddedLength(batch, nil))
		rows = append(rows, t.trainRows(len(batch)))
	}
	return t.shapes.PlanLengths(longest, rows)
}

// runBatches returns the training batches of a run on trainSet from epoch `from` to the last
// one.
func (t *Trainer) runBatches(trainSet *Dataset, from int) [][]int {
	c := t.cfg
	batchesPerEpoch := (trainSet.Len() + c.BatchSize - 1) / c.BatchSize
	epochs := c.Epochs
	if c.MaxSteps > 0 {
		epochs = (c.MaxSteps*c.GradAccum + batchesPerEpoch - 1) / batchesPerEpoch
	}
	var batches [][]int
	for epoch := from; epoch < max(epochs, from+1); epoch++ {
		batches = append(batches, trainSet.order(c.Seed, epoch, c.BatchSize)...)
	}
	return batches
}

// usedLengths returns the lengths of lengths that the training batches from st's epoch on are
// padded to, each once, ascending.
func (t *Trainer) usedLengths(trainSet *Dataset, st *State, lengths []int) []int {
	var used []int
	for _, batch := range t.runBatches(trainSet, st.Epoch) {
		if seq := trainSet.paddedLength(batch, lengths); !slices.Contains(used, seq) {
			used = append(used, seq)
		}
	}
	slices.Sort(used)
	return used
}
