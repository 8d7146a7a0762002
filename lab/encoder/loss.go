package encoder

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/train/loss"

	"github.com/tunelab/tunelab/lab/checkpoint"
)

// Loss is the mean training loss of logits [b, c] against targets, as transformers'
// *ForSequenceClassification computes it for each problem type:
//
//   - SingleLabel: targets [b] int32 class ids; cross-entropy.
//   - Regression: targets [b] (c = 1) or [b, c] float32; mean squared error over every entry.
//   - MultiLabel: targets [b, c] float32, 1 for each class the example has and 0 otherwise;
//     binary cross-entropy with logits, averaged over every (example, class) pair.
func Loss(problem checkpoint.ProblemType, logits, targets *Node) *Node {
	switch problem {
	case checkpoint.Regression:
		diff := Sub(logits, Reshape(targets, logits.Shape().Dimensions...))
		return ReduceAllMean(Square(diff))
	case checkpoint.MultiLabel:
		// max(x, 0) - x·y + log(1 + e^-|x|): torch's stable form of -y·log σ(x) - (1-y)·log(1-σ(x)).
		x, y := logits, targets
		return ReduceAllMean(Add(Sub(Max(x, ZerosLike(x)), Mul(x, y)), Log1p(Exp(Neg(Abs(x))))))
	}
	return loss.SparseCategoricalCrossEntropyLogits([]*Node{ExpandAxes(targets, -1)}, []*Node{logits})
}
