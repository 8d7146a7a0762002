package encoder_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	goldenpkg "github.com/tunelab/tunelab/internal/golden"
	"github.com/tunelab/tunelab/lab/encoder"
	"github.com/tunelab/tunelab/lab/hfmodel"
)

// TestGradientsMatchTorch checks the gradient of the mean cross-entropy loss with respect to
// every parameter against torch autograd (dropout off on both sides), which is what makes
// fine-tuning right.
func TestGradientsMatchTorch(t *testing.T) {
	for _, fixture := range []string{"bert-tiny-cls", "roberta-tiny-cls", "distilbert-tiny-cls"} {
		t.Run(fixture, func(t *testing.T) { checkGradients(t, fixture, hfmodel.SingleLabel, 0) })
	}
}

// TestBF16GradientsStayCloseToTorch: with bfloat16 matrix products the backward pass's matrix
// products read bfloat16 operands too (GoMLX's DotGeneral gradient computes in the accumulator
// dtype, so the encoder names bfloat16 there: see Model.dot), and the loss and gradients stay
// within bfloat16 precision of torch's float32 ones.
func TestBF16GradientsStayCloseToTorch(t *testing.T) {
	skipWithoutBF16Products(t)
	// bfloat16 keeps 8 bits of mantissa: the forward pass's rounding alone moves the loss by
	// 0.2% and the gradients by up to 6% of their largest entry here.
	g := gradientsLike(t, "bert-tiny-cls", hfmodel.SingleLabel, 0, dtypes.BFloat16, tolerance{loss: 1e-2, gradient: 0.1, noise: 1e-3})
	bf16, f32 := 0, 0
	for _, n := range g.Nodes() {
		if n.Type() != NodeTypeDotGeneral {
			continue
		}
		if n.Inputs()[0].DType() == dtypes.BFloat16 && n.Inputs()[1].DType() == dtypes.BFloat16 {
			bf16++
		} else {
			f32++
		}
	}
	// bert-tiny has 2 layers, each with 6 linear layers and 2 attention products, and each
	// product has 2 gradient products; the pooler and the head stay float32.
	if want := 2 * 8 * 3; bf16 != want || f32 != 2*3 {
		t.Errorf("%d bfloat16 and %d float32 matrix products in the training graph, want %d and 6", bf16, f32, want)
	}
}

// tolerance bounds the differences from torch: the loss's relative to it, each gradient's
// relative to its largest entry, and, for the key bias whose gradient is zero in exact
// arithmetic (softmax ignores a constant shift per query), an absolute noise per unit of loss.
type tolerance struct{ loss, gradient, noise float64 }

// checkGradients compares the loss of problem on the fixture's golden batch and its gradient
// with respect to every parameter with torch's (testdata/<fixture>/grads.safetensors). With
// padRows > 0 the batch gets that many copies of its last row, masked out as the trainer masks
// the padding rows of a short batch: torch's numbers, computed without them, must not change.
func checkGradients(t *testing.T, fixture string, problem hfmodel.ProblemType, padRows int) {
	t.Helper()
	gradientsLike(t, fixture, problem, padRows, dtypes.Float32, tolerance{loss: 1e-5, gradient: 1e-3, noise: 1e-6})
}

// gradientsLike is checkGradients with the encoder's matrix products in matmul and the loss
// and gradients within tol of torch's; it returns the graph of the loss and gradients.
func gradientsLike(t *testing.T, fixture string, problem hfmodel.ProblemType, padRows int, matmul dtypes.DType, tol tolerance) *Graph {
	t.Helper()
	dir := filepath.Join("testdata", fixture)
	ck, err := hfmodel.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	m := encoder.New(ck.Config, len(ck.Labels)).WithDropout(&zero).WithMatmulDType(matmul)
	store := loadStore(t, m, ck, 0)
	params := hfmodel.Params(ck.Config, len(ck.Labels))
	exec, err := model.NewExec(goldenpkg.Backend(t), store, func(scope *model.Scope, tokens, mask, typeIDs, labels *Node) []*Node {
		var real *Node
		if padRows > 0 {
			tokens, mask, typeIDs, labels = padLastRow(tokens, padRows), padLastRow(mask, padRows), padLastRow(typeIDs, padRows), padLastRow(labels, padRows)
			isReal := make([]bool, tokens.Shape().Dim(0))
			for i := range isReal[:len(isReal)-padRows] {
				isReal[i] = true
			}
			real = Const(tokens.Graph(), isReal)
		}
		l := encoder.Loss(problem, m.Logits(scope, tokens, mask, typeIDs), labels, real)
		vars := make([]*Node, len(params))
		for i, p := range params {
			vars[i] = store.GetVariable(p.Path).NodeValue(tokens.Graph())
		}
		return append([]*Node{l}, Gradient(l, vars...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	goldenFile := filepath.Join(dir, "golden.safetensors")
	out, g, err := exec.ExecWithGraph(golden(t, goldenFile, "input_ids"), golden(t, goldenFile, "attention_mask"), tokenTypes(t, ck, goldenFile), golden(t, goldenFile, "labels"))
	if err != nil {
		t.Fatal(err)
	}
	gradsFile := filepath.Join(dir, "grads.safetensors")
	wantLoss := tensors.MustCopyFlatData[float32](golden(t, gradsFile, "loss"))[0]
	if got := tensors.MustCopyFlatData[float32](out[0])[0]; math.Abs(float64(got-wantLoss)) > tol.loss*math.Max(1, math.Abs(float64(wantLoss))) {
		t.Errorf("loss = %g, torch %g", got, wantLoss)
	}
	for i, p := range params {
		name := p.Name
		if !p.Fresh || name == "pooler.dense.weight" || name == "pooler.dense.bias" {
			name = string(ck.Config.Family) + "." + name
		}
		want := tensors.MustCopyFlatData[float32](golden(t, gradsFile, name))
		got := tensors.MustCopyFlatData[float32](out[1+i])
		scale := 0.0
		for _, w := range want {
			scale = math.Max(scale, math.Abs(float64(w)))
		}
		if d := maxAbsDiff(t, got, want, nil); d/scale > tol.gradient && d > tol.noise*math.Max(1, math.Abs(float64(wantLoss))) {
			t.Errorf("gradient of %s differs from torch by %g relative to its largest entry %g, want <= %g", name, d/scale, scale, tol.gradient)
		}
	}
	return g
}

// padLastRow appends n copies of x's last row (axis 0).
func padLastRow(x *Node, n int) *Node {
	rows := x.Shape().Dim(0)
	last := Slice(x, AxisRange(rows-1, rows))
	parts := []*Node{x}
	for range n {
		parts = append(parts, last)
	}
	return Concatenate(parts, 0)
}
