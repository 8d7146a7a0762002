package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/gomlx/compute/dtypes"

	"github.com/tunelab/tunelab/internal/atomicfile"
	"github.com/tunelab/tunelab/internal/yamlstr"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/train"
)

// encode tokenizes labelled examples for the classifier: class ids from Label for a
// single-label classifier, the Value for a regression model, multi-hot rows from LabelSet for a
// multi-label one, label names mapped to the classifier's ids.
func (c *Classifier) encode(examples []data.Example) (*train.Dataset, error) {
	ids := make(map[string]int, len(c.Labels))
	for i, l := range c.Labels {
		ids[l] = i
	}
	id := func(ex data.Example, label string) (int, error) {
		i, ok := ids[label]
		if !ok {
			return 0, fmt.Errorf("example %q has label %q, which the model does not have (labels %q)", ex.ID, label, c.Labels)
		}
		return i, nil
	}
	texts := data.Texts(examples)
	switch c.Problem {
	case hfmodel.Regression:
		targets := make([][]float32, len(examples))
		for i, ex := range examples {
			targets[i] = []float32{float32(ex.Value)}
		}
		return train.EncodeTargets(c.Tokenizer, texts, targets)
	case hfmodel.MultiLabel:
		targets := make([][]float32, len(examples))
		for i, ex := range examples {
			targets[i] = make([]float32, len(c.Labels))
			for _, label := range ex.LabelSet {
				j, err := id(ex, label)
				if err != nil {
					return nil, err
				}
				targets[i][j] = 1
			}
		}
		return train.EncodeTargets(c.Tokenizer, texts, targets)
	}
	labels := make([]int, len(examples))
	for i, ex := range examples {
		var err error
		if labels[i], err = id(ex, ex.Label); err != nil {
			return nil, err
		}
	}
	return train.Encode(c.Tokenizer, texts, labels)
}

// DatasetProblem is the problem type of a model trained on d: d's Problem, or single-label
// classification, which data names "" and config.json "single_label_classification".
func DatasetProblem(d *data.Dataset) hfmodel.ProblemType {
	if d.Problem == data.SingleLabel {
		return hfmodel.SingleLabel
	}
	return hfmodel.ProblemType(d.Problem)
}

// FineTune trains the classifier on trainSet, evaluating on evalSet, with checkpoints in runDir
// (resumed from its latest checkpoint when resume is set). progress receives the progress bar
// (nil: none); hook, when not nil, receives every logged step (notebooks draw live plots with it).
func (c *Classifier) FineTune(ctx context.Context, cfg train.Config, trainSet, evalSet []data.Example, runDir string, resume bool, progress io.Writer, hook func(train.Progress)) (*train.Result, error) {
	trainData, err := c.encode(trainSet)
	if err != nil {
		return nil, fmt.Errorf("training set: %w", err)
	}
	evalData, err := c.encode(evalSet)
	if err != nil {
		return nil, fmt.Errorf("evaluation set: %w", err)
	}
	t, err := train.New(c.Backend, c.Model, c.Store, c.Labels, cfg)
	if err != nil {
		return nil, err
	}
	if progress != nil {
		t.WithProgress(progress)
	}
	if hook != nil {
		t.WithHook(hook)
	}
	c.mu.Lock() // training replaces the weights that Probabilities reads
	defer c.mu.Unlock()
	if resume {
		return t.Resume(ctx, runDir, trainData, evalData)
	}
	return t.Train(ctx, runDir, trainData, evalData)
}

// Evaluate scores the classifier on labelled examples: loss, predictions, probabilities and the
// metrics report, from the probabilities Probabilities gives. devices splits the batches across
// devices as train.Config.Devices does ("": the default, one device on the CPU).
func (c *Classifier) Evaluate(ctx context.Context, examples []data.Example, devices string) (*train.Eval, error) {
	d, err := c.encode(examples)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var p *train.Predictor
	if devices == c.devices {
		p, err = c.predictorLocked()
	} else {
		p, err = train.NewPredictor(c.Backend, c.Model, c.Store, devices)
	}
	if err != nil {
		return nil, err
	}
	return p.Evaluate(ctx, d, c.Labels, inferenceBatch)
}

