// Package notebooks_test runs the lab's notebooks headless with the GoNB kernel in quick mode
// (TUNELAB_QUICK=1) and exports the lab report, through scripts/lab/report.py.
//
// The tests are slow (minutes: they fine-tune four models on small slices) and need JupyterLab's
// nbclient/nbconvert, the GoNB kernel (scripts/lab/install.sh), Chromium and poppler-utils. They
// run only when $TUNELAB_NOTEBOOKS is set (`make notebooks-test`): on a 2-core CPU they take about
// 11 minutes, more than the rest of the suite. Then, under $CI, a missing tool fails them.
package notebooks_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// tools are the commands the tests run; the GoNB kernel is checked through jupyter.
var tools = []string{"python3", "go", "chromium", "pdftotext", "pdfinfo", "pdffonts", "pdftoppm"}

// requireTools skips the test unless $TUNELAB_NOTEBOOKS is set, then checks the tools, the
// Python packages, the GoNB kernel and the extra things it is given (a description of each
// missing one, nil when present): missing, they skip the test, or fail it under $CI.
func requireTools(t *testing.T, extra ...func() string) {
	t.Helper()
	if testing.Short() {
		t.Skip("executes every notebook (minutes): skipped under -short")
	}
	ci := os.Getenv("CI") != ""
	if os.Getenv("TUNELAB_NOTEBOOKS") == "" {
		t.Skip("set TUNELAB_NOTEBOOKS=1 (make notebooks-test) to execute the notebooks (about 11 minutes on 2 cores)")
	}
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if out, err := exec.Command("python3", "-c", "import nbclient, nbconvert, pypdf, jupyterlab, jupyter_client.kernelspec as k; k.KernelSpecManager().get_kernel_spec('gonb')").CombinedOutput(); err != nil {
		missing = append(missing, "jupyterlab/nbclient/nbconvert/pypdf or the gonb kernel (bash scripts/lab/install.sh): "+strings.TrimSpace(lastLine(string(out))))
	}
	for _, check := range extra {
		if m := check(); m != "" {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("missing: %s (apt-get install chromium poppler-utils; bash scripts/lab/install.sh)", strings.Join(missing, ", "))
		if ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// run executes the notebooks once for both tests, into a fresh folder; $TUNELAB_NOTEBOOKS_RUN
// names the folder of an earlier `report.py execute --quick --out DIR` to check instead (its
// runs in DIR/runs), which saves the minutes of executing them again.
var run struct {
	once sync.Once
	dir  string
	out  string
	err  error
}

// TestMain removes the folder the notebooks ran in: their checkpoints take gigabytes.
func TestMain(m *testing.M) {
	code := m.Run()
	if run.dir != "" && os.Getenv("TUNELAB_NOTEBOOKS_RUN") == "" {
		if err := os.RemoveAll(run.dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

func executed(t *testing.T) string {
	t.Helper()
	run.once.Do(func() {
		if dir := os.Getenv("TUNELAB_NOTEBOOKS_RUN"); dir != "" {
			run.dir, run.out = dir, "(checking the earlier run in $TUNELAB_NOTEBOOKS_RUN="+dir+")"
			return
		}
		run.dir, run.err = os.MkdirTemp("", "tunelab-notebooks-")
		if run.err != nil {
			return
		}
		cmd := exec.Command("python3", filepath.Join("..", "scripts", "lab", "report.py"), "execute", "--quick", "--out", run.dir)
		cmd.Env = append(os.Environ(), "TUNELAB_OUT="+filepath.Join(run.dir, "runs"))
		out, err := cmd.CombinedOutput()
		run.out, run.err = string(out), err
	})
	if run.dir == "" {
		t.Fatal(run.err)
	}
	return run.dir
}

var notebooks = []string{"01-disaster-tweets.ipynb", "02-imdb-agnews.ipynb", "03-deploy.ipynb"}

type notebook struct {
	Cells []struct {
		CellType string          `json:"cell_type"`
		Source   json.RawMessage `json:"source"`
		Outputs  []struct {
			OutputType string          `json:"output_type"`
			Text       json.RawMessage `json:"text"`
			EValue     string          `json:"evalue"`
			Traceback  []string        `json:"traceback"`
			Data       map[string]any  `json:"data"`
		} `json:"outputs"`
	} `json:"cells"`
}

// text joins nbformat's multiline strings (a string or a list of strings).
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []string
	json.Unmarshal(raw, &parts)
	return strings.Join(parts, "")
}

var (
	ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	// klogLine matches the GoNB kernel's log lines (glog format), which report.py passes through.
	klogLine = regexp.MustCompile(`(?m)^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ .*\n`)
)

// TestNotebooksExecute runs every notebook in quick mode and fails on any cell with an error,
// printing the cell and the Go error (GoNB reports only "exit status N" as the error; the
// compiler or panic message is in the cell's streams).
func TestNotebooksExecute(t *testing.T) {
	requireTools(t)
	dir := executed(t)
	t.Logf("report.py execute (the kernel's own log lines left out):\n%s", klogLine.ReplaceAllString(run.out, ""))
	for _, name := range notebooks {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s was not executed: %v", name, err)
			continue
		}
		var nb notebook
		if err := json.Unmarshal(raw, &nb); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		code, displays := 0, 0
		for i, c := range nb.Cells {
			if c.CellType != "code" {
				continue
			}
			code++
			var streams strings.Builder
			for _, o := range c.Outputs {
				switch o.OutputType {
				case "stream":
					streams.WriteString(text(o.Text))
				case "display_data", "execute_result":
					displays++
				case "error":
					t.Errorf("%s: cell %d failed\n--- source ---\n%s\n--- Go error ---\n%s\n%s", name, i, text(c.Source),
						ansi.ReplaceAllString(streams.String(), ""), ansi.ReplaceAllString(strings.Join(o.Traceback, "\n"), ""))
				}
			}
		}
		if code == 0 || displays == 0 {
			t.Errorf("%s: %d code cells and %d displayed outputs after execution, want some of each", name, code, displays)
		}
	}
	if run.err != nil && !t.Failed() {
		t.Errorf("report.py execute failed without a failing cell: %v\n%s", run.err, run.out)
	}
}

// TestNotebooksHaveAnalysisCells checks the report's places for the student's own words: every
// notebook has an analysis cell after a results section (a code cell with outputs) and closes
// with a conclusions cell (only a pointer to the next notebook may follow), each headed in both
// languages with a one-line prompt.
func TestNotebooksHaveAnalysisCells(t *testing.T) {
	for _, name := range notebooks {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var nb struct {
			Cells []struct {
				CellType string            `json:"cell_type"`
				Source   json.RawMessage   `json:"source"`
				Metadata map[string]any    `json:"metadata"`
				Outputs  []json.RawMessage `json:"outputs"`
			} `json:"cells"`
		}
		if err := json.Unmarshal(raw, &nb); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		analyses, conclusions := 0, -1
		for i, c := range nb.Cells {
			src := text(c.Source)
			switch {
			case strings.HasPrefix(src, "### 结果分析 / Analysis\n\n*"):
				analyses++
				j := i - 1 // the nearest code cell before it shows the results
				for j >= 0 && nb.Cells[j].CellType != "code" {
					j--
				}
				if j < 0 || len(nb.Cells[j].Outputs) == 0 {
					t.Errorf("%s: analysis cell %d follows no results (a code cell with outputs)", name, i)
				}
			case strings.HasPrefix(src, "## 结论 / Conclusions\n\n*"):
				conclusions = i
			}
			if strings.Contains(src, "结果分析") || strings.Contains(src, "结论 /") {
				if lines := strings.Split(strings.TrimSpace(src), "\n"); len(lines) != 3 || !strings.HasSuffix(lines[2], "*") {
					t.Errorf("%s: cell %d: want a heading, a blank line and a one-line prompt in italics, got %q", name, i, src)
				}
			}
		}
		if analyses == 0 {
			t.Errorf("%s: no analysis cell (### 结果分析 / Analysis)", name)
		}
		if last := len(nb.Cells) - 1; conclusions < 0 || conclusions < last && !(conclusions == last-1 && strings.HasPrefix(text(nb.Cells[last].Source), "Next:")) {
			t.Errorf("%s: the conclusions cell (## 结论 / Conclusions) is at %d, want it last of %d cells (or before the pointer to the next notebook)", name, conclusions, len(nb.Cells))
		}
	}
}

// runRecord is the part of the notebooks' run.json (lab/runs.Run, in runs/TASK/NAME/) that the
// report prints.
type runRecord struct {
	Model   string             `json:"model"`
	Task    string             `json:"task"`
	Metrics map[string]float64 `json:"metrics"`
	Eval    struct {
		Report struct {
			Macro struct{ Precision, Recall, F1 float64 } `json:"macro"`
		}
	} `json:"eval"`
}

// TestReport exports the executed notebooks and checks the combined PDF: it exists, has a page
// per notebook at least, and its text holds every run's metrics as the runs recorded them
// (title page table) and each task's metrics table, the star ratings' regression included.
func TestReport(t *testing.T) {
	requireTools(t)
	dir := executed(t)
	cmd := exec.Command("python3", filepath.Join("..", "scripts", "lab", "report.py"), "export", "--out", dir, "--runs", filepath.Join(dir, "runs"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("report.py export: %v\n%s", err, out)
	}
	pdf := filepath.Join(dir, "lab-report.pdf")
	info, err := exec.Command("pdfinfo", pdf).Output()
	if err != nil {
		t.Fatalf("pdfinfo %s: %v", pdf, err)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(info)
	if m == nil {
		t.Fatalf("pdfinfo %s: no page count in\n%s", pdf, info)
	}
	if pages, _ := strconv.Atoi(string(m[1])); pages < 1+len(notebooks) {
		t.Errorf("%s has %d pages, want at least %d (title + one per notebook)", pdf, pages, 1+len(notebooks))
	}
	// Text printed in a nameless Type 3 font (a synthesized bold of the CJK font) cannot be
	// searched in a PDF reader and falls off its line in pdftotext.
	fonts, err := exec.Command("pdffonts", pdf).Output()
	if err != nil {
		t.Fatalf("pdffonts: %v", err)
	}
	if strings.Contains(string(fonts), "Type 3") {
		t.Errorf("%s prints text in Type 3 fonts:\n%s", pdf, fonts)
	}
	txt, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	body := string(txt)
	runs, _ := filepath.Glob(filepath.Join(dir, "runs", "*", "*", "run.json"))
	if len(runs) != 8 {
		t.Errorf("%d runs in %s, want 8 (two models on each of three tasks, one of them twice on the tweets, and one on IMDB's star ratings): %v", len(runs), dir, runs)
	}
	// Every classifier's accuracy is in the title page's table and in its notebook's comparison
	// table; each notebook shows at least one run's metrics table (runs.Run.MetricsTable), whose
	// row "macro avg  precision  recall  f1  support" must carry the run's recorded numbers. The
	// regression run's RMSE and Spearman correlation are in the title page's table and its
	// metrics table, whose row "RMSE  value" must carry the recorded RMSE.
	tables := map[string]bool{}
	for _, path := range runs {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var r runRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		f := func(v float64) string { return regexp.QuoteMeta(strconv.FormatFloat(v, 'f', 4, 64)) }
		if rmse, ok := r.Metrics["rmse"]; ok {
			for _, name := range []string{"rmse", "spearman"} {
				v := strconv.FormatFloat(r.Metrics[name], 'f', 4, 64)
				if n := strings.Count(body, v); n < 2 {
					t.Errorf("report text has the %s %s of %s on %s %d times, want >= 2 (title and metrics tables)", name, v, r.Model, r.Task, n)
				}
			}
			if regexp.MustCompile(`RMSE\s+` + f(rmse) + `\s`).MatchString(body) {
				tables[r.Task] = true
			}
			continue
		}
		acc := strconv.FormatFloat(r.Metrics["accuracy"], 'f', 4, 64)
		if n := strings.Count(body, acc); n < 2 {
			t.Errorf("report text has the accuracy %s of %s on %s %d times, want >= 2 (title and comparison tables)", acc, r.Model, r.Task, n)
		}
		macro := r.Eval.Report.Macro
		row := `macro avg\s+` + f(macro.Precision) + `\s+` + f(macro.Recall) + `\s+` + f(macro.F1) + `\s`
		if regexp.MustCompile(row).MatchString(body) {
			tables[r.Task] = true
		}
	}
	for _, task := range []string{"tweets", "imdb", "agnews", "imdb-rating"} {
		if !tables[task] {
			t.Errorf("report text has no metrics table of a run on %s matching its run.json", task)
		}
	}
	// Headings may wrap: compare with the whitespace collapsed.
	flat := strings.Join(strings.Fields(body), " ")
	for _, heading := range []string{"tunelab lab report", "Fine-tuning a pretrained model on disaster tweets", "Same recipe, other tasks", "Deploying the fine-tuned model", "Runs (validation split)",
		"Models compared (95% confidence intervals)", "Student ID / 学号", "结果分析 / Analysis", "结论 / Conclusions",
		// The second learning rate of notebook 1 is a run of its own, beside the first.
		"all-MiniLM-L6-v2-lr1e-4", "than the noise",
		// Notebook 2 compares the star ratings' regression with the sentiment classifier's P(pos).
		"validation reviews scored by both runs"} {
		if !strings.Contains(flat, heading) {
			t.Errorf("report text lacks %q", heading)
		}
	}
	// A page rendered to PNG, for a person to look at (pdftoppm fails on a broken PDF).
	png := filepath.Join(dir, "page")
	if out, err := exec.Command("pdftoppm", "-png", "-r", "60", "-f", "2", "-l", "2", pdf, png).CombinedOutput(); err != nil {
		t.Errorf("pdftoppm: %v\n%s", err, out)
	}
	t.Logf("report in %s", dir)
}

// TestKeepFineTunes re-executes the quick run's IMDB + AG News notebook with
// --keep-fine-tunes: the cells tagged fine-tune keep their outputs and train nothing (the runs'
// run.json files stay as they were), and every other cell runs again (the comparison cell,
// emptied here, shows its table and chart again from the saved runs).
func TestKeepFineTunes(t *testing.T) {
	requireTools(t)
	dir := executed(t)
	const name = "02-imdb-agnews.ipynb"
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var nb map[string]any
	if err := json.Unmarshal(raw, &nb); err != nil {
		t.Fatal(err)
	}
	cells := nb["cells"].([]any)
	fineTunes := map[int]string{}
	last := -1
	for i, c := range cells {
		cell := c.(map[string]any)
		if cell["cell_type"] != "code" {
			continue
		}
		last = i
		tags, _ := cell["metadata"].(map[string]any)["tags"].([]any)
		for _, tag := range tags {
			if tag == "fine-tune" {
				out, _ := json.Marshal(cell["outputs"])
				fineTunes[i] = string(out)
			}
		}
	}
	if len(fineTunes) != 5 {
		t.Fatalf("%s has %d cells tagged fine-tune, want 5 (two models on IMDB and on AG News, one on IMDB's star ratings)", name, len(fineTunes))
	}
	cells[last].(map[string]any)["outputs"] = []any{}
	keep := t.TempDir()
	emptied, _ := json.Marshal(nb)
	if err := os.WriteFile(filepath.Join(keep, name), emptied, 0o644); err != nil {
		t.Fatal(err)
	}
	runs, _ := filepath.Glob(filepath.Join(dir, "runs", "*", "*", "run.json"))
	before := map[string]string{}
	for _, r := range runs {
		b, _ := os.ReadFile(r)
		before[r] = string(b)
	}

	cmd := exec.Command("python3", filepath.Join("..", "scripts", "lab", "report.py"), "execute", "--keep-fine-tunes", "--out", keep, name)
	cmd.Env = append(os.Environ(), "TUNELAB_OUT="+filepath.Join(dir, "runs"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("report.py execute --keep-fine-tunes: %v\n%s", err, klogLine.ReplaceAllString(string(out), ""))
	}
	raw, err = os.ReadFile(filepath.Join(keep, name))
	if err != nil {
		t.Fatal(err)
	}
	var again map[string]any
	if err := json.Unmarshal(raw, &again); err != nil {
		t.Fatal(err)
	}
	cells = again["cells"].([]any)
	for i, want := range fineTunes {
		if got, _ := json.Marshal(cells[i].(map[string]any)["outputs"]); string(got) != want {
			t.Errorf("fine-tune cell %d's outputs changed:\n%s\nwant\n%s", i, got, want)
		}
	}
	if outputs := cells[last].(map[string]any)["outputs"].([]any); len(outputs) == 0 {
		t.Errorf("the last cell was not executed again: no outputs")
	}
	for _, r := range runs {
		if b, _ := os.ReadFile(r); string(b) != before[r] {
			t.Errorf("%s changed: a fine-tune ran again", r)
		}
	}
}
