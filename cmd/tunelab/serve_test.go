package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/serve"
	"github.com/tunelab/tunelab/lab/train"
)

var disasterLabels = []string{"not disaster", "disaster"}

// realTweets returns the texts of the first n rows of the disaster-tweets training set.
func realTweets(t *testing.T, n int) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.DataDir(t), "disaster_tweets", "train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) <= n || rows[0][3] != "text" {
		t.Fatalf("train.csv: %d rows, header %v; want more than %d rows and column 4 \"text\"", len(rows), rows[0], n)
	}
	var texts []string
	for _, r := range rows[1 : n+1] {
		texts = append(texts, r[3])
	}
	return texts
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitReady polls base/readyz until it answers 200; exited reports a server that stopped first.
func waitReady(t *testing.T, base string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute) // the server compiles its input shapes first: minutes on a loaded machine
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			var body struct {
				Status string   `json:"status"`
				Labels []string `json:"labels"`
			}
			err := json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if err != nil || body.Status != "ready" || strings.Join(body.Labels, ",") != strings.Join(disasterLabels, ",") {
					t.Fatalf("/readyz: %+v (%v), want status ready and labels %q", body, err, disasterLabels)
				}
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("the server stopped before it was ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("%s/readyz did not answer 200 within 5 minutes", base)
}

type apiPrediction struct {
	Label  string             `json:"label"`
	Scores map[string]float64 `json:"scores"`
}

