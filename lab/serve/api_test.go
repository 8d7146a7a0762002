package serve

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tunelab/tunelab/internal/testenv"
)

func TestPredictScoresFollowTheClassifier(t *testing.T) {
	s := newTestServer(t, &keywordClassifier{}, Options{})
	texts := []string{"good good", "bad", "plain words", "Good, bad, BAD!"}
	rec := do(s, "POST", "/api/predict", jsonBody(t, PredictRequest{Texts: texts}), "Content-Type", "application/json")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	resp := decodeJSON[PredictResponse](t, rec.Body.Bytes())
	// Hand-computed from the keyword rule: (1+b, 1, 1+g)/(3+g+b).
	wantLabels := []string{"positive", "negative", "negative", "negative"}
	wantPositive := []float32{3.0 / 5, 1.0 / 4, 1.0 / 3, 2.0 / 6}
	if len(resp.Predictions) != len(texts) {
		t.Fatalf("%d predictions for %d texts", len(resp.Predictions), len(texts))
	}
	for i, p := range resp.Predictions {
		if p.Label != wantLabels[i] || !approx(p.Scores["positive"], wantPositive[i]) {
			t.Errorf("text %q: got %s %v, want %s with positive=%v", texts[i], p.Label, p.Scores, wantLabels[i], wantPositive[i])
		}
		checkProbs(t, texts[i], p.Scores)
		if p.Truncated {
			t.Errorf("text %q marked truncated", texts[i])
		}
	}
	// "plain words" ties all three classes at 1/3: the first label wins, as in argmax.
	if strings.Join(resp.Labels, ",") != "negative,neutral,positive" || resp.LatencyMS <= 0 {
		t.Errorf("labels %v latency %v", resp.Labels, resp.LatencyMS)
	}
}

func TestPredictTruncatesLongTexts(t *testing.T) {
	clf := &keywordClassifier{}
	s := newTestServer(t, clf, Options{MaxChars: 10})
	// 12 runes, multi-byte: truncation must count characters, not bytes.
	long := "héllo wörld!"
	rec := do(s, "POST", "/api/predict", jsonBody(t, PredictRequest{Texts: []string{long, "short"}}))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	resp := decodeJSON[PredictResponse](t, rec.Body.Bytes())
	if !resp.Predictions[0].Truncated || resp.Predictions[1].Truncated {
		t.Errorf("truncated flags %v %v, want true false", resp.Predictions[0].Truncated, resp.Predictions[1].Truncated)
	}
	got := clf.calls[0][0]
	if got != "héllo wörl" || utf8.RuneCountInString(got) != 10 {
		t.Errorf("classifier saw %q, want the first 10 characters %q", got, "héllo wörl")
	}
}

