package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// keywordClassifier is a transparent classifier for tests: with g the number of words "good"
// and b the number of words "bad" in a text, the probabilities of (negative, neutral, positive)
// are ((1+b), 1, (1+g)) / (3+g+b). "good good" is (0.2, 0.2, 0.6).
type keywordClassifier struct {
	mu    sync.Mutex
	calls [][]string // texts of every Classify call
}

var testLabels = []string{"negative", "neutral", "positive"}

func (k *keywordClassifier) Labels() []string { return testLabels }

func (k *keywordClassifier) Classify(ctx context.Context, texts []string) ([][]float32, error) {
	k.mu.Lock()
	k.calls = append(k.calls, append([]string(nil), texts...))
	k.mu.Unlock()
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = keywordProbs(t)
	}
	return out, nil
}

func keywordProbs(text string) []float32 {
	var g, b float32
	for _, w := range strings.Fields(strings.ToLower(text)) {
		switch strings.Trim(w, ".,!?") {
		case "good":
			g++
		case "bad":
			b++
		}
	}
	n := 3 + g + b
	return []float32{(1 + b) / n, 1 / n, (1 + g) / n}
}

func (k *keywordClassifier) callSizes() []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	sizes := make([]int, len(k.calls))
	for i, c := range k.calls {
		sizes[i] = len(c)
	}
	return sizes
}

// quietLogger discards the server's logs unless the test runs verbose.
func quietLogger(t testing.TB) *log.Logger {
	if testing.Verbose() {
		return log.New(os.Stderr, t.Name()+": ", 0)
	}
	return log.New(io.Discard, "", 0)
}

func newTestServer(t testing.TB, clf Classifier, opts Options) *Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger(t)
	}
	s, err := New(clf, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// do sends one request to h and returns the recorder.
func do(h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decodeJSON[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	return v
}

func approx(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-6 }

// checkProbs compares scores (label -> p) with the keyword rule's probabilities for text.
func checkProbs(t testing.TB, text string, scores map[string]float32) {
	t.Helper()
	want := keywordProbs(text)
	for i, l := range testLabels {
		if !approx(scores[l], want[i]) {
			t.Errorf("text %q: score[%s] = %v, want %v", text, l, scores[l], want[i])
		}
	}
}

func jsonBody(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func decodeResponse(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}
