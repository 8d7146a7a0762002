package display

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/xmltest"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/plot"
	"github.com/tunelab/tunelab/lab/runs"
	"github.com/tunelab/tunelab/lab/train"
)

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

// TestRunChartsAsImages: Curves and RunsCurves show a run's two charts (runs.Run.Curves,
// runs.ValidationCurves) as images in a Row, in that order; no runs show nothing.
func TestRunChartsAsImages(t *testing.T) {
	r := &runs.Run{Name: "m-lr1e-4", Model: "m", Task: data.Tweets, Labels: []string{"not disaster", "disaster"}, History: []train.Record{
		{"step": 10, "epoch": 0.5, "loss": 0.7}, {"step": 20, "epoch": 1, "loss": 0.5},
		{"step": 20, "epoch": 1, "eval_loss": 0.4, "eval_f1": 0.75, "eval_accuracy": 0.8}}}
	loss, accuracy := r.Curves()
	doc := Curves(r)
	if got := imageSVGs(t, doc); !slices.Equal(got, []string{loss, accuracy}) || !strings.HasPrefix(doc, Row()[:20]) {
		t.Errorf("Curves: a row of %d images, want the run's loss and accuracy charts:\n%s", len(got), doc)
	}
	loss, f1 := runs.ValidationCurves([]*runs.Run{r})
	if got := imageSVGs(t, RunsCurves([]*runs.Run{r})); !slices.Equal(got, []string{loss, f1}) || !strings.Contains(f1, "F1 of disaster") {
		t.Errorf("RunsCurves: %d images, want the validation loss and F1 charts", len(got))
	}
	if doc := RunsCurves(nil); doc != "" {
		t.Errorf("RunsCurves of no runs: %q", doc)
	}
}
