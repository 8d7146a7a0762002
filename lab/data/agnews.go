package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// AGNewsLabels are the AG News class names of classes 1-4, as in the official classes.txt.
var AGNewsLabels = []string{"World", "Sports", "Business", "Sci/Tech"}

// LoadAGNews reads the official ag_news_csv layout in dir: classes.txt (the class names, one
// a line; AGNewsLabels when absent, with a note) and train.csv and/or test.csv (no header;
// columns class 1-4, title, description).
// Each text is the title and the description joined by a space. Missing train.csv is not an
// error (the splits present are returned); the caller decides how to derive the others.
func LoadAGNews(dir string, opts Options) (*Dataset, error) {
	d := &Dataset{Name: "ag_news", Labels: AGNewsLabels, Splits: map[string][]Example{}}
	classes := filepath.Join(dir, "classes.txt")
	if _, err := os.Stat(classes); errors.Is(err, os.ErrNotExist) {
		d.Notef("no %s: class names are the official %q", classes, AGNewsLabels)
	} else if d.Labels, err = readClasses(classes); err != nil {
		return nil, err
	}
	for _, split := range []string{Train, Test} {
		path := filepath.Join(dir, split+".csv")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		examples, skipped, err := ReadAGNews(path, d.Labels, opts)
		if err != nil {
			return nil, err
		}
		noteSkipped(d, path, skipped)
		d.Splits[split] = examples
	}
	if len(d.Splits) == 0 {
		return nil, fmt.Errorf("%s: no train.csv or test.csv, want the official ag_news_csv layout", dir)
	}
	return d, nil
}

// readClasses reads classes.txt: one class name a line.
func readClasses(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	s := bufio.NewScanner(f)
	for line := 1; s.Scan(); line++ {
		name := strings.TrimSpace(s.Text())
		if name == "" || slices.Contains(names, name) {
			return nil, fmt.Errorf("%s:%d: class name %q, want a new non-empty name", path, line, name)
		}
		names = append(names, name)
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no class names", path)
	}
	return names, nil
}

// ReadAGNews reads an ag_news_csv file (class,title,description; no header; class 1..len(labels))
// whose class k is labels[k-1]. It also returns the locations of rows skipped on request.
func ReadAGNews(path string, labels []string, opts Options) ([]Example, []string, error) {
	f, err := openCSV(path, ',')
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	f.r.FieldsPerRecord = 3
	check := rowChecker{opts: opts}
	var examples []Example
	for {
		rec, line, err := f.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		loc := f.loc(line)
		class, err := strconv.Atoi(rec[0])
		if err != nil || class < 1 || class > len(labels) {
			return nil, nil, fmt.Errorf("%s: class %q, want 1-%d", loc, rec[0], len(labels))
		}
		text := strings.TrimSpace(rec[1] + " " + rec[2])
		if keep, err := check.check(loc, "title and description", text); err != nil {
			return nil, nil, err
		} else if !keep {
			continue
		}
		examples = append(examples, Example{ID: fmt.Sprintf("%s:%d", filepath.Base(path), line), Text: text, Label: labels[class-1]})
	}
	return examples, check.skipped, nil
}
