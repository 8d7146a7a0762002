package encoder

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/train/loss"

	"github.com/tunelab/tunelab/lab/hfmodel"
)

// Problem is the problem type the model trains and predicts with: config.json's problem_type
// when set, otherwise regression for one output and single-label classification for more (a
// multi-label model must say so in its config, as transformers can tell it only from float
// targets).
func (m *Model) Problem() hfmodel.ProblemType {
	return hfmodel.ResolveProblemType(m.cfg.ProblemType, m.numLabels, true)
}

// Loss is the mean training loss of logits [b, c] against targets, as transformers'
// *ForSequenceClassification computes it for each problem type:
//
//   - SingleLabel: targets [b] int32 class ids; cross-entropy.
//   - Regression: targets [b] (c = 1) or [b, c] float32; mean squared error over every entry.
//   - MultiLabel: targets [b, c] float32, 1 for each class the example has and 0 otherwise;
//     binary cross-entropy with logits, averaged over every (example, class) pair.
//
// real, when not nil, is a [b] bool mask: rows where it is false (the padding rows of a short
// batch) count neither in the sum nor in the number of rows the mean divides by.
func Loss(problem hfmodel.ProblemType, logits, targets, real *Node) *Node {
	var perEntry *Node // [b, c]
	switch problem {
	case hfmodel.Regression:
		perEntry = Square(Sub(logits, Reshape(targets, logits.Shape().Dimensions...)))
	case hfmodel.MultiLabel:
		// max(x, 0) - x·y + log(1 + e^-|x|): torch's stable form of -y·log σ(x) - (1-y)·log(1-σ(x)).
		x, y := logits, targets
		perEntry = Add(Sub(Max(x, ZerosLike(x)), Mul(x, y)), Log1p(Exp(Neg(Abs(x)))))
	default:
		labels := []*Node{ExpandAxes(targets, -1)}
		if real != nil {
			labels = append(labels, real)
		}
		return loss.SparseCategoricalCrossEntropyLogits(labels, []*Node{logits})
	}
	// Every row has c entries, so the mean of the row means is the mean over all entries.
	perRow := ReduceMean(perEntry, -1)
	if real == nil {
		return ReduceAllMean(perRow)
	}
	return MaskedReduceAllMean(perRow, real)
}
