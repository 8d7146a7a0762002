package backend

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestShapes(t *testing.T) {
	fine, few := Shapes{}, Shapes{Few: true}
	for _, c := range []struct {
		s           Shapes
		n, limit    int
		want        int
		description string
	}{
		{fine, 1, 32, 1, "one row"}, {fine, 3, 32, 4, "next power of two"}, {fine, 17, 32, 32, ""}, {fine, 20, 20, 20, "capped"},
		{few, 1, 32, 1, "one row"}, {few, 2, 32, 4, "next power of four"}, {few, 5, 32, 16, ""}, {few, 17, 32, 32, "capped"},
		{few, 16, 16, 16, "a full batch"},
	} {
		if got := c.s.Rows(c.n, c.limit); got != c.want {
			t.Errorf("%+v.Rows(%d, %d) = %d, want %d (%s)", c.s, c.n, c.limit, got, c.want, c.description)
		}
	}
	if got, want := few.RowCounts(16), []int{1, 4, 16}; !slices.Equal(got, want) {
		t.Errorf("RowCounts(16) with few shapes = %v, want %v", got, want)
	}
	if got, want := fine.RowCounts(32), []int{1, 2, 4, 8, 16, 32}; !slices.Equal(got, want) {
		t.Errorf("RowCounts(32) = %v, want %v", got, want)
	}
	if got, want := few.RowCounts(20), []int{1, 4, 16, 20}; !slices.Equal(got, want) {
		t.Errorf("RowCounts(20) with few shapes = %v, want %v", got, want)
	}
	if got := few.SeqLengths(64); !slices.Equal(got, []int{32, 64}) {
		t.Errorf("SeqLengths(64) with few shapes = %v", got)
	}
	if got := fine.SeqLengths(64); len(got) != 7 {
		t.Errorf("SeqLengths(64) = %v, want the 7 fine buckets", got)
	}
}

// TestPlanLengths checks the planned lengths against every subset of the batches' lengths
// (each a possible plan), on random runs and on hand-computed ones.
func TestPlanLengths(t *testing.T) {
	few := Shapes{Few: true}
	// Two batches of 16 rows, of 10 and 64 tokens: one length costs 8000 + 2*16*64 = 10048
	// tokens, two cost 2*8000 + 16*10 + 16*64 = 17184.
	if got := few.PlanLengths([]int{10, 64}, []int{16, 16}); !slices.Equal(got, []int{64}) {
		t.Errorf("two batches: plan %v, want [64]", got)
	}
	// 100 batches of each: two lengths cost 16000 + 1600*10 + 1600*64 = 134400, one 8000 + 204800.
	many := func(n, l int) []int { return slices.Repeat([]int{l}, n) }
	if got := few.PlanLengths(append(many(100, 10), many(100, 64)...), many(200, 16)); !slices.Equal(got, []int{10, 64}) {
		t.Errorf("200 batches: plan %v, want [10 64]", got)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		s := Shapes{Few: trial%2 == 0}
		n := 1 + rng.IntN(14)
		longest, rows := make([]int, n), make([]int, n)
		for i := range n {
			longest[i], rows[i] = 1+rng.IntN(12)*rng.IntN(12), 1+rng.IntN(64)
		}
		cost := func(plan []int) int {
			c := len(plan) * s.ProgramTokens()
			for i, l := range longest {
				j, _ := slices.BinarySearch(plan, l)
				if j == len(plan) {
					return math.MaxInt // a batch longer than every length
				}
				c += rows[i] * plan[j]
			}
			return c
		}
		distinct := slices.Compact(slices.Sorted(slices.Values(longest)))
		best := math.MaxInt
		for subset := 1; subset < 1<<len(distinct); subset++ {
			var plan []int
			for k, l := range distinct {
				if subset&(1<<k) != 0 {
					plan = append(plan, l)
				}
			}
			best = min(best, cost(plan))
		}
		got := s.PlanLengths(longest, rows)
		if !slices.IsSorted(got) || cost(got) != best {
			t.Fatalf("trial %d: plan %v costs %d, the best plan %d (longest %v, rows %v)", trial, got, cost(got), best, longest, rows)
		}
	}
}
