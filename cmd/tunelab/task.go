package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/tunelab/tunelab/lab/data"
)

// taskFlags are the dataset flags of every command that reads a task (train, eval, compare,
// data summary), with one set of defaults: a held-out 20% and seed 42, as the README's runs.
type taskFlags struct {
	task, dir, text, label                string
	problem, labelSep                     string
	download                              bool
	validation                            float64
	seed                                  uint64
	limit, perLabel, evalLimit            int
	keywordLocation, cleanHTML, skipEmpty bool
}

// register adds --task and the data flags (registerData).
func (tf *taskFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&tf.task, "task", "tweets", "tweets, imdb, imdb-rating (star ratings, regression), agnews, hf:OWNER/NAME, or a CSV/TSV/JSONL/Parquet file")
	tf.registerData(fs)
	fs.IntVar(&tf.evalLimit, "eval-limit", 0, "evaluate on at most this many held-out examples, label proportions kept (0: --limit's)")
	fs.StringVar(&tf.problem, "problem", "classification", "what a file task's label column holds: classification (a class name), regression (a number) or multilabel (a set of class names: a JSON list, or names joined by --label-sep)")
	fs.StringVar(&tf.labelSep, "label-sep", "", "multilabel: the separator of the class names in a label written as one string (\"a|b\")")
}

// registerData adds the flags of how tasks are read and split, for commands that name their
// tasks otherwise (compare --tasks).
func (tf *taskFlags) registerData(fs *flag.FlagSet) {
	fs.StringVar(&tf.dir, "data", "", "data directory with the official layouts (default $TUNELAB_DATA, else ../shared/data if present, else ./data)")
	fs.BoolVar(&tf.download, "download", true, "download a missing dataset from its official source into the data directory")
	fs.StringVar(&tf.text, "text", "text", "text column of a file or hf: task")
	fs.StringVar(&tf.label, "label", "label", "label column of a file or hf: task")
	fs.Float64Var(&tf.validation, "validation", 0.2, "fraction of the training data held out for validation where the task has no validation split")
	fs.Uint64Var(&tf.seed, "seed", 42, "seed of the split, caps and limits (train: also of the new head, the data order and dropout)")
	fs.IntVar(&tf.limit, "limit", 0, "keep at most this many examples per split, label proportions kept (0: all)")
	fs.IntVar(&tf.perLabel, "per-label", 0, "keep at most this many examples per label and split (0: all)")
	fs.BoolVar(&tf.keywordLocation, "keyword-location", false, "tweets: prefix each text with its keyword and location")
	fs.BoolVar(&tf.cleanHTML, "clean-html", false, "imdb: replace <br /> tags and HTML entities")
	fs.BoolVar(&tf.skipEmpty, "skip-empty", false, "skip (and count) rows with empty text instead of failing")
}

// loader returns the data loader the flags describe.
func (tf *taskFlags) loader() *data.Loader {
	return data.NewLoader(tf.dir).WithDownload(tf.download).WithSeed(tf.seed).WithValidation(tf.validation).
		WithLimit(tf.limit).WithPerLabel(tf.perLabel).WithColumns(tf.text, tf.label).
		WithOptions(data.Options{KeywordLocation: tf.keywordLocation, CleanHTML: tf.cleanHTML, SkipEmpty: tf.skipEmpty})
}

// load reads --task, printing the dataset's notes (derived splits, limits) to stderr.
func (tf *taskFlags) load(ctx context.Context, stderr io.Writer) (*data.Dataset, error) {
	problem, err := parseProblem(tf.problem)
	if err != nil {
		return nil, err
	}
	l := tf.loader()
	if problem != data.SingleLabel || tf.labelSep != "" {
		l = l.WithProblem(problem, tf.labelSep)
	}
	d, err := l.Load(ctx, tf.task)
	if err != nil {
		return nil, err
	}
	for _, note := range d.Notes {
		fmt.Fprintln(stderr, "note:", note)
	}
	return d, nil
}

// heldOut returns d's held-out split (validation, else test), capped at --eval-limit.
func (tf *taskFlags) heldOut(d *data.Dataset) (string, []data.Example, error) {
	name, examples, err := d.Labelled(data.Validation, data.Test)
	if err == nil && tf.evalLimit > 0 {
		examples = data.Limit(examples, tf.evalLimit, tf.seed)
	}
	return name, examples, err
}

// parseProblem reads --problem.
func parseProblem(s string) (data.Problem, error) {
	switch s {
	case "classification", "single_label_classification":
		return data.SingleLabel, nil
	case "regression":
		return data.Regression, nil
	case "multilabel", "multi_label_classification":
		return data.MultiLabel, nil
	}
	return "", fmt.Errorf("--problem %q: want classification, regression or multilabel", s)
}
