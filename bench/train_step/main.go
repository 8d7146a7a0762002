// Command train_step measures one fine-tuning step (forward, backward, gradient clipping and
// the AdamW update of lab/train) in tunelab and in transformers + torch on the same machine, and
// prints the ratio, the achieved GFLOP/s and the peak resident memory, for three shapes:
//
//   - minilm: all-MiniLM-L6-v2 (its real weights) at batch 32 x seq 128;
//
//   - minilm-512: the same model at batch 8 x seq 512, reviews as long as IMDB's;
//
//   - bert-base: a BERT-base-shaped model (12 layers, hidden 768, 12 heads; random weights) at
//     batch 8 x seq 128.
//
//     GOEXPERIMENT=simd go run ./bench/train_step [-model models/all-MiniLM-L6-v2] [-reps 3] \
//     [-only minilm] [-batch 2 -seq 16] [-backend xla:cuda -device cuda] [-side tunelab]
//
// The peer runs peer.py (-peer) with $PYTHON (default /opt/oracle-venv/bin/python, a venv with
// torch and transformers) using as many threads as GOMAXPROCS, on -device. Results go to
// bench/results/train_step.{json,md}. GFLOP/s counts the matrix products of three forward passes
// (benchkit.TrainingStepFLOPs) per step; peak RSS is each process's resident memory from its
// warm-up step on, the loaded model included (host memory only: on a GPU it leaves out the
// device's). bench/gpu.sh runs this on a GPU machine. With -cpuprofile (and -only), set
// GODEBUG=asyncpreemptoff=1 as for bench/forward.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
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
// weights), and the batch shape. Tunelab and Torch are nil for a side that -side left out.
type workload struct {
	Name    string           `json:"name"`
	Batch   int              `json:"batch"`
	Seq     int              `json:"seq"`
	FLOPs   int64            `json:"flops_per_step"`
	Tunelab *benchkit.Result `json:"tunelab,omitempty"`
	Torch   *benchkit.Result `json:"torch,omitempty"`
	// Ratio is tunelab's seconds per step over torch's, when both sides ran.
	Ratio float64 `json:"ratio,omitempty"`

	dir        string // checkpoint directory; empty for a random model from config
	config     string // config.json contents when dir is empty
	cfg        *checkpoint.Config
	peerDir    string // a checkpoint or config directory the peer can read
	pretrained bool
}

// options are the flags that apply to every workload.
type options struct {
	reps                 int
	backend, device      string
	python, peer         string
	tunelab, torch       bool
	out, cpuProfile, tmp string
}

func main() {
	minilm := flag.String("model", "models/all-MiniLM-L6-v2", "checkpoint directory of the MiniLM workloads")
	var o options
	flag.IntVar(&o.reps, "reps", 3, "timed steps per side and workload (after one warm-up step)")
	only := flag.String("only", "", "run only the workload with this name (minilm, minilm-512 or bert-base)")
	batch := flag.Int("batch", 0, "batch size of every selected workload, when > 0")
	seq := flag.Int("seq", 0, "sequence length of every selected workload, when > 0")
	flag.StringVar(&o.backend, "backend", "", `tunelab's backend, as for lab/backend.New ("xla:cuda", ...); empty: $GOMLX_BACKEND or the Go backend`)
	flag.StringVar(&o.device, "device", "cpu", "the peer's torch device: cpu or cuda")
	side := flag.String("side", "", "run only this side: tunelab or torch (default both)")
	flag.StringVar(&o.python, "python", benchkit.EnvOr("PYTHON", "/opt/oracle-venv/bin/python"), "python with torch and transformers for the peer")
	flag.StringVar(&o.peer, "peer", filepath.Join("bench", "train_step", "peer.py"), "the peer script")
	flag.StringVar(&o.out, "out", "bench/results", "directory for train_step.json and train_step.md")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of tunelab's timed steps to this file (with -only)")
	flag.Parse()

	workloads := []*workload{
		{Name: "minilm", dir: *minilm, Batch: 32, Seq: 128},
		{Name: "minilm-512", dir: *minilm, Batch: 8, Seq: 512},
		{Name: "bert-base", config: bertBaseConfig, Batch: 8, Seq: 128},
	}
	if *only != "" {
		var names []string
		for _, w := range workloads {
			names = append(names, w.Name)
		}
		workloads = slices.DeleteFunc(workloads, func(w *workload) bool { return w.Name != *only })
		if len(workloads) == 0 {
			log.Fatalf("-only %q: want one of %s", *only, strings.Join(names, ", "))
		}
	}
	for _, w := range workloads {
		if *batch > 0 {
			w.Batch = *batch
		}
		if *seq > 0 {
			w.Seq = *seq
		}
	}
	switch *side {
	case "":
		o.tunelab, o.torch = true, true
	case "tunelab":
		o.tunelab = true
	case "torch":
		o.torch = true
	default:
		log.Fatalf("-side %q: want tunelab, torch or nothing for both", *side)
	}
	if o.cpuProfile != "" && len(workloads) > 1 {
		log.Fatal("-cpuprofile profiles one workload: add -only")
	}
	if err := run(workloads, o); err != nil {
		log.Fatal(err)
	}
}

