package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tunelab/tunelab/lab/checkpoint"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/train"
)

// encode tokenizes labelled examples for the classifier, mapping label names to its ids.
func (c *Classifier) encode(examples []data.Example) (*train.Dataset, error) {
	ids := make(map[string]int, len(c.Labels))
	for i, l := range c.Labels {
		ids[l] = i
	}
	texts := make([]string, len(examples))
	labels := make([]int, len(examples))
	for i, ex := range examples {
		id, ok := ids[ex.Label]
		if !ok {
			return nil, fmt.Errorf("example %q has label %q, which the model does not have (labels %q)", ex.ID, ex.Label, c.Labels)
		}
		texts[i], labels[i] = ex.Text, id
	}
	return train.Encode(c.Tokenizer, texts, labels)
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
	if cfg.Dropout != nil {
		c.Model.WithDropout(*cfg.Dropout)
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
// metrics report. devices splits the batches across devices as train.Config.Devices does ("":
// the default).
func (c *Classifier) Evaluate(ctx context.Context, examples []data.Example, devices string) (*train.Eval, error) {
	d, err := c.encode(examples)
	if err != nil {
		return nil, err
	}
	cfg := train.Defaults()
	cfg.Devices = devices
	t, err := train.New(c.Backend, c.Model, c.Store, c.Labels, cfg)
	if err != nil {
		return nil, err
	}
	return t.Evaluate(ctx, d)
}

// SaveFineTuned writes the classifier (see Save) with what produced it: training_args.json,
// all_results.json (the final metrics) and a README.md model card with the results table.
func (c *Classifier) SaveFineTuned(dir, baseModel, task string, cfg train.Config, metrics map[string]float64) error {
	if err := c.Save(dir); err != nil {
		return err
	}
	args, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := checkpoint.WriteFileAtomic(filepath.Join(dir, "training_args.json"), append(args, '\n')); err != nil {
		return err
	}
	results, err := json.MarshalIndent(metrics, "", "  ")
	if err != nil {
		return err
	}
	if err := checkpoint.WriteFileAtomic(filepath.Join(dir, "all_results.json"), append(results, '\n')); err != nil {
		return err
	}
	return checkpoint.WriteFileAtomic(filepath.Join(dir, "README.md"), []byte(modelCard(baseModel, task, c.Labels, cfg, metrics)))
}

func modelCard(baseModel, task string, labels []string, cfg train.Config, metrics map[string]float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "---\nlibrary_name: transformers\npipeline_tag: text-classification\nbase_model: %s\ntags:\n- tunelab\n---\n\n", baseModel)
	fmt.Fprintf(&b, "# %s fine-tuned on %s\n\nFine-tuned with tunelab from `%s` to classify texts into: %s.\n\n", baseModel, task, baseModel, strings.Join(labels, ", "))
	b.WriteString("## Results (held-out split)\n\n| metric | value |\n|---|---|\n")
	names := make([]string, 0, len(metrics))
	for name := range metrics {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "| %s | %.4f |\n", name, metrics[name])
	}
	fmt.Fprintf(&b, "\n## Training hyperparameters\n\n| hyperparameter | value |\n|---|---|\n| learning_rate | %g |\n| epochs | %d |\n| max_steps | %d |\n| batch_size | %d |\n| warmup_ratio | %g |\n| warmup_steps | %d |\n| weight_decay | %g |\n| scheduler | %s |\n| max_grad_norm | %g |\n| gradient_accumulation | %d |\n| seed | %d |\n",
		cfg.LearningRate, cfg.Epochs, cfg.MaxSteps, cfg.BatchSize, cfg.WarmupRatio, cfg.WarmupSteps, cfg.WeightDecay, cfg.Scheduler, cfg.MaxGradNorm, cfg.GradAccum, cfg.Seed)
	b.WriteString("\nLoad it with `transformers.AutoModelForSequenceClassification.from_pretrained(DIR)` or `tunelab serve --model DIR`.\n")
	return b.String()
}
