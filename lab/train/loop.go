package train

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/tunelab/tunelab/lab/backend/xlacache"
)

// run is the training loop, laid out as GoMLX's train.Loop: each optimizer step is followed by
// the named steps its schedule makes due -- logging, progress, evaluation (with best-model
// tracking and early stopping) and saving. GoMLX's own Trainer and checkpoints are not used
// because its optimizers decay every variable without global-norm clipping (see AdamW) and its
// checkpoints are not the Hugging Face folders, resumable exactly, that a run must leave.
func (t *Trainer) run(ctx context.Context, runDir string, trainSet, evalSet *Dataset, st *State) (*Result, error) {
	l, err := t.newLoop(runDir, trainSet, evalSet, st)
	if err != nil {
		return nil, err
	}
	for st.Step < l.total {
		order := trainSet.order(t.cfg.Seed, st.Epoch, t.cfg.BatchSize)
		for st.Batch < len(order) && st.Step < l.total {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			s, err := l.optimizerStep(order)
			if err != nil {
				return nil, err
			}
			l.log(s)
			l.showProgress(s)
			stop, err := l.evaluateIfDue(ctx, s)
			if err != nil {
				return nil, err
			}
			if err := l.saveIfDue(s, stop); err != nil {
				return nil, err
			}
			if stop {
				return l.finish(fmt.Sprintf("early stopping: %s did not improve for %d evaluations", t.cfg.MetricForBest, st.BadEvals))
			}
		}
		if st.Batch == len(order) {
			st.Epoch, st.Batch = st.Epoch+1, 0
		}
	}
	if t.progress != nil {
		fmt.Fprintln(t.progress)
	}
	return l.finish("")
}

// loop is the state of one run of Trainer.run.
type loop struct {
	t                 *Trainer
	runDir            string
	trainSet, evalSet *Dataset
	st                *State
	// lengths are the padded lengths of the training batches (Trainer.planLengths).
	lengths []int
	res     *Result

	batchesPerEpoch, total, warmup int

	// start, startStep and samples measure the throughput since the run (or resume) started.
	start     time.Time
	startStep int
	samples   int
}

// step is what one optimizer step did.
type step struct {
	k                  int
	lr, loss, gradNorm float64
	// epoch is the fractional epoch after the step; epochEnd is set when it ended an epoch.
	epoch    float64
	epochEnd bool
}

func (t *Trainer) newLoop(runDir string, trainSet, evalSet *Dataset, st *State) (*loop, error) {
	if err := trainSet.check("training", t.model.Problem(), t.model.NumLabels()); err != nil {
		return nil, err
	}
	if evalSet != nil {
		if err := evalSet.check("evaluation", t.model.Problem(), t.model.NumLabels()); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	res := &Result{}
	lengths := t.planLengths(trainSet)
	before := xlacache.Counts()
	programs, took, err := t.compileAhead(trainSet, evalSet, st, lengths)
	if err != nil {
		return nil, err
	}
	res.Programs, res.CompileSeconds = programs, took.Seconds()
	res.CachedPrograms = min(programs, xlacache.Counts().Loaded-before.Loaded)
	if t.progress != nil && programs > 0 {
		fmt.Fprintf(t.progress, "compiled %d programs (one per input shape%s) in %.1f s\n", programs, cachedNote(res.CachedPrograms), took.Seconds())
	}
	c := t.cfg
	l := &loop{t: t, runDir: runDir, trainSet: trainSet, evalSet: evalSet, st: st, res: res, lengths: lengths,
		batchesPerEpoch: (trainSet.Len() + c.BatchSize - 1) / c.BatchSize,
		start:           time.Now(), startStep: st.Step}
	stepsPerEpoch := (l.batchesPerEpoch + c.GradAccum - 1) / c.GradAccum
	l.total = c.MaxSteps
	if l.total <= 0 {
		l.total = c.Epochs * stepsPerEpoch
	}
	st.TotalSteps = l.total
	l.warmup = WarmupSteps(c.WarmupSteps, c.WarmupRatio, l.total)
	return l, nil
}

// cachedNote says how many programs came from the compilation cache, if any.
func cachedNote(cached int) string {
	if cached == 0 {
		return ""
	}
	return fmt.Sprintf("; %d from the compilation cache", cached)
}

// optimizerStep runs the micro-batches of the next optimizer step from order (GradAccum of
// them, fewer at the end of an epoch) and applies the update.
func (l *loop) optimizerStep(order [][]int) (step, error) {
	c, st := l.t.cfg, l.st
	s := step{k: st.Step + 1}
	s.lr = c.LearningRate * c.Scheduler.Factor(s.k-1, l.warmup, l.total)
	scalars := l.t.opt.StepAt(s.k, s.lr)
	micro := 0
	for ; micro < c.GradAccum && st.Batch < len(order); micro++ {
		loss, err := l.t.microStep(l.trainSet, order[st.Batch], l.lengths)
		if err != nil {
			return s, fmt.Errorf("train: step %d: %w", s.k, err)
		}
		s.loss += loss
		l.samples += len(order[st.Batch])
		st.Batch++
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return s, fmt.Errorf("train: step %d (epoch %d): the loss is %g at learning rate %g; the parameters are no longer usable, the last good checkpoint is %s",
				s.k, st.Epoch+1, loss, s.lr, lastCheckpointName(l.runDir))
		}
	}
	s.loss /= float64(micro)
	var err error
	if s.gradNorm, err = l.t.applyStep(scalars); err != nil {
		return s, fmt.Errorf("train: step %d: %w", s.k, err)
	}
	st.Step = s.k
	if st.Batch == len(order) {
		st.Epoch, st.Batch = st.Epoch+1, 0
	}
	s.epoch, s.epochEnd = epochOf(st, l.batchesPerEpoch), st.Batch == 0
	return s, nil
}

