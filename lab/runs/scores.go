package runs

import (
	"fmt"
	"html"
	"slices"
	"strconv"
	"strings"

	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/metrics"
	"github.com/tunelab/tunelab/lab/plot"
)

// Bootstrap settings of the models' confidence intervals: Hugging Face Evaluate's defaults (95%,
// 9,999 resamples) with a fixed seed, so the same runs always give the same intervals.
const (
	confidence     = 0.95
	resampleCount  = 9999
	resamplingSeed = 42
)

// ModelScore is a model's best finished run on a task (Best) and its task metric (TaskMetric)
// with a 95% percentile bootstrap interval over the validation examples.
type ModelScore struct {
	Task, Model, Metric string
	Run                 *Run
	// Finished counts the model's finished runs on the task, of which Run is the best.
	Finished int
	metrics.Interval
}

// ModelDifference is Better's score minus Worse's on a task, measured on the same validation
// examples, with its paired bootstrap interval (the examples resampled once for both): an
// interval that excludes 0 is a difference larger than the noise of the sample.
type ModelDifference struct {
	Task, Metric, Better, Worse string
	// Examples is the size of the validation sample; Paired is false when the two runs were
	// scored on different examples (then there is no interval).
	Examples int
	Paired   bool
	metrics.Interval
	// metricName is the metric as the tables name it ("F1 of disaster").
	metricName string
}