// SaveFineTuned writes the classifier (see Save) with what produced it: training_args.json,
// all_results.json (the final metrics) and a README.md model card with the results table and,
// as the Hub's widget examples that the demo page shows, a few texts of validation (see
// DemoExamples).
func (c *Classifier) SaveFineTuned(dir, baseModel, task string, cfg train.Config, metrics map[string]float64, validation []data.Example) error {
	if err := c.Save(dir); err != nil {
		return err
	}
	args, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "training_args.json"), append(args, '\n')); err != nil {
		return err
	}
	results, err := json.MarshalIndent(metrics, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "all_results.json"), append(results, '\n')); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "README.md"), []byte(modelCard(baseModel, task, c.Problem, c.Labels, cfg, c.Model.MatmulDType(), metrics, DemoExamples(validation, c.Labels))))
}

// demoExamples is about how many example texts DemoExamples picks.
const demoExamples = 6

// DemoExamples picks example texts for a demo among labelled examples (a validation split), as
// Gradio apps show a few: the first texts of each label in turn, at least one per label and
// about six in all (for regression and multi-label models, whose classes are no example's label,
// the first six, whatever label the examples carry: IMDB's star ratings keep their sentiment),
// preferring texts of at most 280 characters (a tweet) so that they fit under
// the textbox.
func DemoExamples(examples []data.Example, labels []string) []string {
	perLabel := max(1, demoExamples/max(1, len(labels)))
	short := func(ex data.Example) bool { return utf8.RuneCountInString(ex.Text) <= 280 }
	always := func(data.Example) bool { return true }
	pick := func(keep func(data.Example) bool, limit int) []string {
		var picked []string
		for _, fits := range []func(data.Example) bool{short, always} {
			for _, ex := range examples {
				if len(picked) < limit && keep(ex) && fits(ex) && !slices.Contains(picked, ex.Text) {
					picked = append(picked, ex.Text)
				}
			}
		}
		return picked
	}
	var out []string
	for _, label := range labels {
		out = append(out, pick(func(ex data.Example) bool { return ex.Label == label }, perLabel)...)
	}
	if len(out) == 0 {
		out = pick(always, demoExamples)
	}
	return out
}

// purpose says what a model of problem type problem with labels does, for its model card.
func purpose(problem hfmodel.ProblemType, labels []string) string {
	switch problem {
	case hfmodel.Regression:
		return "to predict a number from a text (regression, problem_type \"regression\")"
	case hfmodel.MultiLabel:
		return "to tag texts with any of (multi-label, problem_type \"multi_label_classification\"): " + strings.Join(labels, ", ")
	}
	return "to classify texts into: " + strings.Join(labels, ", ")
}

func modelCard(baseModel, task string, problem hfmodel.ProblemType, labels []string, cfg train.Config, matmul dtypes.DType, metrics map[string]float64, examples []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\nlibrary_name: transformers\npipeline_tag: text-classification\nbase_model: %s\ntags:\n- tunelab\n", yamlstr.Quote(baseModel))
	if len(examples) > 0 {
		b.WriteString("widget:\n")
		for _, text := range examples {
			fmt.Fprintf(&b, "- text: %s\n", yamlstr.Quote(text))
		}
	}
	name := filepath.Base(filepath.FromSlash(baseModel))
	fmt.Fprintf(&b, "---\n\n# %s fine-tuned on %s\n\nFine-tuned with tunelab from `%s` %s.\n\n", name, task, baseModel, purpose(problem, labels))
	b.WriteString("## Results (held-out split)\n\n| metric | value |\n|---|---|\n")
	names := make([]string, 0, len(metrics))
	for name := range metrics {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "| %s | %.4f |\n", name, metrics[name])
	}
	fmt.Fprintf(&b, "\n## Training hyperparameters\n\n| hyperparameter | value |\n|---|---|\n| learning_rate | %g |\n| epochs | %d |\n| max_steps | %d |\n| batch_size | %d |\n| warmup_ratio | %g |\n| warmup_steps | %d |\n| weight_decay | %g |\n| scheduler | %s |\n| max_grad_norm | %g |\n| gradient_accumulation | %d |\n| seed | %d |\n| matmul_dtype | %s (float32 weights) |\n",
		cfg.LearningRate, cfg.Epochs, cfg.MaxSteps, cfg.BatchSize, cfg.WarmupRatio, cfg.WarmupSteps, cfg.WeightDecay, cfg.Scheduler, cfg.MaxGradNorm, cfg.GradAccum, cfg.Seed, backend.DTypeName(matmul))
	b.WriteString("\nLoad it with `transformers.AutoModelForSequenceClassification.from_pretrained(DIR)` or `tunelab serve --model DIR`.\n")
	return b.String()
}
