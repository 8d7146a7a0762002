package checkpoint

import (
	"encoding/json"

	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Checkpoint is a loaded model: its config and every parameter as an f32 tensor, keyed by the
// GoMLX variable path of Params.
type Checkpoint struct {
	Dir    string
	Config *Config
	// Labels are the class names the head predicts, in id order.
	Labels  []string
	Tensors map[string]Tensor
	// Fresh lists the parameters (Hugging Face names) the checkpoint lacked and that the caller
	// must initialise, as Hugging Face warns "newly initialized: [...]".
	Fresh []string
	// Unused lists tensors of the files that the classifier does not read.
	Unused []string
}

// Load reads the checkpoint in dir. labels names the classes of the classification head; nil
// means config.json's id2label. A checkpoint whose head has another number of classes is an
// error, since its head cannot be reused.
func Load(dir string, labels []string) (*Checkpoint, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	if labels == nil {
		labels = cfg.Labels
	}
	// One output is a regression head, as transformers reads num_labels == 1.
	if len(labels) < 2 && !(len(labels) == 1 && ResolveProblemType(cfg.ProblemType, 1, true) == Regression) {
		return nil, fmt.Errorf("%s: config.json has no id2label and no labels were given: pass the class names (at least 2)", dir)
	}
	if dup := firstDuplicate(labels); dup != "" {
		return nil, fmt.Errorf("label %q is given twice", dup)
	}
	files, err := weightFiles(dir)
	if err != nil {
		return nil, err
	}
	params := Params(cfg, len(labels))
	byName := make(map[string]Param, len(params))
	for _, p := range params {
		byName[p.Name] = p
	}
	ck := &Checkpoint{Dir: dir, Config: cfg.WithLabels(labels), Labels: labels, Tensors: make(map[string]Tensor, len(params))}
	from := make(map[string]string, len(params)) // parameter name -> file it came from
	for _, file := range files {
		st, err := readSafetensors(file)
		if err != nil {
			return nil, err
		}
		// In sorted order of names, so the same broken file always gives the same error.
		for _, name := range slices.Sorted(maps.Keys(st.headers)) {
			h := st.headers[name]
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
			if !slices.Equal(h.Shape, p.Shape) {
				if p.Fresh && strings.HasPrefix(canon, "classifier") {
					return nil, fmt.Errorf("%s: tensor %q has shape %v but %d labels need %v: the checkpoint's head was trained for other classes; start from its encoder (drop the classifier tensors) or give %d labels", file, name, h.Shape, len(labels), p.Shape, len(cfg.Labels))
				}
				return nil, fmt.Errorf("%s: tensor %q has shape %v, config.json implies %v: config.json and the weights do not belong together", file, name, h.Shape, p.Shape)
			}
			t, err := st.tensor(name)
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
		ck.Fresh = append(ck.Fresh, p.Name)
	}
	sort.Strings(ck.Unused)
	return ck, nil
}

// weightFiles lists the safetensors files of dir: the shards named by
// model.safetensors.index.json, or model.safetensors.
func weightFiles(dir string) ([]string, error) {
	index := filepath.Join(dir, "model.safetensors.index.json")
	if data, err := os.ReadFile(index); err == nil {
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(data, &idx); err != nil {
			return nil, fmt.Errorf("%s: invalid JSON: %w", index, err)
		}
		if len(idx.WeightMap) == 0 {
			return nil, fmt.Errorf("%s: empty weight_map", index)
		}
		var shards []string
		for _, shard := range idx.WeightMap {
			path := filepath.Join(dir, shard)
			if !slices.Contains(shards, path) {
				shards = append(shards, path)
			}
		}
		sort.Strings(shards)
		for _, s := range shards {
			if _, err := os.Stat(s); err != nil {
				return nil, fmt.Errorf("%s names shard %s: %w", index, filepath.Base(s), err)
			}
		}
		return shards, nil
	}
	single := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(single); err == nil {
		return []string{single}, nil
	}
	for _, legacy := range []string{"pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "model.onnx"} {
		if _, err := os.Stat(filepath.Join(dir, legacy)); err == nil {
			return nil, fmt.Errorf("%s: has %s but no model.safetensors: tunelab reads only safetensors (pickled PyTorch files can run code when loaded); convert it with Python: transformers.AutoModel.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)", dir, legacy)
		}
	}
	return nil, fmt.Errorf("%s: no model.safetensors or model.safetensors.index.json: %w", dir, fs.ErrNotExist)
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
func Save(dir string, cfg *Config, labels []string, tensors map[string]Tensor) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg = cfg.WithLabels(labels)
	named := make(map[string]Tensor, len(tensors))
	for _, p := range Params(cfg, len(labels)) {
		t, ok := tensors[p.Path]
		if !ok {
			return fmt.Errorf("saving %s: no value for %s (%s)", dir, p.Name, p.Path)
		}
		name := p.Name
		if !strings.HasPrefix(name, "classifier") && !strings.HasPrefix(name, "pre_classifier") {
			name = cfg.Family.prefix() + name
		}
		named[name] = t
	}
	if err := writeSafetensors(filepath.Join(dir, "model.safetensors"), named, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	cfg.Raw["architectures"] = []string{architecture(cfg.Family)}
	data, err := json.MarshalIndent(cfg.Raw, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, "config.json"), append(data, '\n'))
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
