package main

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tunelab/tunelab/lab/serve"
)

// lengthClassifier scores a text by its length parity, enough to exercise the server.
type lengthClassifier struct{}

func (lengthClassifier) Labels() []string { return []string{"even", "odd"} }
func (lengthClassifier) Classify(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(1 - len(t)%2), float32(len(t) % 2)}
	}
	return out, nil
}

// captureStdout runs f and returns what it printed.
func captureStdout(t *testing.T, f func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	ferr := f()
	os.Stdout = old
	w.Close()
	out := <-done
	if ferr != nil {
		t.Fatalf("%v\n%s", ferr, out)
	}
	return out
}

func TestBenchAgainstALiveServer(t *testing.T) {
	s, err := serve.New(lengthClassifier{}, serve.Options{Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, api := range []string{"json", "gradio"} {
		out := captureStdout(t, func() error { return run(ts.URL, api, 4, 500*time.Millisecond, os.Getpid(), "") })
		m := regexp.MustCompile(`requests (\d+)  errors (\d+)  throughput ([\d.]+) req/s`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no summary line in\n%s", api, out)
		}
		if n, _ := strconv.Atoi(m[1]); n < 10 || m[2] != "0" {
			t.Errorf("%s: %s requests, %s errors", api, m[1], m[2])
		}
		for _, want := range []string{"latency p50 ", "server RSS peak "} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", api, want, out)
			}
		}
	}
}

func TestRefusesNonLoopbackTargets(t *testing.T) {
	for _, u := range []string{"http://10.0.0.1:7860", "http://example.com", "ftp://127.0.0.1"} {
		if checkLoopback(u) == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"http://127.0.0.1:7860", "http://localhost:1", "http://[::1]:80"} {
		if err := checkLoopback(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestReadRSSMatchesProcStatus(t *testing.T) {
	// Independent reading: /proc/self/statm's second field is resident pages.
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc on this system")
	}
	pages, _ := strconv.ParseFloat(strings.Fields(string(statm))[1], 64)
	rss, err := readRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	want := pages * float64(os.Getpagesize())
	if rss < want*0.8 || rss > want*1.25 {
		t.Errorf("readRSS = %.0f bytes, /proc/self/statm says %.0f", rss, want)
	}
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	if p := percentile(d, 0.5); p != 50*time.Millisecond {
		t.Errorf("p50 = %v, want 50ms", p)
	}
	if p := percentile(d, 0.99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v, want 99ms", p)
	}
}
