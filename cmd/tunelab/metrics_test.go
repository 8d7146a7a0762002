package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

// metricsSklearn runs a Python snippet with scikit-learn and returns its stdout. It skips the test
// when scikit-learn is missing, and fails instead when $CI is set.
func metricsSklearn(t *testing.T, script string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(testenv.Python(t, "sklearn"), append([]string{"-c", script}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	return string(out)
}

func metricsFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMetricsCommandJSON(t *testing.T) {
	// true a a b c, predicted a b b b (hand-computed below).
	path := metricsFile(t, "p.csv", "id,label,prediction\n1,a,a\n2,a,b\n3,b,b\n4,c,b\n")
	var stdout, stderr bytes.Buffer
	if err := runMetrics(context.Background(), []string{"--json", path}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Accuracy float64 `json:"accuracy"`
		PerClass map[string]struct {
			Precision, Recall, F1 float64
			Support               int
		} `json:"per_class"`
		Macro           struct{ Precision, Recall, F1 float64 }
		ConfusionMatrix struct {
			Labels []string
			Counts [][]int
		} `json:"confusion_matrix"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, stdout.String())
	}
	// a: tp 1 of 2 true, 1 predicted; b: tp 1 of 1 true, 3 predicted; c: never predicted.
	if got.Accuracy != 0.5 || got.PerClass["a"].Precision != 1 || got.PerClass["a"].Recall != 0.5 ||
		got.PerClass["b"].Precision != 1.0/3 || got.PerClass["b"].F1 != 0.5 || got.PerClass["c"].Support != 1 ||
		got.Macro.Recall != 0.5 || fmt.Sprint(got.ConfusionMatrix) != "{[a b c] [[1 1 0] [0 1 0] [0 1 0]]}" {
		t.Errorf("report %+v", got)
	}
}

func TestMetricsCommandText(t *testing.T) {
	yTrue := []string{"pos", "pos", "neg", "neg", "neg", "pos", "neg"}
	yPred := []string{"pos", "neg", "neg", "pos", "neg", "pos", "neg"}
	var file strings.Builder
	file.WriteString("label,prediction\n")
	for i := range yTrue {
		fmt.Fprintf(&file, "%s,%s\n", yTrue[i], yPred[i])
	}
	path := metricsFile(t, "p.csv", file.String())
	var stdout, stderr bytes.Buffer
	if err := runMetrics(context.Background(), []string{"--digits", "3", "--pos-label", "pos", path}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	// pos: tp 2, predicted 3, true 3.
	headline := "F1 of class pos: 0.6667 (precision 0.667, recall 0.667)\n\n"
	want := metricsSklearn(t, `import json, sys
from sklearn.metrics import classification_report
print(classification_report(json.loads(sys.argv[1]), json.loads(sys.argv[2]), digits=3), end="")`,
		metricsJSON(t, yTrue), metricsJSON(t, yPred))
	if out := stdout.String(); !strings.HasPrefix(out, headline+want+"\n") {
		t.Errorf("output:\n%s\nwant the headline, then sklearn's report:\n%s", out, want)
	}
	// Rows true neg (3 right, 1 wrong) and true pos (1 wrong, 2 right).
	if !strings.HasSuffix(stdout.String(), "true \\ predicted  neg  pos\n"+
		"             neg    3    1\n"+
		"             pos    1    2\n") {
		t.Errorf("confusion matrix missing or wrong:\n%s", stdout.String())
	}
}

func metricsJSON(t *testing.T, v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestMetricsCommandErrors(t *testing.T) {
	good := metricsFile(t, "p.csv", "label,prediction\na,b\n")
	bad := metricsFile(t, "bad.csv", "label,pred\na,b\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "want one FILE.csv, got 0 arguments"},
		{[]string{good, good}, "want one FILE.csv, got 2 arguments"},
		{[]string{"--digits", "-1", good}, "--digits -1: want 0 or more"},
		{[]string{"--submission", good}, "--submission and --labels go together, without --pos-label or a FILE"},
		{[]string{"--labels", good, good}, "--submission and --labels go together, without --pos-label or a FILE"},
		{[]string{bad}, bad + `:1: no "prediction" column in the header (columns: label,pred)`},
		{[]string{"--pos-label", "c", good}, "metrics: positive label c is not one of the labels (a, b)"},
	} {
		var stdout, stderr bytes.Buffer
		err := runMetrics(context.Background(), tc.args, &stdout, &stderr)
		if err == nil || err.Error() != tc.want {
			t.Errorf("metrics %q: error %v, want %s", tc.args, err, tc.want)
		}
	}
}

// TestMetricsCommandSubmission scores a submission built from the real disaster-tweets
// train.csv (predict 1 when the keyword contains "fire") and compares with sklearn's f1_score
// of the same rule.
func TestMetricsCommandSubmission(t *testing.T) {
	train := filepath.Join(testenv.DataDir(t), "disaster_tweets", "train.csv")
	f, err := os.Open(train)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var sub strings.Builder
	sub.WriteString("id,target\n")
	for _, r := range records[1:] { // header id,keyword,location,text,target
		target := 0
		if strings.Contains(r[1], "fire") {
			target = 1
		}
		fmt.Fprintf(&sub, "%s,%d\n", r[0], target)
	}
	subPath := metricsFile(t, "submission.csv", sub.String())

	var stdout, stderr bytes.Buffer
	if err := runMetrics(context.Background(), []string{"--json", "--submission", subPath, "--labels", train},
		&stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Accuracy float64 `json:"accuracy"`
		Binary   struct {
			PosLabel string  `json:"pos_label"`
			F1       float64 `json:"f1"`
			Support  int     `json:"support"`
		} `json:"binary"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	out := metricsSklearn(t, `import csv, sys
from sklearn.metrics import accuracy_score, f1_score
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
y = [int(r["target"]) for r in rows]
p = [int("fire" in r["keyword"]) for r in rows]
print(repr(f1_score(y, p)), repr(accuracy_score(y, p)), sum(y))`, train)
	var wantF1, wantAcc float64
	var wantSupport int
	if _, err := fmt.Sscan(out, &wantF1, &wantAcc, &wantSupport); err != nil {
		t.Fatalf("sklearn output %q: %v", out, err)
	}
	if got.Binary.PosLabel != "1" || math.Abs(got.Binary.F1-wantF1) > 1e-12 ||
		math.Abs(got.Accuracy-wantAcc) > 1e-12 || got.Binary.Support != wantSupport {
		t.Errorf("got %+v, sklearn f1 %v accuracy %v support %d", got, wantF1, wantAcc, wantSupport)
	}

	stdout.Reset()
	if err := runMetrics(context.Background(), []string{"--submission", subPath, "--labels", train},
		&stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("F1 of class 1 (the competition metric): %.4f\n\n", wantF1); !strings.HasPrefix(stdout.String(), want) {
		t.Errorf("text output starts %q, want %q", stdout.String()[:min(80, stdout.Len())], want)
	}
}

// TestMetricsCommandRegression checks the JSON and the text of --task regression against
// scikit-learn and scipy on the same file.
func TestMetricsCommandRegression(t *testing.T) {
	path := metricsFile(t, "r.csv", "id,label,prediction\n1,10,8.5\n2,1,2\n3,7,7\n4,3,4.25\n5,8,9\n6,1,-0.5\n")
	var stdout, stderr bytes.Buffer
	if err := runMetrics(context.Background(), []string{"--task", "regression", "--json", path}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var got map[string]float64
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, stdout.String())
	}
	out := metricsSklearn(t, `import csv, json, sys
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score, root_mean_squared_error
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
y = [float(r["label"]) for r in rows]
p = [float(r["prediction"]) for r in rows]
print(json.dumps({"n": len(y), "mse": mean_squared_error(y, p), "rmse": root_mean_squared_error(y, p),
    "mae": mean_absolute_error(y, p), "r2": r2_score(y, p), "pearson": float(pearsonr(y, p).statistic),
    "spearman": float(spearmanr(y, p).statistic)}))`, path)
	var want map[string]float64
	if err := json.Unmarshal([]byte(out), &want); err != nil {
		t.Fatalf("reference output %q: %v", out, err)
	}
	if len(got) != len(want) {
		t.Errorf("keys of %v, want those of %v", got, want)
	}
	for k, w := range want {
		if math.Abs(got[k]-w) > 1e-12 {
			t.Errorf("%s = %v, reference %v", k, got[k], w)
		}
	}

	stdout.Reset()
	if err := runMetrics(context.Background(), []string{"--task", "regression", path}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if line := fmt.Sprintf("spearman  %.4f\n", want["spearman"]); !strings.Contains(stdout.String(), line) {
		t.Errorf("text output lacks %q:\n%s", line, stdout.String())
	}

	// A constant prediction leaves the correlations undefined: null in JSON, with a warning.
	constant := metricsFile(t, "c.csv", "label,prediction\n1,5\n2,5\n3,5\n")
	stdout.Reset()
	stderr.Reset()
	if err := runMetrics(context.Background(), []string{"--task", "regression", "--json", constant}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var nulls map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &nulls); err != nil {
		t.Fatal(err)
	}
	if nulls["pearson"] != nil || nulls["spearman"] != nil || nulls["mse"] != 29.0/3 {
		t.Errorf("constant predictions: %s, want pearson and spearman null and mse 29/3", stdout.String())
	}
}

// TestMetricsCommandMultiLabel checks --task multilabel against scikit-learn on the indicator
// matrices of the same sets.
func TestMetricsCommandMultiLabel(t *testing.T) {
	rows := [][2]string{{"sports|politics", "sports"}, {"", "tech"}, {"tech", "tech|sports"},
		{"politics", ""}, {"sports| tech", "tech|sports"}, {"politics|tech", "politics|tech"}}
	var file strings.Builder
	file.WriteString("text,label,prediction\n")
	for i, r := range rows {
		fmt.Fprintf(&file, "t%d,%s,%s\n", i, r[0], r[1])
	}
	path := metricsFile(t, "m.csv", file.String())
	var stdout, stderr bytes.Buffer
	if err := runMetrics(context.Background(), []string{"--task", "multilabel", "--json", path}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Labels         []string `json:"labels"`
		SubsetAccuracy float64  `json:"subset_accuracy"`
		HammingLoss    float64  `json:"hamming_loss"`
		Micro, Macro   struct{ Precision, Recall, F1 float64 }
		Samples        struct{ Precision, Recall, F1 float64 }
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, stdout.String())
	}
	out := metricsSklearn(t, `import json, sys
from sklearn.metrics import accuracy_score, hamming_loss, precision_recall_fscore_support as prf
from sklearn.preprocessing import MultiLabelBinarizer
rows = json.loads(sys.argv[1])
sets = lambda col: [{n.strip() for n in r[col].split("|") if n.strip()} for r in rows]
mlb = MultiLabelBinarizer().fit(sets(0) + sets(1))
y, p = mlb.transform(sets(0)), mlb.transform(sets(1))
avg = {a: prf(y, p, average=a, zero_division=0)[:3] for a in ("micro", "macro", "samples")}
print(json.dumps({"labels": list(mlb.classes_), "subset": accuracy_score(y, p), "hamming": hamming_loss(y, p), "avg": avg}))`,
		metricsJSON(t, rows))
	var want struct {
		Labels  []string
		Subset  float64
		Hamming float64
		Avg     map[string][3]float64
	}
	if err := json.Unmarshal([]byte(out), &want); err != nil {
		t.Fatalf("reference output %q: %v", out, err)
	}
	if fmt.Sprint(got.Labels) != fmt.Sprint(want.Labels) || math.Abs(got.SubsetAccuracy-want.Subset) > 1e-12 ||
		math.Abs(got.HammingLoss-want.Hamming) > 1e-12 {
		t.Errorf("labels %q subset accuracy %v hamming loss %v, reference %q %v %v", got.Labels, got.SubsetAccuracy,
			got.HammingLoss, want.Labels, want.Subset, want.Hamming)
	}
	for name, s := range map[string]struct{ Precision, Recall, F1 float64 }{"micro": got.Micro, "macro": got.Macro, "samples": got.Samples} {
		w := want.Avg[name]
		if math.Abs(s.Precision-w[0]) > 1e-12 || math.Abs(s.Recall-w[1]) > 1e-12 || math.Abs(s.F1-w[2]) > 1e-12 {
			t.Errorf("%s %+v, reference %v", name, s, w)
		}
	}

	// --classes fixes the order; a name outside it is an error naming the line.
	stdout.Reset()
	if err := runMetrics(context.Background(), []string{"--task", "multilabel", "--classes", "tech,sports", path}, &stdout, &stderr); err == nil ||
		err.Error() != path+`:2: label "politics" is not one of the labels ["tech" "sports"]` {
		t.Errorf("unknown class: error %v", err)
	}
}

func TestMetricsCommandTaskErrors(t *testing.T) {
	good := metricsFile(t, "p.csv", "label,prediction\n1,2\n")
	words := metricsFile(t, "w.csv", "label,prediction\n1,2\nthree,4\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--task", "ranking", good}, `--task "ranking": want classification, regression or multilabel`},
		{[]string{"--task", "regression"}, "--task regression takes one FILE.csv, without --submission, --labels or --pos-label"},
		{[]string{"--task", "multilabel", "--pos-label", "a", good}, "--task multilabel takes one FILE.csv, without --submission, --labels or --pos-label"},
		{[]string{"--task", "regression", words}, words + `:3: label "three" is not a finite number`},
		{[]string{"--task", "multilabel", "--sep", "", good}, good + ": empty label separator"},
	} {
		var stdout, stderr bytes.Buffer
		err := runMetrics(context.Background(), tc.args, &stdout, &stderr)
		if err == nil || err.Error() != tc.want {
			t.Errorf("metrics %q: error %v, want %s", tc.args, err, tc.want)
		}
	}
}
