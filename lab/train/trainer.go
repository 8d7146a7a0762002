// Package train fine-tunes BERT-family classifiers (lab/encoder) the way the Hugging Face
// Trainer does: mean cross-entropy, AdamW with decoupled weight decay on all but biases and
// LayerNorm weights, global-norm gradient clipping, a warmup + linear/cosine/constant schedule
// computed on the host each step, gradient accumulation, dropout active, length-grouped
// batches padded to a few bucket lengths, periodic evaluation, early stopping, and run
// checkpoints that resume exactly.
//
//	tr, err := train.New(backend, m, store, labels, train.Defaults())
//	res, err := tr.Train(ctx, "runs/tweets", trainSet, evalSet)
package train

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/encoder"
	"github.com/tunelab/tunelab/lab/hfmodel"
)

// Config holds the hyperparameters. Defaults returns transformers' TrainingArguments defaults;
// fields are named after them.
type Config struct {
	LearningRate float64 `json:"learning_rate"`
	// Epochs is num_train_epochs; MaxSteps, when positive, overrides it (max_steps).
	Epochs   int `json:"num_train_epochs"`
	MaxSteps int `json:"max_steps"`
	// BatchSize is the examples of one (micro-)batch, also used for evaluation: on several devices
	// it is split across them (see Devices), so it is transformers' per_device_train_batch_size
	// times the number of devices.
	BatchSize int `json:"per_device_train_batch_size"`
	// WarmupSteps, when positive, overrides WarmupRatio (a fraction of the total steps).
	WarmupSteps int       `json:"warmup_steps"`
	WarmupRatio float64   `json:"warmup_ratio"`
	WeightDecay float64   `json:"weight_decay"`
	Scheduler   Scheduler `json:"lr_scheduler_type"`
	// AdamBeta1, AdamBeta2, AdamEpsilon are the AdamW constants.
	AdamBeta1   float64 `json:"adam_beta1"`
	AdamBeta2   float64 `json:"adam_beta2"`
	AdamEpsilon float64 `json:"adam_epsilon"`
	// MaxGradNorm clips the global gradient norm (0: no clipping).
	MaxGradNorm float64 `json:"max_grad_norm"`
	// GradAccum is gradient_accumulation_steps: micro-batches per optimizer step, each
	// contributing its mean loss / GradAccum.
	GradAccum int `json:"gradient_accumulation_steps"`
	// Dropout, when non-nil, overrides every dropout rate of the model's config.json.
	Dropout *float64 `json:"dropout,omitempty"`
	// Seed drives the epoch orders and the dropout masks.
	Seed uint64 `json:"seed"`
	// LogEvery is logging_steps: the training loss is averaged and logged every LogEvery steps.
	LogEvery int `json:"logging_steps"`
	// EvalEvery evaluates every EvalEvery steps; 0 at the end of each epoch.
	EvalEvery int `json:"eval_steps"`
	// SaveEvery writes a checkpoint every SaveEvery steps; 0 at the end of each epoch.
	SaveEvery int `json:"save_steps"`
	// SaveTotalLimit keeps that many most recent checkpoints, plus the best one (0: keep all).
	SaveTotalLimit int `json:"save_total_limit"`
	// MetricForBest names the evaluation metric (see Eval.Metrics) that picks the best
	// checkpoint and drives early stopping; lower is better for the errors and losses (see
	// LowerIsBetter).
	MetricForBest string `json:"metric_for_best_model"`
	// EarlyStopping stops after that many evaluations without improvement (0: never).
	EarlyStopping int `json:"early_stopping_patience"`
	// Devices names the devices to train and evaluate on (see Devices): "" for the default (every
	// device of an accelerator, one on the CPU), "all", a count "N" or a list "0,1". On several,
	// each batch is split across them (data parallel) and the weights are replicated.
	Devices string `json:"devices,omitempty"`
}

// Defaults returns the Trainer's defaults: lr 5e-5, 3 epochs, batch 8, linear schedule without
// warmup, no weight decay, AdamW (0.9, 0.999, 1e-8), clipping at 1.0, seed 42, keeping 2
// checkpoints, best by evaluation loss. LogEvery is 10 (the Trainer's 500 suits long runs).
func Defaults() Config {
	return Config{LearningRate: 5e-5, Epochs: 3, BatchSize: 8, Scheduler: Linear,
		AdamBeta1: 0.9, AdamBeta2: 0.999, AdamEpsilon: 1e-8, MaxGradNorm: 1, GradAccum: 1,
		Seed: 42, LogEvery: 10, SaveTotalLimit: 2, MetricForBest: "loss"}
}

