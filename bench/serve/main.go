// Command serve load-tests a running demo server on the loopback interface: N concurrent
// clients send one text per request for a fixed duration; it reports requests/s, p50/p99
// latency, errors and the server's resident memory sampled from /proc/PID/status.
//
//	go run ./bench/serve -url http://127.0.0.1:7860 -pid $(pgrep -n tunelab) -duration 60s
//	go run ./bench/serve -url http://127.0.0.1:7861 -api gradio -pid $PEER_PID   # bench/serve/gradio_peer.py
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
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
		pid      = flag.Int("pid", 0, "server process id, to sample its RSS from /proc (0: no sampling)")
		textFile = flag.String("texts", "", "file of texts, one per line (default: built-in examples)")
	)
	flag.Parse()
	if err := run(*base, *api, *clients, *duration, *pid, *textFile); err != nil {
		fmt.Fprintln(os.Stderr, "bench/serve:", err)
		os.Exit(1)
	}
}

func run(base, api string, clients int, duration time.Duration, pid int, textFile string) error {
	if err := checkLoopback(base); err != nil {
		return err
	}
	if clients < 1 || clients > 256 || duration <= 0 || duration > 10*time.Minute {
		return fmt.Errorf("need 1 <= -clients <= 256 and 0 < -duration <= 10m, got %d and %v", clients, duration)
	}
	var send func(*http.Client, string) error
	switch api {
	case "json":
		send = func(c *http.Client, text string) error { return sendJSON(c, base, text) }
	case "gradio":
		send = func(c *http.Client, text string) error { return sendGradio(c, base, text) }
	default:
		return fmt.Errorf("-api %q: want json or gradio", api)
	}
	texts := defaultTexts
	if textFile != "" {
		var err error
		if texts, err = readLines(textFile); err != nil {
			return err
		}
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	if err := send(client, texts[0]); err != nil { // fail fast on a wrong URL or API
		return fmt.Errorf("first request: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()

	var rss rssSampler
	if pid > 0 {
		go rss.run(ctx, pid)
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		firstErr  error
	)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; ctx.Err() == nil; i += clients {
				t0 := time.Now()
				err := send(client, texts[i%len(texts)])
				d := time.Since(t0)
				if ctx.Err() != nil && err != nil {
					return // cut off by the end of the run, not a server error
				}
				mu.Lock()
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					latencies = append(latencies, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	slices.Sort(latencies)
	fmt.Printf("url %s api %s clients %d duration %v\n", base, api, clients, elapsed.Round(time.Millisecond))
	fmt.Printf("requests %d  errors %d  throughput %.1f req/s\n", len(latencies), errs, float64(len(latencies))/elapsed.Seconds())
	if len(latencies) > 0 {
		fmt.Printf("latency p50 %v  p99 %v  max %v\n", percentile(latencies, 0.50), percentile(latencies, 0.99), latencies[len(latencies)-1])
	}
	if pid > 0 {
		peak, mean, n := rss.stats()
		fmt.Printf("server RSS peak %.1f MiB  mean %.1f MiB  (%d samples)\n", peak/(1<<20), mean/(1<<20), n)
	}
	if firstErr != nil {
		fmt.Printf("first error: %v\n", firstErr)
	}
	return nil
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

func sendGradio(c *http.Client, base, text string) error {
	body, _ := json.Marshal(map[string][]string{"data": {text}})
	resp, err := c.Post(base+"/gradio_api/call/predict", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	var ev struct {
		EventID string `json:"event_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&ev)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || ev.EventID == "" {
		return fmt.Errorf("call/predict: status %d (%v)", resp.StatusCode, err)
	}
	res, err := c.Get(base + "/gradio_api/call/predict/" + ev.EventID)
	if err != nil {
		return err
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
			if !strings.Contains(line, `"label"`) {
				return fmt.Errorf("complete event without a label: %s", line)
			}
			return nil
		case strings.HasPrefix(line, "data: ") && event == "error":
			return fmt.Errorf("error event: %s", line)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("event stream ended without a complete event")
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