// run measures workloads on the sides o selects and writes the results to o.out.
func run(workloads []*workload, o options) error {
	var b compute.Backend
	if o.tunelab {
		var err error
		if b, err = backend.New(o.backend); err != nil {
			return err
		}
	}
	var err error
	if o.tmp, err = os.MkdirTemp("", "train_step"); err != nil {
		return err
	}
	defer os.RemoveAll(o.tmp)
	var profile io.Writer
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		profile = f
	}
	for _, w := range workloads {
		if err := w.measure(b, profile, o); err != nil {
			return fmt.Errorf("%s: %w", w.Name, err)
		}
	}
	return report(workloads, b, o)
}

// measure runs w on the sides o selects.
func (w *workload) measure(b compute.Backend, profile io.Writer, o options) error {
	if err := w.prepare(o.tmp); err != nil {
		return err
	}
	if o.tunelab {
		times, peakRSS, err := w.runTunelab(b, o.reps, profile)
		if err != nil {
			return err
		}
		r := benchkit.Summarize("tunelab (GoMLX "+b.Name()+")", times, w.Batch)
		r.PeakRSSBytes, r.GFLOPS = peakRSS, benchkit.GFLOPS(w.FLOPs, r.MedianSeconds)
		w.Tunelab = &r
		log.Printf("%s: tunelab %.3f s/step (median of %v)", w.Name, r.MedianSeconds, times)
	}
	if o.torch {
		pretrained := "0"
		if w.pretrained {
			pretrained = "1"
		}
		cmd := osexec.Command(o.python, o.peer, w.peerDir, pretrained, strconv.Itoa(w.Batch), strconv.Itoa(w.Seq),
			strconv.Itoa(o.reps), strconv.Itoa(runtime.GOMAXPROCS(0)), o.device)
		r, err := benchkit.RunPeer(cmd, "transformers + torch ("+o.device+")", w.Batch)
		if err != nil {
			return fmt.Errorf("peer: %w", err)
		}
		r.GFLOPS = benchkit.GFLOPS(w.FLOPs, r.MedianSeconds)
		w.Torch = &r
		log.Printf("%s: torch %.3f s/step", w.Name, r.MedianSeconds)
	}
	if w.Tunelab != nil && w.Torch != nil {
		w.Ratio = w.Tunelab.MedianSeconds / w.Torch.MedianSeconds
	}
	return nil
}

