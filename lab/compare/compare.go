// Package compare fine-tunes several pretrained models on several tasks with one recipe and
// writes a results folder: tables (Markdown, CSV, JSON), charts (SVG), confusion matrices and
// the most confident mistakes -- the "compare two or more pretrained models" part of the lab.
package compare

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/runs"
	"github.com/tunelab/tunelab/lab/train"
)

// Task is how one task is run: its data slices and the recipe's per-task changes.
type Task struct {
	Name string
	// MaxLength truncates texts (tokens).
	MaxLength int
	// TrainLimit and EvalLimit cap the training and held-out examples (0: all), sampled per
	// label with the seed so the label shares stay those of the full split.
	TrainLimit, EvalLimit int
	// Epochs overrides the recipe's epochs (0: keep).
	Epochs int
}

// Options describe a comparison.
type Options struct {
	Models []string
	Tasks  []Task
	// Recipe is the training configuration every run shares.
	Recipe train.Config
	// Data reads the tasks (data directory, validation fraction, ...); Run seeds it with
	// Recipe.Seed. Default: data.NewLoader("") with a held-out 20%.
	Data *data.Loader
	// Progress receives each run's progress bar and what the comparison is doing.
	Progress io.Writer
}

// Defaults is sized so that a 6-layer and a 12-layer model on the three tasks finish within an
// hour on a 2-core AVX2 CPU without AVX-512 (a few samples per second): slices of a few hundred
// examples per task (with 160 IMDB reviews a 6-layer model stayed near chance), short texts, and
// a recipe for few steps (lr 1e-4, batch 16, 2 epochs, weight decay 0.01,
// 10% warmup). Full-size runs (--full, for a GPU) use every example and longer texts.
func Defaults() Options {
	recipe := train.Defaults()
	recipe.LearningRate, recipe.BatchSize, recipe.WeightDecay, recipe.WarmupRatio, recipe.Epochs = 1e-4, 16, 0.01, 0.1, 2
	return Options{
		Models: []string{lab.DefaultModel, "bge-small-en-v1.5"},
		Tasks: []Task{
			{Name: "tweets", MaxLength: 48, TrainLimit: 640, EvalLimit: 400},
			{Name: "imdb", MaxLength: 128, TrainLimit: 480, EvalLimit: 400},
			{Name: "agnews", MaxLength: 48, TrainLimit: 640, EvalLimit: 400},
		},
		Recipe: recipe,
		Data:   data.NewLoader("").WithValidation(0.2),
	}
}

// Run fine-tunes every model on every task and returns the runs, task by task, with the notes
// the datasets carried (offline splits, limits). After each run, done (when not nil) receives
// the runs so far, so a long comparison can save what it has.
func Run(ctx context.Context, opts Options, done func(runs []*runs.Run, notes []string) error) (runs []*runs.Run, notes []string, err error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	for _, task := range opts.Tasks {
		d, err := opts.Data.WithSeed(opts.Recipe.Seed).Load(ctx, task.Name)
		if err != nil {
			return nil, nil, err
		}
		// Scored on the official test split where it is labelled (IMDB, AG News), else on the
		// validation split (the disaster tweets: Kaggle's test set has no labels).
		split, evalSet, err := d.Labelled(data.Test, data.Validation)
		if err != nil {
			return nil, nil, err
		}
		trainSet := d.Splits[data.Train]
		if task.TrainLimit > 0 {
			trainSet = data.Limit(trainSet, task.TrainLimit, opts.Recipe.Seed)
		}
		if task.EvalLimit > 0 {
			evalSet = data.Limit(evalSet, task.EvalLimit, opts.Recipe.Seed)
		}
		notes = append(notes, d.Notes...)
		notes = append(notes, fmt.Sprintf("%s: %d training examples, scored on %d examples of the %s split, max length %d tokens", d.Name, len(trainSet), len(evalSet), split, task.MaxLength))
		cfg := opts.Recipe
		if task.Epochs > 0 {
			cfg.Epochs = task.Epochs
		}
		for _, model := range opts.Models {
			fmt.Fprintf(progress, "fine-tuning %s on %s (%d examples)\n", model, d.Name, len(trainSet))
			run, err := fineTune(ctx, model, task, d, cfg, trainSet, evalSet, progress)
			if err != nil {
				return nil, nil, fmt.Errorf("%s on %s: %w", model, task.Name, err)
			}
			runs = append(runs, run)
			if done != nil {
				if err := done(runs, notes); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	return runs, notes, nil
}

func fineTune(ctx context.Context, model string, task Task, d *data.Dataset, cfg train.Config, trainSet, evalSet []data.Example, progress io.Writer) (*runs.Run, error) {
	clf, err := lab.Load(ctx, model, lab.WithLabels(d.Labels...), lab.WithMaxLength(task.MaxLength), lab.WithSeed(cfg.Seed))
	if err != nil {
		return nil, err
	}
	backend.Announce(progress, clf.Backend, clf.Model.MatmulDType())
	runDir, err := os.MkdirTemp("", "tunelab-compare-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(runDir)
	cfg.SaveTotalLimit = 1
	start := time.Now()
	res, err := clf.FineTune(ctx, cfg, trainSet, evalSet, filepath.Join(runDir, "run"), false, progress, nil)
	if err != nil {
		return nil, err
	}
	run, err := runs.NewRun(model, d.Name, clf.Labels, cfg, len(trainSet), evalSet, res, time.Since(start))
	if err != nil {
		return nil, err
	}
	run.MatmulDType = backend.DTypeName(clf.Model.MatmulDType())
	return run, nil
}
