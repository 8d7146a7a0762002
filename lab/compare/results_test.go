package compare

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/metrics"
	"github.com/tunelab/tunelab/lab/runs"
	"github.com/tunelab/tunelab/lab/train"
)

// run builds a finished run by hand: truth and predictions (label ids) with the probability of
// each prediction.
func run(t *testing.T, model, task string, labels []string, truth, preds []int, probs []float32) *runs.Run {
	t.Helper()
	var examples []data.Example
	var yTrue, yPred []string
	probabilities := make([][]float32, len(preds))
	for i := range truth {
		examples = append(examples, data.Example{ID: string(rune('a' + i)), Text: "text | " + string(rune('a'+i)), Label: labels[truth[i]]})
		yTrue, yPred = append(yTrue, labels[truth[i]]), append(yPred, labels[preds[i]])
		probabilities[i] = make([]float32, len(labels))
		probabilities[i][preds[i]] = probs[i]
	}
	report, err := metrics.New[string]().WithLabels(labels...).WithPosLabel(labels[len(labels)-1]).Report(yTrue, yPred)
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.Defaults()
	cfg.Epochs = 2
	res := &train.Result{Eval: &train.Eval{Predictions: preds, Probabilities: probabilities, Report: report}}
	r, err := runs.NewRun(model, task, labels, cfg, 10, examples, res, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.Seconds = 5
	return r
}

func TestWriteTablesChartsAndMistakes(t *testing.T) {
	runs := []*runs.Run{
		// 4 examples: TP, FN, TN, FP for "yes": accuracy 0.5, F1(yes) = 2*1/(2*1+1+1) = 0.5.
		run(t, "m1", "tweets", []string{"no", "yes"}, []int{1, 1, 0, 0}, []int{1, 0, 0, 1}, []float32{0.9, 0.8, 0.7, 0.95}),
		run(t, "m2", "tweets", []string{"no", "yes"}, []int{1, 1, 0, 0}, []int{1, 1, 0, 0}, []float32{0.9, 0.8, 0.7, 0.6}),
	}
	dir := t.TempDir()
	if err := Write(dir, "tunelab compare --x", []string{"a note"}, runs); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"model", "task", "train_examples", "eval_examples", "accuracy", "macro_f1", "positive_f1", "train_seconds", "train_samples_per_second"},
		{"m1", "tweets", "10", "4", "0.5", "0.5", "0.5", "5", "4"}, // 10 examples x 2 epochs / 5 s
		{"m2", "tweets", "10", "4", "1", "1", "1", "5", "4"},
	}
	for i := range want {
		if strings.Join(rows[i], ",") != strings.Join(want[i], ",") {
			t.Errorf("results.csv row %d = %v, want %v", i, rows[i], want[i])
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "results.md"))
	for _, s := range []string{"tunelab compare --x", "- a note", "| m1 | tweets | 10 | 4 | 0.5000 | 0.5000 | 0.5000 | 0.1 min | 4.0 |"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("results.md lacks %q:\n%s", s, md)
		}
	}
	// m1's mistakes by confidence: the false positive (0.95) before the false negative (0.8).
	mis, _ := os.ReadFile(filepath.Join(dir, "mistakes.md"))
	m1 := string(mis)[strings.Index(string(mis), "## m1"):strings.Index(string(mis), "## m2")]
	fp, fn := strings.Index(m1, `text \| d | no | yes | 0.950`), strings.Index(m1, `text \| b | yes | no | 0.800`)
	if fp < 0 || fn < 0 || fp > fn {
		t.Errorf("mistakes of m1 not listed by confidence:\n%s", m1)
	}
	for _, name := range []string{"accuracy.svg", "macro_f1.svg", "curves-tweets.svg", "confusion-tweets-m1.svg", "results.json"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", name, err)
		}
	}
}
