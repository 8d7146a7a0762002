package runs

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/xmltest"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/metrics"
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
	// The history: training loss at steps 1 and 2, one evaluation at step 2 (accuracy 0.5).
	loss, accuracy := got.Curves()
	xmltest.Parse(t, got.ConfusionMatrix())
	if xmltest.Parse(t, loss); !strings.Contains(loss, "<polyline") || !strings.Contains(loss, ">validation loss</text>") {
		t.Errorf("loss chart lacks the training loss's line or the validation loss:\n%s", loss)
	}
	if xmltest.Parse(t, accuracy); !strings.Contains(accuracy, ">0.5</text>") {
		t.Errorf("accuracy chart lacks the evaluation's 0.5:\n%s", accuracy)
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
	if cm := r.ConfusionMatrix(); !strings.Contains(cm, ">neg</text>") || !strings.Contains(cm, ">2</text>") {
		t.Errorf("confusion matrix lacks the labels or the count 2: %s", cm)
	}
}
