package train

import (
	"context"
	"fmt"
	"math"
	"slices"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/lab/metrics"
)

// Eval is the evaluation of a model on a labelled set.
type Eval struct {
	// Loss is the mean cross-entropy.
	Loss float64
	// Predictions are the arg-max class ids and Probabilities the softmax [n][c], in the
	// dataset's order.
	Predictions   []int
	Probabilities [][]float32
	// Report holds accuracy, per-class and averaged scores (lab/metrics, scikit-learn's
	// definitions), classes named by the trainer's label names.
	Report *metrics.Report
}

// Metrics returns the scalar metrics by name: "loss", "accuracy", "macro_f1" and, for two
// classes, "f1", the F1 of class id 1 (the positive class, as transformers' binary F1).
func (e *Eval) Metrics() map[string]float64 {
	m := map[string]float64{"loss": e.Loss, "accuracy": e.Report.Accuracy, "macro_f1": e.Report.Macro.F1}
	if e.Report.Binary != nil {
		m["f1"] = e.Report.Binary.F1
	}
	return m
}

// Evaluate runs the model (dropout off) on d in batches of Config.BatchSize, grouped by length.
func (t *Trainer) Evaluate(ctx context.Context, d *Dataset) (*Eval, error) {
	if err := d.check("evaluation", t.model.NumLabels()); err != nil {
		return nil, err
	}
	if t.evalExec == nil {
		e, err := newExec(t, func(scope *model.Scope, tokens, mask, types *Node) *Node {
			return t.model.Logits(scope, tokens, mask, types)
		}, true, 2, 2, 2)
		if err != nil {
			return nil, err
		}
		t.evalExec = e
	}
	c := t.model.NumLabels()
	idx := make([]int, d.Len())
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return len(d.IDs[a]) - len(d.IDs[b]) })
	ev := &Eval{Predictions: make([]int, d.Len()), Probabilities: make([][]float32, d.Len())}
	for lo := 0; lo < len(idx); lo += t.cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch := idx[lo:min(lo+t.cfg.BatchSize, len(idx))]
		tokens, mask, types, _, _ := d.batch(batch, t.seqLengths(), t.trainRows(len(batch)))
		logits, err := t.logits(tokens, mask, types)
		if err != nil {
			return nil, fmt.Errorf("train: evaluating examples: %w", err)
		}
		for r, i := range batch {
			row := logits[r*c : (r+1)*c]
			probs, logZ := softmax(row)
			ev.Probabilities[i] = probs
			ev.Predictions[i] = metrics.ArgMax(row)
			ev.Loss += logZ - float64(row[d.Labels[i]])
		}
	}
	ev.Loss /= float64(d.Len())
	names := func(ids []int) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = t.labels[id]
		}
		return out
	}
	e := metrics.New[string]().WithLabels(t.labels...)
	if c == 2 {
		e.WithPosLabel(t.labels[1])
	}
	report, err := e.Report(names(d.Labels), names(ev.Predictions))
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	ev.Report = report
	return ev, nil
}

// logits runs the evaluation exec on a batch and returns its logits [rows, c], flat; on several
// devices each computes its rows' and they are put back in order.
func (t *Trainer) logits(tokens, mask, types *tensors.Tensor) ([]float32, error) {
	args, err := t.execArgs(tokens, mask, types)
	if err != nil {
		return nil, err
	}
	if t.parallel == nil {
		out, err := t.evalExec.Exec(args...)
		if err != nil {
			return nil, err
		}
		return tensors.MustCopyFlatData[float32](out[0]), nil
	}
	out, err := t.evalExec.DistributedExec(args...)
	if err != nil {
		return nil, err
	}
	merged, err := out[0].Merge()
	if err != nil {
		return nil, err
	}
	return tensors.MustCopyFlatData[float32](merged), nil
}

// softmax returns the probabilities of logits and their log-sum-exp, in float64.
func softmax(logits []float32) ([]float32, float64) {
	top := float64(slices.Max(logits))
	sum := 0.0
	for _, l := range logits {
		sum += math.Exp(float64(l) - top)
	}
	probs := make([]float32, len(logits))
	for i, l := range logits {
		probs[i] = float32(math.Exp(float64(l)-top) / sum)
	}
	return probs, top + math.Log(sum)
}
