package runs

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"html"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/plot"
	"github.com/tunelab/tunelab/lab/train"
)

// A notebook's runs live in one folder, a subfolder per task and a folder per run:
// DIR/TASK/NAME/{run.json, run/, model/}. A training cell always makes a new run folder, so
// changing a hyperparameter and running the cell again keeps the earlier result beside the new.

// RunName names a run after its model (the last element of a path) and the flags of fs that
// differ from their defaults, in fs's order (by name): "all-MiniLM-L6-v2-lr1e-4-seed7". A flag
// called "name" set to something names the run instead.
func RunName(model string, fs *flag.FlagSet) string {
	parts := []string{filepath.Base(filepath.Clean(model))}
	named := ""
	fs.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		switch {
		case f.Name == "name":
			named = v
		case v != f.DefValue:
			parts = append(parts, f.Name+compactValue(v))
		}
	})
	return cmp.Or(named, strings.Join(parts, "-"))
}

// compactValue writes a flag's value for a folder name: small numbers in short scientific
// notation (0.0001 as 1e-4), other numbers as they are, words after a dash ("-cosine").
func compactValue(v string) string {
	x, err := strconv.ParseFloat(v, 64)
	switch {
	case err != nil:
		return "-" + v
	case x != 0 && math.Abs(x) < 0.01:
		mantissa, exp, _ := strings.Cut(strconv.FormatFloat(x, 'e', -1, 64), "e")
		n, _ := strconv.Atoi(exp) // "-04" -> -4
		return mantissa + "e" + strconv.Itoa(n)
	default:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
}

// newRunDir creates the folder of a new run named name under taskDir and returns it: taskDir/name,
// or taskDir/name-run2, -run3, ... when that name is taken, so no run overwrites another.
func newRunDir(taskDir, name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("run name %q: want a folder name (no slashes)", name)
	}
	if err := os.MkdirAll(taskDir, 0o755); err != nil {
		return "", err
	}
	for i := 1; ; i++ {
		dir := filepath.Join(taskDir, name)
		if i > 1 {
			dir += "-run" + strconv.Itoa(i)
		}
		err := os.Mkdir(dir, 0o755) // fails if the folder exists: the name is claimed atomically
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
}

// LoadRuns reads every run of task under dir (DIR/TASK/NAME/run.json; every task when task is
// ""), finished or not, by task and then in the order they started.
func LoadRuns(dir, task string) ([]*Run, error) {
	pattern := filepath.Join(dir, cmp.Or(task, "*"), "*", RunFile)
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	runs := make([]*Run, 0, len(paths))
	for _, p := range paths {
		r, err := LoadRun(filepath.Dir(p))
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	slices.SortStableFunc(runs, func(a, b *Run) int {
		return cmp.Or(cmp.Compare(a.Task, b.Task), a.Started.Compare(b.Started), cmp.Compare(a.Name, b.Name))
	})
	return runs, nil
}

// Latest returns the newest run of model on task under dir, for the cells that show what the
// training cell just did. When that run did not finish it returns its Unfinished error rather
// than an older run's results.
func Latest(dir, task, model string) (*Run, error) {
	runs, err := LoadRuns(dir, task)
	if err != nil {
		return nil, err
	}
	runs = slices.DeleteFunc(runs, func(r *Run) bool { return r.Model != model })
	if len(runs) == 0 {
		return nil, fmt.Errorf("no run of %s on %s in %s: run its training cell first", model, task, dir)
	}
	r := runs[len(runs)-1]
	return r, r.Unfinished()
}

// Chosen returns the run of task named name under dir, or with name "" the best finished run
// (Best), for the cells that use one fine-tuned model (predictions, submission, deployment). A
// named run that did not finish is an error (its Unfinished).
func Chosen(dir, task, name string) (*Run, error) {
	if name != "" {
		r, err := LoadRun(filepath.Join(dir, task, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no run %s/%s in %s", task, name, dir)
		}
		if err != nil {
			return nil, err
		}
		return r, r.Unfinished()
	}
	runs, err := LoadRuns(dir, task)
	if err != nil {
		return nil, err
	}
	if best := Best(runs); best != nil {
		return best, nil
	}
	return nil, fmt.Errorf("no finished run of %s in %s (%d unfinished): run a training cell first", task, dir, len(runs))
}

// OpenRun reads the run in dir (a folder with run.json), or, when dir is a task's folder of
// runs (DIR/TASK), its best finished run: what `tunelab serve --run` deploys.
func OpenRun(dir string) (*Run, error) {
	if _, err := os.Stat(filepath.Join(dir, RunFile)); err == nil {
		r, err := LoadRun(dir)
		if err != nil {
			return nil, err
		}
		return r, r.Unfinished()
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("%s: not a run's folder (with %s) nor a task's folder of runs", dir, RunFile)
	}
	dir = filepath.Clean(dir)
	return Chosen(filepath.Dir(dir), filepath.Base(dir), "")
}

// taskMetrics names the metric a task is judged by where it is not accuracy: the disaster
// tweets' Kaggle score is the F1 of the "disaster" class (the classes are unbalanced); IMDB's
// star ratings, a regression, are judged as regression runs are (regressionMetric). IMDB and AG
// News have balanced classes and report accuracy.
var taskMetrics = map[string]string{data.Tweets: "f1", data.IMDBRating: regressionMetric}

// regressionMetric ranks regression runs: Spearman's correlation of the predicted and true
// values, which, unlike the errors, rewards ordering the examples rightly (a model that predicts
// the mean for every review has an RMSE of the ratings' spread but no correlation), and which
// compares with any score that orders them (a classifier's probability of "pos", say). Higher is
// better, as for the classifiers' metrics.
const regressionMetric = "spearman"

// TaskMetric names the metric (a key of Run.Metrics) that ranks runs on task.
func TaskMetric(task string) string { return cmp.Or(taskMetrics[task], "accuracy") }

// metricName is how the tables call a metric of a run.
func (r *Run) metricName(metric string) string {
	switch metric {
	case "f1":
		if len(r.Labels) == 2 {
			return "F1 of " + r.Labels[1]
		}
	case "macro_f1":
		return "macro F1"
	case regressionMetric:
		return "Spearman"
	}
	return metric
}

// Best returns the finished run with the highest value of its task's metric (TaskMetric); the
// earliest of equals; nil when none finished. runs are of one task. A metric a run left out as
// undefined (the correlation of constant predictions) counts as 0.
func Best(runs []*Run) *Run {
	var best *Run
	for _, r := range runs {
		if r.Status != Finished {
			continue
		}
		m := TaskMetric(r.Task)
		if best == nil || r.Metrics[m] > best.Metrics[m] {
			best = r
		}
	}
	return best
}

// Table lists runs side by side: name, task, model, status, the hyperparameters (learning
// rate, epochs or steps, batch, max length, warm-up, weight decay, scheduler, seed, evaluation
// interval), training examples, minutes and the validation metrics (a classifier's accuracy,
// macro F1 and F1 of the positive class, a regression run's RMSE and Spearman correlation, and
// the loss). ★ marks each task's best finished run (by TaskMetric); runs that did not finish say
// where they stopped. Settings the same for every run leave the table for a line under it, and
// metrics that no run has leave it altogether, so that the table shows what differs and fits a
// page.
func Table(runs []*Run) string {
	best := map[*Run]bool{}
	for _, task := range uniqueTasks(runs) {
		if b := Best(slices.DeleteFunc(slices.Clone(runs), func(r *Run) bool { return r.Task != task })); b != nil {
			best[b] = true
		}
	}
	f4 := func(r *Run, k string) string {
		if v, ok := r.Metrics[k]; ok {
			return strconv.FormatFloat(v, 'f', 4, 64)
		}
		return ""
	}
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	// settings are the columns that move under the table when every run has the same value.
	settings := []string{"task", "model", "status", "lr", "length", "batch", "max len", "warm-up", "weight decay", "scheduler", "seed", "eval every", "train"}
	columns := slices.DeleteFunc(append(slices.Clone(scoreColumns), metricColumn{"loss", "loss"}), func(c metricColumn) bool {
		return !slices.ContainsFunc(runs, func(r *Run) bool { _, ok := r.Metrics[c.key]; return ok })
	})
	header := append(append([]string{"run"}, settings...), "minutes")
	for _, c := range columns {
		header = append(header, c.name)
	}
	header = append(header, "best")
	var rows [][]string
	for _, r := range runs {
		c := r.Config
		length := strconv.Itoa(c.Epochs) + " ep"
		if c.MaxSteps > 0 {
			length = strconv.Itoa(c.MaxSteps) + " steps"
		}
		warmup := g(c.WarmupRatio)
		if c.WarmupSteps > 0 {
			warmup = strconv.Itoa(c.WarmupSteps) + " steps"
		}
		every := "epoch"
		if c.EvalEvery > 0 {
			every = strconv.Itoa(c.EvalEvery)
		}
		status := r.Status
		switch r.Status {
		case Running: // read back while running: it stopped without a word
			status = fmt.Sprintf("stopped at step %d/%d", r.Step, r.TotalSteps)
		case Interrupted, Failed:
			status = fmt.Sprintf("%s at step %d/%d", r.Status, r.Step, r.TotalSteps)
		}
		mark := ""
		if best[r] {
			mark = "★ best " + r.metricName(TaskMetric(r.Task))
		}
		row := []string{cmp.Or(r.Name, r.Model), r.Task, r.Model, status, g(c.LearningRate), length, strconv.Itoa(c.BatchSize),
			strconv.Itoa(r.MaxLength), warmup, g(c.WeightDecay), string(c.Scheduler), strconv.FormatUint(c.Seed, 10), every,
			strconv.Itoa(r.TrainExamples), strconv.FormatFloat(r.Seconds/60, 'f', 1, 64)}
		for _, col := range columns {
			row = append(row, f4(r, col.key))
		}
		rows = append(rows, append(row, mark))
	}
	var same []string
	for col := len(settings); col >= 1; col-- {
		if len(rows) == 0 || slices.ContainsFunc(rows, func(row []string) bool { return row[col] != rows[0][col] }) {
			continue
		}
		same = append([]string{header[col] + " " + rows[0][col]}, same...)
		header = slices.Delete(header, col, col+1)
		for i := range rows {
			rows[i] = slices.Delete(rows[i], col, col+1)
		}
	}
	table := plot.Table(header, rows)
	if len(same) > 0 {
		table += `<p style="font-family:sans-serif;font-size:13px;margin:2px 0 8px">Every run: ` + html.EscapeString(strings.Join(same, ", ")) + `.</p>`
	}
	return table
}

// metricColumn is a metric as the listings of runs name it, and its key in Run.Metrics.
type metricColumn struct{ name, key string }

// scoreColumns are the validation scores the listings of runs show (Table, Run.Scores): a
// classifier's, then a regression run's; a run has the one kind or the other.
var scoreColumns = []metricColumn{{"accuracy", "accuracy"}, {"macro F1", "macro_f1"}, {"F1 (positive)", "f1"},
	{"RMSE", "rmse"}, {"Spearman", "spearman"}}

// Scores lists the run's validation scores as Table names them, "accuracy 0.8000  macro F1
// 0.7000  F1 (positive) 0.6000" (a regression run's "RMSE 3.4000  Spearman 0.4000"): the
// command line's line per run.
func (r *Run) Scores() string {
	var parts []string
	for _, c := range scoreColumns {
		if v, ok := r.Metrics[c.key]; ok {
			parts = append(parts, c.name+" "+strconv.FormatFloat(v, 'f', 4, 64))
		}
	}
	return strings.Join(parts, "  ")
}

// ValidationCurves overlays the runs' validation curves by epoch, one line per run: the
// validation loss, and the metric of the task (TaskMetric) of the first run; two SVG charts
// (lab/display.RunsCurves shows them side by side), none for no runs. A run keeps its colour
// in both; runs without evaluations draw no line.
func ValidationCurves(runs []*Run) (loss, metric string) {
	if len(runs) == 0 {
		return "", ""
	}
	key := TaskMetric(runs[0].Task)
	var losses, scores []plot.Series
	for _, r := range runs {
		losses = append(losses, train.Curve(r.History, r.short(), "epoch", "eval_loss"))
		scores = append(scores, train.Curve(r.History, r.short(), "epoch", "eval_"+key))
	}
	tasks := strings.Join(uniqueTasks(runs), ", ")
	return plot.Lines(tasks+": validation loss", "epoch", losses...),
		plot.Lines(tasks+": validation "+runs[0].metricName(key), "epoch", scores...)
}

// uniqueTasks lists the tasks of runs in first-seen order.
func uniqueTasks(runs []*Run) []string {
	var tasks []string
	for _, r := range runs {
		if !slices.Contains(tasks, r.Task) {
			tasks = append(tasks, r.Task)
		}
	}
	return tasks
}
