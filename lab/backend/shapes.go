package backend

import (
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
