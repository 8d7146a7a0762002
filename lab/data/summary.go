package data

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// Words counts whitespace-separated words: the default length function of Summarize.
func Words(text string) int { return len(strings.Fields(text)) }

// Lengths are percentiles of the text lengths of a split (nearest rank: the smallest length
// at least p% of the texts do not exceed).
type Lengths struct {
	P50, P90, P95, P99, Max int
}

// SplitSummary describes one split.
type SplitSummary struct {
	Name string
	// Count is the number of examples.
	Count int
	// PerLabel counts the examples of each label, shape [len(Summary.Labels)].
	PerLabel []int
	// Unlabelled counts the examples without a label.
	Unlabelled int
	// Lengths of the texts, in the unit of the length function.
	Lengths Lengths
}

// Summary describes a Dataset: counts per split and label, text lengths, notes.
type Summary struct {
	Name   string
	Labels []string
	Splits []SplitSummary
	// Unit names what the lengths count, e.g. "words".
	Unit  string
	Notes []string
}

// Summarize counts d's examples per split and label and the percentiles of their text
// lengths as measured by length (Words if nil), whose unit is named by unit.
func Summarize(d *Dataset, length func(string) int, unit string) Summary {
	if length == nil {
		length, unit = Words, "words"
	}
	s := Summary{Name: d.Name, Labels: d.Labels, Unit: unit, Notes: d.Notes}
	for _, name := range d.SplitNames() {
		examples := d.Splits[name]
		ss := SplitSummary{Name: name, Count: len(examples), PerLabel: make([]int, len(d.Labels))}
		lengths := make([]int, len(examples))
		for i, ex := range examples {
			if id := d.LabelID(ex.Label); id >= 0 {
				ss.PerLabel[id]++
			} else {
				ss.Unlabelled++
			}
			lengths[i] = length(ex.Text)
		}
		slices.Sort(lengths)
		ss.Lengths = Lengths{P50: percentile(lengths, 50), P90: percentile(lengths, 90),
			P95: percentile(lengths, 95), P99: percentile(lengths, 99), Max: percentile(lengths, 100)}
		s.Splits = append(s.Splits, ss)
	}
	return s
}

// percentile returns the nearest-rank p-th percentile of sorted values (0 when empty).
func percentile(sorted []int, p float64) int {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

// WriteTable prints the summary as aligned text tables: one row per split with its count,
// per-label counts (and share) and length percentiles; then the notes.
func (s Summary) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "dataset %s: %d labels\n\n", s.Name, len(s.Labels))
	head := []string{"split", "examples"}
	head = append(head, s.Labels...)
	hasUnlabelled := slices.ContainsFunc(s.Splits, func(ss SplitSummary) bool { return ss.Unlabelled > 0 })
	if hasUnlabelled {
		head = append(head, "unlabelled")
	}
	head = append(head, "p50", "p90", "p95", "p99", "max")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, ss := range s.Splits {
		row := []string{ss.Name, fmt.Sprint(ss.Count)}
		for _, n := range ss.PerLabel {
			row = append(row, fmt.Sprintf("%d (%.1f%%)", n, share(n, ss.Count)))
		}
		if hasUnlabelled {
			row = append(row, fmt.Sprint(ss.Unlabelled))
		}
		l := ss.Lengths
		row = append(row, fmt.Sprint(l.P50), fmt.Sprint(l.P90), fmt.Sprint(l.P95), fmt.Sprint(l.P99), fmt.Sprint(l.Max))
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nlengths in %s (nearest-rank percentiles)\n", s.Unit)
	for _, note := range s.Notes {
		if _, err := fmt.Fprintf(w, "note: %s\n", note); err != nil {
			return err
		}
	}
	return nil
}

func share(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}
