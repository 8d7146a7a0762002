package data

import (
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// Options change how the readers turn rows into Examples. The zero value reads texts as they
// are and rejects empty ones.
type Options struct {
	// KeywordLocation folds the disaster tweets' keyword and location columns into the text,
	// as "keyword: K; location: L; TEXT" (absent ones left out, the keyword's %20 decoded).
	KeywordLocation bool
	// CleanHTML replaces IMDB's "<br />" tags with spaces and unescapes HTML entities.
	CleanHTML bool
	// SkipEmpty skips rows whose text is empty or blank instead of failing; the skipped
	// rows are listed in the Dataset's Notes.
	SkipEmpty bool
}

// rowChecker validates the texts of one file and remembers the rows skipped on request.
type rowChecker struct {
	opts    Options
	skipped []string // locations ("file:line") of rows skipped as empty
}

// check reports whether the text at loc is kept; it fails on invalid UTF-8, and on an empty
// text unless SkipEmpty is set.
func (c *rowChecker) check(loc, what, text string) (bool, error) {
	if !utf8.ValidString(text) {
		return false, fmt.Errorf("%s: %s is not valid UTF-8", loc, what)
	}
	if strings.TrimSpace(text) == "" {
		if c.opts.SkipEmpty {
			c.skipped = append(c.skipped, loc)
			return false, nil
		}
		return false, fmt.Errorf("%s: empty %s (want some text; Options.SkipEmpty skips such rows)", loc, what)
	}
	return true, nil
}

// noteSkipped records in d's notes the rows of file skipped on request.
func noteSkipped(d *Dataset, file string, skipped []string) {
	if len(skipped) == 0 {
		return
	}
	shown := skipped
	if len(shown) > 5 {
		shown = append(shown[:5:5], "...")
	}
	d.Notef("skipped %d rows with empty text in %s (%s)", len(skipped), file, strings.Join(shown, ", "))
}

// cleanHTML removes the HTML line breaks and entities IMDB reviews carry.
func cleanHTML(s string) string {
	s = strings.ReplaceAll(s, "<br />", " ")
	s = strings.ReplaceAll(s, "<br/>", " ")
	s = strings.ReplaceAll(s, "<br>", " ")
	return html.UnescapeString(s)
}

// csvFile reads a CSV file record by record, wrapping errors with the file name.
type csvFile struct {
	name string
	f    *os.File
	r    *csv.Reader
}

func openCSV(path string, comma rune) (*csvFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(f)
	r.Comma = comma
	return &csvFile{name: path, f: f, r: r}, nil
}

func (c *csvFile) Close() error { return c.f.Close() }

// Read returns the next record and the line it starts on; io.EOF at the end.
func (c *csvFile) Read() ([]string, int, error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return nil, 0, err
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", c.name, err)
	}
	line, _ := c.r.FieldPos(0)
	return rec, line, nil
}

// loc names a line of the file, like compilers do.
func (c *csvFile) loc(line int) string { return fmt.Sprintf("%s:%d", c.name, line) }

// columns returns the index of each wanted column in header, or an error naming the file,
// the missing column and the columns it has.
func columns(file string, header []string, want ...string) ([]int, error) {
	idx := make([]int, len(want))
	for i, name := range want {
		idx[i] = -1
		for j, h := range header {
			// A UTF-8 byte order mark may precede the first column name.
			if strings.TrimPrefix(strings.TrimSpace(h), "\ufeff") == name {
				idx[i] = j
				break
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("%s: no column %q in header %q", file, name, header)
		}
	}
	return idx, nil
}
