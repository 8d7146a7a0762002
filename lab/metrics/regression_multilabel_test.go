package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// oracleNumber is one result of testdata/regression_multilabel_oracle.py: a number, "nan",
// "inf" or "-inf", or {"error": msg}.
type oracleNumber struct {
	value float64
	err   string
}

func (o *oracleNumber) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case float64:
		o.value = v
	case string:
		switch v {
		case "nan":
			o.value = math.NaN()
		case "inf":
			o.value = math.Inf(1)
		case "-inf":
			o.value = math.Inf(-1)
		default:
			return fmt.Errorf("unexpected number %q", v)
		}
	case map[string]any:
		o.err = fmt.Sprint(v["error"])
	default:
		return fmt.Errorf("unexpected result %s", data)
	}
	return nil
}

// jsonNumbers writes the non-finite values the way the oracle reads them.
func jsonNumbers(x []float64) []any {
	out := make([]any, len(x))
	for i, v := range x {
		switch {
		case math.IsNaN(v):
			out[i] = "nan"
		case math.IsInf(v, 1):
			out[i] = "inf"
		case math.IsInf(v, -1):
			out[i] = "-inf"
		default:
			out[i] = v
		}
	}
	return out
}

// randomRegression draws one regression case: star ratings (many ties), uniform or normal
// values over scales from 1e-3 to 1e3, sometimes constant, predictions from perfect to
// unrelated, and now and then a NaN or infinite value or fewer than three samples.
func randomRegression(rng *rand.Rand) (yTrue, yPred []float64) {
	n := 3 + rng.IntN(400)
	switch rng.IntN(20) {
	case 0:
		n = 1
	case 1:
		n = 2
	}
	scale := math.Pow(10, -3+6*rng.Float64())
	offset := scale * rng.NormFloat64() * 3
	draw := func(kind int) float64 {
		switch kind {
		case 0: // IMDB star ratings.
			return []float64{1, 2, 3, 4, 7, 8, 9, 10}[rng.IntN(8)]
		case 1: // Rounded: ties.
			return math.Round(rng.NormFloat64()*4) / 2 * scale
		case 2:
			return offset + scale*rng.Float64()
		}
		return offset + scale*rng.NormFloat64()
	}
	kind := rng.IntN(4)
	for range n {
		yTrue = append(yTrue, draw(kind))
	}
	if rng.IntN(20) == 0 {
		for i := range yTrue {
			yTrue[i] = yTrue[0]
		}
	}
	noise := math.Pow(10, -4+5*rng.Float64()) * scale
	for i := range n {
		var p float64
		switch mode := rng.IntN(10); {
		case mode < 5:
			p = yTrue[i] + noise*rng.NormFloat64()
		case mode < 7:
			p = draw(rng.IntN(4))
		case mode < 8:
			p = -yTrue[i] + noise*rng.NormFloat64()
		case mode < 9:
			p = math.Round(yTrue[i] + rng.NormFloat64()) // Ties on the predicted side too.
		default:
			p = yTrue[i]
		}
		yPred = append(yPred, p)
	}
	if rng.IntN(20) == 0 {
		for i := range yPred {
			yPred[i] = yPred[0]
		}
	}
	if rng.IntN(15) == 0 {
		side := [][]float64{yTrue, yPred}[rng.IntN(2)]
		side[rng.IntN(n)] = []float64{math.NaN(), math.Inf(1), math.Inf(-1)}[rng.IntN(3)]
	}
	return yTrue, yPred
}

// multiLabelCase is one multi-label input of the oracle.
type multiLabelCase struct {
	Labels    []string    `json:"labels"`
	YTrue     [][]int     `json:"y_true"`
	Scores    [][]float32 `json:"scores"`
	Threshold float64     `json:"threshold"`
	Digits    *int        `json:"digits"`
}

