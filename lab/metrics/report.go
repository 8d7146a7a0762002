package metrics

import (
	"fmt"
	"slices"
	"strings"
)

// Report holds every metric of one evaluation. It marshals to one JSON object:
//
//	{"accuracy": 0.9, "per_class": {"neg": {"precision": ..., "recall": ..., "f1": ..., "support": ...}, ...},
//	 "macro": {...}, "micro": {...}, "weighted": {...},
//	 "binary": {"pos_label": "pos", ...},        // only with a positive label
//	 "confusion_matrix": {"labels": ["neg", "pos"], "counts": [[...], [...]]},
//	 "warnings": ["..."]}                         // only when a score was ill-defined
//
// Labels are named as the classification report names them (fmt.Sprint of the label).
type Report struct {
	// Accuracy is over all samples, including those whose labels were not scored.
	Accuracy float64 `json:"accuracy"`
	// PerClass maps each scored label to its scores; ConfusionMatrix.Labels gives their order.
	PerClass map[string]Scores `json:"per_class"`
	Macro    Scores            `json:"macro"`
	Micro    Scores            `json:"micro"`
	Weighted Scores            `json:"weighted"`
	// Binary is set when the Evaluator has a positive label.
	Binary          *BinaryScores           `json:"binary,omitempty"`
	ConfusionMatrix ConfusionMatrix[string] `json:"confusion_matrix"`
	// Warnings say which scores were ill-defined (a division by zero) and set to 0, and for
	// which labels: the cases where scikit-learn warns.
	Warnings []string `json:"warnings,omitempty"`

	// microIsAccuracy: every label in the data is scored, so the micro average is the accuracy
	// and the text report prints an "accuracy" row in place of "micro avg" (as sklearn does).
	microIsAccuracy bool
}

// BinaryScores are the scores of the positive label (the Binary average).
type BinaryScores struct {
	PosLabel string `json:"pos_label"`
	Scores
}

// Report computes all metrics of yTrue against yPred: accuracy, per-class scores, the micro,
// macro and weighted averages, the Binary average when a positive label is set, and the
// confusion matrix.
func (e *Evaluator[L]) Report(yTrue, yPred []L) (*Report, error) {
	accuracy, err := Accuracy(yTrue, yPred)
	if err != nil {
		return nil, err
	}
	labels, c, err := e.count(yTrue, yPred)
	if err != nil {
		return nil, err
	}
	cm, err := e.ConfusionMatrix(yTrue, yPred)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(labels))
	for i, l := range labels {
		names[i] = labelName(l)
	}
	r := &Report{
		Accuracy:        accuracy,
		PerClass:        make(map[string]Scores, len(labels)),
		Macro:           c.average(Macro),
		Micro:           c.average(Micro),
		Weighted:        c.average(Weighted),
		ConfusionMatrix: ConfusionMatrix[string]{Labels: names, Counts: cm.Counts},
	}
	per := c.perClass()
	for i, name := range names {
		r.PerClass[name] = per[i]
	}
	r.Warnings = perClassWarnings(names, per)
	if e.hasPos {
		b, err := e.Average(yTrue, yPred, Binary)
		if err != nil {
			return nil, err
		}
		r.Binary = &BinaryScores{PosLabel: labelName(e.posLabel), Scores: b}
		if b.IllDefined != 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("binary average: %s ill-defined for positive label %s and set to 0",
				b.IllDefined, r.Binary.PosLabel))
		}
	}
	r.microIsAccuracy = true
	for _, l := range UniqueLabels(yTrue, yPred) {
		if !slices.Contains(labels, l) {
			r.microIsAccuracy = false
			break
		}
	}
	return r, nil
}

// perClassWarnings names the labels whose scores were ill-defined, one line per score.
func perClassWarnings(names []string, per []Scores) []string {
	var warnings []string
	for _, w := range []struct {
		flag IllDefined
		why  string
	}{
		{PrecisionIllDefined, "no predicted samples"},
		{RecallIllDefined, "no true samples"},
		{F1IllDefined, "neither true nor predicted samples"},
	} {
		var bad []string
		for i, s := range per {
			if s.IllDefined&w.flag != 0 {
				bad = append(bad, names[i])
			}
		}
		if len(bad) > 0 {
			warnings = append(warnings, fmt.Sprintf("%s ill-defined and set to 0 for labels with %s: %s",
				w.flag, w.why, strings.Join(bad, ", ")))
		}
	}
	return warnings
}

// Text formats the report as sklearn.metrics.classification_report(digits=digits) does,
// character for character (digits < 0 is taken as 0). sklearn's default is 2 digits. A Report
// decoded from JSON does not know whether every label was scored, and prints "micro avg" in
// place of the "accuracy" row.
func (r *Report) Text(digits int) string {
	digits = max(digits, 0)
	const lastHeading = "weighted avg"
	width := max(len(lastHeading), digits)
	for _, name := range r.ConfusionMatrix.Labels {
		width = max(width, len([]rune(name)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall", "f1-score", "support")
	// sklearn prints supports as floats ("1.0") when no sample is predicted correctly: its
	// counts then start from a float array of zeros.
	support := func(n int) string { return fmt.Sprint(n) }
	if r.Accuracy == 0 {
		support = func(n int) string { return fmt.Sprintf("%d.0", n) }
	}
	row := func(name string, s Scores) {
		fmt.Fprintf(&b, "%*s  %9.*f %9.*f %9.*f %9s\n", width, name,
			digits, s.Precision, digits, s.Recall, digits, s.F1, support(s.Support))
	}
	for _, name := range r.ConfusionMatrix.Labels {
		row(name, r.PerClass[name])
	}
	b.WriteString("\n")
	if r.microIsAccuracy {
		fmt.Fprintf(&b, "%*s  %9s %9s %9.*f %9s\n", width, "accuracy", "", "", digits, r.Micro.F1, support(r.Micro.Support))
	} else {
		row("micro avg", r.Micro)
	}
	row("macro avg", r.Macro)
	row(lastHeading, r.Weighted)
	return b.String()
}
