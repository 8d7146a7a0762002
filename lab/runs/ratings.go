package runs

import (
	"fmt"
	"html"
	"slices"
	"strconv"

	"github.com/tunelab/tunelab/lab/metrics"
	"github.com/tunelab/tunelab/lab/plot"
)

// RatingPredictors compares two predictors of IMDB reviews' star ratings on the validation
// reviews both runs scored (matched by ID): the regression run's predicted ratings, and the
// classifier run's probability of its class positive ("pos"), which was trained on the sentiment
// alone but still orders the reviews by how positive they read. A probability is no rating, so
// they compare by their correlations with the true ratings (the regression run's targets):
// Pearson's, and Spearman's of the ranks with its 95% bootstrap interval (as CompareModels).
// It returns a table of the two, with the reviews counted and the paired comparison of their
// Spearman correlations in words under it, and a scatter of the classifier's probability against
// the true ratings.
func RatingPredictors(regression, classifier *Run, positive string) (table, chart string, err error) {
	if !regression.regression() {
		return "", "", fmt.Errorf("run %s is not a finished regression run", regression.Title())
	}
	pos := slices.Index(classifier.Labels, positive)
	if classifier.Eval == nil || classifier.Eval.Report == nil || pos < 0 {
		return "", "", fmt.Errorf("run %s is not a finished classifier with the class %q", classifier.Title(), positive)
	}
	byID := make(map[string]int, len(classifier.Validation))
	for j, ex := range classifier.Validation {
		byID[ex.ID] = j
	}
	var truth, rating, probability []float64
	for i, ex := range regression.Validation {
		if j, ok := byID[ex.ID]; ok {
			truth = append(truth, ex.Value)
			rating = append(rating, float64(regression.Eval.Probabilities[i][0]))
			probability = append(probability, float64(classifier.Eval.Probabilities[j][pos]))
		}
	}
	n := len(truth)
	if n < 2 {
		return "", "", fmt.Errorf("runs %s and %s share %d validation reviews: want at least 2 to correlate", regression.Title(), classifier.Title(), n)
	}
	resamples := metrics.Resamples(n, resampleCount, resamplingSeed)
	predictors := [][]float64{rating, probability}
	stats := []metrics.Statistic{spearmanStatistic(truth, rating), spearmanStatistic(truth, probability)}
	names := []string{"rating predicted by " + regression.Title(), "P(" + positive + ") of " + classifier.Title()}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	var rows [][]string
	var spearman []metrics.Interval
	for k, predictor := range predictors {
		pearson, _ := metrics.PearsonR(truth, predictor) // n >= 2 values each
		iv, err := metrics.Bootstrap(n, resamples, confidence, stats[k])
		if err != nil {
			return "", "", err
		}
		spearman = append(spearman, iv)
		rows = append(rows, []string{names[k], f(pearson), fmt.Sprintf("%s [%s, %s]", f(iv.Value), f(iv.Low), f(iv.High))})
	}
	// The paired difference, better minus worse, on the same resamples of the reviews.
	better, worse := 0, 1
	if spearman[1].Value > spearman[0].Value {
		better, worse = 1, 0
	}
	diff, err := metrics.Bootstrap(n, resamples, confidence, func(idx []int) float64 { return stats[better](idx) - stats[worse](idx) })
	if err != nil {
		return "", "", err
	}
	d := ModelDifference{Task: regression.Task, Metric: regressionMetric, Better: names[better], Worse: names[worse],
		Examples: n, Paired: true, Interval: diff, metricName: regression.metricName(regressionMetric)}
	table = plot.Table([]string{"predictor of the true rating", "Pearson", "Spearman [95% CI]"}, rows) +
		fmt.Sprintf(`<p style="font-family:sans-serif;font-size:13px">%d validation reviews scored by both runs. %s</p>`, n, html.EscapeString(d.Sentence()))
	chart = plot.Scatter(classifier.short()+": P("+positive+") against the true rating", "true rating", "P("+positive+")", truth, probability)
	return table, chart, nil
}