// Validate reports every hyperparameter out of range, each naming its field.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("train: "+format, args...))
		}
	}
	check(c.LearningRate > 0 && !math.IsInf(c.LearningRate, 0), "learning rate %g: want > 0", c.LearningRate)
	check(c.Epochs > 0 || c.MaxSteps > 0, "epochs %d and max steps %d: want one > 0", c.Epochs, c.MaxSteps)
	check(c.BatchSize > 0, "batch size %d: want > 0", c.BatchSize)
	check(c.GradAccum > 0, "gradient accumulation %d: want > 0", c.GradAccum)
	check(c.WarmupRatio >= 0 && c.WarmupRatio <= 1, "warmup ratio %g: want in [0, 1]", c.WarmupRatio)
	check(c.WarmupSteps >= 0 && c.WeightDecay >= 0 && c.MaxGradNorm >= 0 && c.EarlyStopping >= 0 &&
		c.SaveTotalLimit >= 0 && c.EvalEvery >= 0 && c.SaveEvery >= 0 && c.LogEvery >= 0,
		"negative warmup steps, weight decay, max grad norm, patience, save limit or interval")
	check(c.Dropout == nil || (*c.Dropout >= 0 && *c.Dropout < 1), "dropout %v: want in [0, 1)", c.Dropout)
	if _, err := ParseScheduler(string(c.Scheduler)); err != nil {
		errs = append(errs, fmt.Errorf("train: %w", err))
	}
	if _, err := parseDevices(c.Devices); err != nil {
		errs = append(errs, fmt.Errorf("train: %w", err))
	}
	return errors.Join(errs...)
}

// Trainer fine-tunes one model. It is not safe for concurrent use.
type Trainer struct {
	backend compute.Backend
	model   *encoder.Model
	store   *model.Store
	labels  []string
	cfg     Config
	params  []hfmodel.Param
	opt     AdamW

	devices  []compute.DeviceNum
	parallel *dataParallel // nil on one device

	grads, apply *model.Exec // gradExec's and applyExec's
	predictor    *Predictor
	shapes       backend.Shapes

	progress io.Writer
	hook     func(Progress)
}

// New returns a Trainer of m, whose variables are in store (m.LoadVariables), with class names
// labels (one per class of m), on b. It sets m's dropout rates: cfg.Dropout, or config.json's
// when nil (an earlier trainer's override does not linger). The optimizer's variables are
// created by Train and Resume: evaluating needs none.
func New(b compute.Backend, m *encoder.Model, store *model.Store, labels []string, cfg Config) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(labels) != m.NumLabels() {
		return nil, fmt.Errorf("train: %d label names for a model with %d labels", len(labels), m.NumLabels())
	}
	if m.Problem() == hfmodel.Regression && m.NumLabels() != 1 {
		return nil, fmt.Errorf("train: a regression model with %d outputs: tunelab trains regression on one target (num_labels 1)", m.NumLabels())
	}
	if names := MetricNames(m.Problem(), m.NumLabels()); !slices.Contains(names, cfg.MetricForBest) {
		return nil, fmt.Errorf("train: metric for the best checkpoint %q: a %s model with %d labels is evaluated by %q", cfg.MetricForBest, m.Problem(), m.NumLabels(), names)
	}
	m.WithDropout(cfg.Dropout)
	t := &Trainer{backend: b, model: m, store: store, labels: labels, cfg: cfg,
		params: hfmodel.Params(m.Config(), m.NumLabels()),
		opt: AdamW{Beta1: cfg.AdamBeta1, Beta2: cfg.AdamBeta2, Epsilon: cfg.AdamEpsilon,
			WeightDecay: cfg.WeightDecay, MaxGradNorm: cfg.MaxGradNorm},
		shapes: backend.ShapesFor(b)}
	var err error
	if t.devices, err = Devices(cfg.Devices, b); err != nil {
		return nil, err
	}
	if len(t.devices) > 1 {
		if t.parallel, err = newDataParallel(t.devices); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	for _, p := range t.params {
		if store.GetVariable(p.Path) == nil {
			return nil, fmt.Errorf("train: store has no variable %s (%s): call LoadVariables first", p.Path, p.Name)
		}
	}
	return t, nil
}

