package backend

import (
	"reflect"
	"unsafe"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// UpdateInPlace lets the engine write the new values of the variables of store that graph g
// changes (a training step's weights and optimizer moments) over their old values, and returns
// how many it marked. Call it at the end of the graph-building function, after the last
// SetNodeValue. GoMLX donates those variables' buffers at every call, but go-xla v0.4.5 declares
// no input-output aliasing, so XLA wrote every update to fresh memory and the weights and
// moments existed twice at each step's end (BERT-base trained at 1.33x torch's peak memory, 1.10x
// in place; bench/results). Here each changed variable's parameter is marked a buffer donor
// (StableHLO's jax.buffer_donor, as JAX marks donated arguments), and XLA writes the output of
// the same shape into it. Other engines' graphs are left as they are (nothing is marked).
func UpdateInPlace(g *graph.Graph, store *model.Store) int {
	marked := 0
	for v := range store.IterVariables() {
		if !v.ChangedInGraph(g) {
			continue
		}
		param := g.GetParameterByName(v.Path())
		if param == nil {
			continue // an initialization graph: the variable has no old value to write over
		}
		if ops, ok := unexportedField(param, "outputOps").([]compute.Value); ok && len(ops) == 1 && markBufferDonor(ops[0]) {
			marked++
		}
	}
	return marked
}

// unexportedField returns the field called name of the struct that pointer points to, or nil
// where there is none (a changed dependency: UpdateInPlace then marks nothing).
func unexportedField(pointer any, name string) any {
	v := reflect.ValueOf(pointer)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	field := v.Elem().FieldByName(name)
	if !field.IsValid() {
		return nil
	}
	return reflect.NewAt(field.Type(), unsafe.Pointer(field.UnsafeAddr())).Elem().Interface()
}
