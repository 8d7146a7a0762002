package metrics

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
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
	t, err := newTable(r, name, "label", "prediction")
	if err != nil {
		return nil, nil, err
	}
	for {
		record, line, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		label, err := t.value(record, line, "label")
		if err != nil {
			return nil, nil, err
		}
		pred, err := t.value(record, line, "prediction")
		if err != nil {
			return nil, nil, err
		}
		yTrue, yPred = append(yTrue, label), append(yPred, pred)
	}
	if len(yTrue) == 0 {
		return nil, nil, fmt.Errorf("%s: no records after the header", name)
	}
	return yTrue, yPred, nil
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
