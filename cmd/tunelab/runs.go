package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tunelab/tunelab/lab/runs"
)

func init() {
	register(command{name: "runs", summary: "list the notebooks' runs (`runs build/notebooks`) and compare the models with confidence intervals", run: runRuns})
}

// runRuns lists the runs in the notebooks' run folders (DIR/TASK/NAME/run.json), best marked, and
// the tasks x models scores with their 95% bootstrap intervals; --html writes the two tables for
// the lab report's title page.
func runRuns(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("runs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tunelab runs [--task TASK] [--html] DIR...\n\nDIR is a folder of notebook runs (build/notebooks, $TUNELAB_OUT), a subfolder per task.")
		fs.PrintDefaults()
	}
	task := fs.String("task", "", "only this task's runs")
	asHTML := fs.Bool("html", false, "print the runs table and the scores table as HTML")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("want at least one DIR")
	}
	var all []*runs.Run
	for _, dir := range fs.Args() {
		rs, err := runs.LoadRuns(dir, *task)
		if err != nil {
			return err
		}
		all = append(all, rs...)
	}
	if *asHTML {
		scores, err := runs.ScoresTable(all)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "<h2>Runs (validation split)</h2>\n<div class=\"runs\">%s</div>\n<h2>Models compared (95%% confidence intervals)</h2>\n%s\n", runs.Table(all), scores)
		return nil
	}
	if len(all) == 0 {
		fmt.Fprintf(stdout, "no runs in %s\n", strings.Join(fs.Args(), ", "))
		return nil
	}
	byTask := map[string][]*runs.Run{}
	for _, r := range all {
		byTask[r.Task] = append(byTask[r.Task], r)
	}
	best := map[*runs.Run]bool{}
	for _, rs := range byTask {
		if b := runs.Best(rs); b != nil {
			best[b] = true
		}
	}
	for _, r := range all {
		line := fmt.Sprintf("%-48s %-12s", r.Title(), r.Status)
		if err := r.Unfinished(); err != nil {
			line += fmt.Sprintf(" after step %d of %d %s", r.Step, r.TotalSteps, r.Error)
		} else {
			line += " " + r.Scores()
		}
		if best[r] {
			line += "  (best)"
		}
		fmt.Fprintln(stdout, strings.TrimRight(line, " "))
	}
	_, diffs, err := runs.CompareModels(all)
	if err != nil {
		return err
	}
	for _, d := range diffs {
		fmt.Fprintln(stdout, d.Sentence())
	}
	return nil
}
