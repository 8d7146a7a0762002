package lab_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"

	"github.com/tunelab/tunelab/internal/golden"
	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/data"
)

const minilmGoldens = "encoder/testdata/minilm"

// TestPredictMatchesTransformers runs the whole path -- tokenizer.json, the real
// all-MiniLM-L6-v2 weights, batching with padding, softmax -- on real tweets and compares the
// probabilities with transformers' logits for the same head (minilm/head.safetensors).
func TestPredictMatchesTransformers(t *testing.T) {
	testenv.ModelDir(t, lab.DefaultModel)
	t.Setenv("TUNELAB_MODELS", filepath.Join(testenv.RepoRoot(), "models"))
	ctx := context.Background()
	clf, err := lab.Load(ctx, lab.DefaultModel, lab.WithLabels("LABEL_0", "LABEL_1"), lab.WithMaxLength(128), lab.WithMatmulDType(dtypes.Float32))
	if err != nil {
		t.Fatal(err)
	}
	if len(clf.Notes) == 0 {
		t.Error("loading a model without a head must say that the head is new")
	}
	headFile := filepath.Join(minilmGoldens, "head.safetensors")
	for name, path := range map[string]string{"classifier.weight": "/classifier/dense/weights", "classifier.bias": "/classifier/dense/biases"} {
		if err := clf.Store.GetVariable(path).SetValue(golden.Read(t, headFile, name)); err != nil {
			t.Fatal(err)
		}
	}
	var rows []struct{ Text string }
	data, err := os.ReadFile(filepath.Join(minilmGoldens, "texts.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rows); err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(rows))
	for i, r := range rows {
		texts[i] = r.Text
	}
	// Predict the texts one by one too: batches of different sizes must agree.
	preds, err := clf.Predict(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	logits := golden.Float32s(t, filepath.Join(minilmGoldens, "golden.safetensors"), "logits")
	for i, text := range texts {
		z0, z1 := float64(logits[2*i]), float64(logits[2*i+1])
		want := 1 / (1 + math.Exp(z0-z1)) // softmax probability of LABEL_1
		if got := preds[i].Scores["LABEL_1"]; math.Abs(got-want) > 1e-5 {
			t.Errorf("text %d: P(LABEL_1) = %.6f, transformers %.6f", i, got, want)
		}
		single, err := clf.Predict(ctx, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(single[0].Scores["LABEL_1"]-preds[i].Scores["LABEL_1"]) > 1e-5 {
			t.Errorf("text %d alone gives %.6f, in a batch %.6f", i, single[0].Scores["LABEL_1"], preds[i].Scores["LABEL_1"])
		}
		if wantLabel := map[bool]string{true: "LABEL_1", false: "LABEL_0"}[z1 > z0]; preds[i].Label != wantLabel {
			t.Errorf("text %d: label %s, want %s", i, preds[i].Label, wantLabel)
		}
	}
}

// TestMatmulDTypeDefaultsToTheEngines: without WithMatmulDType a classifier computes its matrix
// products as its engine does best (backend.MatmulDType); the option overrides it either way,
// but for bfloat16 on the Go backend, which Load refuses (backend.CheckMatmulDType).
func TestMatmulDTypeDefaultsToTheEngines(t *testing.T) {
	dir := testenv.ModelDir(t, lab.DefaultModel)
	ctx := context.Background()
	onXLA := isXLA(t)
	for _, c := range []struct {
		opts    []lab.Option
		want    func(compute.Backend) dtypes.DType
		xlaOnly bool
	}{
		{nil, backend.MatmulDType, false},
		{[]lab.Option{lab.WithMatmulDType(dtypes.Float32)}, func(compute.Backend) dtypes.DType { return dtypes.Float32 }, false},
		{[]lab.Option{lab.WithMatmulDType(dtypes.BFloat16)}, func(compute.Backend) dtypes.DType { return dtypes.BFloat16 }, true},
	} {
		clf, err := lab.Load(ctx, dir, append(c.opts, lab.WithLabels("a", "b"))...)
		if c.xlaOnly && !onXLA {
			if err == nil || !strings.Contains(err.Error(), "need an XLA engine") {
				t.Errorf("bfloat16 products on the Go backend: error %v, want one asking for an XLA engine", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got, want := clf.Model.MatmulDType(), c.want(clf.Backend); got != want {
			t.Errorf("%d options on %s: %s products, want %s", len(c.opts), backend.Describe(clf.Backend), got, want)
		}
	}
}

// isXLA reports whether the tests' engine (GOMLX_BACKEND, else the default) is XLA.
func isXLA(t *testing.T) bool {
	t.Helper()
	b, err := backend.New("")
	if err != nil {
		t.Fatal(err)
	}
	return strings.HasPrefix(backend.Describe(b), "xla:")
}

// TestPredictAndEvaluateShareOnePath: the probabilities Predict serves and those Evaluate scores
// come from one inference path, so on XLA they are equal to the last bit, whatever the batch. On
// the Go backend they agree to float32 rounding: the two pad a batch to other lengths
// (Probabilities to bucket lengths, Evaluate to lengths planned for the set) and its AVX-512
// kernels round by the padded shape (example 37 of these: 0.48509413 against 0.4850941); a
// different path (truncation, tokens, head) would move them by far more.
func TestPredictAndEvaluateShareOnePath(t *testing.T) {
	modelDir := testenv.ModelDir(t, lab.DefaultModel)
	ctx := context.Background()
	tweets, err := data.NewLoader(testenv.DataDir(t)).WithLimit(40).Load(ctx, data.Tweets)
	if err != nil {
		t.Fatal(err)
	}
	examples := tweets.Splits[data.Validation]
	clf, err := lab.Load(ctx, modelDir, lab.WithLabels(tweets.Labels...), lab.WithMaxLength(64))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := clf.Evaluate(ctx, examples, "")
	if err != nil {
		t.Fatal(err)
	}
	probs, err := clf.Probabilities(ctx, data.Texts(examples))
	if err != nil {
		t.Fatal(err)
	}
	tolerance := 0.0
	if !isXLA(t) {
		tolerance = 1e-6
	}
	for i := range examples {
		if len(probs[i]) != len(ev.Probabilities[i]) {
			t.Fatalf("example %d: Probabilities %v, Evaluate %v", i, probs[i], ev.Probabilities[i])
		}
		for j, p := range probs[i] {
			if math.Abs(float64(p-ev.Probabilities[i][j])) > tolerance {
				t.Errorf("example %d: Probabilities %v, Evaluate %v (tolerance %g)", i, probs[i], ev.Probabilities[i], tolerance)
				break
			}
		}
	}
}
