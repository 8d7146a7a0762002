package data

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tunelab/tunelab/lab/metrics"
)

// loadTargets reads a Regression or MultiLabel file (see File): the label column is parsed as a
// number, or as a set of class names (a JSON list, or a string split at LabelSep).
func loadTargets(spec File, opts Options) (*Dataset, error) {
	read, err := fileReader(spec.Path)
	if err != nil {
		return nil, err
	}
	cols := []string{spec.Text, spec.Label}
	if spec.ID != "" {
		cols = append(cols, spec.ID)
	}
	check := rowChecker{opts: opts}
	var examples []Example
	err = read(spec.Path, cols, func(r record) error {
		if err := r.scalars(cols[0]); err != nil {
			return err
		}
		if spec.ID != "" {
			if err := r.scalars(cols[2]); err != nil {
				return err
			}
		}
		if keep, err := check.check(r.loc, "text", r.vals[0]); err != nil || !keep {
			return err
		}
		ex := Example{ID: filepath.Base(r.loc), Text: r.vals[0]}
		if spec.ID != "" {
			ex.ID = r.vals[2]
		}
		if spec.Problem == Regression {
			if r.lists[1] != nil {
				return fmt.Errorf("%s: %q value %s is a list, want a number", r.loc, spec.Label, r.vals[1])
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(r.vals[1]), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s: %q value %q is not a number", r.loc, spec.Label, r.vals[1])
			}
			ex.Value = v
		} else {
			set, err := labelSet(r, spec)
			if err != nil {
				return err
			}
			ex.LabelSet = set
		}
		examples = append(examples, ex)
		return nil
	})
	if err != nil {
		return nil, err
	}
	d := &Dataset{Name: filepath.Base(spec.Path), Problem: spec.Problem, Labels: spec.Labels,
		Splits: map[string][]Example{cmp.Or(spec.Split, Train): examples}}
	if spec.Problem == Regression {
		d.Labels = nil
	} else if d.Labels == nil {
		var all []string
		for _, ex := range examples {
			all = append(all, ex.LabelSet...)
		}
		d.Labels = metrics.UniqueLabels(all, nil)
	}
	noteSkipped(d, spec.Path, check.skipped)
	return d, nil
}

// labelSet reads a MultiLabel target: a list, or names joined by spec.LabelSep; with
// spec.Labels, a name outside them is an error.
func labelSet(r record, spec File) ([]string, error) {
	set := r.lists[1]
	switch {
	case set != nil:
		set = metrics.LabelSet(set)
	case spec.LabelSep != "":
		set = metrics.SplitLabelSet(r.vals[1], spec.LabelSep)
	default:
		return nil, fmt.Errorf("%s: %q value %q is not a list: give the separator of its label names (--label-sep)", r.loc, spec.Label, r.vals[1])
	}
	for _, name := range set {
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("%s: label is not valid UTF-8", r.loc)
		}
		if spec.Labels != nil && !slices.Contains(spec.Labels, name) {
			return nil, fmt.Errorf("%s: label %q, want names among %q", r.loc, name, spec.Labels)
		}
	}
	return set, nil
}
