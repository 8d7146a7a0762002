package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tunelab/tunelab/bench/forward/benchkit"
	"github.com/tunelab/tunelab/internal/atomicfile"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/space"
)

// compareSpec is a -compare run: the model both servers serve, tunelab's engines (as for
// lab/backend.New, "+bf16" for bfloat16 matrix products: benchkit.Engines) and the load each
// server gets.
type compareSpec struct {
	model   string
	labels  []string
	engines []string
	python  string
	out     string
	load    loadSpec
}

// report is serve.json.
type report struct {
	Model   string   `json:"model"`
	Labels  []string `json:"labels"`
	Machine string   `json:"machine"`
	// LoadBefore and LoadAfter are /proc/loadavg around the run: other jobs share the machine.
	LoadBefore string   `json:"loadavg_before"`
	LoadAfter  string   `json:"loadavg_after"`
	Go         string   `json:"go"`
	Peer       string   `json:"peer_versions,omitempty"`
	PeerError  string   `json:"peer_error,omitempty"`
	Agreement  string   `json:"agreement,omitempty"`
	Warmup     float64  `json:"warmup_seconds"`
	Date       string   `json:"date"`
	Results    []Result `json:"results"`
}

// compare serves one model with tunelab serve and with the Gradio peer, loads each in turn on
// loopback and writes serve.json and serve.md to spec.out. It fails when a request failed.
func compare(ctx context.Context, spec compareSpec) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := space.FindModuleRoot(wd)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bench-serve-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// Both servers load the same files: the model with its (fresh, seeded) head saved once.
	clf, err := lab.Load(ctx, spec.model, lab.WithLabels(spec.labels...))
	if err != nil {
		return err
	}
	modelDir := filepath.Join(tmp, "model")
	if err := clf.Save(modelDir); err != nil {
		return err
	}
	bin := filepath.Join(tmp, "tunelab")
	// Built as the Space image builds it (lab/space Dockerfile): cgo for XLA, SIMD kernels.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/tunelab")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "GOEXPERIMENT=simd")
	if err := build.Run(); err != nil {
		return fmt.Errorf("building tunelab: %w", err)
	}

	rep := report{Model: spec.model, Labels: spec.labels, Machine: machineDescription(), LoadBefore: loadAvg(),
		Go: runtime.Version(), Warmup: spec.load.warmup.Seconds()}
	probe := spec.load.texts[0]
	client := &http.Client{Timeout: time.Minute}
	var ourAnswer labelValue // the first engine's, which the peer's must match
	for i, engine := range spec.engines {
		answer, results, err := serveEngine(ctx, spec, tmp, bin, modelDir, engine, client, probe)
		if err != nil {
			return fmt.Errorf("tunelab serve on %s: %w", engine, err)
		}
		if i == 0 {
			ourAnswer = answer
		}
		rep.Results = append(rep.Results, results...)
	}

	// The peer's failure is a result to report, not a reason to lose tunelab's numbers.
	if rep.Peer, err = peerVersions(ctx, spec.python); err == nil {
		var r Result
		r, rep.Agreement, err = runPeer(ctx, spec, root, tmp, modelDir, client, probe, ourAnswer)
		if err == nil {
			fmt.Print(r.String())
			rep.Results = append(rep.Results, r)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		rep.PeerError = err.Error()
		fmt.Fprintln(os.Stderr, "bench/serve: Gradio peer:", err)
	}
	rep.LoadAfter = loadAvg()
	rep.Date = time.Now().UTC().Format(time.RFC3339)
	if err := writeReport(spec.out, rep); err != nil {
		return err
	}
	for _, r := range rep.Results {
		if r.Errors > 0 {
			return fmt.Errorf("%s (%s API): %d failed requests, first: %s", r.Side, r.API, r.Errors, r.FirstError)
		}
	}
	return nil
}