// log adds the step's loss to the running mean and, every LogEvery steps, records the mean
// training loss, learning rate and gradient norm in the history.
func (l *loop) log(s step) {
	st := l.st
	st.LossSum += s.loss
	st.LossSteps++
	if every := l.t.cfg.LogEvery; every > 0 && (s.k%every == 0 || s.k == l.total) {
		st.History = append(st.History, Record{"step": float64(s.k), "epoch": s.epoch,
			"loss": st.LossSum / float64(st.LossSteps), "learning_rate": s.lr, "grad_norm": s.gradNorm})
		st.LossSum, st.LossSteps = 0, 0
	}
}

// showProgress reports the step to the hook and the progress bar.
func (l *loop) showProgress(s step) {
	elapsed := time.Since(l.start)
	p := Progress{Step: s.k, TotalSteps: l.total, Epoch: s.epoch, Loss: s.loss, LR: s.lr, GradNorm: s.gradNorm,
		SamplesPerSec: float64(l.samples) / elapsed.Seconds(), Elapsed: elapsed}
	p.ETA = time.Duration(float64(elapsed) / float64(s.k-l.startStep) * float64(l.total-s.k))
	l.t.report(p)
}

// due reports whether an action done every `every` steps (0: at each epoch end) falls after s;
// everything is due after the last step.
func (l *loop) due(s step, every int) bool {
	return (every > 0 && s.k%every == 0) || (every == 0 && s.epochEnd) || s.k == l.total
}

// evaluateIfDue evaluates when EvalEvery makes it due, records the metrics, tracks the best
// checkpoint, and reports whether early stopping ends the run.
func (l *loop) evaluateIfDue(ctx context.Context, s step) (stop bool, err error) {
	c, st := l.t.cfg, l.st
	if !l.due(s, c.EvalEvery) || l.evalSet == nil {
		return false, nil
	}
	ev, err := l.t.Evaluate(ctx, l.evalSet)
	if err != nil {
		return false, err
	}
	l.res.Eval = ev
	metrics := ev.Metrics()
	rec := Record{"step": float64(st.Step), "epoch": s.epoch}
	for k, v := range metrics {
		rec["eval_"+k] = v
	}
	st.History = append(st.History, rec)
	l.t.report(Progress{Step: st.Step, TotalSteps: l.total, Epoch: s.epoch, Eval: metrics})
	// New checked that the model is evaluated by MetricForBest; a metric undefined at this
	// evaluation (see Eval.Metrics) is no improvement.
	value, ok := metrics[c.MetricForBest]
	lower := LowerIsBetter(c.MetricForBest)
	if ok && (st.BestMetric == nil || (lower && value < *st.BestMetric) || (!lower && value > *st.BestMetric)) {
		st.BestMetric, st.BadEvals = &value, 0
		st.BestCheckpoint = fmt.Sprintf("checkpoint-%d", st.Step)
	} else {
		st.BadEvals++
	}
	return c.EarlyStopping > 0 && st.BadEvals >= c.EarlyStopping, nil
}

// saveIfDue writes a checkpoint when SaveEvery makes it due or the run stops early.
func (l *loop) saveIfDue(s step, stopping bool) error {
	if !l.due(s, l.t.cfg.SaveEvery) && !stopping {
		return nil
	}
	return l.t.saveCheckpoint(l.runDir, l.st)
}

// finish returns the result, with why the run stopped early ("" when it did not), after
// writing the history.
func (l *loop) finish(stopped string) (*Result, error) {
	l.res.State, l.res.Stopped = *l.st, stopped
	return l.res, writeHistory(l.runDir, l.st.History)
}
