package serve

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/tunelab/tunelab/lab/hfmodel"
)

//go:embed static
var staticFiles embed.FS

//go:embed openapi.json
var openAPIDoc []byte

var pageTemplate = template.Must(template.ParseFS(staticFiles, "static/index.html"))

func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	return http.StripPrefix("/static/", http.FileServerFS(sub))
}

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	err := pageTemplate.Execute(&buf, map[string]any{
		"Card": s.opts.Card, "Labels": s.labels, "TopK": min(s.opts.TopK, len(s.labels)), "Problem": s.problemName(),
		"Flagging": s.flags != nil, "MaxChars": s.opts.MaxChars,
	})
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors *")
	_, _ = w.Write(buf.Bytes())
}

// handleOpenAPI serves openapi.json with the card's title and description filled in.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		s.writeErr(w, r, err)
		return
	}
	info := doc["info"].(map[string]any)
	info["title"] = s.opts.Card.Title
	if s.opts.Card.Description != "" {
		info["description"] = s.opts.Card.Description
	}
	writeJSON(w, http.StatusOK, doc)
}

// problemName is how the page reads the problem type: "classification", "regression" or
// "multilabel".
func (s *Server) problemName() string {
	switch s.opts.Problem {
	case hfmodel.Regression:
		return "regression"
	case hfmodel.MultiLabel:
		return "multilabel"
	}
	return "classification"
}
