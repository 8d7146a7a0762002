package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestReadyOnlyAfterWarmup: /readyz answers 503 while Options.Warmup runs (an engine compiling
// its programs), 200 after; the demo itself already answers.
func TestReadyOnlyAfterWarmup(t *testing.T) {
	release := make(chan struct{})
	s := newTestServer(t, &keywordClassifier{}, Options{Warmup: func(ctx context.Context) error {
		<-release
		return nil
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	status := func(path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz while warming up: %d, want 503", got)
	}
	if got := status("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while warming up: %d, want 200", got)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for status("/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz never became ready after the warm-up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve after a clean shutdown: %v", err)
	}
}

func TestFailedWarmupStopsServe(t *testing.T) {
	s := newTestServer(t, &keywordClassifier{}, Options{Warmup: func(ctx context.Context) error {
		return errors.New("no memory for the program")
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), ln) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "warming up: no memory for the program") {
			t.Errorf("Serve: %v, want the warm-up error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop after its warm-up failed")
	}
}
