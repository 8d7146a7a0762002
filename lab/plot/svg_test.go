package plot

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/xmltest"
)

func TestHistogramBins(t *testing.T) {
	// Range 1..10 in 3 bins: width ceil(10/3) = 4, so 1-4 holds 1,2,2,3; 5-8 nothing; 9-12 holds 10.
	names, counts := histogram([]int{1, 2, 2, 3, 10}, 3)
	if want := []string{"1-4", "5-8", "9-12"}; !reflect.DeepEqual(names, want) {
		t.Errorf("bins %q, want %q", names, want)
	}
	if want := []int{4, 0, 1}; !reflect.DeepEqual(counts, want) {
		t.Errorf("counts %v, want %v", counts, want)
	}
	// Fewer distinct values than bins: one bin per value.
	names, counts = histogram([]int{7, 7, 8}, 20)
	if !reflect.DeepEqual(names, []string{"7", "8"}) || !reflect.DeepEqual(counts, []int{2, 1}) {
		t.Errorf("histogram of 7,7,8: %q %v, want [7 8] [2 1]", names, counts)
	}
	var bars []xmltest.Element
	for _, e := range xmltest.Parse(t, Histogram("h", "words", []int{1, 2, 2, 3, 10}, 3)) {
		if e.Name == "rect" && e.Attrs["fill"] == palette[0] {
			bars = append(bars, e)
		}
	}
	if len(bars) != 3 || xmltest.Number(t, bars[1], "height") != 0 || xmltest.Number(t, bars[0], "height") != 4*xmltest.Number(t, bars[2], "height") {
		t.Errorf("histogram bars %v: want 3 bars with heights in the ratio 4:0:1", bars)
	}
}

func TestBarsHeightsProportional(t *testing.T) {
	doc := Bars("scores", []string{"a", "b"}, Series{Name: "acc", Y: []float64{0.8, 0.4}}, Series{Name: "f1", Y: []float64{0.6, 0.2}})
	var heights []float64
	for _, e := range xmltest.Parse(t, doc) {
		if e.Name == "rect" && strings.HasPrefix(e.Attrs["fill"], "#") && e.Attrs["fill"] != "white" && e.Attrs["width"] != "10" {
			heights = append(heights, xmltest.Number(t, e, "height"))
		}
	}
	if len(heights) != 4 {
		t.Fatalf("%d bars, want 4: %v", len(heights), heights)
	}
	// Order: category a (acc, f1), category b (acc, f1); the axis starts at 0, so heights are
	// proportional to the values 0.8, 0.6, 0.4, 0.2.
	for i, want := range []float64{4, 3, 2, 1} {
		if got := heights[i] / heights[3]; math.Abs(got-want) > 0.01 {
			t.Errorf("bar %d is %.3f times the last, want %g (heights %v)", i, got, want, heights)
		}
	}
	if !strings.Contains(doc, ">acc</text>") || !strings.Contains(doc, ">f1</text>") {
		t.Error("legend lacks the series names")
	}
}

func TestNiceTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 0.83, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{0.31, 0.69, []float64{0.3, 0.4, 0.5, 0.6, 0.7}},
		{0, 40, []float64{0, 10, 20, 30, 40}},
	} {
		got := niceTicks(c.lo, c.hi, 5)
		ok := len(got) == len(c.want)
		for i := 0; ok && i < len(got); i++ {
			ok = math.Abs(got[i]-c.want[i]) < 1e-9
		}
		if !ok {
			t.Errorf("niceTicks(%g, %g) = %v, want %v", c.lo, c.hi, got, c.want)
		}
	}
}

// TestLinesBreakAtNaN: a NaN and an infinite value (a diverged loss) each break the line, and the
// infinite one leaves the y axis to the finite values, every point inside the plot.
func TestLinesBreakAtNaN(t *testing.T) {
	doc := Lines("loss", "step", Series{Name: "train", X: []float64{1, 2, 3, 4, 5, 6, 7, 8}, Y: []float64{1, 0.8, math.NaN(), 0.5, 0.4, math.Inf(1), 0.3, 0.2}})
	lines := 0
	for _, e := range xmltest.Parse(t, doc) {
		if e.Name == "polyline" {
			lines++
			pts := strings.Fields(e.Attrs["points"])
			if len(pts) != 2 {
				t.Errorf("polyline with %d points, want 2 between the breaks", len(pts))
			}
			for _, p := range pts {
				_, y, _ := strings.Cut(p, ",")
				if v, err := strconv.ParseFloat(y, 64); err != nil || v < marginT || v > height-marginB {
					t.Errorf("point %s: y outside the plot [%d, %d]", p, marginT, height-marginB)
				}
			}
		}
	}
	if lines != 3 {
		t.Errorf("%d polylines, want 3", lines)
	}
}

