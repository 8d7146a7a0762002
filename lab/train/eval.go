package train

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/encoder"
	"github.com/tunelab/tunelab/lab/hfmodel"
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
	// Scores): the softmax class probabilities of a single-label classifier, each
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
func MetricNames(problem hfmodel.ProblemType, numLabels int) []string {
	switch problem {
	case hfmodel.Regression:
		return []string{"loss", "mse", "rmse", "mae", "r2", "pearson", "spearman"}
	case hfmodel.MultiLabel:
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

// Predictor runs a model's forward pass (dropout off) over tokenized examples: the one
// inference path of evaluation (Trainer.Evaluate) and of prediction (lab.Classifier). It is not
// safe for concurrent use.
type Predictor struct {
	model  *encoder.Model
	exec   *model.Exec
	shapes backend.Shapes
	// parallel splits each batch across devices (a data-parallel Trainer's); nil on one.
	parallel *dataParallel
}

// NewPredictor returns a Predictor of m, whose variables are in store, on b: on one device, or
// splitting each batch across the devices that devices names (see Config.Devices; "" is one
// device on the CPU, every device of an accelerator).
func NewPredictor(b compute.Backend, m *encoder.Model, store *model.Store, devices string) (*Predictor, error) {
	used, err := Devices(devices, b)
	if err != nil {
		return nil, err
	}
	var parallel *dataParallel
	if len(used) > 1 {
		if parallel, err = newDataParallel(used); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	return newPredictor(b, m, store, parallel)
}

// newPredictor returns a Predictor of m on b, data parallel when parallel is not nil (whose
// devices then get a replica of every variable of store).
func newPredictor(b compute.Backend, m *encoder.Model, store *model.Store, parallel *dataParallel) (*Predictor, error) {
	exec, err := newExec(b, store, parallel, func(scope *model.Scope, tokens, mask, types *Node) *Node {
		return m.Logits(scope, tokens, mask, types)
	}, true, 2, 2, 2)
	if err != nil {
		return nil, err
	}
	if parallel != nil {
		if err := parallel.replicate(store); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	// Graphs are compiled per batch shape, bounded by construction: row counts times bucket
	// lengths (backend.Shapes), or an evaluation's planned lengths; on the Go backend, whose
	// buckets are fine, more than GoMLX's default cache holds.
	return &Predictor{model: m, exec: exec.SetMaxCache(-1), shapes: backend.ShapesFor(b), parallel: parallel}, nil
}

// Logits returns the logits [n][c] of d's examples, in d's order (d's labels are not read). The
// examples run sorted by length in batches of at most batchSize, each padded to the smallest
// bucket length that holds its longest row and to the engine's next row count
// (backend.Shapes.Rows) with copies of its first row (whose outputs are dropped): the few
// shapes a server compiles ahead (WarmShapes).
func (p *Predictor) Logits(ctx context.Context, d *Dataset, batchSize int) ([][]float32, error) {
	return p.logits(ctx, d, inferenceBatches(d, batchSize), p.lengths(), func(n int) int { return p.rows(n, batchSize) })
}

// logits is Logits of d's examples run in batches (example indices), each padded to the
// smallest of lengths that holds it and to rows(len(batch)) rows.
func (p *Predictor) logits(ctx context.Context, d *Dataset, batches [][]int, lengths []int, rows func(n int) int) ([][]float32, error) {
	c := p.model.NumLabels()
	out := make([][]float32, d.Len())
	for _, batch := range batches {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tokens, mask, types, _, _ := d.batch(batch, lengths, rows(len(batch)))
		flat, err := p.run(tokens, mask, types)
		if err != nil {
			return nil, fmt.Errorf("train: running examples: %w", err)
		}
		for r, i := range batch {
			out[i] = flat[r*c : (r+1)*c : (r+1)*c]
		}
	}
	return out, nil
}

// evaluationBatches returns how Evaluate runs d, a set known whole: in its inferenceBatches,
// padded to lengths planned for them (backend.Shapes.PlanLengths) and, on engines that compile
// each shape, every batch to the rows of the largest (a short last batch costs less than a
// program).
func (p *Predictor) evaluationBatches(d *Dataset, batchSize int) (batches [][]int, lengths []int, rows func(n int) int) {
	rows = func(n int) int { return p.rows(n, batchSize) }
	if p.shapes.Few {
		all := p.rows(min(batchSize, d.Len()), batchSize)
		rows = func(int) int { return all }
	}
	batches = inferenceBatches(d, batchSize)
	var longest, counts []int
	for _, batch := range batches {
		longest = append(longest, d.paddedLength(batch, nil))
		counts = append(counts, rows(len(batch)))
	}
	return batches, p.shapes.PlanLengths(longest, counts), rows
}

// rows is the number of rows a batch of n of at most batchSize examples is padded to: the
// engine's next row count (backend.Shapes.Rows), then a multiple of the devices.
func (p *Predictor) rows(n, batchSize int) int {
	return p.parallel.padRows(p.shapes.Rows(n, batchSize))
}

// run returns the logits [rows, c], flat, of a batch; on several devices each computes its
// rows' and they are put back in order.
func (p *Predictor) run(tokens, mask, types *tensors.Tensor) ([]float32, error) {
	args, err := p.parallel.args(tokens, mask, types)
	if err != nil {
		return nil, err
	}
	if p.parallel == nil {
		out, err := p.exec.Exec(args...)
		if err != nil {
			return nil, err
		}
		return tensors.MustCopyFlatData[float32](out[0]), nil
	}
	out, err := p.exec.DistributedExec(args...)
	if err != nil {
		return nil, err
	}
	merged, err := out[0].Merge()
	if err != nil {
		return nil, err
	}
	return tensors.MustCopyFlatData[float32](merged), nil
}

// inferenceBatches returns the batches (example indices) Logits runs d in: sorted by length,
// batchSize at a time.
func inferenceBatches(d *Dataset, batchSize int) [][]int {
	idx := make([]int, d.Len())
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return len(d.IDs[a]) - len(d.IDs[b]) })
	var batches [][]int
	for lo := 0; lo < len(idx); lo += batchSize {
		batches = append(batches, idx[lo:min(lo+batchSize, len(idx))])
	}
	return batches
}

// Shapes returns the input shapes (rows, seq) Evaluate compiles for d in batches of batchSize,
// each once.
func (p *Predictor) Shapes(d *Dataset, batchSize int) [][2]int {
	batches, lengths, rows := p.evaluationBatches(d, batchSize)
	var out [][2]int
	for _, batch := range batches {
		shape := [2]int{rows(len(batch)), d.paddedLength(batch, lengths)}
		if !slices.Contains(out, shape) {
			out = append(out, shape)
		}
	}
	return out
}

// lengths are the padded sequence lengths of the batches: the engine's buckets up to the
// model's longest input (the tokenizer has already truncated to the run's maximum length).
func (p *Predictor) lengths() []int {
	return p.shapes.SeqLengths(p.model.Config().MaxPositionEmbeddings)
}

// Compile compiles the forward pass for batches of rows x seq tokens ahead of their first use.
func (p *Predictor) Compile(rows, seq int) error {
	tokens := shapes.Make(dtypes.Int32, rows, seq)
	if _, err := p.exec.Compile(tokens, tokens, tokens); err != nil {
		return fmt.Errorf("train: compiling the forward pass for %d x %d: %w", rows, seq, err)
	}
	return nil
}

// WarmShapes returns the (rows, seq) shapes Logits uses for batches of up to batchSize texts of
// up to maxLength tokens, on engines that compile each shape (XLA); none on the Go backend,
// which builds a program in milliseconds when a shape first comes.
func (p *Predictor) WarmShapes(batchSize, maxLength int) [][2]int {
	if !p.shapes.Few {
		return nil
	}
	lengths := p.lengths()
	last, _ := slices.BinarySearch(lengths, maxLength) // the bucket that holds maxLength tokens
	var out [][2]int
	for _, seq := range lengths[:min(last+1, len(lengths))] {
		for _, rows := range p.shapes.RowCounts(batchSize) {
			out = append(out, [2]int{rows, seq})
		}
	}
	return out
}

// Evaluate runs the model (dropout off) on d in batches of Config.BatchSize (see Predictor).
func (t *Trainer) Evaluate(ctx context.Context, d *Dataset) (*Eval, error) {
	p, err := t.evaluator()
	if err != nil {
		return nil, err
	}
	return p.Evaluate(ctx, d, t.labels, t.cfg.BatchSize)
}

// evaluator returns t's Predictor, made on first use, on t's devices.
func (t *Trainer) evaluator() (*Predictor, error) {
	if t.predictor == nil {
		p, err := newPredictor(t.backend, t.model, t.store, t.parallel)
		if err != nil {
			return nil, err
		}
		t.predictor = p
	}
	return t.predictor, nil
}

// Evaluate scores the model on the labelled set d, run sorted by length in batches of at most
// batchSize (see evaluationBatches); labels name the classes in the reports.
func (p *Predictor) Evaluate(ctx context.Context, d *Dataset, labels []string, batchSize int) (*Eval, error) {
	problem, c := p.model.Problem(), p.model.NumLabels()
	if len(labels) != c {
		return nil, fmt.Errorf("train: %d label names for a model with %d outputs", len(labels), c)
	}
	if err := d.check("evaluation", problem, c); err != nil {
		return nil, err
	}
	batches, lengths, rows := p.evaluationBatches(d, batchSize)
	logits, err := p.logits(ctx, d, batches, lengths, rows)
	if err != nil {
		return nil, err
	}
	ev := &Eval{Probabilities: make([][]float32, d.Len())}
	if problem == hfmodel.SingleLabel {
		ev.Predictions = make([]int, d.Len())
	}
	for i, row := range logits {
		ev.Probabilities[i] = Scores(problem, row)
		switch problem {
		case hfmodel.Regression:
			ev.Loss += squaredError(row, d.Targets[i])
		case hfmodel.MultiLabel:
			ev.Loss += binaryCrossEntropy(row, d.Targets[i])
		default:
			_, logZ := Probabilities(row)
			ev.Predictions[i] = metrics.ArgMax(row)
			ev.Loss += logZ - float64(row[d.Labels[i]])
		}
	}
	ev.Loss /= float64(d.Len())
	switch problem {
	case hfmodel.Regression:
		yTrue, yPred := make([]float64, d.Len()), make([]float64, d.Len())
		for i := range yTrue {
			yTrue[i], yPred[i] = float64(d.Targets[i][0]), float64(ev.Probabilities[i][0])
		}
		ev.Regression, err = metrics.Regression(yTrue, yPred)
	case hfmodel.MultiLabel:
		yTrue := make([][]bool, d.Len())
		for i, row := range d.Targets {
			yTrue[i] = make([]bool, c)
			for j, v := range row {
				yTrue[i][j] = v == 1
			}
		}
		ev.MultiLabel, err = metrics.MultiLabel(labels, yTrue, metrics.Threshold(ev.Probabilities, metrics.DefaultThreshold))
	default:
		ev.Report, err = classificationReport(labels, d.Labels, ev.Predictions)
	}
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	return ev, nil
}

// classificationReport scores predicted class ids against the true ones, classes named by
// labels, the second one positive for two classes.
func classificationReport(labels []string, truth, predictions []int) (*metrics.Report, error) {
	names := func(ids []int) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = labels[id]
		}
		return out
	}
	e := metrics.New[string]().WithLabels(labels...)
	if len(labels) == 2 {
		e.WithPosLabel(labels[1])
	}
	return e.Report(names(truth), names(predictions))
}

// Scores returns what a model of problem type problem predicts from one example's logits: the
// softmax class probabilities of a single-label classifier, each class's independent sigmoid for
// a multi-label one, the predicted values of a regression model.
func Scores(problem hfmodel.ProblemType, logits []float32) []float32 {
	switch problem {
	case hfmodel.Regression:
		return slices.Clone(logits)
	case hfmodel.MultiLabel:
		return sigmoid(logits)
	}
	probs, _ := Probabilities(logits)
	return probs
}

// Probabilities returns the softmax of logits and their log-sum-exp, computed in float64.
func Probabilities(logits []float32) ([]float32, float64) {
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
