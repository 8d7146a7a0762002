package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/backend"
)

// roundTrip is lab/train/testdata/roundtrip_golden.json, written by make_roundtrip_golden.py
// with transformers from a `tunelab train` run of TrainArgs.
type roundTrip struct {
	TrainArgs          []string       `json:"train_args"`
	Texts              []string       `json:"texts"`
	MaxLength          int            `json:"max_length"`
	InputIDs           [][]int32      `json:"input_ids"`
	Logits             [][]float64    `json:"logits"`
	TransformersFiles  []string       `json:"transformers_files"`
	TransformersConfig map[string]any `json:"transformers_config"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestTrainSaveLoadsInTransformers repeats the golden's short deterministic fine-tune of
// all-MiniLM-L6-v2 (dropout off) through `tunelab train`, then checks the --out directory: the
// files and config keys of a Hugging Face classifier; logits of the reloaded model equal to
// those transformers computed from the same run's directory (1e-4); and `tunelab eval` on it
// reproducing all_results.json's accuracy and loss (the in-memory model's).
func TestTrainSaveLoadsInTransformers(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes a 22M-parameter model")
	}
	var golden roundTrip
	readJSON(t, filepath.Join(testenv.RepoRoot(), "lab", "train", "testdata", "roundtrip_golden.json"), &golden)
	out := filepath.Join(t.TempDir(), "tuned")
	repl := strings.NewReplacer("{model}", testenv.ModelDir(t, lab.DefaultModel), "{data}", testenv.DataDir(t), "{out}", out)
	var args []string
	for _, a := range golden.TrainArgs {
		args = append(args, repl.Replace(a))
	}
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	if err := runTrain(ctx, args, &stdout, &stderr); err != nil {
		t.Fatalf("tunelab train %q: %v\n%s", args, err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "not disaster") {
		t.Errorf("the report does not name the labels:\n%s", stdout.String())
	}
	if engine := wantEngine(t); !strings.Contains(stderr.String(), "tunelab: engine "+engine+" (") {
		t.Errorf("tunelab train does not say it runs on %s:\n%s", engine, stderr.String())
	}
	// The default on a CPU engine is one device (XLA's CPU devices share the same cores).
	if !regexp.MustCompile(`\), on device 0 \(1 of \d+\)\n`).MatchString(stderr.String()) {
		t.Errorf("tunelab train does not say it trains on one device:\n%s", stderr.String())
	}

	for _, name := range append(golden.TransformersFiles, "vocab.txt", "training_args.json", "all_results.json", "README.md", "run/history.json") {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("--out lacks %s (transformers' save_pretrained writes %v): %v", name, golden.TransformersFiles, err)
		}
	}
	var config map[string]any
	readJSON(t, filepath.Join(out, "config.json"), &config)
	for _, key := range []string{"architectures", "id2label", "label2id", "model_type", "hidden_size", "num_hidden_layers", "vocab_size"} {
		if _, ok := config[key]; !ok {
			t.Errorf("config.json lacks %q", key)
		}
	}
	for key, want := range golden.TransformersConfig {
		if got, ok := config[key]; ok && key != "transformers_version" && !reflect.DeepEqual(got, want) {
			t.Errorf("config.json %q = %v, transformers writes %v", key, got, want)
		}
	}

	// The reloaded model's logits against transformers' on the directory of the same run.
	clf, err := lab.Load(ctx, out, lab.WithMaxLength(golden.MaxLength))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := clf.Tokenizer.EncodeBatch(golden.Texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range golden.InputIDs {
		// transformers padded the rows to the longest; the rest of a row must be padding.
		got := batch.Row(i).IDs[:batch.Lengths[i]]
		if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) ||
			slices.ContainsFunc(want[len(got):], func(id int32) bool { return id != clf.Tokenizer.PadID() }) {
			t.Fatalf("text %d: token ids %v, transformers' tokenizer %v", i, got, want)
		}
	}
	exec, err := model.NewExec(clf.Backend, clf.Store, func(scope *model.Scope, tokens, mask *Node) *Node {
		return clf.Model.Logits(scope, tokens, mask, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	logits, err := exec.Exec1(tensors.FromFlatDataAndDimensions(batch.IDs, batch.BatchSize, batch.SeqLen),
		tensors.FromFlatDataAndDimensions(batch.Mask, batch.BatchSize, batch.SeqLen))
	if err != nil {
		t.Fatal(err)
	}
	flat := tensors.MustCopyFlatData[float32](logits)
	worst := 0.0
	for i, row := range golden.Logits {
		for j, want := range row {
			worst = math.Max(worst, math.Abs(float64(flat[i*len(row)+j])-want))
		}
	}
	if worst > 1e-4 {
		t.Errorf("max |logits - transformers'| = %g, want <= 1e-4 (got %v, transformers %v)", worst, flat, golden.Logits)
	}
	t.Logf("max |logits - transformers'| = %.3g", worst)

	// tunelab eval on the saved directory: the same held-out split, the same accuracy.
	var results map[string]float64
	readJSON(t, filepath.Join(out, "all_results.json"), &results)
	evalArgs := []string{"--model", out, "--json"}
	for _, flag := range []string{"--task", "--data", "--limit", "--seed", "--max-length"} {
		i := slices.Index(args, flag)
		evalArgs = append(evalArgs, flag, args[i+1])
	}
	stdout.Reset()
	if err := runEval(ctx, evalArgs, &stdout, &stderr); err != nil {
		t.Fatalf("tunelab eval %q: %v\n%s", evalArgs, err, stderr.String())
	}
	var report struct {
		Split    string  `json:"split"`
		Examples int     `json:"examples"`
		Loss     float64 `json:"loss"`
		Accuracy float64 `json:"accuracy"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("tunelab eval --json: %v: %s", err, stdout.String())
	}
	// The loss also shows that the reloaded weights are the trained ones.
	if report.Split != "validation" || report.Accuracy != results["accuracy"] || math.Abs(report.Loss-results["loss"]) > 1e-5 {
		t.Errorf("tunelab eval: %s split, accuracy %v, loss %v; all_results.json (validation) %v, %v",
			report.Split, report.Accuracy, report.Loss, results["accuracy"], results["loss"])
	}
}

