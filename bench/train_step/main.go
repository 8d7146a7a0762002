// Command train_step measures one fine-tuning step (forward, backward, gradient clipping and
// the AdamW update of lab/train) in tunelab and in transformers + torch on the same machine, and
// prints the ratio, for two shapes:
//
//   - all-MiniLM-L6-v2 (its real weights) at batch 32 x seq 128;
//
//   - a BERT-base-shaped model (12 layers, hidden 768, 12 heads; random weights) at batch 8 x
//     seq 128.
//
//     GOEXPERIMENT=simd go run ./bench/train_step [-model models/all-MiniLM-L6-v2] [-reps 3]
//
// The peer runs bench/train_step/peer.py with $PYTHON (default /opt/oracle-venv/bin/python, a
// venv with torch and transformers) using as many threads as GOMAXPROCS. Results go to
// bench/results/train_step.{json,md}. With -cpuprofile (and -only), set GODEBUG=asyncpreemptoff=1
// as for bench/forward.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/loss"

	"github.com/tunelab/tunelab/bench/forward/benchkit"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/checkpoint"
	"github.com/tunelab/tunelab/lab/encoder"
	"github.com/tunelab/tunelab/lab/train"
)

// bertBaseConfig is bert-base-uncased's config.json: the model is built from it on both sides.
const bertBaseConfig = `{
  "architectures": ["BertForMaskedLM"], "model_type": "bert",
  "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
  "intermediate_size": 3072, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
  "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
  "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0
}`

// workload is one measured shape: a checkpoint directory (real weights) or a config (random
// weights), and the batch shape.
type workload struct {
	Name       string          `json:"name"`
	dir        string          // checkpoint directory; empty for a random model from config
	config     string          // config.json contents when dir is empty
	Batch      int             `json:"batch"`
	Seq        int             `json:"seq"`
	Tunelab    benchkit.Result `json:"tunelab"`
	Torch      benchkit.Result `json:"torch"`
	Ratio      float64         `json:"ratio"`
	peerDir    string
	pretrained bool
}

func main() {
	minilm := flag.String("model", "models/all-MiniLM-L6-v2", "checkpoint directory of the MiniLM workload")
	reps := flag.Int("reps", 3, "timed steps per side and workload (after one warm-up step)")
	only := flag.String("only", "", "run only the workload with this name (minilm or bert-base)")
	python := flag.String("python", benchkit.EnvOr("PYTHON", "/opt/oracle-venv/bin/python"), "python with torch and transformers for the peer")
	out := flag.String("out", "bench/results", "directory for train_step.json and train_step.md")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of tunelab's timed steps to this file (with -only)")
	flag.Parse()

	workloads := []*workload{
		{Name: "minilm", dir: *minilm, Batch: 32, Seq: 128},
		{Name: "bert-base", config: bertBaseConfig, Batch: 8, Seq: 128},
	}
	if *only != "" {
		workloads = slices.DeleteFunc(workloads, func(w *workload) bool { return w.Name != *only })
		if len(workloads) == 0 {
			log.Fatalf("-only %q: want minilm or bert-base", *only)
		}
	}
	if *cpuProfile != "" && len(workloads) > 1 {
		log.Fatal("-cpuprofile profiles one workload: add -only")
	}
	if err := run(workloads, *reps, *python, *out, *cpuProfile); err != nil {
		log.Fatal(err)
	}
}

// run measures workloads on both sides and writes the results to out.
func run(workloads []*workload, reps int, python, out, cpuProfile string) error {
	b, err := backend.New("")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "train_step")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var profile *os.File
	if cpuProfile != "" {
		if profile, err = os.Create(cpuProfile); err != nil {
			return err
		}
		defer profile.Close()
	}
	for _, w := range workloads {
		times, err := w.runTunelab(b, reps, profile, tmp)
		if err != nil {
			return fmt.Errorf("%s: %w", w.Name, err)
		}
		w.Tunelab = benchkit.Summarize("tunelab (GoMLX "+b.Name()+")", times, w.Batch)
		log.Printf("%s: tunelab %.3f s/step (median of %v)", w.Name, w.Tunelab.MedianSeconds, times)
		if w.Torch, err = w.runPeer(python, reps); err != nil {
			return fmt.Errorf("%s: peer: %w", w.Name, err)
		}
		w.Ratio = w.Tunelab.MedianSeconds / w.Torch.MedianSeconds
	}

	machine := benchkit.Machine()
	var md strings.Builder
	fmt.Fprintf(&md, "## Training step (forward, backward, clipping, AdamW), %d threads\n\nMachine: %s\n\n", runtime.GOMAXPROCS(0), machine)
	md.WriteString("| workload | batch x seq | tunelab s/step | torch s/step | ratio tunelab / torch (time) |\n|---|---|---|---|---|\n")
	for _, w := range workloads {
		fmt.Fprintf(&md, "| %s | %d x %d | %.3f | %.3f | **%.2f** |\n", w.Name, w.Batch, w.Seq, w.Tunelab.MedianSeconds, w.Torch.MedianSeconds, w.Ratio)
	}
	fmt.Print(md.String())
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(map[string]any{"threads": runtime.GOMAXPROCS(0), "machine": machine,
		"workloads": workloads, "date": time.Now().UTC().Format(time.RFC3339)}, "", "  ")
	if err != nil {
		return err
	}
	if err := checkpoint.WriteFileAtomic(filepath.Join(out, "train_step.json"), js); err != nil {
		return err
	}
	return checkpoint.WriteFileAtomic(filepath.Join(out, "train_step.md"), []byte(md.String()))
}

