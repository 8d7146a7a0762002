// Package plot draws the lab's charts and tables as static markup: SVG charts (bars,
// histograms, lines for loss and metric curves, scatter plots, a confusion-matrix heat map) and
// HTML tables. Training writes the charts to files (history.svg, a comparison's results), the
// notebooks show them (lab/display.Image), the command line prints the tables; so the package
// depends on nothing but the standard library.
//
// Everything is plain SVG and HTML with no scripts, so it survives nbconvert's HTML export and
// printing to PDF.
package plot

import (
	"fmt"
	"html"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Chart size in pixels (the SVG scales to the page width).
const (
	width, height                      = 640, 300
	marginL, marginR, marginT, marginB = 56, 16, 34, 54
)

// palette colours the series, in order (Tableau 10, readable in print).
var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7"}

// Series is a named sequence of values: one colour of a bar chart (Y per category) or one line
// (points X[i], Y[i]; X and Y have the same length).
type Series struct {
	Name string
	X, Y []float64
}

// svgWriter accumulates the elements of one chart.
type svgWriter struct{ strings.Builder }

func (w *svgWriter) printf(format string, args ...any) { fmt.Fprintf(&w.Builder, format, args...) }

// newChart starts a chart wd x ht pixels with its title (the document's, for screen readers
// and lab/display.Image's alt text, and a heading).
func newChart(title string, wd, ht int) *svgWriter {
	w := &svgWriter{}
	w.WriteString(svgTag(wd, ht))
	w.printf(`<title>%s</title>`, html.EscapeString(title))
	w.printf(`<rect width="%d" height="%d" fill="white"/>`, wd, ht)
	w.printf(`<text x="%d" y="20" text-anchor="middle" font-size="14" font-weight="bold">%s</text>`, wd/2, html.EscapeString(title))
	return w
}

// svgTag opens an SVG document wd x ht pixels that scales down to the page's width.
func svgTag(wd, ht int) string {
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" style="max-width:100%%;height:auto;font-family:sans-serif;font-size:12px">`, wd, ht, wd, ht)
}

func (w *svgWriter) end() string {
	w.WriteString("</svg>")
	return w.String()
}

// yAxis draws horizontal grid lines with tick labels over [lo, hi], widened to the round ticks
// around it, and returns the mapping from values to y pixels and the widened range.
func (w *svgWriter) yAxis(lo, hi float64) (y func(float64) float64, ylo, yhi float64) {
	ticks := niceTicks(lo, hi, 5)
	lo, hi = min(lo, ticks[0]), max(hi, ticks[len(ticks)-1])
	y = func(v float64) float64 {
		return float64(height-marginB) - (v-lo)/(hi-lo)*float64(height-marginB-marginT)
	}
	for _, t := range ticks {
		w.printf(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, marginL, width-marginR, y(t), y(t))
		w.printf(`<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, marginL-6, y(t), formatTick(t))
	}
	w.printf(`<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>`, marginL, width-marginR, height-marginB, height-marginB)
	return y, lo, hi
}

// legend lists the names of the series that have values at the bottom right, each in its
// series' colour; a series without values (no evaluation yet) is not named.
func (w *svgWriter) legend(series []Series) {
	var shown []int
	for i, s := range series {
		if len(s.Y) > 0 {
			shown = append(shown, i)
		}
	}
	if len(shown) == 0 || len(shown) == 1 && series[shown[0]].Name == "" {
		return
	}
	x := width - marginR
	for _, i := range slices.Backward(shown) {
		name := html.EscapeString(series[i].Name)
		x -= 7*len([]rune(series[i].Name)) + 22
		w.printf(`<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`,
			x, height-14, palette[i%len(palette)], x+14, height-5, name)
	}
}

// Bars draws a grouped bar chart: one group per category, one bar per series (series[s].Y[c] is
// the value of category c), on a y axis starting at 0.
func Bars(title string, categories []string, series ...Series) string {
	w := newChart(title, width, height)
	hi := 0.0
	for _, s := range series {
		for _, v := range s.Y {
			hi = max(hi, v)
		}
	}
	if hi == 0 {
		hi = 1
	}
	y, _, _ := w.yAxis(0, hi)
	group := float64(width-marginL-marginR) / float64(max(1, len(categories)))
	bar := group * 0.8 / float64(max(1, len(series)))
	for c, name := range categories {
		x0 := float64(marginL) + group*float64(c) + group*0.1
		for s, ser := range series {
			if c >= len(ser.Y) {
				continue
			}
			v := ser.Y[c]
			w.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
				x0+bar*float64(s), y(v), bar*0.92, y(0)-y(v), palette[s%len(palette)],
				html.EscapeString(ser.Name), html.EscapeString(name), formatValue(v))
			if len(categories)*len(series) <= 16 {
				w.printf(`<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>`, x0+bar*(float64(s)+0.46), y(v)-3, formatValue(v))
			}
		}
		w.printf(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x0+group*0.4, height-marginB+16, html.EscapeString(name))
	}
	w.legend(series)
	return w.end()
}

// Histogram draws the distribution of values in bins equal-width bins from the smallest to the
// largest value; unit names what the values count (the x axis label).
func Histogram(title, unit string, values []int, bins int) string {
	categories, counts := histogram(values, bins)
	w := newChart(title, width, height)
	hi := 1.0
	for _, c := range counts {
		hi = max(hi, float64(c))
	}
	y, _, _ := w.yAxis(0, hi)
	step := float64(width-marginL-marginR) / float64(max(1, len(counts)))
	for i, c := range counts {
		x := float64(marginL) + step*float64(i)
		w.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %d</title></rect>`,
			x+0.5, y(float64(c)), step-1, y(0)-y(float64(c)), palette[0], categories[i], c)
		if len(counts) <= 12 || i%(len(counts)/8+1) == 0 {
			w.printf(`<text x="%.1f" y="%d" text-anchor="middle" font-size="10">%s</text>`, x+step/2, height-marginB+14, categories[i])
		}
	}
	w.printf(`<text x="%d" y="%d" text-anchor="middle">%s</text>`, width/2, height-12, html.EscapeString(unit))
	return w.end()
}

// histogram counts values into bins equal-width integer ranges covering [min, max] and names
// each bin "lo-hi" (both inclusive).
func histogram(values []int, bins int) (names []string, counts []int) {
	if len(values) == 0 || bins < 1 {
		return nil, nil
	}
	lo, hi := values[0], values[0]
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
	}
	size := max(1, int(math.Ceil(float64(hi-lo+1)/float64(bins))))
	n := (hi-lo)/size + 1
	counts = make([]int, n)
	for _, v := range values {
		counts[(v-lo)/size]++
	}
	for i := range n {
		a := lo + i*size
		if size == 1 {
			names = append(names, fmt.Sprint(a))
		} else {
			names = append(names, fmt.Sprintf("%d-%d", a, a+size-1))
		}
	}
	return names, counts
}

