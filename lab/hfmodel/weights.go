package hfmodel

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The safetensors weights of a Hugging Face model folder: one file, or shards listed by an index.
const (
	WeightsFile  = "model.safetensors"
	WeightsIndex = "model.safetensors.index.json"
)

// TokenizerFiles are the files of a model folder that describe its tokenizer, each optional:
// what tunelab downloads from the Hub, copies next to saved weights, and ships in a Space.
var TokenizerFiles = []string{
	"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
	"vocab.txt", "merges.txt", "vocab.json", "added_tokens.json",
}

// UnreadableWeights are weight files in formats tunelab does not read, named in the error for
// folders and Hub repositories that only have these.
var UnreadableWeights = []string{
	"pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack",
	"model.onnx", "onnx/model.onnx",
}

// Weights are the safetensors files of a model folder, as transformers' from_pretrained picks
// them: model.safetensors when present (it wins over an index beside it), else
// model.safetensors.index.json and the shards it names.
type Weights struct {
	// Index is WeightsIndex for sharded weights, "" for a single file.
	Index string
	// Files are the weight files, relative to the folder: WeightsFile, or the shards in sorted
	// order.
	Files []string
}

// FindWeights returns the weights of the model folder dir, checking that each file is there;
// an error for missing files wraps fs.ErrNotExist.
func FindWeights(dir string) (Weights, error) {
	if isRegular(filepath.Join(dir, WeightsFile)) {
		return Weights{Files: []string{WeightsFile}}, nil
	}
	index := filepath.Join(dir, WeightsIndex)
	if !isRegular(index) {
		for _, other := range UnreadableWeights {
			if isRegular(filepath.Join(dir, other)) {
				return Weights{}, fmt.Errorf("%s: has %s but no %s: tunelab reads only safetensors (pickled PyTorch files can run code when loaded); convert it with Python: transformers.AutoModel.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True): %w", dir, other, WeightsFile, fs.ErrNotExist)
			}
		}
		return Weights{}, fmt.Errorf("%s: no %s or %s: %w", dir, WeightsFile, WeightsIndex, fs.ErrNotExist)
	}
	shards, err := ReadIndex(index)
	if err != nil {
		return Weights{}, err
	}
	for _, shard := range shards {
		if !isRegular(filepath.Join(dir, shard)) {
			return Weights{}, fmt.Errorf("%s names the shard %s, which %s lacks: %w", index, shard, dir, fs.ErrNotExist)
		}
	}
	return Weights{Index: WeightsIndex, Files: shards}, nil
}

// ReadIndex returns the shards that the model.safetensors.index.json at path names in its
// weight_map, sorted and each once. Each must be a .safetensors file name of the index's own
// folder: a name reaching elsewhere ("../x", "/etc/x", "sub/x") is an error.
func ReadIndex(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", path, err)
	}
	if len(index.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: empty or missing \"weight_map\"", path)
	}
	var shards []string
	for _, param := range slices.Sorted(maps.Keys(index.WeightMap)) {
		shard := index.WeightMap[param]
		if strings.ContainsAny(shard, `/\`) || !filepath.IsLocal(shard) || !strings.HasSuffix(shard, ".safetensors") {
			return nil, fmt.Errorf("%s: weight_map[%q] = %q is not a .safetensors file name in the model folder", path, param, shard)
		}
		if !slices.Contains(shards, shard) {
			shards = append(shards, shard)
		}
	}
	slices.Sort(shards)
	return shards, nil
}

func isRegular(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
