// Package display shows the lab in GoNB notebooks: Image turns a chart of lab/plot into what
// JupyterLab renders, Row lays outputs side by side, Live draws a training run as it goes, and
// FineTune is a notebook's training cell (lab/runs.FineTune drawn live). It is the only package
// that imports GoNB's gonbui: what the command line shares with the notebooks (the charts and
// tables, the runs' records) lives in lab/plot and lab/runs, so tunelab links no notebook UI.
//
//	gonbui.DisplayHTML(display.Image(plot.Bars("accuracy", []string{"MiniLM", "bge"}, plot.Series{Name: "tweets", Y: []float64{0.81, 0.83}})))
package display

import (
	"encoding/base64"
	"regexp"
	"strings"
)

// Image returns svg (a document of lab/plot's chart functions) as an HTML <img> with a data:
// URI. JupyterLab strips inline <svg> from the outputs of notebooks it does not trust (any
// notebook it did not run itself, such as the committed ones), leaving a run of the charts'
// numbers; an image's source is not sanitized, so the chart shows trusted or not, in the HTML
// export and in print alike. The image's alt text is the chart's title (for screen readers, and
// where images are off).
func Image(svg string) string {
	alt := "chart"
	if m := svgTitle.FindStringSubmatch(svg); m != nil {
		alt = m[1] // escaped by the chart functions
	}
	return `<img alt="` + alt + `" style="max-width:100%;height:auto" src="data:image/svg+xml;base64,` +
		base64.StdEncoding.EncodeToString([]byte(svg)) + `"/>`
}

// svgTitle finds the title the chart functions put first in their SVG documents.
var svgTitle = regexp.MustCompile(`^<svg [^>]*><title>([^<]*)</title>`)

// Row lays out HTML fragments (charts, tables) side by side, wrapping on narrow pages. Tables
// keep their natural width; charts share the rest.
func Row(fragments ...string) string {
	var b strings.Builder
	b.WriteString(`<div style="display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start">`)
	for _, f := range fragments {
		style := "flex:1 1 300px;min-width:300px"
		if strings.HasPrefix(f, "<table") {
			style = "flex:0 0 auto"
		}
		b.WriteString(`<div style="` + style + `">` + f + `</div>`)
	}
	b.WriteString(`</div>`)
	return b.String()
}
