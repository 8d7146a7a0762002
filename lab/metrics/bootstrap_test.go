package metrics

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

// TestBootstrapByHand: two examples, one right: the four resamples of two indices score 1, 0.5,
// 0.5 and 0. Sorted [0, 0.5, 0.5, 1], the 2.5% quantile sits at rank 0.075 (0.0375) and the
// 97.5% one at rank 2.925 (0.9625).
func TestBootstrapByHand(t *testing.T) {
	resamples := [][]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}}
	iv, err := Bootstrap(2, resamples, 0.95, AccuracyStatistic([]int{1, 0}, []int{1, 1}))
	if err != nil {
		t.Fatal(err)
	}
	want := Interval{Value: 0.5, Low: 0.0375, High: 0.9625, Confidence: 0.95, Resamples: 4}
	if math.Abs(iv.Low-want.Low) > 1e-12 || math.Abs(iv.High-want.High) > 1e-12 || iv.Value != want.Value || iv.Resamples != 4 {
		t.Errorf("Bootstrap = %+v, want %+v", iv, want)
	}
	if iv.Excludes(0.5) || !iv.Excludes(0.99) || !iv.Excludes(0) {
		t.Errorf("%+v: Excludes(0.5, 0.99, 0) = %v %v %v, want false true true", iv, iv.Excludes(0.5), iv.Excludes(0.99), iv.Excludes(0))
	}
	// Every prediction right: every resample scores 1.
	if iv, _ := Bootstrap(3, Resamples(3, 50, 1), 0.95, AccuracyStatistic([]int{0, 1, 2}, []int{0, 1, 2})); iv.Low != 1 || iv.High != 1 {
		t.Errorf("all right: interval [%g, %g], want [1, 1]", iv.Low, iv.High)
	}
	if _, err := Bootstrap(2, resamples, 1, AccuracyStatistic([]int{1, 0}, []int{1, 1})); err == nil {
		t.Error("confidence 1: no error")
	}
	if _, err := Bootstrap(3, resamples, 0.95, AccuracyStatistic([]int{1, 0, 1}, []int{1, 1, 1})); err == nil {
		t.Error("resamples of 2 indices for 3 examples: no error")
	}
}

// TestResamplesUniform: a seed gives the same resamples again, another seed others, and every
// index is drawn about equally often (1000 resamples of 50: 1000 draws each, standard deviation
// about 31).
func TestResamplesUniform(t *testing.T) {
	a, b, c := Resamples(50, 1000, 7), Resamples(50, 1000, 7), Resamples(50, 1000, 8)
	counts := make([]int, 50)
	same, differ := true, false
	for r := range a {
		for i, x := range a[r] {
			counts[x]++
			same = same && x == b[r][i]
			differ = differ || x != c[r][i]
		}
	}
	if !same || !differ {
		t.Errorf("same seed same resamples: %v; other seed other resamples: %v", same, differ)
	}
	for i, n := range counts {
		if n < 850 || n > 1150 {
			t.Errorf("index %d drawn %d times in 50,000 draws, want about 1000", i, n)
		}
	}
}

// TestBootstrapAgainstScipy compares the intervals with scipy.stats.bootstrap(method=
// "percentile"), paired, run on the very resamples drawn here (testdata/bootstrap_oracle.py), for
// accuracy, the F1 of class 1, macro F1 and the paired difference of two models' accuracies,
// on two- and four-class predictions.
func TestBootstrapAgainstScipy(t *testing.T) {
	python := testenv.Python(t, "scipy", "sklearn")
	rng := rand.New(rand.NewPCG(3, 4))
	for _, classes := range []int{2, 4} {
		const n = 120
		y, a, b := make([]int, n), make([]int, n), make([]int, n)
		for i := range y {
			y[i] = rng.IntN(classes)
			a[i], b[i] = y[i], y[i]
			if rng.IntN(4) == 0 { // model a: about 75% right, b: about 60%
				a[i] = rng.IntN(classes)
			}
			if rng.IntN(5) < 2 {
				b[i] = rng.IntN(classes)
			}
		}
		resamples := Resamples(n, 200, 11)
		in, _ := json.Marshal(map[string]any{"y_true": y, "y_pred_a": a, "y_pred_b": b, "classes": classes, "resamples": resamples, "confidence": 0.95})
		cmd := exec.Command(python, "testdata/bootstrap_oracle.py")
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("testdata/bootstrap_oracle.py: %v\n%s", err, stderr.String())
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(out, &want); err != nil {
			t.Fatal(err)
		}
		accA, accB := AccuracyStatistic(y, a), AccuracyStatistic(y, b)
		statistics := map[string]Statistic{
			"accuracy":            accA,
			"macro_f1":            MacroF1Statistic(y, a, classes),
			"accuracy_difference": func(idx []int) float64 { return accA(idx) - accB(idx) },
		}
		if classes == 2 {
			statistics["f1"] = F1Statistic(y, a, 1)
		}
		for name, statistic := range statistics {
			var w [3]float64
			if err := json.Unmarshal(want[name], &w); err != nil {
				t.Fatalf("%d classes, %s: oracle output %s: %v", classes, name, out, err)
			}
			got, err := Bootstrap(n, resamples, 0.95, statistic)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got.Low-w[0]) > 1e-12 || math.Abs(got.High-w[1]) > 1e-12 || math.Abs(got.Value-w[2]) > 1e-12 {
				t.Errorf("%d classes, %s: [%.6f, %.6f] value %.6f; scipy [%.6f, %.6f] value %.6f", classes, name, got.Low, got.High, got.Value, w[0], w[1], w[2])
			}
		}
	}
}
