package runs

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/internal/xmltest"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/metrics"
	"github.com/tunelab/tunelab/lab/train"
)

var tweetLabels = []string{"not disaster", "disaster"}

// savedRun writes a finished run of model on task, named name, under dir as FineTune leaves it
// (dir/task/name/run.json), started at minute start of the day: its validation examples have
// the classes truth (ids into labels) and the model predicted preds.
func savedRun(t *testing.T, dir, task, model, name string, labels []string, cfg train.Config, start int, truth, preds []int) *Run {
	t.Helper()
	val := make([]data.Example, len(truth))
	yTrue, yPred := make([]string, len(truth)), make([]string, len(truth))
	probs := make([][]float32, len(truth))
	for i := range truth {
		val[i] = data.Example{ID: fmt.Sprint(i), Text: fmt.Sprintf("text %d", i), Label: labels[truth[i]]}
		yTrue[i], yPred[i] = labels[truth[i]], labels[preds[i]]
		probs[i] = make([]float32, len(labels))
		probs[i][preds[i]] = 1
	}
	ev := metrics.New[string]().WithLabels(labels...)
	if len(labels) == 2 {
		ev = ev.WithPosLabel(labels[1])
	}
	rep, err := ev.Report(yTrue, yPred)
	if err != nil {
		t.Fatal(err)
	}
	res := &train.Result{Eval: &train.Eval{Loss: 0.4, Predictions: preds, Probabilities: probs, Report: rep}}
	res.Step, res.TotalSteps = 40, 40
	res.History = []train.Record{{"step": 20, "epoch": 0.5, "eval_loss": 0.6, "eval_accuracy": 0.6, "eval_f1": 0.5}, {"step": 40, "epoch": 1, "eval_loss": 0.4, "eval_accuracy": rep.Accuracy, "eval_f1": 0.6}}
	r, err := NewRun(model, task, labels, cfg, 100, val, res, 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r.MaxLength = 64
	return saveAs(t, r, dir, name, start)
}

// saveAs writes r as FineTune leaves it, named name under dir (dir/TASK/name/run.json), started
// at minute start of the day.
func saveAs(t *testing.T, r *Run, dir, name string, start int) *Run {
	t.Helper()
	r.Name, r.Dir = name, filepath.Join(dir, r.Task, name)
	r.Started = time.Date(2026, 11, 29, 10, start, 0, 0, time.UTC)
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	return r
}

// classes returns n class ids: the first k are 1, the rest 0.
func classes(n, k int) []int {
	ids := make([]int, n)
	for i := range k {
		ids[i] = 1
	}
	return ids
}

// flip returns ids with the classes of the first k examples swapped (two classes).
func flip(ids []int, k int) []int {
	out := slices.Clone(ids)
	for i := range k {
		out[i] = 1 - out[i]
	}
	return out
}

func TestRunName(t *testing.T) {
	fs := flag.NewFlagSet("cell", flag.ContinueOnError)
	fs.Float64("lr", 5e-5, "")
	fs.Int("epochs", 1, "")
	fs.Float64("warmup", 0.1, "")
	fs.String("scheduler", "linear", "")
	name := fs.String("name", "", "")
	if got := RunName("all-MiniLM-L6-v2", fs); got != "all-MiniLM-L6-v2" {
		t.Errorf("defaults: %q, want the model's name", got)
	}
	if err := fs.Parse([]string{"--lr=1e-4", "--epochs=1", "--warmup=0.06", "--scheduler=cosine"}); err != nil {
		t.Fatal(err)
	}
	// --epochs=1 is the default: not in the name. Flags come by name.
	if got, want := RunName("models/all-MiniLM-L6-v2/", fs), "all-MiniLM-L6-v2-lr1e-4-scheduler-cosine-warmup0.06"; got != want {
		t.Errorf("RunName = %q, want %q", got, want)
	}
	*name = "my best try"
	if got := RunName("all-MiniLM-L6-v2", fs); got != "my best try" {
		t.Errorf("with --name: %q, want the name given", got)
	}
	for v, want := range map[string]string{"5e-05": "5e-5", "0.0001": "1e-4", "2.5e-06": "2.5e-6", "0.06": "0.06", "128": "128", "0": "0", "cosine": "-cosine"} {
		if got := compactValue(v); got != want {
			t.Errorf("compactValue(%q) = %q, want %q", v, got, want)
		}
	}
}

// TestNewRunDirNeverOverwrites: a name already taken gets the next suffix, and the earlier
// run's files stay.
func TestNewRunDirNeverOverwrites(t *testing.T) {
	tasks := filepath.Join(t.TempDir(), "tweets")
	var dirs []string
	for range 3 {
		dir, err := newRunDir(tasks, "m-lr1e-4")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, RunFile), []byte(dir), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, filepath.Base(dir))
	}
	if want := []string{"m-lr1e-4", "m-lr1e-4-run2", "m-lr1e-4-run3"}; !slices.Equal(dirs, want) {
		t.Errorf("folders %q, want %q", dirs, want)
	}
	if b, _ := os.ReadFile(filepath.Join(tasks, "m-lr1e-4", RunFile)); string(b) != filepath.Join(tasks, "m-lr1e-4") {
		t.Errorf("the first run's file was overwritten: %q", b)
	}
	for _, bad := range []string{"", "..", "a/b"} {
		if _, err := newRunDir(tasks, bad); err == nil {
			t.Errorf("newRunDir(%q): no error", bad)
		}
	}
}

