package plot

import (
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/xmltest"
)

func TestTableEscapesAndAligns(t *testing.T) {
	doc := Table([]string{"text", "p"}, [][]string{{`<script>alert("x")</script> & co`, "0.925"}, {"-3", "12.5%"}})
	els := xmltest.Parse(t, doc)
	var cells []xmltest.Element
	for _, e := range els {
		if e.Name == "script" {
			t.Fatal("a cell's text became a <script> element")
		}
		if e.Name == "td" {
			cells = append(cells, e)
		}
	}
	if len(cells) != 4 || cells[0].Text != `<script>alert("x")</script> & co` {
		t.Fatalf("cells %v: want 4, the first holding the text as given", cells)
	}
	for i, right := range []bool{false, true, true, true} {
		if got := strings.Contains(cells[i].Attrs["style"], "text-align:right"); got != right {
			t.Errorf("cell %d (%q) right-aligned %v, want %v", i, cells[i].Text, got, right)
		}
	}
}
