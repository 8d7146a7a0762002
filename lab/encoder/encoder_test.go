package encoder_test

import (
	"encoding/json"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	goldenpkg "github.com/tunelab/tunelab/internal/golden"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/encoder"
	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/safetensors"
)

var golden = goldenpkg.Read

// forward runs the classifier on the golden batch and returns logits [b, c] and the last hidden
// state [b, s, h].
func forward(t *testing.T, ck *hfmodel.Checkpoint, goldenFile string) (logits, hidden []float32) {
	t.Helper()
	return forwardModel(t, encoder.New(ck.Config, len(ck.Labels)), ck, goldenFile)
}

// forwardModel is forward with the model m built from ck.
func forwardModel(t *testing.T, m *encoder.Model, ck *hfmodel.Checkpoint, goldenFile string) (logits, hidden []float32) {
	t.Helper()
	store := loadStore(t, m, ck, 0)
	// Two programs: a graph visits a scope once, and Logits computes the last layer's first
	// position alone.
	run := func(build func(scope *model.Scope, tokens, mask, typeIDs *Node) *Node) []float32 {
		exec, err := model.NewExec(goldenpkg.Backend(t), store, build)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(golden(t, goldenFile, "input_ids"), golden(t, goldenFile, "attention_mask"), tokenTypes(t, ck, goldenFile))
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](out[0])
	}
	return run(m.Logits), run(m.Encode)
}

// loadStore returns a store holding ck's parameters for m, a new head drawn with seed.
func loadStore(t *testing.T, m *encoder.Model, ck *hfmodel.Checkpoint, seed uint64) *model.Store {
	t.Helper()
	store := model.NewStore()
	if err := m.LoadVariables(store, ck, seed); err != nil {
		t.Fatal(err)
	}
	return store
}

// skipWithoutBF16Products skips a bfloat16 test on an engine whose bfloat16 products lab.Load
// refuses (backend.CheckMatmulDType: the Go backend).
func skipWithoutBF16Products(t *testing.T) {
	t.Helper()
	if err := backend.CheckMatmulDType(goldenpkg.Backend(t), dtypes.BFloat16); err != nil {
		t.Skipf("lab.Load refuses this engine's bfloat16 products: %v", err)
	}
}

// tokenTypes returns the golden token type ids, or zeros for a family without them.
func tokenTypes(t *testing.T, ck *hfmodel.Checkpoint, goldenFile string) *tensors.Tensor {
	if ck.Config.TypeVocabSize > 1 {
		return golden(t, goldenFile, "token_type_ids")
	}
	ids := golden(t, goldenFile, "input_ids")
	return tensors.FromFlatDataAndDimensions(make([]int32, ids.Shape().Size()), ids.Shape().Dimensions...)
}

// maxAbsDiff compares got with want at the positions where keep is true (nil: everywhere).
func maxAbsDiff(t *testing.T, got, want []float32, keep func(i int) bool) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	worst := 0.0
	for i := range got {
		if keep != nil && !keep(i) {
			continue
		}
		worst = math.Max(worst, math.Abs(float64(got[i])-float64(want[i])))
	}
	return worst
}

// realTokens returns a predicate over a flattened [b, s, h] tensor selecting non-padding positions.
func realTokens(mask []int32, hidden int) func(int) bool {
	return func(i int) bool { return mask[i/hidden] == 1 }
}

func TestLogitsMatchTransformers(t *testing.T) {
	for _, fixture := range []string{"bert-tiny-cls", "roberta-tiny-cls", "distilbert-tiny-cls",
		"bert-tiny-cls-f16", "bert-tiny-cls-bf16", "bert-tiny-cls-sharded", "bert-tiny-cls-noprefix", "bert-tiny-legacy-names"} {
		t.Run(fixture, func(t *testing.T) {
			dir := filepath.Join("testdata", fixture)
			ck, err := hfmodel.Load(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ck.Fresh) > 0 {
				t.Fatalf("fixture has a full head, but Load reports fresh parameters %v", ck.Fresh)
			}
			checkAgainstGolden(t, ck, filepath.Join(dir, "golden.safetensors"))
		})
	}
}

