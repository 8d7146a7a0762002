// Package lab is the facade the notebooks and the tunelab command use: load a pretrained or
// fine-tuned BERT-family classifier with its tokenizer, predict, fine-tune, evaluate, serve.
//
//	clf, err := lab.Load("all-MiniLM-L6-v2", lab.WithLabels("not disaster", "disaster"))
//	preds, err := clf.Predict(ctx, []string{"Forest fire near La Ronge Sask. Canada"})
//
// Each step lives in its own package under lab/ (data, tokenize, hfmodel, encoder, train,
// metrics, serve); this package only wires them together.
package lab

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/internal/atomicfile"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/encoder"
	"github.com/tunelab/tunelab/lab/hfhub"
	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/metrics"
	"github.com/tunelab/tunelab/lab/tokenize"
	"github.com/tunelab/tunelab/lab/train"
)

// DefaultModel is the pretrained model of the offline set-up (models/all-MiniLM-L6-v2).
const DefaultModel = "all-MiniLM-L6-v2"

// Classifier is a text classifier ready to predict: tokenizer, model graph and weights on a
// backend. It is safe for concurrent use.
type Classifier struct {
	// Dir is the checkpoint directory the classifier was loaded from.
	Dir string
	// Labels are the class names, in id order (a regression model's one output: "LABEL_0"
	// unless its config.json names it).
	Labels []string
	// Problem is the model's problem type: what its outputs mean (see Probabilities and
	// Predict) and how it trains.
	Problem   hfmodel.ProblemType
	Tokenizer *tokenize.Tokenizer
	Model     *encoder.Model
	Store     *model.Store
	Backend   compute.Backend
	// Notes say what loading did that a user should know (a freshly initialised head, ...).
	Notes []string

	mu        sync.Mutex
	predictor *train.Predictor
	// devices names the devices predictions are split across (train.Config.Devices).
	devices string
}

// options of Load.
type options struct {
	labels      []string
	backend     string
	maxLength   int
	seed        uint64
	progress    io.Writer
	matmulDType dtypes.DType
	problem     hfmodel.ProblemType
	devices     string
}

// Option configures Load.
type Option func(*options)

// WithLabels names the classes; required when the checkpoint has no head (a pretrained encoder).
// A checkpoint with a head defaults to its config.json's id2label, else to transformers' names
// LABEL_0, LABEL_1, ... (hfmodel.DefaultLabels).
func WithLabels(labels ...string) Option { return func(o *options) { o.labels = labels } }

// WithProblem sets the problem type (default: config.json's problem_type, else regression for
// one label and single-label classification for more). A regression model has one output,
// named "LABEL_0" as transformers names it unless WithLabels or config.json says otherwise; a
// multi-label model needs its class names. Saving writes it into config.json.
func WithProblem(p hfmodel.ProblemType) Option { return func(o *options) { o.problem = p } }

// WithBackend selects the backend ("go", "xla:cpu", "xla:cuda", ...; default: $GOMLX_BACKEND, else
// backend.Default).
func WithBackend(config string) Option { return func(o *options) { o.backend = config } }

// WithMaxLength truncates texts to n tokens (default: the smaller of 512 and the model's limit).
func WithMaxLength(n int) Option { return func(o *options) { o.maxLength = n } }

// WithSeed seeds the initialisation of a fresh classification head (default 42).
func WithSeed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// WithDevices splits each batch of predictions across the devices spec names, as
// train.Config.Devices does ("": one device on the CPU, every device of an accelerator).
func WithDevices(spec string) Option { return func(o *options) { o.devices = spec } }

// WithMatmulDType sets the dtype the encoder's matrix products read their operands in
// (encoder.Model.WithMatmulDType; weights and sums stay float32). The default (and
// dtypes.InvalidDType) is the engine's (backend.MatmulDType): bfloat16 on XLA's CPU plugin
// where the CPU has AMX or AVX512_BF16, within bfloat16's precision of the float32 results;
// dtypes.Float32 computes as transformers does, which the parity tests check.
func WithMatmulDType(dtype dtypes.DType) Option { return func(o *options) { o.matmulDType = dtype } }

// WithProgress reports downloads from the Hugging Face Hub to w.
func WithProgress(w io.Writer) Option { return func(o *options) { o.progress = w } }

