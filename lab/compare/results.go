package compare

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tunelab/tunelab/internal/atomicfile"
	"github.com/tunelab/tunelab/lab/plot"
	"github.com/tunelab/tunelab/lab/runs"
	"github.com/tunelab/tunelab/lab/train"
)

// Row is one model on one task in the results table.
type Row struct {
	Model    string  `json:"model"`
	Task     string  `json:"task"`
	Train    int     `json:"train_examples"`
	Eval     int     `json:"eval_examples"`
	Accuracy float64 `json:"accuracy"`
	MacroF1  float64 `json:"macro_f1"`
	// PositiveF1 is the F1 of the positive class for two-class tasks (the disaster tweets'
	// competition metric); absent otherwise.
	PositiveF1    *float64 `json:"positive_f1,omitempty"`
	TrainSeconds  float64  `json:"train_seconds"`
	SamplesPerSec float64  `json:"train_samples_per_second"`
	// Confusion is the held-out confusion matrix, rows true and columns predicted, in Labels order.
	Labels    []string `json:"labels"`
	Confusion [][]int  `json:"confusion_matrix"`
}

func rowOf(r *runs.Run) Row {
	row := Row{Model: r.Model, Task: r.Task, Train: r.TrainExamples, Eval: len(r.Validation),
		Accuracy: r.Metrics["accuracy"], MacroF1: r.Metrics["macro_f1"], TrainSeconds: r.Seconds,
		Labels: r.Labels, Confusion: r.Eval.Report.ConfusionMatrix.Counts}
	if f1, ok := r.Metrics["f1"]; ok && len(r.Labels) == 2 {
		row.PositiveF1 = &f1
	}
	samples := r.TrainExamples * r.Config.Epochs
	if r.Config.MaxSteps > 0 && len(r.History) > 0 {
		samples = int(r.History[len(r.History)-1]["step"]) * r.Config.BatchSize * r.Config.GradAccum
	}
	if r.Seconds > 0 {
		row.SamplesPerSec = float64(samples) / r.Seconds
	}
	return row
}

// Write puts the results of runs in dir: results.{md,csv,json}, accuracy.svg and macro_f1.svg
// (grouped bars), curves-TASK.svg (validation accuracy by step, one line per model),
// confusion-TASK-MODEL.svg, and mistakes.md (the five most confident mistakes of each run).
// command is recorded so the folder says how it was made.
func Write(dir, command string, notes []string, runs []*runs.Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rows := make([]Row, len(runs))
	for i, r := range runs {
		rows[i] = rowOf(r)
	}
	files := map[string][]byte{
		"results.md":   markdown(command, notes, rows),
		"results.csv":  csvTable(rows),
		"mistakes.md":  mistakes(runs, 5),
		"accuracy.svg": []byte(bars("accuracy", rows, func(r Row) float64 { return r.Accuracy })),
		"macro_f1.svg": []byte(bars("macro F1", rows, func(r Row) float64 { return r.MacroF1 })),
	}
	js, err := json.MarshalIndent(map[string]any{"command": command, "notes": notes, "results": rows}, "", "  ")
	if err != nil {
		return err
	}
	files["results.json"] = append(js, '\n')
	for _, task := range uniq(rows, func(r Row) string { return r.Task }) {
		var series []plot.Series
		for _, r := range runs {
			if r.Task != task {
				continue
			}
			series = append(series, train.Curve(r.History, r.Model, "step", "eval_accuracy"))
			files[fmt.Sprintf("confusion-%s-%s.svg", slug(task), slug(r.Model))] = []byte(plot.Heatmap(r.Model+" on "+task, r.Labels, r.Eval.Report.ConfusionMatrix.Counts))
		}
		files["curves-"+slug(task)+".svg"] = []byte(plot.Lines(task+": validation accuracy", "step", series...))
	}
	for name, content := range files {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), content); err != nil {
			return err
		}
	}
	return nil
}

func markdown(command string, notes []string, rows []Row) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Model comparison\n\nMade with:\n\n```sh\n%s\n```\n\n", command)
	for _, n := range notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("\n| model | task | train | eval | accuracy | macro F1 | positive F1 | training time | samples/s |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		pos := ""
		if r.PositiveF1 != nil {
			pos = fmt.Sprintf("%.4f", *r.PositiveF1)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.4f | %.4f | %s | %.1f min | %.1f |\n", r.Model, r.Task, r.Train, r.Eval, r.Accuracy, r.MacroF1, pos, r.TrainSeconds/60, r.SamplesPerSec)
	}
	b.WriteString("\n![accuracy](accuracy.svg) ![macro F1](macro_f1.svg)\n\nMost confident mistakes: [mistakes.md](mistakes.md).\n")
	return b.Bytes()
}

func csvTable(rows []Row) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"model", "task", "train_examples", "eval_examples", "accuracy", "macro_f1", "positive_f1", "train_seconds", "train_samples_per_second"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, r := range rows {
		pos := ""
		if r.PositiveF1 != nil {
			pos = f(*r.PositiveF1)
		}
		w.Write([]string{r.Model, r.Task, strconv.Itoa(r.Train), strconv.Itoa(r.Eval), f(r.Accuracy), f(r.MacroF1), pos, f(r.TrainSeconds), f(r.SamplesPerSec)})
	}
	w.Flush()
	return b.Bytes()
}

// bars draws metric per task, one bar colour per model.
func bars(metric string, rows []Row, value func(Row) float64) string {
	tasks := uniq(rows, func(r Row) string { return r.Task })
	var series []plot.Series
	for _, model := range uniq(rows, func(r Row) string { return r.Model }) {
		s := plot.Series{Name: model, Y: make([]float64, len(tasks))}
		for _, r := range rows {
			if r.Model == model {
				s.Y[slices.Index(tasks, r.Task)] = value(r)
			}
		}
		series = append(series, s)
	}
	return plot.Bars(metric+" on the held-out split", tasks, series...)
}

// mistakes lists, per run, the n wrong predictions made with the highest probability.
func mistakes(runs []*runs.Run, n int) []byte {
	var b bytes.Buffer
	b.WriteString("# Most confident mistakes\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "\n## %s on %s\n\n| text | true | predicted | probability |\n|---|---|---|---|\n", r.Model, r.Task)
		for _, m := range r.ConfidentMistakes(n) {
			ex := r.Validation[m.Index]
			fmt.Fprintf(&b, "| %s | %s | %s | %.3f |\n", cell(ex.Text, 200), ex.Label, r.Labels[m.Predicted], m.Probability)
		}
	}
	return b.Bytes()
}

// cell makes text safe for one Markdown table cell, cut to at most n runes.
func cell(text string, n int) string {
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > n {
		text = string(r[:n]) + "…"
	}
	return strings.ReplaceAll(text, "|", `\|`)
}

func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, s)
}

// uniq lists the distinct keys of xs in first-seen order.
func uniq[T any](xs []T, key func(T) string) []string {
	var out []string
	for _, x := range xs {
		if k := key(x); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
