package metrics

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Regression metrics score real-valued predictions as scikit-learn and scipy do:
// mean_squared_error, root_mean_squared_error, mean_absolute_error and r2_score (which, like
// every scikit-learn metric, refuse NaN and infinite values), and scipy.stats.pearsonr and
// spearmanr (which return NaN for a constant input or, with their default nan_policy, for NaN
// values).

// checkFinite refuses what scikit-learn's check_array refuses: no samples, different lengths,
// NaN or infinite values.
func checkFinite(yTrue, yPred []float64) error {
	if len(yTrue) != len(yPred) {
		return fmt.Errorf("metrics: yTrue has %d samples but yPred has %d", len(yTrue), len(yPred))
	}
	if len(yTrue) == 0 {
		return fmt.Errorf("metrics: no samples")
	}
	for _, side := range []struct {
		name string
		y    []float64
	}{{"yTrue", yTrue}, {"yPred", yPred}} {
		for i, v := range side.y {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("metrics: %s[%d] is %v: regression metrics need finite numbers", side.name, i, v)
			}
		}
	}
	return nil
}

// mean is numpy's mean: the pairwise sum divided by the count.
func mean(x []float64) float64 { return pairwiseSum(x) / float64(len(x)) }

// MeanSquaredError is the mean of (yTrue[i] - yPred[i])².
func MeanSquaredError(yTrue, yPred []float64) (float64, error) {
	if err := checkFinite(yTrue, yPred); err != nil {
		return 0, err
	}
	sq := make([]float64, len(yTrue))
	for i := range yTrue {
		d := yTrue[i] - yPred[i]
		sq[i] = d * d
	}
	return mean(sq), nil
}

// RootMeanSquaredError is the square root of MeanSquaredError.
func RootMeanSquaredError(yTrue, yPred []float64) (float64, error) {
	mse, err := MeanSquaredError(yTrue, yPred)
	return math.Sqrt(mse), err
}

// MeanAbsoluteError is the mean of |yTrue[i] - yPred[i]|.
func MeanAbsoluteError(yTrue, yPred []float64) (float64, error) {
	if err := checkFinite(yTrue, yPred); err != nil {
		return 0, err
	}
	abs := make([]float64, len(yTrue))
	for i := range yTrue {
		abs[i] = math.Abs(yPred[i] - yTrue[i])
	}
	return mean(abs), nil
}

// R2Score is the coefficient of determination 1 - Σ(yTrue-yPred)² / Σ(yTrue-mean(yTrue))²,
// with scikit-learn's force_finite rule for a constant yTrue: 1 for perfect predictions, else
// 0. It is NaN for fewer than two samples, where scikit-learn warns that R² is not defined.
func R2Score(yTrue, yPred []float64) (float64, error) {
	if err := checkFinite(yTrue, yPred); err != nil {
		return 0, err
	}
	if len(yTrue) < 2 {
		return math.NaN(), nil
	}
	m := mean(yTrue)
	res, tot := make([]float64, len(yTrue)), make([]float64, len(yTrue))
	for i := range yTrue {
		d, c := yTrue[i]-yPred[i], yTrue[i]-m
		res[i], tot[i] = d*d, c*c
	}
	num, den := pairwiseSum(res), pairwiseSum(tot)
	switch {
	case num == 0:
		return 1, nil
	case den == 0:
		return 0, nil
	}
	return 1 - num/den, nil
}

// PearsonR is Pearson's correlation coefficient of x and y, as scipy.stats.pearsonr computes
// it: NaN when either input is constant (scipy warns) or holds a NaN or infinite value, and an
// error for fewer than two samples.
func PearsonR(x, y []float64) (float64, error) {
	if len(x) != len(y) {
		return 0, fmt.Errorf("metrics: x has %d samples but y has %d", len(x), len(y))
	}
	if len(x) < 2 {
		return 0, fmt.Errorf("metrics: Pearson's correlation needs at least 2 samples, got %d", len(x))
	}
	if isConstant(x) || isConstant(y) {
		return math.NaN(), nil
	}
	xs, ys := centredUnit(x), centredUnit(y)
	r := 0.0
	for i := range xs {
		r += xs[i] * ys[i]
	}
	return max(-1, min(1, r)), nil // Rounding can take |r| a hair over 1; NaN stays NaN.
}

// centredUnit returns (x - mean(x)) / ‖x - mean(x)‖, scaling by the largest deviation first so
// that the norm cannot overflow (as scipy does).
func centredUnit(x []float64) []float64 {
	m := mean(x)
	out := make([]float64, len(x))
	largest := 0.0
	for i, v := range x {
		out[i] = v - m
		largest = max(largest, math.Abs(out[i]))
	}
	if math.IsNaN(m) {
		largest = math.NaN()
	}
	sumSq := 0.0
	for _, v := range out {
		sumSq += (v / largest) * (v / largest)
	}
	norm := largest * math.Sqrt(sumSq)
	for i := range out {
		out[i] /= norm
	}
	return out
}

// isConstant reports whether every value equals the first (never true with a NaN: NaN != NaN).
func isConstant(x []float64) bool {
	for _, v := range x {
		if v != x[0] {
			return false
		}
	}
	return true
}

// SpearmanR is Spearman's rank correlation of x and y as scipy.stats.spearmanr computes it:
// Pearson's correlation of the ranks, tied values sharing their average rank
// (scipy.stats.rankdata's "average" method). It is NaN for fewer than two samples, a constant
// input (scipy warns) or a NaN value; infinite values rank as the largest or smallest.
func SpearmanR(x, y []float64) (float64, error) {
	if len(x) != len(y) {
		return 0, fmt.Errorf("metrics: x has %d samples but y has %d", len(x), len(y))
	}
	if len(x) < 2 || isConstant(x) || isConstant(y) || slices.ContainsFunc(x, math.IsNaN) || slices.ContainsFunc(y, math.IsNaN) {
		return math.NaN(), nil
	}
	return PearsonR(Rank(x), Rank(y))
}