// TestMiniLMMatchesTransformers runs the real all-MiniLM-L6-v2 with the classifier head that
// transformers initialised (testdata/minilm/head.safetensors) on real tweets.
func TestMiniLMMatchesTransformers(t *testing.T) {
	ck := miniLMWithHead(t)
	checkAgainstGolden(t, ck, filepath.Join("testdata", "minilm", "golden.safetensors"))
}

// miniLMWithHead is the real all-MiniLM-L6-v2 with the classifier head that transformers
// initialised for the goldens (testdata/minilm/head.safetensors).
func miniLMWithHead(t *testing.T) *hfmodel.Checkpoint {
	t.Helper()
	dir := testenv.ModelDir(t, "all-MiniLM-L6-v2")
	ck, err := hfmodel.Load(dir, []string{"LABEL_0", "LABEL_1"})
	if err != nil {
		t.Fatal(err)
	}
	headFile := filepath.Join("testdata", "minilm", "head.safetensors")
	for name, path := range map[string]string{"classifier.weight": "/classifier/dense/weights", "classifier.bias": "/classifier/dense/biases"} {
		head := golden(t, headFile, name)
		ck.Tensors[path] = safetensors.Tensor{Shape: head.Shape().Dimensions, Data: tensors.MustCopyFlatData[float32](head)}
	}
	return ck
}

// TestBF16MatmulsStayCloseToTransformers: with bfloat16 matrix products (float32 weights and
// accumulation) the real MiniLM's logits and hidden states stay within bfloat16's precision of
// transformers' float32 ones, and do differ from them (the bfloat16 path is taken).
func TestBF16MatmulsStayCloseToTransformers(t *testing.T) {
	skipWithoutBF16Products(t)
	ck := miniLMWithHead(t)
	goldenFile := filepath.Join("testdata", "minilm", "golden.safetensors")
	logits, hidden := forwardModel(t, encoder.New(ck.Config, 2).WithMatmulDType(dtypes.BFloat16), ck, goldenFile)
	d := maxAbsDiff(t, logits, goldenpkg.Float32s(t, goldenFile, "logits"), nil)
	if d > 2e-2 || d == 0 {
		t.Errorf("bf16 logits differ from transformers' float32 ones by %g (max abs), want within (0, 2e-2]", d)
	}
	mask := tensors.MustCopyFlatData[int32](golden(t, goldenFile, "attention_mask"))
	want := goldenpkg.Float32s(t, goldenFile, "last_hidden_state")
	if d := maxAbsDiff(t, hidden, want, realTokens(mask, ck.Config.HiddenSize)); d > 0.1 {
		t.Errorf("bf16 last hidden state differs from transformers by %g, want <= 0.1 (values of order 1)", d)
	}
}

// checkAgainstGolden runs ck on the golden batch and compares logits and the last hidden state
// of real tokens with transformers' within 1e-4.
func checkAgainstGolden(t *testing.T, ck *hfmodel.Checkpoint, goldenFile string) {
	t.Helper()
	logits, hidden := forward(t, ck, goldenFile)
	if d := maxAbsDiff(t, logits, goldenpkg.Float32s(t, goldenFile, "logits"), nil); d > 1e-4 {
		t.Errorf("logits differ from transformers by %g (max abs), want <= 1e-4", d)
	}
	mask := tensors.MustCopyFlatData[int32](golden(t, goldenFile, "attention_mask"))
	want := goldenpkg.Float32s(t, goldenFile, "last_hidden_state")
	if d := maxAbsDiff(t, hidden, want, realTokens(mask, ck.Config.HiddenSize)); d > 1e-4 {
		t.Errorf("last hidden state (real tokens) differs from transformers by %g, want <= 1e-4", d)
	}
}

