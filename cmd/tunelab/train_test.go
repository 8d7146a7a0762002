package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/serve"
)

// roundTrip is a golden of lab/train/testdata (roundtrip_golden.json for classification,
// roundtrip_regression_golden.json, roundtrip_multilabel_golden.json), written by
// make_roundtrip_golden.py with transformers from a `tunelab train` run of TrainArgs.
type roundTrip struct {
	// ProblemType is the problem type transformers reloaded the model with ("" for the
	// classification golden, whose config.json names none).
	ProblemType        string         `json:"problem_type"`
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
// all-MiniLM-L6-v2 (dropout off) through `tunelab train` (see checkRoundTrip), then checks
// `tunelab eval` on it reproducing all_results.json's accuracy and loss (the in-memory model's).
func TestTrainSaveLoadsInTransformers(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes a 22M-parameter model")
	}
	out, args, stdout := checkRoundTrip(t, "roundtrip_golden.json")
	if !strings.Contains(stdout, "not disaster") {
		t.Errorf("the report does not name the labels:\n%s", stdout)
	}
	checkEvalReproduces(t, out, args, "accuracy")
}

// TestRegressionAndMultiLabelLoadInTransformers: `tunelab train` of a regression model (IMDB
// star ratings) and of a multi-label one (a tagged file) saves models that transformers reloads
// with the same problem type and logits (see checkRoundTrip), and `tunelab eval` on them
// reproduces all_results.json.
func TestRegressionAndMultiLabelLoadInTransformers(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes a 22M-parameter model")
	}
	for golden, metric := range map[string]string{"roundtrip_regression_golden.json": "rmse", "roundtrip_multilabel_golden.json": "hamming_loss"} {
		t.Run(golden, func(t *testing.T) {
			out, args, stdout := checkRoundTrip(t, golden)
			if name := strings.ReplaceAll(metric, "_", " "); !strings.Contains(stdout, name) {
				t.Errorf("the report lacks %s:\n%s", name, stdout)
			}
			checkEvalReproduces(t, out, args, metric)
			checkPredictAndServe(t, out, golden)
		})
	}
}

