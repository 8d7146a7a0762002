package hfmodel

import "fmt"

// ProblemType is config.json's problem_type: which loss transformers'
// *ForSequenceClassification trains with and how its logits [b, c] are read.
type ProblemType string

const (
	// SingleLabel: one class per example; cross-entropy; the prediction is the arg-max.
	SingleLabel ProblemType = "single_label_classification"
	// Regression: c real-valued targets per example (c = 1 for one score); mean squared error;
	// the prediction is the logits themselves.
	Regression ProblemType = "regression"
	// MultiLabel: any subset of the c classes per example; binary cross-entropy with logits
	// (one independent sigmoid per class).
	MultiLabel ProblemType = "multi_label_classification"
)

// parseProblemType checks config.json's problem_type ("" when absent: chosen by
// ResolveProblemType).
func parseProblemType(s string) (ProblemType, error) {
	switch p := ProblemType(s); p {
	case "", SingleLabel, Regression, MultiLabel:
		return p, nil
	}
	return "", fmt.Errorf("problem_type %q: want %q, %q or %q", s, SingleLabel, Regression, MultiLabel)
}

// ResolveProblemType chooses the problem type as transformers' *ForSequenceClassification does
// when it first sees labels: the configured one when set; otherwise regression for one label,
// single-label classification for integer class ids and multi-label classification for float
// (multi-hot) targets.
func ResolveProblemType(configured ProblemType, numLabels int, integerTargets bool) ProblemType {
	switch {
	case configured != "":
		return configured
	case numLabels == 1:
		return Regression
	case integerTargets:
		return SingleLabel
	}
	return MultiLabel
}

// WithProblemType returns a copy of c whose config.json says problem_type p, so that
// transformers reloads the model with the same loss and reading of its logits.
func (c *Config) WithProblemType(p ProblemType) *Config {
	out := *c
	out.ProblemType = p
	out.Raw = make(map[string]any, len(c.Raw)+1)
	for k, v := range c.Raw {
		out.Raw[k] = v
	}
	out.Raw["problem_type"] = string(p)
	return &out
}
