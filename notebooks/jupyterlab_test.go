package notebooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tunelab/tunelab/internal/testenv"
)

// TestJupyterLabFirstLook opens the committed notebooks, as a fresh clone has them, in JupyterLab
// in headless Chromium (e2e/jupyterlab.mjs) with a Jupyter data folder of its own, so they are
// not trusted (the server says so) and JupyterLab sanitizes their outputs. Every chart must
// still be drawn: as many decoded chart images as the notebook holds, and no inline SVG (which
// the sanitizer would reduce to a run of numbers). The settings of scripts/lab/install.sh must
// hold: no news pop-up, and no kernel message about missing goimports or gopls.
func TestJupyterLabFirstLook(t *testing.T) {
	playwright := filepath.Join("..", "lab", "serve", "e2e", "node_modules", "playwright-core")
	requireTools(t, func() string {
		if _, err := exec.LookPath("node"); err != nil {
			return "node"
		}
		if _, err := os.Stat(playwright); err != nil {
			return "playwright-core (npm ci in lab/serve/e2e)"
		}
		return ""
	})
	// The committed notebooks hold the charts as data: URI images (lab/display.Image), never as
	// inline <svg>.
	want := map[string]int{}
	for _, name := range notebooks {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var nb notebook
		if err := json.Unmarshal(raw, &nb); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, c := range nb.Cells {
			for _, o := range c.Outputs {
				doc := htmlText(o.Data["text/html"])
				if strings.Contains(doc, "<svg") {
					t.Errorf("%s: cell %d shows inline SVG, which JupyterLab strips from untrusted notebooks", name, i)
				}
				want[name] += strings.Count(doc, `src="data:image/svg+xml;base64,`)
			}
		}
	}
	for _, name := range notebooks[:2] {
		if want[name] == 0 {
			t.Errorf("%s holds no chart images: executed with lab/plot's charts, it shows several", name)
		}
	}

	// A copy in a fresh folder, served by a JupyterLab whose data folder (where trusted
	// notebooks' signatures live) is new; the kernels come from the usual data folder.
	root, home := t.TempDir(), t.TempDir()
	for _, name := range notebooks {
		raw, _ := os.ReadFile(name)
		if err := os.WriteFile(filepath.Join(root, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dataDir, err := exec.Command("python3", "-c", "import jupyter_core.paths as p; print(p.jupyter_data_dir())").Output()
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	const token = "tunelab-first-look"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lab := exec.CommandContext(ctx, "python3", "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--ServerApp.token="+token, "--ServerApp.root_dir="+root, "--allow-root")
	lab.Env = append(os.Environ(), "JUPYTER_DATA_DIR="+filepath.Join(home, "data"), "JUPYTER_PATH="+strings.TrimSpace(string(dataDir)),
		"JUPYTER_CONFIG_DIR="+filepath.Join(home, "config"), "JUPYTER_RUNTIME_DIR="+filepath.Join(home, "runtime"),
		"JUPYTERLAB_SETTINGS_DIR="+filepath.Join(home, "settings"), "JUPYTERLAB_WORKSPACES_DIR="+filepath.Join(home, "workspaces"))
	var log lockedBuffer
	lab.Stdout, lab.Stderr = &log, &log
	// The kernels are the server's children: it stops them when asked to shut down (below);
	// killed, it would leave them running with the log's pipe open.
	lab.Cancel = func() error { return lab.Process.Signal(syscall.SIGTERM) }
	lab.WaitDelay = time.Minute
	if err := lab.Start(); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	defer func() {
		if resp, err := http.Post(url+"api/shutdown?token="+token, "", nil); err == nil {
			resp.Body.Close()
		}
		lab.Wait()
	}()
	waitHTTP(t, url+"api/status?token="+token, &log)

	names, _ := json.Marshal(notebooks)
	shots := t.TempDir()
	node := exec.CommandContext(ctx, "node", filepath.Join("e2e", "jupyterlab.mjs"))
	node.Env = append(os.Environ(), "LAB_URL="+url+"?token="+token, "LAB_NOTEBOOKS="+string(names), "LAB_SCREENSHOTS="+shots,
		testenv.BrowserTempDir(t, "e2e/jupyterlab.mjs"))
	out, err := node.Output()
	if err != nil {
		t.Fatalf("e2e/jupyterlab.mjs: %v\n%s\n--- JupyterLab log ---\n%s", err, stderrOf(err), log.String())
	}
	var report map[string]struct {
		Charts, Drawn, InlineSVG int
		Alts, Toasts             []string
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("e2e/jupyterlab.mjs printed %q: %v", out, err)
	}
	// Each notebook started a GoNB kernel; it says where its Go code goes once it has looked for
	// gopls (and complained if it found none).
	started := regexp.MustCompile(`GoNB: jupyter root in`)
	for deadline := time.Now().Add(time.Minute); len(started.FindAllString(log.String(), -1)) < len(notebooks) && time.Now().Before(deadline); {
		time.Sleep(time.Second)
	}
	serverLog := log.String()
	if n := len(started.FindAllString(serverLog, -1)); n < len(notebooks) {
		t.Errorf("%d GoNB kernels started within a minute, want %d (one per notebook)", n, len(notebooks))
	}
	for _, name := range notebooks {
		r := report[name]
		t.Logf("%s: %d chart images drawn of %d (%q)", name, r.Drawn, r.Charts, r.Alts)
		if !strings.Contains(serverLog, "Notebook "+name+" is not trusted") {
			t.Errorf("JupyterLab did not treat %s as untrusted: the test checks nothing", name)
		}
		if r.Charts != want[name] || r.Drawn != want[name] || r.InlineSVG != 0 {
			t.Errorf("%s in JupyterLab: %d chart images, %d drawn, %d inline SVGs; want the notebook's %d charts, all drawn, and no SVG",
				name, r.Charts, r.Drawn, r.InlineSVG, want[name])
		}
		for _, toast := range r.Toasts {
			if strings.Contains(strings.ToLower(toast), "news") || strings.Contains(toast, "update") {
				t.Errorf("%s: JupyterLab shows the pop-up %q (scripts/lab/install.sh turns news and update checks off)", name, toast)
			}
		}
	}
	if strings.Contains(serverLog, "not installed") {
		t.Errorf("the kernel says a tool is not installed (scripts/lab/install.sh installs goimports and gopls):\n%s", serverLog)
	}
	t.Logf("screenshots in %s", shots)
}

// htmlText joins an output's text/html (a string or a list of strings).
func htmlText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		var b strings.Builder
		for _, s := range v {
			b.WriteString(fmt.Sprint(s))
		}
		return b.String()
	}
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitHTTP waits up to two minutes for url to answer 200.
func waitHTTP(t *testing.T, url string, log *lockedBuffer) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("JupyterLab did not answer %s within two minutes:\n%s", url, log.String())
}

// lockedBuffer is a log that a process writes while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
