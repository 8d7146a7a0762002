package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/metrics"
)

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.handlePage)
	m.Handle("GET /static/", staticHandler())
	m.HandleFunc("POST /api/predict", s.handlePredict)
	// Inference Endpoints answer at their root URL: clients given the server's address post there.
	m.HandleFunc("POST /{$}", s.handlePredict)
	m.HandleFunc("POST /api/flag", s.handleFlag)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", s.handleReady)
	m.HandleFunc("GET /openapi.json", s.handleOpenAPI)
	s.gradioRoutes(m)
	s.mux = m
}

// apiError is the body of every 4xx/5xx answer: {"error": "..."}.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// httpError is a request failure with the status it answers.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// writeErr answers err: its own status for an *httpError, 503 with Retry-After when the queue is
// full or the server is stopping, 500 otherwise.
func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		writeError(w, he.status, he.msg)
	case errors.Is(err, errQueueFull), errors.Is(err, errClosed):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// The client has gone; nobody reads this answer.
		writeError(w, http.StatusServiceUnavailable, "request cancelled")
	default:
		s.opts.Logger.Printf("%s %s: %v", r.Method, r.URL.Path, err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// decodeBody reads the whole body (bounded by MaxBodyBytes) and decodes one JSON value into v,
// rejecting trailing data, bytes that are not UTF-8 and, when strict, unknown fields.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", s.opts.MaxBodyBytes)}
		}
		return badRequest("reading request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("empty request body: expected a JSON object")
	}
	if !utf8.Valid(body) {
		// encoding/json would silently replace the bad bytes with U+FFFD.
		return badRequest("request body is not valid UTF-8 (at byte %d): texts must be UTF-8 text, not binary data", invalidUTF8Offset(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON request: %s%s", describeJSONError(err, body), acceptedFields(err, body, v))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("invalid JSON request: unexpected data after the JSON object")
	}
	return nil
}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// describeJSONError turns encoding/json errors into messages naming the field and line.
func describeJSONError(err error, body []byte) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "the request"
		}
		return fmt.Sprintf("%s must be %s, got a JSON %s (line %d)", field, jsonKind(typeErr.Type.String()), typeErr.Value, lineOf(body, typeErr.Offset))
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("%v (line %d)", syntaxErr, lineOf(body, syntaxErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	}
	return err.Error()
}

// acceptedFields lists the fields the object v accepts when err is about an unknown field at
// the body's top level ({"text": "..."} for {"texts": [...]}), where a name was guessed wrong.
func acceptedFields(err error, body []byte, v any) string {
	quoted, found := strings.CutPrefix(err.Error(), "json: unknown field ")
	name, unquoteErr := strconv.Unquote(quoted)
	var top map[string]json.RawMessage
	if !found || unquoteErr != nil || json.Unmarshal(body, &top) != nil {
		return ""
	}
	if _, atTop := top[name]; !atTop {
		return ""
	}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	var fields []string
	for field := range t.Fields() {
		if name, _, _ := strings.Cut(field.Tag.Get("json"), ","); field.IsExported() && name != "-" && name != "" {
			fields = append(fields, strconv.Quote(name))
		}
	}
	return "; expected " + strings.Join(fields, ", ")
}

func jsonKind(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "[]string":
		return "an array of strings"
	case "float32", "float64", "int":
		return "a number"
	}
	if strings.HasPrefix(goType, "map[") || strings.HasPrefix(goType, "serve.") {
		return "an object"
	}
	return goType
}

func lineOf(body []byte, offset int64) int {
	if offset > int64(len(body)) {
		offset = int64(len(body))
	}
	return 1 + bytes.Count(body[:offset], []byte("\n"))
}

// checkText validates one input text and truncates it to MaxChars runes. where names it in
// error messages ("texts[3]").
func (s *Server) checkText(text, where string) (string, bool, error) {
	if strings.TrimSpace(text) == "" {
		return "", false, badRequest("%s is empty: expected some text to classify", where)
	}
	if i := strings.IndexByte(text, 0); i >= 0 {
		return "", false, badRequest("%s contains a NUL character at byte %d: expected text, not binary data", where, i)
	}
	if utf8.RuneCountInString(text) <= s.opts.MaxChars {
		return text, false, nil
	}
	n := 0
	for i := range text {
		if n == s.opts.MaxChars {
			return text[:i], true, nil
		}
		n++
	}
	return text, false, nil
}

