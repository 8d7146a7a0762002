// Package hfmodel reads and writes Hugging Face model folders of the BERT family (BERT, which
// also covers MiniLM, bge and e5; RoBERTa; DistilBERT): config.json with its problem type, the
// safetensors weights (one file, or shards and their index; f32, f16 or bf16, decoded by
// lab/safetensors) and the parameter names each family uses, with or without its
// `bert.`/`roberta.`/`distilbert.` prefix and with the old `gamma`/`beta` LayerNorm names.
// Hugging Face calls such a folder a checkpoint, as Checkpoint (one loaded) does; the
// checkpoint-N folders of a training run are lab/train's.
package hfmodel

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// Family is the architecture family of a checkpoint, from config.json's model_type.
type Family string

const (
	BERT       Family = "bert"
	RoBERTa    Family = "roberta"
	DistilBERT Family = "distilbert"
)

// Config is what tunelab needs of a config.json, with DistilBERT's field names (dim, n_layers,
// ...) folded into BERT's. Raw keeps every field of the file so that saving writes them back.
type Config struct {
	Family                Family
	VocabSize             int
	HiddenSize            int
	NumLayers             int
	NumHeads              int
	IntermediateSize      int
	MaxPositionEmbeddings int
	TypeVocabSize         int // 0 for DistilBERT, which has no token type embeddings.
	PadTokenID            int
	HiddenAct             string
	LayerNormEps          float64
	InitializerRange      float64
	HiddenDropout         float64
	AttentionDropout      float64
	// ClassifierDropout is the dropout before the classification head: BERT and RoBERTa use
	// classifier_dropout, falling back to hidden_dropout_prob; DistilBERT uses seq_classif_dropout.
	ClassifierDropout float64
	// Labels are the class names in id order, from id2label; nil when config.json has none.
	Labels []string
	// ProblemType is problem_type ("" when absent; see ResolveProblemType).
	ProblemType ProblemType

	Raw map[string]any
}

// ReadConfig parses dir/config.json.
func ReadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses the contents of a config.json.
func ParseConfig(data []byte) (*Config, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	f := fields{raw: raw}
	cfg := &Config{Raw: raw, Family: Family(f.str("model_type", ""))}
	switch cfg.Family {
	case BERT, RoBERTa:
		cfg.VocabSize = f.int("vocab_size", 0)
		cfg.HiddenSize = f.int("hidden_size", 768)
		cfg.NumLayers = f.int("num_hidden_layers", 12)
		cfg.NumHeads = f.int("num_attention_heads", 12)
		cfg.IntermediateSize = f.int("intermediate_size", 3072)
		cfg.MaxPositionEmbeddings = f.int("max_position_embeddings", 512)
		cfg.TypeVocabSize = f.int("type_vocab_size", 2)
		cfg.HiddenAct = f.str("hidden_act", "gelu")
		cfg.HiddenDropout = f.float("hidden_dropout_prob", 0.1)
		cfg.AttentionDropout = f.float("attention_probs_dropout_prob", 0.1)
		cfg.ClassifierDropout = f.float("classifier_dropout", cfg.HiddenDropout)
		defaultEps, defaultPad := 1e-12, 0
		if cfg.Family == RoBERTa {
			defaultEps, defaultPad = 1e-5, 1
		}
		cfg.LayerNormEps = f.float("layer_norm_eps", defaultEps)
		cfg.PadTokenID = f.int("pad_token_id", defaultPad)
	case DistilBERT:
		cfg.VocabSize = f.int("vocab_size", 0)
		cfg.HiddenSize = f.int("dim", 768)
		cfg.NumLayers = f.int("n_layers", 6)
		cfg.NumHeads = f.int("n_heads", 12)
		cfg.IntermediateSize = f.int("hidden_dim", 3072)
		cfg.MaxPositionEmbeddings = f.int("max_position_embeddings", 512)
		cfg.HiddenAct = f.str("activation", "gelu")
		cfg.HiddenDropout = f.float("dropout", 0.1)
		cfg.AttentionDropout = f.float("attention_dropout", 0.1)
		cfg.ClassifierDropout = f.float("seq_classif_dropout", 0.2)
		cfg.LayerNormEps = 1e-12 // DistilBERT hard-codes it.
		cfg.PadTokenID = f.int("pad_token_id", 0)
		if f.bool("sinusoidal_pos_embds") {
			f.errs = append(f.errs, "sinusoidal_pos_embds=true is not supported (learned position embeddings only)")
		}
	case "":
		return nil, fmt.Errorf("no model_type: tunelab reads BERT, RoBERTa and DistilBERT checkpoints (model_type %q, %q or %q)", BERT, RoBERTa, DistilBERT)
	default:
		return nil, fmt.Errorf("model_type %q is not supported: tunelab reads BERT-family checkpoints (model_type %q, %q or %q)", cfg.Family, BERT, RoBERTa, DistilBERT)
	}
	cfg.InitializerRange = f.float("initializer_range", 0.02)
	cfg.Labels = f.labels()
	if p, err := parseProblemType(f.str("problem_type", "")); err != nil {
		f.errs = append(f.errs, err.Error())
	} else {
		cfg.ProblemType = p
	}
	if cfg.VocabSize <= 0 {
		f.errs = append(f.errs, "vocab_size must be > 0")
	}
	if cfg.NumHeads > 0 && cfg.HiddenSize%cfg.NumHeads != 0 {
		f.errs = append(f.errs, fmt.Sprintf("hidden size %d is not a multiple of the %d attention heads", cfg.HiddenSize, cfg.NumHeads))
	}
	switch cfg.HiddenAct {
	case "gelu", "relu", "gelu_new", "gelu_pytorch_tanh", "silu", "swish":
	default:
		f.errs = append(f.errs, fmt.Sprintf("activation %q is not supported (gelu, gelu_new, relu, silu)", cfg.HiddenAct))
	}
	if len(f.errs) > 0 {
		return nil, fmt.Errorf("%s", joinErrs(f.errs))
	}
	return cfg, nil
}

