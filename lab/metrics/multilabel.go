package metrics

import (
	"fmt"
	"strings"
)

// DefaultThreshold is the score above which a label is predicted: a sigmoid probability of 0.5
// (a logit of 0), as transformers' multi-label examples decide.
const DefaultThreshold = 0.5

// Threshold turns scores [n][k] (each label's sigmoid probability) into label sets [n][k]:
// label j is predicted for sample i when scores[i][j] > threshold, compared in float32 as numpy
// and torch compare a float32 array with a Python float.
func Threshold(scores [][]float32, threshold float64) [][]bool {
	out := make([][]bool, len(scores))
	t := float32(threshold)
	for i, row := range scores {
		out[i] = make([]bool, len(row))
		for j, s := range row {
			out[i][j] = s > t
		}
	}
	return out
}

// MultiLabelReport holds every multi-label metric of one evaluation, as scikit-learn computes
// them on label indicator matrices. It marshals to one JSON object:
//
//	{"labels": ["a", "b"], "subset_accuracy": 0.5, "hamming_loss": 0.25,
//	 "per_label": {"a": {"precision": ..., "recall": ..., "f1": ..., "support": ...}, ...},
//	 "micro": {...}, "macro": {...}, "weighted": {...}, "samples": {...},
//	 "warnings": ["..."]} // only when a score was ill-defined
type MultiLabelReport struct {
	// Labels name the columns, in order.
	Labels []string `json:"labels"`
	// SubsetAccuracy is the fraction of samples whose predicted set equals the true set
	// (accuracy_score); HammingLoss the fraction of (sample, label) pairs predicted wrongly.
	SubsetAccuracy float64 `json:"subset_accuracy"`
	HammingLoss    float64 `json:"hamming_loss"`
	// PerLabel are each label's scores (average=None); Support counts its true samples.
	PerLabel map[string]Scores `json:"per_label"`
	Micro    Scores            `json:"micro"`
	Macro    Scores            `json:"macro"`
	Weighted Scores            `json:"weighted"`
	// Samples is the mean over samples of each sample's precision, recall and F1 (sklearn's
	// average="samples"); its Support is the number of true (sample, label) pairs.
	Samples Scores `json:"samples"`
	// Warnings say which scores were ill-defined (a division by zero) and set to 0: the cases
	// where scikit-learn warns (zero_division="warn").
	Warnings []string `json:"warnings,omitempty"`
}

// MultiLabel computes every multi-label metric of yTrue against yPred, label indicator
// matrices [n][len(labels)] (yTrue[i][j]: sample i has label j).
func MultiLabel(labels []string, yTrue, yPred [][]bool) (*MultiLabelReport, error) {
	if err := checkIndicators(len(labels), yTrue, yPred); err != nil {
		return nil, err
	}
	k, n := len(labels), len(yTrue)
	perLabel := counts{make([]int, k), make([]int, k), make([]int, k)}
	perSample := counts{make([]int, n), make([]int, n), make([]int, n)}
	exact, wrong := 0, 0
	for i := range yTrue {
		same := true
		for j := range labels {
			t, p := yTrue[i][j], yPred[i][j]
			if t != p {
				same = false
				wrong++
			}
			for _, c := range []struct {
				counts
				at int
			}{{perLabel, j}, {perSample, i}} {
				if t {
					c.support[c.at]++
				}
				if p {
					c.pred[c.at]++
				}
				if t && p {
					c.tp[c.at]++
				}
			}
		}
		if same {
			exact++
		}
	}
	r := &MultiLabelReport{
		Labels:         append([]string(nil), labels...),
		SubsetAccuracy: float64(exact) / float64(n),
		HammingLoss:    float64(wrong) / float64(n*k),
		PerLabel:       make(map[string]Scores, k),
		Micro:          perLabel.average(Micro),
		Macro:          perLabel.average(Macro),
		Weighted:       perLabel.average(Weighted),
		Samples:        perSample.average(Macro), // The unweighted mean over samples.
	}
	per := perLabel.perClass()
	for j, name := range labels {
		r.PerLabel[name] = per[j]
	}
	r.Warnings = perClassWarnings(labels, per)
	if d := r.Samples.IllDefined; d != 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("samples average: %s ill-defined and set to 0 for samples with no true or no predicted labels", d))
	}
	return r, nil
}

func checkIndicators(k int, yTrue, yPred [][]bool) error {
	if k == 0 {
		return fmt.Errorf("metrics: no labels")
	}
	if len(yTrue) != len(yPred) {
		return fmt.Errorf("metrics: yTrue has %d samples but yPred has %d", len(yTrue), len(yPred))
	}
	if len(yTrue) == 0 {
		return fmt.Errorf("metrics: no samples")
	}
	for i := range yTrue {
		if len(yTrue[i]) != k || len(yPred[i]) != k {
			return fmt.Errorf("metrics: sample %d has %d true and %d predicted indicators, want %d (one per label)",
				i, len(yTrue[i]), len(yPred[i]), k)
		}
	}
	return nil
}

// Metrics returns the scalar metrics by name: "subset_accuracy", "hamming_loss", "micro_f1",
// "macro_f1", "weighted_f1", "samples_f1".
func (r *MultiLabelReport) Metrics() map[string]float64 {
	return map[string]float64{"subset_accuracy": r.SubsetAccuracy, "hamming_loss": r.HammingLoss,
		"micro_f1": r.Micro.F1, "macro_f1": r.Macro.F1, "weighted_f1": r.Weighted.F1, "samples_f1": r.Samples.F1}
}

// Text formats the report like sklearn's classification_report of a multi-label problem (one
// row per label, then the micro, macro, weighted and samples averages), followed by the subset
// accuracy and Hamming loss.
func (r *MultiLabelReport) Text(digits int) string {
	digits = max(digits, 0)
	const lastHeading = "weighted avg"
	width := max(len(lastHeading), digits)
	for _, name := range r.Labels {
		width = max(width, len([]rune(name)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support")
	row := func(name string, s Scores) {
		fmt.Fprintf(&b, "%*s  %9.*f %9.*f %9.*f %9d\n", width, name, digits, s.Precision, digits, s.Recall, digits, s.F1, s.Support)
	}
	for _, name := range r.Labels {
		row(name, r.PerLabel[name])
	}
	b.WriteString("\n")
	row("micro avg", r.Micro)
	row("macro avg", r.Macro)
	row(lastHeading, r.Weighted)
	row("samples avg", r.Samples)
	fmt.Fprintf(&b, "\nsubset accuracy  %.*f\nhamming loss     %.*f\n", digits, r.SubsetAccuracy, digits, r.HammingLoss)
	return b.String()
}