// Rank returns the 1-based ranks of x, ties sharing the average of the ranks they span, as
// scipy.stats.rankdata(x, method="average"). x must not hold NaN.
func Rank(x []float64) []float64 {
	order := make([]int, len(x))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case x[a] < x[b]:
			return -1
		case x[a] > x[b]:
			return 1
		}
		return 0
	})
	ranks := make([]float64, len(x))
	for lo := 0; lo < len(order); {
		hi := lo + 1
		for hi < len(order) && x[order[hi]] == x[order[lo]] {
			hi++
		}
		// Positions lo..hi-1 hold ranks lo+1..hi; their average is (lo+1+hi)/2.
		avg := float64(lo+1+hi) / 2
		for _, i := range order[lo:hi] {
			ranks[i] = avg
		}
		lo = hi
	}
	return ranks
}

// RegressionReport holds every regression metric of one evaluation. It marshals to one JSON
// object, with null for an undefined (NaN) correlation or R²:
//
//	{"n": 100, "mse": ..., "rmse": ..., "mae": ..., "r2": ..., "pearson": ..., "spearman": ...,
//	 "warnings": ["..."]} // only when a metric is undefined
type RegressionReport struct {
	N                  int
	MSE, RMSE, MAE, R2 float64
	Pearson, Spearman  float64
	Warnings           []string
}

// Regression computes every regression metric of yTrue against yPred (finite numbers, as
// scikit-learn requires). Metrics that are undefined for this data (R² and the correlations of
// fewer than two samples or of a constant input) are NaN, with a warning saying why.
func Regression(yTrue, yPred []float64) (*RegressionReport, error) {
	mse, err := MeanSquaredError(yTrue, yPred)
	if err != nil {
		return nil, err
	}
	r := &RegressionReport{N: len(yTrue), MSE: mse, RMSE: math.Sqrt(mse)}
	r.MAE, _ = MeanAbsoluteError(yTrue, yPred) // Inputs checked above.
	r.R2, _ = R2Score(yTrue, yPred)
	r.Pearson, r.Spearman = math.NaN(), math.NaN()
	if r.N < 2 {
		r.Warnings = append(r.Warnings, "r2, pearson and spearman are undefined for fewer than two samples and set to NaN")
		return r, nil
	}
	r.Pearson, _ = PearsonR(yTrue, yPred)
	r.Spearman, _ = SpearmanR(yTrue, yPred)
	var constant []string
	if isConstant(yTrue) {
		constant = append(constant, "the true values")
	}
	if isConstant(yPred) {
		constant = append(constant, "the predictions")
	}
	if len(constant) > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("pearson and spearman are undefined because %s are constant, and set to NaN",
			strings.Join(constant, " and ")))
	}
	return r, nil
}

// Metrics returns the metrics by name: "mse", "rmse", "mae", "r2", "pearson", "spearman".
func (r *RegressionReport) Metrics() map[string]float64 {
	return map[string]float64{"mse": r.MSE, "rmse": r.RMSE, "mae": r.MAE, "r2": r.R2,
		"pearson": r.Pearson, "spearman": r.Spearman}
}

// regressionJSON is the JSON layout of a RegressionReport; nil pointers are NaN.
type regressionJSON struct {
	N        int      `json:"n"`
	MSE      *float64 `json:"mse"`
	RMSE     *float64 `json:"rmse"`
	MAE      *float64 `json:"mae"`
	R2       *float64 `json:"r2"`
	Pearson  *float64 `json:"pearson"`
	Spearman *float64 `json:"spearman"`
	Warnings []string `json:"warnings,omitempty"`
}

// MarshalJSON writes NaN metrics as null, which JSON can represent (NaN it cannot).
func (r *RegressionReport) MarshalJSON() ([]byte, error) {
	orNull := func(v float64) *float64 {
		if math.IsNaN(v) {
			return nil
		}
		return &v
	}
	return json.Marshal(regressionJSON{N: r.N, MSE: orNull(r.MSE), RMSE: orNull(r.RMSE), MAE: orNull(r.MAE),
		R2: orNull(r.R2), Pearson: orNull(r.Pearson), Spearman: orNull(r.Spearman), Warnings: r.Warnings})
}

// UnmarshalJSON reads what MarshalJSON writes, null as NaN.
func (r *RegressionReport) UnmarshalJSON(data []byte) error {
	var j regressionJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	orNaN := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	*r = RegressionReport{N: j.N, MSE: orNaN(j.MSE), RMSE: orNaN(j.RMSE), MAE: orNaN(j.MAE), R2: orNaN(j.R2),
		Pearson: orNaN(j.Pearson), Spearman: orNaN(j.Spearman), Warnings: j.Warnings}
	return nil
}

// Text formats the report as a two-column table with digits after the decimal point.
func (r *RegressionReport) Text(digits int) string {
	digits = max(digits, 0)
	var b strings.Builder
	for _, row := range []struct {
		name  string
		value float64
	}{{"mse", r.MSE}, {"rmse", r.RMSE}, {"mae", r.MAE}, {"r2", r.R2}, {"pearson", r.Pearson}, {"spearman", r.Spearman}} {
		fmt.Fprintf(&b, "%-8s  %.*f\n", row.name, digits, row.value)
	}
	fmt.Fprintf(&b, "%-8s  %d\n", "samples", r.N)
	return b.String()
}