// Lines draws each series as a polyline of its (X, Y) points, with xLabel under the x axis.
// Values that are not finite (NaN, a diverged loss) break a line. A series of one point (one
// evaluation in a one-epoch run) is a labelled dot in the middle of its axes.
func Lines(title, xLabel string, series ...Series) string {
	w := newChart(title, width, height)
	var xs, ys []float64
	for _, s := range series {
		for i := range min(len(s.X), len(s.Y)) {
			if finite(s.Y[i]) {
				xs, ys = append(xs, s.X[i]), append(ys, s.Y[i])
			}
		}
	}
	xlo, xhi := valueRange(xs)
	ylo, yhi := valueRange(ys)
	y, _, _ := w.yAxis(ylo, yhi)
	x := w.xAxis(xlo, xhi, xLabel)
	for s, ser := range series {
		colour := palette[s%len(palette)]
		finiteCount, only := 0, 0.0 // only is the value of a series with one finite point
		for i := range min(len(ser.X), len(ser.Y)) {
			if finite(ser.Y[i]) {
				finiteCount, only = finiteCount+1, ser.Y[i]
			}
		}
		var pts []string
		flush := func() {
			if len(pts) == 1 {
				var cx, cy float64
				fmt.Sscanf(pts[0], "%f,%f", &cx, &cy)
				w.printf(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, cx, cy, colour)
				if finiteCount == 1 {
					w.printf(`<text x="%.1f" y="%.1f" dominant-baseline="middle" fill="%s">%s</text>`, cx+7, cy, colour, formatValue(only))
				}
			} else if len(pts) > 1 {
				w.printf(`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, colour, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for i := range min(len(ser.X), len(ser.Y)) {
			if !finite(ser.Y[i]) {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(ser.X[i]), y(ser.Y[i])))
		}
		flush()
	}
	w.legend(series)
	return w.end()
}

// Scatter draws a dot per point (x[i], y[i]), with xLabel under the x axis and yLabel beside
// the y axis: how two quantities go together. Points that are not finite are left out.
func Scatter(title, xLabel, yLabel string, x, y []float64) string {
	return scatter(title, xLabel, yLabel, x, y, false)
}

// PredictedVsTrue draws a regression model's predictions (a star rating, say) against the true
// values, both axes over the same range, with the line y = x on which perfect predictions lie:
// a point above it is an overestimate, below an underestimate.
func PredictedVsTrue(title string, truth, predicted []float64) string {
	return scatter(title, "true", "predicted", truth, predicted, true)
}

// scatter draws Scatter's chart; diagonal puts both axes on one range and draws y = x.
func scatter(title, xLabel, yLabel string, xv, yv []float64, diagonal bool) string {
	w := newChart(title, width, height)
	var xs, ys []float64
	for i := range min(len(xv), len(yv)) {
		if finite(xv[i]) && finite(yv[i]) {
			xs, ys = append(xs, xv[i]), append(ys, yv[i])
		}
	}
	xlo, xhi := valueRange(xs)
	ylo, yhi := valueRange(ys)
	if diagonal { // both axes over the values of either, y's round range
		ylo, yhi = valueRange(append(slices.Clone(xs), ys...))
	}
	y, ylo, yhi := w.yAxis(ylo, yhi)
	if diagonal {
		xlo, xhi = ylo, yhi
	}
	x := w.xAxis(xlo, xhi, xLabel)
	w.printf(`<text x="14" y="%d" text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>`,
		(height-marginB+marginT)/2, (height-marginB+marginT)/2, html.EscapeString(yLabel))
	if diagonal {
		w.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="4 3"><title>y = x</title></line>`,
			x(xlo), y(xlo), x(xhi), y(xhi))
	}
	for i := range xs {
		w.printf(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s" fill-opacity="0.5"/>`, x(xs[i]), y(ys[i]), palette[0])
	}
	return w.end()
}

// finite says whether v can be placed on an axis.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// valueRange is the smallest and largest of values, widened where they are one value (or none)
// so that an axis over them has a length.
func valueRange(values []float64) (lo, hi float64) {
	if len(values) == 0 {
		return 0, 1
	}
	lo, hi = slices.Min(values), slices.Max(values)
	if hi == lo {
		pad := max(math.Abs(lo)*0.05, 0.05)
		lo, hi = lo-pad, hi+pad
	}
	return lo, hi
}

// xAxis writes the tick labels of [lo, hi] under the plot and label under them, and returns
// the mapping from values to x pixels.
func (w *svgWriter) xAxis(lo, hi float64, label string) func(float64) float64 {
	x := func(v float64) float64 {
		return float64(marginL) + (v-lo)/(hi-lo)*float64(width-marginL-marginR)
	}
	for _, t := range niceTicks(lo, hi, 6) {
		if t < lo || t > hi {
			continue
		}
		w.printf(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(t), height-marginB+16, formatTick(t))
	}
	w.printf(`<text x="%d" y="%d" text-anchor="middle">%s</text>`, width/2, height-marginB+32, html.EscapeString(label))
	return x
}

// Heatmap draws a confusion matrix: counts[i][j] samples of true label labels[i] predicted as
// labels[j], each cell shaded by its share of its row (the recall of the diagonal).
func Heatmap(title string, labels []string, counts [][]int) string {
	n := len(labels)
	const cell, left, top = 64, 150, 80
	size := cell * n
	w := newChart(title, left+size+20, top+size+20)
	w.printf(`<text x="%d" y="40" text-anchor="middle">predicted</text>`, left+size/2)
	w.printf(`<text x="14" y="%d" text-anchor="middle" transform="rotate(-90 14 %d)">true</text>`, top+size/2, top+size/2)
	for i, l := range labels {
		w.printf(`<text x="%d" y="%d" text-anchor="middle" font-size="11">%s</text>`, left+cell*i+cell/2, top-8, html.EscapeString(Shorten(l, 10)))
		w.printf(`<text x="%d" y="%d" text-anchor="end" dominant-baseline="middle" font-size="11">%s</text>`, left-6, top+cell*i+cell/2, html.EscapeString(Shorten(l, 20)))
	}
	for i := range n {
		total := 0
		for _, c := range counts[i] {
			total += c
		}
		for j := range n {
			share := 0.0
			if total > 0 {
				share = float64(counts[i][j]) / float64(total)
			}
			fill, ink := shade(share), "black"
			if share > 0.55 {
				ink = "white"
			}
			w.printf(`<rect x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="white"/>`, left+cell*j, top+cell*i, cell, cell, fill)
			w.printf(`<text x="%d" y="%d" text-anchor="middle" fill="%s" font-size="13">%d</text>`, left+cell*j+cell/2, top+cell*i+cell/2, ink, counts[i][j])
			w.printf(`<text x="%d" y="%d" text-anchor="middle" fill="%s" font-size="9">%.0f%%</text>`, left+cell*j+cell/2, top+cell*i+cell/2+14, ink, 100*share)
		}
	}
	return w.end()
}

// Stack puts charts (documents of this package's functions) one under another in one SVG
// document: for a file that holds charts of different scales, such as the training history's
// losses and metrics (lab/train's history.svg).
func Stack(charts ...string) string {
	var body strings.Builder
	wd, ht := 0, 0
	for _, c := range charts {
		m := svgOpening.FindStringSubmatch(c)
		if m == nil {
			panic("plot.Stack: not a chart of package plot: " + c[:min(len(c), 80)])
		}
		cw, _ := strconv.Atoi(m[1])
		ch, _ := strconv.Atoi(m[2])
		fmt.Fprintf(&body, `<svg x="0" y="%d" width="%s" height="%s" viewBox="0 0 %s %s">`, ht, m[1], m[2], m[1], m[2])
		body.WriteString(c[len(m[0]):])
		wd, ht = max(wd, cw), ht+ch
	}
	return svgTag(wd, ht) + body.String() + "</svg>"
}

// svgOpening matches the opening tag of a chart with its width and height.
var svgOpening = regexp.MustCompile(`^<svg [^>]*viewBox="0 0 (\d+) (\d+)"[^>]*>`)

// shade maps a share in [0, 1] to a white-to-blue colour.
func shade(share float64) string {
	mix := func(from, to int) int { return from + int(math.Round(share*float64(to-from))) }
	return fmt.Sprintf("#%02x%02x%02x", mix(0xf7, 0x08), mix(0xfb, 0x30), mix(0xff, 0x6b))
}

// Shorten cuts s to at most n runes, the last an ellipsis when it was longer: for labels and
// table cells that would crowd a chart or a table.
func Shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// niceTicks returns about n round tick values (1, 2 or 5 times a power of ten apart) covering
// [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag * 10
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for t := math.Floor(lo/step) * step; t <= hi+step*1e-9; t += step {
		ticks = append(ticks, math.Round(t/step)*step)
	}
	if ticks[len(ticks)-1] < hi {
		ticks = append(ticks, ticks[len(ticks)-1]+step)
	}
	return ticks
}

func formatTick(v float64) string { return fmt.Sprintf("%g", math.Round(v*1e6)/1e6) }

// formatValue prints a chart value with 3 significant digits (counts stay whole).
func formatValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e6 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
