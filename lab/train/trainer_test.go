package train

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/tunelab/tunelab/lab/safetensors"
)

// sameLength returns n texts of exactly words words each, so that every batch of them is padded
// to the same length and the mean loss of a batch is the mean of its halves.
func sameLength(n, words int) []string {
	texts := make([]string, n)
	for i := range texts {
		var w []string
		for j := range words {
			w = append(w, fmt.Sprintf("w%d", (i*7+j*13)%97))
		}
		texts[i] = strings.Join(w, " ")
	}
	return texts
}

// TestGradAccumEqualsBigBatch: one optimizer step over 8 examples as 2 accumulated
// micro-batches of 4 must update the weights as one batch of 8 does (dropout off), since the
// mean loss of 8 equal-length rows is the mean of the two halves' means.
func TestGradAccumEqualsBigBatch(t *testing.T) {
	d, err := Encode(wordHasher{maxLen: 16}, sameLength(8, 9), []int{0, 1, 2, 1, 0, 2, 2, 1})
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	step := func(batch, accum int) map[string]safetensors.Tensor {
		cfg := Defaults()
		cfg.LearningRate, cfg.WeightDecay, cfg.Dropout, cfg.MaxSteps, cfg.LogEvery = 1e-2, 0.01, &zero, 1, 1
		cfg.BatchSize, cfg.GradAccum = batch, accum
		tr, _ := tinyTrainer(t, "bert-tiny-cls", nil, cfg)
		res, err := tr.Train(context.Background(), t.TempDir(), d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Step != 1 {
			t.Fatalf("batch %d accum %d: %d steps, want 1", batch, accum, res.Step)
		}
		w, err := tr.model.Tensors(tr.store)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	_, ck := tinyTrainer(t, "bert-tiny-cls", nil, Defaults())
	big, accum := step(8, 1), step(4, 2)
	moved := 0.0
	for name, b := range big {
		a := accum[name]
		diff := 0.0
		for i := range b.Data {
			diff = math.Max(diff, math.Abs(float64(a.Data[i]-b.Data[i])))
			moved = math.Max(moved, math.Abs(float64(b.Data[i]-ck.Tensors[name].Data[i])))
		}
		tol := 1e-5
		if strings.Contains(name, "/key/dense/biases") {
			// Its gradient is 0 in exact arithmetic (see TestAdamWMatchesTorch): Adam turns
			// the float noise into steps of up to lr in either direction.
			tol = 2 * 1e-2
		}
		if diff > tol {
			t.Errorf("%s: accumulated update differs from the big batch's by %g, want <= 1e-5", name, diff)
		}
	}
	if moved < 1e-3 {
		t.Errorf("the step moved no weight by more than %g: nothing was compared", moved)
	}
}

// frozenConfig trains with a learning rate too small to change any float32 weight, so every
// evaluation gives the same accuracy and none improves on the first.
func frozenConfig() Config {
	cfg := tinyConfig()
	cfg.LearningRate, cfg.WarmupRatio, cfg.Epochs, cfg.BatchSize = 1e-12, 0, 3, 4
	cfg.EvalEvery, cfg.SaveEvery, cfg.SaveTotalLimit, cfg.LogEvery = 1, 1, 1, 1
	cfg.MetricForBest, cfg.EarlyStopping = "accuracy", 3
	return cfg
}

// TestEarlyStoppingAndPruning: the first evaluation (step 1) is the best and the three after it
// do not improve, so with patience 3 training stops after step 4 of 12; with a save limit of
// 1, only checkpoint-4 (the latest) and checkpoint-1 (the best) remain.
func TestEarlyStoppingAndPruning(t *testing.T) {
	trainSet, evalSet := tweets(t, wordHasher{maxLen: 32}, 16, 24)
	tr, _ := tinyTrainer(t, "bert-tiny-bare", tweetLabels, frozenConfig())
	var bar bytes.Buffer
	tr.WithProgress(&bar)
	dir := t.TempDir()
	res, err := tr.Train(context.Background(), dir, trainSet, evalSet)
	if err != nil {
		t.Fatal(err)
	}
	if res.Step != 4 || res.TotalSteps != 12 || !strings.Contains(res.Stopped, "accuracy did not improve for 3 evaluations") {
		t.Errorf("stopped at step %d of %d (%q), want early stopping at 4 of 12", res.Step, res.TotalSteps, res.Stopped)
	}
	if res.BestCheckpoint != "checkpoint-1" || res.BadEvals != 3 {
		t.Errorf("best %s, %d evaluations without improvement; want checkpoint-1, 3", res.BestCheckpoint, res.BadEvals)
	}
	var evals int
	for _, r := range res.History {
		if _, ok := r["eval_accuracy"]; ok {
			evals++
		}
	}
	if evals != 4 {
		t.Errorf("%d evaluations in the history, want 4", evals)
	}
	if got := checkpoints(t, dir); !slices.Equal(got, []string{"checkpoint-1", "checkpoint-4"}) {
		t.Errorf("run dir keeps %v, want [checkpoint-1 checkpoint-4] (best and latest)", got)
	}
	// One progress line per optimizer step, each redrawn with a carriage return.
	for k := 1; k <= 4; k++ {
		if !strings.Contains(bar.String(), fmt.Sprintf("] %d/12 loss ", k)) {
			t.Errorf("progress output lacks step %d/12: %q", k, bar.String())
		}
	}
	if n := strings.Count(bar.String(), "\r"); n != 4 {
		t.Errorf("%d progress redraws, want 4", n)
	}
}

func checkpoints(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "checkpoint-") {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestBestCheckpointByMetric trains on an easy task ("fire" or "calm" decides the target; the
// training set is also evaluated), evaluating and saving every step, and checks the best
// checkpoint is the arg-min of a loss or error (the evaluation loss, a regression model's RMSE,
// a multi-label model's Hamming loss) or the arg-max of a score (accuracy, Spearman, micro F1),
// first on ties, in the history, and that reloading it reproduces that evaluation.
func TestBestCheckpointByMetric(t *testing.T) {
	var texts []string
	var classes []int
	var values, sets [][]float32
	for i, words := range sameLength(32, 5) {
		texts, classes = append(texts, []string{"calm ", "fire "}[i%2]+words), append(classes, i%2)
		values = append(values, []float32{float32(3 * (i % 2)), 0}[:1])
		sets = append(sets, [][]float32{{0, 1, 0}, {1, 0, 1}}[i%2])
	}
	encode := func(targets [][]float32) *Dataset {
		d, err := Encode(wordHasher{maxLen: 16}, texts, classes)
		if targets != nil {
			d, err = EncodeTargets(wordHasher{maxLen: 16}, texts, targets)
		}
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	lowerIsBetter := map[string]bool{"loss": true, "rmse": true, "hamming_loss": true}
	for _, tc := range []struct {
		metric, fixture string
		labels          []string
		data            *Dataset
	}{
		{"loss", "bert-tiny-bare", tweetLabels, encode(nil)},
		{"accuracy", "bert-tiny-bare", tweetLabels, encode(nil)},
		{"rmse", "bert-tiny-regression", nil, encode(values)},
		{"spearman", "bert-tiny-regression", nil, encode(values)},
		{"hamming_loss", "bert-tiny-multilabel", nil, encode(sets)},
		{"micro_f1", "bert-tiny-multilabel", nil, encode(sets)},
	} {
		t.Run(tc.metric, func(t *testing.T) {
			cfg := tinyConfig()
			cfg.LearningRate, cfg.Epochs, cfg.EvalEvery, cfg.SaveEvery, cfg.SaveTotalLimit = 3e-3, 2, 1, 1, 0
			cfg.MetricForBest = tc.metric
			tr, _ := tinyTrainer(t, tc.fixture, tc.labels, cfg)
			dir := t.TempDir()
			res, err := tr.Train(context.Background(), dir, tc.data, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			best, bestStep, values := math.NaN(), -1, map[float64]bool{}
			lower := lowerIsBetter[tc.metric]
			for _, r := range res.History {
				v, ok := r["eval_"+tc.metric]
				if !ok {
					continue
				}
				values[v] = true
				if math.IsNaN(best) || (lower && v < best) || (!lower && v > best) {
					best, bestStep = v, int(r["step"])
				}
			}
			if len(values) < 2 {
				t.Fatalf("eval_%s took one value, %v: the selection is not exercised", tc.metric, values)
			}
			if want := fmt.Sprintf("checkpoint-%d", bestStep); res.BestCheckpoint != want || *res.BestMetric != best {
				t.Errorf("best %s (%v), want %s (%v) from the history", res.BestCheckpoint, *res.BestMetric, want, best)
			}
			// The checkpoint holds the model that was evaluated at that step.
			again, _ := loadTrainer(t, filepath.Join(dir, res.BestCheckpoint), tc.labels, cfg)
			ev, err := again.Evaluate(context.Background(), tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if got := ev.Metrics()[tc.metric]; math.Abs(got-best) > 1e-6 {
				t.Errorf("%s reloaded: %s %v, history says %v", res.BestCheckpoint, tc.metric, got, best)
			}
		})
	}
}

// TestEvalReportNamesLabels: the evaluation report names classes by label, with the second
// label as the positive class of the binary scores.
func TestEvalReportNamesLabels(t *testing.T) {
	_, evalSet := tweets(t, wordHasher{maxLen: 32}, 0, 16)
	tr, _ := tinyTrainer(t, "bert-tiny-bare", tweetLabels, tinyConfig())
	ev, err := tr.Evaluate(context.Background(), evalSet)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ev.Report.PerClass["disaster"]; !ok || ev.Report.Binary == nil || ev.Report.Binary.PosLabel != "disaster" ||
		!slices.Equal(ev.Report.ConfusionMatrix.Labels, tweetLabels) {
		t.Errorf("report classes %v, positive %+v; want %q with positive \"disaster\"", ev.Report.ConfusionMatrix.Labels, ev.Report.Binary, tweetLabels)
	}
	if !strings.Contains(ev.Report.Text(4), "not disaster") {
		t.Errorf("text report lacks the label names:\n%s", ev.Report.Text(4))
	}
}

// TestProgressBar checks the progress line against one written out by hand.
func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	writeBar(&b, Progress{Step: 5, TotalSteps: 10, Loss: 0.123456, LR: 2e-5, SamplesPerSec: 12.34, ETA: 65*time.Second + 400*time.Millisecond})
	want := "\r[===============               ] 5/10 loss 0.1235 lr 2.00e-05 12.3 samples/s ETA 1m5s "
	if b.String() != want {
		t.Errorf("progress line\n%q\nwant\n%q", b.String(), want)
	}
}

// TestDropoutOverrideDoesNotLinger: a trainer whose Config leaves Dropout nil trains with
// config.json's rates even after another trainer of the same model set Dropout 0: its run
// equals that of a model nobody overrode.
func TestDropoutOverrideDoesNotLinger(t *testing.T) {
	d, err := Encode(wordHasher{maxLen: 16}, sameLength(8, 9), []int{0, 1, 2, 1, 0, 2, 2, 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.LearningRate, cfg.MaxSteps, cfg.BatchSize, cfg.LogEvery = 1e-3, 2, 4, 1
	losses := func(tr *Trainer) []float64 {
		res, err := tr.Train(context.Background(), t.TempDir(), d, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []float64
		for _, r := range res.History {
			out = append(out, r["loss"])
		}
		return out
	}
	fresh, _ := tinyTrainer(t, "bert-tiny-cls", nil, cfg)
	want := losses(fresh)

	zero := 0.0
	off := cfg
	off.Dropout = &zero
	overridden, ck := tinyTrainer(t, "bert-tiny-cls", nil, off)
	if got := losses(overridden); slices.Equal(got, want) {
		t.Fatalf("dropout 0 gave the losses of config.json's dropout %v: nothing would be compared", got)
	}
	store := model.NewStore()
	if err := overridden.model.LoadVariables(store, ck, 0); err != nil {
		t.Fatal(err)
	}
	again, err := New(testBackend(), overridden.model, store, ck.Labels, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := losses(again); !slices.Equal(got, want) {
		t.Errorf("losses %v after an override, %v without one", got, want)
	}
}
