package display

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/train"
)

// Job is one fine-tuning run of a notebook: a pretrained model, a task's data and
// hyperparameters, and the folder its outputs go to.
type Job struct {
	// Model is a model name (under models/) or a checkpoint directory.
	Model string
	// Task names the data ("tweets", ...); Data holds its train and validation splits.
	Task string
	Data *data.Dataset
	// MaxLength truncates the texts (tokens).
	MaxLength int
	Config    train.Config
	// Dir receives run/ (checkpoints and history), model/ (the fine-tuned model, see
	// lab.Classifier.SaveFineTuned) and run.json (the Run).
	Dir string
}

// FineTune runs job as a notebook's training cell does: load the model with a fresh head for
// the task's labels, fine-tune with a Live display, save the fine-tuned model and the Run.
func FineTune(ctx context.Context, job Job) (*Run, error) {
	trainSet, evalSet := job.Data.Splits[data.Train], job.Data.Splits[data.Validation]
	if len(trainSet) == 0 || len(evalSet) == 0 {
		return nil, fmt.Errorf("fine-tune %s on %s: need train and validation examples, have %d and %d", job.Model, job.Task, len(trainSet), len(evalSet))
	}
	clf, err := lab.Load(ctx, job.Model, lab.WithLabels(job.Data.Labels...), lab.WithMaxLength(job.MaxLength))
	if err != nil {
		return nil, err
	}
	// A fresh run each time: resuming a run with other data or hyperparameters would mix them.
	if err := os.RemoveAll(filepath.Join(job.Dir, "run")); err != nil {
		return nil, err
	}
	backend.Announce(os.Stdout, clf.Backend)
	devices, err := train.Devices(job.Config.Devices, clf.Backend)
	if err != nil {
		return nil, err
	}
	fmt.Printf("fine-tuning on %s\n", train.DescribeDevices(devices, clf.Backend))
	live := NewLive(fmt.Sprintf("%s on %s", job.Model, job.Task))
	live.Text = os.Stdout
	start := time.Now()
	res, err := clf.FineTune(ctx, job.Config, trainSet, evalSet, filepath.Join(job.Dir, "run"), false, nil, live.Update)
	live.Finish()
	if err != nil {
		return nil, err
	}
	run, err := NewRun(job.Model, job.Task, clf.Labels, job.Config, len(trainSet), evalSet, res, time.Since(start))
	if err != nil {
		return nil, err
	}
	if err := clf.SaveFineTuned(filepath.Join(job.Dir, "model"), job.Model, job.Task, job.Config, run.Metrics); err != nil {
		return nil, err
	}
	return run, run.Save(filepath.Join(job.Dir, "run.json"))
}
