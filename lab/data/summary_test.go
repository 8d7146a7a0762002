package data

import (
	"reflect"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	// 20 texts of 1..20 words; nearest rank: p50 = 10th, p90 = 18th, p95 = 19th, p99 = 20th.
	var train []Example
	for i := 1; i <= 20; i++ {
		label := "pos"
		if i%4 == 0 {
			label = "neg"
		}
		train = append(train, Example{Text: strings.Repeat("w ", i), Label: label})
	}
	d := &Dataset{Name: "toy", Labels: []string{"neg", "pos"}, Notes: []string{"a note"},
		Splits: map[string][]Example{Train: train, Test: {{Text: "one two three"}}}}
	s := Summarize(d, nil, "")
	want := []SplitSummary{
		{Name: Train, Count: 20, PerLabel: []int{5, 15}, Lengths: Lengths{P50: 10, P90: 18, P95: 19, P99: 20, Max: 20}},
		{Name: Test, Count: 1, PerLabel: []int{0, 0}, Unlabelled: 1, Lengths: Lengths{3, 3, 3, 3, 3}},
	}
	if !reflect.DeepEqual(s.Splits, want) {
		t.Errorf("got %+v\nwant %+v", s.Splits, want)
	}

	// A length function in characters.
	chars := Summarize(d, func(s string) int { return len(s) }, "bytes")
	if got := chars.Splits[0].Lengths.Max; got != 40 || chars.Unit != "bytes" {
		t.Errorf("max length %d %s, want 40 bytes", got, chars.Unit)
	}

	var out strings.Builder
	if err := s.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(strings.Fields(out.String()), " ") // Independent of column widths.
	for _, line := range []string{"split examples neg pos unlabelled p50 p90 p95 p99 max", "train 20 5 (25.0%) 15 (75.0%) 0 10 18 19 20 20",
		"test 1 0 (0.0%) 0 (0.0%) 1 3 3 3 3 3", "note: a note", "lengths in words"} {
		if !strings.Contains(got, line) {
			t.Errorf("table lacks %q:\n%s", line, out.String())
		}
	}
}
