package encoder

import (
	"math"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	goldenpkg "github.com/tunelab/tunelab/internal/golden"
)

// dropoutRows x dropoutCols ones go through dropout: enough elements that the counts below sit
// within a few binomial standard deviations of their expectation.
const dropoutRows, dropoutCols = 256, 1024

// dropOnes runs two dropouts at rate on ones [dropoutRows, dropoutCols] in one training graph
// (two calls), twice with the same store, and returns the four outputs, flat.
func dropOnes(t *testing.T, seed int64, rate float64) (first, second [2][]float32) {
	t.Helper()
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(seed); err != nil {
		t.Fatal(err)
	}
	m := &Model{}
	exec, err := model.NewExec(goldenpkg.Backend(t), store, func(scope *model.Scope, x *Node) []*Node {
		store.SetTraining(x.Graph(), true)
		return []*Node{m.dropout(scope.In("a"), x, rate), m.dropout(scope.In("b"), x, rate)}
	})
	if err != nil {
		t.Fatal(err)
	}
	ones := make([]float32, dropoutRows*dropoutCols)
	for i := range ones {
		ones[i] = 1
	}
	run := func() (out [2][]float32) {
		res, err := exec.Exec(tensors.FromFlatDataAndDimensions(ones, dropoutRows, dropoutCols))
		if err != nil {
			t.Fatal(err)
		}
		for i := range out {
			out[i] = tensors.MustCopyFlatData[float32](res[i])
		}
		return out
	}
	return run(), run()
}

// within fails unless count is within 5 standard deviations of n Bernoulli(p) trials' mean.
func within(t *testing.T, what string, count, n int, p float64) {
	t.Helper()
	mean, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
	if math.Abs(float64(count)-mean) > 5*sd {
		t.Errorf("%s: %d of %d, want %.0f +- %.0f (5 standard deviations)", what, count, n, mean, 5*sd)
	}
}

// TestDropoutDropsAtTheRate checks the hashed random bits as torch's nn.Dropout behaves: each
// element is zeroed with probability rate, independently of its neighbours, of the other call
// in the graph and of the previous step, and the others are scaled by 1/(1-rate) exactly.
func TestDropoutDropsAtTheRate(t *testing.T) {
	for _, rate := range []float64{0.1, 0.5} {
		first, second := dropOnes(t, 7, rate)
		n := dropoutRows * dropoutCols
		scale := float32(1 / (1 - rate))
		for _, out := range [][]float32{first[0], first[1], second[0]} {
			dropped, neighbours := 0, 0
			for i, v := range out {
				if v != 0 && v != scale {
					t.Fatalf("rate %g: element %d is %g, want 0 or %g", rate, i, v, scale)
				}
				if v == 0 {
					dropped++
					if i%dropoutCols > 0 && out[i-1] == 0 {
						neighbours++
					}
				}
			}
			within(t, "dropped", dropped, n, rate)
			within(t, "dropped with their left neighbour", neighbours, dropoutRows*(dropoutCols-1), rate*rate)
		}
		for _, pair := range [][2][]float32{{first[0], first[1]}, {first[0], second[0]}} {
			both := 0
			for i := range pair[0] {
				if pair[0][i] == 0 && pair[1][i] == 0 {
					both++
				}
			}
			within(t, "dropped by both masks", both, n, rate*rate)
		}
	}
}

// TestDropoutFollowsTheSeed: a store seeded alike draws the same masks, another seed others.
func TestDropoutFollowsTheSeed(t *testing.T) {
	a, _ := dropOnes(t, 7, 0.1)
	b, _ := dropOnes(t, 7, 0.1)
	c, _ := dropOnes(t, 8, 0.1)
	same, other := 0, 0
	for i := range a[0] {
		if a[0][i] != b[0][i] {
			same++
		}
		if (a[0][i] == 0) != (c[0][i] == 0) {
			other++
		}
	}
	if same != 0 {
		t.Errorf("seed 7 twice: %d elements differ, want none", same)
	}
	within(t, "elements whose mask differs between seeds 7 and 8", other, len(a[0]), 2*0.1*0.9)
}

// TestDropoutOffOutsideTraining: evaluation, rate 0 and rate 1 need no random bits.
func TestDropoutOffOutsideTraining(t *testing.T) {
	store := model.NewStore()
	m := &Model{}
	exec, err := model.NewExec(goldenpkg.Backend(t), store, func(scope *model.Scope, x *Node) []*Node {
		evaluated := m.dropout(scope.In("eval"), x, 0.1)
		store.SetTraining(x.Graph(), true)
		return []*Node{evaluated, m.dropout(scope.In("zero"), x, 0), m.dropout(scope.In("one"), x, 1)}
	})
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromFlatDataAndDimensions([]float32{1, -2, 3, 4}, 2, 2)
	res, err := exec.Exec(x)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]float32{{1, -2, 3, 4}, {1, -2, 3, 4}, {0, 0, 0, 0}} {
		if got := tensors.MustCopyFlatData[float32](res[i]); !slices.Equal(got, want) {
			t.Errorf("output %d: %v, want %v", i, got, want)
		}
	}
}