// TestLinesOnePoint draws one evaluation (a one-epoch run): the dot must sit inside the plot,
// centred horizontally (x = 56 + (640-56-16)/2 = 340), and say its value.
func TestLinesOnePoint(t *testing.T) {
	doc := Lines("validation accuracy", "step", Series{Name: "validation accuracy", X: []float64{40}, Y: []float64{0.8725}})
	var circles, labels int
	for _, e := range xmltest.Parse(t, doc) {
		switch {
		case e.Name == "circle":
			circles++
			cx, _ := strconv.ParseFloat(e.Attrs["cx"], 64)
			cy, _ := strconv.ParseFloat(e.Attrs["cy"], 64)
			if cx != 340 || cy <= marginT || cy >= height-marginB {
				t.Errorf("dot at (%g, %g), want x 340 and y strictly inside (%d, %d)", cx, cy, marginT, height-marginB)
			}
		case e.Name == "text" && e.Text == "0.873":
			labels++
		}
	}
	if circles != 1 || labels != 1 {
		t.Errorf("%d dots and %d labels \"0.873\", want one of each:\n%s", circles, labels, doc)
	}
}

func TestHeatmapCellsAndShares(t *testing.T) {
	doc := Heatmap("cm", []string{"neg", "pos"}, [][]int{{3, 1}, {0, 4}})
	var texts []string
	for _, e := range xmltest.Parse(t, doc) {
		if e.Name == "text" {
			texts = append(texts, e.Text)
		}
	}
	joined := strings.Join(texts, "|")
	// Row shares: 3/4 = 75%, 1/4 = 25%, 0/4 = 0%, 4/4 = 100%.
	for _, want := range []string{"3|75%", "1|25%", "0|0%", "4|100%"} {
		if !strings.Contains(joined, want) {
			t.Errorf("heat map texts %q lack %q", joined, want)
		}
	}
	if shade(0) != "#f7fbff" || shade(1) != "#08306b" {
		t.Errorf("shade(0), shade(1) = %s, %s; want the ends of the white-to-blue scale #f7fbff, #08306b", shade(0), shade(1))
	}
}

// circles returns the centres of doc's dots.
func circles(t *testing.T, doc string) (cx, cy []float64) {
	for _, e := range xmltest.Parse(t, doc) {
		if e.Name == "circle" {
			cx, cy = append(cx, xmltest.Number(t, e, "cx")), append(cy, xmltest.Number(t, e, "cy"))
		}
	}
	return cx, cy
}

// TestScatterPlacesPoints: a dot per finite point, placed linearly in x and y (SVG's y grows
// downwards), with both axis labels; no diagonal.
func TestScatterPlacesPoints(t *testing.T) {
	doc := Scatter("length vs loss", "tokens", "loss <nats>", []float64{10, 20, 40, 30}, []float64{1, 2, 4, math.NaN()})
	cx, cy := circles(t, doc)
	if len(cx) != 3 {
		t.Fatalf("%d dots, want 3 (the NaN left out)", len(cx))
	}
	// x 10, 20, 40 and y 1, 2, 4: the gaps are in the ratio 1:2 on both axes.
	if d1, d2 := cx[1]-cx[0], cx[2]-cx[1]; d1 <= 0 || math.Abs(d2-2*d1) > 0.2 {
		t.Errorf("x %v: want increasing with gaps in ratio 1:2", cx)
	}
	if d1, d2 := cy[0]-cy[1], cy[1]-cy[2]; d1 <= 0 || math.Abs(d2-2*d1) > 0.2 {
		t.Errorf("y %v: want rising (decreasing pixels) with gaps in ratio 1:2", cy)
	}
	if !strings.Contains(doc, ">tokens</text>") || !strings.Contains(doc, ">loss &lt;nats&gt;</text>") {
		t.Error("the axis labels are missing or unescaped")
	}
	if strings.Contains(doc, "y = x") {
		t.Error("Scatter drew the diagonal")
	}
}