// initDraw is one fresh head transformers drew (hf_init_stats.json, written by make_goldens.py).
type initDraw struct {
	Shape      []int   `json:"weight_shape"`
	Mean       float64 `json:"weight_mean"`
	Std        float64 `json:"weight_std"`
	Min        float64 `json:"weight_min"`
	Max        float64 `json:"weight_max"`
	BiasMaxAbs float64 `json:"bias_max_abs"`
}

// TestFreshHeadIsInitialisedLikeTransformers draws new heads of the two shapes recorded in
// hf_init_stats.json -- bert-tiny-bare loaded with 5 labels ([5, 32]), and a hidden-768 model
// ([5, 768]) -- and compares them with transformers' draws: the means and standard deviations
// agree within 5 standard errors of the difference of two samples of N(0, initializer_range), the
// largest weights within 30%, biases are 0; one seed always draws the same head and another
// seed another one; the pretrained encoder keeps its values.
func TestFreshHeadIsInitialisedLikeTransformers(t *testing.T) {
	var stats struct {
		Range   float64  `json:"initializer_range"`
		Tiny    initDraw `json:"from_pretrained_bert_tiny_bare_num_labels_5"`
		Hidden7 initDraw `json:"from_config_hidden_768_num_labels_5"`
	}
	data, err := os.ReadFile(filepath.Join("testdata", "hf_init_stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &stats); err != nil {
		t.Fatal(err)
	}
	labels := []string{"a", "b", "c", "d", "e"}
	tiny, err := hfmodel.Load(filepath.Join("testdata", "bert-tiny-bare"), labels)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ck   *hfmodel.Checkpoint
		want initDraw
	}{
		{"bert-tiny-bare", tiny, stats.Tiny},
		{"hidden 768", hidden768(t, len(labels)), stats.Hidden7},
	} {
		head := func(seed uint64) (weights, biases []float32) {
			m := encoder.New(tc.ck.Config, len(labels))
			store := loadStore(t, m, tc.ck, seed)
			if got := store.GetVariable("/classifier/dense/weights").Shape().Dimensions; !slices.Equal(got, tc.want.Shape) {
				t.Fatalf("%s: head weights %v, transformers drew %v", tc.name, got, tc.want.Shape)
			}
			if tc.ck == tiny { // The encoder keeps the pretrained values.
				want := tc.ck.Tensors["/pooler/dense/weights"].Data
				if got := tensors.MustCopyFlatData[float32](store.GetVariable("/pooler/dense/weights").MustValue()); !slices.Equal(got, want) {
					t.Errorf("%s: pooler weights changed on load", tc.name)
				}
			}
			return tensors.MustCopyFlatData[float32](store.GetVariable("/classifier/dense/weights").MustValue()),
				tensors.MustCopyFlatData[float32](store.GetVariable("/classifier/dense/biases").MustValue())
		}
		weights, biases := head(7)
		var sum, sumSq, maxAbs float64
		for _, w := range weights {
			sum += float64(w)
			sumSq += float64(w) * float64(w)
			maxAbs = math.Max(maxAbs, math.Abs(float64(w)))
		}
		n := float64(len(weights))
		mean, std := sum/n, math.Sqrt(sumSq/n-(sum/n)*(sum/n))
		// Standard errors of a sample's mean and standard deviation: sigma/sqrt(n), sigma/sqrt(2n).
		seMean, seStd := stats.Range/math.Sqrt(n), stats.Range/math.Sqrt(2*n)
		if math.Abs(mean-tc.want.Mean) > 5*math.Sqrt2*seMean || math.Abs(std-tc.want.Std) > 5*math.Sqrt2*seStd {
			t.Errorf("%s: fresh weights mean %.5f std %.5f; transformers drew mean %.5f std %.5f (tolerances %.4f, %.4f)",
				tc.name, mean, std, tc.want.Mean, tc.want.Std, 5*math.Sqrt2*seMean, 5*math.Sqrt2*seStd)
		}
		if theirs := math.Max(-tc.want.Min, tc.want.Max); math.Abs(maxAbs/theirs-1) > 0.3 {
			t.Errorf("%s: largest fresh weight %.4f, transformers' %.4f", tc.name, maxAbs, theirs)
		}
		for _, b := range biases {
			if math.Abs(float64(b)) > tc.want.BiasMaxAbs {
				t.Fatalf("%s: fresh bias %g, transformers' are 0", tc.name, b)
			}
		}
		if again, _ := head(7); !slices.Equal(again, weights) {
			t.Errorf("%s: seed 7 drew two different heads", tc.name)
		}
		if other, _ := head(8); slices.Equal(other, weights) {
			t.Errorf("%s: seeds 7 and 8 drew the same head", tc.name)
		}
	}
}