// postPredict posts texts to /api/predict and returns the predictions.
func postPredict(client *http.Client, base string, texts []string) ([]apiPrediction, error) {
	body, _ := json.Marshal(map[string][]string{"texts": texts})
	resp, err := client.Post(base+"/api/predict", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out struct {
		Predictions []apiPrediction `json:"predictions"`
		Labels      []string        `json:"labels"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, &out); err != nil || len(out.Predictions) != len(texts) {
		return nil, fmt.Errorf("answer %.500s: %v, want %d predictions", data, err, len(texts))
	}
	if strings.Join(out.Labels, ",") != strings.Join(disasterLabels, ",") {
		return nil, fmt.Errorf("labels %q, want %q", out.Labels, disasterLabels)
	}
	return out.Predictions, nil
}

// checkLikeLibrary compares a served prediction of text with the library's, within tol (see
// testenv.BatchTolerance: the server batches texts its own way).
func checkLikeLibrary(t *testing.T, what, text string, gotLabel string, gotScores map[string]float64, want lab.Prediction, tol float64) {
	t.Helper()
	if gotLabel != want.Label || len(gotScores) != len(want.Scores) {
		t.Errorf("%s %q: label %q scores %v, the library gives %q %v", what, text, gotLabel, gotScores, want.Label, want.Scores)
		return
	}
	for label, p := range want.Scores {
		if got, ok := gotScores[label]; !ok || math.Abs(got-p) > tol {
			t.Errorf("%s %q: P(%s) = %v, the library gives %v", what, text, label, got, p)
		}
	}
}

// TestServeRealModel serves all-MiniLM-L6-v2 with a 2-label head and checks every API against
// the library called directly on the same texts, then shuts down with requests in flight.
func TestServeRealModel(t *testing.T) {
	dir := testenv.ModelDir(t, lab.DefaultModel)
	tweets := realTweets(t, 6)
	clf, err := lab.Load(context.Background(), dir, lab.WithLabels(disasterLabels...))
	if err != nil {
		t.Fatal(err)
	}
	tol := testenv.BatchTolerance(clf.Model.MatmulDType(), 1e-5)
	want, err := clf.Predict(context.Background(), tweets)
	if err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan error, 1)
	var stderr syncBuffer
	go func() {
		exited <- runServe(ctx, []string{"--model", dir, "--labels", strings.Join(disasterLabels, ","),
			"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--flag-dir", t.TempDir()}, io.Discard, &stderr)
	}()
	waitReady(t, base, exited)

	t.Run("api/predict", func(t *testing.T) {
		got, err := postPredict(http.DefaultClient, base, tweets)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range got {
			checkLikeLibrary(t, "one request", tweets[i], p.Label, p.Scores, want[i], tol)
		}
		// One text per request, all at once: the server batches them together.
		var wg sync.WaitGroup
		for i, text := range tweets {
			wg.Go(func() {
				got, err := postPredict(http.DefaultClient, base, []string{text})
				if err != nil {
					t.Errorf("%q: %v", text, err)
					return
				}
				checkLikeLibrary(t, "concurrent requests", text, got[0].Label, got[0].Scores, want[i], tol)
			})
		}
		wg.Wait()
	})

	t.Run("gradio_client", func(t *testing.T) {
		python := testenv.Python(t, "gradio_client")
		script := filepath.Join(testenv.RepoRoot(), "lab", "serve", "testdata", "gradio_client_predict.py")
		cctx, ccancel := context.WithTimeout(ctx, 90*time.Second)
		defer ccancel()
		out, err := exec.CommandContext(cctx, python, append([]string{script, base}, tweets...)...).Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				t.Fatalf("%v\n%s", err, ee.Stderr)
			}
			t.Fatal(err)
		}
		type labelValue struct {
			Label       string `json:"label"`
			Confidences []struct {
				Label      string  `json:"label"`
				Confidence float64 `json:"confidence"`
			} `json:"confidences"`
		}
		var got struct {
			Version   string       `json:"version"`
			Results   []labelValue `json:"results"`
			Submitted []labelValue `json:"submitted"`
		}
		if err := json.Unmarshal(out, &got); err != nil || len(got.Results) != len(tweets) || len(got.Submitted) != len(tweets) {
			t.Fatalf("script output %.1000s: %v", out, err)
		}
		t.Logf("gradio_client %s", got.Version)
		for i, text := range tweets {
			for what, v := range map[string]labelValue{"Client.predict": got.Results[i], "Client.submit": got.Submitted[i]} {
				scores := map[string]float64{}
				for _, c := range v.Confidences {
					scores[c.Label] = c.Confidence
				}
				checkLikeLibrary(t, what, text, v.Label, scores, want[i], tol)
			}
		}
	})

	t.Run("graceful shutdown", func(t *testing.T) {
		// Requests of 32 texts take about a second together on two idle cores (bfloat16 products),
		// more on busy ones (well within the 30 s shutdown timeout); cancel once every request has
		// been sent and see them all answered.
		const requests = 4
		texts := realTweets(t, 32)
		wantAll, err := clf.Predict(context.Background(), texts)
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: &http.Transport{}}
		var written, answered sync.WaitGroup
		written.Add(requests)
		var mu sync.Mutex
		var finished []time.Time
		for range requests {
			answered.Go(func() {
				trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { written.Done() }}
				body, _ := json.Marshal(map[string][]string{"texts": texts})
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST", base+"/api/predict", bytes.NewReader(body))
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("in-flight request: %v", err)
					return
				}
				defer resp.Body.Close()
				var out struct {
					Predictions []apiPrediction `json:"predictions"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || len(out.Predictions) != len(texts) {
					t.Errorf("in-flight request: status %d, %d predictions (%v)", resp.StatusCode, len(out.Predictions), err)
					return
				}
				mu.Lock()
				finished = append(finished, time.Now())
				mu.Unlock()
				for i, p := range out.Predictions {
					checkLikeLibrary(t, "in-flight request", texts[i], p.Label, p.Scores, wantAll[i], tol)
				}
			})
		}
		written.Wait()
		time.Sleep(50 * time.Millisecond) // let the server read them off the connections
		cancelled := time.Now()
		cancel()
		answered.Wait()
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("runServe after cancel: %v\n%s", err, stderr.String())
			}
		case <-time.After(time.Minute):
			t.Fatal("runServe did not return within a minute of the cancel")
		}
		late := 0
		for _, f := range finished {
			if f.After(cancelled) {
				late++
			}
		}
		if late == 0 {
			t.Errorf("all %d requests finished before the cancel: none was in flight, the test proves nothing", len(finished))
		}
		if _, err := http.Get(base + "/readyz"); err == nil {
			t.Error("the server still accepts connections after runServe returned")
		}
	})
}

