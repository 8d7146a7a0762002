package display

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/tunelab/tunelab/internal/atomicfile"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/train"
)

// Run records one fine-tuning run for the cells after it: GoNB runs every cell as a new
// program, so the training cell saves the run (SaveRun) and later cells load it (LoadRun) to
// plot curves, score and compare without training again.
type Run struct {
	Model  string       `json:"model"`
	Task   string       `json:"task"`
	Labels []string     `json:"labels"`
	Config train.Config `json:"config"`
	// TrainExamples counts the training examples; Seconds is the training wall time.
	TrainExamples int     `json:"train_examples"`
	Seconds       float64 `json:"seconds"`
	// History is the run's log history (training loss and evaluations by step).
	History []train.Record `json:"history"`
	// Metrics are the final evaluation's scalars (train.Eval.Metrics) and Eval the evaluation
	// itself, on Validation, in the same order.
	Metrics    map[string]float64 `json:"metrics"`
	Eval       *train.Eval        `json:"eval"`
	Validation []data.Example     `json:"validation"`
}

// NewRun records res, the result of fine-tuning model on task with cfg, which took elapsed; it
// needs res.Eval (FineTune with an evaluation set) on validation.
func NewRun(model, task string, labels []string, cfg train.Config, trainExamples int, validation []data.Example, res *train.Result, elapsed time.Duration) (*Run, error) {
	if res.Eval == nil {
		return nil, fmt.Errorf("run %s on %s: the result has no evaluation (no evaluation set?)", model, task)
	}
	if n := len(res.Eval.Predictions); n != len(validation) {
		return nil, fmt.Errorf("run %s on %s: %d predictions for %d validation examples", model, task, n, len(validation))
	}
	return &Run{Model: model, Task: task, Labels: labels, Config: cfg, TrainExamples: trainExamples,
		Seconds: elapsed.Seconds(), History: res.History, Metrics: res.Eval.Metrics(), Eval: res.Eval,
		Validation: validation}, nil
}

// Save writes the run as JSON to path, atomically.
func (r *Run) Save(path string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("saving run %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, b)
}

// LoadRun reads a run written by Run.Save.
func LoadRun(path string) (*Run, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &Run{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("run %s: %w", path, err)
	}
	if r.Eval == nil || r.Eval.Report == nil || len(r.Eval.Predictions) != len(r.Validation) {
		return nil, fmt.Errorf("run %s: no evaluation, or not one prediction per validation example", path)
	}
	return r, nil
}

// Name is "model on task".
func (r *Run) Name() string { return r.Model + " on " + r.Task }

// curveNames are the history keys Curves draws, with their legend names.
var curveNames = map[string]string{"loss": "training loss", "eval_loss": "validation loss", "eval_accuracy": "validation accuracy"}

// Curves draws the training and validation loss, and the validation accuracy, by step (two
// Images in a Row).
func (r *Run) Curves() string {
	series := map[string]*Series{}
	for _, rec := range r.History {
		for key, name := range curveNames {
			if v, ok := rec[key]; ok {
				if series[key] == nil {
					series[key] = &Series{Name: name}
				}
				series[key].X = append(series[key].X, rec["step"])
				series[key].Y = append(series[key].Y, v)
			}
		}
	}
	var losses, accuracy []Series
	for _, key := range []string{"loss", "eval_loss"} {
		if s := series[key]; s != nil {
			losses = append(losses, *s)
		}
	}
	if s := series["eval_accuracy"]; s != nil {
		accuracy = append(accuracy, *s)
	}
	return Row(Image(Lines(r.Model+": loss", "step", losses...)), Image(Lines(r.Model+": validation accuracy", "step", accuracy...)))
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

// MetricsTable is the per-class and averaged precision, recall and F1 with support, and the
// accuracy.
func (r *Run) MetricsTable() string {
	rep := r.Eval.Report
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
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
	return Table([]string{r.Name(), "precision", "recall", "f1", "support"}, rows)
}

// ConfusionMatrix draws the validation confusion matrix with the label names (an Image).
func (r *Run) ConfusionMatrix() string {
	names, _ := r.classNames()
	return Image(Heatmap(r.Model+": validation confusion matrix", names, r.Eval.Report.ConfusionMatrix.Counts))
}

// Mistake is a wrong prediction: the index of the example in Validation, the predicted class
// id and its probability.
type Mistake struct {
	Index, Predicted int
	Probability      float32
}

// ConfidentMistakes returns the n wrong predictions made with the highest probability, most
// confident first.
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
		rows = append(rows, []string{short(ex.Text, 240), ex.Label, r.Labels[m.Predicted], strconv.FormatFloat(float64(m.Probability), 'f', 3, 32)})
	}
	return Table([]string{"text", "true", "predicted", "probability"}, rows)
}

// Compare tabulates runs side by side: model, task, training examples, epochs, minutes and the
// validation accuracy, macro F1, F1 of the positive class (two classes only) and loss.
func Compare(runs ...*Run) string {
	f := func(m map[string]float64, k string) string {
		if v, ok := m[k]; ok {
			return strconv.FormatFloat(v, 'f', 4, 64)
		}
		return ""
	}
	var rows [][]string
	for _, r := range runs {
		rows = append(rows, []string{r.Model, r.Task, strconv.Itoa(r.TrainExamples), strconv.Itoa(len(r.Validation)),
			strconv.FormatFloat(r.Seconds/60, 'f', 1, 64),
			f(r.Metrics, "accuracy"), f(r.Metrics, "macro_f1"), f(r.Metrics, "f1"), f(r.Metrics, "loss")})
	}
	return Table([]string{"model", "task", "train", "validation", "minutes", "accuracy", "macro F1", "F1 (positive)", "loss"}, rows)
}

// CompareChart draws the validation accuracy and macro F1 of runs as grouped bars, one group
// per run (an Image).
func CompareChart(title string, runs ...*Run) string {
	names := make([]string, len(runs))
	acc, f1 := Series{Name: "accuracy"}, Series{Name: "macro F1"}
	for i, r := range runs {
		names[i] = r.Model
		if len(slices.Compact(taskNames(runs))) > 1 {
			names[i] = r.Model + " / " + r.Task
		}
		acc.Y = append(acc.Y, r.Metrics["accuracy"])
		f1.Y = append(f1.Y, r.Metrics["macro_f1"])
	}
	return Image(Bars(title, names, acc, f1))
}

func taskNames(runs []*Run) []string {
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = r.Task
	}
	slices.Sort(names)
	return names
}