// hidden768 is a checkpoint of a BERT with hidden size 768, no layers and every parameter but
// the fresh ones (pooler and head) zero: the shape of transformers' from_config draw.
func hidden768(t *testing.T, numLabels int) *hfmodel.Checkpoint {
	t.Helper()
	cfg, err := hfmodel.ParseConfig([]byte(`{"model_type": "bert", "vocab_size": 8, "hidden_size": 768,
		"num_hidden_layers": 0, "num_attention_heads": 12, "max_position_embeddings": 8, "initializer_range": 0.02}`))
	if err != nil {
		t.Fatal(err)
	}
	ck := &hfmodel.Checkpoint{Dir: "hidden-768", Config: cfg, Tensors: map[string]safetensors.Tensor{}}
	for _, p := range hfmodel.Params(cfg, numLabels) {
		if !p.Fresh {
			size := 1
			for _, d := range p.Shape {
				size *= d
			}
			ck.Tensors[p.Path] = safetensors.Tensor{Shape: p.Shape, Data: make([]float32, size)}
		}
	}
	return ck
}

// TestLogitsComputeTheLastLayerAtTheFirstPosition: the heads read the last layer at the first
// position alone, so Logits runs that layer's feed-forward block on one position per example,
// where Encode runs every layer's on all of them.
func TestLogitsComputeTheLastLayerAtTheFirstPosition(t *testing.T) {
	dir := filepath.Join("testdata", "bert-tiny-cls")
	ck, err := hfmodel.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := encoder.New(ck.Config, len(ck.Labels))
	store := loadStore(t, m, ck, 0)
	goldenFile := filepath.Join(dir, "golden.safetensors")
	ids := golden(t, goldenFile, "input_ids")
	b, s := ids.Shape().Dim(0), ids.Shape().Dim(1)
	// feedForwardRows counts the products whose output is the feed-forward block's [rows, intermediate].
	feedForwardRows := func(build func(scope *model.Scope, tokens, mask, typeIDs *Node) *Node) map[int]int {
		exec, err := model.NewExec(goldenpkg.Backend(t), store, build)
		if err != nil {
			t.Fatal(err)
		}
		_, g, err := exec.ExecWithGraph(ids, golden(t, goldenFile, "attention_mask"), tokenTypes(t, ck, goldenFile))
		if err != nil {
			t.Fatal(err)
		}
		rows := map[int]int{} // rows -> products
		for _, n := range g.Nodes() {
			if shape := n.Shape(); n.Type() == NodeTypeDotGeneral && shape.Rank() == 2 && shape.Dim(1) == ck.Config.IntermediateSize {
				rows[shape.Dim(0)]++
			}
		}
		return rows
	}
	layers := ck.Config.NumLayers
	if got, want := feedForwardRows(m.Encode), map[int]int{b * s: layers}; !maps.Equal(got, want) {
		t.Errorf("Encode's feed-forward products by rows: %v, want %v (%d layers of %d x %d tokens)", got, want, layers, b, s)
	}
	if got, want := feedForwardRows(m.Logits), map[int]int{b * s: layers - 1, b: 1}; !maps.Equal(got, want) {
		t.Errorf("Logits' feed-forward products by rows: %v, want %v (the last of %d layers on %d first tokens)", got, want, layers, b)
	}
}