// HeadDim is the size of each attention head.
func (c *Config) HeadDim() int { return c.HiddenSize / c.NumHeads }

// WithLabels returns a copy of c whose id2label/label2id are labels (in id order).
func (c *Config) WithLabels(labels []string) *Config {
	out := *c
	out.Labels = append([]string(nil), labels...)
	out.Raw = make(map[string]any, len(c.Raw)+2)
	for k, v := range c.Raw {
		out.Raw[k] = v
	}
	id2label := make(map[string]any, len(labels))
	label2id := make(map[string]any, len(labels))
	for i, l := range labels {
		id2label[strconv.Itoa(i)] = l
		label2id[l] = i
	}
	out.Raw["id2label"], out.Raw["label2id"] = id2label, label2id
	return &out
}

// fields reads typed values out of the raw JSON map, collecting type errors.
type fields struct {
	raw  map[string]any
	errs []string
}

func (f *fields) float(key string, def float64) float64 {
	v, ok := f.raw[key]
	if !ok || v == nil {
		return def
	}
	x, ok := v.(float64)
	if !ok {
		f.errs = append(f.errs, fmt.Sprintf("%s: expected a number, got %v", key, v))
	}
	return x
}

func (f *fields) int(key string, def int) int {
	x := f.float(key, float64(def))
	if x != float64(int(x)) {
		f.errs = append(f.errs, fmt.Sprintf("%s: expected an integer, got %v", key, x))
	}
	return int(x)
}

func (f *fields) str(key, def string) string {
	v, ok := f.raw[key]
	if !ok || v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		f.errs = append(f.errs, fmt.Sprintf("%s: expected a string, got %v", key, v))
	}
	return s
}

func (f *fields) bool(key string) bool {
	b, _ := f.raw[key].(bool)
	return b
}

// labels reads id2label, which must map "0".."n-1" to names.
func (f *fields) labels() []string {
	m, ok := f.raw["id2label"].(map[string]any)
	if !ok || len(m) == 0 {
		return nil
	}
	ids := make([]int, 0, len(m))
	byID := make(map[int]string, len(m))
	for k, v := range m {
		id, err := strconv.Atoi(k)
		name, isStr := v.(string)
		if err != nil || !isStr {
			f.errs = append(f.errs, fmt.Sprintf("id2label: expected \"<int>\": \"<name>\", got %q: %v", k, v))
			return nil
		}
		ids = append(ids, id)
		byID[id] = name
	}
	sort.Ints(ids)
	labels := make([]string, len(ids))
	for i, id := range ids {
		if id != i {
			f.errs = append(f.errs, fmt.Sprintf("id2label: ids must be 0..%d, missing %d", len(ids)-1, i))
			return nil
		}
		labels[i] = byID[id]
	}
	return labels
}

func joinErrs(errs []string) string {
	s := errs[0]
	for _, e := range errs[1:] {
		s += "; " + e
	}
	return s
}
