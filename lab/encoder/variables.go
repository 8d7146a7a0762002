package encoder

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/safetensors"
)

// LoadVariables creates the model's variables in store with the checkpoint's values. Parameters
// the checkpoint lacks (ck.Fresh: a new head, a missing pooler) are initialised as transformers'
// _init_weights does for nn.Linear: weights ~ Normal(0, initializer_range), biases 0, drawn from
// a generator seeded with seed so runs are reproducible.
func (m *Model) LoadVariables(store *model.Store, ck *hfmodel.Checkpoint, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x7475_6e65_6c61_62))
	root := store.RootScope()
	for _, p := range hfmodel.Params(m.cfg, m.numLabels) {
		t, ok := ck.Tensors[p.Path]
		if !ok {
			if !p.Fresh {
				return fmt.Errorf("checkpoint %s has no %s", ck.Dir, p.Name)
			}
			t = freshTensor(p, m.cfg.InitializerRange, rng)
		}
		scopePath, name := model.SplitPath(p.Path)
		if _, err := root.Store().Scope(scopePath).CreateVariable(name, tensors.FromFlatDataAndDimensions(t.Data, t.Shape...)); err != nil {
			return fmt.Errorf("variable %s: %w", p.Path, err)
		}
	}
	return nil
}

func freshTensor(p hfmodel.Param, std float64, rng *rand.Rand) safetensors.Tensor {
	size := 1
	for _, d := range p.Shape {
		size *= d
	}
	t := safetensors.Tensor{Shape: p.Shape, Data: make([]float32, size)}
	if len(p.Shape) == 2 { // weights; biases stay 0
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * std)
		}
	}
	return t
}

// Tensors reads the model's parameters back from store, keyed by variable path, for
// hfmodel.Save.
func (m *Model) Tensors(store *model.Store) (map[string]safetensors.Tensor, error) {
	out := make(map[string]safetensors.Tensor)
	for _, p := range hfmodel.Params(m.cfg, m.numLabels) {
		v := store.GetVariable(p.Path)
		if v == nil {
			return nil, fmt.Errorf("no variable %s", p.Path)
		}
		value, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", p.Path, err)
		}
		data, err := tensors.CopyFlatData[float32](value)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", p.Path, err)
		}
		out[p.Path] = safetensors.Tensor{Shape: value.Shape().Dimensions, Data: data}
	}
	return out, nil
}
