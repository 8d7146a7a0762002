package train

import (
	"context"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/lab/encoder"
	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/metrics"
)

// goldenDataset is the golden batch of a lab/encoder/testdata fixture as a Dataset: the rows
// cut at their attention masks, the float targets of its labels.
func goldenDataset(t *testing.T, fixture string) (*Dataset, [][]float32) {
	t.Helper()
	file := filepath.Join(goldens, fixture, "golden.safetensors")
	ids, mask, types := golden(t, file, "input_ids"), golden(t, file, "attention_mask"), golden(t, file, "token_type_ids")
	labels, logits := golden(t, file, "labels"), golden(t, file, "logits")
	rows, seq, c := ids.Shape().Dim(0), ids.Shape().Dim(1), logits.Shape().Dim(1)
	flatIDs, flatMask, flatTypes := tensors.MustCopyFlatData[int32](ids), tensors.MustCopyFlatData[int32](mask), tensors.MustCopyFlatData[int32](types)
	flatLabels, flatLogits := tensors.MustCopyFlatData[float32](labels), tensors.MustCopyFlatData[float32](logits)
	d := &Dataset{}
	var want [][]float32
	for r := range rows {
		n := 0
		for _, m := range flatMask[r*seq : (r+1)*seq] {
			n += int(m)
		}
		d.IDs = append(d.IDs, flatIDs[r*seq:r*seq+n])
		d.TypeIDs = append(d.TypeIDs, flatTypes[r*seq:r*seq+n])
		d.Targets = append(d.Targets, flatLabels[r*c:(r+1)*c])
		want = append(want, flatLogits[r*c:(r+1)*c])
	}
	return d, want
}

// TestEvaluateMatchesTorch evaluates the regression and multi-label fixtures on their golden
// batch in batches of 3 (the last one short, padded with a masked row on XLA): the loss equals
// torch's MSE or BCE-with-logits, the predictions transformers' logits (regression) or their
// sigmoids (multi-label), and the metrics those of lab/metrics on transformers' outputs.
func TestEvaluateMatchesTorch(t *testing.T) {
	for _, fixture := range []string{"bert-tiny-regression", "bert-tiny-multilabel"} {
		t.Run(fixture, func(t *testing.T) {
			cfg := Defaults()
			cfg.BatchSize = 3
			tr, _ := tinyTrainer(t, fixture, nil, cfg)
			d, logits := goldenDataset(t, fixture)
			ev, err := tr.Evaluate(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			wantLoss := float64(golden(t, filepath.Join(goldens, fixture, "grads.safetensors"), "loss").Value().(float32))
			if math.Abs(ev.Loss-wantLoss) > 1e-5*math.Max(1, wantLoss) {
				t.Errorf("loss %v, torch %v", ev.Loss, wantLoss)
			}
			var want map[string]float64
			if tr.model.Problem() == hfmodel.Regression {
				yTrue, yPred := make([]float64, len(logits)), make([]float64, len(logits))
				for i := range logits {
					yTrue[i], yPred[i] = float64(d.Targets[i][0]), float64(logits[i][0])
				}
				r, err := metrics.Regression(yTrue, yPred)
				if err != nil {
					t.Fatal(err)
				}
				want = r.Metrics()
			} else {
				yTrue, yPred := make([][]bool, len(logits)), make([][]bool, len(logits))
				for i, row := range logits {
					for j, l := range row {
						yTrue[i], yPred[i] = append(yTrue[i], d.Targets[i][j] == 1), append(yPred[i], l > 0)
						logits[i][j] = float32(1 / (1 + math.Exp(-float64(l))))
					}
				}
				r, err := metrics.MultiLabel(tr.labels, yTrue, yPred)
				if err != nil {
					t.Fatal(err)
				}
				want = r.Metrics()
			}
			for i, row := range logits {
				for j, w := range row {
					if math.Abs(float64(ev.Probabilities[i][j]-w)) > 1e-4 {
						t.Errorf("example %d output %d: %v, transformers %v", i, j, ev.Probabilities[i][j], w)
					}
				}
			}
			got := ev.Metrics()
			want["loss"] = wantLoss
			if names := MetricNames(tr.model.Problem(), tr.model.NumLabels()); !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(slices.Values(names))) {
				t.Errorf("metrics %v, MetricNames says %v", slices.Sorted(maps.Keys(got)), names)
			}
			for name, w := range want {
				if math.Abs(got[name]-w) > 1e-4*math.Max(1, math.Abs(w)) {
					t.Errorf("%s = %v, from transformers' outputs %v", name, got[name], w)
				}
			}
		})
	}
}

// TestTargetsMustFitTheProblem: class ids for a regression model, a multi-hot row of the wrong
// width or with a value other than 0 and 1, and an unknown metric for the best checkpoint are
// errors that say what was expected.
func TestTargetsMustFitTheProblem(t *testing.T) {
	ids, types := [][]int32{{2, 17, 3}}, [][]int32{{0, 0, 0}}
	for _, tc := range []struct {
		fixture string
		data    *Dataset
		want    string
	}{
		{"bert-tiny-regression", &Dataset{IDs: ids, TypeIDs: types, Labels: []int{1}}, "0 float targets for 1 examples, want one row each for a regression model"},
		{"bert-tiny-multilabel", &Dataset{IDs: ids, TypeIDs: types, Targets: [][]float32{{1, 0}}}, "example 0: 2 targets for a model with 3 outputs"},
		{"bert-tiny-multilabel", &Dataset{IDs: ids, TypeIDs: types, Targets: [][]float32{{1, 0.5, 0}}}, "example 0: target 1 is 0.5, want 0 or 1"},
		{"bert-tiny-cls", &Dataset{IDs: ids, TypeIDs: types, Targets: [][]float32{{1, 0, 0}}}, "0 class ids for 1 examples"},
	} {
		tr, _ := tinyTrainer(t, tc.fixture, nil, Defaults())
		if _, err := tr.Evaluate(context.Background(), tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.fixture, err, tc.want)
		}
	}
	cfg := Defaults()
	cfg.MetricForBest = "accuracy"
	ck, err := hfmodel.Load(filepath.Join(goldens, "bert-tiny-regression"), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := encoder.New(ck.Config, 1)
	store := model.NewStore()
	if err := m.LoadVariables(store, ck, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := New(testBackend(), m, store, ck.Labels, cfg); err == nil || !strings.Contains(err.Error(), `"accuracy": a regression model with 1 labels is evaluated by ["loss" "mse"`) {
		t.Errorf("accuracy for a regression model: err %v", err)
	}
}
