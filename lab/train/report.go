package train

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tunelab/tunelab/internal/atomicfile"
	"github.com/tunelab/tunelab/lab/plot"
)

// writeBar draws the progress line of p: a 30-character bar, step/total, loss, lr, samples/s
// and ETA, redrawn in place with a carriage return.
func writeBar(w io.Writer, p Progress) {
	const width = 30
	done := width * p.Step / max(1, p.TotalSteps)
	fmt.Fprintf(w, "\r[%s%s] %d/%d loss %.4f lr %.2e %.1f samples/s ETA %s ",
		strings.Repeat("=", done), strings.Repeat(" ", width-done), p.Step, p.TotalSteps,
		p.Loss, p.LR, p.SamplesPerSec, p.ETA.Round(time.Second))
}

// writeHistory writes history.json, history.csv and history.svg (loss and evaluation curves)
// into runDir, each atomically.
func writeHistory(runDir string, history []Record) error {
	data, err := json.MarshalIndent(history, "", " ")
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"history.json": append(data, '\n'),
		"history.csv":  historyCSV(history),
		"history.svg":  historySVG(history),
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := atomicfile.WriteFile(filepath.Join(runDir, name), files[name]); err != nil {
			return fmt.Errorf("train: writing the history: %w", err)
		}
	}
	return nil
}

// historyColumns are "step", "epoch", then every other key in sorted order.
func historyColumns(history []Record) []string {
	keys := map[string]bool{}
	for _, r := range history {
		for k := range r {
			keys[k] = true
		}
	}
	delete(keys, "step")
	delete(keys, "epoch")
	return append([]string{"step", "epoch"}, slices.Sorted(maps.Keys(keys))...)
}

// historyCSV has one row per record; a value the record lacks is an empty cell.
func historyCSV(history []Record) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	cols := historyColumns(history)
	w.Write(cols)
	for _, r := range history {
		row := make([]string, len(cols))
		for i, c := range cols {
			if v, ok := r[c]; ok {
				row[i] = strconv.FormatFloat(v, 'g', -1, 64)
			}
		}
		w.Write(row)
	}
	w.Flush()
	return buf.Bytes()
}

// historySVG draws the history by step: the training and validation loss in one chart (they are
// comparable, and their gap shows overfitting), then each other evaluation metric in its own,
// since the metrics' scales differ (an accuracy, a mean squared error of star ratings).
func historySVG(history []Record) []byte {
	charts := []string{plot.Lines("loss", "step", Curve(history, "training loss", "step", "loss"),
		Curve(history, "validation loss", "step", "eval_loss"))}
	for _, c := range historyColumns(history)[2:] {
		if strings.HasPrefix(c, "eval_") && c != "eval_loss" {
			charts = append(charts, plot.Lines(c, "step", Curve(history, c, "step", c)))
		}
	}
	return []byte(plot.Stack(charts...))
}

// Curve is the history's values of key (a column: "loss", "eval_accuracy") against x ("step"
// or "epoch"), from the records that have key, as a series named name to plot.
func Curve(history []Record, name, x, key string) plot.Series {
	s := plot.Series{Name: name}
	for _, r := range history {
		if v, ok := r[key]; ok {
			s.X, s.Y = append(s.X, r[x]), append(s.Y, v)
		}
	}
	return s
}
