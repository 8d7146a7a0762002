package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadPredictions(t *testing.T) {
	// Quoted fields with commas and line breaks, CRLF, a byte order mark and extra columns.
	in := "\uFEFFtext,prediction,label\r\n\"a, b\",pos,neg\r\n\"two\nlines\",neg,neg\r\nx,\"p,q\",pos\n"
	yTrue, yPred, err := ReadPredictions(strings.NewReader(in), "p.csv")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"neg", "neg", "pos"}; !slices.Equal(yTrue, want) {
		t.Errorf("labels %q, want %q", yTrue, want)
	}
	if want := []string{"pos", "neg", "p,q"}; !slices.Equal(yPred, want) {
		t.Errorf("predictions %q, want %q", yPred, want)
	}
}

func TestReadPredictionsErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `p.csv: empty file, expected a header line with columns label,prediction`},
		{"label,pred\na,b\n", `p.csv:1: no "prediction" column in the header (columns: label,pred)`},
		{"prediction\na\n", `p.csv:1: no "label" column in the header (columns: prediction)`},
		{"label,prediction,label\na,b,c\n", `p.csv:1: column "label" appears twice in the header`},
		{"label,prediction\na,b\nc\n", `p.csv:3: 1 fields, the header has 2`},
		{"label,prediction\na,b\n\"x\ny\",b,c\n", `p.csv:3: 3 fields, the header has 2`},
		{"label,prediction\na,b\n,b\n", `p.csv:3: empty "label" value`},
		{"prediction,label\na,b\nc,\n", `p.csv:3: empty "label" value`},
		{"label,prediction\na,\n", `p.csv:2: empty "prediction" value`},
		{"label,prediction\na,b\"c\n", `p.csv:2:4: bare " in non-quoted-field`},
		{"label,prediction\n", `p.csv: no records after the header`},
	} {
		_, _, err := ReadPredictions(strings.NewReader(tc.in), "p.csv")
		if err == nil || err.Error() != tc.want {
			t.Errorf("ReadPredictions(%q): error %v, want %s", tc.in, err, tc.want)
		}
	}
}

func TestReadPredictionsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.csv")
	if err := os.WriteFile(path, []byte("label,prediction\na,a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if yTrue, yPred, err := ReadPredictionsFile(path); err != nil || len(yTrue) != 1 || yPred[0] != "a" {
		t.Errorf("ReadPredictionsFile: %q %q %v", yTrue, yPred, err)
	}
	if _, _, err := ReadPredictionsFile(path + ".missing"); !os.IsNotExist(err) {
		t.Errorf("missing file: error %v, want not exist", err)
	}
}

func FuzzReadPredictions(f *testing.F) {
	for _, seed := range []string{
		"label,prediction\na,b\n",
		"\uFEFFtext,prediction,label\r\n\"a, b\",pos,neg\r\n\"two\nlines\",neg,neg\r\n",
		"label,prediction\na,\n",
		"label,prediction\na,b\"c\n",
		"label\n",
		"",
		"\n\n",
		"label,prediction\n\"unterminated,x\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		yTrue, yPred, err := ReadPredictions(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.csv") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if len(yTrue) == 0 || len(yTrue) != len(yPred) {
			t.Errorf("%d labels and %d predictions without an error", len(yTrue), len(yPred))
		}
		for i := range yTrue {
			if yTrue[i] == "" || yPred[i] == "" {
				t.Errorf("record %d: empty value without an error", i)
			}
		}
	})
}

// The disaster-tweets labels, as a small labelled file: ids out of order, other columns.
const labelled = "id,keyword,text,target\n" +
	"1,fire,\"Forest fire, near\",1\n" +
	"4,,\"two\nlines\",0\n" +
	"5,flood,x,1\n" +
	"7,,y,0\n"

