package hfmodel

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/lab/safetensors"
)

const fixtures = "../encoder/testdata"

func TestLoadReportsFreshHeadLikeTransformers(t *testing.T) {
	ck, err := Load(filepath.Join(fixtures, "bert-tiny-bare"), []string{"a", "b", "c", "d", "e"})
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Bare struct {
			Fresh []string `json:"newly_initialised"`
		} `json:"from_pretrained_bert_tiny_bare_num_labels_5"`
	}
	data, err := os.ReadFile(filepath.Join(fixtures, "hf_init_stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &stats); err != nil {
		t.Fatal(err)
	}
	fresh := slices.Sorted(slices.Values(ck.Fresh))
	if !slices.Equal(fresh, stats.Bare.Fresh) {
		t.Errorf("fresh parameters %v, transformers initialised %v", fresh, stats.Bare.Fresh)
	}
	if got := ck.Config.Raw["label2id"].(map[string]any)["c"]; got != 2 {
		t.Errorf("label2id[c] = %v, want 2", got)
	}
}

func TestSaveThenLoadRoundTrips(t *testing.T) {
	src, err := Load(filepath.Join(fixtures, "roberta-tiny-cls"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Save(dir, src.Config, []string{"no", "yes"}, src.Tensors); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Labels, []string{"no", "yes"}) {
		t.Errorf("labels after save = %v", back.Labels)
	}
	if back.Config.Raw["architectures"].([]any)[0] != "RobertaForSequenceClassification" {
		t.Errorf("architectures = %v", back.Config.Raw["architectures"])
	}
	for path, want := range src.Tensors {
		if got := back.Tensors[path]; !slices.Equal(got.Data, want.Data) || !slices.Equal(got.Shape, want.Shape) {
			t.Errorf("%s differs after a save and load", path)
		}
	}
	// The names must be the ones transformers writes: compare with the fixture it saved.
	orig, err := safetensors.Read(filepath.Join(fixtures, "roberta-tiny-cls", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	saved, err := safetensors.Read(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range orig.Names() {
		if !slices.Contains(saved.Names(), name) && !ignoredName(RoBERTa, canonicalName(RoBERTa, name)) {
			t.Errorf("saved checkpoint lacks %q, which transformers wrote", name)
		}
	}
}

// brokenCopy copies the bert-tiny-cls fixture into a temp dir, letting edit change its tensors
// (by Hugging Face name) before they are written.
func brokenCopy(t *testing.T, edit func(named map[string]safetensors.Tensor)) string {
	t.Helper()
	src := filepath.Join(fixtures, "bert-tiny-cls")
	st, err := safetensors.Read(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]safetensors.Tensor{}
	for _, name := range st.Names() {
		if named[name], err = st.Tensor(name); err != nil {
			t.Fatal(err)
		}
	}
	edit(named)
	dir := t.TempDir()
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), named, nil); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(src, "config.json"), filepath.Join(dir, "config.json"))
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// withoutID2Label copies the fixture with config.json stripped of id2label and label2id, as
// transformers 5 saves a classifier whose labels are the default ones, and extra fields set.
func withoutID2Label(t *testing.T, fixture string, extra map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := ReadConfig(filepath.Join(fixtures, fixture))
	if err != nil {
		t.Fatal(err)
	}
	delete(cfg.Raw, "id2label")
	delete(cfg.Raw, "label2id")
	maps.Copy(cfg.Raw, extra)
	data, err := json.Marshal(cfg.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(fixtures, fixture, "model.safetensors"), filepath.Join(dir, "model.safetensors"))
	return dir
}

// TestHeadWithoutID2LabelLoadsLikeTransformers: a *ForSequenceClassification checkpoint whose
// config.json has no id2label keeps its head, with transformers' names for its classes:
// LABEL_0, LABEL_1 (num_labels 2 when absent, as PretrainedConfig), or num_labels of them.
func TestHeadWithoutID2LabelLoadsLikeTransformers(t *testing.T) {
	for _, c := range []struct {
		fixture string
		extra   map[string]any
		want    []string
	}{
		{"roberta-tiny-cls", nil, []string{"LABEL_0", "LABEL_1"}},
		{"bert-tiny-cls", map[string]any{"num_labels": 3.0}, []string{"LABEL_0", "LABEL_1", "LABEL_2"}},
	} {
		ck, err := Load(withoutID2Label(t, c.fixture, c.extra), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.fixture, err)
		}
		if !slices.Equal(ck.Labels, c.want) || len(ck.Fresh) > 0 {
			t.Errorf("%s: labels %q, fresh %v; want %q and the checkpoint's own head", c.fixture, ck.Labels, ck.Fresh, c.want)
		}
		orig, err := Load(filepath.Join(fixtures, c.fixture), nil)
		if err != nil {
			t.Fatal(err)
		}
		for path, want := range orig.Tensors {
			if !slices.Equal(ck.Tensors[path].Data, want.Data) {
				t.Errorf("%s: %s differs from the fixture's", c.fixture, path)
			}
		}
	}
}

// TestSingleFileWinsOverShardsAsInTransformers: a folder with both model.safetensors and a shard
// index loads the single file, as from_pretrained does; loading, Hub snapshots and the Space
// export share that choice (FindWeights).
func TestSingleFileWinsOverShardsAsInTransformers(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		copyFile(t, filepath.Join(fixtures, "bert-tiny-cls-f16", f), filepath.Join(dir, f))
	}
	for _, f := range []string{"model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"} {
		copyFile(t, filepath.Join(fixtures, "bert-tiny-cls-sharded", f), filepath.Join(dir, f))
	}
	w, err := FindWeights(dir)
	if err != nil || w.Index != "" || !slices.Equal(w.Files, []string{"model.safetensors"}) {
		t.Errorf("FindWeights = %+v, %v; want model.safetensors alone", w, err)
	}
	both, err := Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	single, err := Load(filepath.Join(fixtures, "bert-tiny-cls-f16"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sharded, err := Load(filepath.Join(fixtures, "bert-tiny-cls-sharded"), nil)
	if err != nil {
		t.Fatal(err)
	}
	differs := false
	for path, want := range single.Tensors {
		if !slices.Equal(both.Tensors[path].Data, want.Data) {
			t.Fatalf("%s is not model.safetensors' value", path)
		}
		differs = differs || !slices.Equal(sharded.Tensors[path].Data, want.Data)
	}
	if !differs {
		t.Fatal("the f16 and sharded fixtures hold the same values: nothing was compared")
	}
}

func TestLoadErrorsNameFileAndTensor(t *testing.T) {
	truncated := func() string {
		dir := t.TempDir()
		data, err := os.ReadFile(filepath.Join(fixtures, "bert-tiny-cls", "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "model.safetensors"), data[:len(data)*2/3], 0o644)
		copyFile(t, filepath.Join(fixtures, "bert-tiny-cls", "config.json"), filepath.Join(dir, "config.json"))
		return dir
	}
	withConfig := func(config string, files ...string) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644)
		for _, f := range files {
			os.WriteFile(filepath.Join(dir, f), []byte("not really"), 0o644)
		}
		return dir
	}
	cases := []struct {
		name   string
		dir    func() string
		labels []string
		want   []string
	}{
		{"missing tensor", func() string {
			return brokenCopy(t, func(n map[string]safetensors.Tensor) { delete(n, "bert.encoder.layer.1.output.dense.weight") })
		}, nil, []string{`tensor "encoder.layer.1.output.dense.weight" (or "bert.encoder.layer.1.output.dense.weight") is missing`}},
		{"mis-shaped tensor", func() string {
			return brokenCopy(t, func(n map[string]safetensors.Tensor) {
				n["bert.encoder.layer.0.intermediate.dense.bias"] = safetensors.Tensor{Shape: []int{63}, Data: make([]float32, 63)}
			})
		}, nil, []string{"model.safetensors", `tensor "bert.encoder.layer.0.intermediate.dense.bias" has shape [63], config.json implies [64]`}},
		{"head for other labels", func() string { return filepath.Join(fixtures, "bert-tiny-cls") }, []string{"a", "b"},
			[]string{`tensor "classifier.bias" has shape [3] but 2 labels need [2]`, "give 3 labels"}},
		{"truncated file", truncated, nil, []string{"model.safetensors", "past the end of the file", "truncated"}},
		{"pickle only", func() string { return withConfig(`{"model_type": "bert", "vocab_size": 10}`, "pytorch_model.bin") }, []string{"a", "b"},
			[]string{"has pytorch_model.bin but no model.safetensors", "save_pretrained(DIR, safe_serialization=True)"}},
		{"unknown model_type", func() string { return withConfig(`{"model_type": "gpt2"}`) }, nil,
			[]string{"config.json", `model_type "gpt2" is not supported`}},
		{"no labels", func() string { return filepath.Join(fixtures, "bert-tiny-bare") }, nil,
			[]string{"has no classification head (no classifier.weight) and config.json no id2label", "pass the class names"}},
		{"3-class head, no id2label", func() string { return withoutID2Label(t, "bert-tiny-cls", nil) }, nil,
			[]string{`tensor "classifier.bias" has shape [3] but 2 labels need [2]`, "trained for 3 classes", "give 3 labels"}},
		{"bad num_labels", func() string { return withoutID2Label(t, "bert-tiny-cls", map[string]any{"num_labels": 2.5}) }, nil,
			[]string{"config.json: num_labels: expected a positive integer, got 2.5"}},
		{"shard outside the folder", func() string {
			dir := t.TempDir()
			copyFile(t, filepath.Join(fixtures, "bert-tiny-cls", "config.json"), filepath.Join(dir, "config.json"))
			os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map": {"a": "../bert-tiny-cls/model.safetensors"}}`), 0o644)
			return dir
		}, nil, []string{"model.safetensors.index.json", `weight_map["a"] = "../bert-tiny-cls/model.safetensors" is not a .safetensors file name in the model folder`}},
		{"bad JSON", func() string { return withConfig(`{"model_type": "bert",`) }, nil, []string{"config.json: invalid JSON"}},
		{"wrong field type", func() string { return withConfig(`{"model_type": "bert", "vocab_size": "big"}`) }, nil,
			[]string{"vocab_size: expected a number"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.dir(), c.labels)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseConfigFoldsDistilBERTNames(t *testing.T) {
	cfg, err := ReadConfig(filepath.Join(fixtures, "distilbert-tiny-cls"))
	if err != nil {
		t.Fatal(err)
	}
	// Values set by make_goldens.py: dim 32, n_layers 2, n_heads 4, hidden_dim 64.
	if cfg.HiddenSize != 32 || cfg.NumLayers != 2 || cfg.NumHeads != 4 || cfg.IntermediateSize != 64 || cfg.TypeVocabSize != 0 {
		t.Errorf("config = %+v", cfg)
	}
	if len(cfg.Labels) != 4 {
		t.Errorf("labels = %v, want 4", cfg.Labels)
	}
}
