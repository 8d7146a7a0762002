// Command serve load-tests a demo server on the loopback interface: N concurrent clients send
// one text per request, first for an unmeasured warm-up, then for a fixed duration; it reports
// requests/s, p50/p99 latency, errors and the server's resident memory sampled from
// /proc/PID/status.
//
// One command starts tunelab serve on each of its engines (-backend: XLA's CPU plugin and the Go
// backend by default) and the Gradio + transformers peer (gradio_peer.py) on the same model,
// loads each in turn, stops them and writes bench/results/serve.{json,md}:
//
//	go run ./bench/serve -compare -duration 60s -clients 32 -backend xla:cpu,xla:cpu+bf16,go
//
// or load a server that is already running:
//
//	go run ./bench/serve -url http://127.0.0.1:7860 -pid $(pgrep -n tunelab) -duration 60s
//
// -api json posts {"texts": [text]} to /api/predict (tunelab only); -api gradio runs the Gradio
// REST recipe, POST /gradio_api/call/predict then GET the event stream, which both tunelab and a
// Gradio app answer, so the two are measured the same way.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tunelab/tunelab/bench/forward/benchkit"
)

// defaultTexts are short tweet-like inputs, cycled through by the clients.
var defaultTexts = []string{
	"Forest fire near La Ronge Sask. Canada",
	"All residents asked to 'shelter in place' are being notified by officers.",
	"I love fruits",
	"Summer is lovely",
	"13,000 people receive #wildfires evacuation orders in California",
	"What a goooooooaaaaaal!!!!!!",
	"this is ridiculous....",
	"Heard about #earthquake is different cities, stay safe everyone.",
}

func main() {
	var (
		base     = flag.String("url", "http://127.0.0.1:7860", "server base URL (loopback only)")
		api      = flag.String("api", "json", "json (/api/predict) or gradio (/gradio_api/call/predict)")
		clients  = flag.Int("clients", 32, "concurrent clients (1..256)")
		duration = flag.Duration("duration", 60*time.Second, "how long to send requests (at most 10m)")
		warmup   = flag.Duration("warmup", 10*time.Second, "unmeasured load before the measurement, so graph compilation is not timed")
		pid      = flag.Int("pid", 0, "server process id, to sample its RSS from /proc (0: no sampling)")
		textFile = flag.String("texts", "", "file of texts, one per line (default: built-in examples)")

		cmp     = flag.Bool("compare", false, "start tunelab serve and the Gradio peer on loopback, load each in turn, write -out/serve.{json,md}")
		model   = flag.String("model", "all-MiniLM-L6-v2", "with -compare: model both servers serve (saved with a -labels head first)")
		labels  = flag.String("labels", "not disaster,disaster", "with -compare: class names of the model's head")
		python  = flag.String("python", "/opt/oracle-venv/bin/python", "with -compare: interpreter with torch, transformers and gradio")
		out     = flag.String("out", filepath.Join("bench", "results"), "with -compare: folder of serve.json and serve.md")
		engines = flag.String("backend", "", `with -compare: tunelab's engines, comma-separated ("xla:cpu", "go", "xla:cpu+bf16" for bfloat16 matrix products); empty: benchkit.Engines, the default XLA engine (xla:cpu+bf16 and xla:cpu where the CPU has bfloat16 units), and go`)
	)
	flag.Parse()
	texts := defaultTexts
	if *textFile != "" {
		var err error
		if texts, err = readLines(*textFile); err != nil {
			fatal(err)
		}
	}
	load := loadSpec{api: *api, clients: *clients, duration: *duration, warmup: *warmup, texts: texts}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cmp {
		if err := compare(ctx, compareSpec{model: *model, labels: strings.Split(*labels, ","), engines: benchkit.Engines(*engines), python: *python, out: *out, load: load}); err != nil {
			fatal(err)
		}
		return
	}
	r, err := runLoad(ctx, *base, load, *pid)
	if err != nil {
		fatal(err)
	}
	fmt.Print(r.String())
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench/serve:", err)
	os.Exit(1)
}

