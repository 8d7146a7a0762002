package metrics

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// table reads a CSV file with a header line, naming the file and line in its errors.
type table struct {
	name    string
	r       *csv.Reader
	columns map[string]int
	header  []string
}

// newTable reads the header and checks that it has the required columns (others are allowed).
func newTable(r io.Reader, name string, required ...string) (*table, error) {
	t := &table{name: name, r: csv.NewReader(r), columns: map[string]int{}}
	header, err := t.r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file, expected a header line with columns %s", name, strings.Join(required, ","))
	}
	if err != nil {
		return nil, t.wrap(err)
	}
	header[0] = strings.TrimPrefix(header[0], "\uFEFF") // Spreadsheets write a byte order mark.
	t.header = header
	for i, col := range header {
		if _, dup := t.columns[col]; dup {
			return nil, fmt.Errorf("%s:1: column %q appears twice in the header", name, col)
		}
		t.columns[col] = i
	}
	for _, col := range required {
		if _, ok := t.columns[col]; !ok {
			return nil, fmt.Errorf("%s:1: no %q column in the header (columns: %s)", name, col, strings.Join(header, ","))
		}
	}
	// Every record must have as many fields as the header (the csv package checks it).
	t.r.FieldsPerRecord = len(header)
	return t, nil
}

// next returns the next record and its line, or io.EOF after the last one.
func (t *table) next() (record []string, line int, err error) {
	record, err = t.r.Read()
	if errors.Is(err, csv.ErrFieldCount) {
		line, _ = t.r.FieldPos(0)
		return nil, 0, fmt.Errorf("%s:%d: %d fields, the header has %d", t.name, line, len(record), len(t.header))
	}
	if err != nil {
		return nil, 0, t.wrap(err)
	}
	line, _ = t.r.FieldPos(0)
	return record, line, nil
}

// value returns the non-empty value of a required column.
func (t *table) value(record []string, line int, col string) (string, error) {
	v := record[t.columns[col]]
	if v == "" {
		return "", fmt.Errorf("%s:%d: empty %q value", t.name, line, col)
	}
	return v, nil
}

func (t *table) wrap(err error) error {
	if err == io.EOF {
		return err
	}
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return fmt.Errorf("%s:%d:%d: %w", t.name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %w", t.name, err)
}

// ReadPredictions reads a CSV file with a header line and the columns label (the true label)
// and prediction (the predicted label), in any order among other columns. name is the file
// name used in errors, which give the line: a missing column, a record with the wrong number of
// fields, an empty label or prediction, or no records at all.
func ReadPredictions(r io.Reader, name string) (yTrue, yPred []string, err error) {
	err = readLabelPrediction(r, name, true, func(label, pred string, line int) error {
		yTrue, yPred = append(yTrue, label), append(yPred, pred)
		return nil
	})
	return yTrue, yPred, err
}

// readLabelPrediction calls add with the label and prediction values of every record, empty
// values refused when nonEmpty is set.
func readLabelPrediction(r io.Reader, name string, nonEmpty bool, add func(label, pred string, line int) error) error {
	t, err := newTable(r, name, "label", "prediction")
	if err != nil {
		return err
	}
	records := 0
	for {
		record, line, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		label, pred := record[t.columns["label"]], record[t.columns["prediction"]]
		if nonEmpty {
			if label, err = t.value(record, line, "label"); err != nil {
				return err
			}
			if pred, err = t.value(record, line, "prediction"); err != nil {
				return err
			}
		}
		if err := add(label, pred, line); err != nil {
			return err
		}
		records++
	}
	if records == 0 {
		return fmt.Errorf("%s: no records after the header", name)
	}
	return nil
}

// ReadRegressionPredictions reads a CSV file like ReadPredictions whose label and prediction
// columns hold numbers (true and predicted values); an empty value or one that is not a finite
// number is an error naming the line.
func ReadRegressionPredictions(r io.Reader, name string) (yTrue, yPred []float64, err error) {
	err = readLabelPrediction(r, name, true, func(label, pred string, line int) error {
		var values [2]float64
		for i, col := range []struct{ name, value string }{{"label", label}, {"prediction", pred}} {
			v, err := strconv.ParseFloat(strings.TrimSpace(col.value), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s:%d: %s %q is not a finite number", name, line, col.name, col.value)
			}
			values[i] = v
		}
		yTrue, yPred = append(yTrue, values[0]), append(yPred, values[1])
		return nil
	})
	return yTrue, yPred, err
}

// ReadMultiLabelPredictions reads a CSV file like ReadPredictions whose label and prediction
// columns hold sets of label names separated by sep (SplitLabelSet; an empty value is the empty
// set). labels, if given, are the label names in order and any other name is an error naming
// the line; otherwise they are the sorted names found. It returns the label names and the
// indicator matrices [records][len(names)].
func ReadMultiLabelPredictions(r io.Reader, name, sep string, labels []string) (names []string, yTrue, yPred [][]bool, err error) {
	if sep == "" {
		return nil, nil, nil, fmt.Errorf("%s: empty label separator", name)
	}
	var trueSets, predSets [][]string
	var lines []int
	err = readLabelPrediction(r, name, false, func(label, pred string, line int) error {
		trueSets, predSets = append(trueSets, SplitLabelSet(label, sep)), append(predSets, SplitLabelSet(pred, sep))
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	names = labels
	if names == nil {
		names = UniqueLabels(slices.Concat(trueSets...), slices.Concat(predSets...))
		if len(names) == 0 {
			return nil, nil, nil, fmt.Errorf("%s: every label and prediction set is empty: no label names", name)
		}
	}
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	indicators := func(sets [][]string, col string) ([][]bool, error) {
		out := make([][]bool, len(sets))
		for i, set := range sets {
			out[i] = make([]bool, len(names))
			for _, n := range set {
				j, ok := index[n]
				if !ok {
					return nil, fmt.Errorf("%s:%d: %s %q is not one of the labels %q", name, lines[i], col, n, names)
				}
				out[i][j] = true
			}
		}
		return out, nil
	}
	if yTrue, err = indicators(trueSets, "label"); err != nil {
		return nil, nil, nil, err
	}
	if yPred, err = indicators(predSets, "prediction"); err != nil {
		return nil, nil, nil, err
	}
	return names, yTrue, yPred, nil
}

// SplitLabelSet splits a set of label names written as one string, "sports|politics" with sep
// "|", into LabelSet(the parts): so "" is the empty set.
func SplitLabelSet(s, sep string) []string { return LabelSet(strings.Split(s, sep)) }

// LabelSet returns the label names of names as a set: trimmed of spaces, empty names dropped and
// repeats kept once, in their first order; never nil.
func LabelSet(names []string) []string {
	set := []string{}
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" && !slices.Contains(set, n) {
			set = append(set, n)
		}
	}
	return set
}

// ReadPredictionsFile is ReadPredictions on the file at path.
func ReadPredictionsFile(path string) (yTrue, yPred []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return ReadPredictions(f, path)
}

// ReadRegressionPredictionsFile is ReadRegressionPredictions on the file at path.
func ReadRegressionPredictionsFile(path string) (yTrue, yPred []float64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return ReadRegressionPredictions(f, path)
}

// ReadMultiLabelPredictionsFile is ReadMultiLabelPredictions on the file at path.
func ReadMultiLabelPredictionsFile(path, sep string, labels []string) (names []string, yTrue, yPred [][]bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	return ReadMultiLabelPredictions(f, path, sep, labels)
}
