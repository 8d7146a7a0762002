// Package metrics scores single-label classification the way scikit-learn does: accuracy,
// precision, recall and F1 (per class and binary, micro, macro and weighted averages), the
// confusion matrix with its normalisations, and sklearn's classification report. It also scores
// the other problem types of transformers' sequence classification: regression (Regression:
// MSE, RMSE, MAE, R², and scipy's Pearson and Spearman correlations) and multi-label
// classification (MultiLabel: subset accuracy, Hamming loss, per-label and micro, macro,
// weighted and samples averages of label indicator matrices, predicted with Threshold).
//
// Labels are strings (class names) or integers (class ids); when no label list is given the
// labels are the sorted union of yTrue and yPred, as sklearn.utils.multiclass.unique_labels
// orders them (numerically for integers, by code point for strings).
//
// Undefined ratios (a division by zero, e.g. the precision of a class that is never
// predicted) are 0, as with sklearn's default zero_division="warn", and are reported in
// Scores.IllDefined and Report.Warnings instead of a warning.
//
// Usage:
//
//	report, err := metrics.Evaluate(yTrue, yPred) // []string or []int; sklearn's defaults
//	fmt.Print(report.Text(2))                     // sklearn.metrics.classification_report
//	data, err := json.Marshal(report)
//
//	ev := metrics.New[string]().WithLabels("neg", "pos").WithPosLabel("pos")
//	scores, err := ev.Average(yTrue, yPred, metrics.Binary) // scores.F1: F1 of "pos"
//	per, err := ev.PerClass(yTrue, yPred)                    // in the order neg, pos
//	cm, err := ev.ConfusionMatrix(yTrue, yPred)
//	rates := cm.Normalized(metrics.NormalizeTrue)            // recall on the diagonal
//
//	reg, err := metrics.Regression(yTrue, yPred)        // []float64; reg.RMSE, reg.Spearman
//	ml, err := metrics.MultiLabel(names, yTrue, metrics.Threshold(sigmoids, metrics.DefaultThreshold))
//
// Files: ReadPredictions reads a label,prediction CSV (ReadRegressionPredictions and
// ReadMultiLabelPredictions the same layout with numbers or label sets); ScoreSubmission scores
// a Kaggle id,target submission against a labelled file.
package metrics

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Label is the type of class labels: class names or integer class ids.
type Label interface {
	~string | ~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// Average selects how per-class scores are combined, as sklearn's average= parameter.
type Average int

const (
	// Binary scores only the positive label (Evaluator.WithPosLabel); yTrue and yPred together
	// may hold at most 2 distinct labels.
	Binary Average = iota
	// Micro pools the true positives, predictions and true samples of all labels.
	Micro
	// Macro is the unweighted mean of the per-class scores.
	Macro
	// Weighted is the mean of the per-class scores weighted by each class's support.
	Weighted
)

// String returns the sklearn name of the average.
func (a Average) String() string {
	switch a {
	case Binary:
		return "binary"
	case Micro:
		return "micro"
	case Macro:
		return "macro"
	case Weighted:
		return "weighted"
	}
	return fmt.Sprintf("Average(%d)", int(a))
}

// IllDefined flags the scores that were undefined (a division by zero) and set to 0.
type IllDefined uint8

const (
	// PrecisionIllDefined: no predicted samples.
	PrecisionIllDefined IllDefined = 1 << iota
	// RecallIllDefined: no true samples.
	RecallIllDefined
	// F1IllDefined: neither true nor predicted samples.
	F1IllDefined
)

// String lists the flagged scores, e.g. "precision, f1".
func (d IllDefined) String() string {
	var names []string
	for i, name := range []string{"precision", "recall", "f1"} {
		if d&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// Scores are the precision, recall and F1 of one class or of one average.
type Scores struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	// Support is the number of true samples of the class; for an average, the sum over the
	// averaged labels (what the classification report prints).
	Support int `json:"support"`
	// IllDefined flags scores that were set to 0 because of a division by zero; for an
	// average, the scores where that happened to at least one averaged class.
	IllDefined IllDefined `json:"-"`
}

// ClassScores are the scores of one class.
type ClassScores[L Label] struct {
	Label L
	Scores
}

// Evaluator computes metrics with a fixed label set and positive label. Create it with New,
// configure it with the With methods; the zero configuration uses sklearn's defaults.
type Evaluator[L Label] struct {
	labels   []L // nil: the sorted union of yTrue and yPred.
	posLabel L
	hasPos   bool
}

// New returns an Evaluator for labels of type L.
func New[L Label]() *Evaluator[L] { return &Evaluator[L]{} }

// WithLabels fixes the labels scored and their order, as sklearn's labels= parameter: labels
// absent from the data score 0, and samples whose labels are not listed are left out of the
// per-class scores, the averages and the confusion matrix (but not out of Accuracy).
func (e *Evaluator[L]) WithLabels(labels ...L) *Evaluator[L] {
	e.labels = slices.Clone(labels)
	if e.labels == nil {
		e.labels = []L{} // Given but empty: rejected when used, as sklearn does.
	}
	return e
}

// WithPosLabel sets the positive label of the Binary average (sklearn's pos_label).
func (e *Evaluator[L]) WithPosLabel(label L) *Evaluator[L] {
	e.posLabel, e.hasPos = label, true
	return e
}

// Evaluate is New[L]().Report(yTrue, yPred): every metric with sklearn's defaults.
func Evaluate[L Label](yTrue, yPred []L) (*Report, error) {
	return New[L]().Report(yTrue, yPred)
}

// Accuracy is the fraction of samples with yPred[i] == yTrue[i].
func Accuracy[L Label](yTrue, yPred []L) (float64, error) {
	if err := checkInputs(yTrue, yPred); err != nil {
		return 0, err
	}
	correct := 0
	for i := range yTrue {
		if yTrue[i] == yPred[i] {
			correct++
		}
	}
	return float64(correct) / float64(len(yTrue)), nil
}

// UniqueLabels returns the sorted union of the labels in yTrue and yPred.
func UniqueLabels[L Label](yTrue, yPred []L) []L {
	labels := slices.Concat(yTrue, yPred)
	slices.SortFunc(labels, cmp.Compare)
	return slices.Compact(labels)
}

// Labels returns the labels the Evaluator scores for this data, in order: the ones given to
// WithLabels, else UniqueLabels(yTrue, yPred).
func (e *Evaluator[L]) Labels(yTrue, yPred []L) ([]L, error) {
	if err := checkInputs(yTrue, yPred); err != nil {
		return nil, err
	}
	if e.labels == nil {
		return UniqueLabels(yTrue, yPred), nil
	}
	if len(e.labels) == 0 {
		return nil, fmt.Errorf("metrics: WithLabels was given no labels")
	}
	seen := make(map[L]bool, len(e.labels))
	for _, l := range e.labels {
		if seen[l] {
			return nil, fmt.Errorf("metrics: label %v is given twice to WithLabels", l)
		}
		seen[l] = true
	}
	return slices.Clone(e.labels), nil
}

// PerClass returns the scores of each label of Labels(yTrue, yPred), in that order
// (sklearn's average=None).
func (e *Evaluator[L]) PerClass(yTrue, yPred []L) ([]ClassScores[L], error) {
	labels, c, err := e.count(yTrue, yPred)
	if err != nil {
		return nil, err
	}
	per := make([]ClassScores[L], len(labels))
	for i, s := range c.perClass() {
		per[i] = ClassScores[L]{Label: labels[i], Scores: s}
	}
	return per, nil
}

// Average returns the scores averaged over Labels(yTrue, yPred) as avg says; Binary scores
// the positive label alone and ignores WithLabels, as sklearn does.
func (e *Evaluator[L]) Average(yTrue, yPred []L, avg Average) (Scores, error) {
	if avg == Binary {
		return e.binary(yTrue, yPred)
	}
	_, c, err := e.count(yTrue, yPred)
	if err != nil {
		return Scores{}, err
	}
	return c.average(avg), nil
}

// count returns the labels scored and their counts.
func (e *Evaluator[L]) count(yTrue, yPred []L) ([]L, counts, error) {
	labels, err := e.Labels(yTrue, yPred)
	if err != nil {
		return nil, counts{}, err
	}
	return labels, count(yTrue, yPred, labels), nil
}

func (e *Evaluator[L]) binary(yTrue, yPred []L) (Scores, error) {
	if err := checkInputs(yTrue, yPred); err != nil {
		return Scores{}, err
	}
	if !e.hasPos {
		return Scores{}, fmt.Errorf("metrics: the binary average needs a positive label (WithPosLabel)")
	}
	present := UniqueLabels(yTrue, yPred)
	if len(present) > 2 {
		return Scores{}, fmt.Errorf("metrics: the binary average needs at most 2 distinct labels, got %d (%s)",
			len(present), joinLabels(present))
	}
	if len(present) == 2 && !slices.Contains(present, e.posLabel) {
		return Scores{}, fmt.Errorf("metrics: positive label %v is not one of the labels (%s)",
			e.posLabel, joinLabels(present))
	}
	return count(yTrue, yPred, []L{e.posLabel}).perClass()[0], nil
}

// counts are the true positives, predicted samples and true samples (support) of each label.
type counts struct{ tp, pred, support []int }

func count[L Label](yTrue, yPred, labels []L) counts {
	index := make(map[L]int, len(labels))
	for i, l := range labels {
		index[l] = i
	}
	n := len(labels)
	c := counts{make([]int, n), make([]int, n), make([]int, n)}
	for i := range yTrue {
		t, tOK := index[yTrue[i]]
		p, pOK := index[yPred[i]]
		if tOK {
			c.support[t]++
		}
		if pOK {
			c.pred[p]++
		}
		if tOK && pOK && t == p {
			c.tp[t]++
		}
	}
	return c
}

func (c counts) perClass() []Scores {
	per := make([]Scores, len(c.tp))
	for i := range per {
		per[i] = score(c.tp[i], c.pred[i], c.support[i])
	}
	return per
}

// average combines the per-class scores as sklearn's _nanaverage does (they are never NaN
// here, since undefined ratios are 0).
func (c counts) average(avg Average) Scores {
	per := c.perClass()
	n := len(per)
	var s Scores
	var tp, pred int
	p, r, f, w := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i, ps := range per {
		p[i], r[i], f[i], w[i] = ps.Precision, ps.Recall, ps.F1, float64(ps.Support)
		s.Support += ps.Support
		s.IllDefined |= ps.IllDefined
		tp += c.tp[i]
		pred += c.pred[i]
	}
	switch avg {
	case Micro:
		return score(tp, pred, s.Support)
	case Weighted:
		if sumW := pairwiseSum(w); sumW != 0 {
			s.Precision = pairwiseSum(mul(p, w)) / sumW
			s.Recall = pairwiseSum(mul(r, w)) / sumW
			s.F1 = pairwiseSum(mul(f, w)) / sumW
			return s
		}
		// sklearn falls back to the unweighted mean when every weight is 0.
	}
	s.Precision = pairwiseSum(p) / float64(n)
	s.Recall = pairwiseSum(r) / float64(n)
	s.F1 = pairwiseSum(f) / float64(n)
	return s
}

func mul(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] * b[i]
	}
	return out
}

