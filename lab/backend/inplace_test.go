package backend_test

import (
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/bench/forward/benchkit"
	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab/backend"
)

// variableBytes is the size of the variable the in-place tests update: 128 MiB of float32.
const variableBytes = 128 << 20

// halveAndAddOne runs three calls of a graph that updates a zero-initialized variable w of
// variableBytes to w/2 + 1 and returns: w's largest element after each call (by hand: 1, 1.5,
// 1.75; all are equal, and a max needs no float32 sum of 32M ones, which the Go backend cannot
// hold: 2^24 + 1 = 2^24), the variables UpdateInPlace marked (with inPlace) and the most that a
// call after the first (which also initializes w) added to the process's peak resident memory.
func halveAndAddOne(t *testing.T, b compute.Backend, inPlace bool) (values []float32, marked int, extra int64) {
	t.Helper()
	store := model.NewStore()
	exec, err := model.NewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		w := scope.VariableWithShape("w", shapes.Make(dtypes.Float32, variableBytes/4))
		next := AddScalar(MulScalar(w.NodeValue(x.Graph()), 0.5), 1)
		w.SetNodeValue(next)
		if inPlace {
			marked = backend.UpdateInPlace(x.Graph(), store)
		}
		return Mul(ReduceAllMax(next), x)
	})
	if err != nil {
		t.Fatal(err)
	}
	for call := range 3 {
		if err := benchkit.ResetPeakRSS(); err != nil {
			t.Skipf("no resettable peak RSS here: %v", err)
		}
		base, err := benchkit.PeakRSS()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(float32(1))
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, tensors.MustCopyFlatData[float32](out[0])[0])
		peak, err := benchkit.PeakRSS()
		if err != nil {
			t.Fatal(err)
		}
		if call > 0 {
			extra = max(extra, peak-base)
		}
	}
	return values, marked, extra
}

// TestUpdateInPlace: on XLA a graph that updates a variable computes the same values with the
// variable marked by UpdateInPlace, and its calls then add less than a quarter of the
// variable's size to the peak memory, where unmarked they add at least three quarters (a new
// output buffer beside the old one).
func TestUpdateInPlace(t *testing.T) {
	if _, err := backend.FindPlugin("cpu"); err != nil {
		testenv.Missing(t, "XLA's CPU plugin is not installed (make setup): "+err.Error())
	}
	b, err := backend.New(backend.XLACPU)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	want := []float32{1, 1.5, 1.75}
	copied, _, copiedExtra := halveAndAddOne(t, b, false)
	updated, marked, inPlaceExtra := halveAndAddOne(t, b, true)
	if marked != 1 {
		t.Errorf("UpdateInPlace marked %d variables, want 1", marked)
	}
	for i := range want {
		if copied[i] != want[i] || updated[i] != want[i] {
			t.Errorf("call %d: %v unmarked, %v in place; want %v", i+1, copied[i], updated[i], want[i])
		}
	}
	if copiedExtra < variableBytes*3/4 || inPlaceExtra > variableBytes/4 {
		t.Errorf("a call added %d MiB to the peak memory unmarked and %d MiB in place (variable: %d MiB): want at least 3/4 of it and at most 1/4",
			copiedExtra>>20, inPlaceExtra>>20, variableBytes>>20)
	}
}

// TestUpdateInPlaceGoBackend: on the Go backend nothing is marked and the values are the same.
func TestUpdateInPlaceGoBackend(t *testing.T) {
	b, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	values, marked, _ := halveAndAddOne(t, b, true)
	if marked != 0 || values[2] != 1.75 {
		t.Errorf("Go backend: marked %d, values %v; want 0 marked and 1, 1.5, 1.75", marked, values)
	}
}
