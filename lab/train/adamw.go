package train

import (
	"math"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/lab/hfmodel"
)

// AdamW is torch.optim.AdamW with the transformers Trainer's two parameter groups and
// torch.nn.utils.clip_grad_norm_ before the update. It is written here because GoMLX's Adam
// decays every variable, while the Trainer skips biases and LayerNorm weights, and it has no
// global-norm clipping.
//
// The moments live in the store as non-trainable variables "/adamw/m<path>" and
// "/adamw/v<path>" for each parameter path (ZeroMoments), so they are saved and
// restored with a checkpoint.
type AdamW struct {
	Beta1, Beta2, Epsilon float64
	// WeightDecay is the decoupled decay of the decay group (0 turns it off).
	WeightDecay float64
	// MaxGradNorm clips the global L2 norm of the gradients; 0 turns clipping off.
	MaxGradNorm float64
}

// Decays reports whether p is in the Trainer's decay group: every parameter but biases and
// LayerNorm weights (Trainer.get_decay_parameter_names).
func Decays(p hfmodel.Param) bool {
	return !strings.HasSuffix(p.Name, ".bias") && !strings.Contains(p.Path, "layer_normalization")
}

func momentPath(kind, path string) string { return "/adamw/" + kind + path }

// ZeroMoments sets the first and second moments of every parameter to zero, as a new torch
// optimizer starts, creating them in store on first use.
func (o AdamW) ZeroMoments(store *model.Store, params []hfmodel.Param) error {
	for _, p := range params {
		for _, kind := range []string{"m", "v"} {
			if err := setZero(store, momentPath(kind, p.Path), p.Shape); err != nil {
				return err
			}
		}
	}
	return nil
}

// Step is the host-computed scalars of one optimizer step k (1-based), fed to the graph so the
// schedule and the bias corrections are computed in float64 as torch does.
type Step struct {
	// LR is the scheduled learning rate.
	LR float64
	// StepSize is LR / (1 - beta1^k) and SqrtBC2 is sqrt(1 - beta2^k).
	StepSize, SqrtBC2 float64
}

// StepAt returns the scalars of optimizer step k (1-based) at learning rate lr.
func (o AdamW) StepAt(k int, lr float64) Step {
	bc1 := 1 - math.Pow(o.Beta1, float64(k))
	bc2 := 1 - math.Pow(o.Beta2, float64(k))
	return Step{LR: lr, StepSize: lr / bc1, SqrtBC2: math.Sqrt(bc2)}
}

// Update builds the clipped AdamW update of params (their variable nodes vars, gradients
// grads, same order) in the graph; lr, stepSize and sqrtBC2 are float32 scalars (see Step).
// It sets the new parameter and moment values and returns the global gradient norm before
// clipping (a float32 scalar).
func (o AdamW) Update(store *model.Store, params []hfmodel.Param, vars, grads []*Node, lr, stepSize, sqrtBC2 *Node) *Node {
	g := lr.Graph()
	sumSquares := ScalarZero(g, dtypes.Float32)
	for _, grad := range grads {
		sumSquares = Add(sumSquares, ReduceAllSum(Square(grad)))
	}
	norm := Sqrt(sumSquares)
	scale := ScalarOne(g, dtypes.Float32)
	if o.MaxGradNorm > 0 {
		// clip_grad_norm_: coefficient max_norm / (norm + 1e-6), clamped to 1.
		scale = Min(scale, Div(Scalar(g, dtypes.Float32, o.MaxGradNorm), AddScalar(norm, 1e-6)))
	}
	for i, p := range params {
		grad := Mul(grads[i], scale)
		mVar := store.GetVariable(momentPath("m", p.Path))
		vVar := store.GetVariable(momentPath("v", p.Path))
		m := Add(MulScalar(mVar.NodeValue(g), o.Beta1), MulScalar(grad, 1-o.Beta1))
		v := Add(MulScalar(vVar.NodeValue(g), o.Beta2), MulScalar(Square(grad), 1-o.Beta2))
		x := vars[i]
		if o.WeightDecay > 0 && Decays(p) {
			x = Mul(x, OneMinus(MulScalar(lr, o.WeightDecay)))
		}
		denom := AddScalar(Div(Sqrt(v), sqrtBC2), o.Epsilon)
		x = Sub(x, Mul(stepSize, Div(m, denom)))
		mVar.SetNodeValue(m)
		vVar.SetNodeValue(v)
		store.GetVariable(p.Path).SetNodeValue(x)
	}
	return norm
}
