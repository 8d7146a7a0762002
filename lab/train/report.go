package train

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tunelab/tunelab/internal/atomicfile"
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

// historySVG plots each series of the history (training loss, evaluation loss and metrics)
// against the step, one panel per series, as a self-contained SVG.
func historySVG(history []Record) []byte {
	const panelW, panelH, pad = 360, 200, 40
	var series []string
	for _, c := range historyColumns(history)[2:] {
		if c == "loss" || strings.HasPrefix(c, "eval_") {
			series = append(series, c)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n",
		panelW*max(1, len(series)), panelH)
	for i, name := range series {
		var xs, ys []float64
		for _, r := range history {
			if v, ok := r[name]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
				xs, ys = append(xs, r["step"]), append(ys, v)
			}
		}
		x0 := float64(i * panelW)
		fmt.Fprintf(&b, `<g><text x="%g" y="14">%s</text>`, x0+pad, name)
		fmt.Fprintf(&b, `<rect x="%g" y="20" width="%d" height="%d" fill="none" stroke="#999"/>`, x0+pad, panelW-2*pad+20, panelH-pad-20)
		if len(xs) > 0 {
			xLo, xHi := slices.Min(xs), slices.Max(xs)
			yLo, yHi := slices.Min(ys), slices.Max(ys)
			sx := func(x float64) float64 { return x0 + pad + 10 + (x-xLo)/math.Max(xHi-xLo, 1e-12)*float64(panelW-2*pad) }
			sy := func(y float64) float64 { return 30 + (yHi-y)/math.Max(yHi-yLo, 1e-12)*float64(panelH-pad-40) }
			var pts []string
			for j := range xs {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(xs[j]), sy(ys[j])))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="%s"/>`, strings.Join(pts, " "))
			fmt.Fprintf(&b, `<text x="%g" y="%d">step %g-%g, %s %.4g-%.4g</text>`, x0+pad, panelH-5, xLo, xHi, name, yLo, yHi)
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}