// randomMultiLabel draws one case: 2 to 12 labels, some never or always true, some never
// predicted, scores from accurate to random, some exactly at the threshold.
func randomMultiLabel(rng *rand.Rand) multiLabelCase {
	names := slices.Clone(stringPool)
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	k := 2 + rng.IntN(11)
	c := multiLabelCase{Labels: names[:k], Threshold: DefaultThreshold}
	if rng.IntN(3) == 0 {
		c.Threshold = []float64{0.3, 0.7, 0.9, rng.Float64()}[rng.IntN(4)]
	}
	n := 1 + rng.IntN(200)
	if rng.IntN(10) == 0 {
		n = 1 + rng.IntN(3)
	}
	freq := make([]float64, k)
	for j := range freq {
		switch rng.IntN(8) {
		case 0:
			freq[j] = 0
		case 1:
			freq[j] = 1
		default:
			freq[j] = rng.Float64()
		}
	}
	accuracy := rng.Float64()
	silent := rng.IntN(k) // A label the model rarely predicts.
	for range n {
		truth, scores := make([]int, k), make([]float32, k)
		for j := range k {
			if rng.Float64() < freq[j] {
				truth[j] = 1
			}
			s := rng.Float32()
			if rng.Float64() < accuracy {
				s = float32(truth[j])*0.6 + 0.4*rng.Float32()
			}
			if j == silent && rng.IntN(2) == 0 {
				s = 0
			}
			if rng.IntN(30) == 0 {
				s = float32(c.Threshold)
			}
			scores[j] = s
		}
		c.YTrue, c.Scores = append(c.YTrue, truth), append(c.Scores, scores)
	}
	return c
}

// closeTo compares with the tolerance relative to the value's size above 1 (an MSE of
// ratings scaled by 1e3 is 1e6), treating NaN as equal to NaN.
func closeTo(got, want float64) bool {
	if math.IsNaN(want) || math.IsInf(want, 0) {
		return math.IsNaN(got) == math.IsNaN(want) && (math.IsNaN(got) || got == want)
	}
	return math.Abs(got-want) <= tol*max(1, math.Abs(want))
}

func TestRegressionAndMultiLabelAgainstScikitLearnAndScipy(t *testing.T) {
	rng := rand.New(rand.NewPCG(2025, 15))
	const cases = 1000
	type regressionCase struct {
		YTrue []any `json:"y_true"`
		YPred []any `json:"y_pred"`
	}
	var regTrue, regPred [][]float64
	var regIn []regressionCase
	for range cases {
		yTrue, yPred := randomRegression(rng)
		regTrue, regPred = append(regTrue, yTrue), append(regPred, yPred)
		regIn = append(regIn, regressionCase{jsonNumbers(yTrue), jsonNumbers(yPred)})
	}
	var mlIn []multiLabelCase
	for i := range cases {
		c := randomMultiLabel(rng)
		if i%5 == 0 {
			d := 2 + i%3
			c.Digits = &d
		}
		mlIn = append(mlIn, c)
	}
	var out struct {
		SklearnVersion string                       `json:"sklearn_version"`
		ScipyVersion   string                       `json:"scipy_version"`
		Regression     []map[string]oracleNumber    `json:"regression"`
		MultiLabel     []map[string]json.RawMessage `json:"multilabel"`
	}
	runPython(t, "testdata/regression_multilabel_oracle.py", []string{"sklearn", "scipy"},
		map[string]any{"regression": regIn, "multilabel": mlIn}, &out)
	if len(out.Regression) != cases || len(out.MultiLabel) != cases {
		t.Fatalf("oracle returned %d regression and %d multi-label results for %d cases each",
			len(out.Regression), len(out.MultiLabel), cases)
	}
	t.Logf("scikit-learn %s, scipy %s: %d regression and %d multi-label cases", out.SklearnVersion,
		out.ScipyVersion, cases, cases)
	for i := range cases {
		compareRegression(t, i, regTrue[i], regPred[i], out.Regression[i])
		compareMultiLabel(t, i, mlIn[i], out.MultiLabel[i])
	}
}

