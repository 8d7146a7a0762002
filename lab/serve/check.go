package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// The client side of a demo, for the notebooks' deployment cells: wait until a server is ready,
// check a deployed demo (a Hugging Face Space) and take a screenshot of its page.

// WaitReady polls baseURL/readyz until it answers 200 (loading and warming the model takes
// seconds), for at most timeout.
func WaitReady(ctx context.Context, baseURL string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		_, err := ready(ctx, baseURL)
		if err == nil {
			return nil
		}
		// A request the deadline cut short says less than the answer before it ("warming up").
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s (last: %v)", baseURL, timeout, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ready asks baseURL/readyz once and returns the labels it announces.
func ready(ctx context.Context, baseURL string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(baseURL, "/")+"/readyz", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string   `json:"status"`
		Labels []string `json:"labels"`
		Error  string   `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("/readyz: %s, not the JSON of a tunelab demo: %v", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK || body.Status != "ready" {
		return nil, fmt.Errorf("/readyz: %s %s", resp.Status, body.Error)
	}
	return body.Labels, nil
}

// Deployed is what Check found at a deployed demo.
type Deployed struct {
	URL    string
	Labels []string
	// Text was classified as Prediction, in Latency (the whole round trip).
	Text       string
	Prediction Prediction
	Latency    time.Duration
}

func (d *Deployed) String() string {
	return fmt.Sprintf("%s is ready with the labels %q; %q is %s (%.1f%%), answered in %d ms",
		d.URL, d.Labels, d.Text, d.Prediction.Label, 100*d.Prediction.Scores[d.Prediction.Label], d.Latency.Milliseconds())
}

// Check checks a deployed demo at baseURL (a Space's address, https://USER-NAME.hf.space): its
// /readyz answers ready with its labels, and POST /api/predict classifies text into one of them
// with a probability for every label.
func Check(ctx context.Context, baseURL, text string) (*Deployed, error) {
	baseURL = strings.TrimRight(baseURL, "/")
	labels, err := ready(ctx, baseURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", baseURL, err)
	}
	body, err := json.Marshal(PredictRequest{Texts: []string{text}})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/predict", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var got PredictResponse
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &got) != nil || len(got.Predictions) != 1 {
		return nil, fmt.Errorf("%s/api/predict: %s, want one prediction: %.300s", baseURL, resp.Status, raw)
	}
	d := &Deployed{URL: baseURL, Labels: labels, Text: text, Prediction: got.Predictions[0], Latency: time.Since(start)}
	if !slices.Contains(labels, d.Prediction.Label) || len(d.Prediction.Scores) != len(labels) {
		return nil, fmt.Errorf("%s/api/predict: label %q with scores for %d labels; /readyz announced %q", baseURL, d.Prediction.Label, len(d.Prediction.Scores), labels)
	}
	return d, nil
}

// Screenshot saves pageURL as headless Chromium renders it, 1100 by 560 pixels, once its scripts
// have run (a demo page opened as /?text=... shows that text's prediction), to the PNG file png.
// Chromium is $CHROMIUM, or chromium, chromium-browser or google-chrome on the PATH.
func Screenshot(ctx context.Context, pageURL, png string) error {
	browser := ""
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); name != "" && err == nil {
			browser = path
			break
		}
	}
	if browser == "" {
		return errors.New("no Chromium to take the screenshot (apt-get install chromium, or set $CHROMIUM)")
	}
	profile, err := os.MkdirTemp("", "tunelab-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// The virtual time budget lets the page's scripts and their requests finish before the shot.
	out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+profile, "--window-size=1100,560", "--virtual-time-budget=10000", "--screenshot="+png, pageURL).CombinedOutput()
	if err != nil {
		return fmt.Errorf("chromium: %v: %s", err, bytes.TrimSpace(out))
	}
	if info, err := os.Stat(png); err != nil || info.Size() == 0 {
		return fmt.Errorf("chromium wrote no screenshot to %s: %s", png, bytes.TrimSpace(out))
	}
	return nil
}
