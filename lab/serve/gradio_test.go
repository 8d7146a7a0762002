package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab/metrics"
)

// checkLabel compares a Label value with the keyword rule: every class, sorted by decreasing
// confidence, the top one as label.
func checkLabel(t testing.TB, text string, v labelValue) {
	t.Helper()
	want := keywordProbs(text)
	if len(v.Confidences) != len(testLabels) {
		t.Fatalf("text %q: %d confidences, want %d", text, len(v.Confidences), len(testLabels))
	}
	scores := map[string]float32{}
	for i, c := range v.Confidences {
		scores[c.Label] = c.Confidence
		if i > 0 && c.Confidence > v.Confidences[i-1].Confidence {
			t.Errorf("text %q: confidences not sorted: %v", text, v.Confidences)
		}
	}
	checkProbs(t, text, scores)
	if v.Label != testLabels[metrics.ArgMax(want)] || v.Label != v.Confidences[0].Label {
		t.Errorf("text %q: label %q, want %q", text, v.Label, testLabels[metrics.ArgMax(want)])
	}
}

// startServer serves s on a loopback port until the test ends and returns its base URL.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// sseEvent is one server-sent event.
type sseEvent struct{ name, data string }

func readSSE(t *testing.T, r io.Reader) []sseEvent {
	t.Helper()
	var evs []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			evs = append(evs, cur)
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		default:
			t.Errorf("unexpected SSE line %q", line)
		}
	}
	return evs
}

