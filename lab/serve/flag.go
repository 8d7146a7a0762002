package serve

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/tunelab/tunelab/lab/hfmodel"
)

// FlagFile is the name of the flag log inside Options.FlagDir. Its columns are FlagHeader.
const FlagFile = "flagged.csv"

// FlagHeader is the header row of the flag log. The label column holds the predicted label, a
// multi-label prediction's JSON list of labels, or a regression model's score.
var FlagHeader = []string{"time", "text", "label", "scores"}

// flagLog appends flagged predictions to FlagDir/flagged.csv.
type flagLog struct {
	mu   sync.Mutex
	path string
}

func newFlagLog(dir string) (*flagLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("flag folder: %w", err)
	}
	return &flagLog{path: filepath.Join(dir, FlagFile)}, nil
}

// append writes one record. The whole record (with the header when the file is new) goes out
// in a single O_APPEND write under the mutex and is synced, so a crash never leaves half a row
// and concurrent flags never interleave.
func (f *flagLog) append(record []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if info.Size() == 0 {
		_ = w.Write(FlagHeader)
	}
	_ = w.Write(record)
	w.Flush()
	if _, err := file.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("appending to %s: %w", f.path, err)
	}
	return file.Sync()
}

// FlagRequest is the body of POST /api/flag: the text and the prediction the user saw, in the
// fields of the server's problem type (see Prediction): label and scores, score, or labels and
// scores.
type FlagRequest struct {
	Text   string             `json:"text"`
	Label  string             `json:"label,omitempty"`
	Labels []string           `json:"labels,omitempty"`
	Score  *float64           `json:"score,omitempty"`
	Scores map[string]float32 `json:"scores,omitempty"`
}

// flaggedPrediction checks req's prediction against the model's labels and returns the flag
// log's prediction cell: the label, the JSON list of labels (multi-label) or the score
// (regression).
func (s *Server) flaggedPrediction(req *FlagRequest) (string, error) {
	known := map[string]bool{}
	for _, l := range s.labels {
		known[l] = true
	}
	for l, p := range req.Scores {
		if !known[l] || math.IsNaN(float64(p)) || p < 0 || p > 1 {
			return "", badRequest("scores: %q: %v is not a probability of one of the model's labels", l, p)
		}
	}
	switch s.opts.Problem {
	case hfmodel.Regression:
		if req.Score == nil || math.IsNaN(*req.Score) || math.IsInf(*req.Score, 0) {
			return "", badRequest(`missing or non-finite "score": expected the predicted number`)
		}
		return strconv.FormatFloat(*req.Score, 'g', -1, 64), nil
	case hfmodel.MultiLabel:
		for _, l := range req.Labels {
			if !known[l] {
				return "", badRequest("label %q is not one of the model's labels %q", l, s.labels)
			}
		}
		labels, _ := json.Marshal(append([]string{}, req.Labels...))
		return string(labels), nil
	}
	if !known[req.Label] {
		return "", badRequest("label %q is not one of the model's labels %q", req.Label, s.labels)
	}
	return req.Label, nil
}

func (s *Server) handleFlag(w http.ResponseWriter, r *http.Request) {
	if s.flags == nil {
		writeError(w, http.StatusNotFound, "flagging is disabled on this server")
		return
	}
	var req FlagRequest
	if err := s.decodeBody(w, r, &req, true); err != nil {
		s.writeErr(w, r, err)
		return
	}
	text, _, err := s.checkText(req.Text, "text")
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	prediction, err := s.flaggedPrediction(&req)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	scores, _ := json.Marshal(req.Scores) // map keys sorted: stable rows
	now := time.Now().UTC()
	if err := s.flags.append([]string{now.Format(time.RFC3339Nano), text, prediction, string(scores)}); err != nil {
		s.opts.Logger.Printf("flag: %v", err)
		writeError(w, http.StatusInternalServerError, "could not save the flag")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "flagged", "time": now.Format(time.RFC3339Nano)})
}
