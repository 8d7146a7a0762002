package train

import (
	"context"
	"fmt"
	"math"
	"slices"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/lab/checkpoint"
	"github.com/tunelab/tunelab/lab/metrics"
)

// Eval is the evaluation of a model on a labelled set. Which report is set depends on the
// model's problem type.
type Eval struct {
	// Loss is the mean training loss (see encoder.Loss): cross-entropy, squared error or binary
	// cross-entropy.
	Loss float64
	// Predictions are the arg-max class ids of a single-label classifier (nil otherwise), in the
	// dataset's order.
	Predictions []int
	// Probabilities [n][c], in the dataset's order, are what the model predicts (see
	// encoder.Scores): the softmax class probabilities of a single-label classifier, each
	// class's sigmoid for a multi-label one, the predicted values of a regression model.
	Probabilities [][]float32
	// Report holds a single-label classifier's accuracy, per-class and averaged scores
	// (lab/metrics, scikit-learn's definitions), classes named by the trainer's label names.
	Report *metrics.Report
	// Regression holds a regression model's MSE, RMSE, MAE, R², Pearson and Spearman.
	Regression *metrics.RegressionReport
	// MultiLabel holds a multi-label classifier's scores, a class predicted where its sigmoid
	// is above metrics.DefaultThreshold.
	MultiLabel *metrics.MultiLabelReport
}

// Metrics returns the scalar metrics by name (see MetricNames). A metric undefined on this data
// (the correlation of constant predictions) is left out.
func (e *Eval) Metrics() map[string]float64 {
	m := map[string]float64{"loss": e.Loss}
	switch {
	case e.Regression != nil:
		for k, v := range e.Regression.Metrics() {
			if !math.IsNaN(v) {
				m[k] = v
			}
		}
	case e.MultiLabel != nil:
		for k, v := range e.MultiLabel.Metrics() {
			m[k] = v
		}
	default:
		m["accuracy"], m["macro_f1"] = e.Report.Accuracy, e.Report.Macro.F1
		if e.Report.Binary != nil {
			m["f1"] = e.Report.Binary.F1
		}
	}
	return m
}

// Text formats the report of the evaluation's problem type with digits after the decimal
// point.
func (e *Eval) Text(digits int) string {
	switch {
	case e.Regression != nil:
		return e.Regression.Text(digits)
	case e.MultiLabel != nil:
		return e.MultiLabel.Text(digits)
	}
	return e.Report.Text(digits)
}

// MetricNames lists the metrics Eval.Metrics gives for a model of problem type problem with
// numLabels outputs: "loss" and
//
//   - single-label: "accuracy", "macro_f1" and, for two classes, "f1" (the F1 of class id 1, the
//     positive class, as transformers' binary F1);
//   - regression: "mse", "rmse", "mae", "r2", "pearson", "spearman";
//   - multi-label: "subset_accuracy", "hamming_loss", "micro_f1", "macro_f1", "weighted_f1",
//     "samples_f1".
func MetricNames(problem checkpoint.ProblemType, numLabels int) []string {
	switch problem {
	case checkpoint.Regression:
		return []string{"loss", "mse", "rmse", "mae", "r2", "pearson", "spearman"}
	case checkpoint.MultiLabel:
		return []string{"loss", "subset_accuracy", "hamming_loss", "micro_f1", "macro_f1", "weighted_f1", "samples_f1"}
	}
	if numLabels == 2 {
		return []string{"loss", "accuracy", "macro_f1", "f1"}
	}
	return []string{"loss", "accuracy", "macro_f1"}
}

// LowerIsBetter says whether a smaller value of the metric is the better one: the losses and
// errors (loss, hamming_loss, mse, rmse, mae); every other metric is a score.
func LowerIsBetter(metric string) bool {
	switch metric {
	case "loss", "hamming_loss", "mse", "rmse", "mae":
		return true
	}
	return false
}