func compareRegression(t *testing.T, i int, yTrue, yPred []float64, want map[string]oracleNumber) {
	t.Helper()
	for _, m := range []struct {
		name string
		fn   func(a, b []float64) (float64, error)
	}{
		{"mse", MeanSquaredError}, {"rmse", RootMeanSquaredError}, {"mae", MeanAbsoluteError},
		{"r2", R2Score}, {"pearson", PearsonR}, {"spearman", SpearmanR},
	} {
		got, err := m.fn(yTrue, yPred)
		w := want[m.name]
		switch {
		case (err != nil) != (w.err != ""):
			t.Errorf("regression case %d (n=%d, y_true=%.4g y_pred=%.4g): %s error %v, reference error %q",
				i, len(yTrue), head(yTrue), head(yPred), m.name, err, w.err)
		case err == nil && !closeTo(got, w.value):
			t.Errorf("regression case %d (n=%d, y_true=%.4g y_pred=%.4g): %s = %.17g, reference %.17g",
				i, len(yTrue), head(yTrue), head(yPred), m.name, got, w.value)
		}
	}
	// The report agrees with the functions wherever scikit-learn computes them.
	r, err := Regression(yTrue, yPred)
	if (err != nil) != (want["mse"].err != "") {
		t.Errorf("regression case %d: Regression error %v, reference error %q", i, err, want["mse"].err)
	}
	if err != nil {
		return
	}
	for name, v := range r.Metrics() {
		if w := want[name]; w.err == "" && !closeTo(v, w.value) {
			t.Errorf("regression case %d: report %s = %v, reference %v", i, name, v, w.value)
		}
	}
}

// head is the start of a long slice, for messages.
func head(x []float64) []float64 { return x[:min(len(x), 6)] }

func compareMultiLabel(t *testing.T, i int, c multiLabelCase, want map[string]json.RawMessage) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("multi-label case %d (%d samples, labels %q, threshold %v): %s", i, len(c.YTrue), c.Labels,
			c.Threshold, fmt.Sprintf(format, args...))
	}
	yTrue := make([][]bool, len(c.YTrue))
	for s, row := range c.YTrue {
		yTrue[s] = make([]bool, len(row))
		for j, v := range row {
			yTrue[s][j] = v == 1
		}
	}
	yPred := Threshold(c.Scores, c.Threshold)
	var wantPred [][]int
	if err := json.Unmarshal(want["y_pred"], &wantPred); err != nil {
		fail("oracle y_pred: %v", err)
		return
	}
	for s := range yPred {
		for j := range yPred[s] {
			if yPred[s][j] != (wantPred[s][j] == 1) {
				fail("sample %d label %d: score %v predicted %v, reference %d", s, j, c.Scores[s][j], yPred[s][j], wantPred[s][j])
			}
		}
	}
	r, err := MultiLabel(c.Labels, yTrue, yPred)
	if err != nil {
		fail("%v", err)
		return
	}
	for _, m := range []struct {
		name string
		got  float64
	}{{"subset_accuracy", r.SubsetAccuracy}, {"hamming_loss", r.HammingLoss}} {
		var w float64
		if err := json.Unmarshal(want[m.name], &w); err != nil {
			fail("%s: reference %s", m.name, want[m.name])
		} else if !closeTo(m.got, w) {
			fail("%s = %v, reference %v", m.name, m.got, w)
		}
	}
	decode := func(name string) (oracleScores, bool) {
		var s oracleScores
		if err := json.Unmarshal(want[name], &s); err != nil || s.Error != "" {
			fail("%s: reference %s %v", name, want[name], err)
			return s, false
		}
		return s, true
	}
	if w, ok := decode("per_label"); ok {
		got := make([]Scores, len(c.Labels))
		for j, name := range c.Labels {
			got[j] = r.PerLabel[name]
		}
		compareScores(fail, "per label", got, w, true)
	}
	for _, avg := range []struct {
		name string
		got  Scores
	}{{"micro", r.Micro}, {"macro", r.Macro}, {"weighted", r.Weighted}, {"samples", r.Samples}} {
		if w, ok := decode(avg.name); ok {
			compareScores(fail, avg.name, []Scores{avg.got}, w, false)
		}
	}
	if c.Digits != nil {
		var report string
		if err := json.Unmarshal(want["report"], &report); err != nil {
			fail("reference report: %s", want["report"])
		} else if got := r.Text(*c.Digits); !strings.HasPrefix(got, report) {
			fail("report (digits=%d):\n%s\nscikit-learn:\n%s", *c.Digits, got, report)
		}
	}
}