// PredictRequest is the body of POST /api/predict: tunelab's {"texts": [...]}, or the Hugging
// Face Inference API's {"inputs": "text"} or {"inputs": ["text", ...]} with optional
// "parameters", which is answered in that API's shape (InferenceResponse).
type PredictRequest struct {
	Texts      []string             `json:"texts,omitempty"`
	Inputs     json.RawMessage      `json:"inputs,omitempty"`
	Parameters *InferenceParameters `json:"parameters,omitempty"`
}

// InferenceParameters are the text-classification parameters of the Inference API.
type InferenceParameters struct {
	// TopK keeps the k most probable classes (default: all).
	TopK *int `json:"top_k,omitempty"`
	// FunctionToApply is how scores come from the logits: only "softmax", the default of a
	// single-label classifier, is served.
	FunctionToApply string `json:"function_to_apply,omitempty"`
}

// InferenceScore is one class of an Inference API answer.
type InferenceScore struct {
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// InferenceResponse is the Inference API's text-classification answer: for each input, its
// classes sorted by decreasing score.
type InferenceResponse [][]InferenceScore

// Prediction is what the model says of one text. Its JSON depends on Options.Problem:
//
//	{"label": "positive", "scores": {"negative": 0.1, ...}}  single-label classification
//	{"score": 7.8}                                           regression
//	{"labels": ["news"], "scores": {"news": 0.8, ...}}       multi-label classification
//
// with "truncated": true added when the text was cut.
type Prediction struct {
	problem hfmodel.ProblemType
	// Label is a single-label classifier's most probable class.
	Label string `json:"label,omitempty"`
	// Labels are a multi-label classifier's classes whose sigmoid is above
	// metrics.DefaultThreshold (0.5), in label order; empty when none is.
	Labels []string `json:"labels,omitempty"`
	// Score is a regression model's predicted value.
	Score float32 `json:"score,omitempty"`
	// Scores maps every label to its probability: softmax (single-label) or sigmoid
	// (multi-label).
	Scores map[string]float32 `json:"scores,omitempty"`
	// Truncated reports that the text was cut to Options.MaxChars characters before classifying.
	Truncated bool `json:"truncated,omitempty"`
}

// MarshalJSON writes the fields of the prediction's problem type (see Prediction).
func (p Prediction) MarshalJSON() ([]byte, error) {
	switch p.problem {
	case hfmodel.Regression:
		return json.Marshal(struct {
			Score     float32 `json:"score"`
			Truncated bool    `json:"truncated,omitempty"`
		}{p.Score, p.Truncated})
	case hfmodel.MultiLabel:
		return json.Marshal(struct {
			Labels    []string           `json:"labels"`
			Scores    map[string]float32 `json:"scores"`
			Truncated bool               `json:"truncated,omitempty"`
		}{append([]string{}, p.Labels...), p.Scores, p.Truncated})
	}
	return json.Marshal(struct {
		Label     string             `json:"label"`
		Scores    map[string]float32 `json:"scores"`
		Truncated bool               `json:"truncated,omitempty"`
	}{p.Label, p.Scores, p.Truncated})
}

// prediction reads one row of Classifier.Classify as the server's problem type says.
func (s *Server) prediction(row []float32) Prediction {
	p := Prediction{problem: s.opts.Problem}
	if p.problem == hfmodel.Regression {
		p.Score = row[0]
		return p
	}
	p.Scores = make(map[string]float32, len(row))
	for k, v := range row {
		p.Scores[s.labels[k]] = v
	}
	if p.problem == hfmodel.MultiLabel {
		for k, on := range metrics.Threshold([][]float32{row}, metrics.DefaultThreshold)[0] {
			if on {
				p.Labels = append(p.Labels, s.labels[k])
			}
		}
		return p
	}
	p.Label = s.labels[metrics.ArgMax(row)]
	return p
}

// PredictResponse is the answer of POST /api/predict: one prediction per text, in order.
type PredictResponse struct {
	Predictions []Prediction `json:"predictions"`
	// Labels lists the class names in id order (a regression model's one output).
	Labels []string `json:"labels"`
	// LatencyMS is the server-side time spent on the request, queueing included.
	LatencyMS float64 `json:"latency_ms"`
}

// requestTexts returns the texts of req and whether it is an Inference API request.
func requestTexts(req *PredictRequest) (texts []string, inference bool, err error) {
	switch {
	case req.Texts != nil && req.Inputs != nil:
		return nil, false, badRequest(`both "texts" and "inputs": send {"texts": [...]} or the Inference API's {"inputs": ...}`)
	case req.Inputs != nil:
		var one string
		if json.Unmarshal(req.Inputs, &one) == nil {
			return []string{one}, true, nil
		}
		if err := json.Unmarshal(req.Inputs, &texts); err != nil || texts == nil {
			return nil, true, badRequest(`"inputs" must be a string or an array of strings, got %s`, truncateJSON(req.Inputs))
		}
		return texts, true, nil
	case req.Parameters != nil:
		return nil, false, badRequest(`"parameters" go with the Inference API's "inputs", not with "texts"`)
	case req.Texts == nil:
		return nil, false, badRequest(`missing "texts": expected {"texts": ["some text", ...]} (or the Inference API's {"inputs": "some text"})`)
	}
	return req.Texts, false, nil
}

func truncateJSON(raw json.RawMessage) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "..."
	}
	return string(raw)
}

