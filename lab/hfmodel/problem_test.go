package hfmodel

import "testing"

// TestResolveProblemType follows transformers' choice when config.json has no problem_type
// (BertForSequenceClassification.forward: num_labels == 1 is regression, integer labels
// single-label, others multi-label).
func TestResolveProblemType(t *testing.T) {
	for _, tc := range []struct {
		configured ProblemType
		numLabels  int
		integer    bool
		want       ProblemType
	}{
		{"", 1, true, Regression},
		{"", 1, false, Regression},
		{"", 3, true, SingleLabel},
		{"", 3, false, MultiLabel},
		{MultiLabel, 1, true, MultiLabel},
		{Regression, 5, false, Regression},
	} {
		if got := ResolveProblemType(tc.configured, tc.numLabels, tc.integer); got != tc.want {
			t.Errorf("ResolveProblemType(%q, %d, integer %v) = %q, want %q", tc.configured, tc.numLabels, tc.integer, got, tc.want)
		}
	}
}
