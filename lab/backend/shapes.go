package backend

import (
	"math"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"

	"github.com/tunelab/tunelab/lab/tokenize"
)

// Shapes says how jobs on an engine pad their batches. Every new input shape is a new program:
// the Go backend builds one in microseconds, XLA compiles one for a second or more (a training
// step of a 6-layer model: about 3 s on 2 cores) and then runs it faster, so on XLA jobs pad to
// few shapes.
type Shapes struct {
	// Few is set for engines that compile each shape (XLA).
	Few bool
}

// ShapesFor returns the padding policy of b.
func ShapesFor(b compute.Backend) Shapes {
	return Shapes{Few: b.String() != gobackend.BackendName}
}

// SeqLengths returns the padded sequence lengths up to maxLength (the last one):
// tokenize.BucketLengths, or tokenize.CoarseBucketLengths with few shapes.
func (s Shapes) SeqLengths(maxLength int) []int {
	if s.Few {
		return tokenize.CoarseBucketLengths(maxLength)
	}
	return tokenize.BucketLengths(maxLength)
}

// ProgramTokens is what one more compiled program costs, in padded tokens of training work:
// on XLA a new length's gradient program (lab/train) compiles in about 2.8 s on 2 cores, as long
// as MiniLM trains on about 8,000 tokens (0.34 ms each with bfloat16 products); on the Go backend
// a new shape's first step takes about 0.9 s more, as long as it trains on about 250 tokens
// (3.6 ms each).
func (s Shapes) ProgramTokens() int {
	if s.Few {
		return 8000
	}
	return 256
}

// PlanLengths returns the padded lengths, ascending, for batches known ahead (a training set's,
// an evaluation set's): batch i has rows[i] rows whose longest is
// longest[i] tokens, and is padded to the smallest returned length that holds it. The lengths
// minimise the padded tokens of all the batches plus ProgramTokens for each length, exactly, by
// dynamic programming over the distinct lengths; so on XLA a run of short texts compiles a
// handful of programs and pads little, and on the Go backend each batch is about its own length.
func (s Shapes) PlanLengths(longest, rows []int) []int {
	tokens := map[int]int{} // rows of the batches whose longest row has this length
	for i, l := range longest {
		tokens[l] += rows[i]
	}
	lengths := make([]int, 0, len(tokens))
	for l := range tokens {
		lengths = append(lengths, l)
	}
	slices.Sort(lengths)
	perProgram := float64(s.ProgramTokens())
	// cost[i] is the least cost of the batches up to lengths[i] with a padded length at
	// lengths[i]; below[i] is the index of the padded length before it (-1: none).
	cost, below := make([]float64, len(lengths)), make([]int, len(lengths))
	for i, l := range lengths {
		cost[i] = math.Inf(1)
		rowsAbove := 0
		for j := i - 1; j >= -1; j-- { // lengths (j, i] padded to l
			rowsAbove += tokens[lengths[j+1]]
			c := perProgram + float64(rowsAbove*l)
			if j >= 0 {
				c += cost[j]
			}
			if c < cost[i] {
				cost[i], below[i] = c, j
			}
		}
	}
	var plan []int
	for i := len(lengths) - 1; i >= 0; i = below[i] {
		plan = append(plan, lengths[i])
	}
	slices.Reverse(plan)
	return plan
}

// Rows returns how many rows a batch of n examples is padded to, at most limit (n <= limit):
// the next power of two, or with few shapes the next power of four (1, 4, 16, 64, ...).
func (s Shapes) Rows(n, limit int) int {
	step := 2
	if s.Few {
		step = 4
	}
	rows := 1
	for rows < n {
		rows *= step
	}
	return min(rows, limit)
}

// RowCounts returns every value Rows can return for batches of up to limit examples.
func (s Shapes) RowCounts(limit int) []int {
	var counts []int
	for n := 1; n <= limit; {
		rows := s.Rows(n, limit)
		counts = append(counts, rows)
		n = rows + 1
	}
	return counts
}
