// Command tokenizer measures tokenizer throughput (texts/s) on the IMDB train reviews in tunelab
// (lab/tokenize) and in Hugging Face tokenizers (Rust, from PyPI) on the same machine, with one
// thread and with all of them, and prints the ratio of throughputs (higher is better for tunelab).
//
//	GOEXPERIMENT=simd go run ./bench/tokenizer [-model models/all-MiniLM-L6-v2] [-reps 3]
//
// Both sides load the model's tokenizer.json, truncate to 512 tokens and encode the reviews in
// chunks of 1,000 texts with their batch API (tunelab's EncodeBatch, which also pads each chunk
// to its longest row; tokenizers' encode_batch). The peer, bench/tokenizer/peer.py, runs with
// $TOKENIZER_PYTHON (default python3) and RAYON_NUM_THREADS set to the thread count. Both sides
// report the number of tokens they produced, which must agree. Results go to
// bench/results/tokenizer.{json,md}.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/tunelab/tunelab/bench/forward/benchkit"
	"github.com/tunelab/tunelab/internal/atomicfile"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/tokenize"
)

// chunk is how many texts one batch call encodes on both sides.
const chunk = 1000

// maxLength truncates every review, as a model with 512 positions needs.
const maxLength = 512

// Case is one thread count's measurement.
type Case struct {
	Threads int             `json:"threads"`
	Tunelab benchkit.Result `json:"tunelab"`
	Peer    benchkit.Result `json:"tokenizers"`
	// Ratio is tunelab's throughput over the peer's (>= 1: tunelab is at least as fast).
	Ratio float64 `json:"throughput_ratio"`
}

func main() {
	modelDir := flag.String("model", "models/all-MiniLM-L6-v2", "checkpoint directory holding tokenizer.json")
	dataDir := flag.String("data", data.DefaultDir(""), "data directory holding the IMDB archive")
	reps := flag.Int("reps", 3, "timed passes over the texts per side and thread count")
	python := flag.String("python", benchkit.EnvOr("TOKENIZER_PYTHON", "python3"), "python with the tokenizers package")
	out := flag.String("out", "bench/results", "directory for tokenizer.json and tokenizer.md")
	flag.Parse()

	ds, err := data.NewLoader(*dataDir).Load(context.Background(), data.IMDB)
	if err != nil {
		log.Fatal(err)
	}
	var texts []string
	for _, ex := range ds.Splits[data.Train] {
		texts = append(texts, ex.Text)
	}
	work, err := os.MkdirTemp("", "tokenizer-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	textsFile := filepath.Join(work, "texts.jsonl")
	if err := writeLines(textsFile, texts); err != nil {
		log.Fatal(err)
	}
	tok, err := tokenize.Load(*modelDir)
	if err != nil {
		log.Fatal(err)
	}
	tok = tok.WithMaxLength(maxLength)

	var cases []Case
	for _, threads := range []int{1, runtime.NumCPU()} {
		times, tokens, err := tunelabTimes(tok, texts, threads, *reps)
		if err != nil {
			log.Fatal(err)
		}
		peerTimes, peerTokens, err := peer(*python, *modelDir, textsFile, threads, *reps)
		if err != nil {
			log.Fatal(err)
		}
		if tokens != peerTokens {
			log.Fatalf("%d threads: tunelab produced %d tokens, tokenizers %d: the two sides did different work", threads, tokens, peerTokens)
		}
		c := Case{Threads: threads,
			Tunelab: benchkit.Summarize("tunelab (lab/tokenize)", times, len(texts)),
			Peer:    benchkit.Summarize("Hugging Face tokenizers", peerTimes, len(texts))}
		c.Ratio = c.Tunelab.SamplesPerSec / c.Peer.SamplesPerSec
		log.Printf("%d threads: tunelab %.0f texts/s, tokenizers %.0f texts/s, %d tokens", threads, c.Tunelab.SamplesPerSec, c.Peer.SamplesPerSec, tokens)
		cases = append(cases, c)
	}
	report := map[string]any{"date": time.Now().UTC().Format(time.RFC3339), "machine": benchkit.Machine(), "model": *modelDir,
		"texts": len(texts), "max_length": maxLength, "chunk": chunk, "cases": cases}
	js, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	md := markdown(*modelDir, len(texts), cases)
	if err := atomicfile.WriteFile(filepath.Join(*out, "tokenizer.json"), append(js, '\n')); err != nil {
		log.Fatal(err)
	}
	if err := atomicfile.WriteFile(filepath.Join(*out, "tokenizer.md"), []byte(md)); err != nil {
		log.Fatal(err)
	}
	fmt.Print(md)
}

// tunelabTimes encodes texts reps times (after one warm-up pass, benchkit.Measure) with
// GOMAXPROCS threads and returns the seconds of each pass and the number of tokens of a pass
// (padding excluded).
func tunelabTimes(tok *tokenize.Tokenizer, texts []string, threads, reps int) ([]float64, int, error) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
	tokens := 0
	m, err := benchkit.Measure(reps, nil, func(int) error {
		tokens = 0
		for lo := 0; lo < len(texts); lo += chunk {
			b, err := tok.EncodeBatch(texts[lo:min(lo+chunk, len(texts))])
			if err != nil {
				return err
			}
			for _, n := range b.Lengths {
				tokens += n
			}
		}
		return nil
	})
	return m.Times, tokens, err
}

// peer runs peer.py with threads Rayon threads and returns its seconds per pass and its token count.
func peer(python, modelDir, textsFile string, threads, reps int) ([]float64, int, error) {
	cmd := osexec.Command(python, "bench/tokenizer/peer.py", filepath.Join(modelDir, "tokenizer.json"), textsFile,
		fmt.Sprint(maxLength), fmt.Sprint(chunk), fmt.Sprint(reps))
	cmd.Env = append(benchkit.PeerEnviron(), fmt.Sprintf("RAYON_NUM_THREADS=%d", threads))
	cmd.Stderr = os.Stderr
	outBytes, err := cmd.Output()
	if err != nil {
		return nil, 0, fmt.Errorf("peer with %d threads: %w", threads, err)
	}
	var res struct {
		Times  []float64 `json:"times"`
		Tokens int       `json:"tokens"`
	}
	if err := json.Unmarshal(outBytes, &res); err != nil {
		return nil, 0, fmt.Errorf("peer with %d threads: %w in %q", threads, err, outBytes)
	}
	return res.Times, res.Tokens, nil
}

func writeLines(path string, texts []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, t := range texts {
		if err := enc.Encode(t); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func markdown(model string, n int, cases []Case) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Tokenizer throughput, %s, %d IMDB train reviews (truncated to %d tokens, batches of %d)\n\nMachine: %s\n\n",
		model, n, maxLength, chunk, benchkit.Machine())
	b.WriteString("| threads | tunelab texts/s | tokenizers texts/s | ratio tunelab / tokenizers (throughput, higher is better) |\n|---|---|---|---|\n")
	for _, c := range cases {
		fmt.Fprintf(&b, "| %d | %.0f | %.0f | **%.2f** |\n", c.Threads, c.Tunelab.SamplesPerSec, c.Peer.SamplesPerSec, c.Ratio)
	}
	return b.String()
}