// WithProgress writes a progress line (step/total, loss, lr, samples/s, ETA) to w after every
// optimizer step, redrawn in place with a carriage return.
func (t *Trainer) WithProgress(w io.Writer) *Trainer { t.progress = w; return t }

// WithHook calls hook after every optimizer step and every evaluation (for live displays).
func (t *Trainer) WithHook(hook func(Progress)) *Trainer { t.hook = hook; return t }

// Config returns the trainer's hyperparameters.
func (t *Trainer) Config() Config { return t.cfg }

func accumPath(path string) string { return "/accum" + path }

// startAtStepZero readies the store for a run from step 0: zero AdamW moments and gradient
// accumulators, and the dropout generator seeded with Config.Seed. A store keeps what an earlier
// run on the same model left there (creating an existing variable returns it as it is), so every
// run sets them rather than only creating them.
func (t *Trainer) startAtStepZero() error {
	if err := t.opt.ZeroMoments(t.store, t.params); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	for _, p := range t.params {
		if err := setZero(t.store, accumPath(p.Path), p.Shape); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	if err := t.store.SetRNGStateFromSeed(int64(t.cfg.Seed)); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if t.parallel != nil {
		if err := t.parallel.replicate(t.store); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	return nil
}

// setZero sets the non-trainable float32 variable at path to zeros of shape, creating it if
// the store has none.
func setZero(store *model.Store, path string, shape []int) error {
	zeros := tensors.FromShape(shapes.Make(dtypes.Float32, shape...))
	if v := store.GetVariable(path); v != nil {
		return v.SetValue(zeros)
	}
	v, err := store.CreateVariable(path, zeros)
	if err != nil {
		return err
	}
	v.SetTrainable(false)
	return nil
}

// gradExec returns the program of one micro-batch: inputs tokens, mask, typeIDs [b, s], the
// targets (class ids [b] or float targets [b, c], see Dataset.batch) and real [b] (false for the
// padding rows of a short batch); output the mean loss over the real rows. It adds the
// gradients / GradAccum to the accumulators (with GradAccum 1 it sets them to the gradients).
//
// The update is applyExec's, a program of no input shape, compiled once: a run compiles one
// gradient program per padded length, and the update (two kernels per parameter, for the
// norm and AdamW) is about a third of a fused step program's compilation time.
//
// On several devices the graph is the same, of the global batch: XLA splits it by rows (see
// newExec), and sums the devices' partial gradients (an all-reduce) into the replicated
// accumulators.
func (t *Trainer) gradExec() (*model.Exec, error) {
	if t.grads != nil {
		return t.grads, nil
	}
	accum := t.cfg.GradAccum
	e, err := newExec(t.backend, t.store, t.parallel, func(scope *model.Scope, in []*Node) *Node {
		tokens, mask, types, targets, real := in[0], in[1], in[2], in[3], in[4]
		g := tokens.Graph()
		// The accumulators are read first, even where only set: the Go backend (compute v0.1.6)
		// runs the nodes up to the last output's and would not find a parameter made after it.
		accs, sums := make([]*model.Variable, len(t.params)), make([]*Node, len(t.params))
		for i, p := range t.params {
			accs[i] = t.store.GetVariable(accumPath(p.Path))
			sums[i] = accs[i].NodeValue(g)
		}
		t.store.SetTraining(g, true)
		l := encoder.Loss(t.model.Problem(), t.model.Logits(scope, tokens, mask, types), targets, real)
		vars := make([]*Node, len(t.params))
		for i, p := range t.params {
			vars[i] = t.store.GetVariable(p.Path).NodeValue(g)
		}
		for i, grad := range Gradient(l, vars...) {
			if accum > 1 {
				grad = Add(sums[i], DivScalar(grad, float64(accum)))
			}
			accs[i].SetNodeValue(grad)
		}
		t.updateInPlace(g)
		return l
	}, false, 2, 2, 2, 1, 1)
	if err != nil {
		return nil, err
	}
	// A run compiles one program per planned length (planLengths), more than GoMLX's default
	// cache of 32 on the Go backend, where each batch gets about its own length.
	e.SetMaxCache(-1)
	t.grads = e
	return e, nil
}

// applyExec returns the optimizer's program: inputs the float32 scalars of Step; output the
// gradient norm. It clips the accumulated gradients, applies AdamW and, with GradAccum > 1,
// zeroes the accumulators.
func (t *Trainer) applyExec() (*model.Exec, error) {
	if t.apply != nil {
		return t.apply, nil
	}
	e, err := newExec(t.backend, t.store, t.parallel, func(_ *model.Scope, lr, stepSize, sqrtBC2 *Node) *Node {
		g := lr.Graph()
		vars, grads := make([]*Node, len(t.params)), make([]*Node, len(t.params))
		for i, p := range t.params {
			vars[i] = t.store.GetVariable(p.Path).NodeValue(g)
			acc := t.store.GetVariable(accumPath(p.Path))
			grads[i] = acc.NodeValue(g)
			if t.cfg.GradAccum > 1 {
				acc.SetNodeValue(ZerosLike(grads[i]))
			}
		}
		norm := t.opt.Update(t.store, t.params, vars, grads, lr, stepSize, sqrtBC2)
		t.updateInPlace(g)
		return norm
	}, false, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	t.apply = e
	return e, nil
}

// updateInPlace lets XLA write the variables g changes over their old values, on one device
// (several devices' partitioned programs are left as GoMLX builds them).
func (t *Trainer) updateInPlace(g *Graph) {
	if t.parallel == nil {
		backend.UpdateInPlace(g, t.store)
	}
}

// microStep runs the micro-batch of examples idx of d, padded to the smallest of lengths that
// holds it (its longest row's length past them), through gradExec, and returns its mean loss.
func (t *Trainer) microStep(d *Dataset, idx, lengths []int) (meanLoss float64, err error) {
	exec, err := t.gradExec()
	if err != nil {
		return 0, err
	}
	tokens, mask, types, targets, real := d.batch(idx, lengths, t.trainRows(len(idx)))
	return t.scalarOf(exec, tokens, mask, types, targets, real)
}

// applyStep applies the accumulated gradients as optimizer step s and returns their norm.
func (t *Trainer) applyStep(s Step) (gradNorm float64, err error) {
	exec, err := t.applyExec()
	if err != nil {
		return 0, err
	}
	return t.scalarOf(exec, tensors.FromScalar(float32(s.LR)), tensors.FromScalar(float32(s.StepSize)), tensors.FromScalar(float32(s.SqrtBC2)))
}

// scalarOf runs exec, made by newExec, on inputs and returns its float32 scalar output.
func (t *Trainer) scalarOf(exec *model.Exec, inputs ...*tensors.Tensor) (float64, error) {
	args, err := t.parallel.args(inputs...)
	if err != nil {
		return 0, err
	}
	out, err := exec.Exec(args...)
	if err != nil {
		return 0, err
	}
	// On several devices out holds each device's outputs in turn, replicated: the first device's
	// are everyone's.
	return float64(tensors.MustCopyFlatData[float32](out[0])[0]), nil
}

// TrainStep runs one optimizer step (no accumulation) on the examples idx of d, padded to their
// longest row, as step k (1-based) at the peak learning rate, and returns its mean loss and
// gradient norm. Train runs its steps itself: this measures one (bench/train_step).
func (t *Trainer) TrainStep(d *Dataset, idx []int, k int) (meanLoss, gradNorm float64, err error) {
	if k == 1 { // a fresh run: zero optimizer state
		if err := t.startAtStepZero(); err != nil {
			return 0, 0, err
		}
	}
	if meanLoss, err = t.microStep(d, idx, nil); err != nil {
		return 0, 0, err
	}
	gradNorm, err = t.applyStep(t.opt.StepAt(k, t.cfg.LearningRate))
	return meanLoss, gradNorm, err
}

// Progress is a snapshot of a run, given to the hook after each step and evaluation.
type Progress struct {
	Step, TotalSteps int
	// Epoch is fractional: 1.5 is half-way through the second epoch.
	Epoch float64
	// Loss is the step's mean training loss, LR its learning rate, GradNorm the gradient norm
	// before clipping.
	Loss, LR, GradNorm float64
	// SamplesPerSec is the training throughput since the run (or resume) started.
	SamplesPerSec float64
	Elapsed, ETA  time.Duration
	// Eval is set after an evaluation: metric name -> value (see Eval.Metrics).
	Eval map[string]float64
}
