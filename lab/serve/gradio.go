package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tunelab/tunelab/lab/hfmodel"
)

// The Gradio HTTP API (Gradio 4.x/5.x, protocol "sse_v3") as used by gradio_client and by the
// "Use via API" curl recipe, for one endpoint: /predict, Textbox in, Label out.
//
//	GET  /config                                app config: components and dependencies
//	GET  /gradio_api/info                       named endpoints and their parameter types
//	POST /gradio_api/queue/join                 {"data": [text], "fn_index": 0, "session_hash": h} -> {"event_id": id}
//	GET  /gradio_api/queue/data?session_hash=h  SSE: estimation, process_starts, process_completed, close_stream
//	POST /gradio_api/call/predict               {"data": [text]} -> {"event_id": id}
//	GET  /gradio_api/call/predict/{event_id}    SSE: "event: complete" with data [label]
//
// A Label value is {"label": top class, "confidences": [{"label": l, "confidence": p}, ...]},
// classes sorted by decreasing confidence: the softmax of a single-label classifier, or each
// label's independent sigmoid for a multi-label one (as gr.Label shows a dict of scores). A
// regression model's output is a Number component instead: its predicted value.

// gradioVersion is the Gradio release whose API this server speaks; clients compare it to
// choose the protocol.
const gradioVersion = "5.0.0"

const (
	gradioPrefix = "/gradio_api"
	textboxID    = 1
	labelID      = 2
	predictFn    = 0
	// eventTTL is how long a finished result waits for its reader before it is dropped.
	eventTTL = 5 * time.Minute
	// heartbeatEvery keeps idle event streams alive through proxies.
	heartbeatEvery = 15 * time.Second
)

func (s *Server) gradioRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /config", s.handleGradioConfig)
	m.HandleFunc("GET "+gradioPrefix+"/config", s.handleGradioConfig)
	m.HandleFunc("GET "+gradioPrefix+"/info", s.handleGradioInfo)
	m.HandleFunc("POST "+gradioPrefix+"/queue/join", s.handleQueueJoin)
	m.HandleFunc("GET "+gradioPrefix+"/queue/data", s.handleQueueData)
	m.HandleFunc("POST "+gradioPrefix+"/call/predict", s.handleCallPredict)
	m.HandleFunc("GET "+gradioPrefix+"/call/predict/{event_id}", s.handleCallResult)
}

// labelSchema is the JSON schema of a Label value.
var labelSchema = map[string]any{
	"title": "LabelData", "type": "object",
	"properties": map[string]any{
		"label": map[string]any{"type": "string"},
		"confidences": map[string]any{"type": "array", "items": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"label":      map[string]any{"type": "string"},
				"confidence": map[string]any{"type": "number"},
			},
		}},
	},
}

// outputComponent is the config entry of the output: a Number for a regression model, else a
// Label.
func (s *Server) outputComponent() map[string]any {
	if s.opts.Problem == hfmodel.Regression {
		return map[string]any{"id": labelID, "type": "number", "skip_api": false,
			"props":    map[string]any{"label": "Score", "show_label": true},
			"api_info": map[string]any{"type": "number"}}
	}
	return map[string]any{"id": labelID, "type": "label", "skip_api": false,
		"props":    map[string]any{"label": "Label", "num_top_classes": s.opts.TopK, "show_label": true},
		"api_info": labelSchema}
}

// outputInfo describes the output in /gradio_api/info.
func (s *Server) outputInfo() map[string]any {
	switch s.opts.Problem {
	case hfmodel.Regression:
		return map[string]any{"label": "Score", "component": "Number", "type": map[string]any{"type": "number"},
			"python_type": map[string]any{"type": "float", "description": "the predicted value"}}
	case hfmodel.MultiLabel:
		return map[string]any{"label": "Label", "component": "Label", "type": labelSchema,
			"python_type": map[string]any{
				"type":        "Dict(label: str, confidences: List[Dict(label: str, confidence: float)])",
				"description": "every label's independent probability (labels above 0.5 apply), the most probable first"}}
	}
	return map[string]any{"label": "Label", "component": "Label", "type": labelSchema,
		"python_type": map[string]any{
			"type":        "Dict(label: str, confidences: List[Dict(label: str, confidence: float)])",
			"description": "the top class and every class's probability"}}
}

// gradioOutput is the output value of one text's scores: the predicted number of a regression
// model, else a Label value.
func (s *Server) gradioOutput(row []float32) any {
	if s.opts.Problem == hfmodel.Regression {
		return row[0]
	}
	ranked := s.ranked(row)
	return labelValue{Label: ranked[0].Label, Confidences: ranked}
}

