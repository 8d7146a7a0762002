package metrics

import (
	"math"
	"testing"
)

// TestArgMax checks rows whose winners are read off by hand.
func TestArgMax(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		scores []float32
		want   int
	}{
		{[]float32{0.1, 0.7, 0.2}, 1},
		{[]float32{-3, -1, -2}, 1},
		{[]float32{0.5, 0.5}, 0},
		{[]float32{0.2, 0.4, 0.4}, 1},
		{[]float32{nan, 1, 2}, 2},
		{[]float32{3, nan, 2}, 0},
		{[]float32{1, nan, 5}, 2},
		{[]float32{nan, nan}, 0},
		{[]float32{float32(math.Inf(-1)), -1e30}, 1},
		{[]float32{7}, 0},
		{nil, -1},
	} {
		if got := ArgMax(c.scores); got != c.want {
			t.Errorf("ArgMax(%v) = %d, want %d", c.scores, got, c.want)
		}
	}
}
