package hfmodel

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/tunelab/tunelab/internal/atomicfile"
	"github.com/tunelab/tunelab/lab/safetensors"
)

// Checkpoint is a loaded model: its config and every parameter as an f32 tensor, keyed by the
// GoMLX variable path of Params.
type Checkpoint struct {
	Dir    string
	Config *Config
	// Labels are the class names the head predicts, in id order.
	Labels  []string
	Tensors map[string]safetensors.Tensor
	// Fresh lists the parameters (Hugging Face names) the checkpoint lacked and that the caller
	// must initialise, as Hugging Face warns "newly initialized: [...]".
	Fresh []string
	// Unused lists tensors of the files that the classifier does not read.
	Unused []string
}

// Load reads the checkpoint in dir. labels names the classes of the classification head; nil
// means config.json's id2label or, without one, the names transformers gives the classes of
// such a config (see DefaultLabels). A checkpoint whose head has another number of classes is
// an error, since its head cannot be reused; so is a checkpoint without a head (a pretrained
// encoder) when no labels are given, since nothing names the classes of the head to train.
func Load(dir string, labels []string) (*Checkpoint, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	if labels == nil {
		labels = cfg.Labels
	}
	unnamed := labels == nil
	if unnamed {
		if labels, err = DefaultLabels(cfg); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "config.json"), err)
		}
	}
	// One output is a regression head, as transformers reads num_labels == 1.
	if len(labels) < 2 && !(len(labels) == 1 && ResolveProblemType(cfg.ProblemType, 1, true) == Regression) {
		return nil, fmt.Errorf("%s: %d class names given (%q): a classifier needs at least 2 (one output is a regression head)", dir, len(labels), labels)
	}
	if dup := firstDuplicate(labels); dup != "" {
		return nil, fmt.Errorf("label %q is given twice", dup)
	}
	weights, err := FindWeights(dir)
	if err != nil {
		return nil, err
	}
	params := Params(cfg, len(labels))
	byName := make(map[string]Param, len(params))
	for _, p := range params {
		byName[p.Name] = p
	}
	ck := &Checkpoint{Dir: dir, Config: cfg.WithLabels(labels), Labels: labels, Tensors: make(map[string]safetensors.Tensor, len(params))}
	from := make(map[string]string, len(params)) // parameter name -> file it came from
	for _, name := range weights.Files {
		file := filepath.Join(dir, name)
		st, err := safetensors.Read(file)
		if err != nil {
			return nil, err
		}
		for _, name := range st.Names() {
			shape := st.Shape(name)
			canon := canonicalName(cfg.Family, name)
			p, ok := byName[canon]
			if !ok {
				if !ignoredName(cfg.Family, canon) {
					ck.Unused = append(ck.Unused, name)
				}
				continue
			}
			if prev, dup := from[canon]; dup {
				return nil, fmt.Errorf("%s: tensor %q is also in %s", file, name, prev)
			}
			if !slices.Equal(shape, p.Shape) {
				if p.Fresh && strings.HasPrefix(canon, "classifier") {
					return nil, fmt.Errorf("%s: tensor %q has shape %v but %d labels need %v: the checkpoint's head was trained for %d classes; start from its encoder (drop the classifier tensors) or give %d labels", file, name, shape, len(labels), p.Shape, shape[0], shape[0])
				}
				return nil, fmt.Errorf("%s: tensor %q has shape %v, config.json implies %v: config.json and the weights do not belong together", file, name, shape, p.Shape)
			}
			t, err := st.Tensor(name)
			if err != nil {
				return nil, err
			}
			from[canon] = file
			ck.Tensors[p.Path] = t
		}
	}
	for _, p := range params {
		if _, ok := ck.Tensors[p.Path]; ok {
			continue
		}
		if !p.Fresh {
			return nil, fmt.Errorf("%s: tensor %q (or %q) is missing: the files are incomplete or are not a %s checkpoint", dir, p.Name, cfg.Family.prefix()+p.Name, cfg.Family)
		}
		if unnamed && isHead(p.Name) {
			return nil, fmt.Errorf("%s: has no classification head (no %s) and config.json no id2label: pass the class names of the head to train (at least 2)", dir, p.Name)
		}
		ck.Fresh = append(ck.Fresh, p.Name)
	}
	sort.Strings(ck.Unused)
	return ck, nil
}

// DefaultLabels are the class names transformers gives a config.json without id2label:
// LABEL_0, LABEL_1, ... for its num_labels classes, 2 when it has none (PretrainedConfig).
func DefaultLabels(cfg *Config) ([]string, error) {
	n := 2
	if v, ok := cfg.Raw["num_labels"]; ok && v != nil {
		x, isNumber := v.(float64)
		if !isNumber || x != float64(int(x)) || x < 1 {
			return nil, fmt.Errorf("num_labels: expected a positive integer, got %v", v)
		}
		n = int(x)
	}
	labels := make([]string, n)
	for i := range labels {
		labels[i] = fmt.Sprintf("LABEL_%d", i)
	}
	return labels, nil
}

// isHead reports the parameters of the classification head proper (not BERT's pooler).
func isHead(name string) bool {
	return strings.HasPrefix(name, "classifier") || strings.HasPrefix(name, "pre_classifier")
}

func firstDuplicate(xs []string) string {
	seen := make(map[string]bool, len(xs))
	for _, x := range xs {
		if seen[x] {
			return x
		}
		seen[x] = true
	}
	return ""
}

// Save writes the checkpoint as a Hugging Face *ForSequenceClassification directory:
// config.json (with architectures, id2label and label2id) and model.safetensors with the
// family-prefixed names that transformers' from_pretrained expects. Tokenizer files are the
// caller's to copy. Each file is written atomically.
func Save(dir string, cfg *Config, labels []string, tensors map[string]safetensors.Tensor) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg = cfg.WithLabels(labels)
	named := make(map[string]safetensors.Tensor, len(tensors))
	for _, p := range Params(cfg, len(labels)) {
		t, ok := tensors[p.Path]
		if !ok {
			return fmt.Errorf("saving %s: no value for %s (%s)", dir, p.Name, p.Path)
		}
		name := p.Name
		if !isHead(name) {
			name = cfg.Family.prefix() + name
		}
		named[name] = t
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), named, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	cfg.Raw["architectures"] = []string{architecture(cfg.Family)}
	data, err := json.MarshalIndent(cfg.Raw, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "config.json"), append(data, '\n'))
}

func architecture(f Family) string {
	switch f {
	case RoBERTa:
		return "RobertaForSequenceClassification"
	case DistilBERT:
		return "DistilBertForSequenceClassification"
	default:
		return "BertForSequenceClassification"
	}
}
