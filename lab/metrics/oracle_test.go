package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os/exec"
	"slices"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

// oracleCase is one randomised input for testdata/sklearn_oracle.py.
type oracleCase[L Label] struct {
	YTrue    []L `json:"y_true"`
	YPred    []L `json:"y_pred"`
	Labels   []L `json:"labels"`    // nil: sklearn's default.
	PosLabel *L  `json:"pos_label"` // nil: no binary average.
	// Each case checks some averages, normalisations and report digits (nil: no report), in
	// turn, so that all are checked many times without calling sklearn 15 times per case.
	Averages  []string `json:"averages"`
	Normalize []string `json:"normalize"`
	Digits    *int     `json:"digits"`
}

// oracleScores is precision_recall_fscore_support's result, or its error.
type oracleScores struct {
	Error     string    `json:"error"`
	Precision []float64 `json:"precision"`
	Recall    []float64 `json:"recall"`
	F1        []float64 `json:"f1"`
	Support   []float64 `json:"support"` // Floats when sklearn counted no sample at all.
	Warned    []string  `json:"warned"`
}

// UnmarshalJSON accepts the scalar scores of an average as one-element lists.
func (s *oracleScores) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	for key, dst := range map[string]*[]float64{"precision": &s.Precision, "recall": &s.Recall, "f1": &s.F1} {
		v, ok := raw[key]
		if !ok {
			continue
		}
		var scalar float64
		if json.Unmarshal(v, &scalar) == nil {
			*dst = []float64{scalar}
		} else if err := json.Unmarshal(v, dst); err != nil {
			return err
		}
	}
	for key, dst := range map[string]any{"error": &s.Error, "support": &s.Support, "warned": &s.Warned} {
		if v, ok := raw[key]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return err
			}
		}
	}
	return nil
}

type oracleResult struct {
	Accuracy        float64                    `json:"accuracy"`
	PerClass        oracleScores               `json:"per_class"`
	Micro           *oracleScores              `json:"micro"`
	Macro           *oracleScores              `json:"macro"`
	Weighted        *oracleScores              `json:"weighted"`
	Binary          *oracleScores              `json:"binary"`
	ConfusionMatrix map[string]json.RawMessage `json:"confusion_matrix"`
	Report          json.RawMessage            `json:"report"`
}

// runOracle runs testdata/sklearn_oracle.py once on all cases. It skips the test when
// scikit-learn is missing, and fails instead when $CI is set.
func runOracle(t *testing.T, cases any) (version string, results []oracleResult) {
	t.Helper()
	var parsed struct {
		Version string         `json:"sklearn_version"`
		Results []oracleResult `json:"results"`
	}
	runPython(t, "testdata/sklearn_oracle.py", []string{"sklearn"}, map[string]any{"cases": cases}, &parsed)
	return parsed.Version, parsed.Results
}

// runPython runs a reference script with in as JSON on stdin and decodes its stdout into out,
// after checking that python imports modules.
func runPython(t *testing.T, script string, modules []string, in, out any) {
	t.Helper()
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(testenv.Python(t, modules...), script)
	cmd.Stdin = bytes.NewReader(data)
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("%s output: %v", script, err)
	}
}

// stringPool mixes case, lengths and non-ASCII names: sorting is by code point
// ("B" < "a" < "É") and the report pads names by code point.
var stringPool = []string{"a", "B", "cat", "dog", "Dog", "ant", "bird", "É", "émeu", "日本", "z", "neg", "pos",
	"0", "1", "10", "2", "sci/tech", "world", "sports", "business", "a much longer label name", "x_y", "Zebra"}

