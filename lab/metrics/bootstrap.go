package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Interval is a statistic measured on a sample (Value) with its bootstrap confidence interval
// [Low, High] at level Confidence, from Resamples resamples.
type Interval struct {
	Value, Low, High float64
	Confidence       float64
	Resamples        int
}

// Excludes says whether v lies outside the interval: for the interval of a difference between
// two models, Excludes(0) means the difference is larger than the noise of the sample.
func (iv Interval) Excludes(v float64) bool { return v < iv.Low || v > iv.High }

// Resamples draws count bootstrap resamples of a sample of n examples: each is n indices drawn
// uniformly, with replacement, from [0, n). The draws come from a PCG generator seeded with
// seed, so a seed always gives the same resamples.
func Resamples(n, count int, seed uint64) [][]int {
	rng := rand.New(rand.NewPCG(seed, 0))
	out := make([][]int, count)
	for r := range out {
		out[r] = make([]int, n)
		for i := range out[r] {
			out[r][i] = rng.IntN(n)
		}
	}
	return out
}

// Statistic computes a metric on the examples with the given indices (repeated indices count
// as often as they occur), as a bootstrap resample selects them.
type Statistic func(indices []int) float64

// Bootstrap is the percentile bootstrap confidence interval of statistic on a sample of n
// examples: the statistic on each resample (rows of indices into the sample, see Resamples),
// then the (1-confidence)/2 and (1+confidence)/2 quantiles of those values, linearly
// interpolated (numpy's default quantile). That is scipy.stats.bootstrap(method="percentile")
// for paired data, which Hugging Face Evaluate's "bootstrap" strategy runs; Value is the
// statistic on the whole sample.
//
// Statistics that compare two models on the same examples (the difference of their scores)
// resample the examples once for both: the paired bootstrap.
func Bootstrap(n int, resamples [][]int, confidence float64, statistic Statistic) (Interval, error) {
	if confidence <= 0 || confidence >= 1 {
		return Interval{}, fmt.Errorf("bootstrap: confidence %g: want in (0, 1)", confidence)
	}
	if n == 0 || len(resamples) == 0 {
		return Interval{}, fmt.Errorf("bootstrap: %d examples and %d resamples: want some of each", n, len(resamples))
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	values := make([]float64, len(resamples))
	for r, idx := range resamples {
		if len(idx) != n {
			return Interval{}, fmt.Errorf("bootstrap: resample %d has %d indices for a sample of %d", r, len(idx), n)
		}
		values[r] = statistic(idx)
	}
	slices.Sort(values)
	alpha := (1 - confidence) / 2
	return Interval{Value: statistic(all), Low: quantile(values, alpha), High: quantile(values, 1-alpha),
		Confidence: confidence, Resamples: len(resamples)}, nil
}

// quantile is the q-quantile of sorted values, interpolated linearly between the two nearest
// ranks (numpy's and scipy's default, "type 7").
func quantile(sorted []float64, q float64) float64 {
	h := q * float64(len(sorted)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-lo)*(sorted[i+1]-sorted[i])
}

// AccuracyStatistic is the share of correct predictions among the selected examples; yTrue and
// yPred are class ids, one per example.
func AccuracyStatistic(yTrue, yPred []int) Statistic {
	return func(idx []int) float64 {
		right := 0
		for _, i := range idx {
			if yTrue[i] == yPred[i] {
				right++
			}
		}
		return float64(right) / float64(len(idx))
	}
}

// F1Statistic is the F1 of class pos among the selected examples (0 when the class is neither
// present nor predicted, as scikit-learn's zero_division default).
func F1Statistic(yTrue, yPred []int, pos int) Statistic {
	return func(idx []int) float64 {
		tp, fp, fn := 0, 0, 0
		for _, i := range idx {
			switch t, p := yTrue[i] == pos, yPred[i] == pos; {
			case t && p:
				tp++
			case p:
				fp++
			case t:
				fn++
			}
		}
		if tp == 0 {
			return 0
		}
		return 2 * float64(tp) / float64(2*tp+fp+fn)
	}
}

// MacroF1Statistic is the unweighted mean of the F1 of classes 0..classes-1 among the selected
// examples (a class neither present nor predicted counts 0, as scikit-learn with labels given).
func MacroF1Statistic(yTrue, yPred []int, classes int) Statistic {
	return func(idx []int) float64 {
		tp, fp, fn := make([]int, classes), make([]int, classes), make([]int, classes)
		for _, i := range idx {
			if yTrue[i] == yPred[i] {
				tp[yTrue[i]]++
			} else {
				fp[yPred[i]]++
				fn[yTrue[i]]++
			}
		}
		sum := 0.0
		for c := range classes {
			if tp[c] > 0 {
				sum += 2 * float64(tp[c]) / float64(2*tp[c]+fp[c]+fn[c])
			}
		}
		return sum / float64(classes)
	}
}
