// Package runs keeps the record of the notebooks' fine-tuning runs: each run's folder
// (DIR/TASK/NAME with run.json, the checkpoints and the fine-tuned model), FineTune that makes
// one, and what reads them back: the latest or best run of a task, its curves, metrics and
// mistakes, the runs side by side and the models compared with confidence intervals. The
// charts are SVG documents and the tables HTML (lab/plot), for a notebook (lab/display shows
// them) and for the command line (`tunelab runs`, `tunelab serve --run`), so that the command
// does not link the notebook's UI library.
package runs

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/tunelab/tunelab/internal/atomicfile"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/plot"
	"github.com/tunelab/tunelab/lab/train"
)

// Run records one fine-tuning run for the cells after it: GoNB runs every cell as a new
// program, so the training cell saves the run (FineTune writes DIR/TASK/NAME/run.json) and later
// cells load it (LoadRun, LoadRuns, Latest, Chosen) to plot curves, score and compare without
// training again.
type Run struct {
	// Name is the run's folder under its task ("all-MiniLM-L6-v2-lr1e-4", see RunName); Dir is
	// that folder (set by FineTune and LoadRun, not saved).
	Name   string       `json:"name,omitempty"`
	Dir    string       `json:"-"`
	Model  string       `json:"model"`
	Task   string       `json:"task"`
	Labels []string     `json:"labels"`
	Config train.Config `json:"config"`
	// MaxLength is the number of tokens the texts were truncated to: the cells that use the
	// fine-tuned model (Load) truncate the same way.
	MaxLength int `json:"max_length"`
	// MatmulDType is the dtype the encoder's matrix products computed in ("float32",
	// "bfloat16"; see lab.WithMatmulDType).
	MatmulDType string `json:"matmul_dtype,omitempty"`
	// Status is Running while the training cell runs, then Finished, Interrupted or Failed
	// (Error says why). A run read back as Running stopped without a word: its program was
	// killed, or the kernel restarted.
	Status  string    `json:"status"`
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started"`
	// Step is the last optimizer step done, of TotalSteps (as of the latest evaluation while
	// Running).
	Step       int `json:"step"`
	TotalSteps int `json:"total_steps"`
	// TrainExamples counts the training examples; Seconds is the training wall time.
	TrainExamples int     `json:"train_examples"`
	Seconds       float64 `json:"seconds"`
	// History is the run's log history (training loss and evaluations by step).
	History []train.Record `json:"history"`
	// Metrics are the final evaluation's scalars (train.Eval.Metrics) and Eval the evaluation
	// itself, on Validation, in the same order; both are nil unless the run Finished. A
	// regression run's Eval holds the Regression report and its predicted values (in
	// Probabilities), and its Validation examples their targets (Value).
	Metrics    map[string]float64 `json:"metrics"`
	Eval       *train.Eval        `json:"eval"`
	Validation []data.Example     `json:"validation"`
}

// The states of a Run.
const (
	Running     = "running"
	Finished    = "finished"
	Interrupted = "interrupted"
	Failed      = "failed"
)

// NewRun records res, the result of fine-tuning model on task with cfg, which took elapsed; it
// needs res.Eval (FineTune with an evaluation set) on validation: a classifier's or a regression
// model's.
func NewRun(model, task string, labels []string, cfg train.Config, trainExamples int, validation []data.Example, res *train.Result, elapsed time.Duration) (*Run, error) {
	r := &Run{Model: model, Task: task, Labels: labels, Config: cfg, TrainExamples: trainExamples, Validation: validation}
	return r, r.finish(res, elapsed)
}

// finish records the result of the run's training.
func (r *Run) finish(res *train.Result, elapsed time.Duration) error {
	if res.Eval == nil {
		return fmt.Errorf("run %s: the result has no evaluation (no evaluation set?)", r.Title())
	}
	if n := predicted(res.Eval); n != len(r.Validation) {
		return fmt.Errorf("run %s: %d predictions for %d validation examples", r.Title(), n, len(r.Validation))
	}
	r.Status, r.Error = Finished, ""
	r.Step, r.TotalSteps = res.Step, res.TotalSteps
	r.Seconds, r.History, r.Metrics, r.Eval = elapsed.Seconds(), res.History, res.Eval.Metrics(), res.Eval
	return nil
}

