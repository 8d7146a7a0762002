// Package encoder builds BERT-family text classifiers as GoMLX graphs: a post-LayerNorm encoder
// from GoMLX's layers (with the variable layout of its ml/zoo/transformer), configured from a
// Hugging Face config.json, topped with the sequence-classification head each family defines in
// transformers:
//
//   - BERT (MiniLM, bge, e5):  pooler (dense + tanh on [CLS]) -> dropout -> classifier
//   - RoBERTa:                 dropout -> dense -> tanh -> dropout -> out_proj, on <s>
//   - DistilBERT:              pre_classifier -> ReLU -> dropout -> classifier, on [CLS]
//
// Shapes use b = batch, s = sequence (padded), h = hidden size, c = number of classes.
// Padding: mask[i, j] is 1 for a real token and 0 for padding; padded keys are never attended to,
// and padded positions' outputs are never read.
package encoder

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/layers/attention/pos"
	"github.com/gomlx/gomlx/ml/layers/norm"
	"github.com/gomlx/gomlx/ml/model"
	mltransformer "github.com/gomlx/gomlx/ml/zoo/transformer"

	"github.com/tunelab/tunelab/lab/hfmodel"
)

// Model is the graph-building configuration of a classifier. Create it with New and adjust it
// with the With* methods before building graphs.
type Model struct {
	cfg       *hfmodel.Config
	numLabels int

	hiddenDropout, attentionDropout, classifierDropout float64

	// matmulDType is the dtype the encoder's matrix products read their operands in; they
	// accumulate and return float32, and the weights stay float32.
	matmulDType dtypes.DType
}

// New returns the classifier described by cfg with numLabels classes, with the dropout rates of
// config.json.
func New(cfg *hfmodel.Config, numLabels int) *Model {
	return (&Model{cfg: cfg, numLabels: numLabels, matmulDType: dtypes.Float32}).WithDropout(nil)
}

// WithMatmulDType makes the encoder layers' matrix products read their operands as dtype
// (dtypes.BFloat16: twice the throughput on CPUs with AVX512_BF16 or AMX) while accumulating
// and returning float32 and keeping float32 weights (mixed precision, as torch's autocast).
// The default, float32, is what the parity tests check against transformers.
func (m *Model) WithMatmulDType(dtype dtypes.DType) *Model {
	m.matmulDType = dtype
	return m
}

// MatmulDType is the dtype the matrix products read their operands in (see WithMatmulDType).
func (m *Model) MatmulDType() dtypes.DType { return m.matmulDType }

// WithDropout overrides every dropout rate (hidden, attention and classifier) with *rate; nil
// restores config.json's rates.
func (m *Model) WithDropout(rate *float64) *Model {
	if rate == nil {
		m.hiddenDropout, m.attentionDropout, m.classifierDropout = m.cfg.HiddenDropout, m.cfg.AttentionDropout, m.cfg.ClassifierDropout
	} else {
		m.hiddenDropout, m.attentionDropout, m.classifierDropout = *rate, *rate, *rate
	}
	return m
}

// Config returns the checkpoint configuration the model was built from.
func (m *Model) Config() *hfmodel.Config { return m.cfg }

// NumLabels is the number of classes c.
func (m *Model) NumLabels() int { return m.numLabels }

// activationType maps config.json's hidden_act to GoMLX: "gelu" is the exact erf GELU in
// transformers, "gelu_new" and "gelu_pytorch_tanh" the tanh approximation.
func activationType(name string) activation.Type {
	switch name {
	case "gelu":
		return activation.TypeGelu
	case "gelu_new", "gelu_pytorch_tanh":
		return activation.TypeGeluApprox
	case "relu":
		return activation.TypeRelu
	case "silu", "swish":
		return activation.TypeSilu
	}
	panic(fmt.Sprintf("unsupported activation %q", name)) // hfmodel.ParseConfig rejects others
}

// embedder configures GoMLX's transformer for its token (and token type) embedding tables; the
// layers on top are built by layer.
func (m *Model) embedder(scope *model.Scope) *mltransformer.Model {
	tm := mltransformer.New(scope).WithVocabSize(m.cfg.VocabSize).WithEmbedDim(m.cfg.HiddenSize)
	if m.cfg.TypeVocabSize > 0 {
		tm.WithTokenTypeEmbedding(m.cfg.TypeVocabSize)
	}
	return tm
}