func TestGradioCallPredict(t *testing.T) {
	url := startServer(t, newTestServer(t, &keywordClassifier{}, Options{}))
	const text = "bad bad good"
	resp, err := http.Post(url+"/gradio_api/call/predict", "application/json", strings.NewReader(`{"data": ["`+text+`"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var id struct {
		EventID string `json:"event_id"`
	}
	if err := decodeResponse(resp, &id); err != nil || resp.StatusCode != 200 || id.EventID == "" {
		t.Fatalf("POST call/predict: %d %v %+v", resp.StatusCode, err, id)
	}
	resp.Body.Close()
	res, err := http.Get(url + "/gradio_api/call/predict/" + id.EventID)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	evs := readSSE(t, res.Body)
	if len(evs) != 1 || evs[0].name != "complete" {
		t.Fatalf("events %+v, want one complete", evs)
	}
	var out []labelValue
	if err := json.Unmarshal([]byte(evs[0].data), &out); err != nil || len(out) != 1 {
		t.Fatalf("data %q: %v", evs[0].data, err)
	}
	checkLabel(t, text, out[0])
	// A result is read once.
	again, _ := http.Get(url + "/gradio_api/call/predict/" + id.EventID)
	if again.StatusCode != 404 {
		t.Errorf("second read: %d, want 404", again.StatusCode)
	}
	again.Body.Close()
}

func TestGradioBadRequests(t *testing.T) {
	s := newTestServer(t, &keywordClassifier{}, Options{MaxBodyBytes: 200})
	for _, c := range []struct {
		path, body string
		status     int
		msg        string
	}{
		{"/gradio_api/call/predict", `{"data": [`, 400, "the JSON ends early"},
		{"/gradio_api/call/predict", `{"data": []}`, 400, `"data" must hold exactly one value`},
		{"/gradio_api/call/predict", `{"data": ["a", "b"]}`, 400, `got 2`},
		{"/gradio_api/call/predict", `{"data": [42]}`, 422, "text: must be a string, got 42"},
		{"/gradio_api/call/predict", `{"data": [""]}`, 422, "text: text is empty"},
		{"/gradio_api/call/predict", "{\"data\": [\"\xc3\"]}", 400, "not valid UTF-8"},
		{"/gradio_api/call/predict", `{"data": ["` + strings.Repeat("a", 300) + `"]}`, 413, "larger than 200 bytes"},
		{"/gradio_api/queue/join", `{"data": ["a"], "fn_index": 3, "session_hash": "x"}`, 400, "unknown fn_index 3"},
	} {
		rec := do(s, "POST", c.path, c.body)
		e := decodeJSON[apiError](t, rec.Body.Bytes())
		if rec.Code != c.status || !strings.Contains(e.Error, c.msg) {
			t.Errorf("%s %s: %d %q, want %d containing %q", c.path, c.body[:min(len(c.body), 30)], rec.Code, e.Error, c.status, c.msg)
		}
	}
	if rec := do(s, "GET", "/gradio_api/call/predict/nope", ""); rec.Code != 404 {
		t.Errorf("unknown event: %d", rec.Code)
	}
	if rec := do(s, "GET", "/gradio_api/queue/data", ""); rec.Code != 400 {
		t.Errorf("queue/data without session: %d", rec.Code)
	}
	if len(s.events.byID) != 0 {
		t.Errorf("rejected requests left %d events", len(s.events.byID))
	}
}

func TestGradioQueueProtocol(t *testing.T) {
	url := startServer(t, newTestServer(t, &keywordClassifier{}, Options{}))
	texts := []string{"good", "bad bad"}
	var ids []string
	for _, text := range texts {
		resp, err := http.Post(url+"/gradio_api/queue/join", "application/json",
			strings.NewReader(jsonBody(t, map[string]any{"data": []string{text}, "fn_index": 0, "session_hash": "abc", "trigger_id": nil})))
		if err != nil {
			t.Fatal(err)
		}
		var id struct {
			EventID string `json:"event_id"`
		}
		_ = decodeResponse(resp, &id)
		resp.Body.Close()
		ids = append(ids, id.EventID)
	}
	resp, err := http.Get(url + "/gradio_api/queue/data?session_hash=abc")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	completed := map[string]labelValue{}
	var msgs []string
	for _, ev := range readSSE(t, resp.Body) {
		var m struct {
			Msg     string `json:"msg"`
			EventID string `json:"event_id"`
			Success bool   `json:"success"`
			Output  struct {
				Data []labelValue `json:"data"`
			} `json:"output"`
		}
		if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
			t.Fatalf("message %q: %v", ev.data, err)
		}
		msgs = append(msgs, m.Msg)
		if m.Msg == "process_completed" {
			if !m.Success || len(m.Output.Data) != 1 {
				t.Fatalf("completed: %s", ev.data)
			}
			completed[m.EventID] = m.Output.Data[0]
		}
	}
	if msgs[len(msgs)-1] != "close_stream" {
		t.Errorf("stream did not end with close_stream: %v", msgs)
	}
	for i, id := range ids {
		v, ok := completed[id]
		if !ok {
			t.Fatalf("no process_completed for event %s (%q); messages %v", id, texts[i], msgs)
		}
		checkLabel(t, texts[i], v)
	}
}

func TestGradioConfigAndInfo(t *testing.T) {
	s := newTestServer(t, &keywordClassifier{}, Options{Card: Card{Title: "T", Examples: []string{"good day"}}})
	cfg := decodeJSON[map[string]any](t, do(s, "GET", "/config", "").Body.Bytes())
	if cfg["protocol"] != "sse_v3" || cfg["api_prefix"] != "/gradio_api" || cfg["title"] != "T" {
		t.Errorf("config: %v", cfg)
	}
	info := decodeJSON[struct {
		Named map[string]struct {
			Parameters []map[string]any `json:"parameters"`
			Returns    []map[string]any `json:"returns"`
		} `json:"named_endpoints"`
	}](t, do(s, "GET", "/gradio_api/info?serialize=False", "").Body.Bytes())
	p := info.Named["/predict"]
	if len(p.Parameters) != 1 || p.Parameters[0]["component"] != "Textbox" || len(p.Returns) != 1 || p.Returns[0]["component"] != "Label" {
		t.Errorf("info: %+v", info)
	}
}

// TestRealGradioClient runs the PyPI gradio_client against the server.
func TestRealGradioClient(t *testing.T) {
	python := testenv.Python(t, "gradio_client")
	url := startServer(t, newTestServer(t, &keywordClassifier{}, Options{}))
	texts := []string{"What a good, good day", "bad news", "no keywords here"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{filepath.Join("testdata", "gradio_client_predict.py"), url}, texts...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("gradio_client script: %v\n%s", err, stderr)
	}
	var got struct {
		Version    string       `json:"version"`
		Results    []labelValue `json:"results"`
		Submitted  []labelValue `json:"submitted"`
		EmptyError string       `json:"empty_error"`
		API        struct {
			Named map[string]json.RawMessage `json:"named_endpoints"`
		} `json:"api"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	t.Logf("gradio_client %s", got.Version)
	if len(got.Results) != len(texts) || len(got.Submitted) != len(texts) {
		t.Fatalf("results %+v", got)
	}
	for i, text := range texts {
		checkLabel(t, text, got.Results[i])
		checkLabel(t, text, got.Submitted[i])
	}
	if _, ok := got.API.Named["/predict"]; !ok {
		t.Errorf("view_api lacks /predict: %s", out)
	}
	if !strings.Contains(got.EmptyError, "ValidationError") || !strings.Contains(got.EmptyError, "text is empty") {
		t.Errorf("empty text raised %q, want a ValidationError saying the text is empty", got.EmptyError)
	}
}
