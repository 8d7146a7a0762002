package train

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/xmltest"
)

// TestHistorySVGPlotsTheLoss: history.svg holds a loss chart, where the training loss's line
// has one point per logged loss, spaced in x as the steps are and placed in y by the loss
// (highest loss on top, the middle value half-way), beside the validation loss; then a chart
// per other evaluation metric, and none for the learning rate.
func TestHistorySVGPlotsTheLoss(t *testing.T) {
	history := []Record{
		{"step": 10, "epoch": 0.5, "loss": 3, "learning_rate": 1e-5},
		{"step": 20, "epoch": 1, "loss": 1},
		{"step": 20, "epoch": 1, "eval_loss": 0.9, "eval_accuracy": 0.6},
		{"step": 40, "epoch": 2, "loss": 2},
		{"step": 40, "epoch": 2, "eval_loss": 0.8, "eval_accuracy": 0.7},
	}
	var titles []string
	lines := map[string][]string{} // chart title -> its polylines' points
	for _, e := range xmltest.Parse(t, string(historySVG(history)))[1:] {
		switch {
		case e.Name == "svg":
			titles = append(titles, "")
		case e.Name == "title" && titles[len(titles)-1] == "":
			titles[len(titles)-1] = e.Text
		case e.Name == "polyline":
			title := titles[len(titles)-1]
			lines[title] = append(lines[title], e.Attrs["points"])
		}
	}
	if want := []string{"loss", "eval_accuracy"}; !slices.Equal(titles, want) {
		t.Fatalf("charts %q, want %q", titles, want)
	}
	if len(lines["loss"]) != 2 || len(strings.Fields(lines["loss"][1])) != 2 || len(lines["eval_accuracy"]) != 1 {
		t.Fatalf("lines %q: want the training and validation loss (2 points), and the accuracy", lines)
	}
	var xs, ys []float64
	for _, pt := range strings.Fields(lines["loss"][0]) {
		x, y, _ := strings.Cut(pt, ",")
		xf, err1 := strconv.ParseFloat(x, 64)
		yf, err2 := strconv.ParseFloat(y, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad point %q", pt)
		}
		xs, ys = append(xs, xf), append(ys, yf)
	}
	if len(xs) != 3 {
		t.Fatalf("loss polyline has %d points, want 3 (steps 10, 20, 40): %v", len(xs), lines["loss"][0])
	}
	// Steps 10, 20, 40: the second gap is twice the first.
	if d1, d2 := xs[1]-xs[0], xs[2]-xs[1]; d1 <= 0 || math.Abs(d2-2*d1) > 0.2 {
		t.Errorf("x %v: want increasing with gaps in ratio 1:2", xs)
	}
	// Losses 3, 1, 2: SVG y grows downwards, so loss 3 is the smallest y, 1 the largest, 2 midway.
	if !(ys[0] < ys[2] && ys[2] < ys[1]) || math.Abs(ys[2]-(ys[0]+ys[1])/2) > 0.1 {
		t.Errorf("y %v for losses 3, 1, 2: want top, bottom, half-way", ys)
	}
}

// TestCurveTakesTheRecordsWithTheKey: the evaluations' accuracy by epoch, the training-loss
// records left out.
func TestCurveTakesTheRecordsWithTheKey(t *testing.T) {
	history := []Record{{"step": 5, "epoch": 0.5, "loss": 0.7}, {"step": 10, "epoch": 1, "eval_accuracy": 0.8}, {"step": 20, "epoch": 2, "eval_accuracy": 0.9}}
	c := Curve(history, "acc", "epoch", "eval_accuracy")
	if c.Name != "acc" || !slices.Equal(c.X, []float64{1, 2}) || !slices.Equal(c.Y, []float64{0.8, 0.9}) {
		t.Errorf("Curve = %+v, want acc at epochs 1, 2: 0.8, 0.9", c)
	}
}
