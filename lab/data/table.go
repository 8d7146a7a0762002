package data

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// File describes a generic dataset file: its format comes from the extension (.csv, .tsv,
// .jsonl or .ndjson, .parquet) and its examples from the named columns (keys, for JSON Lines).
type File struct {
	// Path of the file.
	Path string
	// Text and Label name the columns holding the text and the label; both are required.
	Text, Label string
	// ID optionally names a column of example ids; by default the id is "file:line" (CSV,
	// TSV, JSON Lines) or "file:row" (Parquet, rows counted from 1).
	ID string
	// Labels, if set, are the label names in id order and any other label is an error;
	// otherwise they are the distinct labels found, sorted (numerically if all are integers).
	Labels []string
	// Split names the split the examples go to; default Train.
	Split string
	// Problem says what the label column holds: a class name (SingleLabel, the default), a
	// number (Regression: any number, or a string that parses as one) or a set of class names
	// (MultiLabel: a JSON list of strings or integers, or names joined by LabelSep).
	Problem Problem
	// LabelSep separates the names of a MultiLabel set written as one string ("a|b").
	LabelSep string
}

// record is one row of a generic file: the values of the wanted columns, and where it is.
type record struct {
	loc  string
	vals []string
	// lists holds the elements of a column whose value is a list (JSON Lines); nil otherwise.
	lists [][]string
	// fractional marks a column whose value is a number that is not an integer (its literal
	// is in vals).
	fractional []bool
}

// LoadFile reads the examples of a generic CSV (RFC 4180, with a header), TSV (a header, tab
// separated fields without quoting), JSON Lines (one object a line; label a string or an
// integer) or Parquet file (label a string or an integer column) into a one-split Dataset.
// A Regression or MultiLabel file's label column holds numbers or sets instead (see File).
func LoadFile(spec File, opts Options) (*Dataset, error) {
	if spec.Text == "" || spec.Label == "" {
		return nil, fmt.Errorf("%s: text and label columns must be named", spec.Path)
	}
	switch spec.Problem {
	case SingleLabel:
	case Regression, MultiLabel:
		return loadTargets(spec, opts)
	default:
		return nil, fmt.Errorf("%s: problem type %q, want %q, %q or %q", spec.Path, spec.Problem, SingleLabel, Regression, MultiLabel)
	}
	cols := []string{spec.Text, spec.Label}
	if spec.ID != "" {
		cols = append(cols, spec.ID)
	}
	read, err := fileReader(spec.Path)
	if err != nil {
		return nil, err
	}
	check := rowChecker{opts: opts}
	var examples []Example
	err = read(spec.Path, cols, func(r record) error {
		if err := r.scalars(cols...); err != nil {
			return err
		}
		text, label := r.vals[0], r.vals[1]
		if !utf8.ValidString(label) {
			return fmt.Errorf("%s: label is not valid UTF-8", r.loc)
		}
		if label == "" {
			return fmt.Errorf("%s: empty label in column %q", r.loc, spec.Label)
		}
		if spec.Labels != nil && !slices.Contains(spec.Labels, label) {
			return fmt.Errorf("%s: label %q, want one of %q", r.loc, label, spec.Labels)
		}
		if keep, err := check.check(r.loc, "text", text); err != nil || !keep {
			return err
		}
		id := filepath.Base(r.loc)
		if spec.ID != "" {
			id = r.vals[2]
		}
		examples = append(examples, Example{ID: id, Text: text, Label: label})
		return nil
	})
	if err != nil {
		return nil, err
	}
	split := cmp.Or(spec.Split, Train)
	d := &Dataset{Name: filepath.Base(spec.Path), Labels: spec.Labels, Splits: map[string][]Example{split: examples}}
	if d.Labels == nil {
		d.Labels = distinctLabels(examples)
	}
	noteSkipped(d, spec.Path, check.skipped)
	return d, nil
}

// fileReader returns the record reader of path's format, from its extension.
func fileReader(path string) (func(string, []string, func(record) error) error, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv":
		return readCSVRecords, nil
	case ".tsv":
		return readTSVRecords, nil
	case ".jsonl", ".ndjson":
		return readJSONLRecords, nil
	case ".parquet":
		return readParquetRecords, nil
	default:
		return nil, fmt.Errorf("%s: unknown format %q, want .csv, .tsv, .jsonl, .ndjson or .parquet", path, ext)
	}
}

// distinctLabels returns the labels of examples, sorted numerically if all are integers and
// as strings otherwise.
func distinctLabels(examples []Example) []string {
	var labels []string
	for _, ex := range examples {
		if !slices.Contains(labels, ex.Label) {
			labels = append(labels, ex.Label)
		}
	}
	numeric := !slices.ContainsFunc(labels, func(l string) bool { _, err := strconv.Atoi(l); return err != nil })
	slices.SortFunc(labels, func(a, b string) int {
		if numeric {
			x, _ := strconv.Atoi(a)
			y, _ := strconv.Atoi(b)
			return cmp.Compare(x, y)
		}
		return strings.Compare(a, b)
	})
	return labels
}

func readCSVRecords(path string, cols []string, yield func(record) error) error {
	f, err := openCSV(path, ',')
	if err != nil {
		return err
	}
	defer f.Close()
	header, _, err := f.Read()
	if err == io.EOF {
		return fmt.Errorf("%s: empty file, want a header naming the columns %q", path, cols)
	}
	if err != nil {
		return err
	}
	idx, err := columns(path, header, cols...)
	if err != nil {
		return err
	}
	for {
		rec, line, err := f.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := yield(newRecord(f.loc(line), pick(rec, idx))); err != nil {
			return err
		}
	}
}