// report prints the markdown table and writes it and the JSON to o.out.
func report(workloads []*workload, b compute.Backend, o options) error {
	machine := benchkit.Machine()
	peak, peakErr := benchkit.MachinePeakGFLOPS()
	var md strings.Builder
	fmt.Fprintf(&md, "## Training step (forward, backward, clipping, AdamW), %d threads\n\nMachine: %s\n\n", runtime.GOMAXPROCS(0), machine)
	if b != nil {
		fmt.Fprintf(&md, "tunelab: %s. ", b.Description())
	}
	if o.torch {
		fmt.Fprintf(&md, "torch: %s.", o.device)
	}
	md.WriteString("\n\n| workload | batch x seq | tunelab s/step | torch s/step | ratio | tunelab samples/s | torch samples/s | tunelab GFLOP/s | torch GFLOP/s | tunelab peak RSS MiB | torch peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, w := range workloads {
		row := []string{w.Name, fmt.Sprintf("%d x %d", w.Batch, w.Seq)}
		for i, c := range columns {
			row = append(row, cell(w.Tunelab, c.format, c.field), cell(w.Torch, c.format, c.field))
			if i == 0 {
				row = append(row, "-")
				if w.Ratio != 0 {
					row[len(row)-1] = fmt.Sprintf("**%.2f**", w.Ratio)
				}
			}
		}
		md.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	md.WriteString("\nratio: tunelab / torch time per step, lower is better. GFLOP/s: 3 forward passes' matrix products per step over the median time.\n")
	report := map[string]any{"threads": runtime.GOMAXPROCS(0), "machine": machine, "device": o.device,
		"workloads": workloads, "date": time.Now().UTC().Format(time.RFC3339)}
	if b != nil {
		report["backend"] = b.Description()
	}
	if peakErr != nil {
		fmt.Fprintf(&md, "Machine peak: unknown (%v).\n", peakErr)
	} else {
		fmt.Fprintf(&md, "Machine peak: %s.\n", peak)
		report["peak"] = peak
	}
	fmt.Print(md.String())
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	if err := checkpoint.WriteFileAtomic(filepath.Join(o.out, "train_step.json"), js); err != nil {
		return err
	}
	return checkpoint.WriteFileAtomic(filepath.Join(o.out, "train_step.md"), []byte(md.String()))
}

// columns are the table's measurements after the shape, each as tunelab's then torch's (the
// ratio follows the first).
var columns = []struct {
	format string
	field  func(*benchkit.Result) float64
}{
	{"%.3f", func(r *benchkit.Result) float64 { return r.MedianSeconds }},
	{"%.2f", func(r *benchkit.Result) float64 { return r.SamplesPerSec }},
	{"%.1f", func(r *benchkit.Result) float64 { return r.GFLOPS }},
	{"%.0f", func(r *benchkit.Result) float64 { return benchkit.MiB(r.PeakRSSBytes) }},
}

// cell formats field of r, or "-" when that side did not run.
func cell(r *benchkit.Result, format string, field func(*benchkit.Result) float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf(format, field(r))
}

// prepare reads w's config, counts its FLOPs per step and sets w.peerDir: the checkpoint
// directory, or for a random model a directory in tmp holding w.config.
func (w *workload) prepare(tmp string) error {
	var err error
	if w.dir != "" {
		w.peerDir, w.pretrained = w.dir, true
		w.cfg, err = checkpoint.ReadConfig(w.dir)
	} else {
		w.peerDir = filepath.Join(tmp, w.Name)
		if w.cfg, err = checkpoint.ParseConfig([]byte(w.config)); err == nil {
			if err = os.MkdirAll(w.peerDir, 0o755); err == nil {
				err = os.WriteFile(filepath.Join(w.peerDir, "config.json"), []byte(w.config), 0o644)
			}
		}
	}
	if err != nil {
		return err
	}
	if w.Seq > w.cfg.MaxPositionEmbeddings {
		return fmt.Errorf("seq %d is longer than the model's %d positions", w.Seq, w.cfg.MaxPositionEmbeddings)
	}
	w.FLOPs = benchkit.TrainingStepFLOPs(w.cfg, w.Batch, w.Seq)
	return nil
}

// runTunelab builds w's model and training step and returns the seconds of reps timed steps and
// the peak resident memory from the warm-up step on (benchkit.Measure). The backend's Exec
// returns once the device has finished (go-xla waits for XLA's completion events), so the times
// are whole steps on a GPU too.
func (w *workload) runTunelab(b compute.Backend, reps int, profile io.Writer) ([]float64, int64, error) {
	ck, err := w.checkpoint()
	if err != nil {
		return nil, 0, err
	}
	m := encoder.New(ck.Config, 2)
	store := model.NewStore()
	if err := m.LoadVariables(store, ck, 0); err != nil {
		return nil, 0, err
	}
	params := checkpoint.Params(ck.Config, 2)
	opt := train.AdamW{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.01, MaxGradNorm: 1}
	if err := opt.CreateMoments(store, params); err != nil {
		return nil, 0, err
	}
	if err := store.SetRNGStateFromSeed(42); err != nil {
		return nil, 0, err
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
		return nil, 0, err
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
	return benchkit.Measure(reps, profile, func(k int) error {
		s := opt.StepAt(k, 5e-5)
		_, err := exec.Exec(append(slices.Clone(inputs), float32(s.LR), float32(s.StepSize), float32(s.SqrtBC2))...)
		return err
	})
}

// checkpoint loads w's checkpoint, or builds a random one from w.cfg (weights ~ Normal(0,
// initializer_range) as transformers initialises them; the values do not affect the timing).
func (w *workload) checkpoint() (*checkpoint.Checkpoint, error) {
	if w.dir != "" {
		return checkpoint.Load(w.dir, []string{"a", "b"})
	}
	// LoadVariables initialises only the head afresh: give every other parameter a value here.
	ck := &checkpoint.Checkpoint{Dir: w.peerDir, Config: w.cfg, Labels: []string{"a", "b"}, Tensors: map[string]checkpoint.Tensor{}}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, p := range checkpoint.Params(w.cfg, 2) {
		if p.Fresh {
			continue
		}
		t := checkpoint.Tensor{Shape: p.Shape, Data: make([]float32, product(p.Shape))}
		for i := range t.Data {
			t.Data[i] = float32(rng.NormFloat64() * w.cfg.InitializerRange)
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