// randomCase draws one case; label(i) names class i.
func randomCase[L Label](rng *rand.Rand, label func(i int) L, absent []L) oracleCase[L] {
	var c oracleCase[L]
	k := 2 + rng.IntN(19)
	binary := rng.IntN(4) == 0
	if binary {
		k = 2
	}
	classes := make([]L, k)
	for i := range classes {
		classes[i] = label(i)
	}
	// Imbalanced class frequencies, some classes never drawn as true or as predicted.
	weights := func() []float64 {
		w := make([]float64, k)
		for i := range w {
			if rng.IntN(5) > 0 {
				w[i] = math.Pow(rng.Float64(), 3) + 1e-3
			}
		}
		w[rng.IntN(k)] += 0.5
		return w
	}
	draw := func(w []float64) L {
		total := 0.0
		for _, x := range w {
			total += x
		}
		u := rng.Float64() * total
		for i, x := range w {
			if u < x {
				return classes[i]
			}
			u -= x
		}
		return classes[k-1]
	}
	wTrue, wPred := weights(), weights()
	n := 1
	if rng.IntN(20) > 0 {
		n = 1 + rng.IntN(300)
	}
	accuracy := rng.Float64()
	for range n {
		y := draw(wTrue)
		c.YTrue = append(c.YTrue, y)
		if rng.Float64() < accuracy {
			c.YPred = append(c.YPred, y)
		} else {
			c.YPred = append(c.YPred, draw(wPred))
		}
	}
	if rng.IntN(5) >= 2 {
		// An explicit label list: a shuffled subset of the classes, sometimes with labels
		// absent from both yTrue and yPred.
		for _, cl := range classes {
			if rng.IntN(4) > 0 {
				c.Labels = append(c.Labels, cl)
			}
		}
		for _, a := range absent {
			if rng.IntN(3) == 0 {
				c.Labels = append(c.Labels, a)
			}
		}
		if len(c.Labels) == 0 {
			c.Labels = append(c.Labels, classes[0])
		}
		rng.Shuffle(len(c.Labels), func(i, j int) { c.Labels[i], c.Labels[j] = c.Labels[j], c.Labels[i] })
	}
	if binary || rng.IntN(10) == 0 {
		pos := classes[rng.IntN(k)]
		if rng.IntN(10) == 0 {
			pos = absent[0]
		}
		c.PosLabel = &pos
	}
	return c
}

const tol = 1e-12

func TestAgainstScikitLearn(t *testing.T) {
	rng := rand.New(rand.NewPCG(2024, 11))
	var strCases []oracleCase[string]
	var intCases []oracleCase[int]
	averages := []string{"micro", "macro", "weighted"}
	normalize := []string{"true", "pred", "all"}
	checks := func(i int) (avgs, norms []string, digits *int) {
		avgs = []string{averages[i%3]}
		norms = []string{normalize[(i/3)%3]}
		if i%5 == 0 {
			d := 2
			if i%3 == 0 {
				d = rng.IntN(7)
			}
			digits = &d
		}
		return
	}
	for i := range 800 {
		strPool := slices.Clone(stringPool)
		rng.Shuffle(len(strPool), func(i, j int) { strPool[i], strPool[j] = strPool[j], strPool[i] })
		c := randomCase(rng, func(i int) string { return strPool[i] }, []string{"absent", "Absent too"})
		c.Averages, c.Normalize, c.Digits = checks(i)
		strCases = append(strCases, c)
	}
	for i := range 200 {
		ids := rng.Perm(40)
		c := randomCase(rng, func(i int) int { return ids[i] - 5 }, []int{99, -7})
		c.Averages, c.Normalize, c.Digits = checks(i)
		intCases = append(intCases, c)
	}
	cases := append(toAny(strCases), toAny(intCases)...)
	version, results := runOracle(t, cases)
	if len(results) != len(cases) {
		t.Fatalf("oracle returned %d results for %d cases", len(results), len(cases))
	}
	t.Logf("scikit-learn %s, %d cases", version, len(cases))
	for i, c := range strCases {
		compareCase(t, fmt.Sprintf("string case %d", i), c, results[i])
	}
	for i, c := range intCases {
		compareCase(t, fmt.Sprintf("int case %d", i), c, results[len(strCases)+i])
	}
}

func toAny[L Label](cases []oracleCase[L]) []any {
	out := make([]any, len(cases))
	for i, c := range cases {
		out[i] = c
	}
	return out
}

