// Command forward measures the forward pass (evaluation, serving) of a checkpoint at a fixed
// batch shape in tunelab and in transformers + torch on the same machine, and prints the ratio.
//
//	GOEXPERIMENT=simd go run ./bench/forward [-model models/all-MiniLM-L6-v2] [-batch 32] [-seq 128]
//
// The peer runs bench/forward/peer.py with $PYTHON (default /opt/oracle-venv/bin/python, a venv
// with torch and transformers) using as many threads as GOMAXPROCS.
//
// With -cpuprofile, also set GODEBUG=asyncpreemptoff=1: otherwise the profile credits a large
// share of the time spent in GoMLX's SIMD kernels to runtime.asyncPreempt (the timings do not
// change).
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
	flag.Parse()

	ck, err := checkpoint.Load(*dir, []string{"a", "b"})
	if err != nil {
		log.Fatal(err)
	}
	b, err := backend.New("")
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
	var times []float64
	for i := range *reps + 1 {
		if i == 1 && *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				log.Fatal(err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				log.Fatal(err)
			}
			defer pprof.StopCPUProfile()
		}
		start := time.Now()
		if _, err := exec.Exec1(tIDs, tMask); err != nil {
			log.Fatal(err)
		}
		if i > 0 {
			times = append(times, time.Since(start).Seconds())
		}
	}
	pprof.StopCPUProfile()
	ours := benchkit.Summarize("tunelab (GoMLX "+b.Name()+")", times, *batch)

	cmd := osexec.Command(*python, filepath.Join("bench", "forward", "peer.py"), *dir,
		strconv.Itoa(*batch), strconv.Itoa(*seq), strconv.Itoa(*reps), strconv.Itoa(runtime.GOMAXPROCS(0)))
	cmd.Stderr = os.Stderr
	peerOut, err := cmd.Output()
	if err != nil {
		log.Fatalf("peer: %v", err)
	}
	var peerTimes []float64
	if err := json.Unmarshal(peerOut, &peerTimes); err != nil {
		log.Fatalf("peer output %q: %v", peerOut, err)
	}
	peer := benchkit.Summarize("transformers + torch", peerTimes, *batch)

	ratio := ours.MedianSeconds / peer.MedianSeconds
	machine := benchkit.Machine()
	md := fmt.Sprintf("## Forward pass, %s, batch %d x seq %d, %d threads\n\nMachine: %s\n\n| side | median s/batch | samples/s |\n|---|---|---|\n| %s | %.3f | %.1f |\n| %s | %.3f | %.1f |\n\nratio tunelab / torch (time, lower is better): **%.2f**\n",
		filepath.Base(*dir), *batch, *seq, runtime.GOMAXPROCS(0), machine, ours.Side, ours.MedianSeconds, ours.SamplesPerSec, peer.Side, peer.MedianSeconds, peer.SamplesPerSec, ratio)
	fmt.Print(md)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	js, _ := json.MarshalIndent(map[string]any{"model": *dir, "batch": *batch, "seq": *seq, "threads": runtime.GOMAXPROCS(0), "machine": machine,
		"results": []benchkit.Result{ours, peer}, "ratio": ratio, "date": time.Now().UTC().Format(time.RFC3339)}, "", "  ")
	if err := checkpoint.WriteFileAtomic(filepath.Join(*out, "forward.json"), js); err != nil {
		log.Fatal(err)
	}
	if err := checkpoint.WriteFileAtomic(filepath.Join(*out, "forward.md"), []byte(md)); err != nil {
		log.Fatal(err)
	}
}
