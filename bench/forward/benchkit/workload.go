package benchkit

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/tunelab/tunelab/internal/atomicfile"
	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/safetensors"
)

// BERTBaseConfig is bert-base-uncased's config.json: the random BERT-base-shaped model is built
// from it on both sides.
const BERTBaseConfig = `{
  "architectures": ["BertForMaskedLM"], "model_type": "bert",
  "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
  "intermediate_size": 3072, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
  "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
  "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0
}`

// Workload is one measured shape: a checkpoint directory (real weights) or a config (random
// weights), and the batch shape. Tunelab holds one result per engine and device count measured
// (Result.Side names it: "xla:cpu", "go", "xla:cuda x4"); Torch is the peer's result in one
// process, nil when it did not run; TorchDDP holds the peer's data-parallel results, one per
// device count above one.
type Workload struct {
	Name  string `json:"name"`
	Batch int    `json:"batch"`
	Seq   int    `json:"seq"`
	// FLOPs counts the matrix products of one repetition (ForwardFLOPs or TrainingStepFLOPs).
	FLOPs    int64     `json:"flops"`
	Tunelab  []*Result `json:"tunelab,omitempty"`
	Torch    *Result   `json:"torch,omitempty"`
	TorchDDP []*Result `json:"torch_ddp,omitempty"`
	// Ratios are each tunelab side's seconds per repetition over torch's on as many devices,
	// where torch ran on that many.
	Ratios map[string]float64 `json:"ratios,omitempty"`

	// Dir is the checkpoint directory; empty for a random model from ConfigJSON.
	Dir        string `json:"-"`
	ConfigJSON string `json:"-"`
	// Config, PeerDir (a checkpoint or config directory the peer can read) and Pretrained are
	// set by Prepare.
	Config     *hfmodel.Config `json:"-"`
	PeerDir    string          `json:"-"`
	Pretrained bool            `json:"-"`
}

// Workloads are the speed issue's cases: all-MiniLM-L6-v2 (its real weights in minilmDir) at
// batch 32 x seq 128 and at 8 x 512 (reviews as long as IMDB's), and a BERT-base-shaped model
// (12 layers, hidden 768, 12 heads; random weights) at 32 x 128.
func Workloads(minilmDir string) []*Workload {
	return []*Workload{
		{Name: "minilm", Dir: minilmDir, Batch: 32, Seq: 128},
		{Name: "minilm-512", Dir: minilmDir, Batch: 8, Seq: 512},
		{Name: "bert-base", ConfigJSON: BERTBaseConfig, Batch: 32, Seq: 128},
	}
}

// Select keeps the workload named only (all when empty) and overrides the batch size and
// sequence length of what it keeps where batch or seq are > 0.
func Select(workloads []*Workload, only string, batch, seq int) ([]*Workload, error) {
	if only != "" {
		var names []string
		for _, w := range workloads {
			names = append(names, w.Name)
		}
		workloads = slices.DeleteFunc(workloads, func(w *Workload) bool { return w.Name != only })
		if len(workloads) == 0 {
			return nil, fmt.Errorf("-only %q: want one of %s", only, strings.Join(names, ", "))
		}
	}
	for _, w := range workloads {
		if batch > 0 {
			w.Batch = batch
		}
		if seq > 0 {
			w.Seq = seq
		}
	}
	return workloads, nil
}

// Prepare reads w's config and sets w.PeerDir: the checkpoint directory, or for a random model
// a directory in tmp holding w.ConfigJSON. It fails when w.Seq exceeds the model's positions.
func (w *Workload) Prepare(tmp string) error {
	var err error
	if w.Dir != "" {
		w.PeerDir, w.Pretrained = w.Dir, true
		w.Config, err = hfmodel.ReadConfig(w.Dir)
	} else {
		w.PeerDir = filepath.Join(tmp, w.Name)
		if w.Config, err = hfmodel.ParseConfig([]byte(w.ConfigJSON)); err == nil {
			if err = os.MkdirAll(w.PeerDir, 0o755); err == nil {
				err = os.WriteFile(filepath.Join(w.PeerDir, "config.json"), []byte(w.ConfigJSON), 0o644)
			}
		}
	}
	if err != nil {
		return err
	}
	if w.Seq > w.Config.MaxPositionEmbeddings {
		return fmt.Errorf("seq %d is longer than the model's %d positions", w.Seq, w.Config.MaxPositionEmbeddings)
	}
	return nil
}

// Checkpoint loads w's checkpoint with a two-label head, or builds a random one from w.Config
// (weights ~ Normal(0, initializer_range) as transformers initialises them; the values do not
// affect the timing). Call Prepare first.
func (w *Workload) Checkpoint() (*hfmodel.Checkpoint, error) {
	labels := []string{"a", "b"}
	if w.Dir != "" {
		return hfmodel.Load(w.Dir, labels)
	}
	// The encoder initialises only the head afresh: give every other parameter a value here.
	ck := &hfmodel.Checkpoint{Dir: w.PeerDir, Config: w.Config, Labels: labels, Tensors: map[string]safetensors.Tensor{}}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range hfmodel.Params(w.Config, len(labels)) {
		if p.Fresh {
			continue
		}
		size := 1
		for _, d := range p.Shape {
			size *= d
		}
		t := safetensors.Tensor{Shape: p.Shape, Data: make([]float32, size)}
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * w.Config.InitializerRange)
		}
		ck.Tensors[p.Path] = t
	}
	return ck, nil
}

