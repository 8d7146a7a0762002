package metrics

import "fmt"

// ConfusionMatrix counts samples by true label (rows) and predicted label (columns), as
// sklearn.metrics.confusion_matrix.
type ConfusionMatrix[L Label] struct {
	// Labels name the rows and the columns, in order.
	Labels []L `json:"labels"`
	// Counts is [len(Labels)][len(Labels)]: Counts[i][j] samples of true label Labels[i] were
	// predicted as Labels[j]. Samples whose true or predicted label is not in Labels are not
	// counted.
	Counts [][]int `json:"counts"`
}

// Normalization selects how ConfusionMatrix.Normalized divides the counts (sklearn's
// normalize=).
type Normalization int

const (
	// NormalizeTrue divides each row by its sum (the number of true samples of the label).
	NormalizeTrue Normalization = iota
	// NormalizePred divides each column by its sum (the number of predictions of the label).
	NormalizePred
	// NormalizeAll divides every count by the total.
	NormalizeAll
)

// String returns the sklearn name of the normalisation.
func (n Normalization) String() string {
	switch n {
	case NormalizeTrue:
		return "true"
	case NormalizePred:
		return "pred"
	case NormalizeAll:
		return "all"
	}
	return fmt.Sprintf("Normalization(%d)", int(n))
}

// ConfusionMatrix counts yTrue against yPred over Labels(yTrue, yPred). Unlike sklearn, which
// refuses labels given with WithLabels when none of them occurs in yTrue, it returns the
// (all zero) counts then, so that a Report is always complete.
func (e *Evaluator[L]) ConfusionMatrix(yTrue, yPred []L) (*ConfusionMatrix[L], error) {
	labels, err := e.Labels(yTrue, yPred)
	if err != nil {
		return nil, err
	}
	index := make(map[L]int, len(labels))
	for i, l := range labels {
		index[l] = i
	}
	cm := &ConfusionMatrix[L]{Labels: labels, Counts: make([][]int, len(labels))}
	for i := range cm.Counts {
		cm.Counts[i] = make([]int, len(labels))
	}
	for i := range yTrue {
		t, tOK := index[yTrue[i]]
		p, pOK := index[yPred[i]]
		if tOK && pOK {
			cm.Counts[t][p]++
		}
	}
	return cm, nil
}

// Normalized returns the counts divided as norm says, shaped like Counts. A row, column or
// matrix that sums to 0 gives 0s, as sklearn gives.
func (cm *ConfusionMatrix[L]) Normalized(norm Normalization) [][]float64 {
	n := len(cm.Labels)
	rowSums, colSums, total := make([]int, n), make([]int, n), 0
	for i, row := range cm.Counts {
		for j, c := range row {
			rowSums[i] += c
			colSums[j] += c
			total += c
		}
	}
	out := make([][]float64, n)
	for i, row := range cm.Counts {
		out[i] = make([]float64, n)
		for j, c := range row {
			var sum int
			switch norm {
			case NormalizeTrue:
				sum = rowSums[i]
			case NormalizePred:
				sum = colSums[j]
			case NormalizeAll:
				sum = total
			default:
				panic(fmt.Sprintf("metrics: unknown %v", norm))
			}
			if sum != 0 {
				out[i][j] = float64(c) / float64(sum)
			}
		}
	}
	return out
}
