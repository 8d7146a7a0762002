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

// runDataSummary loads a dataset as a training run would and prints its summary and notes.
func runDataSummary(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("data summary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	task := fs.String("task", "", "dataset: tweets, imdb, agnews, hf:OWNER/NAME or a .csv/.tsv/.jsonl/.parquet file")
	dir := fs.String("data", data.DefaultDir(), "data directory with the official layouts (env TUNELAB_DATA)")
	download := fs.Bool("download", true, "download a missing dataset from its official source into the data directory")
	text := fs.String("text", "text", "text column (files and hf: datasets)")
	label := fs.String("label", "label", "label column (files and hf: datasets)")
	labels := fs.String("labels", "", "comma-separated label names of a file, in id order (default: the values found)")
	keywordLocation := fs.Bool("keyword-location", false, "tweets: prefix each text with its keyword and location")
	cleanHTML := fs.Bool("clean-html", false, "imdb: replace <br /> tags and HTML entities")
	skipEmpty := fs.Bool("skip-empty", false, "skip (and count) rows with empty text instead of failing")
	validation := fs.Float64("validation", 0.1, "fraction of train held out for validation when the dataset has no validation split")
	seed := fs.Uint64("seed", 1, "seed of the derived splits, caps and limits")
	perLabel := fs.Int("per-label", 0, "keep at most this many examples per label in every split (0: all)")
	limit := fs.Int("limit", 0, "keep at most this many examples in every split, label proportions kept (0: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *task == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("want --task and no other arguments")
	}
	loader := data.NewLoader(*dir).WithDownload(*download).WithSeed(*seed).WithValidation(*validation).
		WithPerLabel(*perLabel).WithLimit(*limit).WithColumns(*text, *label).
		WithOptions(data.Options{KeywordLocation: *keywordLocation, CleanHTML: *cleanHTML, SkipEmpty: *skipEmpty})
	if *labels != "" {
		loader.WithLabels(strings.Split(*labels, ","))
	}
	d, err := loader.Load(ctx, *task)
	if err != nil {
		return err
	}
	return data.Summarize(d, nil, "").WriteTable(stdout)
}