func TestPredictRejectsBadInput(t *testing.T) {
	s := newTestServer(t, &keywordClassifier{}, Options{MaxTexts: 3, MaxBodyBytes: 1000})
	cases := []struct {
		name, body string
		status     int
		msg        string // a regexp the error message must match
	}{
		{"bad JSON", `{"texts": ["a",}`, 400, `invalid JSON request: invalid character '}' .*line 1`},
		{"truncated JSON", `{"texts": ["a"`, 400, `the JSON ends early`},
		{"empty body", ``, 400, `empty request body`},
		{"not an object", `["a"]`, 400, `must be an object, got a JSON array`},
		{"texts is a string", `{"texts": "good"}`, 400, `texts must be an array of strings, got a JSON string`},
		{"text is a number", `{"texts": ["a", 3]}`, 400, `texts.* must be a string, got a JSON number`},
		{"unknown field", `{"texts": ["a"], "path": "../x"}`, 400, `unknown field "path"; expected "texts", "inputs", "parameters"$`},
		{"a guessed name", `{"text": "good"}`, 400, `unknown field "text"; expected "texts", "inputs", "parameters"$`},
		{"trailing data", `{"texts": ["a"]} {"texts": ["b"]}`, 400, `unexpected data after the JSON object`},
		{"missing texts", `{}`, 400, `missing "texts"`},
		{"null texts", `{"texts": null}`, 400, `missing "texts"`},
		{"empty list", `{"texts": []}`, 400, `"texts" is empty`},
		{"empty text", `{"texts": ["ok", ""]}`, 400, `texts\[1\] is empty`},
		{"blank text", `{"texts": [" \n\t"]}`, 400, `texts\[0\] is empty`},
		{"NUL in text", `{"texts": ["a\u0000b"]}`, 400, `texts\[0\] contains a NUL character at byte 1`},
		{"invalid UTF-8", "{\"texts\": [\"a\xff\xfeb\"]}", 400, `not valid UTF-8 \(at byte 13\)`},
		{"too many texts", `{"texts": ["a","b","c","d"]}`, 413, `too many texts: 4, the limit is 3`},
		{"huge body", `{"texts": ["` + strings.Repeat("x", 2000) + `"]}`, 413, `request body larger than 1000 bytes`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := do(s, "POST", "/api/predict", c.body, "Content-Type", "application/json")
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			e := decodeJSON[apiError](t, rec.Body.Bytes())
			if !regexp.MustCompile(c.msg).MatchString(e.Error) {
				t.Errorf("error %q does not match %q", e.Error, c.msg)
			}
		})
	}
	if rec := do(s, "GET", "/api/predict", ""); rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), "POST") {
		t.Errorf("GET /api/predict: status %d Allow %q, want 405 allowing POST", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestHealthReadyAndPage(t *testing.T) {
	card := Card{Title: "Disaster <tweets>", Description: "Is a tweet about a real disaster?", Examples: []string{"Forest fire near La Ronge", "good & bad"}}
	s := newTestServer(t, &keywordClassifier{}, Options{Card: card, FlagDir: t.TempDir()})
	if rec := do(s, "GET", "/healthz", ""); rec.Code != 200 || decodeJSON[map[string]string](t, rec.Body.Bytes())["status"] != "ok" {
		t.Errorf("/healthz: %d %s", rec.Code, rec.Body)
	}
	rec := do(s, "GET", "/readyz", "")
	ready := decodeJSON[struct {
		Status string
		Labels []string
	}](t, rec.Body.Bytes())
	if rec.Code != 200 || ready.Status != "ready" || strings.Join(ready.Labels, ",") != "negative,neutral,positive" {
		t.Errorf("/readyz: %d %s", rec.Code, rec.Body)
	}
	s.draining.Store(true)
	if rec := do(s, "GET", "/readyz", ""); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d, want 503", rec.Code)
	}
	s.draining.Store(false)

	page := do(s, "GET", "/", "")
	body := page.Body.String()
	for _, want := range []string{
		"<title>Disaster &lt;tweets&gt;</title>", // escaped, not injected
		"Is a tweet about a real disaster?",
		`<button type="button" class="example">Forest fire near La Ronge</button>`,
		`<button type="button" class="example">good &amp; bad</button>`,
		`<label for="text">Text</label>`,
		`id="flag"`,
		`<meta name="viewport"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(body) {
		t.Error("page loads something from another host; it must be self-contained")
	}
	for _, asset := range []string{"/static/app.js", "/static/style.css"} {
		if rec := do(s, "GET", asset, ""); rec.Code != 200 || rec.Body.Len() == 0 || strings.Contains(rec.Body.String(), "http://") {
			t.Errorf("%s: status %d, %d bytes", asset, rec.Code, rec.Body.Len())
		}
	}
	if rec := do(s, "GET", "/static/../serve.go", ""); rec.Code == 200 {
		t.Error("/static/ serves files outside the embedded folder")
	}
	if rec := do(s, "GET", "/nothing", ""); rec.Code != 404 {
		t.Errorf("/nothing: %d, want 404", rec.Code)
	}
}

// TestOpenAPIDocumentsEveryRoute checks the OpenAPI document against the routes the server
// really answers and the predict response against its schema's required fields.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	s := newTestServer(t, &keywordClassifier{}, Options{Card: Card{Title: "My model"}})
	rec := do(s, "GET", "/openapi.json", "")
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct{ Title string }
		Paths   map[string]map[string]json.RawMessage
		Comps   struct {
			Schemas map[string]struct {
				Required []string `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Info.Title != "My model" {
		t.Errorf("openapi %q title %q", doc.OpenAPI, doc.Info.Title)
	}
	probes := map[string]string{"/gradio_api/call/predict/{event_id}": "/gradio_api/call/predict/x"}
	for path, methods := range doc.Paths {
		for method := range methods {
			probe := path
			if p, ok := probes[path]; ok {
				probe = p
			}
			_, pattern := s.mux.Handler(mustRequest(t, strings.ToUpper(method), probe))
			if pattern == "" {
				t.Errorf("documented %s %s is not served", method, path)
			}
		}
	}
	for _, route := range []string{"POST /api/predict", "POST /", "POST /api/flag", "GET /healthz", "GET /readyz", "GET /config",
		"GET /gradio_api/info", "POST /gradio_api/queue/join", "GET /gradio_api/queue/data", "POST /gradio_api/call/predict"} {
		method, path, _ := strings.Cut(route, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("%s is served but not documented", route)
		}
	}
	pred := do(s, "POST", "/api/predict", `{"texts":["good"]}`)
	var got map[string]json.RawMessage
	_ = json.Unmarshal(pred.Body.Bytes(), &got)
	for _, field := range doc.Comps.Schemas["PredictResponse"].Required {
		if _, ok := got[field]; !ok {
			t.Errorf("predict response lacks required field %q: %s", field, pred.Body)
		}
	}
}

func mustRequest(t *testing.T, method, path string) *http.Request {
	r, err := http.NewRequest(method, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCORS(t *testing.T) {
	s := newTestServer(t, &keywordClassifier{}, Options{AllowedOrigins: []string{"https://allowed.example"}})
	rec := do(s, "OPTIONS", "/api/predict", "", "Origin", "https://allowed.example", "Access-Control-Request-Method", "POST")
	h := rec.Header()
	if rec.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://allowed.example" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("allowed preflight: %d %v", rec.Code, h)
	}
	rec = do(s, "POST", "/api/predict", `{"texts":["good"]}`, "Origin", "https://allowed.example")
	if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != "https://allowed.example" || rec.Header().Get("Vary") != "Origin" {
		t.Errorf("allowed request: %d %v", rec.Code, rec.Header())
	}
	rec = do(s, "OPTIONS", "/api/predict", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if rec.Code != http.StatusForbidden || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("disallowed preflight: %d %v", rec.Code, rec.Header())
	}
	rec = do(s, "POST", "/api/predict", `{"texts":["good"]}`, "Origin", "https://evil.example")
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("disallowed origin got CORS headers: %v", rec.Header())
	}

	any := newTestServer(t, &keywordClassifier{}, Options{AllowedOrigins: []string{"*"}})
	if rec := do(any, "GET", "/healthz", "", "Origin", "https://x.example"); rec.Header().Get("Access-Control-Allow-Origin") != "https://x.example" {
		t.Errorf("\"*\" did not allow https://x.example: %v", rec.Header())
	}
	none := newTestServer(t, &keywordClassifier{}, Options{})
	if rec := do(none, "GET", "/healthz", "", "Origin", "https://x.example"); rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no allowed origins, yet CORS headers: %v", rec.Header())
	}
}

func TestNewRejectsBadClassifierOrOptions(t *testing.T) {
	if _, err := New(nil, Options{}); err == nil {
		t.Error("nil classifier accepted")
	}
	if _, err := New(fixedLabels{"a", "a"}, Options{}); err == nil || !strings.Contains(err.Error(), `label 1 ("a")`) {
		t.Errorf("repeated label: %v", err)
	}
	if _, err := New(fixedLabels{}, Options{}); err == nil {
		t.Error("no labels accepted")
	}
	if _, err := New(&keywordClassifier{}, Options{MaxBatch: 10, QueueSize: 5}); err == nil {
		t.Error("QueueSize < MaxBatch accepted")
	}
}

// fixedLabels is a classifier with the given labels that never gets to classify.
type fixedLabels []string

func (f fixedLabels) Labels() []string { return f }
func (f fixedLabels) Classify(ctx context.Context, texts []string) ([][]float32, error) {
	panic("not called")
}

// TestInferenceAPIRequests: {"inputs": ...} is answered in the Hugging Face Inference API's
// shape, each text's classes sorted by score (ties in label order), at /api/predict and at the
// root URL; top_k keeps the first k; mixed or malformed requests are refused with a reason.
func TestInferenceAPIRequests(t *testing.T) {
	s := newTestServer(t, &keywordClassifier{}, Options{})
	type score struct {
		Label string  `json:"label"`
		Score float32 `json:"score"`
	}
	// "good good" is (0.2, 0.2, 0.6); "bad" is (0.5, 0.25, 0.25).
	good := []score{{"positive", 0.6}, {"negative", 0.2}, {"neutral", 0.2}}
	bad := []score{{"negative", 0.5}, {"neutral", 0.25}, {"positive", 0.25}}
	for _, c := range []struct {
		path, body string
		want       [][]score
	}{
		{"/api/predict", `{"inputs": "good good"}`, [][]score{good}},
		{"/", `{"inputs": "good good", "parameters": {}}`, [][]score{good}},
		{"/api/predict", `{"inputs": ["bad", "good good"]}`, [][]score{bad, good}},
		{"/", `{"inputs": ["bad", "good good"], "parameters": {"top_k": 1, "function_to_apply": "softmax"}}`, [][]score{bad[:1], good[:1]}},
		{"/api/predict", `{"inputs": "bad", "parameters": {"top_k": 10}}`, [][]score{bad}},
	} {
		rec := do(s, "POST", c.path, c.body)
		if rec.Code != 200 {
			t.Errorf("POST %s %s: %d %s", c.path, c.body, rec.Code, rec.Body)
			continue
		}
		got := decodeJSON[[][]score](t, rec.Body.Bytes())
		ok := len(got) == len(c.want)
		for i := 0; ok && i < len(got); i++ {
			ok = len(got[i]) == len(c.want[i])
			for j := 0; ok && j < len(got[i]); j++ {
				ok = got[i][j].Label == c.want[i][j].Label && approx(got[i][j].Score, c.want[i][j].Score)
			}
		}
		if !ok {
			t.Errorf("POST %s %s: %v, want %v", c.path, c.body, got, c.want)
		}
	}
	for _, c := range []struct{ body, want string }{
		{`{"texts": ["a"], "inputs": "b"}`, `both "texts" and "inputs"`},
		{`{"inputs": 3}`, `"inputs" must be a string or an array of strings, got 3`},
		{`{"inputs": ""}`, `inputs is empty`},
		{`{"inputs": ["ok", " "]}`, `inputs[1] is empty`},
		{`{"inputs": []}`, `"inputs" is empty`},
		{`{"inputs": "x", "parameters": {"top_k": 0}}`, `parameters.top_k is 0`},
		{`{"inputs": "x", "parameters": {"function_to_apply": "sigmoid"}}`, `function_to_apply "sigmoid" is not served`},
		{`{"inputs": "x", "parameters": {"truncation": true}}`, `unknown field "truncation"`},
		{`{"texts": ["x"], "parameters": {"top_k": 1}}`, `"parameters" go with the Inference API's "inputs"`},
	} {
		rec := do(s, "POST", "/api/predict", c.body)
		if rec.Code != 400 || !strings.Contains(decodeJSON[apiError](t, rec.Body.Bytes()).Error, c.want) {
			t.Errorf("POST %s: %d %s, want 400 saying %s", c.body, rec.Code, rec.Body, c.want)
		}
		if msg := decodeJSON[apiError](t, rec.Body.Bytes()).Error; strings.Contains(msg, "truncation") && strings.Contains(msg, "expected") {
			t.Errorf("POST %s: %q: the request's own fields are no answer to a parameter's unknown name", c.body, msg)
		}
	}
}

// TestRealInferenceClient runs huggingface_hub's InferenceClient, the PyPI client of the
// Inference API and Inference Endpoints, against the server's root URL and /api/predict.
func TestRealInferenceClient(t *testing.T) {
	python := testenv.Python(t, "huggingface_hub")
	url := startServer(t, newTestServer(t, &keywordClassifier{}, Options{}))
	texts := []string{"What a good, good day", "bad news", "no keywords here"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, append([]string{filepath.Join("testdata", "inference_client.py"), url}, texts...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("inference_client.py: %v\n%s", err, stderr)
	}
	type score struct {
		Label string  `json:"label"`
		Score float32 `json:"score"`
	}
	type answers struct {
		All  [][]score `json:"all"`
		Top1 []score   `json:"top1"`
	}
	var got struct {
		Version    string  `json:"version"`
		Root       answers `json:"root"`
		APIPredict answers `json:"api_predict"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	t.Logf("huggingface_hub %s", got.Version)
	for name, a := range map[string]answers{"root URL": got.Root, "/api/predict": got.APIPredict} {
		if len(a.All) != len(texts) || len(a.Top1) != 1 {
			t.Fatalf("%s: answers %+v", name, a)
		}
		for i, text := range texts {
			scores := map[string]float32{}
			for j, s := range a.All[i] {
				scores[s.Label] = s.Score
				if j > 0 && s.Score > a.All[i][j-1].Score {
					t.Errorf("%s: text %q: classes not sorted by score: %+v", name, text, a.All[i])
				}
			}
			checkProbs(t, text, scores)
		}
		if a.Top1[0] != a.All[0][0] {
			t.Errorf("%s: top_k=1 gave %+v, the best class is %+v", name, a.Top1, a.All[0][0])
		}
	}
}