func (s *Server) handleGradioConfig(w http.ResponseWriter, r *http.Request) {
	example := "Hello!!"
	if len(s.opts.Card.Examples) > 0 {
		example = s.opts.Card.Examples[0]
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"version":           gradioVersion,
		"mode":              "interface",
		"protocol":          "sse_v3",
		"api_prefix":        gradioPrefix,
		"title":             s.opts.Card.Title,
		"description":       s.opts.Card.Description,
		"enable_queue":      true,
		"show_api":          true,
		"show_error":        true,
		"connect_heartbeat": false,
		"max_file_size":     nil,
		"components": []any{
			map[string]any{"id": textboxID, "type": "textbox", "skip_api": false,
				"props":    map[string]any{"label": "Text", "lines": 4, "show_label": true},
				"api_info": map[string]any{"type": "string"}, "example_inputs": example},
			s.outputComponent(),
		},
		"dependencies": []any{map[string]any{
			"id": predictFn, "targets": [][]any{{textboxID, "submit"}},
			"inputs": []int{textboxID}, "outputs": []int{labelID},
			"backend_fn": true, "api_name": "predict", "api_visibility": "public", "show_api": true,
			"queue": true, "cancels": []int{}, "js": nil, "trigger_mode": "once",
		}},
	})
}

func (s *Server) handleGradioInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"named_endpoints": map[string]any{"/predict": map[string]any{
			"parameters": []any{map[string]any{
				"label": "Text", "parameter_name": "text", "parameter_has_default": false,
				"parameter_default": nil, "component": "Textbox",
				"type":        map[string]any{"type": "string"},
				"python_type": map[string]any{"type": "str", "description": ""},
			}},
			"returns":  []any{s.outputInfo()},
			"show_api": true,
		}},
		"unnamed_endpoints": map[string]any{},
	})
}

// gradioRequest is the body of queue/join and call/predict; fields other than data and the
// routing ones (trigger_id, event_data, ...) are ignored, as Gradio does.
type gradioRequest struct {
	Data        []json.RawMessage `json:"data"`
	FnIndex     *int              `json:"fn_index"`
	SessionHash string            `json:"session_hash"`
}

// gradioText extracts and checks the one text argument. Its failures answer 422 in the shape
// gradio_client turns into a ValidationError naming the parameter.
func (s *Server) gradioText(req *gradioRequest) (string, error) {
	invalid := func(msg string) error {
		return &validationError{msg}
	}
	if req.FnIndex != nil && *req.FnIndex != predictFn {
		return "", badRequest("unknown fn_index %d: this app has one function, /predict (fn_index %d)", *req.FnIndex, predictFn)
	}
	if len(req.Data) != 1 {
		return "", badRequest(`"data" must hold exactly one value (the text), got %d`, len(req.Data))
	}
	var text string
	if err := json.Unmarshal(req.Data[0], &text); err != nil {
		return "", invalid("must be a string, got " + string(truncateBytes(req.Data[0], 40)))
	}
	text, _, err := s.checkText(text, "text")
	if err != nil {
		return "", invalid(err.Error())
	}
	return text, nil
}

func truncateBytes(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n:n], "..."...)
	}
	return b
}

// validationError is a bad argument value, answered 422 as Gradio's validators do.
type validationError struct{ msg string }

func (e *validationError) Error() string { return "text: " + e.msg }

func (s *Server) writeGradioErr(w http.ResponseWriter, r *http.Request, err error) {
	if ve, ok := err.(*validationError); ok {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error": ve.Error(),
			"detail": []any{map[string]any{"__type__": "validate", "is_valid": false,
				"parameter_name": "text", "message": ve.msg}},
		})
		return
	}
	s.writeErr(w, r, err)
}

// startEvent validates the request and queues its prediction as a new event.
func (s *Server) startEvent(w http.ResponseWriter, r *http.Request, session string) (*event, error) {
	var req gradioRequest
	if err := s.decodeBody(w, r, &req, false); err != nil {
		return nil, err
	}
	if session == "" {
		session = req.SessionHash
	}
	text, err := s.gradioText(&req)
	if err != nil {
		return nil, err
	}
	ev, err := s.events.add(session)
	if err != nil {
		return nil, err
	}
	j, err := s.batcher.submit(ev.ctx, []string{text})
	if err != nil {
		s.events.take(ev.id)
		ev.cancel()
		return nil, err
	}
	go func() {
		// The prediction outlives the POST that queued it; the queue bounds it instead.
		start := time.Now()
		probs, err := j.wait()
		if err == nil {
			ev.output = s.gradioOutput(probs[0])
		}
		ev.err, ev.duration = err, time.Since(start)
		close(ev.done)
	}()
	return ev, nil
}

func (s *Server) handleQueueJoin(w http.ResponseWriter, r *http.Request) {
	ev, err := s.startEvent(w, r, r.URL.Query().Get("session_hash"))
	if err != nil {
		s.writeGradioErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"event_id": ev.id})
}

func (s *Server) handleCallPredict(w http.ResponseWriter, r *http.Request) {
	ev, err := s.startEvent(w, r, "")
	if err != nil {
		s.writeGradioErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"event_id": ev.id})
}

// sseWriter writes server-sent events, flushing each, with the write deadline lifted: a stream
// lasts as long as its predictions, which the queue bounds.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newSSE(w http.ResponseWriter) *sseWriter {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &sseWriter{w, rc}
}

