package display

import (
	"encoding/base64"
	"encoding/xml"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/metrics"
	"github.com/tunelab/tunelab/lab/train"
)

// element is a parsed SVG/HTML element with its attributes and text.
type element struct {
	Name  string
	Attrs map[string]string
	Text  string
}

// parse checks that doc is well-formed XML and returns its elements in document order.
func parse(t *testing.T, doc string) []element {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	var els []element
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
			e := element{Name: tok.Name.Local, Attrs: map[string]string{}}
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

func attr(t *testing.T, e element, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.Attrs[name], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", e.Name, name, e.Attrs[name], err)
	}
	return v
}

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
	var bars []element
	for _, e := range parse(t, Histogram("h", "words", []int{1, 2, 2, 3, 10}, 3)) {
		if e.Name == "rect" && e.Attrs["fill"] == palette[0] {
			bars = append(bars, e)
		}
	}
	if len(bars) != 3 || attr(t, bars[1], "height") != 0 || attr(t, bars[0], "height") != 4*attr(t, bars[2], "height") {
		t.Errorf("histogram bars %v: want 3 bars with heights in the ratio 4:0:1", bars)
	}
}

func TestBarsHeightsProportional(t *testing.T) {
	doc := Bars("scores", []string{"a", "b"}, Series{Name: "acc", Y: []float64{0.8, 0.4}}, Series{Name: "f1", Y: []float64{0.6, 0.2}})
	var heights []float64
	for _, e := range parse(t, doc) {
		if e.Name == "rect" && strings.HasPrefix(e.Attrs["fill"], "#") && e.Attrs["fill"] != "white" && e.Attrs["width"] != "10" {
			heights = append(heights, attr(t, e, "height"))
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

func TestLinesBreakAtNaN(t *testing.T) {
	doc := Lines("loss", "step", Series{Name: "train", X: []float64{1, 2, 3, 4, 5}, Y: []float64{1, 0.8, math.NaN(), 0.5, 0.4}})
	lines := 0
	for _, e := range parse(t, doc) {
		if e.Name == "polyline" {
			lines++
			if n := len(strings.Fields(e.Attrs["points"])); n != 2 {
				t.Errorf("polyline with %d points, want 2 on each side of the NaN", n)
			}
		}
	}
	if lines != 2 {
		t.Errorf("%d polylines, want 2", lines)
	}
}

// TestLinesOnePoint draws one evaluation (a one-epoch run): the dot must sit inside the plot,
// centred horizontally (x = 56 + (640-56-16)/2 = 340), and say its value.
func TestLinesOnePoint(t *testing.T) {
	doc := Lines("validation accuracy", "step", Series{Name: "validation accuracy", X: []float64{40}, Y: []float64{0.8725}})
	var circles, labels int
	for _, e := range parse(t, doc) {
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
	for _, e := range parse(t, doc) {
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

func TestTableEscapesAndAligns(t *testing.T) {
	doc := Table([]string{"text", "p"}, [][]string{{`<script>alert("x")</script> & co`, "0.925"}, {"-3", "12.5%"}})
	els := parse(t, doc)
	var cells []element
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

// testRun is a run on 4 validation examples with hand-written predictions: examples 1 and 3 are
// mistakes, 3 with the higher probability (0.9 against 0.6).
func testRun(t *testing.T) *Run {
	labels := []string{"neg", "pos"}
	val := []data.Example{{ID: "a", Text: "good", Label: "pos"}, {ID: "b", Text: "fine", Label: "pos"},
		{ID: "c", Text: "bad", Label: "neg"}, {ID: "d", Text: "awful <b>", Label: "neg"}}
	preds := []int{1, 0, 0, 1}
	yTrue, yPred := []int{1, 1, 0, 0}, preds
	rep, err := metrics.New[int]().WithLabels(0, 1).WithPosLabel(1).Report(yTrue, yPred)
	if err != nil {
		t.Fatal(err)
	}
	ev := &train.Eval{Loss: 0.5, Predictions: preds, Probabilities: [][]float32{{0.2, 0.8}, {0.6, 0.4}, {0.7, 0.3}, {0.1, 0.9}}, Report: rep}
	res := &train.Result{Eval: ev}
	res.History = []train.Record{{"step": 1, "loss": 0.7}, {"step": 2, "loss": 0.6, "eval_loss": 0.5, "eval_accuracy": 0.5}}
	r, err := NewRun("m", "toy", labels, train.Defaults(), 10, val, res, 90e9)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRunMistakesByConfidence(t *testing.T) {
	var rows [][]string
	var row []string
	for _, e := range parse(t, testRun(t).Mistakes(5)) {
		switch e.Name {
		case "tr":
			if row != nil {
				rows = append(rows, row)
			}
			row = []string{}
		case "td":
			row = append(row, e.Text)
		}
	}
	rows = append(rows, row)
	want := [][]string{{"awful <b>", "neg", "pos", "0.900"}, {"fine", "pos", "neg", "0.600"}}
	if !reflect.DeepEqual(rows[1:], want) { // rows[0] is the header row (no td)
		t.Errorf("mistakes %q, want %q", rows[1:], want)
	}
}

func TestRunSaveLoad(t *testing.T) {
	r := testRun(t)
	r.Dir = t.TempDir()
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := LoadRun(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Metrics, r.Metrics) || !reflect.DeepEqual(got.Eval.Probabilities, r.Eval.Probabilities) ||
		!reflect.DeepEqual(got.Validation, r.Validation) || got.Seconds != 90 || got.Status != Finished || got.Dir != r.Dir {
		t.Errorf("loaded run differs: %+v\nsaved %+v", got, r)
	}
	// accuracy 2/4; F1 of pos: precision 1/2, recall 1/2.
	if got.Metrics["accuracy"] != 0.5 || got.Metrics["f1"] != 0.5 {
		t.Errorf("metrics %v, want accuracy 0.5 and f1 0.5", got.Metrics)
	}
	table := got.MetricsTable()
	parse(t, table)
	if !strings.Contains(table, "m on toy") || !strings.Contains(table, ">0.5000<") || !strings.Contains(table, ">neg</td>") || !strings.Contains(table, ">pos</td>") {
		t.Errorf("metrics table lacks the run name or the scores: %s", table)
	}
	for _, doc := range []string{got.Curves(), got.ConfusionMatrix()} {
		parse(t, doc)
	}
}

func TestNewRunChecksPredictions(t *testing.T) {
	res := &train.Result{Eval: &train.Eval{Predictions: []int{0}}}
	if _, err := NewRun("m", "toy", []string{"a", "b"}, train.Defaults(), 1, make([]data.Example, 2), res, 0); err == nil ||
		!strings.Contains(err.Error(), "1 predictions for 2 validation examples") {
		t.Errorf("NewRun with 1 prediction for 2 examples: error %v", err)
	}
	if _, err := NewRun("m", "toy", nil, train.Defaults(), 1, nil, &train.Result{}, 0); err == nil {
		t.Error("NewRun without an evaluation: no error")
	}
}

func TestLiveHTML(t *testing.T) {
	l := NewLive("run <1>")
	var buf strings.Builder
	l.Text = &buf
	for step := 1; step <= 4; step++ {
		l.Update(train.Progress{Step: step, TotalSteps: 4, Loss: 1 / float64(step), LR: 1e-5})
	}
	l.Update(train.Progress{Step: 4, TotalSteps: 4, Eval: map[string]float64{"loss": 0.3, "accuracy": 0.75}})
	// The evaluation leaves the last step's loss and learning rate on display.
	doc := l.HTML()
	parse(t, doc)
	for _, want := range []string{"run &lt;1&gt;", "step 4/4", "loss 0.2500 · lr 1.00e-05", "width:100.0%", "accuracy 0.7500, loss 0.3000"} {
		if !strings.Contains(doc, want) {
			t.Errorf("live display lacks %q:\n%s", want, doc)
		}
	}
	if charts := imageSVGs(t, doc); len(charts) != 1 || !strings.Contains(charts[0], "<polyline") {
		t.Errorf("live display has %d chart images, want one with the loss curve: %q", len(charts), charts)
	}
	if want := "run <1>: step 4/4 accuracy 0.7500, loss 0.3000\n"; buf.String() != want {
		t.Errorf("text output %q, want %q", buf.String(), want)
	}
}

// The facade's evaluations name classes by label; the table and heat map must find them too.
func TestRunClassesNamedByLabel(t *testing.T) {
	r := testRun(t)
	rep, err := metrics.New[string]().WithLabels("neg", "pos").WithPosLabel("pos").Report([]string{"pos", "pos", "neg", "neg"}, []string{"pos", "neg", "neg", "neg"})
	if err != nil {
		t.Fatal(err)
	}
	r.Eval.Report = rep
	// pos: precision 1/1, recall 1/2, F1 2/3; neg: precision 2/3, recall 2/2, F1 0.8.
	table := r.MetricsTable()
	for _, want := range []string{">pos</td>", ">1.0000<", ">0.6667<", ">neg</td>", ">0.8000<"} {
		if !strings.Contains(table, want) {
			t.Errorf("metrics table lacks %q: %s", want, table)
		}
	}
	if cm := imageSVGs(t, r.ConfusionMatrix()); len(cm) != 1 || !strings.Contains(cm[0], ">neg</text>") || !strings.Contains(cm[0], ">2</text>") {
		t.Errorf("confusion matrix lacks the labels or the count 2: %s", cm)
	}
}

// imageSVGs returns the SVG documents of doc's <img> elements with data: URIs (Image).
func imageSVGs(t *testing.T, doc string) []string {
	t.Helper()
	var svgs []string
	for _, e := range parse(t, doc) {
		if e.Name != "img" {
			continue
		}
		src, ok := strings.CutPrefix(e.Attrs["src"], "data:image/svg+xml;base64,")
		if !ok {
			t.Fatalf("<img src=%.40q...>: not an SVG data: URI", e.Attrs["src"])
		}
		svg, err := base64.StdEncoding.DecodeString(src)
		if err != nil {
			t.Fatalf("<img> data: URI: %v", err)
		}
		parse(t, string(svg))
		svgs = append(svgs, string(svg))
	}
	return svgs
}

// TestImageCarriesTheChart checks what JupyterLab shows of an untrusted notebook's chart: an
// <img> whose data: URI decodes to the chart's SVG document, with the chart's title as alt text
// (notebooks/ checks in a browser that JupyterLab renders it).
func TestImageCarriesTheChart(t *testing.T) {
	chart := Bars(`scores <a & b>`, []string{"x"}, Series{Y: []float64{1}})
	doc := Image(chart)
	els := parse(t, doc)
	if len(els) != 1 || els[0].Name != "img" || els[0].Attrs["alt"] != "scores <a & b>" {
		t.Errorf("Image: %v, want one <img> with the title as alt text", els)
	}
	if svgs := imageSVGs(t, doc); len(svgs) != 1 || svgs[0] != chart {
		t.Errorf("Image's data: URI holds %q, want the chart %q", svgs, chart)
	}
	if strings.Contains(doc, "<svg") {
		t.Error("Image left inline SVG, which JupyterLab strips from untrusted notebooks")
	}
	if alt := parse(t, Image(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`))[0].Attrs["alt"]; alt != "chart" {
		t.Errorf("alt text of an untitled SVG %q, want \"chart\"", alt)
	}
}

func TestRowKeepsTablesWhole(t *testing.T) {
	doc := Row(Table([]string{"a"}, nil), Image(Bars("b", []string{"x"}, Series{Y: []float64{1}})))
	els := parse(t, doc)
	var boxes []string
	for _, e := range els[1:] {
		if e.Name == "div" {
			boxes = append(boxes, e.Attrs["style"])
		}
	}
	if len(boxes) != 2 || boxes[0] != "flex:0 0 auto" || !strings.Contains(boxes[1], "flex:1 1") {
		t.Errorf("row boxes %q: want the table at its natural width and the chart flexible", boxes)
	}
}
