package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/gomlx/compute/dtypes"

	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/runs"
)

func init() {
	register(command{name: "predict", summary: "run a model on texts (--text, or one per line on stdin) and print JSON lines: {\"label\", \"scores\"}, {\"score\"} (regression) or {\"labels\", \"scores\"} (multi-label)", run: runPredict})
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// optionalBool is a boolean flag that tells whether it was given: unset leaves the choice to
// the default.
type optionalBool struct{ set, value bool }

func (b *optionalBool) IsBoolFlag() bool { return true }
func (b *optionalBool) String() string {
	if b == nil || !b.set {
		return ""
	}
	return strconv.FormatBool(b.value)
}
func (b *optionalBool) Set(v string) error {
	value, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	b.set, b.value = true, value
	return nil
}

// modelFlags are the flags of every command that loads a model.
type modelFlags struct {
	model, labels, backend, run string
	devices                     string
	maxLength                   int
	// bf16, when given, chooses bfloat16 or float32 matrix products over the engine's default.
	bf16 optionalBool
	// problem is the problem type the command needs (train and eval: the task's); "" keeps the
	// model's.
	problem hfmodel.ProblemType
	// fromRun is the run --run named, once loaded.
	fromRun *runs.Run
}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.model, "model", lab.DefaultModel, "model directory, name under models/, or Hugging Face Hub id")
	fs.StringVar(&m.labels, "labels", "", "comma-separated class names: needed for a model without a classification head; a head's default to config.json's id2label, else LABEL_0, LABEL_1, ... as in transformers")
	fs.StringVar(&m.backend, "backend", "", "compute engine: xla:cpu (default where its plugin is installed, else go), go, xla:cuda (or $GOMLX_BACKEND)")
	fs.IntVar(&m.maxLength, "max-length", 0, "truncate texts to this many tokens (default: the model's limit, at most 512)")
	fs.Var(&m.bf16, "bf16", "matrix products in bfloat16 with float32 weights and sums, on XLA engines only (default: on where XLA runs on a CPU with AMX or AVX512_BF16); --bf16=false computes in float32, as transformers does")
}

// registerRun adds --run, for the commands that use a fine-tuned model (predict, serve).
func (m *modelFlags) registerRun(fs *flag.FlagSet) {
	fs.StringVar(&m.run, "run", "", "instead of --model: a notebook run's folder (build/notebooks/TASK/NAME), its fine-tuned model with the run's max length; or a task's folder of runs (build/notebooks/TASK), its best finished run")
	fs.StringVar(&m.devices, "devices", "", devicesUsage)
}

// load loads the model; extra options (a head's seed) follow the flags' own.
func (m *modelFlags) load(ctx context.Context, stderr io.Writer, extra ...lab.Option) (*lab.Classifier, error) {
	if m.run != "" {
		r, err := runs.OpenRun(m.run)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "run %s: %s, texts truncated to %d tokens as in training\n", r.Title(), r.ModelDir(), r.MaxLength)
		m.model, m.fromRun = r.ModelDir(), r
		if m.maxLength == 0 {
			m.maxLength = r.MaxLength
		}
	}
	opts := []lab.Option{lab.WithBackend(m.backend), lab.WithMaxLength(m.maxLength), lab.WithProgress(stderr)}
	if m.labels != "" {
		opts = append(opts, lab.WithLabels(strings.Split(m.labels, ",")...))
	}
	if m.bf16.set {
		dtype := dtypes.Float32
		if m.bf16.value {
			dtype = dtypes.BFloat16
		}
		opts = append(opts, lab.WithMatmulDType(dtype))
	}
	if m.devices != "" {
		opts = append(opts, lab.WithDevices(m.devices))
	}
	if m.problem != "" {
		opts = append(opts, lab.WithProblem(m.problem))
	}
	clf, err := lab.Load(ctx, m.model, append(opts, extra...)...)
	if err != nil {
		return nil, err
	}
	backend.Announce(stderr, clf.Backend, clf.Model.MatmulDType())
	for _, note := range clf.Notes {
		fmt.Fprintln(stderr, "note:", note)
	}
	return clf, nil
}

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	mf.registerRun(fs)
	var texts stringList
	fs.Var(&texts, "text", "text to classify (repeatable); without it, texts are read from stdin, one per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: pass texts with --text or on stdin", fs.Args())
	}
	if len(texts) == 0 {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			texts = append(texts, sc.Text())
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
	}
	clf, err := mf.load(ctx, stderr)
	if err != nil {
		return err
	}
	preds, err := clf.Predict(ctx, texts)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, p := range preds {
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return nil
}
