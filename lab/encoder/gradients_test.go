package encoder_test

import (
	"math"
	"path/filepath"
	"testing"

	goldenpkg "github.com/tunelab/tunelab/internal/golden"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

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

// checkGradients compares the loss of problem on the fixture's golden batch and its gradient
// with respect to every parameter with torch's (testdata/<fixture>/grads.safetensors). With
// padRows > 0 the batch gets that many copies of its last row, masked out as the trainer masks
// the padding rows of a short batch: torch's numbers, computed without them, must not change.
func checkGradients(t *testing.T, fixture string, problem hfmodel.ProblemType, padRows int) {
	t.Helper()
	dir := filepath.Join("testdata", fixture)
	ck, err := hfmodel.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	m := encoder.New(ck.Config, len(ck.Labels)).WithDropout(&zero)
	store := model.NewStore()
	if err := m.LoadVariables(store, ck, 0); err != nil {
		t.Fatal(err)
	}
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
	out, err := exec.Exec(golden(t, goldenFile, "input_ids"), golden(t, goldenFile, "attention_mask"), tokenTypes(t, ck, goldenFile), golden(t, goldenFile, "labels"))
	if err != nil {
		t.Fatal(err)
	}
	gradsFile := filepath.Join(dir, "grads.safetensors")
	wantLoss := tensors.MustCopyFlatData[float32](golden(t, gradsFile, "loss"))[0]
	if got := tensors.MustCopyFlatData[float32](out[0])[0]; math.Abs(float64(got-wantLoss)) > 1e-5*math.Max(1, math.Abs(float64(wantLoss))) {
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
		// The key bias has a zero gradient in exact arithmetic (softmax ignores a constant
		// shift per query); both sides compute float noise there, which grows with the loss (a
		// regression loss is in the tens), so allow 1e-6 absolute per unit of loss.
		if d := maxAbsDiff(t, got, want, nil); d/scale > 1e-3 && d > 1e-6*math.Max(1, math.Abs(float64(wantLoss))) {
			t.Errorf("gradient of %s differs from torch by %g relative to its largest entry %g, want <= 1e-3", name, d/scale, scale)
		}
	}
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
