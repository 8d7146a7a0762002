// Command forward measures the forward pass (evaluation, serving) in tunelab, on each of its
// engines (XLA's CPU plugin and the Go backend by default), and in transformers + torch on the
// same machine in the same run, and prints each engine's ratio to torch, the achieved GFLOP/s
// (benchkit.ForwardFLOPs over the median time) and the peak resident memory from the warm-up
// on, the loaded model included (each engine and workload in a process of its own,
// benchkit.MeasureAlone), for the workloads of benchkit.Workloads: all-MiniLM-L6-v2 at
// batch 32 x seq 128 (minilm) and 8 x 512 (minilm-512), and a random BERT-base-shaped model at
// 32 x 128 (bert-base).
//
//	GOEXPERIMENT=simd go run ./bench/forward [-model models/all-MiniLM-L6-v2] [-reps 5] \
//	[-only minilm] [-batch 2 -seq 16] [-backend xla:cuda -device cuda]
//
// The peer runs bench/forward/peer.py with $PYTHON (default /opt/oracle-venv/bin/python, a venv
// with torch and transformers) using as many threads as GOMAXPROCS, on -device. Results go to
// bench/results/forward.{json,md}.
//
// With -cpuprofile (and -only and one engine), also set GODEBUG=asyncpreemptoff=1: otherwise the profile
// credits a large share of the time spent in GoMLX's SIMD kernels to runtime.asyncPreempt (the
// timings do not change).
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/bench/forward/benchkit"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/encoder"
)

