// Package xmltest reads the SVG and HTML documents that lab/plot, lab/runs and lab/display draw,
// for their tests: a document that is not well-formed XML fails the test (nbconvert's export
// and the browsers' SVG parsers reject it), and the elements come back in document order, so
// that a test checks what a chart or table says rather than how its markup is spelled.
package xmltest

import (
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
)

// Element is a parsed element with its attributes and text.
type Element struct {
	Name  string
	Attrs map[string]string
	Text  string
}

// Parse checks that doc is well-formed XML and returns its elements in document order.
func Parse(t testing.TB, doc string) []Element {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	var els []Element
	var stack []int
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := Element{Name: tok.Name.Local, Attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.Attrs[a.Name.Local] = a.Value
			}
			els = append(els, e)
			stack = append(stack, len(els)-1)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				els[stack[len(stack)-1]].Text += string(tok)
			}
		}
	}
	return els
}

// Number returns e's attribute name as a number, failing the test when it is not one.
func Number(t testing.TB, e Element, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.Attrs[name], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", e.Name, name, e.Attrs[name], err)
	}
	return v
}
