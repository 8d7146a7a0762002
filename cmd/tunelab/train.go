package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/train"
)

func init() {
	register(command{name: "train", summary: "fine-tune a model on a task and save it (--out DIR)", run: runTrain})
	register(command{name: "eval", summary: "evaluate a model on a task's held-out split", run: runEval})
}

// devicesUsage documents --devices.
const devicesUsage = "devices to split each batch across: all, a count N (the first N) or a list 0,1 (default: every GPU; one device on the CPU, whose XLA devices share the same cores)"

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	var tf taskFlags
	tf.register(fs)
	cfg := train.Defaults()
	cfg.LearningRate, cfg.Epochs, cfg.BatchSize, cfg.WeightDecay, cfg.WarmupRatio = 5e-5, 2, 16, 0.01, 0.1
	fs.Float64Var(&cfg.LearningRate, "lr", cfg.LearningRate, "peak learning rate")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "training epochs")
	fs.IntVar(&cfg.MaxSteps, "max-steps", 0, "stop after this many optimizer steps (overrides --epochs)")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "examples per step")
	fs.Float64Var(&cfg.WarmupRatio, "warmup-ratio", cfg.WarmupRatio, "fraction of steps with a rising learning rate")
	fs.IntVar(&cfg.WarmupSteps, "warmup-steps", 0, "warmup steps (overrides --warmup-ratio)")
	fs.Float64Var(&cfg.WeightDecay, "weight-decay", cfg.WeightDecay, "AdamW weight decay (not applied to biases and LayerNorm)")
	scheduler := fs.String("scheduler", string(cfg.Scheduler), "learning-rate schedule: linear, cosine or constant")
	fs.Float64Var(&cfg.MaxGradNorm, "max-grad-norm", cfg.MaxGradNorm, "clip gradients to this global norm (0: off)")
	fs.IntVar(&cfg.GradAccum, "grad-accum", cfg.GradAccum, "gradient accumulation steps")
	dropout := fs.Float64("dropout", -1, "override every dropout rate (default: config.json's)")
	fs.IntVar(&cfg.EvalEvery, "eval-every", 0, "evaluate every N steps (0: each epoch)")
	fs.IntVar(&cfg.SaveEvery, "save-every", 0, "checkpoint every N steps (0: each epoch)")
	fs.IntVar(&cfg.EarlyStopping, "early-stopping", 0, "stop after N evaluations without improvement (0: off)")
	fs.StringVar(&cfg.MetricForBest, "metric", cfg.MetricForBest, "metric picking the best checkpoint: loss, accuracy, macro_f1, f1; regression: mse, rmse, mae, r2, pearson, spearman; multilabel: subset_accuracy, hamming_loss, micro_f1, macro_f1, weighted_f1, samples_f1")
	fs.StringVar(&cfg.Devices, "devices", "", devicesUsage)
	out := fs.String("out", "", "directory for the fine-tuned model (required)")
	runDir := fs.String("run-dir", "", "directory for checkpoints and history (default OUT/run)")
	resume := fs.Bool("resume", false, "continue from the latest checkpoint in --run-dir")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("--out DIR is required")
	}
	cfg.Scheduler, cfg.Seed = train.Scheduler(*scheduler), tf.seed
	if *dropout >= 0 {
		cfg.Dropout = dropout
	}
	if *runDir == "" {
		*runDir = filepath.Join(*out, "run")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	ds, err := tf.load(ctx, stderr)
	if err != nil {
		return err
	}
	evalName, evalSet, err := tf.heldOut(ds)
	if err != nil {
		return err
	}
	if mf.labels == "" {
		mf.labels = strings.Join(ds.Labels, ",")
	}
	mf.problem = lab.DatasetProblem(ds)
	clf, err := mf.load(ctx, stderr, lab.WithSeed(cfg.Seed))
	if err != nil {
		return err
	}
	devices, err := train.Devices(cfg.Devices, clf.Backend)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "fine-tuning %s on %s: %d training examples, evaluating on %d (%s), on %s\n", mf.model, ds.Name, len(ds.Splits["train"]), len(evalSet), evalName, train.DescribeDevices(devices, clf.Backend))
	result, err := clf.FineTune(ctx, cfg, ds.Splits["train"], evalSet, *runDir, *resume, stderr, nil)
	if err != nil {
		return err
	}
	if result.Stopped != "" {
		fmt.Fprintln(stderr, "stopped:", result.Stopped)
	}
	metrics := result.Eval.Metrics()
	if err := clf.SaveFineTuned(*out, mf.model, ds.Name, cfg, metrics, evalSet); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "saved %s\n", *out)
	fmt.Fprintln(stdout, result.Eval.Text(4))
	return nil
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	var tf taskFlags
	tf.register(fs)
	asJSON := fs.Bool("json", false, "print the metrics report as JSON, with the split, its size and the loss")
	devicesFlag := fs.String("devices", "", devicesUsage)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ds, err := tf.load(ctx, stderr)
	if err != nil {
		return err
	}
	name, examples, err := tf.heldOut(ds)
	if err != nil {
		return err
	}
	mf.problem = lab.DatasetProblem(ds)
	clf, err := mf.load(ctx, stderr)
	if err != nil {
		return err
	}
	devices, err := train.Devices(*devicesFlag, clf.Backend)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "evaluating on %s\n", train.DescribeDevices(devices, clf.Backend))
	ev, err := clf.Evaluate(ctx, examples, *devicesFlag)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeEvalJSON(stdout, name, len(examples), ev)
	}
	fmt.Fprintf(stdout, "%s on %s (%s split, %d examples): loss %.4f\n\n%s\n", mf.model, ds.Name, name, len(examples), ev.Loss, ev.Text(4))
	return nil
}

// writeEvalJSON writes the report of ev (classification, regression or multi-label) as one
// JSON object with the split, its size and the loss added.
func writeEvalJSON(w io.Writer, split string, examples int, ev *train.Eval) error {
	var report any = ev.Report
	switch {
	case ev.Regression != nil:
		report = ev.Regression
	case ev.MultiLabel != nil:
		report = ev.MultiLabel
	}
	data, err := json.Marshal(report)
	if err != nil {
		return err
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		return err
	}
	out["split"], out["examples"], out["loss"] = split, examples, ev.Loss
	return json.NewEncoder(w).Encode(out)
}
