package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tunelab/tunelab/lab/data"
)

func init() {
	register(command{name: "data", summary: "inspect datasets: `data summary --task tweets|imdb|agnews|hf:ID|FILE`", run: runData})
}

// runData dispatches the data subcommands (only summary so far).
func runData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "summary" {
		fmt.Fprintln(stderr, "usage: tunelab data summary --task tweets|imdb|agnews|hf:OWNER/NAME|FILE [flags]")
		return errors.New("want the subcommand summary")
	}
	return runDataSummary(ctx, args[1:], stdout, stderr)
}

// runDataSummary loads a dataset as a training run would (the same task flags and defaults)
// and prints its summary and notes.
func runDataSummary(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("data summary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tf taskFlags
	tf.register(fs)
	labels := fs.String("labels", "", "comma-separated label names of a file, in id order (default: the values found)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	loader := tf.loader()
	if *labels != "" {
		loader.WithLabels(strings.Split(*labels, ","))
	}
	d, err := loader.Load(ctx, tf.task)
	if err != nil {
		return err
	}
	return data.Summarize(d, nil, "").WriteTable(stdout)
}