// syncBuffer is a bytes.Buffer safe to write from the server goroutine and read in the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// dockerfile is what the test takes from an exported Space's Dockerfile.
type dockerfile struct {
	env   []string // the build stage's ENV pairs
	build string   // the shell command of the RUN go build line
	out   string   // its -o output path
	model string   // where the model folder is copied
	cmd   []string // CMD
}

func parseDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d dockerfile
	for i, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) > 1 && fields[0] == "ENV" && d.build == "":
			d.env = append(d.env, fields[1:]...)
		case strings.HasPrefix(line, "RUN go build "):
			d.build = strings.TrimPrefix(line, "RUN ")
			for j, f := range fields {
				if f == "-o" && j+1 < len(fields) {
					d.out = fields[j+1]
				}
			}
		case len(fields) == 4 && fields[0] == "COPY" && fields[2] == "model" || len(fields) == 3 && fields[0] == "COPY" && fields[1] == "model":
			d.model = fields[len(fields)-1]
		case strings.HasPrefix(line, "CMD "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "CMD ")), &d.cmd); err != nil {
				t.Fatalf("%s:%d: CMD is not a JSON array: %v", path, i+1, err)
			}
		}
	}
	if d.build == "" || d.out == "" || d.model == "" || len(d.cmd) < 2 {
		t.Fatalf("%s: found build %q (-o %q), model copied to %q, CMD %q; want all four", path, d.build, d.out, d.model, d.cmd)
	}
	return d
}

// TestSpaceExportRunsWithoutDocker exports a saved classifier as a Space, builds the binary from
// the Space's src/ exactly as its Dockerfile does, runs the Dockerfile's CMD and queries it.
func TestSpaceExportRunsWithoutDocker(t *testing.T) {
	tweets := realTweets(t, 4)
	clf, err := lab.Load(context.Background(), testenv.ModelDir(t, lab.DefaultModel), lab.WithLabels(disasterLabels...))
	if err != nil {
		t.Fatal(err)
	}
	tol := testenv.BatchTolerance(clf.Model.MatmulDType(), 1e-5)
	tmp := t.TempDir()
	saved := filepath.Join(tmp, "disaster-minilm")
	if err := clf.Save(saved); err != nil {
		t.Fatal(err)
	}
	// The independent path: the saved folder loaded back by the library, labels from its config.
	reloaded, err := lab.Load(context.Background(), saved)
	if err != nil {
		t.Fatal(err)
	}
	want, err := reloaded.Predict(context.Background(), tweets)
	if err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(tmp, "space")
	var stdout, stderr bytes.Buffer
	if err := runSpace(context.Background(), []string{"export", "--model", saved, "--out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("space export: %v\n%s", err, stderr.String())
	}
	d := parseDockerfile(t, filepath.Join(out, "Dockerfile"))

	bin := filepath.Join(tmp, "bin", "tunelab")
	build := exec.Command("sh", "-c", strings.ReplaceAll(d.build, d.out, bin))
	build.Dir = filepath.Join(out, "src")
	// The module cache stands in for the Dockerfile's `go mod download`.
	build.Env = append(append(os.Environ(), "GOFLAGS=-mod=mod"), d.env...)
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s in %s: %v\n%s", d.build, build.Dir, err, msg)
	}

	// The CMD with the container's paths and port mapped to this machine, on loopback only.
	port := freePort(t)
	args := append([]string(nil), d.cmd[1:]...)
	for i, a := range args {
		switch {
		case a == d.model:
			args[i] = filepath.Join(out, "model")
		case i > 0 && args[i-1] == "--port":
			args[i] = strconv.Itoa(port)
		}
	}
	args = append(args, "--host", "127.0.0.1")
	home := t.TempDir()
	// The image's COPY of the plugin that its build stage installed, into user 1000's go-xla folder.
	plugin, pluginErr := backend.FindPlugin("cpu")
	if pluginErr == nil {
		dir := filepath.Join(home, ".local", "lib", "go-xla")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(plugin, filepath.Join(dir, filepath.Base(plugin))); err != nil {
			t.Fatal(err)
		}
	}
	srv := exec.Command(bin, args...)
	srv.Dir = home
	srv.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	var logs syncBuffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	defer func() {
		_ = srv.Process.Kill() // fails harmlessly once the server has exited
		if t.Failed() {
			t.Logf("%s %q output:\n%s", d.cmd[0], args, logs.String())
		}
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitReady(t, base, exited)
	if pluginErr == nil && !strings.Contains(logs.String(), "tunelab: engine xla:cpu (") {
		t.Errorf("the Space does not run on XLA's CPU plugin: %q", logs.String())
	}
	got, err := postPredict(http.DefaultClient, base, tweets)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range got {
		checkLikeLibrary(t, "Space", tweets[i], p.Label, p.Scores, want[i], tol)
	}
	// A container runtime stops the Space with SIGTERM: a clean exit, status 0.
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("no exit within 30s of SIGTERM")
	}
}