// CompareModels scores every model on every task of runs (its best finished run) and measures the
// difference between each pair of models on a task, best first.
func CompareModels(runs []*Run) ([]ModelScore, []ModelDifference, error) {
	var scores []ModelScore
	var diffs []ModelDifference
	for _, task := range uniqueTasks(runs) {
		var models []string
		for _, r := range runs {
			if r.Task == task && r.Status == Finished && !slices.Contains(models, r.Model) {
				models = append(models, r.Model)
			}
		}
		metric := TaskMetric(task)
		var taskScores []ModelScore
		resamples := map[int][][]int{}
		for _, model := range models {
			mine := slices.DeleteFunc(slices.Clone(runs), func(r *Run) bool { return r.Task != task || r.Model != model || r.Status != Finished })
			best := Best(mine)
			stat, err := best.statistic(metric)
			if err != nil {
				return nil, nil, err
			}
			n := len(best.Validation)
			if resamples[n] == nil {
				resamples[n] = metrics.Resamples(n, resampleCount, resamplingSeed)
			}
			iv, err := metrics.Bootstrap(n, resamples[n], confidence, stat)
			if err != nil {
				return nil, nil, fmt.Errorf("run %s: %w", best.Title(), err)
			}
			taskScores = append(taskScores, ModelScore{Task: task, Model: model, Metric: metric, Run: best, Finished: len(mine), Interval: iv})
		}
		slices.SortStableFunc(taskScores, func(a, b ModelScore) int { return -compareFloat(a.Value, b.Value) })
		for i, a := range taskScores {
			for _, b := range taskScores[i+1:] {
				d := ModelDifference{Task: task, Metric: metric, Better: a.Model, Worse: b.Model, Examples: len(a.Run.Validation),
					Paired: sameExamples(a.Run, b.Run), metricName: a.Run.metricName(metric)}
				if d.Paired {
					sa, _ := a.Run.statistic(metric) // both built above without error
					sb, _ := b.Run.statistic(metric)
					iv, err := metrics.Bootstrap(d.Examples, resamples[d.Examples], confidence, func(idx []int) float64 { return sa(idx) - sb(idx) })
					if err != nil {
						return nil, nil, err
					}
					d.Interval = iv
				} else {
					d.Value = a.Value - b.Value
				}
				diffs = append(diffs, d)
			}
		}
		scores = append(scores, taskScores...)
	}
	return scores, diffs, nil
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// statistic is the run's metric as a function of a resample of its validation examples.
func (r *Run) statistic(metric string) (metrics.Statistic, error) {
	if r.regression() {
		if metric != regressionMetric {
			return nil, fmt.Errorf("run %s: no bootstrap statistic for the metric %q of a regression", r.Title(), metric)
		}
		truth, predicted := r.values()
		return spearmanStatistic(truth, predicted), nil
	}
	ids := make(map[string]int, len(r.Labels))
	for i, l := range r.Labels {
		ids[l] = i
	}
	yTrue := make([]int, len(r.Validation))
	for i, ex := range r.Validation {
		id, ok := ids[ex.Label]
		if !ok {
			return nil, fmt.Errorf("run %s: validation example %q has label %q, not one of %q", r.Title(), ex.ID, ex.Label, r.Labels)
		}
		yTrue[i] = id
	}
	yPred := r.Eval.Predictions
	switch metric {
	case "accuracy":
		return metrics.AccuracyStatistic(yTrue, yPred), nil
	case "macro_f1":
		return metrics.MacroF1Statistic(yTrue, yPred, len(r.Labels)), nil
	case "f1":
		if len(r.Labels) == 2 {
			return metrics.F1Statistic(yTrue, yPred, 1), nil
		}
	}
	return nil, fmt.Errorf("run %s: no bootstrap statistic for the metric %q of %d classes", r.Title(), metric, len(r.Labels))
}

// spearmanStatistic is Spearman's correlation of x and y on the selected examples (NaN where it
// is undefined: a constant resample).
func spearmanStatistic(x, y []float64) metrics.Statistic {
	return func(idx []int) float64 {
		xs, ys := make([]float64, len(idx)), make([]float64, len(idx))
		for k, i := range idx {
			xs[k], ys[k] = x[i], y[i]
		}
		rho, _ := metrics.SpearmanR(xs, ys) // x and y have one value per example
		return rho
	}
}

// sameExamples says whether two runs were scored on the same validation examples, in order.
func sameExamples(a, b *Run) bool {
	return slices.EqualFunc(a.Validation, b.Validation, func(x, y data.Example) bool { return x.ID == y.ID && x.Text == y.Text && x.Label == y.Label })
}

// ScoresTable is the tasks x models table of CompareModels: each model's score on each task with
// its 95% confidence interval, then a sentence per pair of models on a task saying whether their
// difference is larger than the noise of the validation sample.
func ScoresTable(runs []*Run) (string, error) {
	scores, diffs, err := CompareModels(runs)
	if err != nil {
		return "", err
	}
	if len(scores) == 0 {
		return "<p>No finished runs yet.</p>", nil
	}
	var models []string
	for _, s := range scores {
		if !slices.Contains(models, s.Model) {
			models = append(models, s.Model)
		}
	}
	slices.Sort(models)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	var rows [][]string
	for _, task := range uniqueTasks(runs) {
		var row []string
		for _, m := range models {
			i := slices.IndexFunc(scores, func(s ModelScore) bool { return s.Task == task && s.Model == m })
			if i < 0 {
				row = append(row, "")
				continue
			}
			s := scores[i]
			if row == nil {
				row = []string{task, s.Run.metricName(s.Metric), strconv.Itoa(len(s.Run.Validation))}
			}
			cell := fmt.Sprintf("%s [%s, %s]", f(s.Value), f(s.Low), f(s.High))
			if s.Finished > 1 {
				cell += fmt.Sprintf(" (best of %d runs)", s.Finished)
			}
			row = append(row, cell)
		}
		if row != nil {
			rows = append(rows, row)
		}
	}
	var b strings.Builder
	b.WriteString(plot.Table(append([]string{"task", "metric", "examples"}, models...), rows))
	fmt.Fprintf(&b, `<p style="font-family:sans-serif;font-size:13px">Validation scores with 95%% confidence intervals: percentile bootstrap over the validation examples (%d resamples, as Hugging Face Evaluate's bootstrap strategy); each model's best finished run.</p><ul style="font-family:sans-serif;font-size:13px">`, resampleCount)
	for _, d := range diffs {
		fmt.Fprintf(&b, "<li>%s</li>", html.EscapeString(d.Sentence()))
	}
	b.WriteString("</ul>")
	return b.String(), nil
}

// Sentence says in words whether the difference is larger than the noise.
func (d ModelDifference) Sentence() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	head := fmt.Sprintf("%s, %s: %s scores %s more than %s", d.Task, d.metricName, d.Better, f(d.Value), d.Worse)
	if !d.Paired {
		return head + ", but the two were scored on different examples: no paired comparison"
	}
	verdict := "within the noise: this validation sample cannot tell the two models apart"
	if d.Excludes(0) {
		verdict = "larger than the noise"
	}
	return fmt.Sprintf("%s (95%% CI of the difference [%s, %s] over the same %d examples): %s.", head, f(d.Low), f(d.High), d.Examples, verdict)
}