// Encode returns the last hidden state [b, s, h] for tokens [b, s] (int32), mask [b, s] (int32,
// 1 = token, 0 = padding) and typeIDs [b, s] (int32 token type ids, the segment of each token;
// nil means all 0, as for a single text).
//
// The embedding stage is built here rather than by the transformer's AllLayers, which takes one
// token type for the whole batch: BERT adds a per-token type embedding (text pairs) and drops out
// the normalised embeddings.
func (m *Model) Encode(scope *model.Scope, tokens, mask, typeIDs *Node) *Node {
	return m.encode(scope, tokens, mask, typeIDs, false)
}

// encode is Encode; with firstOnly the last layer computes the first position's output alone
// and the result is [b, 1, h] (see layer).
func (m *Model) encode(scope *model.Scope, tokens, mask, typeIDs *Node, firstOnly bool) *Node {
	realToken := ConvertDType(mask, dtypes.Bool)
	positions := ConvertDType(IotaLike(tokens, 1), dtypes.Int32)
	if m.cfg.Family == hfmodel.RoBERTa {
		// RoBERTa numbers real tokens from padding_idx+1 and gives padding position padding_idx.
		pad := BroadcastLike(Scalar(tokens.Graph(), dtypes.Int32, m.cfg.PadTokenID), positions)
		positions = Where(realToken, AddScalar(positions, m.cfg.PadTokenID+1), pad)
	}
	if typeIDs == nil && m.cfg.TypeVocabSize > 0 {
		typeIDs = ZerosLike(tokens)
	}
	x := m.embedder(scope).EmbedTokensWithType(tokens, typeIDs)
	x = pos.NewLearned(scope, m.cfg.MaxPositionEmbeddings, m.cfg.HiddenSize).PreEncode(x, positions, 1)
	x = norm.LayerNorm(scope.In("embed_norm"), x, -1).Epsilon(m.cfg.LayerNormEps).Done()
	x = m.dropout(scope.In("embed_dropout"), x, m.hiddenDropout)
	// Additive key mask [b, 1, 1, s], as transformers builds it: the lowest float32 for padding
	// gives exact zeros after the softmax (and a finite uniform row for an all-padding example).
	g := tokens.Graph()
	keyBias := Where(realToken, ScalarZero(g, x.DType()), Scalar(g, x.DType(), -math.MaxFloat32))
	keyBias = Reshape(keyBias, tokens.Shape().Dim(0), 1, 1, tokens.Shape().Dim(1))
	for i := range m.cfg.NumLayers {
		x = m.layer(scope.In("layer_%d", i), x, keyBias, firstOnly && i == m.cfg.NumLayers-1)
	}
	return x
}

