package metrics

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// maxListed bounds how many ids an error lists.
const maxListed = 5

// idTargets are the id and target columns of a CSV file, in file order.
type idTargets struct {
	ids, targets []string
	lines        []int
	index        map[string]int // id -> position
}

// readIDTargets reads the id and target columns (others are allowed); targets must be 0 or 1
// and ids unique and non-empty.
func readIDTargets(r io.Reader, name string) (*idTargets, error) {
	t, err := newTable(r, name, "id", "target")
	if err != nil {
		return nil, err
	}
	it := &idTargets{index: map[string]int{}}
	for {
		record, line, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		id, err := t.value(record, line, "id")
		if err != nil {
			return nil, err
		}
		target := record[t.columns["target"]]
		if target != "0" && target != "1" {
			return nil, fmt.Errorf("%s:%d: target %q of id %q is not 0 or 1", name, line, target, id)
		}
		if first, dup := it.index[id]; dup {
			return nil, fmt.Errorf("%s:%d: duplicate id %q (first on line %d)", name, line, id, it.lines[first])
		}
		it.index[id] = len(it.ids)
		it.ids, it.targets, it.lines = append(it.ids, id), append(it.targets, target), append(it.lines, line)
	}
	if len(it.ids) == 0 {
		return nil, fmt.Errorf("%s: no records after the header", name)
	}
	return it, nil
}

// ScoreSubmission scores a Kaggle submission (a CSV file with columns id,target) against a
// labelled CSV file with columns id and target among others (e.g. the disaster-tweets
// train.csv), matching rows by id. Targets must be 0 or 1; every labelled id needs exactly one
// prediction and every predicted id a label. The report scores labels "0" and "1" with positive
// label "1": Report.Binary.F1 is the competition metric. The names are used in errors.
func ScoreSubmission(submission io.Reader, submissionName string, labelled io.Reader, labelledName string) (*Report, error) {
	sub, err := readIDTargets(submission, submissionName)
	if err != nil {
		return nil, err
	}
	truth, err := readIDTargets(labelled, labelledName)
	if err != nil {
		return nil, err
	}
	var missing []string
	yTrue, yPred := make([]string, 0, len(truth.ids)), make([]string, 0, len(truth.ids))
	for i, id := range truth.ids {
		j, ok := sub.index[id]
		if !ok {
			missing = append(missing, fmt.Sprintf("%q (line %d)", id, truth.lines[i]))
			continue
		}
		yTrue, yPred = append(yTrue, truth.targets[i]), append(yPred, sub.targets[j])
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: no prediction for %d ids of %s: %s", submissionName, len(missing),
			labelledName, listSome(missing))
	}
	if len(sub.ids) > len(yPred) {
		var extra []string
		for i, id := range sub.ids {
			if _, ok := truth.index[id]; !ok {
				extra = append(extra, fmt.Sprintf("%q (line %d)", id, sub.lines[i]))
			}
		}
		return nil, fmt.Errorf("%s: %d ids are not in %s: %s", submissionName, len(extra), labelledName, listSome(extra))
	}
	return New[string]().WithLabels("0", "1").WithPosLabel("1").Report(yTrue, yPred)
}

// ScoreSubmissionFiles is ScoreSubmission on the files at the two paths.
func ScoreSubmissionFiles(submissionPath, labelledPath string) (*Report, error) {
	sub, err := os.Open(submissionPath)
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	labelled, err := os.Open(labelledPath)
	if err != nil {
		return nil, err
	}
	defer labelled.Close()
	return ScoreSubmission(sub, submissionPath, labelled, labelledPath)
}

// listSome joins the first maxListed items, saying how many more there are.
func listSome(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:maxListed], ", "), len(items)-maxListed)
}