// TestPredictedVsTrueDiagonal: both axes cover the same range (1 to 5.5, widened to the round 6),
// so the y = x line runs from corner to corner of the plot; perfect predictions lie on it and an
// overestimate above it.
func TestPredictedVsTrueDiagonal(t *testing.T) {
	doc := PredictedVsTrue("stars", []float64{1, 3, 5.5}, []float64{1, 4, 5.5})
	var diag *xmltest.Element
	els := xmltest.Parse(t, doc)
	for i, e := range els {
		if e.Name == "line" && e.Attrs["stroke-dasharray"] != "" {
			diag = &els[i]
		}
	}
	if diag == nil {
		t.Fatalf("no diagonal:\n%s", doc)
	}
	x1, y1, x2, y2 := xmltest.Number(t, *diag, "x1"), xmltest.Number(t, *diag, "y1"), xmltest.Number(t, *diag, "x2"), xmltest.Number(t, *diag, "y2")
	if x1 != marginL || y1 != height-marginB || x2 != width-marginR || y2 != marginT {
		t.Errorf("diagonal (%g,%g)-(%g,%g), want from the plot's bottom left to its top right", x1, y1, x2, y2)
	}
	// lineY is the diagonal's y at x.
	lineY := func(x float64) float64 { return y1 + (x-x1)*(y2-y1)/(x2-x1) }
	cx, cy := circles(t, doc)
	if len(cx) != 3 {
		t.Fatalf("%d dots, want 3", len(cx))
	}
	for _, i := range []int{0, 2} {
		if math.Abs(cy[i]-lineY(cx[i])) > 0.2 {
			t.Errorf("perfect prediction %d at (%g, %g), off the diagonal (y %g there)", i, cx[i], cy[i], lineY(cx[i]))
		}
	}
	if cy[1] >= lineY(cx[1]) {
		t.Errorf("the overestimate (3, 4) at (%g, %g), want above the diagonal (y %g there)", cx[1], cy[1], lineY(cx[1]))
	}
	if !strings.Contains(doc, ">true</text>") || !strings.Contains(doc, ">predicted</text>") || !strings.Contains(doc, ">6</text>") {
		t.Error("axes not labelled true and predicted, or not up to 6")
	}
}

// TestStackOneUnderAnother: the stacked document holds each chart whole, the second placed at
// the first's height, and is as tall as both.
func TestStackOneUnderAnother(t *testing.T) {
	a := Lines("loss", "step", Series{X: []float64{1, 2}, Y: []float64{2, 1}})
	b := Heatmap("cm", []string{"x", "y"}, [][]int{{1, 0}, {0, 1}})
	els := xmltest.Parse(t, Stack(a, b))
	var svgs []xmltest.Element
	for _, e := range els {
		if e.Name == "svg" {
			svgs = append(svgs, e)
		}
	}
	if len(svgs) != 3 {
		t.Fatalf("%d <svg> elements, want the document and its 2 charts", len(svgs))
	}
	bh := xmltest.Number(t, xmltest.Parse(t, b)[0], "height")
	if y := xmltest.Number(t, svgs[2], "y"); y != height {
		t.Errorf("second chart at y %g, want %d", y, height)
	}
	if h := xmltest.Number(t, svgs[0], "height"); h != height+bh {
		t.Errorf("height %g, want %g", h, height+bh)
	}
	var titles []string
	for _, e := range els {
		if e.Name == "title" {
			titles = append(titles, e.Text)
		}
	}
	if !reflect.DeepEqual(titles, []string{"loss", "cm"}) {
		t.Errorf("titles %q, want both charts'", titles)
	}
}

// TestLegendNamesSeriesWithValues: a series without values (no evaluation yet) is not in the
// legend; the other keeps its colour.
func TestLegendNamesSeriesWithValues(t *testing.T) {
	doc := Lines("loss", "step", Series{Name: "validation loss"}, Series{Name: "training loss", X: []float64{1, 2}, Y: []float64{1, 0.5}})
	if strings.Contains(doc, "validation loss") || !strings.Contains(doc, ">training loss</text>") {
		t.Errorf("legend: want the training loss only:\n%s", doc)
	}
	if !strings.Contains(doc, `stroke="`+palette[1]+`"`) {
		t.Errorf("the training loss lost its colour %s", palette[1])
	}
}
