package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/metrics"
	"github.com/tunelab/tunelab/lab/runs"
	"github.com/tunelab/tunelab/lab/train"
)

// writeRun saves a finished run on the tweets as a notebook's training cell leaves it
// (dir/tweets/name/run.json): 10 validation tweets, 4 disasters, of which the model misses
// missed, predicting nothing else wrong.
func writeRun(t *testing.T, dir, model, name string, missed, maxLength int) *runs.Run {
	t.Helper()
	val := make([]data.Example, 10)
	yTrue, yPred, preds := make([]string, 10), make([]string, 10), make([]int, 10)
	probs := make([][]float32, 10)
	for i := range val {
		label := 0
		if i < 4 {
			label = 1
		}
		val[i] = data.Example{ID: fmt.Sprint(i), Text: fmt.Sprintf("tweet %d", i), Label: disasterLabels[label]}
		preds[i] = label
		if i < missed {
			preds[i] = 0
		}
		yTrue[i], yPred[i] = disasterLabels[label], disasterLabels[preds[i]]
		probs[i] = []float32{0, 0}
		probs[i][preds[i]] = 1
	}
	rep, err := metrics.New[string]().WithLabels(disasterLabels...).WithPosLabel("disaster").Report(yTrue, yPred)
	if err != nil {
		t.Fatal(err)
	}
	res := &train.Result{Eval: &train.Eval{Loss: 0.3, Predictions: preds, Probabilities: probs, Report: rep}}
	r, err := runs.NewRun(model, data.Tweets, disasterLabels, train.Defaults(), 30, val, res, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r.Name, r.Dir, r.MaxLength, r.Started = name, filepath.Join(dir, data.Tweets, name), maxLength, time.Now()
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRunsListsAndCompares: two runs of one model and one of another; the list marks the best
// by the tweets' F1 (all 4 disasters found: F1 1) and compares the two models in words; --html
// gives the report's two tables.
func TestRunsListsAndCompares(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, "m", "m", 2, 64)        // F1 of disaster: tp 2, fn 2: 0.6667
	writeRun(t, dir, "m", "m-lr1e-4", 0, 64) // 1
	writeRun(t, dir, "b", "b", 1, 64)        // tp 3, fn 1: 0.8571
	var stdout, stderr bytes.Buffer
	if err := runRuns(context.Background(), []string{dir}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 3 runs and 1 comparison:\n%s", len(lines), stdout.String())
	}
	for i, want := range []string{"tweets/m ", "tweets/m-lr1e-4 ", "tweets/b "} {
		if !strings.HasPrefix(lines[i], want) || strings.HasSuffix(lines[i], "(best)") != (i == 1) {
			t.Errorf("line %d %q: want %q first, (best) only on m-lr1e-4", i, lines[i], want)
		}
	}
	if !strings.Contains(lines[1], "F1 (positive) 1.0000") || !strings.HasPrefix(lines[3], "tweets, F1 of disaster: m scores 0.143 more than b (95% CI of the difference") {
		t.Errorf("output:\n%s", stdout.String())
	}
	stdout.Reset()
	if err := runRuns(context.Background(), []string{"--html", dir}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h2>Runs (validation split)</h2>", "★ best F1 of disaster", "<h2>Models compared (95% confidence intervals)</h2>", "(best of 2 runs)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--html lacks %q", want)
		}
	}
}

// TestPredictRun: `predict --run` takes the run's fine-tuned model and truncates as the run did
// (8 tokens): its probabilities are the library's at 8 tokens, not at the model's 512.
func TestPredictRun(t *testing.T) {
	base := testenv.ModelDir(t, lab.DefaultModel)
	dir := t.TempDir()
	r := writeRun(t, dir, lab.DefaultModel, "short", 0, 8)
	clf, err := lab.Load(context.Background(), base, lab.WithLabels(disasterLabels...))
	if err != nil {
		t.Fatal(err)
	}
	if err := clf.Save(r.ModelDir()); err != nil {
		t.Fatal(err)
	}
	text := "Forest fire near La Ronge Sask. Canada, the whole town is being evacuated tonight"
	var stdout, stderr bytes.Buffer
	// The task's folder: its best (only) run.
	if err := runPredict(context.Background(), []string{"--run", filepath.Join(dir, data.Tweets), "--text", text}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var got lab.Prediction
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	p := map[int]float64{}
	for _, n := range []int{8, 0} {
		c, err := lab.Load(context.Background(), r.ModelDir(), lab.WithMaxLength(n))
		if err != nil {
			t.Fatal(err)
		}
		pred, err := c.Predict(context.Background(), []string{text})
		if err != nil {
			t.Fatal(err)
		}
		p[n] = pred[0].Scores["disaster"]
	}
	if math.Abs(got.Scores["disaster"]-p[8]) > 1e-6 || math.Abs(p[8]-p[0]) < 1e-6 {
		t.Errorf("P(disaster) %g; the library gives %g at 8 tokens and %g at 512 (must differ)", got.Scores["disaster"], p[8], p[0])
	}
	if !strings.Contains(stderr.String(), "run tweets/short: ") || !strings.Contains(stderr.String(), "truncated to 8 tokens") {
		t.Errorf("stderr does not say which run: %q", stderr.String())
	}
}
