package hfmodel

import (
	"fmt"
	"strings"
)

// Param is one parameter of a model: its Hugging Face name (without the family prefix), the
// GoMLX variable path it is loaded into, and its shape. Linear weights keep PyTorch's
// [out, in] layout (the encoder reads them transposed), so nothing is transposed on the way.
type Param struct {
	Name  string
	Path  string
	Shape []int
	// Fresh marks parameters that are initialised afresh when a checkpoint lacks them, as Hugging
	// Face does: the sequence-classification head (absent from bare encoders) and BERT's pooler.
	Fresh bool
}

// Params lists every parameter of cfg's family with a sequence-classification head over
// numLabels classes, in the order Hugging Face's state_dict has them.
func Params(cfg *Config, numLabels int) []Param {
	h, ffn := cfg.HiddenSize, cfg.IntermediateSize
	var ps []Param
	add := func(name, path string, shape ...int) {
		ps = append(ps, Param{Name: name, Path: path, Shape: shape})
	}
	linear := func(name, path string, out, in int) {
		add(name+".weight", path+"/weights", out, in)
		add(name+".bias", path+"/biases", out)
	}
	layerNorm := func(name, path string) {
		add(name+".weight", path+"/layer_normalization/gain", h)
		add(name+".bias", path+"/layer_normalization/offset", h)
	}

	add("embeddings.word_embeddings.weight", "/token_embed/embeddings", cfg.VocabSize, h)
	add("embeddings.position_embeddings.weight", "/pos_embed/embeddings", cfg.MaxPositionEmbeddings, h)
	if cfg.TypeVocabSize > 0 {
		add("embeddings.token_type_embeddings.weight", "/token_type_embed/embeddings", cfg.TypeVocabSize, h)
	}
	layerNorm("embeddings.LayerNorm", "/embed_norm")
	for i := range cfg.NumLayers {
		attn := fmt.Sprintf("/layer_%d/attn/MultiHeadAttention", i)
		l := fmt.Sprintf("/layer_%d", i)
		if cfg.Family == DistilBERT {
			p := fmt.Sprintf("transformer.layer.%d.", i)
			linear(p+"attention.q_lin", attn+"/query/dense", h, h)
			linear(p+"attention.k_lin", attn+"/key/dense", h, h)
			linear(p+"attention.v_lin", attn+"/value/dense", h, h)
			linear(p+"attention.out_lin", attn+"/output/dense", h, h)
			layerNorm(p+"sa_layer_norm", l+"/norm1")
			linear(p+"ffn.lin1", l+"/ff1/dense", ffn, h)
			linear(p+"ffn.lin2", l+"/ff2/dense", h, ffn)
			layerNorm(p+"output_layer_norm", l+"/norm2")
			continue
		}
		p := fmt.Sprintf("encoder.layer.%d.", i)
		linear(p+"attention.self.query", attn+"/query/dense", h, h)
		linear(p+"attention.self.key", attn+"/key/dense", h, h)
		linear(p+"attention.self.value", attn+"/value/dense", h, h)
		linear(p+"attention.output.dense", attn+"/output/dense", h, h)
		layerNorm(p+"attention.output.LayerNorm", l+"/norm1")
		linear(p+"intermediate.dense", l+"/ff1/dense", ffn, h)
		linear(p+"output.dense", l+"/ff2/dense", h, ffn)
		layerNorm(p+"output.LayerNorm", l+"/norm2")
	}
	first := len(ps)
	if cfg.Family == BERT {
		linear("pooler.dense", "/pooler/dense", h, h)
	}
	switch cfg.Family {
	case BERT:
		linear("classifier", "/classifier/dense", numLabels, h)
	case RoBERTa:
		linear("classifier.dense", "/classifier/dense/dense", h, h)
		linear("classifier.out_proj", "/classifier/out_proj/dense", numLabels, h)
	case DistilBERT:
		linear("pre_classifier", "/pre_classifier/dense", h, h)
		linear("classifier", "/classifier/dense", numLabels, h)
	}
	for i := first; i < len(ps); i++ {
		ps[i].Fresh = true
	}
	return ps
}

// prefix is the name under which *ForSequenceClassification nests the encoder.
func (f Family) prefix() string { return string(f) + "." }

// canonicalName strips the family prefix and renames the LayerNorm parameters of old
// checkpoints (gamma/beta) to today's weight/bias.
func canonicalName(f Family, name string) string {
	name = strings.TrimPrefix(name, f.prefix())
	if strings.HasSuffix(name, ".gamma") {
		name = strings.TrimSuffix(name, ".gamma") + ".weight"
	} else if strings.HasSuffix(name, ".beta") {
		name = strings.TrimSuffix(name, ".beta") + ".bias"
	}
	return name
}

// ignoredName reports tensors that checkpoints carry but a classifier does not use: buffers
// (position_ids), pre-training heads (masked LM, next sentence prediction) and RoBERTa's pooler,
// which its classification head does not read.
func ignoredName(f Family, name string) bool {
	if f == RoBERTa && strings.HasPrefix(name, "pooler.") {
		return true
	}
	for _, p := range []string{"embeddings.position_ids", "embeddings.token_type_ids", "cls.", "lm_head.", "vocab_transform.", "vocab_layer_norm.", "vocab_projector."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
