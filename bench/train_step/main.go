// Command train_step measures one fine-tuning step (forward, backward, gradient clipping and
// the AdamW update of lab/train) in tunelab, on each of its engines (XLA's CPU plugin and the Go
// backend by default), and in transformers + torch on the same machine in the same run, and
// prints each engine's ratio to torch, the achieved GFLOP/s and the peak resident memory, for the workloads of
// benchkit.Workloads: all-MiniLM-L6-v2 at batch 32 x seq 128 (minilm) and 8 x 512
// (minilm-512), and a random BERT-base-shaped model at 32 x 128 (bert-base).
//
//	GOEXPERIMENT=simd go run ./bench/train_step [-model models/all-MiniLM-L6-v2] [-reps 3] \
//	[-only minilm] [-batch 2 -seq 16] [-backend xla:cuda -device cuda] [-side tunelab] [-devices 1,all]
//	[-peer-devices 1,all]
//
// -devices measures each engine on each of its device counts (a count, or all), splitting the
// batch across the devices as `tunelab train --devices N` does (lab/train's data parallelism);
// the report then adds each count's samples/s, speed-up over one device and scaling efficiency
// (speed-up / devices). The batch is the global one: each device gets batch/N rows.
// -peer-devices does the same for torch, as the Trainer runs on several GPUs: on N > 1 devices
// the peer is N processes of DistributedDataParallel launched by torchrun (python -m
// torch.distributed.run), each with batch/N rows (peer.py); ratios compare tunelab and torch on
// as many devices.
//
// The peer runs peer.py (-peer) with $PYTHON (default /opt/oracle-venv/bin/python, a venv with
// torch and transformers) using as many threads as GOMAXPROCS (shared among its processes), on
// -device. Results go to
// bench/results/train_step.{json,md}. GFLOP/s counts the matrix products of three forward passes
// (benchkit.TrainingStepFLOPs) per step; peak RSS is each process's resident memory from its
// warm-up step on, the loaded model included (host memory only: on a GPU it leaves out the
// device's). Each engine measures each workload in a process of its own
// (benchkit.MeasureAlone). bench/gpu.sh runs this on a GPU machine. With -cpuprofile (and -only
// and one engine), set GODEBUG=asyncpreemptoff=1 as for bench/forward.
package main

import (
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
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/bench/forward/benchkit"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/encoder"
	"github.com/tunelab/tunelab/lab/train"
)

// options are the flags that apply to every workload.
type options struct {
	reps                 int
	backend, device      string
	python, peer         string
	peerBF16             bool
	tunelab, torch       bool
	out, cpuProfile, tmp string
	devices, peerDevices []string
}

