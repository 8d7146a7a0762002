// Command finetune fine-tunes one model on the disaster tweets with one recipe in tunelab, on each
// of its engines (XLA's CPU plugin and the Go backend by default), and in the transformers
// Trainer (bench/finetune/peer.py, torch on the CPU) on the same machine in the same run, seed by
// seed, and writes the validation F1 of "disaster" (mean over seeds), the time per epoch
// (compilation included), each seed's ratio of tunelab's epoch to the Trainer's with their median,
// and the samples/s of every side to finetune.json and finetune.md.
//
//	GOEXPERIMENT=simd go run ./bench/finetune [-train-limit 1000] [-seeds 1,2,3] [-backend xla:cpu]
//
// Both sides train on the same examples: the stratified 80/20 split of train.csv (seed 42) is made
// here with lab/data and handed to the peer as Kaggle ids, optionally subsampled (stratified) with
// -train-limit when the full run would take too long on the machine. Evaluation runs once, after
// training, on the whole validation split; checkpoints are written only at the end.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tunelab/tunelab/bench/forward/benchkit"
	"github.com/tunelab/tunelab/internal/atomicfile"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/backend/xlacache"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/train"
)

// Recipe is the shared hyperparameters, passed to the peer as JSON.
type Recipe struct {
	Model        string  `json:"model"`
	LearningRate float64 `json:"learning_rate"`
	BatchSize    int     `json:"batch_size"`
	Epochs       int     `json:"epochs"`
	WeightDecay  float64 `json:"weight_decay"`
	WarmupRatio  float64 `json:"warmup_ratio"`
	MaxLength    int     `json:"max_length"`
	Threads      int     `json:"threads"`
}

// Split is the examples both sides use, by Kaggle id, with their label ids.
type Split struct {
	TrainIDs       []string `json:"train_ids"`
	TrainLabels    []int    `json:"train_labels"`
	ValidationIDs  []string `json:"validation_ids"`
	ValidationLabs []int    `json:"validation_labels"`
	// TrainTotal and ValidationTotal are the sizes of the splits before -train-limit and -val-limit.
	TrainTotal      int `json:"train_total"`
	ValidationTotal int `json:"validation_total"`
}

// Run is one seed's outcome on one side.
type Run struct {
	Seed          int     `json:"seed"`
	F1            float64 `json:"f1_disaster"`
	Accuracy      float64 `json:"accuracy"`
	TrainSeconds  float64 `json:"train_seconds"`
	EpochSeconds  float64 `json:"seconds_per_epoch"`
	SamplesPerSec float64 `json:"train_samples_per_second"`
	// EvalSeconds is the evaluation on the validation split after training.
	EvalSeconds float64 `json:"eval_seconds"`
	// CompileSeconds is the part of TrainSeconds tunelab spent compiling (or loading compiled)
	// programs, its evaluation's included, CachedPrograms how many it loaded from the
	// compilation cache.
	CompileSeconds float64 `json:"compile_seconds,omitempty"`
	CachedPrograms int     `json:"cached_programs,omitempty"`
}

// whole is what the user waits for: training, then evaluating on the validation split.
func (r Run) whole() float64 { return r.TrainSeconds + r.EvalSeconds }

// Side is one implementation's runs and their means.
type Side struct {
	Name          string  `json:"name"`
	Runs          []Run   `json:"runs"`
	MeanF1        float64 `json:"mean_f1_disaster"`
	StdF1         float64 `json:"std_f1_disaster"`
	EpochSeconds  float64 `json:"mean_seconds_per_epoch"`
	EvalSeconds   float64 `json:"mean_eval_seconds"`
	SamplesPerSec float64 `json:"mean_train_samples_per_second"`
	// Rerun is the first seed run again with the compilation cache its first run filled, as a
	// notebook cell run again finds it (tunelab only).
	Rerun *Run `json:"rerun,omitempty"`
	// EpochRatios are, seed by seed, this side's epoch time over the Trainer's run of the same
	// seed just before it, MedianEpochRatio their median and RerunEpochRatio the rerun's over the
	// Trainer's first seed (tunelab beside the Trainer only).
	EpochRatios      []float64 `json:"epoch_over_trainers,omitempty"`
	MedianEpochRatio float64   `json:"median_epoch_over_trainers,omitempty"`
	RerunEpochRatio  float64   `json:"rerun_epoch_over_trainers,omitempty"`
	// WholeRatios and MedianWholeRatio are the same for training and evaluating (Run.whole):
	// tunelab compiles its evaluation's programs before training, so its epoch time holds their
	// compilation while the Trainer's holds none of its evaluation.
	WholeRatios      []float64 `json:"whole_over_trainers,omitempty"`
	MedianWholeRatio float64   `json:"median_whole_over_trainers,omitempty"`

	engine string // a tunelab side's engine (benchkit.Engines)
}

