package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/tunelab/tunelab/lab/compare"
	"github.com/tunelab/tunelab/lab/runs"
)

func init() {
	register(command{name: "compare", summary: "fine-tune several models on several tasks with one recipe and write a results folder", run: runCompare})
}

func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts := compare.Defaults()
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	models := fs.String("models", strings.Join(opts.Models, ","), "comma-separated models (names under models/, directories or Hub ids)")
	taskNames := fs.String("tasks", "tweets,imdb,agnews", "comma-separated tasks")
	out := fs.String("out", "docs/results", "results folder")
	var tf taskFlags
	tf.registerData(fs)
	full := fs.Bool("full", false, "use every example and 256-token texts (for a GPU) instead of the CPU-sized slices")
	fs.Float64Var(&opts.Recipe.LearningRate, "lr", opts.Recipe.LearningRate, "peak learning rate")
	fs.IntVar(&opts.Recipe.Epochs, "epochs", opts.Recipe.Epochs, "epochs (tasks with their own setting keep it unless --full)")
	fs.IntVar(&opts.Recipe.BatchSize, "batch-size", opts.Recipe.BatchSize, "examples per step")
	fs.StringVar(&opts.Recipe.Devices, "devices", "", devicesUsage)
	trainLimit := fs.Int("train-limit", -1, "override every task's training examples (0: all)")
	evalLimit := fs.Int("eval-limit", -1, "override every task's held-out examples (0: all)")
	maxLength := fs.Int("max-length", 0, "override every task's max length (tokens)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts.Data, opts.Recipe.Seed = tf.loader(), tf.seed
	opts.Models = strings.Split(*models, ",")
	var tasks []compare.Task
	for _, name := range strings.Split(*taskNames, ",") {
		i := slices.IndexFunc(opts.Tasks, func(t compare.Task) bool { return t.Name == name })
		task := compare.Task{Name: name, MaxLength: 128}
		if i >= 0 {
			task = opts.Tasks[i]
		}
		if *full {
			task = compare.Task{Name: name, MaxLength: 256}
		}
		if *trainLimit >= 0 {
			task.TrainLimit = *trainLimit
		}
		if *evalLimit >= 0 {
			task.EvalLimit = *evalLimit
		}
		if *maxLength > 0 {
			task.MaxLength = *maxLength
		}
		tasks = append(tasks, task)
	}
	opts.Tasks = tasks
	opts.Progress = stderr
	command := "tunelab compare " + strings.Join(args, " ")
	// Write the folder after every run: a stopped comparison keeps what it finished.
	if _, _, err := compare.Run(ctx, opts, func(runs []*runs.Run, notes []string) error {
		return compare.Write(*out, command, notes, runs)
	}); err != nil {
		return err
	}
	results, err := os.ReadFile(*out + "/results.md")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nwritten to %s\n", results, *out)
	return nil
}