// TestRunsOfATask writes three runs on the tweets (two learning rates of one model, a second
// model) and one stopped half-way, and reads them as the notebooks' later cells do.
func TestRunsOfATask(t *testing.T) {
	dir := t.TempDir()
	cfg := train.Defaults()
	truth := classes(20, 8) // 8 disasters of 20
	// F1 of "disaster": a misses 4 of 8 (tp 4, fn 4: 4/6 = 0.667); b misses 2 (tp 6, fn 2: 0.857);
	// c misses 3 and calls 2 non-disasters disasters (tp 5, fn 3, fp 2: 10/15 = 0.667).
	a := savedRun(t, dir, data.Tweets, "all-MiniLM-L6-v2", "all-MiniLM-L6-v2", tweetLabels, cfg, 0, truth, flip(truth, 4))
	cfg.LearningRate = 1e-4
	b := savedRun(t, dir, data.Tweets, "all-MiniLM-L6-v2", "all-MiniLM-L6-v2-lr1e-4", tweetLabels, cfg, 10, truth, flip(truth, 2))
	cPreds := flip(truth, 3)
	cPreds[18], cPreds[19] = 1, 1
	c := savedRun(t, dir, data.Tweets, "bge-small-en-v1.5", "bge-small-en-v1.5", tweetLabels, train.Defaults(), 20, truth, cPreds)
	savedRun(t, dir, data.IMDB, "all-MiniLM-L6-v2", "all-MiniLM-L6-v2", []string{"neg", "pos"}, cfg, 5, truth, truth)
	// The bge run started again with another seed and was interrupted at step 12 of 40.
	stopped := &Run{Name: "bge-small-en-v1.5-seed7", Dir: filepath.Join(dir, data.Tweets, "bge-small-en-v1.5-seed7"), Model: "bge-small-en-v1.5",
		Task: data.Tweets, Labels: tweetLabels, Config: cfg, MaxLength: 64, Status: Interrupted, Error: "context canceled",
		Started: time.Date(2026, 11, 29, 10, 30, 0, 0, time.UTC), Step: 12, TotalSteps: 40}
	if err := os.MkdirAll(stopped.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := stopped.Save(); err != nil {
		t.Fatal(err)
	}

	runs, err := LoadRuns(dir, data.Tweets)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range runs {
		names = append(names, r.Name)
	}
	if want := []string{"all-MiniLM-L6-v2", "all-MiniLM-L6-v2-lr1e-4", "bge-small-en-v1.5", "bge-small-en-v1.5-seed7"}; !slices.Equal(names, want) {
		t.Errorf("LoadRuns: %q, want %q (by start time)", names, want)
	}
	if all, _ := LoadRuns(dir, ""); len(all) != 5 || all[0].Task != data.IMDB {
		t.Errorf("LoadRuns of every task: %d runs, first on %s; want 5, IMDB first", len(all), all[0].Task)
	}

	if r, err := Latest(dir, data.Tweets, "all-MiniLM-L6-v2"); err != nil || r.Name != b.Name {
		t.Errorf("Latest MiniLM: %v, %v; want %s", r, err, b.Name)
	}
	// The newest bge run stopped: Latest says so instead of returning the older one.
	if _, err := Latest(dir, data.Tweets, "bge-small-en-v1.5"); err == nil ||
		!strings.Contains(err.Error(), "tweets/bge-small-en-v1.5-seed7 did not finish: interrupted after step 12 of 40 (context canceled)") {
		t.Errorf("Latest bge: error %v, want the interrupted run's", err)
	}
	if _, err := Latest(dir, data.Tweets, "e5-small-v2"); err == nil {
		t.Error("Latest of a model without runs: no error")
	}

	if got := Best(runs); got == nil || got.Name != b.Name {
		t.Errorf("Best = %v, want %s (F1 0.857)", got, b.Name)
	}
	if got, err := Chosen(dir, data.Tweets, ""); err != nil || got.Name != b.Name || got.MaxLength != 64 {
		t.Errorf("Chosen best: %v, %v", got, err)
	}
	if got, err := Chosen(dir, data.Tweets, a.Name); err != nil || got.Name != a.Name {
		t.Errorf("Chosen %s: %v, %v", a.Name, got, err)
	}
	if _, err := Chosen(dir, data.Tweets, stopped.Name); err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Errorf("Chosen of the interrupted run: error %v", err)
	}
	if _, err := Chosen(dir, data.Tweets, "no-such-run"); err == nil || !strings.Contains(err.Error(), "no run tweets/no-such-run") {
		t.Errorf("Chosen of a missing run: error %v", err)
	}

	if got, err := OpenRun(filepath.Join(dir, data.Tweets)); err != nil || got.Name != b.Name {
		t.Errorf("OpenRun of the task's folder: %v, %v; want its best run %s", got, err, b.Name)
	}
	if got, err := OpenRun(a.Dir); err != nil || got.Name != a.Name {
		t.Errorf("OpenRun of a run's folder: %v, %v", got, err)
	}
	if _, err := OpenRun(stopped.Dir); err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Errorf("OpenRun of the interrupted run: error %v", err)
	}
	if _, err := OpenRun(filepath.Join(dir, "nowhere")); err == nil || !strings.Contains(err.Error(), "not a run's folder") {
		t.Errorf("OpenRun of a missing folder: error %v", err)
	}

	// The table: one row per run, what differs side by side (the learning rate, the model), the best
	// marked, the stopped run's place; what every run shares in a line under it.
	doc := Table(runs)
	table := tableByHeader(t, doc)
	if len(table) != 4 {
		t.Fatalf("%d rows, want 4", len(table))
	}
	for i, want := range []struct{ name, model, lr, status, f1, best string }{
		{a.Name, a.Model, "5e-05", Finished, "0.6667", ""},
		{b.Name, b.Model, "0.0001", Finished, "0.8571", "★ best F1 of disaster"},
		{c.Name, c.Model, "5e-05", Finished, "0.6667", ""},
		{stopped.Name, stopped.Model, "0.0001", "interrupted at step 12/40", "", ""},
	} {
		row := table[i]
		if got := (struct{ name, model, lr, status, f1, best string }{row["run"], row["model"], row["lr"], row["status"], row["F1 (positive)"], row["best"]}); got != want {
			t.Errorf("row %d: %+v, want %+v", i, got, want)
		}
	}
	if _, ok := table[0]["RMSE"]; ok {
		t.Errorf("a table of classifiers has a regression's RMSE column: %v", table[0])
	}
	if _, ok := table[0]["max len"]; ok || !strings.Contains(doc, "Every run: task tweets, length 3 ep, batch 8, max len 64, warm-up 0, weight decay 0, scheduler linear, seed 42, eval every epoch.") {
		t.Errorf("the settings every run shares are not in a line under the table:\n%s", doc)
	}

	// The curves: a line per finished run in both charts (the stopped one has no evaluation).
	loss, metric := ValidationCurves(runs)
	for _, chart := range []string{loss, metric} {
		xmltest.Parse(t, chart)
		if n := strings.Count(chart, "<polyline"); n != 3 {
			t.Errorf("%d lines, want 3 (one per finished run):\n%s", n, chart)
		}
		for _, name := range []string{a.Name, b.Name, c.Name} {
			if !strings.Contains(chart, ">"+name+"</text>") {
				t.Errorf("legend lacks %s", name)
			}
		}
	}
}