func main() {
	backend.StartTuned() // the engines' settings, as the tunelab command runs with
	minilm := flag.String("model", "models/all-MiniLM-L6-v2", "checkpoint directory of the MiniLM workloads")
	var o options
	flag.IntVar(&o.reps, "reps", 3, "timed steps per side and workload (after one warm-up step)")
	only := flag.String("only", "", "run only the workload with this name (minilm, minilm-512 or bert-base)")
	batch := flag.Int("batch", 0, "batch size of every selected workload, when > 0")
	seq := flag.Int("seq", 0, "sequence length of every selected workload, when > 0")
	flag.StringVar(&o.backend, "backend", "", `tunelab's engines, comma-separated, as for lab/backend.New ("xla:cuda", "go", ...; "xla:cpu+bf16" for bfloat16 matrix products); empty: benchkit.Engines, the default XLA engine (xla:cpu+bf16 and xla:cpu where the CPU has bfloat16 units), and go`)
	flag.StringVar(&o.device, "device", "cpu", "the peer's torch device: cpu or cuda")
	side := flag.String("side", "", "run only this side: tunelab or torch (default both)")
	flag.StringVar(&o.python, "python", benchkit.EnvOr("PYTHON", "/opt/oracle-venv/bin/python"), "python with torch and transformers for the peer")
	flag.StringVar(&o.peer, "peer", filepath.Join("bench", "train_step", "peer.py"), "the peer script")
	flag.BoolVar(&o.peerBF16, "peer-bf16", false, "run the peer in bfloat16 under torch.autocast (the Trainer's bf16=True) instead of float32")
	flag.StringVar(&o.out, "out", "bench/results", "directory for train_step.json and train_step.md")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of tunelab's timed steps to this file (with -only)")
	devices := flag.String("devices", "1", "device counts to measure each engine on, comma-separated: N or all (the batch is split across them)")
	peerDevices := flag.String("peer-devices", "1", "device counts to run the peer on, comma-separated: N or all (torch's GPUs on cuda, 1 on cpu); on N > 1 it runs data parallel in N processes under torchrun")
	flag.Parse()
	o.devices, o.peerDevices = strings.Split(*devices, ","), strings.Split(*peerDevices, ",")

	workloads, err := benchkit.Select(benchkit.Workloads(*minilm), *only, *batch, *seq)
	if err != nil {
		log.Fatal(err)
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
	if job, ok := benchkit.AloneJob(); ok {
		benchkit.RunJob(job, workloads, o.cpuProfile, func(w *benchkit.Workload, b compute.Backend, profile io.Writer) (benchkit.Measurement, error) {
			return runTunelab(w, b, job.Engine, job.Devices, o.reps, profile)
		})
	}
	if o.cpuProfile != "" && len(workloads) > 1 {
		log.Fatal("-cpuprofile profiles one workload: add -only")
	}
	if err := run(workloads, o); err != nil {
		log.Fatal(err)
	}
}

// run measures workloads on the sides o selects and writes the results to o.out.
func run(workloads []*benchkit.Workload, o options) error {
	var err error
	if o.tmp, err = os.MkdirTemp("", "train_step"); err != nil {
		return err
	}
	defer os.RemoveAll(o.tmp)
	for _, w := range workloads {
		if err := w.Prepare(o.tmp); err != nil {
			return fmt.Errorf("%s: %w", w.Name, err)
		}
		w.FLOPs = benchkit.TrainingStepFLOPs(w.Config, w.Batch, w.Seq)
	}
	results := make([][]*benchkit.Result, len(workloads))
	var engines []string
	if o.tunelab {
		names := benchkit.Engines(o.backend)
		if o.cpuProfile != "" && len(names) > 1 {
			return fmt.Errorf("-cpuprofile profiles one engine: add -backend ENGINE")
		}
		for _, engine := range names {
			b, err := benchkit.OpenEngine(engine, os.Stderr)
			if err != nil {
				return err
			}
			engines = append(engines, benchkit.DescribeEngine(engine, b))
			specs, counts, err := engineDevices(o.devices, b)
			b.Finalize() // the measurements run in processes of their own
			if err != nil {
				return err
			}
			for j, devices := range specs {
				side := engine
				if counts[j] > 1 {
					side = fmt.Sprintf("%s x%d", engine, counts[j])
				}
				for i, w := range workloads {
					m, err := benchkit.MeasureAlone(benchkit.Job{Engine: engine, Workload: w.Name, Devices: devices})
					if err != nil {
						return err
					}
					r := m.Result(side, w.Batch)
					r.GFLOPS, r.Devices = benchkit.GFLOPS(w.FLOPs, r.MedianSeconds), counts[j]
					log.Printf("%s: tunelab on %s %.3f s/step (median of %v; first %.2f s)", w.Name, side, r.MedianSeconds, m.Times, m.First)
					results[i] = append(results[i], &r)
				}
			}
		}
	}
	var peerCounts []int
	if o.torch {
		if peerCounts, err = peerDeviceCounts(o); err != nil {
			return err
		}
	}
	for i, w := range workloads {
		var peer []*benchkit.Result
		for _, n := range peerCounts {
			r, err := runPeer(w, o, n)
			if err != nil {
				return fmt.Errorf("%s: peer on %d devices: %w", w.Name, n, err)
			}
			r.GFLOPS = benchkit.GFLOPS(w.FLOPs, r.MedianSeconds)
			peer = append(peer, &r)
			log.Printf("%s: %s %.3f s/step", w.Name, r.Side, r.MedianSeconds)
		}
		w.Measured(results[i], peer...)
	}
	return report(workloads, engines, o)
}

// report prints the markdown tables and writes them and the JSON to o.out.
func report(workloads []*benchkit.Workload, engines []string, o options) error {
	machine := benchkit.Machine()
	var md strings.Builder
	fmt.Fprintf(&md, "## Training step (forward, backward, clipping, AdamW), %d threads\n\nMachine: %s\n\n", runtime.GOMAXPROCS(0), machine)
	if len(engines) > 0 {
		fmt.Fprintf(&md, "tunelab engines: %s. ", strings.Join(engines, "; "))
	}
	if o.torch {
		fmt.Fprintf(&md, "torch: %s.", o.device)
		if o.peerBF16 {
			md.WriteString(" torch runs in bfloat16 under torch.autocast (the Trainer's bf16=True), float32 weights and AdamW.")
		}
	}
	md.WriteString("\n\n" + benchkit.Table(workloads, "step"))
	md.WriteString("\nratio: tunelab / torch time per step (medians) on as many devices, lower is better. GFLOP/s: 3 forward passes' matrix products per step, as transformers computes them (tunelab's last layer computes the first position alone), over the median time.\n")
	if slices.ContainsFunc(workloads, func(w *benchkit.Workload) bool { return len(w.TorchDDP) > 0 }) {
		md.WriteString("torch xN: N processes of DistributedDataParallel under torchrun, one per device, each on batch/N rows; a step lasts until the slowest one is done; peak RSS is the first process's.\n")
	}
	md.WriteString(scalingTable(workloads))
	report := map[string]any{"threads": runtime.GOMAXPROCS(0), "machine": machine, "device": o.device,
		"workloads": workloads, "date": time.Now().UTC().Format(time.RFC3339), "engines": engines}
	if peak, err := benchkit.MachinePeakGFLOPS(); err != nil {
		fmt.Fprintf(&md, "Machine peak: unknown (%v).\n", err)
	} else {
		fmt.Fprintf(&md, "Machine peak: %s.\n", peak)
		report["peak"] = peak
	}
	return benchkit.WriteReport(o.out, "train_step", md.String(), report)
}

// engineDevices resolves -devices on b: the specs ("N" or "all") that name distinct device
// counts, and those counts ("all" on a one-device engine is 1 again, measured once).
func engineDevices(specs []string, b compute.Backend) (distinct []string, counts []int, err error) {
	for _, spec := range specs {
		devices, err := train.Devices(spec, b)
		if err != nil {
			return nil, nil, err
		}
		if !slices.Contains(counts, len(devices)) {
			distinct, counts = append(distinct, spec), append(counts, len(devices))
		}
	}
	return distinct, counts, nil
}

// scalingTable renders, when an engine (torch too) was measured on several device counts, a
// Markdown table of each count's samples/s, its speed-up over the engine on one device and the
// scaling efficiency (speed-up / devices), then a blank line; "" otherwise.
func scalingTable(workloads []*benchkit.Workload) string {
	var md strings.Builder
	for _, w := range workloads {
		one := map[string]*benchkit.Result{} // by engine
		for _, r := range w.Sides() {
			if r.Devices == 1 {
				one[r.Side] = r
			}
		}
		for _, r := range w.Sides() {
			engine, _, _ := strings.Cut(r.Side, " x")
			base := one[engine]
			if r.Devices <= 1 || base == nil {
				continue
			}
			if md.Len() == 0 {
				md.WriteString("\n| workload | engine | devices | samples/s | speed-up over 1 device | scaling efficiency |\n|---|---|---|---|---|---|\n")
			}
			speedUp := r.SamplesPerSec / base.SamplesPerSec
			fmt.Fprintf(&md, "| %s | %s | %d | %.2f | %.2f | %.0f%% |\n", w.Name, engine, r.Devices, r.SamplesPerSec, speedUp, 100*speedUp/float64(r.Devices))
		}
	}
	if md.Len() > 0 {
		md.WriteString("\n")
	}
	return md.String()
}

// peerDeviceCounts resolves -peer-devices: a count as it is; all as the GPUs torch sees on cuda
// (asked of the peer's python, so that CUDA_VISIBLE_DEVICES counts as for torchrun), and on cpu
// the one device torch has. Each count comes once.
func peerDeviceCounts(o options) ([]int, error) {
	var counts []int
	for _, spec := range o.peerDevices {
		n, err := strconv.Atoi(spec)
		switch {
		case spec == "all" && o.device == "cuda":
			out, err := osexec.Command(o.python, "-c", "import torch; print(torch.cuda.device_count())").Output()
			if err != nil {
				return nil, fmt.Errorf("-peer-devices all: counting torch's GPUs with %s: %w", o.python, err)
			}
			if n, err = strconv.Atoi(strings.TrimSpace(string(out))); err != nil || n < 1 {
				return nil, fmt.Errorf("-peer-devices all: %s counts %q GPUs", o.python, out)
			}
		case spec == "all":
			n = 1
		case err != nil || n < 1:
			return nil, fmt.Errorf("-peer-devices %q: want counts or all, comma-separated", spec)
		}
		if !slices.Contains(counts, n) {
			counts = append(counts, n)
		}
	}
	return counts, nil
}

// runPeer runs the peer on w over n devices: one process, or above one n processes that
// torchrun starts on this machine alone (--standalone), each on its share of the batch.
func runPeer(w *benchkit.Workload, o options, n int) (benchkit.Result, error) {
	args := append([]string{o.peer}, w.PeerArgs(o.reps, o.device)...)
	side := "torch (" + o.device + ")"
	if o.peerBF16 {
		args, side = append(args, "--autocast"), "torch ("+o.device+", bf16 autocast)"
	}
	if n > 1 {
		args = append([]string{"-m", "torch.distributed.run", "--standalone", "--nproc_per_node=" + strconv.Itoa(n)}, args...)
		side = fmt.Sprintf("%s x%d", side, n)
	}
	r, err := benchkit.RunPeer(osexec.Command(o.python, args...), side, w.Batch)
	r.Devices = n
	return r, err
}

// runTunelab builds w's model and a lab/train Trainer on the given devices of b (a count or
// all) and measures reps timed training steps (forward, backward, clipping, AdamW; dropout on)
// after a warm-up step (benchkit.Measure). The backend's Exec returns once the device has finished (go-xla waits for
// XLA's completion events), so the times are whole steps on a GPU too.
func runTunelab(w *benchkit.Workload, b compute.Backend, engine, devices string, reps int, profile io.Writer) (benchkit.Measurement, error) {
	ck, err := w.Checkpoint()
	if err != nil {
		return benchkit.Measurement{}, err
	}
	m := encoder.New(ck.Config, 2).WithMatmulDType(benchkit.MatmulDType(engine))
	store := model.NewStore()
	if err := m.LoadVariables(store, ck, 0); err != nil {
		return benchkit.Measurement{}, err
	}
	cfg := train.Defaults()
	cfg.BatchSize, cfg.WeightDecay, cfg.Devices = w.Batch, 0.01, devices
	tr, err := train.New(b, m, store, []string{"0", "1"}, cfg)
	if err != nil {
		return benchkit.Measurement{}, err
	}
	ids, _ := w.RandomTokens() // every row is w.Seq tokens
	rng := rand.New(rand.NewPCG(5, 6))
	d := &train.Dataset{}
	idx := make([]int, w.Batch)
	for i := range idx {
		idx[i] = i
		d.IDs = append(d.IDs, ids[i*w.Seq:(i+1)*w.Seq])
		d.TypeIDs = append(d.TypeIDs, make([]int32, w.Seq))
		d.Labels = append(d.Labels, rng.IntN(2))
	}
	return benchkit.Measure(reps, profile, func(k int) error {
		_, _, err := tr.TrainStep(d, idx, k)
		return err
	})
}