// topK checks the Inference API parameters and returns how many classes to answer.
func (s *Server) topK(p *InferenceParameters) (int, error) {
	if p == nil {
		return len(s.labels), nil
	}
	if p.FunctionToApply != "" && p.FunctionToApply != "softmax" {
		return 0, badRequest(`parameters.function_to_apply %q is not served: the scores are the softmax probabilities ("softmax")`, p.FunctionToApply)
	}
	if p.TopK == nil {
		return len(s.labels), nil
	}
	if *p.TopK < 1 {
		return 0, badRequest("parameters.top_k is %d: expected at least 1", *p.TopK)
	}
	return min(*p.TopK, len(s.labels)), nil
}

func (s *Server) handlePredict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req PredictRequest
	if err := s.decodeBody(w, r, &req, true); err != nil {
		s.writeErr(w, r, err)
		return
	}
	reqTexts, inference, err := requestTexts(&req)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	field := "texts"
	if inference {
		field = "inputs"
	}
	k, err := s.topK(req.Parameters)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if len(reqTexts) == 0 {
		s.writeErr(w, r, badRequest(`"%s" is empty: expected at least one text`, field))
		return
	}
	if len(reqTexts) > s.opts.MaxTexts {
		s.writeErr(w, r, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf(`too many texts: %d, the limit is %d per request`, len(reqTexts), s.opts.MaxTexts)})
		return
	}
	texts := make([]string, len(reqTexts))
	truncated := make([]bool, len(reqTexts))
	for i, t := range reqTexts {
		where := fmt.Sprintf("%s[%d]", field, i)
		if inference && req.Inputs[0] == '"' {
			where = field
		}
		if texts[i], truncated[i], err = s.checkText(t, where); err != nil {
			s.writeErr(w, r, err)
			return
		}
	}
	probs, err := s.batcher.classify(r.Context(), texts)
	if err != nil {
		s.writeErr(w, r, err)
		return
	}
	if inference {
		resp := make(InferenceResponse, len(probs))
		for i, row := range probs {
			for _, c := range s.ranked(row)[:k] {
				resp[i] = append(resp[i], InferenceScore{Label: c.Label, Score: c.Confidence})
			}
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	resp := PredictResponse{Predictions: make([]Prediction, len(texts)), Labels: s.labels}
	for i, row := range probs {
		resp.Predictions[i] = s.prediction(row)
		resp.Predictions[i].Truncated = truncated[i]
	}
	resp.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	writeJSON(w, http.StatusOK, resp)
}

// labelScore is one class and its probability.
type labelScore struct {
	Label      string  `json:"label"`
	Confidence float32 `json:"confidence"`
}

// ranked returns the classes of row sorted by decreasing probability (ties in label order).
func (s *Server) ranked(row []float32) []labelScore {
	out := make([]labelScore, len(row))
	for i, v := range row {
		out[i] = labelScore{s.labels[i], v}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Confidence > out[b].Confidence })
	return out
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	if !s.warm.Load() {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "warming up: compiling the model for its input shapes")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "labels": s.labels})
}

// cors applies the CORS policy; it returns false when it has answered the request (preflight).
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" {
		return true
	}
	allowed := slices.Contains(s.opts.AllowedOrigins, "*") || slices.Contains(s.opts.AllowedOrigins, origin)
	w.Header().Add("Vary", "Origin")
	if !allowed {
		if preflight {
			writeError(w, http.StatusForbidden, fmt.Sprintf("origin %q is not allowed", origin))
			return false
		}
		return true // the browser withholds the answer from the page
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	if !preflight {
		return true
	}
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
	w.Header().Set("Access-Control-Max-Age", strconv.Itoa(600))
	w.WriteHeader(http.StatusNoContent)
	return false
}