// checkPredictAndServe runs `tunelab predict` and the served JSON API on the model in out, on
// the golden's texts: {"score": logit} for regression, {"labels", "scores"} with each label's
// sigmoid of transformers' logit (and the labels above 0.5) for multi-label, within 1e-4. The
// Space exported from out carries the problem type in its model's config.json.
func checkPredictAndServe(t *testing.T, out, goldenName string) {
	t.Helper()
	var golden roundTrip
	readJSON(t, filepath.Join(testenv.RepoRoot(), "lab", "train", "testdata", goldenName), &golden)
	spaceDir := filepath.Join(t.TempDir(), "space")
	var spaceOut, spaceErr bytes.Buffer
	if err := runSpace(context.Background(), []string{"export", "--model", out, "--out", spaceDir}, &spaceOut, &spaceErr); err != nil {
		t.Fatalf("space export: %v\n%s", err, spaceErr.String())
	}
	var spaceConfig map[string]any
	readJSON(t, filepath.Join(spaceDir, "model", "config.json"), &spaceConfig)
	if spaceConfig["problem_type"] != golden.ProblemType {
		t.Errorf("the Space's config.json has problem_type %v, want %s", spaceConfig["problem_type"], golden.ProblemType)
	}
	args := []string{"--model", out, "--max-length", strconv.Itoa(golden.MaxLength), float32Flag}
	for _, text := range golden.Texts {
		args = append(args, "--text", text)
	}
	var stdout, stderr bytes.Buffer
	if err := runPredict(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("tunelab predict: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	clf, err := lab.Load(context.Background(), out, lab.WithMaxLength(golden.MaxLength), lab.WithMatmulDType(dtypes.Float32))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.New(served{clf}, serve.Options{Problem: clf.Problem})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("POST", "/api/predict", strings.NewReader(metricsJSON(t, map[string]any{"texts": golden.Texts}))))
	var api struct {
		Predictions []json.RawMessage `json:"predictions"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &api); err != nil || len(api.Predictions) != len(golden.Texts) || len(lines) != len(golden.Texts) {
		t.Fatalf("predict printed %q, the API answered %d %s (%v): want one prediction per text", lines, rec.Code, rec.Body, err)
	}
	for i, logits := range golden.Logits {
		for source, line := range map[string]string{"tunelab predict": lines[i], "/api/predict": string(api.Predictions[i])} {
			var got map[string]any
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("%s: %q: %v", source, line, err)
			}
			if golden.ProblemType == "regression" {
				if score, ok := got["score"].(float64); len(got) != 1 || !ok || math.Abs(score-logits[0]) > 1e-4 {
					t.Errorf("%s, text %d: %s, want {\"score\": %v}", source, i, line, logits[0])
				}
				continue
			}
			scores, _ := got["scores"].(map[string]any)
			labels, ok := got["labels"].([]any)
			var want []any
			for j, name := range clf.Labels {
				p := 1 / (1 + math.Exp(-logits[j]))
				if p > 0.5 {
					want = append(want, name)
				}
				if v, _ := scores[name].(float64); math.Abs(v-p) > 1e-4 {
					t.Errorf("%s, text %d: score of %s %v, want sigmoid(%v) = %v", source, i, name, v, logits[j], p)
				}
			}
			if len(got) != 2 || !ok || len(labels) != len(want) || (len(want) > 0 && !reflect.DeepEqual(labels, want)) {
				t.Errorf("%s, text %d: %s, want labels %v and every label's score", source, i, line, want)
			}
		}
	}
}

// float32Flag makes a command compute as transformers does, for the comparisons with its goldens.
const float32Flag = "--bf16=false"

// checkRoundTrip repeats the run of a golden of lab/train/testdata through `tunelab train`,
// then checks the --out directory: the files and config keys of a Hugging Face classifier, the
// problem_type transformers reloaded it with, and logits of the reloaded model equal to those
// transformers computed from the same run's directory (1e-4). It returns the directory, the
// train arguments and what train printed.
func checkRoundTrip(t *testing.T, goldenName string) (string, []string, string) {
	t.Helper()
	var golden roundTrip
	testdata := filepath.Join(testenv.RepoRoot(), "lab", "train", "testdata")
	readJSON(t, filepath.Join(testdata, goldenName), &golden)
	out := filepath.Join(t.TempDir(), "tuned")
	repl := strings.NewReplacer("{model}", testenv.ModelDir(t, lab.DefaultModel), "{data}", testenv.DataDir(t), "{testdata}", testdata, "{out}", out)
	var args []string
	for _, a := range golden.TrainArgs {
		args = append(args, repl.Replace(a))
	}
	// float32 products, as the golden's run and transformers computed (bfloat16 would be the
	// default on an XLA CPU with AMX or AVX512_BF16).
	args = append(args, float32Flag)
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	if err := runTrain(ctx, args, &stdout, &stderr); err != nil {
		t.Fatalf("tunelab train %q: %v\n%s", args, err, stderr.String())
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
	if card, err := os.ReadFile(filepath.Join(out, "README.md")); err != nil || !strings.Contains(string(card), "| matmul_dtype | float32 ") {
		t.Errorf("the model card does not name the float32 products %s asked for (%v)", float32Flag, err)
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
	if got, _ := config["problem_type"].(string); got != golden.ProblemType {
		t.Errorf("config.json problem_type %q, transformers reloaded the run's model as %q", got, golden.ProblemType)
	}

	// The reloaded model's logits against transformers' on the directory of the same run.
	clf, err := lab.Load(ctx, out, lab.WithMaxLength(golden.MaxLength), lab.WithMatmulDType(dtypes.Float32))
	if err != nil {
		t.Fatal(err)
	}
	if want := cmp.Or(golden.ProblemType, "single_label_classification"); string(clf.Problem) != want {
		t.Errorf("tunelab reloads the model as %s, transformers as %s", clf.Problem, want)
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
	return out, args, stdout.String()
}

// checkEvalReproduces runs `tunelab eval --json` on the model train saved in out, on the same
// held-out split: its metric and loss must equal all_results.json's (the in-memory model's).
func checkEvalReproduces(t *testing.T, out string, args []string, metric string) {
	t.Helper()
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	var results map[string]float64
	readJSON(t, filepath.Join(out, "all_results.json"), &results)
	evalArgs := []string{"--model", out, "--json", float32Flag}
	for _, flag := range []string{"--task", "--data", "--limit", "--seed", "--max-length", "--text", "--label", "--problem", "--validation"} {
		if i := slices.Index(args, flag); i >= 0 {
			evalArgs = append(evalArgs, flag, args[i+1])
		}
	}
	if err := runEval(ctx, evalArgs, &stdout, &stderr); err != nil {
		t.Fatalf("tunelab eval %q: %v\n%s", evalArgs, err, stderr.String())
	}
	var report map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("tunelab eval --json: %v: %s", err, stdout.String())
	}
	// The loss also shows that the reloaded weights are the trained ones.
	got, _ := report[metric].(float64)
	loss, _ := report["loss"].(float64)
	if report["split"] != "validation" || math.Abs(got-results[metric]) > 1e-5 || math.Abs(loss-results["loss"]) > 1e-5 {
		t.Errorf("tunelab eval: %v split, %s %v, loss %v; all_results.json (validation) %v, %v",
			report["split"], metric, got, loss, results[metric], results["loss"])
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

// TestTrainSeedDrawsTheHead: --seed reaches the fresh head's initialisation. One optimizer step
// inside a one-step warmup has learning rate 0, so the saved head is the initial one: equal to
// the head lab.Load draws with that seed, and different for another seed.
func TestTrainSeedDrawsTheHead(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes a 22M-parameter model")
	}
	modelDir, dataDir := testenv.ModelDir(t, lab.DefaultModel), testenv.DataDir(t)
	ctx := context.Background()
	head := func(seed string) []float32 {
		out := filepath.Join(t.TempDir(), "tuned")
		args := []string{"--model", modelDir, "--task", "tweets", "--data", dataDir, "--limit", "8", "--batch-size", "4",
			"--max-length", "16", "--max-steps", "1", "--warmup-steps", "1", "--seed", seed, "--out", out}
		var stdout, stderr bytes.Buffer
		if err := runTrain(ctx, args, &stdout, &stderr); err != nil {
			t.Fatalf("tunelab train %q: %v\n%s", args, err, stderr.String())
		}
		ck, err := hfmodel.Load(out, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ck.Tensors[headWeights].Data
	}
	seven, eight := head("7"), head("8")
	clf, err := lab.Load(ctx, modelDir, lab.WithLabels("not disaster", "disaster"), lab.WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	if want := tensors.MustCopyFlatData[float32](clf.Store.GetVariable(headWeights).MustValue()); !slices.Equal(seven, want) {
		t.Errorf("--seed 7 trained from head %v..., lab.Load with seed 7 draws %v...", seven[:3], want[:3])
	}
	if slices.Equal(seven, eight) {
		t.Errorf("--seed 7 and --seed 8 start from the same head %v...", seven[:3])
	}
}

// headWeights is the variable of BERT's classifier weights [classes, hidden].
const headWeights = "/classifier/dense/weights"