// Load resolves nameOrDir (a directory, a model under models/, or a Hugging Face Hub name) and
// loads it as a classifier.
func Load(ctx context.Context, nameOrDir string, opts ...Option) (*Classifier, error) {
	o := options{seed: 42}
	for _, opt := range opts {
		opt(&o)
	}
	dir, err := hfhub.Resolve(ctx, nameOrDir, hfhub.ResolveOptions{Progress: o.progress})
	if err != nil {
		return nil, err
	}
	ck, err := loadCheckpoint(dir, o)
	if err != nil {
		return nil, err
	}
	tok, err := tokenize.Load(dir)
	if err != nil {
		return nil, err
	}
	maxLength := o.maxLength
	if maxLength == 0 {
		maxLength = min(512, ck.Config.MaxPositionEmbeddings)
		if m := tok.ModelMaxLength(); m > 0 {
			maxLength = min(maxLength, m)
		}
	}
	if ck.Config.Family == hfmodel.RoBERTa && maxLength > ck.Config.MaxPositionEmbeddings-ck.Config.PadTokenID-1 {
		maxLength = ck.Config.MaxPositionEmbeddings - ck.Config.PadTokenID - 1 // RoBERTa's positions start at pad+1.
	}
	b, err := backend.New(o.backend)
	if err != nil {
		return nil, err
	}
	if o.matmulDType == dtypes.InvalidDType {
		o.matmulDType = backend.MatmulDType(b)
	}
	if err := backend.CheckMatmulDType(b, o.matmulDType); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	c := &Classifier{
		Dir:       dir,
		Labels:    ck.Labels,
		Tokenizer: tok.WithMaxLength(maxLength).WithPadding(tokenize.PadToBuckets(tokenize.BucketLengths(maxLength)...)),
		Model:     encoder.New(ck.Config, len(ck.Labels)).WithMatmulDType(o.matmulDType),
		Store:     model.NewStore(),
		Backend:   b,
		devices:   o.devices,
	}
	c.Problem = c.Model.Problem()
	if err := c.Model.LoadVariables(c.Store, ck, o.seed); err != nil {
		return nil, err
	}
	if len(ck.Fresh) > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("%s has no trained classification head: %v are newly initialised; fine-tune before trusting its predictions", nameOrDir, ck.Fresh))
	}
	return c, nil
}

// loadCheckpoint loads dir with o's labels and problem type; the config of the result names the
// resolved problem type (except a single-label classifier's whose config.json named none, which
// transformers reads as single-label anyway).
func loadCheckpoint(dir string, o options) (*hfmodel.Checkpoint, error) {
	labels := o.labels
	if o.problem == hfmodel.Regression && labels == nil {
		cfg, err := hfmodel.ReadConfig(dir)
		if err != nil {
			return nil, err
		}
		if len(cfg.Labels) != 1 {
			labels = []string{"LABEL_0"}
		}
	}
	ck, err := hfmodel.Load(dir, labels)
	if err != nil {
		return nil, err
	}
	problem := hfmodel.ResolveProblemType(cmp.Or(o.problem, ck.Config.ProblemType), len(ck.Labels), true)
	if problem == hfmodel.Regression && len(ck.Labels) != 1 {
		return nil, fmt.Errorf("%s: a regression model has one output, not %d labels %q", dir, len(ck.Labels), ck.Labels)
	}
	if problem != hfmodel.SingleLabel || ck.Config.ProblemType != "" {
		ck.Config = ck.Config.WithProblemType(problem)
	}
	return ck, nil
}

// inferenceBatch is the most texts one forward pass takes.
const inferenceBatch = 32

// Probabilities returns the model's outputs [len(texts)][len(Labels)] for each text, run as
// evaluation runs (train.Predictor) and read as its Problem says (train.Scores): the softmax
// class probabilities of a single-label classifier, each class's independent sigmoid
// probability for a multi-label one, the predicted value of a regression model.
func (c *Classifier) Probabilities(ctx context.Context, texts []string) ([][]float32, error) {
	d, err := train.Encode(c.Tokenizer, texts, nil)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.predictorLocked()
	if err != nil {
		return nil, err
	}
	logits, err := p.Logits(ctx, d, inferenceBatch)
	if err != nil {
		return nil, err
	}
	probs := make([][]float32, len(logits))
	for i, row := range logits {
		probs[i] = train.Scores(c.Model.Problem(), row)
	}
	return probs, nil
}

