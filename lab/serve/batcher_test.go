package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// gatedClassifier runs the keyword rule, but each Classify call first announces itself on
// entered and then waits for a value on release.
type gatedClassifier struct {
	keywordClassifier
	entered chan int
	release chan struct{}
}

func newGated() *gatedClassifier {
	return &gatedClassifier{entered: make(chan int, 100), release: make(chan struct{})}
}

func (g *gatedClassifier) Classify(ctx context.Context, texts []string) ([][]float32, error) {
	g.entered <- len(texts)
	<-g.release
	return g.keywordClassifier.Classify(ctx, texts)
}

// waitPending waits until the batcher holds n texts (queued or in a batch).
func waitPending(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.batcher.mu.Lock()
		p := s.batcher.pending
		s.batcher.mu.Unlock()
		if p == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("batcher holds %d texts, want %d", p, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConcurrentRequestsAreMicroBatched(t *testing.T) {
	const n, maxBatch = 40, 8
	clf := newGated()
	s := newTestServer(t, clf, Options{MaxBatch: maxBatch, MaxWait: 20 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		// Distinct texts with distinct probabilities, so a mixed-up answer shows.
		text := strings.Repeat("good ", i%5) + strings.Repeat("bad ", i/5) + "."
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := do(s, "POST", "/api/predict", jsonBody(t, PredictRequest{Texts: []string{text}}))
			if rec.Code != 200 {
				errs <- fmt.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
			resp := decodeJSON[PredictResponse](t, rec.Body.Bytes())
			checkProbs(t, text, resp.Predictions[0].Scores)
		}()
	}
	// The first batch blocks in the classifier until every request is queued behind it.
	<-clf.entered
	waitPending(t, s, n)
	close(clf.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sizes := clf.callSizes()
	total := 0
	for _, sz := range sizes {
		if sz < 1 || sz > maxBatch {
			t.Errorf("a Classify call got %d texts, want 1..%d", sz, maxBatch)
		}
		total += sz
	}
	// At most one partial first batch, then full batches of the texts queued behind it.
	if total != n || len(sizes) > 1+(n-1+maxBatch-1)/maxBatch {
		t.Errorf("Classify calls %v: %d texts in %d calls, want %d texts in at most %d calls", sizes, total, len(sizes), n, 1+(n-1+maxBatch-1)/maxBatch)
	}
}

func TestLargeRequestIsSplitIntoBatches(t *testing.T) {
	clf := &keywordClassifier{}
	s := newTestServer(t, clf, Options{MaxBatch: 4, MaxWait: time.Millisecond})
	texts := make([]string, 10)
	for i := range texts {
		texts[i] = strings.Repeat("good ", i) + "x"
	}
	rec := do(s, "POST", "/api/predict", jsonBody(t, PredictRequest{Texts: texts}))
	resp := decodeJSON[PredictResponse](t, rec.Body.Bytes())
	for i, p := range resp.Predictions {
		checkProbs(t, texts[i], p.Scores)
	}
	if sizes := clf.callSizes(); fmt.Sprint(sizes) != "[4 4 2]" {
		t.Errorf("Classify call sizes %v, want [4 4 2]", sizes)
	}
}

func TestFullQueueAnswers503WithRetryAfter(t *testing.T) {
	clf := newGated()
	s := newTestServer(t, clf, Options{MaxBatch: 2, QueueSize: 4, MaxWait: time.Millisecond})
	done := make(chan int, 2)
	go func() { done <- do(s, "POST", "/api/predict", `{"texts":["good","bad"]}`).Code }()
	<-clf.entered // two texts in the classifier
	go func() { done <- do(s, "POST", "/api/predict", `{"texts":["good","bad"]}`).Code }()
	waitPending(t, s, 4) // and two queued: full

	rec := do(s, "POST", "/api/predict", `{"texts":["one more"]}`)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("full queue: status %d Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if e := decodeJSON[apiError](t, rec.Body.Bytes()); !strings.Contains(e.Error, "busy") {
		t.Errorf("error %q", e.Error)
	}
	for _, path := range []string{"/gradio_api/call/predict", "/gradio_api/queue/join"} {
		gr := do(s, "POST", path, `{"data":["good"],"fn_index":0,"session_hash":"s"}`)
		if gr.Code != http.StatusServiceUnavailable || gr.Header().Get("Retry-After") == "" {
			t.Errorf("%s while full: status %d, want 503 with Retry-After", path, gr.Code)
		}
	}
	if n := len(s.events.byID); n != 0 {
		t.Errorf("%d refused Gradio events left in the store", n)
	}
	close(clf.release)
	for range 2 {
		if code := <-done; code != 200 {
			t.Errorf("queued request: status %d", code)
		}
	}
	// Room again.
	if rec := do(s, "POST", "/api/predict", `{"texts":["good"]}`); rec.Code != 200 {
		t.Errorf("after draining: status %d", rec.Code)
	}
}

// faultyClassifier fails in the way its mode says.
type faultyClassifier struct{ mode string }

func (f *faultyClassifier) Labels() []string { return testLabels }
func (f *faultyClassifier) Classify(ctx context.Context, texts []string) ([][]float32, error) {
	switch f.mode {
	case "panic":
		var m map[string]int
		m["boom"]++ // a nil-map write, as a buggy model might do
	case "error":
		return nil, errors.New("out of memory")
	case "short":
		return [][]float32{{1, 0, 0}}[:len(texts)-1], nil
	case "wide":
		out := make([][]float32, len(texts))
		for i := range out {
			out[i] = []float32{0.5, 0.5}
		}
		return out, nil
	}
	return nil, nil
}

func TestClassifierFailuresAnswer500AndTheServerLives(t *testing.T) {
	for mode, want := range map[string]string{
		"panic": "the classifier failed: assignment to entry in nil map",
		"error": "the classifier failed: out of memory",
		"short": "the classifier returned 1 rows for 2 texts",
		"wide":  "the classifier returned 2 scores for text 0 of the batch, want 3 (one per label)",
	} {
		t.Run(mode, func(t *testing.T) {
			s := newTestServer(t, &faultyClassifier{mode}, Options{})
			for range 2 { // the second request proves the batcher survived the first
				rec := do(s, "POST", "/api/predict", `{"texts":["a","b"]}`)
				if e := decodeJSON[apiError](t, rec.Body.Bytes()); rec.Code != 500 || e.Error != want {
					t.Errorf("status %d error %q, want 500 %q", rec.Code, e.Error, want)
				}
			}
		})
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	clf := newGated()
	s := newTestServer(t, clf, Options{MaxWait: time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	type result struct {
		code int
		resp PredictResponse
		err  error
	}
	const inFlight = 3
	results := make(chan result, inFlight)
	for range inFlight {
		go func() {
			resp, err := http.Post(url+"/api/predict", "application/json", strings.NewReader(`{"texts":["good good"]}`))
			if err != nil {
				results <- result{err: err}
				return
			}
			defer resp.Body.Close()
			var pr PredictResponse
			err = decodeResponse(resp, &pr)
			results <- result{resp.StatusCode, pr, err}
		}()
	}
	<-clf.entered
	waitPending(t, s, inFlight)
	cancel() // as SIGTERM does through signal.NotifyContext

	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts connections after shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !s.draining.Load() {
		t.Error("not draining during shutdown")
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) before in-flight requests finished", err)
	default:
	}
	close(clf.release)
	for range inFlight {
		r := <-results
		if r.err != nil || r.code != 200 {
			t.Fatalf("in-flight request: status %d, %v", r.code, r.err)
		}
		checkProbs(t, "good good", r.resp.Predictions[0].Scores)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	// The batcher is stopped: a request through the handler now fails cleanly.
	if rec := do(s, "POST", "/api/predict", `{"texts":["good"]}`); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("after shutdown: status %d, want 503", rec.Code)
	}
}