// pairwiseSum adds as numpy's float64 sum does, so that averages match it bit for bit (and
// the rounded report digits never differ at a tie).
func pairwiseSum(a []float64) float64 {
	const blockSize = 128
	n := len(a)
	switch {
	case n < 8:
		res := 0.0
		for _, x := range a {
			res += x
		}
		return res
	case n <= blockSize:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range r {
				r[j] += a[i+j]
			}
		}
		res := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			res += a[i]
		}
		return res
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
	}
}

// score computes precision, recall and F1 from the counts of one label (or pooled counts),
// with sklearn's zero-division rule: an undefined ratio is 0 and flagged. F1 is computed as
// 2·tp / (support + pred), as sklearn does, so it is 0 when precision and recall are both 0.
func score(tp, pred, support int) Scores {
	s := Scores{Support: support}
	s.Precision = ratio(float64(tp), pred, PrecisionIllDefined, &s.IllDefined)
	s.Recall = ratio(float64(tp), support, RecallIllDefined, &s.IllDefined)
	s.F1 = ratio(2*float64(tp), support+pred, F1IllDefined, &s.IllDefined)
	return s
}

func ratio(num float64, den int, flag IllDefined, flags *IllDefined) float64 {
	if den == 0 {
		*flags |= flag
		return 0
	}
	return num / float64(den)
}

func checkInputs[L Label](yTrue, yPred []L) error {
	if len(yTrue) != len(yPred) {
		return fmt.Errorf("metrics: yTrue has %d samples but yPred has %d", len(yTrue), len(yPred))
	}
	if len(yTrue) == 0 {
		return fmt.Errorf("metrics: no samples")
	}
	return nil
}

func joinLabels[L Label](labels []L) string {
	names := make([]string, len(labels))
	for i, l := range labels {
		names[i] = labelName(l)
	}
	return strings.Join(names, ", ")
}

// labelName is how the report names a label: Python's "%s" % label for str and int.
func labelName[L Label](l L) string { return fmt.Sprint(l) }
