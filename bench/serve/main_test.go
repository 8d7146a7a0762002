package main

import (
	"context"
	"io"
	"log"
	"math"
	"net/http/httptest"
	"os"
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

func TestBenchAgainstALiveServer(t *testing.T) {
	s, err := serve.New(lengthClassifier{}, serve.Options{Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, api := range []string{"json", "gradio"} {
		spec := loadSpec{api: api, clients: 4, duration: 500 * time.Millisecond, warmup: 100 * time.Millisecond, texts: defaultTexts}
		r, err := runLoad(context.Background(), ts.URL, spec, os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if r.Requests < 10 || r.Errors != 0 {
			t.Errorf("%s: %d requests, %d errors (%s)", api, r.Requests, r.Errors, r.FirstError)
		}
		if r.P50MS <= 0 || r.P99MS < r.P50MS || r.MaxMS < r.P99MS || r.PeakRSSMiB <= 0 {
			t.Errorf("%s: implausible summary %+v", api, r)
		}
		if got := r.RPS * r.Seconds; math.Abs(got-float64(r.Requests)) > 1 {
			t.Errorf("%s: %.1f req/s over %.2fs is not %d requests", api, r.RPS, r.Seconds, r.Requests)
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

func TestAgreeComparesLabelAndConfidences(t *testing.T) {
	lv := func(label string, scores ...float64) labelValue {
		v := labelValue{Label: label}
		for i, s := range scores {
			v.Confidences = append(v.Confidences, struct {
				Label      string  `json:"label"`
				Confidence float64 `json:"confidence"`
			}{[]string{"a", "b"}[i], s})
		}
		return v
	}
	if _, err := agree("t", lv("a", 0.6, 0.4), lv("a", 0.6004, 0.3996)); err != nil {
		t.Errorf("4e-4 apart: %v", err)
	}
	if _, err := agree("t", lv("a", 0.6, 0.4), lv("a", 0.61, 0.39)); err == nil {
		t.Error("0.01 apart: accepted")
	}
	if _, err := agree("t", lv("a", 0.6, 0.4), lv("b", 0.4, 0.6)); err == nil {
		t.Error("different labels: accepted")
	}
}