// predicted counts the evaluation's predictions: a classifier's class ids, a regression model's
// values (which train.Eval keeps in Probabilities, having no class to predict).
func predicted(ev *train.Eval) int {
	if ev.Regression != nil {
		return len(ev.Probabilities)
	}
	return len(ev.Predictions)
}

// regression says whether the run fine-tuned a regression model: one output, trained with the
// mean squared error on its validation examples' Values (data.Regression).
func (r *Run) regression() bool { return r.Eval != nil && r.Eval.Regression != nil }

// RunFile is the name of a run's record in its folder.
const RunFile = "run.json"

// Save writes the run as JSON to Dir/run.json, atomically.
func (r *Run) Save() error {
	if r.Dir == "" {
		return fmt.Errorf("saving run %s: it has no folder", r.Title())
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("saving run %s: %w", r.Dir, err)
	}
	return atomicfile.WriteFile(filepath.Join(r.Dir, RunFile), b)
}

// LoadRun reads the run in dir (its run.json, written by Save), finished or not.
func LoadRun(dir string) (*Run, error) {
	path := filepath.Join(dir, RunFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &Run{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("run %s: %w", path, err)
	}
	switch r.Status {
	case Finished:
		if r.Eval == nil || r.Eval.Report == nil && r.Eval.Regression == nil || predicted(r.Eval) != len(r.Validation) {
			return nil, fmt.Errorf("run %s: finished, but no evaluation, or not one prediction per validation example", path)
		}
	case Running, Interrupted, Failed:
	default:
		return nil, fmt.Errorf("run %s: status %q, want one of %q", path, r.Status, []string{Running, Finished, Interrupted, Failed})
	}
	r.Dir = dir
	return r, nil
}

// Title is "task/name" for a named run, else "model on task".
func (r *Run) Title() string {
	if r.Name != "" {
		return r.Task + "/" + r.Name
	}
	return r.Model + " on " + r.Task
}

// ModelDir is the folder of the run's fine-tuned model (a Hugging Face model folder).
func (r *Run) ModelDir() string { return filepath.Join(r.Dir, "model") }

// short names the run in chart titles: its name, else its model.
func (r *Run) short() string { return cmp.Or(r.Name, r.Model) }

// Unfinished is nil for a finished run; otherwise it says how the run stopped and that it has no
// results, for the cells that would show them.
func (r *Run) Unfinished() error {
	switch r.Status {
	case Finished:
		return nil
	case Running:
		return fmt.Errorf("run %s did not finish: it stopped after step %d of %d without a word (its program was killed or the kernel restarted), so it has no results: run its training cell again", r.Title(), r.Step, r.TotalSteps)
	default:
		return fmt.Errorf("run %s did not finish: %s after step %d of %d (%s), so it has no results: run its training cell again", r.Title(), r.Status, r.Step, r.TotalSteps, r.Error)
	}
}

// Load loads the run's fine-tuned model (Dir/model) as it was trained: texts truncated to
// MaxLength, the run's labels. opts are applied after, so they win (a backend, ...).
func (r *Run) Load(ctx context.Context, opts ...lab.Option) (*lab.Classifier, error) {
	if err := r.Unfinished(); err != nil {
		return nil, err
	}
	clf, err := lab.Load(ctx, r.ModelDir(), append([]lab.Option{lab.WithMaxLength(r.MaxLength)}, opts...)...)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(clf.Labels, r.Labels) {
		return nil, fmt.Errorf("run %s: its model has the labels %q, its record %q", r.Title(), clf.Labels, r.Labels)
	}
	return clf, nil
}

// Curves draws the training and validation loss, and the validation accuracy (a regression
// run's Spearman correlation, see regressionMetric), by step: two SVG charts (lab/display.Curves
// shows them side by side).
func (r *Run) Curves() (loss, score string) {
	key := "accuracy"
	if r.regression() {
		key = regressionMetric
	}
	name := "validation " + r.metricName(key)
	loss = plot.Lines(r.short()+": loss", "step", train.Curve(r.History, "training loss", "step", "loss"),
		train.Curve(r.History, "validation loss", "step", "eval_loss"))
	score = plot.Lines(r.short()+": "+name, "step", train.Curve(r.History, name, "step", "eval_"+key))
	return loss, score
}

// classNames returns the names of the report's classes in confusion-matrix order, with the
// report's keys: label names, or class ids ("0", "1", ...) that are mapped to r.Labels.
func (r *Run) classNames() (names, keys []string) {
	keys = r.Eval.Report.ConfusionMatrix.Labels
	for _, k := range keys {
		name := k
		if id, err := strconv.Atoi(k); err == nil && id >= 0 && id < len(r.Labels) && !slices.Contains(r.Labels, k) {
			name = r.Labels[id]
		}
		names = append(names, name)
	}
	return names, keys
}

// MetricsTable is a classifier's per-class and averaged precision, recall and F1 with support,
// and the accuracy; a regression run's MSE, RMSE, MAE, R², Pearson and Spearman correlations
// (lab/metrics' RegressionReport; NaN where undefined) and its number of examples.
func (r *Run) MetricsTable() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	if reg := r.Eval.Regression; reg != nil {
		rows := [][]string{{"MSE", f(reg.MSE)}, {"RMSE", f(reg.RMSE)}, {"MAE", f(reg.MAE)}, {"R²", f(reg.R2)},
			{"Pearson", f(reg.Pearson)}, {"Spearman", f(reg.Spearman)}, {"examples", strconv.Itoa(reg.N)}}
		return plot.Table([]string{r.Title(), "validation"}, rows)
	}
	rep := r.Eval.Report
	var rows [][]string
	names, keys := r.classNames()
	for i, key := range keys {
		s := rep.PerClass[key]
		rows = append(rows, []string{names[i], f(s.Precision), f(s.Recall), f(s.F1), strconv.Itoa(s.Support)})
	}
	n := strconv.Itoa(len(r.Validation))
	rows = append(rows,
		[]string{"macro avg", f(rep.Macro.Precision), f(rep.Macro.Recall), f(rep.Macro.F1), n},
		[]string{"weighted avg", f(rep.Weighted.Precision), f(rep.Weighted.Recall), f(rep.Weighted.F1), n},
		[]string{"accuracy", "", "", f(rep.Accuracy), n})
	return plot.Table([]string{r.Title(), "precision", "recall", "f1", "support"}, rows)
}

