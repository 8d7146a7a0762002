package runs

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/gomlx/compute/dtypes"

	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/train"
)

// Job is one fine-tuning run of a notebook: a pretrained model, a task's data and
// hyperparameters, and the folder of the notebook's runs.
type Job struct {
	// Model is a model name (under models/) or a checkpoint directory.
	Model string
	// Task names the data ("tweets", ...); Data holds its train and validation splits, and its
	// Problem the model's: a classifier of Data's labels, or a regression model (one output, as
	// transformers' num_labels=1 with problem_type "regression") of its examples' Values.
	Task string
	Data *data.Dataset
	// MaxLength truncates the texts (tokens).
	MaxLength int
	// Config holds the hyperparameters; its Seed also initialises the new head.
	Config train.Config
	// MatmulDType is the dtype of the encoder's matrix products (lab.WithMatmulDType; zero: the
	// engine's default, bfloat16 on XLA on a CPU with AMX or AVX512_BF16, else float32).
	MatmulDType dtypes.DType
	// Name names the run's folder (default: the model's name; see RunName); a name already
	// taken gets a suffix (-run2, -run3, ...).
	Name string
	// Dir holds the runs: this one goes to Dir/Task/Name with run/ (checkpoints and history),
	// model/ (the fine-tuned model, see lab.Classifier.SaveFineTuned) and run.json (the Run).
	Dir string
}

// FineTune runs job as a notebook's training cell does: load the model with a fresh head for
// the task's labels (one output for a regression task), make a new run folder, fine-tune, save
// the fine-tuned model and the Run. progress (nil: none) receives the run and its progress at
// every step and evaluation, with the run's Step up to date (lab/display.FineTune draws it
// live). The run's record is written first (Running) and again at every evaluation, so a run
// that stops half-way says so: an error or an interrupted kernel (GoNB sends the cell's program
// an interrupt, then kills it 5 s later) saves it as Failed or Interrupted, and the error is
// returned.
func FineTune(ctx context.Context, job Job, progress func(*Run, train.Progress)) (*Run, error) {
	trainSet, evalSet := job.Data.Splits[data.Train], job.Data.Splits[data.Validation]
	if len(trainSet) == 0 || len(evalSet) == 0 {
		return nil, fmt.Errorf("fine-tune %s on %s: need train and validation examples, have %d and %d", job.Model, job.Task, len(trainSet), len(evalSet))
	}
	if err := job.Config.Validate(); err != nil {
		return nil, err
	}
	clf, err := lab.Load(ctx, job.Model, lab.WithLabels(job.Data.Labels...), lab.WithProblem(lab.DatasetProblem(job.Data)),
		lab.WithMaxLength(job.MaxLength), lab.WithSeed(job.Config.Seed), lab.WithMatmulDType(job.MatmulDType))
	if err != nil {
		return nil, err
	}
	dir, err := newRunDir(filepath.Join(job.Dir, job.Task), cmp.Or(job.Name, filepath.Base(filepath.Clean(job.Model))))
	if err != nil {
		return nil, err
	}
	run := &Run{Name: filepath.Base(dir), Dir: dir, Model: job.Model, Task: job.Task, Labels: clf.Labels, Config: job.Config,
		MaxLength: clf.Tokenizer.MaxLength(), MatmulDType: backend.DTypeName(clf.Model.MatmulDType()), Status: Running, Started: time.Now(), TrainExamples: len(trainSet), Validation: evalSet}
	if err := run.Save(); err != nil {
		return nil, err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	backend.Announce(os.Stdout, clf.Backend, clf.Model.MatmulDType())
	devices, err := train.Devices(job.Config.Devices, clf.Backend)
	if err != nil {
		return nil, err
	}
	fmt.Printf("run %s (%s), on %s\n", run.Title(), dir, train.DescribeDevices(devices, clf.Backend))
	hook := func(p train.Progress) {
		run.Step, run.TotalSteps = p.Step, p.TotalSteps
		if progress != nil {
			progress(run, p)
		}
		if p.Eval != nil {
			run.Save() // progress so far, should the program be killed; the final Save reports errors
		}
	}
	res, err := clf.FineTune(ctx, job.Config, trainSet, evalSet, filepath.Join(dir, "run"), false, nil, hook)
	if err == nil {
		err = run.finish(res, time.Since(run.Started))
	}
	if err == nil {
		err = clf.SaveFineTuned(run.ModelDir(), job.Model, job.Task, job.Config, run.Metrics, evalSet)
	}
	if err != nil {
		run.Status, run.Error = Failed, err.Error()
		if ctx.Err() != nil {
			run.Status = Interrupted
		}
		run.Seconds = time.Since(run.Started).Seconds()
		if saveErr := run.Save(); saveErr != nil {
			return nil, fmt.Errorf("%v (and saving the run's record: %v)", err, saveErr)
		}
		return nil, run.Unfinished()
	}
	return run, run.Save()
}