// tableRows returns the cell texts of an HTML table's body rows.
func tableRows(t *testing.T, doc string) [][]string {
	t.Helper()
	var rows [][]string
	for _, e := range xmltest.Parse(t, doc) {
		switch e.Name {
		case "tr":
			rows = append(rows, nil)
		case "th", "td":
			rows[len(rows)-1] = append(rows[len(rows)-1], e.Text)
		}
	}
	return rows[1:] // the header row
}

// tableByHeader returns the body rows of an HTML table as maps from the header's names.
func tableByHeader(t *testing.T, doc string) []map[string]string {
	t.Helper()
	var header []string
	var rows []map[string]string
	for _, e := range xmltest.Parse(t, doc) {
		switch e.Name {
		case "th":
			header = append(header, e.Text)
		case "tr":
			rows = append(rows, map[string]string{})
		case "td":
			row := rows[len(rows)-1]
			row[header[len(row)]] = e.Text
		}
	}
	return rows[1:] // the header row
}

// TestScoresTable: on 200 examples, model a is right on all and b on half (a difference far
// beyond the noise); on IMDB they differ on 2 examples of 200 (within it).
func TestScoresTable(t *testing.T) {
	dir := t.TempDir()
	cfg := train.Defaults()
	truth := classes(200, 100)
	savedRun(t, dir, data.Tweets, "a", "a", tweetLabels, cfg, 0, truth, truth)
	savedRun(t, dir, data.Tweets, "b", "b", tweetLabels, cfg, 1, truth, flip(truth, 50))
	savedRun(t, dir, data.Tweets, "b", "b-lr1e-4", tweetLabels, cfg, 2, truth, flip(truth, 100)) // worse: not b's best
	imdb := []string{"neg", "pos"}
	savedRun(t, dir, data.IMDB, "a", "a", imdb, cfg, 3, truth, flip(truth, 20))
	savedRun(t, dir, data.IMDB, "b", "b", imdb, cfg, 4, truth, flip(truth, 22))
	runs, err := LoadRuns(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	scores, diffs, err := CompareModels(runs)
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != 4 || len(diffs) != 2 {
		t.Fatalf("%d scores and %d differences, want 4 and 2", len(scores), len(diffs))
	}
	for _, s := range scores {
		// The bootstrap's statistic on the whole sample is the run's own metric.
		if want := s.Run.Metrics[TaskMetric(s.Task)]; abs(s.Value-want) > 1e-12 || s.Low > s.Value || s.High < s.Value || s.Resamples != 9999 {
			t.Errorf("%s on %s: %+v, want value %g inside its interval, 9999 resamples", s.Model, s.Task, s.Interval, want)
		}
		if s.Task == data.Tweets && s.Model == "b" && (s.Run.Name != "b" || s.Finished != 2) {
			t.Errorf("b on tweets: run %s of %d, want its best run b of 2", s.Run.Name, s.Finished)
		}
	}
	byTask := map[string]ModelDifference{}
	for _, d := range diffs {
		byTask[d.Task] = d
	}
	if d := byTask[data.Tweets]; d.Better != "a" || !d.Paired || !d.Excludes(0) || !strings.Contains(d.Sentence(), "larger than the noise") {
		t.Errorf("tweets: %+v: %s", d, d.Sentence())
	}
	// IMDB: a is right on 180, b on 178: +0.010, the 2 examples where they differ decide.
	if d := byTask[data.IMDB]; d.Better != "a" || abs(d.Value-0.01) > 1e-12 || d.Excludes(0) || !strings.Contains(d.Sentence(), "within the noise") {
		t.Errorf("imdb: %+v: %s", d, d.Sentence())
	}
	doc, err := ScoresTable(runs)
	if err != nil {
		t.Fatal(err)
	}
	rows := tableRows(t, doc)
	if len(rows) != 2 || rows[1][0] != data.Tweets || rows[1][1] != "F1 of disaster" || rows[1][2] != "200" ||
		!strings.HasPrefix(rows[1][3], "1.000 [1.000, 1.000]") || !strings.HasSuffix(rows[1][4], "(best of 2 runs)") || rows[0][1] != "accuracy" {
		t.Errorf("scores table rows %q", rows)
	}
}

func abs(x float64) float64 { return max(x, -x) }

// TestFineTuneStoppedHalfWay runs FineTune on the real default model and stops it: cancelled
// once its record is written (as an interrupted kernel does), the run is saved as Interrupted,
// and a second try gets its own folder; a label the model lacks fails it, saved as Failed.
func TestFineTuneStoppedHalfWay(t *testing.T) {
	model := testenv.ModelDir(t, lab.DefaultModel)
	dir := t.TempDir()
	ds := &data.Dataset{Name: data.Tweets, Labels: tweetLabels, Splits: map[string][]data.Example{
		data.Train:      {{ID: "1", Text: "forest fire", Label: "disaster"}, {ID: "2", Text: "I love fruits", Label: "not disaster"}},
		data.Validation: {{ID: "3", Text: "flood warning", Label: "disaster"}},
	}}
	cfg := train.Defaults()
	cfg.MaxSteps, cfg.BatchSize = 4, 2
	job := Job{Model: model, Task: data.Tweets, Data: ds, MaxLength: 16, Config: cfg, Dir: dir}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // cancel as soon as the run's record exists
		for {
			if _, err := os.Stat(filepath.Join(dir, data.Tweets, lab.DefaultModel, RunFile)); err == nil {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	if _, err := FineTune(ctx, job, nil); err == nil || !strings.Contains(err.Error(), "did not finish: interrupted") {
		t.Fatalf("cancelled FineTune: error %v", err)
	}
	r, err := LoadRun(filepath.Join(dir, data.Tweets, lab.DefaultModel))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != Interrupted || r.MaxLength != 16 || r.Eval != nil || !strings.Contains(r.Error, "context canceled") {
		t.Errorf("interrupted run's record: status %s, max length %d, error %q", r.Status, r.MaxLength, r.Error)
	}

	ds.Splits[data.Validation] = append(ds.Splits[data.Validation], data.Example{ID: "4", Text: "hmm", Label: "maybe"})
	if _, err := FineTune(context.Background(), job, nil); err == nil || !strings.Contains(err.Error(), "did not finish: failed") {
		t.Fatalf("FineTune with an unknown label: error %v", err)
	}
	r, err = LoadRun(filepath.Join(dir, data.Tweets, lab.DefaultModel+"-run2"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != Failed || !strings.Contains(r.Error, `label "maybe"`) {
		t.Errorf("failed run's record: status %s, error %q", r.Status, r.Error)
	}
	if _, err := Latest(dir, data.Tweets, model); err == nil || !strings.Contains(err.Error(), "-run2 did not finish: failed") {
		t.Errorf("Latest after the failed run: %v", err)
	}
}

// TestRunStoppedWithoutAWord: a record still saying running when read (its program was killed
// after an evaluation at step 3) reads as stopped there, with no results.
func TestRunStoppedWithoutAWord(t *testing.T) {
	dir := t.TempDir()
	r := &Run{Name: "m", Dir: filepath.Join(dir, data.Tweets, "m"), Model: "m", Task: data.Tweets, Labels: tweetLabels,
		Config: train.Defaults(), Status: Running, Step: 3, TotalSteps: 40}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := r.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := Latest(dir, data.Tweets, "m"); err == nil || !strings.Contains(err.Error(), "stopped after step 3 of 40 without a word") {
		t.Errorf("Latest: error %v", err)
	}
	runs, err := LoadRuns(dir, data.Tweets)
	if err != nil {
		t.Fatal(err)
	}
	doc := Table(runs)
	if !strings.Contains(doc, "status stopped at step 3/40") || tableByHeader(t, doc)[0]["accuracy"] != "" {
		t.Errorf("want status \"stopped at step 3/40\" and no accuracy:\n%s", doc)
	}
	if got := Best(runs); got != nil {
		t.Errorf("Best of an unfinished run: %s", got.Name)
	}
}
