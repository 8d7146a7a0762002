// Package data reads the text-classification datasets the lab trains on -- Kaggle's disaster
// tweets, IMDB reviews (Maas et al. 2011), AG News (Zhang et al. 2015) and any CSV, TSV, JSON
// Lines or Parquet file -- into one plain in-memory form, and splits, trims and summarizes them.
//
// A Dataset holds named splits of Examples. Labels are names (strings); a Dataset's Labels
// fixes their order, and the label id the models see is the index in that list (see
// Dataset.LabelID and Dataset.LabelIDs). Besides single-label classification, a Dataset's
// Problem may be Regression (a number per example: the imdb-rating task, or any file's numeric
// column) or MultiLabel (a set of label names per example: a JSON list, or names joined by a
// separator).
//
// Readers never drop input silently: a malformed row, a missing column, an empty text, an
// unknown label or invalid UTF-8 is an error naming the file and line (or archive entry) and
// what was expected. Rows skipped on request (Options.SkipEmpty) are counted in the Dataset's
// Notes.
//
// Loader finds the official layouts in a data directory, downloads missing ones from their
// official sources (verified against pinned checksums, written atomically), and can read
// Hugging Face Hub datasets.
package data

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Example is one text with its label.
type Example struct {
	// ID identifies the example within its dataset: the Kaggle id for tweets, the path
	// "train/pos/123_9" for IMDB, the file and line ("test.csv:12") otherwise.
	ID string
	// Text is the input text.
	Text string
	// Label is the label name; "" for unlabelled examples (Kaggle's test.csv).
	Label string
	// Rating is IMDB's 1-10 star rating; 0 where the dataset has none.
	Rating int
	// Value is the target of a Regression dataset.
	Value float64
	// LabelSet is the target of a MultiLabel dataset: its label names (empty: none of them).
	LabelSet []string
}

// Problem is what a dataset's targets are, named as transformers' problem_type names them.
type Problem string

const (
	// SingleLabel: one class name per example (Example.Label); the zero value.
	SingleLabel Problem = ""
	// Regression: a number per example (Example.Value).
	Regression Problem = "regression"
	// MultiLabel: a set of class names per example (Example.LabelSet).
	MultiLabel Problem = "multi_label_classification"
)

// Split names used by the loaders. Datasets may hold other names too (e.g. from a Hub dataset).
const (
	Train      = "train"
	Validation = "validation"
	Test       = "test"
)

// Dataset is a labelled text-classification dataset.
type Dataset struct {
	// Name says what it is, e.g. "imdb".
	Name string
	// Problem says which Example field holds the targets.
	Problem Problem
	// Labels are the label names (of Label, or of LabelSet for MultiLabel; none for
	// Regression); a label's id is its index here.
	Labels []string
	// Splits maps a split name (Train, Validation, Test, ...) to its examples.
	Splits map[string][]Example
	// Notes say how the dataset was obtained or changed (derived splits, skipped rows):
	// things a user should read before trusting numbers computed on it.
	Notes []string
}

// Notef appends a note.
func (d *Dataset) Notef(format string, args ...any) {
	d.Notes = append(d.Notes, fmt.Sprintf(format, args...))
}

// SplitNames returns the names of the splits present: train, validation, test first, then
// the others in alphabetical order.
func (d *Dataset) SplitNames() []string {
	var names []string
	for _, name := range []string{Train, Validation, Test} {
		if _, ok := d.Splits[name]; ok {
			names = append(names, name)
		}
	}
	var others []string
	for name := range d.Splits {
		if name != Train && name != Validation && name != Test {
			others = append(others, name)
		}
	}
	sort.Strings(others)
	return append(names, others...)
}

// Labelled returns the first of the named splits, in order of preference, whose examples carry
// labels (Kaggle's tweet test split has none), with its name.
func (d *Dataset) Labelled(splits ...string) (string, []Example, error) {
	for _, name := range splits {
		if ex := d.Splits[name]; len(ex) > 0 && (d.Problem != SingleLabel || ex[0].Label != "") {
			return name, ex, nil
		}
	}
	return "", nil, fmt.Errorf("dataset %s has no labelled %s split", d.Name, strings.Join(splits, " or "))
}

// LabelID returns the id (index in Labels) of the label name, or -1 if it is not one of them.
func (d *Dataset) LabelID(name string) int {
	return slices.Index(d.Labels, name)
}

// LabelIDs returns the label id of each example, shape [len(examples)]. It fails on an
// unlabelled example or an unknown label, naming the example.
func (d *Dataset) LabelIDs(examples []Example) ([]int, error) {
	ids := make([]int, len(examples))
	for i, ex := range examples {
		ids[i] = d.LabelID(ex.Label)
		if ids[i] < 0 {
			if ex.Label == "" {
				return nil, fmt.Errorf("%s: example %s has no label", d.Name, ex.ID)
			}
			return nil, fmt.Errorf("%s: example %s has label %q, want one of %q", d.Name, ex.ID, ex.Label, d.Labels)
		}
	}
	return ids, nil
}

// Texts returns the texts of the examples, in order.
func Texts(examples []Example) []string {
	texts := make([]string, len(examples))
	for i, ex := range examples {
		texts[i] = ex.Text
	}
	return texts
}

// Validate checks that every labelled example of every split has one of the Labels (every name
// of its LabelSet for MultiLabel, a finite Value for Regression).
func (d *Dataset) Validate() error {
	for _, name := range d.SplitNames() {
		for _, ex := range d.Splits[name] {
			switch d.Problem {
			case Regression:
				if math.IsNaN(ex.Value) || math.IsInf(ex.Value, 0) {
					return fmt.Errorf("%s: %s example %s has target %v, want a finite number", d.Name, name, ex.ID, ex.Value)
				}
				continue
			case MultiLabel:
				for _, l := range ex.LabelSet {
					if d.LabelID(l) < 0 {
						return fmt.Errorf("%s: %s example %s has label %q, want names among %q", d.Name, name, ex.ID, l, d.Labels)
					}
				}
				continue
			}
			if ex.Label != "" && d.LabelID(ex.Label) < 0 {
				return fmt.Errorf("%s: %s example %s has label %q, want one of %q", d.Name, name, ex.ID, ex.Label, d.Labels)
			}
		}
	}
	return nil
}