// send writes one event; name "" writes a data-only event. data is JSON-encoded.
func (e *sseWriter) send(name string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if name != "" {
		if _, err := fmt.Fprintf(e.w, "event: %s\n", name); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(e.w, "data: %s\n\n", b); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (s *Server) handleCallResult(w http.ResponseWriter, r *http.Request) {
	ev := s.events.take(r.PathValue("event_id"))
	if ev == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown event_id %q: it was never issued, already read, or expired", r.PathValue("event_id")))
		return
	}
	sse := newSSE(w)
	if !s.await(r, sse, ev, func() error { return sse.send("heartbeat", nil) }) {
		return
	}
	if ev.err != nil {
		_ = sse.send("error", ev.err.Error())
		return
	}
	_ = sse.send("complete", []any{ev.output})
}

// await waits for ev, sending a heartbeat now and then; it returns false when the client left.
func (s *Server) await(r *http.Request, sse *sseWriter, ev *event, heartbeat func() error) bool {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ev.done:
			return true
		case <-r.Context().Done():
			ev.cancel()
			return false
		case <-t.C:
			if heartbeat() != nil {
				ev.cancel()
				return false
			}
		}
	}
}

func (s *Server) handleQueueData(w http.ResponseWriter, r *http.Request) {
	session := r.URL.Query().Get("session_hash")
	if session == "" {
		writeError(w, http.StatusBadRequest, "missing session_hash query parameter")
		return
	}
	sse := newSSE(w)
	heartbeat := func() error { return sse.send("", map[string]string{"msg": "heartbeat"}) }
	for {
		evs := s.events.takeSession(session)
		if len(evs) == 0 {
			_ = sse.send("", map[string]string{"msg": "close_stream", "event_id": ""})
			return
		}
		for rank, ev := range evs {
			if sse.send("", map[string]any{"msg": "estimation", "event_id": ev.id, "rank": rank, "queue_size": len(evs), "rank_eta": nil}) != nil ||
				sse.send("", map[string]any{"msg": "process_starts", "event_id": ev.id, "eta": nil}) != nil {
				return
			}
		}
		for _, ev := range evs {
			if !s.await(r, sse, ev, heartbeat) {
				return
			}
			msg := map[string]any{"msg": "process_completed", "event_id": ev.id}
			if ev.err != nil {
				msg["success"] = false
				msg["output"] = map[string]any{"error": ev.err.Error()}
			} else {
				msg["success"] = true
				msg["output"] = map[string]any{"data": []any{ev.output}, "is_generating": false,
					"duration": ev.duration.Seconds(), "average_duration": ev.duration.Seconds()}
			}
			if sse.send("", msg) != nil {
				return
			}
		}
	}
}

// labelValue is the value of a Gradio Label output.
type labelValue struct {
	Label       string       `json:"label"`
	Confidences []labelScore `json:"confidences"`
}

// event is one queued Gradio prediction. output, err and duration are set before done closes.
type event struct {
	id, session string
	created     time.Time
	ctx         context.Context
	cancel      func()
	done        chan struct{}
	output      any // see gradioOutput
	err         error
	duration    time.Duration
}

// eventStore holds events from their POST until their result is read (or eventTTL passes).
type eventStore struct {
	mu        sync.Mutex
	byID      map[string]*event
	bySession map[string][]*event
	limit     int
}

func newEventStore(limit int) *eventStore {
	return &eventStore{byID: map[string]*event{}, bySession: map[string][]*event{}, limit: limit}
}

func (st *eventStore) add(session string) (*event, error) {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	ctx, cancel := context.WithCancel(context.Background())
	ev := &event{id: hex.EncodeToString(raw[:]), session: session, created: time.Now(), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.expire()
	if len(st.byID) >= st.limit {
		cancel()
		return nil, errQueueFull
	}
	st.byID[ev.id] = ev
	if session != "" {
		st.bySession[session] = append(st.bySession[session], ev)
	}
	return ev, nil
}

// expire drops results nobody came for. Callers hold mu.
func (st *eventStore) expire() {
	for id, ev := range st.byID {
		if time.Since(ev.created) > eventTTL {
			ev.cancel()
			st.forget(id, ev)
		}
	}
}

func (st *eventStore) forget(id string, ev *event) {
	delete(st.byID, id)
	if ev.session == "" {
		return
	}
	evs := st.bySession[ev.session]
	for i, e := range evs {
		if e == ev {
			evs = append(evs[:i:i], evs[i+1:]...)
			break
		}
	}
	if len(evs) == 0 {
		delete(st.bySession, ev.session)
	} else {
		st.bySession[ev.session] = evs
	}
}

// take removes and returns the event id, or nil.
func (st *eventStore) take(id string) *event {
	st.mu.Lock()
	defer st.mu.Unlock()
	ev := st.byID[id]
	if ev != nil {
		st.forget(id, ev)
	}
	return ev
}

// takeSession removes and returns the session's events in the order they were queued.
func (st *eventStore) takeSession(session string) []*event {
	st.mu.Lock()
	defer st.mu.Unlock()
	evs := st.bySession[session]
	delete(st.bySession, session)
	for _, ev := range evs {
		delete(st.byID, ev.id)
	}
	return evs
}
