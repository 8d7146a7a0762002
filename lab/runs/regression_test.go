package runs

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/internal/xmltest"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/metrics"
	"github.com/tunelab/tunelab/lab/train"
)

// Six reviews' star ratings and a regression model's predictions of them. scikit-learn and scipy
// give: mean_squared_error 2.3333, its root 1.5275, mean_absolute_error 1.3333, r2_score 0.7789,
// pearsonr 0.8910, spearmanr 0.7714 (the ranks of the predictions, 2 1 3 5 6 4, are off by
// 1 1 0 1 1 2: 1 - 6·8/(6·35)).
var (
	ratings    = []float64{1, 2, 4, 7, 8, 10}
	ratingPred = []float64{2, 1, 3, 8, 9, 7}
)

// savedRegressionRun writes a finished regression run on imdb-rating named name under dir as
// FineTune leaves it: its validation reviews (IDs "r0", "r1", ...) have the ratings truth, and
// the model predicted preds.
func savedRegressionRun(t *testing.T, dir, name string, start int, truth, preds []float64) *Run {
	t.Helper()
	val := make([]data.Example, len(truth))
	probs := make([][]float32, len(truth))
	for i := range truth {
		label := "neg"
		if truth[i] >= 7 {
			label = "pos"
		}
		val[i] = data.Example{ID: fmt.Sprint("r", i), Text: fmt.Sprintf("review %d", i), Label: label, Rating: int(truth[i]), Value: truth[i]}
		probs[i] = []float32{float32(preds[i])}
	}
	rep, err := metrics.Regression(truth, preds)
	if err != nil {
		t.Fatal(err)
	}
	res := &train.Result{Eval: &train.Eval{Loss: rep.MSE, Probabilities: probs, Regression: rep}}
	res.Step, res.TotalSteps = 40, 40
	res.History = []train.Record{{"step": 20, "epoch": 0.5, "loss": 30}, {"step": 40, "epoch": 1, "loss": 9},
		{"step": 40, "epoch": 1, "eval_loss": rep.MSE, "eval_rmse": rep.RMSE, "eval_spearman": rep.Spearman}}
	r, err := NewRun("m", data.IMDBRating, []string{"LABEL_0"}, train.Defaults(), 100, val, res, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r.MaxLength = 128
	return saveAs(t, r, dir, name, start)
}

// TestRegressionRun: a regression run's record round-trips, and its tables and charts show the
// regression metrics (scikit-learn's and scipy's values above), its predictions against the
// ratings, and its Spearman correlation where a classifier's accuracy would be.
func TestRegressionRun(t *testing.T) {
	dir := t.TempDir()
	saved := savedRegressionRun(t, dir, "m", 0, ratings, ratingPred)
	r, err := LoadRun(saved.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Metrics, saved.Metrics) || !reflect.DeepEqual(r.Eval.Probabilities, saved.Eval.Probabilities) ||
		!reflect.DeepEqual(r.Validation, saved.Validation) || !reflect.DeepEqual(r.Eval.Regression, saved.Eval.Regression) {
		t.Errorf("loaded run differs: %+v\nsaved %+v", r, saved)
	}
	want := map[string]string{"MSE": "2.3333", "RMSE": "1.5275", "MAE": "1.3333", "R²": "0.7789", "Pearson": "0.8910", "Spearman": "0.7714", "examples": "6"}
	got := map[string]string{}
	for _, row := range tableRows(t, r.MetricsTable()) {
		got[row[0]] = row[1]
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("metrics table %v, want %v", got, want)
	}

	chart := r.PredictedVsTrue()
	var dots int
	for _, e := range xmltest.Parse(t, chart) {
		if e.Name == "circle" {
			dots++
		}
	}
	if dots != len(ratings) || !strings.Contains(chart, "y = x") {
		t.Errorf("predicted-against-true chart: %d dots, want %d and the line y = x:\n%s", dots, len(ratings), chart)
	}
	_, score := r.Curves()
	if xmltest.Parse(t, score); !strings.Contains(score, "m: validation Spearman") || !strings.Contains(score, ">0.771</text>") {
		t.Errorf("score chart lacks the Spearman title or its value 0.771:\n%s", score)
	}

	// A second run that predicts the ratings' order exactly (Spearman 1) is the better one; the
	// runs table shows the regression metrics, none of a classifier's.
	better := savedRegressionRun(t, dir, "m-lr3e-4", 1, ratings, []float64{5, 5.5, 6, 6.5, 7, 7.5})
	runs, err := LoadRuns(dir, data.IMDBRating)
	if err != nil {
		t.Fatal(err)
	}
	if b := Best(runs); b == nil || b.Name != better.Name {
		t.Errorf("Best = %v, want %s (Spearman 1)", b, better.Name)
	}
	table := tableByHeader(t, Table(runs))
	if _, ok := table[0]["accuracy"]; ok || table[0]["RMSE"] != "1.5275" || table[0]["Spearman"] != "0.7714" || table[1]["best"] != "★ best Spearman" {
		t.Errorf("runs table %v: want RMSE and Spearman, no accuracy, the second run best", table)
	}
	if got := r.Scores(); got != "RMSE 1.5275  Spearman 0.7714" {
		t.Errorf("Scores() = %q", got)
	}
	scores, _, err := CompareModels(runs[:1])
	if err != nil {
		t.Fatal(err)
	}
	if s := scores[0]; s.Metric != "spearman" || math.Abs(s.Value-0.771428571) > 1e-6 || s.Low > s.Value || s.High < s.Value {
		t.Errorf("CompareModels: %+v, want Spearman 0.7714 inside its interval", s)
	}
}

// TestNewRunChecksRegressionPredictions: a regression run needs a predicted value per example.
func TestNewRunChecksRegressionPredictions(t *testing.T) {
	rep, err := metrics.Regression([]float64{1, 2}, []float64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	res := &train.Result{Eval: &train.Eval{Probabilities: [][]float32{{1}}, Regression: rep}}
	if _, err := NewRun("m", data.IMDBRating, []string{"LABEL_0"}, train.Defaults(), 1, make([]data.Example, 2), res, 0); err == nil ||
		!strings.Contains(err.Error(), "1 predictions for 2 validation examples") {
		t.Errorf("NewRun with 1 value for 2 examples: error %v", err)
	}
}

// TestRatingPredictors compares the regression run's ratings with a sentiment classifier's
// P(pos) on the reviews both scored: the classifier's validation set holds them in another
// order, and one review the regression run lacks, which lacks one of the classifier's.
func TestRatingPredictors(t *testing.T) {
	dir := t.TempDir()
	// The regression run scored r0..r5 and r6 (rating 5: left out, the classifier has not seen it).
	reg := savedRegressionRun(t, dir, "m", 0, append(ratings, 5), append(ratingPred, 5))
	// P(pos) of r0..r5 is 0.1 0.2 0.3 0.6 0.9 0.8: scipy's pearsonr 0.9559 and spearmanr 0.9429
	// (ranks off by 0 0 0 0 1 1: 1 - 6·2/(6·35)).
	pPos := []float32{0.1, 0.2, 0.3, 0.6, 0.9, 0.8}
	order := []int{5, 3, 0, 4, 1, 2}
	var val []data.Example
	var probs [][]float32
	var preds []int
	for _, i := range order {
		val = append(val, reg.Validation[i])
		probs = append(probs, []float32{1 - pPos[i], pPos[i]})
		preds = append(preds, int(math.Round(float64(pPos[i]))))
	}
	val = append(val, data.Example{ID: "other", Text: "a review", Label: "pos", Rating: 9})
	probs, preds = append(probs, []float32{0.5, 0.5}), append(preds, 0)
	yTrue, yPred := make([]string, len(val)), make([]string, len(val))
	for i := range val {
		yTrue[i], yPred[i] = val[i].Label, []string{"neg", "pos"}[preds[i]]
	}
	rep, err := metrics.New[string]().WithLabels("neg", "pos").WithPosLabel("pos").Report(yTrue, yPred)
	if err != nil {
		t.Fatal(err)
	}
	clf, err := NewRun("m", data.IMDB, []string{"neg", "pos"}, train.Defaults(), 100, val,
		&train.Result{Eval: &train.Eval{Predictions: preds, Probabilities: probs, Report: rep}}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	clf.Name = "m"

	table, chart, err := RatingPredictors(reg, clf, "pos")
	if err != nil {
		t.Fatal(err)
	}
	rows := tableRows(t, table)
	if len(rows) != 2 || rows[0][0] != "rating predicted by imdb-rating/m" || rows[0][1] != "0.891" || !strings.HasPrefix(rows[0][2], "0.771 [") ||
		rows[1][0] != "P(pos) of imdb/m" || rows[1][1] != "0.956" || !strings.HasPrefix(rows[1][2], "0.943 [") {
		t.Errorf("rating predictors table rows %q", rows)
	}
	for _, row := range rows {
		var value, low, high float64
		if _, err := fmt.Sscanf(row[2], "%g [%g, %g]", &value, &low, &high); err != nil || low > value || high < value {
			t.Errorf("%s: Spearman %q, want the value inside its interval (%v)", row[0], row[2], err)
		}
	}
	// On 6 reviews the two cannot be told apart: 0.943 - 0.771 = 0.171 within the noise.
	if !strings.Contains(table, "6 validation reviews scored by both runs") ||
		!strings.Contains(table, "P(pos) of imdb/m scores 0.171 more than rating predicted by imdb-rating/m") || !strings.Contains(table, "within the noise") {
		t.Errorf("rating predictors table lacks the count or the comparison:\n%s", table)
	}
	var dots []string
	for _, e := range xmltest.Parse(t, chart) {
		if e.Name == "circle" {
			dots = append(dots, e.Attrs["cy"])
		}
	}
	if len(dots) != 6 || !strings.Contains(chart, "P(pos) against the true rating") {
		t.Errorf("scatter: %d dots, want 6 (the reviews both runs scored):\n%s", len(dots), chart)
	}

	if _, _, err := RatingPredictors(clf, clf, "pos"); err == nil || !strings.Contains(err.Error(), "not a finished regression run") {
		t.Errorf("a classifier as the regression run: error %v", err)
	}
	if _, _, err := RatingPredictors(reg, clf, "positive"); err == nil || !strings.Contains(err.Error(), `class "positive"`) {
		t.Errorf("a class the classifier lacks: error %v", err)
	}
}

// TestFineTuneRegression fine-tunes the real default model as a regression (one output, MSE) on
// a few reviews' ratings: the run's record round-trips, its metrics table shows the RMSE and
// Spearman correlation that lab/metrics computes from the record's predictions and targets, and
// the saved model, reloaded through the run, is a regression model that predicts those values.
func TestFineTuneRegression(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes a 22M-parameter model")
	}
	model := testenv.ModelDir(t, lab.DefaultModel)
	review := func(id, text string, rating int) data.Example {
		return data.Example{ID: id, Text: text, Label: map[bool]string{false: "neg", true: "pos"}[rating >= 7], Rating: rating, Value: float64(rating)}
	}
	ds := &data.Dataset{Name: data.IMDBRating, Problem: data.Regression, Splits: map[string][]data.Example{
		data.Train: {review("1", "a masterpiece, the best film of the year", 10), review("2", "the worst film I have ever seen", 1),
			review("3", "good acting but a thin plot", 7), review("4", "dull and far too long", 3)},
		data.Validation: {review("5", "wonderful, I loved every minute", 9), review("6", "boring, I walked out", 2), review("7", "not bad at all", 8)},
	}}
	cfg := train.Defaults()
	cfg.MaxSteps, cfg.BatchSize, cfg.LearningRate = 2, 4, 1e-3
	job := Job{Model: model, Task: data.IMDBRating, Data: ds, MaxLength: 16, Config: cfg, Dir: t.TempDir()}
	ctx := context.Background()
	run, err := FineTune(ctx, job, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadRun(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Metrics, run.Metrics) || !reflect.DeepEqual(r.Eval.Probabilities, run.Eval.Probabilities) || !reflect.DeepEqual(r.Labels, []string{"LABEL_0"}) {
		t.Errorf("loaded run: metrics %v, labels %q; saved %v, %q", r.Metrics, r.Labels, run.Metrics, run.Labels)
	}
	truth, predicted := make([]float64, 3), make([]float64, 3)
	for i, ex := range r.Validation {
		truth[i], predicted[i] = ex.Value, float64(r.Eval.Probabilities[i][0])
	}
	rmse, err := metrics.RootMeanSquaredError(truth, predicted)
	if err != nil {
		t.Fatal(err)
	}
	rho, _ := metrics.SpearmanR(truth, predicted)
	got := map[string]string{}
	for _, row := range tableRows(t, r.MetricsTable()) {
		got[row[0]] = row[1]
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	if got["RMSE"] != f(rmse) || got["Spearman"] != f(rho) || got["examples"] != "3" {
		t.Errorf("metrics table %v, want RMSE %s and Spearman %s of the record's predictions", got, f(rmse), f(rho))
	}

	clf, err := r.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if clf.Problem != hfmodel.Regression {
		t.Fatalf("reloaded model's problem type %q, want regression", clf.Problem)
	}
	values, err := clf.Probabilities(ctx, data.Texts(r.Validation))
	if err != nil {
		t.Fatal(err)
	}
	tol := testenv.BatchTolerance(clf.Model.MatmulDType(), 1e-4) // evaluation padded the reviews its own way
	for i, v := range values {
		if d := math.Abs(float64(v[0]) - predicted[i]); len(v) != 1 || d > tol*max(1, math.Abs(predicted[i])) {
			t.Errorf("review %d: the reloaded model predicts %v, the record %g", i, v, predicted[i])
		}
	}
}
