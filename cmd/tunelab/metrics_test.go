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
