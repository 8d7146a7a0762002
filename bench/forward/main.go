// Command forward measures the forward pass (evaluation, serving) of a checkpoint at a fixed
// batch shape in tunelab and in transformers + torch on the same machine, and prints the ratio,
// the achieved GFLOP/s (benchkit.ForwardFLOPs over the median time) and the peak resident memory
// from the warm-up on, the loaded model included.
//
//	GOEXPERIMENT=simd go run ./bench/forward [-model models/all-MiniLM-L6-v2] [-batch 32] [-seq 128] \
//	[-backend xla:cuda -device cuda]
//
// The peer runs bench/forward/peer.py with $PYTHON (default /opt/oracle-venv/bin/python, a venv
// with torch and transformers) using as many threads as GOMAXPROCS, on -device.
//
// With -cpuprofile, also set GODEBUG=asyncpreemptoff=1: otherwise the profile credits a large
// share of the time spent in GoMLX's SIMD kernels to runtime.asyncPreempt (the timings do not
// change).
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
	"strconv"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/bench/forward/benchkit"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/checkpoint"
	"github.com/tunelab/tunelab/lab/encoder"
)

func main() {
	dir := flag.String("model", "models/all-MiniLM-L6-v2", "checkpoint directory")
	batch := flag.Int("batch", 32, "batch size")
	seq := flag.Int("seq", 128, "sequence length")
	reps := flag.Int("reps", 10, "timed repetitions (after one warm-up)")
	python := flag.String("python", benchkit.EnvOr("PYTHON", "/opt/oracle-venv/bin/python"), "python with torch and transformers for the peer")
	out := flag.String("out", "bench/results", "directory for forward.json and forward.md")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of tunelab's timed repetitions to this file")
	backendConfig := flag.String("backend", "", `tunelab's backend, as for lab/backend.New ("xla:cuda", ...); empty: $GOMLX_BACKEND or the Go backend`)
	device := flag.String("device", "cpu", "the peer's torch device: cpu or cuda")
	flag.Parse()

	ck, err := checkpoint.Load(*dir, []string{"a", "b"})
	if err != nil {
		log.Fatal(err)
	}
	b, err := backend.New(*backendConfig)
	if err != nil {
		log.Fatal(err)
	}
	m := encoder.New(ck.Config, 2)
	store := model.NewStore()
	if err := m.LoadVariables(store, ck, 0); err != nil {
		log.Fatal(err)
	}
	exec, err := model.NewExec(b, store, func(scope *model.Scope, tokens, mask *Node) *Node {
		return m.Logits(scope, tokens, mask, nil)
	})
	if err != nil {
		log.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]int32, *batch**seq)
	mask := make([]int32, len(ids))
	for i := range ids {
		ids[i], mask[i] = int32(1000+rng.IntN(ck.Config.VocabSize-1000)), 1
	}
	tIDs := tensors.FromFlatDataAndDimensions(ids, *batch, *seq)
	tMask := tensors.FromFlatDataAndDimensions(mask, *batch, *seq)
	var profile io.Writer
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		profile = f
	}
	// Counted before the measurement, after which nothing refers to ck: its tensors were copied
	// into the store, and the garbage collector can return them before the peak is reset.
	flops := benchkit.ForwardFLOPs(ck.Config, *batch, *seq)
	times, peakRSS, err := benchkit.Measure(*reps, profile, func(int) error {
		_, err := exec.Exec1(tIDs, tMask)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	ours := benchkit.Summarize("tunelab (GoMLX "+b.Name()+")", times, *batch)
	ours.PeakRSSBytes, ours.GFLOPS = peakRSS, benchkit.GFLOPS(flops, ours.MedianSeconds)

	peer, err := benchkit.RunPeer(osexec.Command(*python, filepath.Join("bench", "forward", "peer.py"), *dir,
		strconv.Itoa(*batch), strconv.Itoa(*seq), strconv.Itoa(*reps), strconv.Itoa(runtime.GOMAXPROCS(0)), *device),
		"transformers + torch ("+*device+")", *batch)
	if err != nil {
		log.Fatalf("peer: %v", err)
	}
	peer.GFLOPS = benchkit.GFLOPS(flops, peer.MedianSeconds)

	ratio := ours.MedianSeconds / peer.MedianSeconds
	machine := benchkit.Machine()
	report := map[string]any{"model": *dir, "batch": *batch, "seq": *seq, "threads": runtime.GOMAXPROCS(0), "machine": machine,
		"backend": b.Description(), "device": *device, "flops_per_batch": flops,
		"results": []benchkit.Result{ours, peer}, "ratio": ratio, "date": time.Now().UTC().Format(time.RFC3339)}
	md := fmt.Sprintf("## Forward pass, %s, batch %d x seq %d, %d threads\n\nMachine: %s\n\ntunelab: %s. torch: %s.\n\n"+
		"| side | median s/batch | samples/s | GFLOP/s | peak RSS MiB |\n|---|---|---|---|---|\n",
		filepath.Base(*dir), *batch, *seq, runtime.GOMAXPROCS(0), machine, b.Description(), *device)
	for _, r := range []benchkit.Result{ours, peer} {
		md += fmt.Sprintf("| %s | %.3f | %.1f | %.1f | %.0f |\n", r.Side, r.MedianSeconds, r.SamplesPerSec, r.GFLOPS, benchkit.MiB(r.PeakRSSBytes))
	}
	md += fmt.Sprintf("\nratio tunelab / torch (time, lower is better): **%.2f**\n\nGFLOP/s: the encoder's matrix products per batch over the median time.\n", ratio)
	if peak, err := benchkit.MachinePeakGFLOPS(); err != nil {
		md += fmt.Sprintf("Machine peak: unknown (%v).\n", err)
	} else {
		md += fmt.Sprintf("Machine peak: %s.\n", peak)
		report["peak"] = peak
	}
	fmt.Print(md)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	js, _ := json.MarshalIndent(report, "", "  ")
	if err := checkpoint.WriteFileAtomic(filepath.Join(*out, "forward.json"), js); err != nil {
		log.Fatal(err)
	}
	if err := checkpoint.WriteFileAtomic(filepath.Join(*out, "forward.md"), []byte(md)); err != nil {
		log.Fatal(err)
	}
}