// median is the middle value of xs (the mean of the two middle ones for an even count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func main() {
	backend.StartTuned() // the engines' settings, as the tunelab command runs with
	dataDir := flag.String("data", data.DefaultDir(""), "data directory holding disaster_tweets/")
	modelDir := flag.String("model", "models/all-MiniLM-L6-v2", "pretrained checkpoint directory")
	seedList := flag.String("seeds", "1,2,3", "comma-separated training seeds (head init, order, dropout)")
	trainLimit := flag.Int("train-limit", 0, "train on a stratified subsample of this many examples (0: all)")
	valLimit := flag.Int("val-limit", 0, "validate on a stratified subsample of this many examples (0: all)")
	python := flag.String("python", benchkit.EnvOr("PYTHON", "/opt/oracle-venv/bin/python"), "python with torch and transformers for the peer")
	out := flag.String("out", "bench/results", "directory for finetune.json and finetune.md")
	engines := flag.String("backend", "", `tunelab's engines, comma-separated ("xla:cpu", "go", ... in float32; "xla:cpu+bf16" for bfloat16 matrix products); empty: benchkit.Engines, the default XLA engine (xla:cpu+bf16 and xla:cpu where the CPU has bfloat16 units), and go`)
	r := Recipe{LearningRate: 5e-5, BatchSize: 16, Epochs: 1, WeightDecay: 0.01, WarmupRatio: 0.1, MaxLength: 64, Threads: runtime.GOMAXPROCS(0)}
	flag.IntVar(&r.Epochs, "epochs", r.Epochs, "training epochs")
	withTrainer := flag.Bool("trainer", true, "fine-tune with the transformers Trainer too (false: compare tunelab's engines only)")
	rerun := flag.Bool("rerun", true, "run tunelab's first seed again with the compilation cache its first run filled")
	flag.Parse()
	r.Model = *modelDir
	var seeds []int
	for _, s := range strings.Split(*seedList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			log.Fatalf("-seeds %q: %v", *seedList, err)
		}
		seeds = append(seeds, n)
	}
	ctx := context.Background()
	loadStart := loadAverage()

	ds, err := data.NewLoader(*dataDir).WithSeed(42).WithValidation(0.2).Load(ctx, "tweets")
	if err != nil {
		log.Fatal(err)
	}
	trainSet, valSet := ds.Splits[data.Train], ds.Splits[data.Validation]
	split := Split{TrainTotal: len(trainSet), ValidationTotal: len(valSet)}
	if *trainLimit > 0 {
		trainSet = data.Limit(trainSet, *trainLimit, 42)
	}
	if *valLimit > 0 {
		valSet = data.Limit(valSet, *valLimit, 42)
	}
	for _, ex := range trainSet {
		split.TrainIDs, split.TrainLabels = append(split.TrainIDs, ex.ID), append(split.TrainLabels, ds.LabelID(ex.Label))
	}
	for _, ex := range valSet {
		split.ValidationIDs, split.ValidationLabs = append(split.ValidationIDs, ex.ID), append(split.ValidationLabs, ds.LabelID(ex.Label))
	}
	work, err := os.MkdirTemp("", "finetune-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	splitFile, recipeFile := filepath.Join(work, "split.json"), filepath.Join(work, "recipe.json")
	writeJSON(splitFile, split)
	writeJSON(recipeFile, r)
	log.Printf("%d training examples (of %d), %d validation, %d epochs, seeds %v", len(trainSet), split.TrainTotal, len(valSet), r.Epochs, seeds)

	// Seed by seed, the Trainer then every engine back to back, so that a change in the machine's
	// speed over the run (its neighbours') weighs on each seed's pair alike: each seed gives a
	// ratio of the two sides, and the report takes their median.
	peer := &Side{Name: "transformers Trainer"}
	engineList := benchkit.Engines(*engines)
	sides := make([]*Side, len(engineList))
	for i, engine := range engineList {
		sides[i] = &Side{Name: "tunelab " + engine, engine: engine}
	}
	for _, seed := range seeds {
		if *withTrainer { // first: it fails early if the peer's environment is incomplete
			peer.Runs = append(peer.Runs, trainerRun(*python, recipeFile, splitFile, filepath.Join(*dataDir, "disaster_tweets", "train.csv"), seed))
		}
		for _, side := range sides {
			// Each seed starts from an empty compilation cache, as a first run does; the rerun
			// finds the one its first run filled.
			cache := filepath.Join(work, fmt.Sprintf("cache-%s-%d", side.engine, seed))
			side.Runs = append(side.Runs, tunelabRun(ctx, r, side.engine, seed, trainSet, valSet, work, cache))
			if *rerun && seed == seeds[0] {
				again := tunelabRun(ctx, r, side.engine, seed, trainSet, valSet, work, cache)
				side.Rerun = &again
			}
		}
	}
	if !*withTrainer {
		peer = nil
	}
	load := fmt.Sprintf("load average (1 min) %s at the start, %s at the end", loadStart, loadAverage())
	for _, s := range append(sides, peer) {
		if s != nil {
			summarize(s, peer)
		}
	}
	report := map[string]any{
		"machine": machine(), "load": load, "recipe": r, "train_examples": len(trainSet), "train_split_size": split.TrainTotal,
		"validation_examples": len(valSet), "validation_split_size": split.ValidationTotal, "split": "stratified 80/20 of train.csv, seed 42 (lab/data), ids handed to the peer",
		"sides": sides, "trainer": peer,
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := atomicfile.WriteFile(filepath.Join(*out, "finetune.json"), mustJSON(report)); err != nil {
		log.Fatal(err)
	}
	if err := atomicfile.WriteFile(filepath.Join(*out, "finetune.md"), []byte(markdown(r, split, sides, peer, load))); err != nil {
		log.Fatal(err)
	}
	fmt.Print(markdown(r, split, sides, peer, load))
}

// trainerRun fine-tunes with the transformers Trainer (peer.py) with seed.
func trainerRun(python, recipeFile, splitFile, trainCSV string, seed int) Run {
	cmd := osexec.Command(python, "bench/finetune/peer.py", recipeFile, splitFile, trainCSV, strconv.Itoa(seed))
	cmd.Stderr, cmd.Env = os.Stderr, benchkit.PeerEnviron()
	outBytes, err := cmd.Output()
	if err != nil {
		log.Fatalf("peer seed %d: %v", seed, err)
	}
	var run Run
	if err := json.Unmarshal(outBytes, &run); err != nil {
		log.Fatalf("peer seed %d: %v in %q", seed, err, outBytes)
	}
	log.Printf("transformers seed %d: %+v", seed, run)
	return run
}

// tunelabRun fine-tunes a fresh classifier on engine with seed, in a run folder under work that
// it then removes (a checkpoint and a model: hundreds of MB), and exits on failure.
func tunelabRun(ctx context.Context, r Recipe, engine string, seed int, trainSet, valSet []data.Example, work, cacheDir string) Run {
	runDir := filepath.Join(work, fmt.Sprintf("run-%s-%d", engine, seed))
	run, err := tunelabFineTune(ctx, r, engine, seed, trainSet, valSet, runDir, cacheDir)
	os.RemoveAll(runDir)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("tunelab on %s, seed %d: %+v", engine, seed, run)
	return run
}

// tunelabFineTune fine-tunes a fresh classifier with seed, its compiled programs cached in
// cacheDir, and times the training (compilation included) and the one evaluation after its last
// step; the checkpoint written after them is not timed.
func tunelabFineTune(ctx context.Context, r Recipe, engine string, seed int, trainSet, valSet []data.Example, runDir, cacheDir string) (Run, error) {
	if err := os.Setenv(xlacache.EnvVar, cacheDir); err != nil { // read by the engine lab.Load makes
		return Run{}, err
	}
	opts := []lab.Option{lab.WithLabels(data.TweetLabels...), lab.WithMaxLength(r.MaxLength), lab.WithSeed(uint64(seed))}
	config, _ := benchkit.SplitEngine(engine)
	opts = append(opts, lab.WithBackend(config), lab.WithMatmulDType(benchkit.MatmulDType(engine)))
	clf, err := lab.Load(ctx, r.Model, opts...)
	if err != nil {
		return Run{}, err
	}
	cfg := train.Defaults()
	cfg.LearningRate, cfg.BatchSize, cfg.Epochs, cfg.WeightDecay, cfg.WarmupRatio = r.LearningRate, r.BatchSize, r.Epochs, r.WeightDecay, r.WarmupRatio
	cfg.Seed, cfg.EvalEvery, cfg.SaveEvery, cfg.SaveTotalLimit, cfg.LogEvery = uint64(seed), math.MaxInt32, math.MaxInt32, 1, 50
	start := time.Now()
	var trainTime, evalEnd time.Duration
	hook := func(p train.Progress) {
		if p.Step == p.TotalSteps {
			if p.Eval == nil {
				trainTime = time.Since(start)
			} else {
				evalEnd = time.Since(start)
			}
		}
	}
	res, err := clf.FineTune(ctx, cfg, trainSet, valSet, runDir, false, os.Stderr, hook)
	if err != nil {
		return Run{}, err
	}
	m := res.Eval.Metrics()
	secs := trainTime.Seconds()
	return Run{Seed: seed, F1: m["f1"], Accuracy: m["accuracy"], TrainSeconds: secs, EpochSeconds: secs / float64(r.Epochs),
		SamplesPerSec: float64(len(trainSet)*r.Epochs) / secs, EvalSeconds: (evalEnd - trainTime).Seconds(), CompileSeconds: res.CompileSeconds, CachedPrograms: res.CachedPrograms}, nil
}

// summarize computes s's means and, for a tunelab side beside the Trainer's runs (peer, nil when
// it did not run), each seed's ratio of epoch times and their median.
func summarize(s *Side, peer *Side) {
	n := float64(len(s.Runs))
	if peer != nil && s != peer {
		for i, run := range s.Runs {
			s.EpochRatios = append(s.EpochRatios, run.EpochSeconds/peer.Runs[i].EpochSeconds)
			s.WholeRatios = append(s.WholeRatios, run.whole()/peer.Runs[i].whole())
		}
		s.MedianEpochRatio, s.MedianWholeRatio = median(s.EpochRatios), median(s.WholeRatios)
		if s.Rerun != nil {
			s.RerunEpochRatio = s.Rerun.EpochSeconds / peer.Runs[0].EpochSeconds
		}
	}
	for _, run := range s.Runs {
		s.MeanF1 += run.F1 / n
		s.EpochSeconds += run.EpochSeconds / n
		s.EvalSeconds += run.EvalSeconds / n
		s.SamplesPerSec += run.SamplesPerSec / n
	}
	for _, run := range s.Runs {
		s.StdF1 += (run.F1 - s.MeanF1) * (run.F1 - s.MeanF1) / math.Max(1, n-1)
	}
	s.StdF1 = math.Sqrt(s.StdF1)
}

// markdown renders the report: every side's F1 and speed, then each tunelab engine beside the
// Trainer (peer, nil when it did not run) and beside the first engine.
func markdown(r Recipe, split Split, sides []*Side, peer *Side, load string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Fine-tuning: tunelab vs the transformers Trainer\n\nMachine: %s; %s (other work shares the machine when it exceeds the core count: the times are then upper bounds).\n\n", machine(), load)
	fmt.Fprintf(&b, "%s on disaster tweets, the stratified 80/20 split of train.csv (seed 42): training on %d of its %d training examples "+
		"and validating on %d of its %d validation examples (stratified subsamples when fewer). "+
		"Recipe: lr %g, batch %d, epochs %d, weight decay %g, warmup ratio %g, linear schedule, max length %d, %d threads.\n\n",
		r.Model, len(split.TrainIDs), split.TrainTotal, len(split.ValidationIDs), split.ValidationTotal,
		r.LearningRate, r.BatchSize, r.Epochs, r.WeightDecay, r.WarmupRatio, r.MaxLength, r.Threads)
	b.WriteString("Seed by seed, the Trainer ran first and tunelab's engines just after it, each seed's tunelab run from an empty compilation cache.\n\n")
	b.WriteString("| side | F1 of disaster per seed | mean F1 (std) | s/epoch | then evaluating (s) | train samples/s |\n|---|---|---|---|---|---|\n")
	all := sides
	if peer != nil {
		all = append(all[:len(all):len(all)], peer)
	}
	for _, s := range all {
		var per []string
		for _, run := range s.Runs {
			per = append(per, fmt.Sprintf("%d: %.4f", run.Seed, run.F1))
		}
		fmt.Fprintf(&b, "| %s | %s | %.4f (%.4f) | %.1f | %.1f | %.1f |\n", s.Name, strings.Join(per, ", "), s.MeanF1, s.StdF1, s.EpochSeconds, s.EvalSeconds, s.SamplesPerSec)
	}
	if peer != nil {
		b.WriteString("\nTime ratios against the Trainer's run of the same seed, compilation included (tunelab's epoch includes compiling its evaluation's programs, the Trainer's none of its evaluation):\n\n")
		b.WriteString("| tunelab engine | mean F1 - Trainer's | s/epoch / Trainer's, per seed | median | train + evaluate / Trainer's, per seed | median |\n|---|---|---|---|---|---|\n")
		perSeed := func(s *Side, ratios []float64) string {
			var per []string
			for i, ratio := range ratios {
				per = append(per, fmt.Sprintf("%d: %.2f", s.Runs[i].Seed, ratio))
			}
			return strings.Join(per, ", ")
		}
		for _, s := range sides {
			fmt.Fprintf(&b, "| %s | %+.4f | %s | **%.2f** | %s | **%.2f** |\n", s.Name, s.MeanF1-peer.MeanF1,
				perSeed(s, s.EpochRatios), s.MedianEpochRatio, perSeed(s, s.WholeRatios), s.MedianWholeRatio)
		}
	}
	b.WriteString("\n| tunelab engine | compiling, first runs (s, share of the epoch) | seed's run again, programs from the compilation cache: s/epoch, compiling |")
	if peer != nil {
		b.WriteString(" run again / the Trainer's same seed |")
	}
	b.WriteString("\n|---|---|---|")
	if peer != nil {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, s := range sides {
		var compile float64
		for _, run := range s.Runs {
			compile += run.CompileSeconds / float64(len(s.Runs))
		}
		epoch := s.EpochSeconds * float64(r.Epochs) // summarize's mean: one run's training time
		again := "-"
		if s.Rerun != nil {
			again = fmt.Sprintf("seed %d: %.1f, %.1f s (%d programs loaded, F1 %.4f)", s.Rerun.Seed, s.Rerun.EpochSeconds,
				s.Rerun.CompileSeconds, s.Rerun.CachedPrograms, s.Rerun.F1)
		}
		fmt.Fprintf(&b, "| %s | %.1f (%.0f%%) | %s |", s.Name, compile, 100*compile/epoch, again)
		if peer != nil && s.Rerun != nil {
			fmt.Fprintf(&b, " **%.2f** |", s.RerunEpochRatio)
		} else if peer != nil {
			b.WriteString(" - |")
		}
		b.WriteString("\n")
	}
	if len(sides) > 1 {
		first := sides[0]
		fmt.Fprintf(&b, "\n| tunelab engine | mean F1 - %s's | within the seeds' spread (difference no larger than the larger std) | s/epoch / %s's |\n|---|---|---|---|\n", first.Name, first.Name)
		for _, s := range sides[1:] {
			d := s.MeanF1 - first.MeanF1
			fmt.Fprintf(&b, "| %s | %+.4f | %t | %.2f |\n", s.Name, d, math.Abs(d) <= math.Max(s.StdF1, first.StdF1), s.EpochSeconds/first.EpochSeconds)
		}
	}
	return b.String()
}

// machine is benchkit's description of the CPU with the Go version that built the binary.
func machine() string {
	return benchkit.Machine() + ", " + runtime.Version()
}

// loadAverage is the 1-minute load average, or "unknown".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(data))[0]
}

func writeJSON(path string, v any) {
	if err := os.WriteFile(path, mustJSON(v), 0o644); err != nil {
		log.Fatal(err)
	}
}

func mustJSON(v any) []byte {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	return append(data, '\n')
}
