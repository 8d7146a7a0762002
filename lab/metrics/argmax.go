package metrics

// ArgMax is the predicted class of one row of scores (logits or probabilities): the index of the
// largest score, the first one on ties. NaN scores never win (a row of NaNs gives 0), so one bad
// score cannot pick a label; it returns -1 for an empty row.
func ArgMax(scores []float32) int {
	if len(scores) == 0 {
		return -1
	}
	best := 0
	for i, s := range scores {
		if s > scores[best] || (scores[best] != scores[best] && s == s) {
			best = i
		}
	}
	return best
}