func main() {
	backend.StartTuned() // the engines' settings, as the tunelab command runs with
	minilm := flag.String("model", "models/all-MiniLM-L6-v2", "checkpoint directory of the MiniLM workloads")
	only := flag.String("only", "", "run only the workload with this name (minilm, minilm-512 or bert-base)")
	batch := flag.Int("batch", 0, "batch size of every selected workload, when > 0")
	seq := flag.Int("seq", 0, "sequence length of every selected workload, when > 0")
	reps := flag.Int("reps", 5, "timed repetitions per side and workload (after one warm-up)")
	python := flag.String("python", benchkit.EnvOr("PYTHON", "/opt/oracle-venv/bin/python"), "python with torch and transformers for the peer")
	out := flag.String("out", "bench/results", "directory for forward.json and forward.md")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of tunelab's timed repetitions to this file (with -only)")
	engines := flag.String("backend", "", `tunelab's engines, comma-separated, as for lab/backend.New ("xla:cuda", "go", ...; "xla:cpu+bf16" for bfloat16 matrix products); empty: benchkit.Engines, the default XLA engine (xla:cpu+bf16 and xla:cpu where the CPU has bfloat16 units), and go`)
	device := flag.String("device", "cpu", "the peer's torch device: cpu or cuda")
	flag.Parse()

	workloads, err := benchkit.Select(benchkit.Workloads(*minilm), *only, *batch, *seq)
	if err != nil {
		log.Fatal(err)
	}
	if job, ok := benchkit.AloneJob(); ok {
		benchkit.RunJob(job, workloads, *cpuProfile, func(w *benchkit.Workload, b compute.Backend, profile io.Writer) (benchkit.Measurement, error) {
			return runTunelab(w, b, job.Engine, *reps, profile)
		})
	}
	if *cpuProfile != "" && len(workloads) > 1 {
		log.Fatal("-cpuprofile profiles one workload: add -only")
	}
	tmp, err := os.MkdirTemp("", "forward")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	results := make([][]*benchkit.Result, len(workloads))
	for _, w := range workloads {
		if err := w.Prepare(tmp); err != nil {
			log.Fatalf("%s: %v", w.Name, err)
		}
		w.FLOPs = benchkit.ForwardFLOPs(w.Config, w.Batch, w.Seq)
	}
	names := benchkit.Engines(*engines)
	if *cpuProfile != "" && len(names) > 1 {
		log.Fatal("-cpuprofile profiles one engine: add -backend ENGINE")
	}
	var descriptions []string
	for _, engine := range names {
		b, err := benchkit.OpenEngine(engine, os.Stderr)
		if err != nil {
			log.Fatal(err)
		}
		descriptions = append(descriptions, benchkit.DescribeEngine(engine, b))
		b.Finalize()
		for i, w := range workloads {
			m, err := benchkit.MeasureAlone(benchkit.Job{Engine: engine, Workload: w.Name})
			if err != nil {
				log.Fatal(err)
			}
			ours := m.Result(engine, w.Batch)
			ours.GFLOPS = benchkit.GFLOPS(w.FLOPs, ours.MedianSeconds)
			log.Printf("%s: tunelab on %s %.3f s/batch (first %.2f s)", w.Name, engine, ours.MedianSeconds, ours.FirstSeconds)
			results[i] = append(results[i], &ours)
		}
	}
	for i, w := range workloads {
		peer, err := benchkit.RunPeer(osexec.Command(*python, append([]string{filepath.Join("bench", "forward", "peer.py")}, w.PeerArgs(*reps, *device)...)...),
			"torch ("+*device+")", w.Batch)
		if err != nil {
			log.Fatalf("%s: peer: %v", w.Name, err)
		}
		peer.GFLOPS = benchkit.GFLOPS(w.FLOPs, peer.MedianSeconds)
		log.Printf("%s: torch %.3f s/batch", w.Name, peer.MedianSeconds)
		w.Measured(results[i], &peer)
	}

	machine := benchkit.Machine()
	var md strings.Builder
	fmt.Fprintf(&md, "## Forward pass (evaluation, serving), %d threads\n\nMachine: %s\n\ntunelab engines: %s. torch: %s.\n\n%s",
		runtime.GOMAXPROCS(0), machine, strings.Join(descriptions, "; "), *device, benchkit.Table(workloads, "batch"))
	md.WriteString("\nratio: tunelab / torch time per batch (medians), lower is better. GFLOP/s: the encoder's matrix products per batch, as transformers computes them (tunelab's last layer computes the first position alone), over the median time.\n")
	report := map[string]any{"threads": runtime.GOMAXPROCS(0), "machine": machine, "engines": descriptions, "device": *device,
		"workloads": workloads, "date": time.Now().UTC().Format(time.RFC3339)}
	if peak, err := benchkit.MachinePeakGFLOPS(); err != nil {
		fmt.Fprintf(&md, "Machine peak: unknown (%v).\n", err)
	} else {
		fmt.Fprintf(&md, "Machine peak: %s.\n", peak)
		report["peak"] = peak
	}
	if err := benchkit.WriteReport(*out, "forward", md.String(), report); err != nil {
		log.Fatal(err)
	}
}

// runTunelab builds w's classifier and times reps forward passes over random tokens (after a
// warm-up that compiles the graph), with the peak resident memory from the warm-up on.
func runTunelab(w *benchkit.Workload, b compute.Backend, engine string, reps int, profile io.Writer) (benchkit.Measurement, error) {
	ck, err := w.Checkpoint()
	if err != nil {
		return benchkit.Measurement{}, err
	}
	m := encoder.New(ck.Config, len(ck.Labels)).WithMatmulDType(benchkit.MatmulDType(engine))
	store := model.NewStore()
	if err := m.LoadVariables(store, ck, 0); err != nil {
		return benchkit.Measurement{}, err
	}
	exec, err := model.NewExec(b, store, func(scope *model.Scope, tokens, mask *Node) *Node {
		return m.Logits(scope, tokens, mask, nil)
	})
	if err != nil {
		return benchkit.Measurement{}, err
	}
	ids, mask := w.RandomTokens()
	tIDs := tensors.FromFlatDataAndDimensions(ids, w.Batch, w.Seq)
	tMask := tensors.FromFlatDataAndDimensions(mask, w.Batch, w.Seq)
	return benchkit.Measure(reps, profile, func(int) error {
		_, err := exec.Exec1(tIDs, tMask)
		return err
	})
}