var (
	updateScreenshot = flag.Bool("update", false, "TestServeDemoPageInChromium: save the screenshot as docs/img/demo.png")
	demoModel        = flag.String("demo-model", "", "TestServeDemoPageInChromium: a model fine-tuned on the disaster tweets (`tunelab train --out DIR`, or a notebook run's model/ folder) to serve instead of the pretrained one with a new head")
)

// TestServeDemoPageInChromium drives tunelab serve's page in headless Chromium with the real
// model (lab/serve/e2e/demo.mjs: type a tweet, submit, click an example, flag) and checks the
// label and bars against the library; -update saves the screenshot as docs/img/demo.png, taken
// with the typed tweet's prediction on screen. docs/img/demo.png shows a fine-tuned model:
//
//	go run ./cmd/tunelab train --task tweets --epochs 1 --max-length 64 --out build/demo-model
//	go test ./cmd/tunelab -run TestServeDemoPageInChromium -update -demo-model $PWD/build/demo-model
//
// Needs node, Chromium (/usr/bin/chromium or $CHROMIUM) and `npm ci` in lab/serve/e2e.
func TestServeDemoPageInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	node, chromium, e2e := testenv.Browser(t)

	tweets := realTweets(t, 2) // typed, then clicked as an example
	dir, serveArgs := *demoModel, []string{}
	description := "all-MiniLM-L6-v2 with a new 2-label head, not yet fine-tuned: its probabilities mean nothing yet."
	var loadOpts []lab.Option
	if dir == "" {
		dir = testenv.ModelDir(t, lab.DefaultModel)
		serveArgs = []string{"--labels", strings.Join(disasterLabels, ",")}
		loadOpts = []lab.Option{lab.WithLabels(disasterLabels...)}
	} else {
		var results map[string]float64
		raw, err := os.ReadFile(filepath.Join(dir, "all_results.json"))
		if err == nil {
			err = json.Unmarshal(raw, &results)
		}
		if err != nil {
			t.Fatalf("-demo-model %s: want a fine-tuned model folder with all_results.json: %v", dir, err)
		}
		description = fmt.Sprintf("all-MiniLM-L6-v2 fine-tuned on the disaster tweets: validation accuracy %.3f, F1 of disaster %.3f.", results["accuracy"], results["f1"])
	}
	clf, err := lab.Load(context.Background(), dir, loadOpts...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(clf.Labels, disasterLabels) {
		t.Fatalf("model %s has the labels %q, want %q", dir, clf.Labels, disasterLabels)
	}
	preds, err := clf.Predict(context.Background(), tweets)
	if err != nil {
		t.Fatal(err)
	}
	// The page's label and bars (every class, most probable first) from the library's scores.
	expected := func(i int) map[string]any {
		labels := append([]string(nil), disasterLabels...)
		sort.SliceStable(labels, func(a, b int) bool { return preds[i].Scores[labels[a]] > preds[i].Scores[labels[b]] })
		var bars []map[string]any
		for _, l := range labels {
			p := preds[i].Scores[l]
			bars = append(bars, map[string]any{"label": l, "p": p, "percent": fmt.Sprintf("%.1f%%", 100*p)})
		}
		return map[string]any{"text": tweets[i], "label": preds[i].Label, "bars": bars}
	}
	const title = "Disaster tweets"
	expect, _ := json.Marshal(map[string]any{"title": title, "typed": expected(0), "example": expected(1)})

	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	flagDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan error, 1)
	go func() {
		exited <- runServe(ctx, append([]string{"--model", dir, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
			"--flag-dir", flagDir, "--title", title, "--description", description, "--example", tweets[1]}, serveArgs...), io.Discard, io.Discard)
	}()
	defer func() {
		cancel()
		if err := <-exited; err != nil {
			t.Errorf("runServe: %v", err)
		}
	}()
	waitReady(t, base, exited)

	shot := filepath.Join(t.TempDir(), "demo.png")
	if *updateScreenshot {
		shot = filepath.Join(testenv.RepoRoot(), "docs", "img", "demo.png")
	}
	bctx, bcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer bcancel()
	cmd := exec.CommandContext(bctx, node, "demo.mjs")
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "DEMO_URL="+base, "DEMO_EXPECT="+string(expect), "CHROMIUM="+chromium,
		"DEMO_FLAG_FILE="+filepath.Join(flagDir, serve.FlagFile), "DEMO_SCREENSHOT="+shot)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lab/serve/e2e/demo.mjs: %v\n%s", err, out)
	}
	if info, err := os.Stat(shot); err != nil || info.Size() < 10_000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
}