// TestTrainStopsOnBadLearningRate: a NaN learning rate is refused before any work, naming the
// flag's value; an enormous one blows the loss up and the error names the step.
func TestTrainStopsOnBadLearningRate(t *testing.T) {
	base := []string{"--task", "tweets", "--data", testenv.DataDir(t), "--out", filepath.Join(t.TempDir(), "out")}
	var stdout, stderr bytes.Buffer
	err := runTrain(context.Background(), append([]string{"--lr", "NaN"}, base...), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "learning rate NaN") {
		t.Errorf("--lr NaN: err %v, want a learning rate error", err)
	}
	if testing.Short() {
		return
	}
	args := append([]string{"--model", testenv.ModelDir(t, lab.DefaultModel), "--lr", "1e30", "--warmup-ratio", "0",
		"--limit", "8", "--batch-size", "2", "--max-length", "16", "--max-steps", "3"}, base...)
	err = runTrain(context.Background(), args, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "step 2 ") || !strings.Contains(err.Error(), "the loss is") {
		t.Errorf("--lr 1e30: err %v, want the loss to blow up at step 2", err)
	}
}

// TestDevicesFlag: a --devices value that names no devices is refused before any work.
func TestDevicesFlag(t *testing.T) {
	for _, devices := range []string{"0", "gpu", "1,1"} {
		var stdout, stderr bytes.Buffer
		err := runTrain(context.Background(), []string{"--devices", devices, "--out", t.TempDir()}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("devices %q", devices)) {
			t.Errorf("--devices %s: err %v, want the value refused", devices, err)
		}
	}
}

// wantEngine is the engine a job announces: $GOMLX_BACKEND's, else xla:cpu where its plugin is
// installed (`make setup` installs it, so CI has it), else go.
func wantEngine(t *testing.T) string {
	t.Helper()
	if env := os.Getenv(backend.EnvVar); env != "" {
		engine, _, _ := strings.Cut(env, ",")
		return engine
	}
	if _, err := backend.FindPlugin("cpu"); err == nil {
		return backend.XLACPU
	}
	if os.Getenv("CI") != "" {
		t.Fatal("XLA's CPU plugin is not installed: make setup installs it")
	}
	return "go"
}