// RandomTokens returns w.Batch x w.Seq token ids drawn from the vocabulary above the first 1000
// (past the special and unused tokens), with an all-ones mask: no padding, every position real.
func (w *Workload) RandomTokens() (ids, mask []int32) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids = make([]int32, w.Batch*w.Seq)
	mask = make([]int32, len(ids))
	for i := range ids {
		ids[i], mask[i] = int32(1000+rng.IntN(w.Config.VocabSize-1000)), 1
	}
	return ids, mask
}

// PeerArgs are the arguments of a peer script for w (benchkit.py's classifier_workload reads
// them): MODEL_DIR PRETRAINED BATCH SEQ REPS THREADS DEVICE, with as many threads as GOMAXPROCS.
// Call Prepare first.
func (w *Workload) PeerArgs(reps int, device string) []string {
	pretrained := "0"
	if w.Pretrained {
		pretrained = "1"
	}
	return []string{w.PeerDir, pretrained, strconv.Itoa(w.Batch), strconv.Itoa(w.Seq), strconv.Itoa(reps),
		strconv.Itoa(runtime.GOMAXPROCS(0)), device}
}

// Measured records the engines' results and the peer's (one per device count: Result.Devices,
// where 0 is one), and each engine's ratio to the peer on as many devices.
func (w *Workload) Measured(tunelab []*Result, torch ...*Result) {
	w.Tunelab, w.Torch, w.TorchDDP, w.Ratios = tunelab, nil, nil, nil
	byDevices := map[int]*Result{}
	for _, r := range torch {
		byDevices[max(r.Devices, 1)] = r
		if r.Devices > 1 {
			w.TorchDDP = append(w.TorchDDP, r)
		} else {
			w.Torch = r
		}
	}
	for _, r := range tunelab {
		peer := byDevices[max(r.Devices, 1)]
		if peer == nil {
			continue
		}
		if w.Ratios == nil {
			w.Ratios = map[string]float64{}
		}
		w.Ratios[r.Side] = r.MedianSeconds / peer.MedianSeconds
	}
}

// Sides are w's results: tunelab's, then torch's in one process and data parallel.
func (w *Workload) Sides() []*Result {
	sides := slices.Clone(w.Tunelab)
	if w.Torch != nil {
		sides = append(sides, w.Torch)
	}
	return append(sides, w.TorchDDP...)
}

// Table renders workloads as two Markdown tables: time per repetition (unit names it: "step",
// "batch") of each engine, of torch and of torch data parallel on each device count, with each
// engine's ratio to torch on as many devices (Ratios); then one row per side with samples/s,
// GFLOP/s, peak RSS, the first repetition's seconds (compilation included) and the cores busy. "-" marks a side
// that did not run.
func Table(workloads []*Workload, unit string) string {
	var engines []string
	var ddp []int // device counts of torch's data-parallel runs
	for _, w := range workloads {
		for _, r := range w.Tunelab {
			if !slices.Contains(engines, r.Side) {
				engines = append(engines, r.Side)
			}
		}
		for _, r := range w.TorchDDP {
			if !slices.Contains(ddp, r.Devices) {
				ddp = append(ddp, r.Devices)
			}
		}
	}
	var md strings.Builder
	header := []string{"workload", "batch x seq"}
	for _, e := range engines {
		header = append(header, fmt.Sprintf("tunelab %s s/%s", e, unit))
	}
	header = append(header, "torch s/"+unit)
	for _, n := range ddp {
		header = append(header, fmt.Sprintf("torch x%d s/%s", n, unit))
	}
	for _, e := range engines {
		header = append(header, e+" / torch")
	}
	md.WriteString("| " + strings.Join(header, " | ") + " |\n|" + strings.Repeat("---|", len(header)) + "\n")
	find := func(results []*Result, match func(*Result) bool) *Result {
		if i := slices.IndexFunc(results, match); i >= 0 {
			return results[i]
		}
		return nil
	}
	seconds := func(r *Result) string {
		if r == nil {
			return "-"
		}
		return fmt.Sprintf("%.3f", r.MedianSeconds)
	}
	for _, w := range workloads {
		row := []string{w.Name, fmt.Sprintf("%d x %d", w.Batch, w.Seq)}
		for _, e := range engines {
			row = append(row, seconds(find(w.Tunelab, func(r *Result) bool { return r.Side == e })))
		}
		row = append(row, seconds(w.Torch))
		for _, n := range ddp {
			row = append(row, seconds(find(w.TorchDDP, func(r *Result) bool { return r.Devices == n })))
		}
		for _, e := range engines {
			if ratio, ok := w.Ratios[e]; ok {
				row = append(row, fmt.Sprintf("**%.2f**", ratio))
			} else {
				row = append(row, "-")
			}
		}
		md.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	md.WriteString("\n| workload | side | samples/s | GFLOP/s | peak RSS MiB | first " + unit + " s (compile included) | cores busy |\n|---|---|---|---|---|---|---|\n")
	for _, w := range workloads {
		for _, r := range w.Sides() {
			fmt.Fprintf(&md, "| %s | %s | %.2f | %.1f | %.0f | %.2f | %.2f |\n", w.Name, r.Side, r.SamplesPerSec, r.GFLOPS, MiB(r.PeakRSSBytes), r.FirstSeconds, r.CoresBusy)
		}
	}
	return md.String()
}

// WriteReport prints md and writes it to dir/name.md and report to dir/name.json, atomically.
func WriteReport(dir, name, md string, report any) error {
	fmt.Print(md)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, name+".json"), js); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, name+".md"), []byte(md))
}
