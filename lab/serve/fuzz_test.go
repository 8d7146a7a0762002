package serve

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fuzz targets send arbitrary bodies to the API handlers: every answer must be a JSON
// object with a 2xx or 4xx status (never a panic or a 500), and a 200 must hold the keyword
// rule's probabilities. Run longer with `go test -fuzz=FuzzPredict ./lab/serve/`.

var fuzzSeeds = []string{
	`{"texts": ["good"]}`, `{"texts": ["good", "bad bad", "x"]}`, `{"texts": []}`, `{"texts": [""]}`,
	`{"texts": "a"}`, `{"texts": [1, null, {}]}`, `{"texts": ["a\u0000"]}`, "{\"texts\": [\"\xff\"]}",
	`{"data": ["good"]}`, `{"data": ["good"], "fn_index": 0, "session_hash": "s"}`, `{"data": [[]]}`,
	`{"text": "good", "label": "positive", "scores": {"positive": 1}}`, `null`, `[]`, `{`, ``,
	`{"texts": ["` + strings.Repeat("good ", 100) + `"]}`,
}

func fuzzServer(f *testing.F) *Server {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	dir, err := os.MkdirTemp("", "serve-fuzz-flags")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	return newTestServer(f, &keywordClassifier{}, Options{MaxTexts: 8, MaxChars: 50, MaxBodyBytes: 4096, FlagDir: dir})
}

func checkFuzzAnswer(t *testing.T, path string, code int, body []byte) {
	if code >= 500 || (code >= 300 && code < 400) {
		t.Fatalf("%s: status %d: %s", path, code, body)
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: answer is not a JSON object: %q", path, body)
	}
	if code >= 400 {
		if msg, _ := v["error"].(string); msg == "" {
			t.Fatalf("%s: %d without an error message: %s", path, code, body)
		}
	}
}

func FuzzPredict(f *testing.F) {
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body string) {
		rec := do(s, "POST", "/api/predict", body)
		checkFuzzAnswer(t, "/api/predict", rec.Code, rec.Body.Bytes())
		if rec.Code != 200 {
			return
		}
		var req PredictRequest
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			t.Fatalf("200 for a body encoding/json rejects: %v", err)
		}
		resp := decodeJSON[PredictResponse](t, rec.Body.Bytes())
		if len(resp.Predictions) != len(req.Texts) {
			t.Fatalf("%d predictions for %d texts", len(resp.Predictions), len(req.Texts))
		}
		for i, p := range resp.Predictions {
			text := req.Texts[i]
			if n := utf8.RuneCountInString(text); n > 50 != p.Truncated {
				t.Fatalf("text of %d characters: truncated=%v", n, p.Truncated)
			}
			if p.Truncated {
				text = string([]rune(text)[:50])
			}
			checkProbs(t, text, p.Scores)
		}
	})
}

func FuzzGradio(f *testing.F) {
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/gradio_api/call/predict", "/gradio_api/queue/join"} {
			rec := do(s, "POST", path, body)
			checkFuzzAnswer(t, path, rec.Code, rec.Body.Bytes())
			if rec.Code == 200 {
				// Drain the event so the store does not fill up across fuzz inputs.
				id := decodeJSON[map[string]string](t, rec.Body.Bytes())["event_id"]
				res := do(s, "GET", "/gradio_api/call/predict/"+id, "")
				if !strings.HasPrefix(res.Body.String(), "event: complete\ndata: [{\"label\":") {
					t.Fatalf("%s result: %q", path, res.Body)
				}
			}
		}
	})
}

func FuzzFlag(f *testing.F) {
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body string) {
		rec := do(s, "POST", "/api/flag", body)
		checkFuzzAnswer(t, "/api/flag", rec.Code, rec.Body.Bytes())
	})
}