// newRecord is a record of plain string values.
func newRecord(loc string, vals []string) record {
	return record{loc: loc, vals: vals, lists: make([][]string, len(vals)), fractional: make([]bool, len(vals))}
}

func pick(fields []string, idx []int) []string {
	vals := make([]string, len(idx))
	for i, j := range idx {
		vals[i] = fields[j]
	}
	return vals
}

// lines calls yield with each line of path (without its line ending) and its number.
func lines(path string, yield func(line int, text string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		text, err := r.ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if text == "" && err == io.EOF {
			return nil
		}
		if yerr := yield(n, strings.TrimSuffix(strings.TrimSuffix(text, "\n"), "\r")); yerr != nil {
			return yerr
		}
		if err == io.EOF {
			return nil
		}
	}
}

func readTSVRecords(path string, cols []string, yield func(record) error) error {
	var idx []int
	var width int
	err := lines(path, func(n int, text string) error {
		fields := strings.Split(text, "\t")
		if idx == nil {
			var err error
			idx, err = columns(path, fields, cols...)
			width = len(fields)
			return err
		}
		if len(fields) != width {
			return fmt.Errorf("%s:%d: %d tab-separated fields, want %d as in the header", path, n, len(fields), width)
		}
		return yield(newRecord(fmt.Sprintf("%s:%d", path, n), pick(fields, idx)))
	})
	if err == nil && idx == nil {
		return fmt.Errorf("%s: empty file, want a header naming the columns %q", path, cols)
	}
	return err
}

func readJSONLRecords(path string, cols []string, yield func(record) error) error {
	return lines(path, func(n int, text string) error {
		loc := fmt.Sprintf("%s:%d", path, n)
		var obj map[string]json.RawMessage
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			return fmt.Errorf("%s: want a JSON object: %w", loc, err)
		}
		r := newRecord(loc, make([]string, len(cols)))
		for i, col := range cols {
			raw, ok := obj[col]
			if !ok {
				return fmt.Errorf("%s: no key %q", loc, col)
			}
			if err := r.setJSON(i, raw); err != nil {
				return fmt.Errorf("%s: key %q: %w", loc, col, err)
			}
		}
		return yield(r)
	})
}

// scalars checks that the columns named cols (in the record's order) hold strings or integers.
func (r *record) scalars(cols ...string) error {
	for i, col := range cols {
		if r.lists[i] != nil || r.fractional[i] {
			return fmt.Errorf("%s: key %q: value %s, want a string or an integer", r.loc, col, r.vals[i])
		}
	}
	return nil
}

// setJSON sets column i from a JSON value: a string, a number (its literal; fractional marks one
// that is not an integer) or a list of strings and integers (lists; vals gets the JSON text).
func (r *record) setJSON(i int, raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return err
		}
		r.lists[i] = make([]string, len(elems))
		for j, e := range elems {
			v, err := jsonScalar(e)
			if err != nil {
				return fmt.Errorf("list element %d: %w", j, err)
			}
			r.lists[i][j] = v
		}
		r.vals[i] = string(raw)
		return nil
	}
	v, err := jsonScalar(raw)
	if err != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return err
		}
		v, r.fractional[i] = n.String(), true
	}
	r.vals[i] = v
	return nil
}

// jsonScalar returns a JSON string's value or an integer's digits.
func jsonScalar(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if !json.Valid(raw) || !utf8.Valid(raw) {
			return "", errors.New("string is not valid UTF-8 JSON")
		}
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	if _, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return string(raw), nil
	}
	return "", fmt.Errorf("value %s, want a string or an integer", raw)
}

func readParquetRecords(path string, cols []string, yield func(record) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, info.Size())
	if err != nil {
		return fmt.Errorf("%s: not a Parquet file: %w", path, err)
	}
	idx := make([]int, len(cols))
	for i, col := range cols {
		leaf, ok := pf.Schema().Lookup(col)
		if !ok || leaf.MaxRepetitionLevel > 0 {
			return fmt.Errorf("%s: no scalar column %q in schema %s", path, col, pf.Schema())
		}
		idx[i] = leaf.ColumnIndex
	}
	row := 0
	buf := make([]parquet.Row, 256)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, r := range buf[:n] {
				row++
				loc := fmt.Sprintf("%s: row %d", path, row)
				rec := newRecord(loc, make([]string, len(cols)))
				for i, col := range cols {
					if rec.vals[i], rec.fractional[i], err = parquetScalar(r, idx[i]); err != nil {
						rows.Close()
						return fmt.Errorf("%s: column %q: %w", loc, col, err)
					}
				}
				if err := yield(rec); err != nil {
					rows.Close()
					return err
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("%s: after row %d: %w", path, row, err)
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}

// parquetScalar returns the value of column index col in row as a string; fractional is set for
// a float or double column (its shortest decimal form).
func parquetScalar(row parquet.Row, col int) (value string, fractional bool, err error) {
	for _, v := range row {
		if v.Column() != col {
			continue
		}
		switch {
		case v.IsNull():
			return "", false, errors.New("null, want a value")
		case v.Kind() == parquet.ByteArray:
			return string(v.ByteArray()), false, nil
		case v.Kind() == parquet.Int32:
			return strconv.Itoa(int(v.Int32())), false, nil
		case v.Kind() == parquet.Int64:
			return strconv.FormatInt(v.Int64(), 10), false, nil
		case v.Kind() == parquet.Float:
			return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32), true, nil
		case v.Kind() == parquet.Double:
			return strconv.FormatFloat(v.Double(), 'g', -1, 64), true, nil
		default:
			return "", false, fmt.Errorf("type %s, want a string or a number", v.Kind())
		}
	}
	return "", false, errors.New("missing")
}