// Evaluate runs the model (dropout off) on d in batches of Config.BatchSize, grouped by length.
func (t *Trainer) Evaluate(ctx context.Context, d *Dataset) (*Eval, error) {
	problem := t.model.Problem()
	if err := d.check("evaluation", problem, t.model.NumLabels()); err != nil {
		return nil, err
	}
	if t.evalExec == nil {
		e, err := model.NewExec(t.backend, t.store, func(scope *model.Scope, tokens, mask, types *Node) *Node {
			return t.model.Logits(scope, tokens, mask, types)
		})
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
	ev := &Eval{Probabilities: make([][]float32, d.Len())}
	if problem == checkpoint.SingleLabel {
		ev.Predictions = make([]int, d.Len())
	}
	for lo := 0; lo < len(idx); lo += t.cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch := idx[lo:min(lo+t.cfg.BatchSize, len(idx))]
		tokens, mask, types, _, _ := d.batch(batch, t.seqLengths(), t.trainRows(len(batch)))
		out, err := t.evalExec.Exec(tokens, mask, types)
		if err != nil {
			return nil, fmt.Errorf("train: evaluating examples: %w", err)
		}
		logits := tensors.MustCopyFlatData[float32](out[0])
		for r, i := range batch {
			row := logits[r*c : (r+1)*c]
			switch problem {
			case checkpoint.Regression:
				ev.Probabilities[i] = slices.Clone(row)
				ev.Loss += squaredError(row, d.Targets[i])
			case checkpoint.MultiLabel:
				ev.Probabilities[i] = sigmoid(row)
				ev.Loss += binaryCrossEntropy(row, d.Targets[i])
			default:
				probs, logZ := softmax(row)
				ev.Probabilities[i] = probs
				ev.Predictions[i] = metrics.ArgMax(row)
				ev.Loss += logZ - float64(row[d.Labels[i]])
			}
		}
	}
	ev.Loss /= float64(d.Len())
	var err error
	switch problem {
	case checkpoint.Regression:
		yTrue, yPred := make([]float64, d.Len()), make([]float64, d.Len())
		for i := range yTrue {
			yTrue[i], yPred[i] = float64(d.Targets[i][0]), float64(ev.Probabilities[i][0])
		}
		ev.Regression, err = metrics.Regression(yTrue, yPred)
	case checkpoint.MultiLabel:
		yTrue := make([][]bool, d.Len())
		for i, row := range d.Targets {
			yTrue[i] = make([]bool, c)
			for j, v := range row {
				yTrue[i][j] = v == 1
			}
		}
		ev.MultiLabel, err = metrics.MultiLabel(t.labels, yTrue, metrics.Threshold(ev.Probabilities, metrics.DefaultThreshold))
	default:
		ev.Report, err = t.classificationReport(d.Labels, ev.Predictions)
	}
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return ev, nil
}

// classificationReport scores predicted class ids against the true ones, classes named by the
// trainer's labels, the second one positive for two classes.
func (t *Trainer) classificationReport(labels, predictions []int) (*metrics.Report, error) {
	names := func(ids []int) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = t.labels[id]
		}
		return out
	}
	e := metrics.New[string]().WithLabels(t.labels...)
	if len(t.labels) == 2 {
		e.WithPosLabel(t.labels[1])
	}
	return e.Report(names(labels), names(predictions))
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

// sigmoid returns each logit's independent probability, in float64.
func sigmoid(logits []float32) []float32 {
	probs := make([]float32, len(logits))
	for i, l := range logits {
		probs[i] = float32(1 / (1 + math.Exp(-float64(l))))
	}
	return probs
}

// squaredError is the mean squared difference of one example's outputs and targets.
func squaredError(outputs, targets []float32) float64 {
	sum := 0.0
	for j, x := range outputs {
		d := float64(x) - float64(targets[j])
		sum += d * d
	}
	return sum / float64(len(outputs))
}

// binaryCrossEntropy is the mean binary cross-entropy of one example's logits against its
// multi-hot targets, in the stable form encoder.Loss uses.
func binaryCrossEntropy(logits, targets []float32) float64 {
	sum := 0.0
	for j, l := range logits {
		x, y := float64(l), float64(targets[j])
		sum += math.Max(x, 0) - x*y + math.Log1p(math.Exp(-math.Abs(x)))
	}
	return sum / float64(len(logits))
}
