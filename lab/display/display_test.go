package display

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/xmltest"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/metrics"
	"github.com/tunelab/tunelab/lab/plot"
	"github.com/tunelab/tunelab/lab/train"
)

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
	for _, e := range xmltest.Parse(t, testRun(t).Mistakes(5)) {
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
	xmltest.Parse(t, table)
	if !strings.Contains(table, "m on toy") || !strings.Contains(table, ">0.5000<") || !strings.Contains(table, ">neg</td>") || !strings.Contains(table, ">pos</td>") {
		t.Errorf("metrics table lacks the run name or the scores: %s", table)
	}
	for _, doc := range []string{got.Curves(), got.ConfusionMatrix()} {
		xmltest.Parse(t, doc)
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
	xmltest.Parse(t, doc)
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
	for _, e := range xmltest.Parse(t, doc) {
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
		xmltest.Parse(t, string(svg))
		svgs = append(svgs, string(svg))
	}
	return svgs
}

// TestImageCarriesTheChart checks what JupyterLab shows of an untrusted notebook's chart: an
// <img> whose data: URI decodes to the chart's SVG document, with the chart's title as alt text
// (notebooks/ checks in a browser that JupyterLab renders it).
func TestImageCarriesTheChart(t *testing.T) {
	chart := plot.Bars(`scores <a & b>`, []string{"x"}, plot.Series{Y: []float64{1}})
	doc := Image(chart)
	els := xmltest.Parse(t, doc)
	if len(els) != 1 || els[0].Name != "img" || els[0].Attrs["alt"] != "scores <a & b>" {
		t.Errorf("Image: %v, want one <img> with the title as alt text", els)
	}
	if svgs := imageSVGs(t, doc); len(svgs) != 1 || svgs[0] != chart {
		t.Errorf("Image's data: URI holds %q, want the chart %q", svgs, chart)
	}
	if strings.Contains(doc, "<svg") {
		t.Error("Image left inline SVG, which JupyterLab strips from untrusted notebooks")
	}
	if alt := xmltest.Parse(t, Image(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`))[0].Attrs["alt"]; alt != "chart" {
		t.Errorf("alt text of an untitled SVG %q, want \"chart\"", alt)
	}
}

func TestRowKeepsTablesWhole(t *testing.T) {
	doc := Row(plot.Table([]string{"a"}, nil), Image(plot.Bars("b", []string{"x"}, plot.Series{Y: []float64{1}})))
	els := xmltest.Parse(t, doc)
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