// loadSpec is one load: clients concurrent clients, each sending one text per request, for
// warmup (unmeasured) then duration.
type loadSpec struct {
	api              string
	clients          int
	duration, warmup time.Duration
	texts            []string
}

// Result is one measured load on one server.
type Result struct {
	Side       string  `json:"side"`
	API        string  `json:"api"`
	Clients    int     `json:"clients"`
	Seconds    float64 `json:"seconds"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	RPS        float64 `json:"requests_per_second"`
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
	// PeakRSSMiB and MeanRSSMiB are the server's resident memory during the measurement (0: not sampled).
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	MeanRSSMiB float64 `json:"mean_rss_mib"`
}

func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s api %s clients %d duration %.1fs\n", r.Side, r.API, r.Clients, r.Seconds)
	fmt.Fprintf(&b, "requests %d  errors %d  throughput %.1f req/s\n", r.Requests, r.Errors, r.RPS)
	if r.Requests > 0 {
		fmt.Fprintf(&b, "latency p50 %.1fms  p99 %.1fms  max %.1fms\n", r.P50MS, r.P99MS, r.MaxMS)
	}
	if r.PeakRSSMiB > 0 {
		fmt.Fprintf(&b, "server RSS peak %.1f MiB  mean %.1f MiB\n", r.PeakRSSMiB, r.MeanRSSMiB)
	}
	if r.FirstError != "" {
		fmt.Fprintf(&b, "first error: %s\n", r.FirstError)
	}
	return b.String()
}

// runLoad loads the server at base as spec says and measures it; pid > 0 samples that
// process's RSS during the measurement.
func runLoad(ctx context.Context, base string, spec loadSpec, pid int) (Result, error) {
	if err := checkLoopback(base); err != nil {
		return Result{}, err
	}
	if spec.clients < 1 || spec.clients > 256 || spec.duration <= 0 || spec.duration > 10*time.Minute || spec.warmup < 0 || spec.warmup > 10*time.Minute {
		return Result{}, fmt.Errorf("need 1 <= -clients <= 256, 0 < -duration <= 10m and 0 <= -warmup <= 10m, got %d, %v and %v", spec.clients, spec.duration, spec.warmup)
	}
	var send func(*http.Client, string) error
	switch spec.api {
	case "json":
		send = func(c *http.Client, text string) error { return sendJSON(c, base, text) }
	case "gradio":
		send = func(c *http.Client, text string) error { _, err := gradioPredict(c, base, text); return err }
	default:
		return Result{}, fmt.Errorf("-api %q: want json or gradio", spec.api)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: spec.clients}}
	defer client.CloseIdleConnections()
	if err := send(client, spec.texts[0]); err != nil { // fail fast on a wrong URL or API
		return Result{}, fmt.Errorf("first request: %w", err)
	}
	if spec.warmup > 0 {
		wctx, cancel := context.WithTimeout(ctx, spec.warmup)
		hammer(wctx, client, send, spec, nil)
		cancel()
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	mctx, cancel := context.WithTimeout(ctx, spec.duration)
	defer cancel()
	var rss rssSampler
	sampled := make(chan struct{})
	if pid > 0 {
		go func() { rss.run(mctx, pid); close(sampled) }()
	} else {
		close(sampled)
	}
	var st loadStats
	start := time.Now()
	hammer(mctx, client, send, spec, &st)
	elapsed := time.Since(start)
	<-sampled
	if err := ctx.Err(); err != nil {
		return Result{}, err // interrupted, not a full measurement
	}

	slices.Sort(st.latencies)
	r := Result{API: spec.api, Clients: spec.clients, Seconds: elapsed.Seconds(), Requests: len(st.latencies), Errors: st.errs,
		RPS: float64(len(st.latencies)) / elapsed.Seconds()}
	if st.firstErr != nil {
		r.FirstError = st.firstErr.Error()
	}
	if n := len(st.latencies); n > 0 {
		r.P50MS, r.P99MS, r.MaxMS = ms(percentile(st.latencies, 0.50)), ms(percentile(st.latencies, 0.99)), ms(st.latencies[n-1])
	}
	if pid > 0 {
		peak, mean, _ := rss.stats()
		r.PeakRSSMiB, r.MeanRSSMiB = peak/(1<<20), mean/(1<<20)
	}
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadStats collects the outcome of every request of a measurement.
type loadStats struct {
	mu        sync.Mutex
	latencies []time.Duration
	errs      int
	firstErr  error
}

// hammer runs spec.clients clients until ctx ends, recording into st (nil: not recorded).
func hammer(ctx context.Context, client *http.Client, send func(*http.Client, string) error, spec loadSpec, st *loadStats) {
	var wg sync.WaitGroup
	for c := range spec.clients {
		wg.Go(func() {
			for i := c; ctx.Err() == nil; i += spec.clients {
				t0 := time.Now()
				err := send(client, spec.texts[i%len(spec.texts)])
				d := time.Since(t0)
				if st == nil || (ctx.Err() != nil && err != nil) {
					continue // warm-up, or cut off by the end of the run: not a server error
				}
				st.mu.Lock()
				if err != nil {
					st.errs++
					if st.firstErr == nil {
						st.firstErr = err
					}
				} else {
					st.latencies = append(st.latencies, d)
				}
				st.mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// checkLoopback refuses URLs that do not name the local machine: this tool floods its target.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("-url %q: want http://127.0.0.1:PORT", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %q: only loopback addresses are allowed", raw)
	}
	return nil
}

func sendJSON(c *http.Client, base, text string) error {
	body, _ := json.Marshal(map[string][]string{"texts": {text}})
	resp, err := c.Post(base+"/api/predict", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Predictions []struct {
			Label string `json:"label"`
		} `json:"predictions"`
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Predictions) != 1 || out.Predictions[0].Label == "" {
		return fmt.Errorf("bad answer (%v)", err)
	}
	return nil
}

// labelValue is the value of a Gradio Label output: the top label and every class's confidence.
type labelValue struct {
	Label       string `json:"label"`
	Confidences []struct {
		Label      string  `json:"label"`
		Confidence float64 `json:"confidence"`
	} `json:"confidences"`
}

// gradioPredict runs the Gradio REST recipe: POST /gradio_api/call/predict, then read the
// result's event stream.
func gradioPredict(c *http.Client, base, text string) (labelValue, error) {
	body, _ := json.Marshal(map[string][]string{"data": {text}})
	resp, err := c.Post(base+"/gradio_api/call/predict", "application/json", bytes.NewReader(body))
	if err != nil {
		return labelValue{}, err
	}
	var ev struct {
		EventID string `json:"event_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&ev)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || ev.EventID == "" {
		return labelValue{}, fmt.Errorf("call/predict: status %d (%v)", resp.StatusCode, err)
	}
	res, err := c.Get(base + "/gradio_api/call/predict/" + ev.EventID)
	if err != nil {
		return labelValue{}, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "complete":
			var out []labelValue
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &out); err != nil || len(out) != 1 || out[0].Label == "" {
				return labelValue{}, fmt.Errorf("complete event is not one Label value (%v): %.300s", err, line)
			}
			return out[0], nil
		case strings.HasPrefix(line, "data: ") && event == "error":
			return labelValue{}, fmt.Errorf("error event: %.300s", line)
		}
	}
	if err := sc.Err(); err != nil {
		return labelValue{}, err
	}
	return labelValue{}, errors.New("event stream ended without a complete event")
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func readLines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s: no texts", path)
	}
	return lines, nil
}

// rssSampler reads VmRSS of a process every 100ms.
type rssSampler struct {
	mu      sync.Mutex
	samples []float64 // bytes
}

func (r *rssSampler) run(ctx context.Context, pid int) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if v, err := readRSS(pid); err == nil {
			r.mu.Lock()
			r.samples = append(r.samples, v)
			r.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *rssSampler) stats() (peak, mean float64, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.samples {
		peak = max(peak, v)
		mean += v
	}
	if n = len(r.samples); n > 0 {
		mean /= float64(n)
	}
	return peak, mean, n
}

// readRSS returns the resident set size of pid in bytes, from the VmRSS line of
// /proc/PID/status (in kB).
func readRSS(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS line", pid)
}