// serveEngine serves modelDir with tunelab serve on engine, asks it to label probe, and loads
// it through the JSON API and through the Gradio API.
func serveEngine(ctx context.Context, spec compareSpec, tmp, bin, modelDir, engine string, client *http.Client, probe string) (labelValue, []Result, error) {
	config, bf16 := benchkit.SplitEngine(engine)
	args := []string{"serve", "--model", modelDir, "--host", "127.0.0.1", "--flag-dir", "", "--backend", config, "--bf16=" + strconv.FormatBool(bf16)}
	side := "tunelab serve (" + engine + ")"
	if bf16 {
		side = "tunelab serve (" + config + ", bf16 matrix products)"
	}
	ours, err := startServer(ctx, tmp, "tunelab", "/readyz", bin, append(args, "--port")...)
	if err != nil {
		return labelValue{}, nil, err
	}
	defer ours.stop()
	answer, err := gradioPredict(client, ours.base, probe)
	if err != nil {
		return labelValue{}, nil, err
	}
	var results []Result
	for _, api := range []string{"json", "gradio"} {
		load := spec.load
		load.api = api
		r, err := runLoad(ctx, ours.base, load, ours.pid())
		if err != nil {
			return labelValue{}, nil, err
		}
		r.Side = side
		fmt.Print(r.String())
		results = append(results, r)
	}
	return answer, results, ours.stop()
}

// runPeer serves modelDir with gradio_peer.py, checks that it answers probe like tunelab did
// (ours) and loads it through the Gradio API.
func runPeer(ctx context.Context, spec compareSpec, root, tmp, modelDir string, client *http.Client, probe string, ours labelValue) (Result, string, error) {
	threads := strconv.Itoa(runtime.NumCPU())
	peer, err := startServer(ctx, tmp, "gradio_peer", "/gradio_api/info", spec.python, filepath.Join(root, "bench", "serve", "gradio_peer.py"),
		"--model", modelDir, "--threads", threads, "--port")
	if err != nil {
		return Result{}, "", err
	}
	defer peer.stop()
	theirs, err := gradioPredict(client, peer.base, probe)
	if err != nil {
		return Result{}, "", err
	}
	agreement, err := agree(probe, ours, theirs)
	if err != nil {
		return Result{}, "", err
	}
	load := spec.load
	load.api = "gradio"
	r, err := runLoad(ctx, peer.base, load, peer.pid())
	r.Side = "Gradio + transformers pipeline (torch, " + threads + " threads)"
	if err != nil {
		return Result{}, "", err
	}
	return r, agreement, peer.stop()
}

// agree checks that both servers give text the same label and confidences: they load the same
// files, so a difference means one of them serves a different model.
func agree(text string, ours, theirs labelValue) (string, error) {
	if ours.Label != theirs.Label || len(ours.Confidences) != len(theirs.Confidences) {
		return "", fmt.Errorf("the servers disagree on %q: tunelab %+v, Gradio peer %+v", text, ours, theirs)
	}
	theirScores := map[string]float64{}
	for _, c := range theirs.Confidences {
		theirScores[c.Label] = c.Confidence
	}
	diff := 0.0
	for _, c := range ours.Confidences {
		v, ok := theirScores[c.Label]
		if !ok {
			return "", fmt.Errorf("the Gradio peer has no confidence for label %q: %+v", c.Label, theirs)
		}
		diff = max(diff, math.Abs(v-c.Confidence))
	}
	if diff > 1e-3 {
		return "", fmt.Errorf("the servers' confidences for %q differ by %.2g: tunelab %+v, Gradio peer %+v", text, diff, ours, theirs)
	}
	return fmt.Sprintf("both servers label %q %q; confidences differ by at most %.1e", text, ours.Label, diff), nil
}