// predictorLocked returns the classifier's Predictor, made on first use; c.mu must be held.
func (c *Classifier) predictorLocked() (*train.Predictor, error) {
	if c.predictor == nil {
		p, err := train.NewPredictor(c.Backend, c.Model, c.Store, c.devices)
		if err != nil {
			return nil, err
		}
		c.predictor = p
	}
	return c.predictor, nil
}

// Warm compiles the forward pass for every input shape that Probabilities uses for batches of
// up to maxTexts texts (at most 32), so that on XLA, which compiles a program per shape, no
// request waits for a compilation. It returns the number of shapes.
func (c *Classifier) Warm(ctx context.Context, maxTexts int) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.predictorLocked()
	if err != nil {
		return 0, err
	}
	shapes := p.WarmShapes(min(maxTexts, inferenceBatch), c.Tokenizer.MaxLength())
	for _, shape := range shapes {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := p.Compile(shape[0], shape[1]); err != nil {
			return 0, err
		}
	}
	return len(shapes), nil
}

// Prediction is what the model says of one text. Its JSON depends on the problem type:
//
//	{"label": "disaster", "scores": {"not disaster": 0.1, "disaster": 0.9}}  single-label
//	{"score": 7.8}                                                         regression
//	{"labels": ["news"], "scores": {"news": 0.8, "sports": 0.3}}           multi-label
type Prediction struct {
	Problem hfmodel.ProblemType `json:"-"`
	// Label is a single-label classifier's most probable class.
	Label string `json:"label,omitempty"`
	// Labels are a multi-label classifier's classes whose sigmoid is above
	// metrics.DefaultThreshold (0.5), in label order; empty when none is.
	Labels []string `json:"labels,omitempty"`
	// Score is a regression model's predicted value.
	Score float64 `json:"score,omitempty"`
	// Scores map every label to its softmax probability (single-label) or sigmoid (multi-label).
	Scores map[string]float64 `json:"scores,omitempty"`
}

// MarshalJSON writes the fields of p's problem type (see Prediction).
func (p Prediction) MarshalJSON() ([]byte, error) {
	switch p.Problem {
	case hfmodel.Regression:
		return json.Marshal(struct {
			Score float64 `json:"score"`
		}{p.Score})
	case hfmodel.MultiLabel:
		return json.Marshal(struct {
			Labels []string           `json:"labels"`
			Scores map[string]float64 `json:"scores"`
		}{append([]string{}, p.Labels...), p.Scores})
	}
	return json.Marshal(struct {
		Label  string             `json:"label"`
		Scores map[string]float64 `json:"scores"`
	}{p.Label, p.Scores})
}

// Predict runs the model on texts.
func (c *Classifier) Predict(ctx context.Context, texts []string) ([]Prediction, error) {
	probs, err := c.Probabilities(ctx, texts)
	if err != nil {
		return nil, err
	}
	preds := make([]Prediction, len(probs))
	for i, p := range probs {
		preds[i].Problem = c.Problem
		if c.Problem == hfmodel.Regression {
			preds[i].Score = float64(p[0])
			continue
		}
		preds[i].Scores = make(map[string]float64, len(p))
		for j, v := range p {
			preds[i].Scores[c.Labels[j]] = float64(v)
		}
		if c.Problem == hfmodel.MultiLabel {
			for j, on := range metrics.Threshold([][]float32{p}, metrics.DefaultThreshold)[0] {
				if on {
					preds[i].Labels = append(preds[i].Labels, c.Labels[j])
				}
			}
			continue
		}
		preds[i].Label = c.Labels[metrics.ArgMax(p)]
	}
	return preds, nil
}

// Save writes the classifier as a Hugging Face directory that transformers'
// AutoModelForSequenceClassification and AutoTokenizer load: config.json, model.safetensors and
// the tokenizer files.
func (c *Classifier) Save(dir string) error {
	tensors, err := c.Model.Tensors(c.Store)
	if err != nil {
		return err
	}
	if err := hfmodel.Save(dir, c.Model.Config(), c.Labels, tensors); err != nil {
		return err
	}
	for _, name := range hfmodel.TokenizerFiles {
		data, err := os.ReadFile(filepath.Join(c.Dir, name))
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}
