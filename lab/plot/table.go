package plot

import (
	"html"
	"strings"
)

// tableStyle keeps tables readable in the notebook, the HTML export and print.
const tableStyle = `border-collapse:collapse;font-family:sans-serif;font-size:13px;margin:4px 0`

// shortCell is the longest cell text (bytes) kept on one line; longer texts wrap.
const shortCell = 40

// Table returns an HTML table with a header row; every cell is escaped. Cells that look like
// numbers are right-aligned.
func Table(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString(`<table style="` + tableStyle + `"><thead><tr>`)
	for _, h := range header {
		b.WriteString(`<th style="border-bottom:2px solid #333;padding:3px 10px;text-align:left;white-space:nowrap">` + html.EscapeString(h) + `</th>`)
	}
	b.WriteString(`</tr></thead><tbody>`)
	for _, row := range rows {
		b.WriteString(`<tr>`)
		for _, c := range row {
			style := "border-bottom:1px solid #ddd;padding:3px 10px;vertical-align:top;text-align:left"
			if isNumeric(c) {
				style = strings.Replace(style, "left", "right", 1)
			}
			if len(c) <= shortCell {
				style += ";white-space:nowrap"
			}
			b.WriteString(`<td style="` + style + `">` + html.EscapeString(c) + `</td>`)
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table>`)
	return b.String()
}

// isNumeric says whether s is a number as the tables print them ("0.8123", "-3", "12.5%").
func isNumeric(s string) bool {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "-"), "%")
	if s == "" {
		return false
	}
	dot := false
	for _, r := range s {
		switch {
		case r == '.' && !dot:
			dot = true
		case r < '0' || r > '9':
			return false
		}
	}
	return true
}