// layer is one post-LayerNorm encoder layer, x [b, s, h] -> [b, q, h], with the variables of
// GoMLX's transformer layer (ForwardLayer), so checkpoints map the same way, and the dropout of
// transformers: on the attention probabilities (attention_probs_dropout_prob), and on each
// sublayer's output before its residual sum (hidden_dropout_prob; DistilBERT drops only the
// feed-forward output).
//
// It differs in how attention is laid out: GoMLX's layer contracts the head axis of queries and
// keys in place ("bqhd,bkhd->bqhk"), which the Go backend runs as one short dot product per
// score, with a horizontal sum each, plus transposes of the [b, s, heads, s] scores. Here keys
// are transposed once to [b, heads, d, s] so both attention matmuls have the plain [m, k] x
// [k, n] layout that the backend's vectorised kernels handle best, and the softmax gets an
// additive mask so it runs as one fused op.
//
// Training lays the values out as [b, heads, d, s] instead: the gradient of the probabilities
// then contracts d (32 or 64) in that same fast layout, rather than as one short dot product per
// probability, which made it the costliest matmul of the step; the forward product it slows
// down costs less than that.
//
// q is s, or 1 with firstOnly: then only the first position's query attends (to every key), and
// only its output goes through the feed-forward block. A classification head reads nothing else
// of the last layer, so its logits and gradients are those of the whole layer, for about 5/6 less
// of that layer's products (a sixth of MiniLM's 6 layers, a twelfth of BERT-base's).
func (m *Model) layer(scope *model.Scope, x, keyBias *Node, firstOnly bool) *Node {
	c := m.cfg
	b := x.Shape().Dim(0)
	heads, d := c.NumHeads, c.HeadDim()
	mha := scope.In("attn").In("MultiHeadAttention")
	split := func(name string, in *Node, permutation ...int) *Node {
		y := m.linear(mha.In("%s", name), in, heads*d)
		return TransposeAllAxes(Reshape(y, b, in.Shape().Dim(1), heads, d), permutation...)
	}
	queried := x // [b, q, h]: the positions whose outputs are computed
	if firstOnly {
		queried = Slice(x, AxisRange(), AxisRange(0, 1))
	}
	q := queried.Shape().Dim(1)
	query := MulScalar(split("query", queried, 0, 2, 1, 3), 1/math.Sqrt(float64(d))) // [b, heads, q, d]
	keyT := split("key", x, 0, 2, 3, 1)                                              // [b, heads, d, s]
	scores := m.dot(query, []int{3}, []int{0, 1}, keyT, []int{2}, []int{0, 1})       // [b, heads, q, s]
	probs := Softmax(Add(scores, keyBias), -1)
	probs = m.dropout(mha, probs, m.attentionDropout)
	var context *Node // [b, heads, q, d]
	if scope.IsTraining(x.Graph()) {
		valueT := split("value", x, 0, 2, 3, 1) // [b, heads, d, s]
		context = m.dot(probs, []int{3}, []int{0, 1}, valueT, []int{3}, []int{0, 1})
	} else {
		value := split("value", x, 0, 2, 1, 3) // [b, heads, s, d]
		context = m.dot(probs, []int{3}, []int{0, 1}, value, []int{2}, []int{0, 1})
	}
	context = Reshape(TransposeAllAxes(context, 0, 2, 1, 3), b, q, heads*d)
	attn := m.linear(mha.In("output"), context, c.HiddenSize)
	if c.Family != hfmodel.DistilBERT {
		attn = m.dropout(scope.In("attn_dropout"), attn, m.hiddenDropout)
	}
	x = norm.LayerNorm(scope.In("norm1"), Add(queried, attn), -1).Epsilon(c.LayerNormEps).Done()

	ff := activation.Apply(activationType(c.HiddenAct), m.linear(scope.In("ff1"), x, c.IntermediateSize))
	ff = m.dropout(scope.In("ff_dropout"), m.linear(scope.In("ff2"), ff, c.HiddenSize), m.hiddenDropout)
	x = Add(x, ff)
	return norm.LayerNorm(scope.In("norm2"), x, -1).Epsilon(c.LayerNormEps).Done()
}

// dropout is torch's nn.Dropout while training: each element of x is zeroed with probability
// rate and the others are scaled by 1/(1-rate). Its random bits are not GoMLX's layers.Dropout
// ones: XLA's CPU expansion of those Philox draws took 4.2 ns an element, 7-11% of a MiniLM
// training step at 32 x 128; here each element's bits are a keyed hash of its index (see
// randomBits), keyed afresh on every call from the store's random state.
func (m *Model) dropout(scope *model.Scope, x *Node, rate float64) *Node {
	g := x.Graph()
	if rate <= 0 || !scope.IsTraining(g) {
		return x
	}
	if rate >= 1 {
		return ZerosLike(x)
	}
	key := scope.RandomIntN(g, uint32(math.MaxUint32), shapes.Make(dtypes.Uint32, 2))
	// Dropped with probability rate, rounded to a multiple of 2^-32: bits below rate * 2^32.
	threshold := Scalar(g, dtypes.Uint32, uint32(math.Round(rate*(1<<32))))
	kept := Where(LessThan(randomBits(key, x.Shape().Dimensions), threshold), ZerosLike(x), x)
	return DivScalar(kept, 1-rate)
}

// randomBits returns uint32 random bits of shape dims: element i (row-major) is
// hash(hash(i + key[0]) ^ key[1]), hash being lowbias32, a bijection of uint32 in which every
// input bit flips each output bit with probability close to 1/2, so distinct keys give unrelated
// streams and neighbouring elements unrelated bits (TestDropoutDropsAtTheRate counts both).
// key: [2] uint32.
func randomBits(key *Node, dims []int) *Node {
	g := key.Graph()
	counter := IotaFull(g, shapes.Make(dtypes.Uint32, dims...))
	word := func(i int) *Node { return Reshape(Slice(key, AxisElem(i))) }
	return lowbias32(BitwiseXor(lowbias32(Add(counter, word(0))), word(1)))
}