func TestScoreSubmission(t *testing.T) {
	// Hand-computed: true (1,0,1,0) by id, predicted (1,1,0,0): tp=1 fp=1 fn=1 for class 1.
	sub := "id,target\n7,0\n5,0\n4,1\n1,1\n"
	r, err := ScoreSubmission(strings.NewReader(sub), "sub.csv", strings.NewReader(labelled), "train.csv")
	if err != nil {
		t.Fatal(err)
	}
	if r.Binary == nil || r.Binary.PosLabel != "1" || r.Binary.F1 != 0.5 || r.Binary.Precision != 0.5 || r.Binary.Recall != 0.5 {
		t.Errorf("binary %+v, want precision, recall, f1 0.5 for label 1", r.Binary)
	}
	if r.Accuracy != 0.5 || !slices.Equal(r.ConfusionMatrix.Labels, []string{"0", "1"}) ||
		!slices.EqualFunc(r.ConfusionMatrix.Counts, [][]int{{1, 1}, {1, 1}}, slices.Equal) {
		t.Errorf("accuracy %v, confusion matrix %+v", r.Accuracy, r.ConfusionMatrix)
	}
}

func TestScoreSubmissionErrors(t *testing.T) {
	for _, tc := range []struct{ sub, labelled, want string }{
		{"id,target\n1,1\n4,0\n5,1\n", labelled, `sub.csv: no prediction for 1 ids of train.csv: "7" (line 6)`},
		{"id,target\n1,1\n4,0\n5,1\n7,0\n8,1\n9,0\n", labelled, `sub.csv: 2 ids are not in train.csv: "8" (line 6), "9" (line 7)`},
		{"id,target\n1,1\n4,0\n1,0\n", labelled, `sub.csv:4: duplicate id "1" (first on line 2)`},
		{"id,target\n1,1\n4,2\n", labelled, `sub.csv:3: target "2" of id "4" is not 0 or 1`},
		{"id,target\n1,1\n4,1.0\n", labelled, `sub.csv:3: target "1.0" of id "4" is not 0 or 1`},
		{"id,target\n1,\n", labelled, `sub.csv:2: target "" of id "1" is not 0 or 1`},
		{"id,target\n,1\n", labelled, `sub.csv:2: empty "id" value`},
		{"id,prediction\n1,1\n", labelled, `sub.csv:1: no "target" column in the header (columns: id,prediction)`},
		{"id,target\n1,1\n", "id,target\n1,1\n2,yes\n", `train.csv:3: target "yes" of id "2" is not 0 or 1`},
		{"id,target\n1,1\n", "id,text,target\n1,\"a\nb\",1\n1,c,0\n", `train.csv:4: duplicate id "1" (first on line 2)`},
		{"id,target\n", labelled, `sub.csv: no records after the header`},
	} {
		_, err := ScoreSubmission(strings.NewReader(tc.sub), "sub.csv", strings.NewReader(tc.labelled), "train.csv")
		if err == nil || err.Error() != tc.want {
			t.Errorf("ScoreSubmission(%q, %q): error %v, want %s", tc.sub, tc.labelled, err, tc.want)
		}
	}
	// Many missing ids are counted, and only the first few listed.
	_, err := ScoreSubmission(strings.NewReader("id,target\n99,1\n"), "sub.csv",
		strings.NewReader("id,target\n1,0\n2,0\n3,0\n4,0\n5,0\n6,1\n7,1\n"), "train.csv")
	want := `sub.csv: no prediction for 7 ids of train.csv: "1" (line 2), "2" (line 3), ` +
		`"3" (line 4), "4" (line 5), "5" (line 6) and 2 more`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// TestReportJSON checks the JSON layout against hand-computed values.
func TestReportJSON(t *testing.T) {
	// true a a b c, predicted a b b b: a: p=1 r=.5; b: p=1/3 r=1; c: p=0 (no prediction) r=0.
	r, err := Evaluate([]string{"a", "a", "b", "c"}, []string{"a", "b", "b", "b"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range got {
			if !yield(k) {
				return
			}
		}
	})
	if want := []string{"accuracy", "confusion_matrix", "macro", "micro", "per_class", "warnings", "weighted"}; !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if got["accuracy"] != 0.5 {
		t.Errorf("accuracy %v, want 0.5", got["accuracy"])
	}
	b := got["per_class"].(map[string]any)["b"].(map[string]any)
	if b["precision"] != 1.0/3 || b["recall"] != 1.0 || b["f1"] != 0.5 || b["support"] != 1.0 {
		t.Errorf("per_class.b = %v, want precision 1/3, recall 1, f1 0.5, support 1", b)
	}
	cm := got["confusion_matrix"].(map[string]any)
	if s, _ := json.Marshal(cm); string(s) != `{"counts":[[1,1,0],[0,1,0],[0,1,0]],"labels":["a","b","c"]}` {
		t.Errorf("confusion_matrix %s", s)
	}
	// c is never predicted: its precision is 0/0; its recall (0/1) and F1 (0/1) are defined.
	if w := r.Warnings; len(w) != 1 || w[0] != "precision ill-defined and set to 0 for labels with no predicted samples: c" {
		t.Errorf("warnings %q", w)
	}
}

func TestReadRegressionPredictions(t *testing.T) {
	yTrue, yPred, err := ReadRegressionPredictions(strings.NewReader("prediction,label\n 2.5 ,1\n-1e3,7\n"), "r.csv")
	if err != nil || !slices.Equal(yTrue, []float64{1, 7}) || !slices.Equal(yPred, []float64{2.5, -1000}) {
		t.Errorf("got %v %v %v", yTrue, yPred, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"label,prediction\n1,2\nx,3\n", `r.csv:3: label "x" is not a finite number`},
		{"label,prediction\n1,NaN\n", `r.csv:2: prediction "NaN" is not a finite number`},
		{"label,prediction\n1,-Inf\n", `r.csv:2: prediction "-Inf" is not a finite number`},
		{"label,prediction\n,2\n", `r.csv:2: empty "label" value`},
		{"label,prediction\n", `r.csv: no records after the header`},
	} {
		if _, _, err := ReadRegressionPredictions(strings.NewReader(tc.in), "r.csv"); err == nil || err.Error() != tc.want {
			t.Errorf("ReadRegressionPredictions(%q): error %v, want %s", tc.in, err, tc.want)
		}
	}
}

func TestReadMultiLabelPredictions(t *testing.T) {
	in := "label,prediction\n\"b; a\",a\n,b;c\n"
	names, yTrue, yPred, err := ReadMultiLabelPredictions(strings.NewReader(in), "m.csv", ";", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"a", "b", "c"}) ||
		fmt.Sprint(yTrue) != "[[true true false] [false false false]]" ||
		fmt.Sprint(yPred) != "[[true false false] [false true true]]" {
		t.Errorf("names %q, true %v, predicted %v", names, yTrue, yPred)
	}
	if _, _, _, err := ReadMultiLabelPredictions(strings.NewReader(in), "m.csv", ";", []string{"a", "b"}); err == nil ||
		err.Error() != `m.csv:3: prediction "c" is not one of the labels ["a" "b"]` {
		t.Errorf("unknown label: %v", err)
	}
	if _, _, _, err := ReadMultiLabelPredictions(strings.NewReader("label,prediction\n,\n"), "m.csv", ";", nil); err == nil ||
		err.Error() != "m.csv: every label and prediction set is empty: no label names" {
		t.Errorf("no names: %v", err)
	}
}

func TestSplitLabelSet(t *testing.T) {
	for in, want := range map[string][]string{"": {}, "a": {"a"}, " a |b|a||": {"a", "b"}, "|": {}} {
		if got := SplitLabelSet(in, "|"); !slices.Equal(got, want) || got == nil {
			t.Errorf("SplitLabelSet(%q) = %#v, want %q", in, got, want)
		}
	}
}
