package data

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// examplesOf makes n examples of each label ("" for unlabelled), ids "label-i".
func examplesOf(counts map[string]int, labels ...string) []Example {
	var out []Example
	for _, label := range labels {
		for i := range counts[label] {
			out = append(out, Example{ID: fmt.Sprintf("%s-%d", label, i), Text: "t", Label: label})
		}
	}
	return out
}

func TestStratifiedSplit(t *testing.T) {
	examples := examplesOf(map[string]int{"a": 10, "b": 7, "": 3}, "a", "b", "")
	parts, err := StratifiedSplit(examples, 42, 0.5, 0.3, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	// Largest remainder by hand: a 10 -> 5/3/2; b 7 -> 3.5/2.1/1.4 -> 4/2/1;
	// unlabelled 3 -> 1.5/0.9/0.6 -> 1/1/1.
	want := []map[string]int{{"a": 5, "b": 4, "": 1}, {"a": 3, "b": 2, "": 1}, {"a": 2, "b": 1, "": 1}}
	seen := map[string]bool{}
	for p, part := range parts {
		if got := labelCounts(part); !reflect.DeepEqual(got, want[p]) {
			t.Errorf("part %d: %v, want %v", p, got, want[p])
		}
		if !slices.IsSortedFunc(part, func(x, y Example) int { return indexOf(examples, x) - indexOf(examples, y) }) {
			t.Errorf("part %d is not in the original order", p)
		}
		for _, ex := range part {
			if seen[ex.ID] {
				t.Errorf("%s in two parts", ex.ID)
			}
			seen[ex.ID] = true
		}
	}
	if len(seen) != len(examples) {
		t.Errorf("parts hold %d examples, want %d", len(seen), len(examples))
	}

	again, _ := StratifiedSplit(examples, 42, 0.5, 0.3, 0.2)
	if !reflect.DeepEqual(parts, again) {
		t.Error("same seed gave different splits")
	}
	other, _ := StratifiedSplit(examples, 43, 0.5, 0.3, 0.2)
	if reflect.DeepEqual(parts, other) {
		t.Error("seeds 42 and 43 gave the same splits")
	}
	// A label's draw does not depend on the other labels present.
	onlyA, _ := StratifiedSplit(examples[:10], 42, 0.5, 0.3, 0.2)
	for p := range parts {
		var a []Example
		for _, ex := range parts[p] {
			if ex.Label == "a" {
				a = append(a, ex)
			}
		}
		if !reflect.DeepEqual(a, onlyA[p]) {
			t.Errorf("part %d: label a's examples changed when other labels were removed", p)
		}
	}

	for _, bad := range [][]float64{{0.5, 0.4}, {1.2, -0.2}, {}} {
		if _, err := StratifiedSplit(examples, 1, bad...); err == nil || !strings.Contains(err.Error(), "split fractions") {
			t.Errorf("fractions %v: got %v, want an error", bad, err)
		}
	}
}

func TestCapAndLimit(t *testing.T) {
	examples := examplesOf(map[string]int{"a": 100, "b": 50}, "a", "b")
	if got := labelCounts(CapPerLabel(examples, 30, 1)); got["a"] != 30 || got["b"] != 30 {
		t.Errorf("cap 30: %v, want 30 of each", got)
	}
	if got := labelCounts(CapPerLabel(examples, 60, 1)); got["a"] != 60 || got["b"] != 50 {
		t.Errorf("cap 60: %v, want 60 a and all 50 b", got)
	}
	limited := Limit(examples, 31, 1)
	// 31 * 2/3 = 20.67 -> 21 a; 31 * 1/3 = 10.33 -> 10 b.
	if got := labelCounts(limited); got["a"] != 21 || got["b"] != 10 {
		t.Errorf("limit 31: %v, want 21 a and 10 b", got)
	}
	if !reflect.DeepEqual(limited, Limit(examples, 31, 1)) || reflect.DeepEqual(limited, Limit(examples, 31, 2)) {
		t.Error("limit is not fixed by its seed")
	}
	if got := Limit(examples, 1000, 1); len(got) != 150 {
		t.Errorf("limit above size kept %d, want all 150", len(got))
	}
}

func TestLabelIDs(t *testing.T) {
	d := &Dataset{Name: "x", Labels: []string{"neg", "pos"}}
	ids, err := d.LabelIDs([]Example{{Label: "pos"}, {Label: "neg"}})
	if err != nil || !reflect.DeepEqual(ids, []int{1, 0}) {
		t.Errorf("got %v, %v, want [1 0]", ids, err)
	}
	_, err = d.LabelIDs([]Example{{ID: "r7", Label: "meh"}})
	wantErr(t, err, "example r7", `label "meh"`, "want one of")
	_, err = d.LabelIDs([]Example{{ID: "r8"}})
	wantErr(t, err, "example r8 has no label")
}

// TestLabelled picks the held-out split as the CLI (validation first) and the comparison (test
// first) do, on a dataset shaped like the disaster tweets: Kaggle's test split has no labels.
func TestLabelled(t *testing.T) {
	val := []Example{{ID: "v1", Label: "pos"}}
	d := &Dataset{Name: "tweets", Splits: map[string][]Example{Validation: val, Test: {{ID: "t1"}}}}
	for _, order := range [][]string{{Validation, Test}, {Test, Validation}} {
		name, ex, err := d.Labelled(order...)
		if err != nil || name != Validation || !reflect.DeepEqual(ex, val) {
			t.Errorf("Labelled(%v) = %q, %v, %v; want the validation split", order, name, ex, err)
		}
	}
	d.Splits[Test] = []Example{{ID: "t1", Label: "neg"}}
	if name, _, _ := d.Labelled(Test, Validation); name != Test {
		t.Errorf("Labelled(test, validation) with a labelled test split = %q, want test", name)
	}
	_, _, err := (&Dataset{Name: "tweets", Splits: map[string][]Example{Test: {{ID: "t1"}}}}).Labelled(Validation, Test)
	wantErr(t, err, "dataset tweets has no labelled validation or test split")
}

// indexOf finds ex in examples by its id.
func indexOf(examples []Example, ex Example) int {
	return slices.IndexFunc(examples, func(e Example) bool { return e.ID == ex.ID })
}