// TestServeShowsModelCardTitleAndExamples: serving a fine-tuned model folder without --title or
// --example, the demo page's heading is the model card's title (not the folder's path) and its
// examples are the card's validation texts, as a Gradio app's examples.
func TestServeShowsModelCardTitleAndExamples(t *testing.T) {
	base := testenv.ModelDir(t, lab.DefaultModel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tweets, err := data.NewLoader(testenv.DataDir(t)).WithLimit(40).Load(ctx, data.Tweets)
	if err != nil {
		t.Fatal(err)
	}
	clf, err := lab.Load(ctx, base, lab.WithLabels(tweets.Labels...))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "build", "tweets-minilm")
	if err := clf.SaveFineTuned(dir, lab.DefaultModel, tweets.Name, train.Defaults(), map[string]float64{"accuracy": 0.5}, tweets.Splits[data.Validation]); err != nil {
		t.Fatal(err)
	}
	card, err := lab.ReadModelCard(dir)
	if err != nil || card.Title == "" || len(card.Examples) == 0 {
		t.Fatalf("model card %+v, %v: want a title and examples", card, err)
	}

	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	exited := make(chan error, 1)
	go func() {
		exited <- runServe(ctx, []string{"--model", dir, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--flag-dir", ""}, io.Discard, io.Discard)
	}()
	waitReady(t, url, exited)
	resp, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile(`<h1>([^<]*)</h1>`).FindSubmatch(page)
	if heading == nil || html.UnescapeString(string(heading[1])) != card.Title {
		t.Errorf("page heading %q, want the model card's title %q", heading, card.Title)
	}
	var examples []string
	for _, m := range regexp.MustCompile(`<button type="button" class="example">([^<]*)</button>`).FindAllSubmatch(page, -1) {
		examples = append(examples, html.UnescapeString(string(m[1])))
	}
	if !slices.Equal(examples, card.Examples) {
		t.Errorf("page examples %q, want the model card's %q", examples, card.Examples)
	}
}