// ConfusionMatrix draws a classifier's validation confusion matrix with the label names (an SVG
// chart).
func (r *Run) ConfusionMatrix() string {
	names, _ := r.classNames()
	return plot.Heatmap(r.short()+": validation confusion matrix", names, r.Eval.Report.ConfusionMatrix.Counts)
}

// PredictedVsTrue draws a regression run's predictions against the true values of its
// validation examples, a dot per example around the line of perfect predictions (an SVG chart).
func (r *Run) PredictedVsTrue() string {
	truth, predicted := r.values()
	return plot.PredictedVsTrue(r.short()+": validation predictions", truth, predicted)
}

// values returns a regression run's true and predicted values, in Validation's order.
func (r *Run) values() (truth, predicted []float64) {
	truth, predicted = make([]float64, len(r.Validation)), make([]float64, len(r.Validation))
	for i, ex := range r.Validation {
		truth[i], predicted[i] = ex.Value, float64(r.Eval.Probabilities[i][0])
	}
	return truth, predicted
}

// Mistake is a wrong prediction: the index of the example in Validation, the predicted class
// id and its probability.
type Mistake struct {
	Index, Predicted int
	Probability      float32
}

// ConfidentMistakes returns a classifier's n wrong predictions made with the highest
// probability, most confident first.
func (r *Run) ConfidentMistakes(n int) []Mistake {
	var ms []Mistake
	for i, p := range r.Eval.Predictions {
		if r.Labels[p] != r.Validation[i].Label {
			ms = append(ms, Mistake{i, p, r.Eval.Probabilities[i][p]})
		}
	}
	slices.SortStableFunc(ms, func(a, b Mistake) int { return cmp.Compare(b.Probability, a.Probability) })
	return ms[:min(n, len(ms))]
}

// Mistakes lists the n wrong predictions made with the highest probability: text, true label,
// predicted label and its probability.
func (r *Run) Mistakes(n int) string {
	rows := [][]string{}
	for _, m := range r.ConfidentMistakes(n) {
		ex := r.Validation[m.Index]
		rows = append(rows, []string{plot.Shorten(ex.Text, 240), ex.Label, r.Labels[m.Predicted], strconv.FormatFloat(float64(m.Probability), 'f', 3, 32)})
	}
	return plot.Table([]string{"text", "true", "predicted", "probability"}, rows)
}