// lowbias32 is Chris Wellons' integer hash x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15;
// x *= 0x846ca68b; x ^= x >> 16 (https://nullprogram.com/blog/2018/07/31/), elementwise on
// uint32 (products wrap around).
func lowbias32(x *Node) *Node {
	g := x.Graph()
	mix := func(x *Node, shift uint32) *Node { return BitwiseXor(x, BitwiseShiftRightLogicalScalar(x, shift)) }
	x = Mul(mix(x, 16), Scalar(g, dtypes.Uint32, uint32(0x7feb352d)))
	x = Mul(mix(x, 15), Scalar(g, dtypes.Uint32, uint32(0x846ca68b)))
	return mix(x, 16)
}

// Logits returns the classification logits [b, c] for tokens, mask and typeIDs (see Encode).
// Every family's head reads the last layer at the first position alone, which is all that
// layer computes here.
func (m *Model) Logits(scope *model.Scope, tokens, mask, typeIDs *Node) (logits *Node) {
	hidden := m.encode(scope, tokens, mask, typeIDs, true)       // [b, 1, h], or [b, s, h] without layers
	first := Squeeze(Slice(hidden, AxisRange(), AxisElem(0)), 1) // [b, h]: [CLS] or <s>
	drop := func(name string, x *Node) *Node { return m.dropout(scope.In("%s", name), x, m.classifierDropout) }
	h := m.cfg.HiddenSize
	switch m.cfg.Family {
	case hfmodel.BERT:
		pooled := Tanh(linear(scope.In("pooler"), first, h))
		logits = linear(scope.In("classifier"), drop("classifier_dropout", pooled), m.numLabels)
	case hfmodel.RoBERTa:
		head := scope.In("classifier")
		x := Tanh(linear(head.In("dense"), drop("features_dropout", first), h))
		logits = linear(head.In("out_proj"), drop("classifier_dropout", x), m.numLabels)
	default: // DistilBERT
		x := activation.Relu(linear(scope.In("pre_classifier"), first, h))
		logits = linear(scope.In("classifier"), drop("classifier_dropout", x), m.numLabels)
	}
	return logits
}

// linear is nn.Linear with PyTorch's weight layout [out, in].
func linear(scope *model.Scope, x *Node, out int) *Node {
	return layers.DenseWithLayout(scope, x, compute.DenseLayoutOutputsInput, true, out)
}

// linear is an encoder layer's nn.Linear: x [..., in] -> [..., out], in the model's matmul
// dtype. In float32 it is layers.DenseWithLayout; otherwise the same variables (dense/weights
// [out, in], dense/biases [out]) are read as matmulDType and the product accumulates in float32.
func (m *Model) linear(scope *model.Scope, x *Node, out int) *Node {
	if m.matmulDType == dtypes.Float32 {
		return linear(scope, x, out)
	}
	scope = scope.In("dense")
	in := x.Shape().Dim(-1)
	weights := scope.VariableWithShape("weights", shapes.Make(x.DType(), out, in)).NodeValue(x.Graph())
	biases := scope.VariableWithShape("biases", shapes.Make(x.DType(), out)).NodeValue(x.Graph())
	y := m.dot(x, []int{x.Rank() - 1}, nil, weights, []int{1}, nil)
	return Add(y, ExpandLeftToRank(biases, y.Rank()))
}

// dot is DotGeneral with the operands read as the model's matmul dtype and a float32 result.
func (m *Model) dot(lhs *Node, lhsContracting, lhsBatch []int, rhs *Node, rhsContracting, rhsBatch []int) *Node {
	if m.matmulDType == dtypes.Float32 {
		return DotGeneral(lhs, lhsContracting, lhsBatch, rhs, rhsContracting, rhsBatch)
	}
	return Dot(ConvertDType(lhs, m.matmulDType), ConvertDType(rhs, m.matmulDType)).
		WithAccumulatorDType(m.matmulDType).WithOutputDType(dtypes.Float32).
		General(lhsContracting, lhsBatch, rhsContracting, rhsBatch)
}
