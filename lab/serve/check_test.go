package serve

import (
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tunelab/tunelab/internal/testenv"
)

// TestCheckDeployed checks a running demo as the notebook checks a Space: ready with its
// labels, one prediction (the keyword rule: "good good" is positive at 0.6).
func TestCheckDeployed(t *testing.T) {
	base := startServer(t, newTestServer(t, &keywordClassifier{}, Options{}))
	if err := WaitReady(context.Background(), base, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	d, err := Check(context.Background(), base+"/", "good good")
	if err != nil {
		t.Fatal(err)
	}
	if d.URL != base || !slices.Equal(d.Labels, testLabels) || d.Prediction.Label != "positive" {
		t.Errorf("Check: %+v", d)
	}
	checkProbs(t, "good good", d.Prediction.Scores)
	if s := d.String(); !strings.Contains(s, `"good good" is positive (60.0%)`) {
		t.Errorf("String() = %q", s)
	}
}

// TestCheckRejectsOtherSites: a page that is not a tunelab demo, and a demo still warming up.
func TestCheckRejectsOtherSites(t *testing.T) {
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	if _, err := Check(context.Background(), other.URL, "x"); err == nil || !strings.Contains(err.Error(), "not the JSON of a tunelab demo") {
		t.Errorf("Check of a plain 404 site: error %v", err)
	}
	release := make(chan struct{})
	defer close(release)
	warming := startServer(t, newTestServer(t, &keywordClassifier{}, Options{Warmup: func(ctx context.Context) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}}))
	err := WaitReady(context.Background(), warming, time.Second)
	if err == nil || !strings.Contains(err.Error(), "not ready after 1s") || !strings.Contains(err.Error(), "warming up") {
		t.Errorf("WaitReady on a warming server: error %v", err)
	}
}

// TestScreenshotShowsThePrediction opens the demo page as /?text=... in headless Chromium: the
// page asks the server for that text's prediction before the shot, and the PNG shows the top
// bar in the page's accent colour (#ea580c).
func TestScreenshotShowsThePrediction(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	if _, err := os.Stat(os.Getenv("CHROMIUM")); err != nil {
		testenv.Tool(t, "chromium", "the screenshot is Chromium's")
	}
	clf := &keywordClassifier{}
	base := startServer(t, newTestServer(t, clf, Options{Card: Card{Title: "Keyword sentiment"}}))
	if err := WaitReady(context.Background(), base, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "demo.png")
	if err := Screenshot(context.Background(), base+"/?text="+url.QueryEscape("a good good day"), shot); err != nil {
		t.Fatal(err)
	}
	clf.mu.Lock()
	defer clf.mu.Unlock()
	if !slices.ContainsFunc(clf.calls, func(texts []string) bool { return slices.Equal(texts, []string{"a good good day"}) }) {
		t.Errorf("the page did not ask for the prediction of the text in its link: calls %q", clf.calls)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	accent := 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			if r, g, b, _ := img.At(x, y).RGBA(); r>>8 == 0xea && g>>8 == 0x58 && b>>8 == 0x0c {
				accent++
			}
		}
	}
	// The Submit button has the colour too: about 2,950 pixels in the shot of the page without a
	// prediction; the top bar (60% of the panel's width, 10 pixels high) adds about 3,200.
	if accent < 4500 {
		t.Errorf("%d pixels of the accent colour: no prediction bar in the screenshot %s", accent, shot)
	}
}