func compareCase[L Label](t *testing.T, name string, c oracleCase[L], want oracleResult) {
	t.Helper()
	ev := New[L]()
	if c.Labels != nil {
		ev.WithLabels(c.Labels...)
	}
	pos := "none"
	if c.PosLabel != nil {
		pos = fmt.Sprint(*c.PosLabel)
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s (y_true=%v y_pred=%v labels=%v pos_label=%s): %s", name, c.YTrue, c.YPred, c.Labels,
			pos, fmt.Sprintf(format, args...))
	}

	acc, err := Accuracy(c.YTrue, c.YPred)
	if err != nil || math.Abs(acc-want.Accuracy) > tol {
		fail("accuracy = %v, %v; sklearn %v", acc, err, want.Accuracy)
	}

	per, err := ev.PerClass(c.YTrue, c.YPred)
	if checkError(fail, "per class", err, want.PerClass.Error) {
		got := make([]Scores, len(per))
		for i, p := range per {
			got[i] = p.Scores
		}
		compareScores(fail, "per class", got, want.PerClass, true)
	}
	for _, avg := range []struct {
		avg  Average
		want *oracleScores
	}{{Micro, want.Micro}, {Macro, want.Macro}, {Weighted, want.Weighted}} {
		if avg.want == nil {
			continue
		}
		s, err := ev.Average(c.YTrue, c.YPred, avg.avg)
		if checkError(fail, avg.avg.String(), err, avg.want.Error) {
			compareScores(fail, avg.avg.String(), []Scores{s}, *avg.want, false)
		}
	}
	if c.PosLabel != nil {
		// sklearn ignores labels= for the binary average.
		bin := New[L]().WithPosLabel(*c.PosLabel)
		s, err := bin.Average(c.YTrue, c.YPred, Binary)
		if checkError(fail, "binary", err, want.Binary.Error) {
			compareScores(fail, "binary", []Scores{s}, *want.Binary, false)
			if r, err := bin.Report(c.YTrue, c.YPred); err != nil || r.Binary == nil || r.Binary.Scores != s {
				fail("Report with a positive label: %v, binary %+v; Average gave %+v", err, r.Binary, s)
			}
		}
	}

	cm, err := ev.ConfusionMatrix(c.YTrue, c.YPred)
	if err != nil {
		fail("confusion matrix: %v", err)
		return
	}
	var wantCounts [][]int
	if json.Unmarshal(want.ConfusionMatrix["none"], &wantCounts) != nil {
		// sklearn refuses labels none of which is in y_true; we count nothing instead.
		for _, row := range cm.Counts {
			for _, n := range row {
				if n != 0 {
					fail("confusion matrix %v: sklearn refused these labels, so every count should be 0", cm.Counts)
				}
			}
		}
	} else if !slices.EqualFunc(cm.Counts, wantCounts, slices.Equal) {
		fail("confusion matrix %v, sklearn %v", cm.Counts, wantCounts)
	} else {
		for _, norm := range []Normalization{NormalizeTrue, NormalizePred, NormalizeAll} {
			raw, ok := want.ConfusionMatrix[norm.String()]
			if !ok {
				continue
			}
			var wantNorm [][]float64
			if err := json.Unmarshal(raw, &wantNorm); err != nil {
				fail("sklearn normalize=%s: %v", norm, err)
				continue
			}
			if got := cm.Normalized(norm); !slices.EqualFunc(got, wantNorm, func(a, b []float64) bool {
				return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Abs(x-y) <= tol })
			}) {
				fail("confusion matrix normalized by %s = %v, sklearn %v", norm, got, wantNorm)
			}
		}
	}

	if c.Digits == nil {
		return
	}
	var wantReport string
	if json.Unmarshal(want.Report, &wantReport) != nil {
		fail("sklearn classification_report failed: %s", want.Report)
		return
	}
	report, err := ev.Report(c.YTrue, c.YPred)
	if err != nil {
		fail("report: %v", err)
	} else if got := report.Text(*c.Digits); got != wantReport {
		fail("report text (digits=%d):\n%s\nsklearn:\n%s", *c.Digits, got, wantReport)
	}
}

// checkError reports whether both sides succeeded, failing when only one did.
func checkError(fail func(string, ...any), what string, err error, sklearnErr string) bool {
	switch {
	case err != nil && sklearnErr == "":
		fail("%s: unexpected error %v", what, err)
	case err == nil && sklearnErr != "":
		fail("%s: no error, sklearn raised %q", what, sklearnErr)
	}
	return err == nil && sklearnErr == ""
}

func compareScores(fail func(string, ...any), what string, got []Scores, want oracleScores, withSupport bool) {
	if len(got) != len(want.Precision) {
		fail("%s: %d scores, sklearn %d", what, len(got), len(want.Precision))
		return
	}
	var flags IllDefined
	for i, s := range got {
		if math.Abs(s.Precision-want.Precision[i]) > tol || math.Abs(s.Recall-want.Recall[i]) > tol ||
			math.Abs(s.F1-want.F1[i]) > tol || (withSupport && float64(s.Support) != want.Support[i]) {
			fail("%s[%d] = %+v, sklearn precision %v recall %v f1 %v support %v", what, i, s,
				want.Precision[i], want.Recall[i], want.F1[i], want.Support)
		}
		flags |= s.IllDefined
	}
	if got, want := flags.String(), joinStrings(want.Warned); got != want {
		fail("%s: ill-defined %q, sklearn warned for %q", what, got, want)
	}
}

// joinStrings orders sklearn's warned metrics as IllDefined.String does.
func joinStrings(warned []string) string {
	var d IllDefined
	for _, w := range warned {
		d |= map[string]IllDefined{"precision": PrecisionIllDefined, "recall": RecallIllDefined, "f1": F1IllDefined}[w]
	}
	return d.String()
}