// proc is a server started for the benchmark, on a free loopback port.
type proc struct {
	name, base string
	cmd        *exec.Cmd
	exited     chan struct{}
	logPath    string
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// startServer runs name's command with a free port appended and waits until GET readyPath
// answers 200 (at most 5 minutes: the peer imports torch, tunelab on XLA compiles its batch
// shapes first).
func startServer(ctx context.Context, tmp, name, readyPath, command string, args ...string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(tmp, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(command, append(args, strconv.Itoa(port))...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// The tunelab command sets its own engine settings again (backend.TunedEnviron).
	cmd.Env = append(benchkit.PeerEnviron(), "GRADIO_ANALYTICS_ENABLED=False", "HF_HUB_OFFLINE=1", "GOMLX_NO_AUTO_INSTALL=1")
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, base: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, exited: make(chan struct{}), logPath: logPath}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		resp, err := http.Get(p.base + readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("%s exited before it was ready (%v); its log:\n%s", name, cmd.ProcessState, tail(logPath))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s not ready on %s%s after 5 minutes; its log:\n%s", name, p.base, readyPath, tail(logPath))
		}
	}
}

// stop sends SIGTERM, as a container runtime would, and kills the server if it has not exited
// within 20 seconds. It is safe to call twice.
func (p *proc) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within 20s of SIGTERM; killed", p.name)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 3000 {
		data = data[len(data)-3000:]
	}
	return string(data)
}

// peerVersions returns the peer's gradio, transformers and torch versions, or why the
// interpreter cannot run the peer.
func peerVersions(ctx context.Context, python string) (string, error) {
	out, err := exec.CommandContext(ctx, python, "-c",
		"import gradio, transformers, torch; print(f'gradio {gradio.__version__}, transformers {transformers.__version__}, torch {torch.__version__}')").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s cannot import gradio, transformers and torch (%v): %s", python, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// machineDescription is benchkit.Machine (the CPU, its SIMD extension and bfloat16 units, the
// cores) and the memory.
func machineDescription() string {
	desc := benchkit.Machine()
	if mem, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(mem), "MemTotal: %g kB", &kb); err == nil {
			desc += fmt.Sprintf(", %.0f GiB memory", kb/(1<<20))
		}
	}
	return desc
}

// loadAvg is the first three fields of /proc/loadavg (1, 5 and 15 minute load averages).
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// writeReport writes serve.json and serve.md in out, each atomically.
func writeReport(out string, rep report) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(out, "serve.json"), append(js, '\n')); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(out, "serve.md"), []byte(markdown(rep)))
}

func markdown(rep report) string {
	var b strings.Builder
	clients, seconds := 0, 0.0
	if len(rep.Results) > 0 {
		clients, seconds = rep.Results[0].Clients, math.Round(rep.Results[0].Seconds)
	}
	fmt.Fprintf(&b, "## Serving load, %s (%s), %d concurrent clients, %.0f s each after a %.0f s warm-up\n\n",
		rep.Model, strings.Join(rep.Labels, " / "), clients, seconds, rep.Warmup)
	fmt.Fprintf(&b, "Machine: %s. Load average %s before, %s after: the machine is shared with other jobs, "+
		"and the load generator runs on the same cores as the server.\n\n", rep.Machine, rep.LoadBefore, rep.LoadAfter)
	fmt.Fprintf(&b, "Versions: %s", rep.Go)
	if rep.Peer != "" {
		fmt.Fprintf(&b, "; %s", rep.Peer)
	}
	b.WriteString(". Each request carries one text; both servers micro-batch up to 16 texts per forward pass.\n\n")
	b.WriteString("| server | API | requests/s | p50 ms | p99 ms | max ms | requests | errors | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "| %s | %s | %.1f | %.0f | %.0f | %.0f | %d | %d | %.0f |\n",
			r.Side, apiName(r.API), r.RPS, r.P50MS, r.P99MS, r.MaxMS, r.Requests, r.Errors, r.PeakRSSMiB)
	}
	if rep.Agreement != "" {
		fmt.Fprintf(&b, "\nSame model on both sides: %s.\n", rep.Agreement)
	}
	if rep.PeerError != "" {
		fmt.Fprintf(&b, "\nThe Gradio peer did not run: %s\n", rep.PeerError)
	}
	return b.String()
}

func apiName(api string) string {
	if api == "json" {
		return "POST /api/predict"
	}
	return "Gradio REST (call/predict + event stream)"
}