// runPeer times reps steps of the peer (after a warm-up step) on w.peerDir.
func (w *workload) runPeer(python string, reps int) (benchkit.Result, error) {
	pretrained := "0"
	if w.pretrained {
		pretrained = "1"
	}
	cmd := osexec.Command(python, filepath.Join("bench", "train_step", "peer.py"), w.peerDir, pretrained,
		strconv.Itoa(w.Batch), strconv.Itoa(w.Seq), strconv.Itoa(reps), strconv.Itoa(runtime.GOMAXPROCS(0)))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return benchkit.Result{}, err
	}
	var times []float64
	if err := json.Unmarshal(out, &times); err != nil || len(times) == 0 {
		return benchkit.Result{}, fmt.Errorf("output %q: want a JSON list of seconds (%v)", out, err)
	}
	return benchkit.Summarize("transformers + torch", times, w.Batch), nil
}

// runTunelab builds w's model and training step and returns the seconds of reps timed steps.
// It sets w.peerDir to a checkpoint or config directory the peer can read.
func (w *workload) runTunelab(b compute.Backend, reps int, profile *os.File, tmp string) ([]float64, error) {
	ck, err := w.checkpoint(tmp)
	if err != nil {
		return nil, err
	}
	m := encoder.New(ck.Config, 2)
	store := model.NewStore()
	if err := m.LoadVariables(store, ck, 0); err != nil {
		return nil, err
	}
	params := checkpoint.Params(ck.Config, 2)
	opt := train.AdamW{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.01, MaxGradNorm: 1}
	if err := opt.CreateMoments(store, params); err != nil {
		return nil, err
	}
	if err := store.SetRNGStateFromSeed(42); err != nil {
		return nil, err
	}
	exec, err := model.NewExec(b, store, func(scope *model.Scope, in []*Node) []*Node {
		tokens, mask, labels := in[0], in[1], in[2]
		g := tokens.Graph()
		store.SetTraining(g, true)
		logits := m.Logits(scope, tokens, mask, nil)
		l := loss.SparseCategoricalCrossEntropyLogits([]*Node{ExpandAxes(labels, -1)}, []*Node{logits})
		vars := make([]*Node, len(params))
		for i, p := range params {
			vars[i] = store.GetVariable(p.Path).NodeValue(g)
		}
		return []*Node{l, opt.Update(store, params, vars, Gradient(l, vars...), in[3], in[4], in[5])}
	})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]int32, w.Batch*w.Seq)
	mask := make([]int32, len(ids))
	for i := range ids {
		ids[i], mask[i] = int32(1000+rng.IntN(ck.Config.VocabSize-1000)), 1
	}
	labels := make([]int32, w.Batch)
	for i := range labels {
		labels[i] = int32(rng.IntN(2))
	}
	inputs := []any{tensors.FromFlatDataAndDimensions(ids, w.Batch, w.Seq),
		tensors.FromFlatDataAndDimensions(mask, w.Batch, w.Seq), tensors.FromFlatDataAndDimensions(labels, w.Batch)}
	var times []float64
	for k := 1; k <= reps+1; k++ {
		s := opt.StepAt(k, 5e-5)
		args := append(slices.Clone(inputs), float32(s.LR), float32(s.StepSize), float32(s.SqrtBC2))
		if k == 2 && profile != nil {
			if err := pprof.StartCPUProfile(profile); err != nil {
				return nil, err
			}
		}
		start := time.Now()
		if _, err := exec.Exec(args...); err != nil {
			return nil, fmt.Errorf("step %d: %w", k, err)
		}
		if k > 1 {
			times = append(times, time.Since(start).Seconds())
		}
	}
	if profile != nil {
		pprof.StopCPUProfile()
	}
	return times, nil
}

// checkpoint loads w's checkpoint, or builds a random one from w.config (weights ~ Normal(0,
// initializer_range) as transformers initialises them; the values do not affect the timing).
func (w *workload) checkpoint(tmp string) (*checkpoint.Checkpoint, error) {
	if w.dir != "" {
		w.peerDir, w.pretrained = w.dir, true
		return checkpoint.Load(w.dir, []string{"a", "b"})
	}
	cfg, err := checkpoint.ParseConfig([]byte(w.config))
	if err != nil {
		return nil, err
	}
	w.peerDir = filepath.Join(tmp, w.Name)
	if err := os.MkdirAll(w.peerDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(w.peerDir, "config.json"), []byte(w.config), 0o644); err != nil {
		return nil, err
	}
	// LoadVariables initialises only the head afresh: give every other parameter a value here.
	ck := &checkpoint.Checkpoint{Dir: w.peerDir, Config: cfg, Labels: []string{"a", "b"}, Tensors: map[string]checkpoint.Tensor{}}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range checkpoint.Params(cfg, 2) {
		if p.Fresh {
			continue
		}
		t := checkpoint.Tensor{Shape: p.Shape, Data: make([]float32, product(p.Shape))}
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * cfg.InitializerRange)
		}
		ck.Tensors[p.Path] = t
	}
	return ck, nil
}

func product(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}
