package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/backend"
)

func TestPredictPrintsOneJSONObjectPerText(t *testing.T) {
	dir := testenv.ModelDir(t, lab.DefaultModel)
	texts := []string{"Forest fire near La Ronge Sask. Canada", "I love fruits", "a third, longer text about nothing at all"}
	args := []string{"--model", dir, "--labels", "not disaster,disaster"}
	for _, text := range texts {
		args = append(args, "--text", text)
	}
	var stdout, stderr bytes.Buffer
	if err := runPredict(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%d lines for %d texts:\n%s", len(lines), len(texts), stdout.String())
	}
	clf, err := lab.Load(context.Background(), filepath.Clean(dir), lab.WithLabels("not disaster", "disaster"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := clf.Predict(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range lines {
		var got struct {
			Label  string             `json:"label"`
			Scores map[string]float64 `json:"scores"`
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d %q: %v", i+1, line, err)
		}
		if got.Label != want[i].Label || len(got.Scores) != 2 {
			t.Errorf("line %d: %+v, want %+v", i+1, got, want[i])
		}
		if sum := got.Scores["disaster"] + got.Scores["not disaster"]; math.Abs(sum-1) > 1e-6 {
			t.Errorf("line %d: probabilities sum to %g", i+1, sum)
		}
		if math.Abs(got.Scores["disaster"]-want[i].Scores["disaster"]) > 1e-6 {
			t.Errorf("line %d: P(disaster) = %g, the library gives %g", i+1, got.Scores["disaster"], want[i].Scores["disaster"])
		}
	}
	if !strings.Contains(stderr.String(), "newly initialised") {
		t.Errorf("stderr does not warn that the head is new: %q", stderr.String())
	}
}

// TestBF16Flag: --bf16 and --bf16=false choose the matrix products' dtype, which the engine line
// says; without the flag the engine's default applies (backend.MatmulDType). bfloat16 changes
// the probabilities, within bfloat16's precision of float32's.
func TestBF16Flag(t *testing.T) {
	dir := testenv.ModelDir(t, lab.DefaultModel)
	b, err := backend.New("")
	if err != nil {
		t.Fatal(err)
	}
	defaultBF16 := backend.MatmulDType(b) == dtypes.BFloat16
	b.Finalize()
	disaster := map[string]float64{}
	for flag, bf16 := range map[string]bool{"": defaultBF16, "--bf16": true, "--bf16=false": false} {
		args := []string{"--model", dir, "--labels", "not disaster,disaster", "--text", "Forest fire near La Ronge Sask. Canada"}
		if flag != "" {
			args = append(args, flag)
		}
		var stdout, stderr bytes.Buffer
		if err := runPredict(context.Background(), args, &stdout, &stderr); err != nil {
			t.Fatalf("%s: %v\n%s", flag, err, stderr.String())
		}
		if said := strings.Contains(stderr.String(), "matrix products in bfloat16"); said != bf16 {
			t.Errorf("flag %q: stderr says bfloat16 products %t, want %t:\n%s", flag, said, bf16, stderr.String())
		}
		var got struct{ Scores map[string]float64 }
		if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
			t.Fatalf("flag %q: %v in %q", flag, err, stdout.String())
		}
		disaster[flag] = got.Scores["disaster"]
	}
	if d := math.Abs(disaster["--bf16"] - disaster["--bf16=false"]); d == 0 || d > 1e-2 {
		t.Errorf("P(disaster) %g with bfloat16 products and %g with float32: want them apart by (0, 1e-2]", disaster["--bf16"], disaster["--bf16=false"])
	}
	var stdout, stderr bytes.Buffer
	if err := runPredict(context.Background(), []string{"--model", dir, "--bf16=maybe", "--text", "x"}, &stdout, &stderr); err == nil || !strings.Contains(stderr.String(), "-bf16") {
		t.Errorf("--bf16=maybe: error %v, stderr %q: want the flag refused", err, stderr.String())
	}
}

func TestPredictRejectsStrayArguments(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runPredict(context.Background(), []string{"some text"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--text or on stdin") {
		t.Fatalf("error = %v", err)
	}
}

// TestPredictWithoutLabelsNamesClassesLikeTransformers: a fine-tuned model whose config.json has
// no id2label (transformers 5 leaves the default one out) predicts without --labels, its classes
// named LABEL_0 and LABEL_1 as transformers names them; a bare encoder still needs the names.
func TestPredictWithoutLabelsNamesClassesLikeTransformers(t *testing.T) {
	base := testenv.ModelDir(t, lab.DefaultModel)
	ctx := context.Background()
	clf, err := lab.Load(ctx, base, lab.WithLabels("first", "second"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := clf.Save(dir); err != nil {
		t.Fatal(err)
	}
	var config map[string]any
	readJSON(t, filepath.Join(dir, "config.json"), &config)
	delete(config, "id2label")
	delete(config, "label2id")
	data, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	text := "Forest fire near La Ronge Sask. Canada"
	want, err := clf.Predict(ctx, []string{text})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := runPredict(ctx, []string{"--model", dir, "--text", text}, &stdout, &stderr); err != nil {
		t.Fatalf("predict without --labels: %v\n%s", err, stderr.String())
	}
	var got struct {
		Label  string             `json:"label"`
		Scores map[string]float64 `json:"scores"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if len(got.Scores) != 2 || math.Abs(got.Scores["LABEL_0"]-want[0].Scores["first"]) > 1e-6 ||
		math.Abs(got.Scores["LABEL_1"]-want[0].Scores["second"]) > 1e-6 {
		t.Errorf("scores %v, want LABEL_0 and LABEL_1 with the saved head's %v", got.Scores, want[0].Scores)
	}

	err = runPredict(ctx, []string{"--model", base, "--text", text}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "has no classification head") || !strings.Contains(err.Error(), "pass the class names") {
		t.Errorf("a bare encoder without --labels: error %v, want one asking for the class names", err)
	}
}
