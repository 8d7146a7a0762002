package lab_test

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/safetensors"
	"github.com/tunelab/tunelab/lab/train"
)

// TestFineTuneTwiceEqualsTwoFreshRuns: evaluating creates no optimizer state, and a second
// FineTune of one Classifier starts, like a fresh run, from zero AdamW moments at step 0: its
// weights equal those of a run of a Classifier loaded from the first run's saved model.
func TestFineTuneTwiceEqualsTwoFreshRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes a 22M-parameter model")
	}
	modelDir := testenv.ModelDir(t, lab.DefaultModel)
	ctx := context.Background()
	tweets, err := data.NewLoader(testenv.DataDir(t)).WithLimit(8).Load(ctx, data.Tweets)
	if err != nil {
		t.Fatal(err)
	}
	trainSet, evalSet := tweets.Splits[data.Train], tweets.Splits[data.Validation]
	cfg := train.Defaults()
	cfg.LearningRate, cfg.MaxSteps, cfg.BatchSize, cfg.LogEvery = 1e-3, 2, 4, 1
	load := func(dir string) *lab.Classifier {
		clf, err := lab.Load(ctx, dir, lab.WithLabels(tweets.Labels...), lab.WithMaxLength(16))
		if err != nil {
			t.Fatal(err)
		}
		return clf
	}
	fineTune := func(clf *lab.Classifier) map[string]safetensors.Tensor {
		if _, err := clf.FineTune(ctx, cfg, trainSet, evalSet, t.TempDir(), false, nil, nil); err != nil {
			t.Fatal(err)
		}
		w, err := clf.Model.Tensors(clf.Store)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}

	twice := load(modelDir)
	if _, err := twice.Evaluate(ctx, evalSet, ""); err != nil {
		t.Fatal(err)
	}
	params := hfmodel.Params(twice.Model.Config(), twice.Model.NumLabels())
	n := 0
	for v := range twice.Store.IterVariables() {
		n++
		if !isParam(params, v.Path()) {
			t.Errorf("evaluating created the variable %s", v.Path())
		}
	}
	if n != len(params) {
		t.Errorf("after evaluating, the store has %d variables, the model %d parameters", n, len(params))
	}
	firstRun := fineTune(twice)
	secondRun := fineTune(twice)

	fresh := load(modelDir)
	fineTune(fresh)
	saved := filepath.Join(t.TempDir(), "first-run")
	if err := fresh.Save(saved); err != nil {
		t.Fatal(err)
	}
	want := fineTune(load(saved))

	moved := 0.0
	for path, w := range want {
		diff := 0.0
		for i, x := range secondRun[path].Data {
			diff = math.Max(diff, math.Abs(float64(x-w.Data[i])))
			moved = math.Max(moved, math.Abs(float64(x-firstRun[path].Data[i])))
		}
		if diff > 1e-6 {
			t.Errorf("%s: the second fine-tune of one classifier differs from a fresh run from the same weights by %g", path, diff)
		}
	}
	if moved < 1e-4 {
		t.Errorf("the second run moved no weight by more than %g: nothing was compared", moved)
	}
}

func isParam(params []hfmodel.Param, path string) bool {
	for _, p := range params {
		if p.Path == path {
			return true
		}
	}
	return false
}

// TestDemoExamples: a classifier's demo shows the first short texts of each class in turn; a
// regression model's (one output, LABEL_0) the first six short texts, whatever sentiment they
// are labelled with (IMDB's star ratings keep it).
func TestDemoExamples(t *testing.T) {
	examples := []data.Example{{Text: strings.Repeat("long ", 60), Label: "pos"}, {Text: "great", Label: "pos"}, {Text: "awful", Label: "neg"},
		{Text: "fine", Label: "pos"}, {Text: "dull", Label: "neg"}, {Text: "meh", Label: "neg"}, {Text: "superb", Label: "pos"}, {Text: "bad", Label: "neg"}}
	if got, want := lab.DemoExamples(examples, []string{"neg", "pos"}), []string{"awful", "dull", "meh", "great", "fine", "superb"}; !slices.Equal(got, want) {
		t.Errorf("classifier's examples %q, want %q", got, want)
	}
	if got, want := lab.DemoExamples(examples, []string{"LABEL_0"}), []string{"great", "awful", "fine", "dull", "meh", "superb"}; !slices.Equal(got, want) {
		t.Errorf("regression model's examples %q, want %q", got, want)
	}
}
