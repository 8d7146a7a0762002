package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/tunelab/tunelab/lab/backend"
)

// TestPaddedRowsDoNotCount: a short batch padded with masked rows (as on XLA, to keep one shape)
// takes the same optimizer step as the unpadded batch, and its padding rows repeat a real one,
// for each problem type's loss.
func TestPaddedRowsDoNotCount(t *testing.T) {
	ids := [][]int32{{2, 17, 301, 3}, {2, 44, 3}, {2, 9, 80, 700, 5, 3}}
	types := [][]int32{{0, 0, 0, 0}, {0, 0, 0}, {0, 0, 0, 0, 0, 0}}
	for fixture, d := range map[string]*Dataset{
		"bert-tiny-cls":        {IDs: ids, TypeIDs: types, Labels: []int{2, 0, 1}},
		"bert-tiny-regression": {IDs: ids, TypeIDs: types, Targets: [][]float32{{7}, {-2.5}, {0.5}}},
		"bert-tiny-multilabel": {IDs: ids, TypeIDs: types, Targets: [][]float32{{1, 0, 1}, {0, 0, 0}, {0, 1, 0}}},
	} {
		t.Run(fixture, func(t *testing.T) { checkPaddedStep(t, fixture, d) })
	}
}

// checkPaddedStep compares the optimizer step of fixture on all of d with the step on d padded
// with one masked row.
func checkPaddedStep(t *testing.T, fixture string, d *Dataset) {
	zero := 0.0
	cfg := Defaults()
	cfg.LearningRate, cfg.WeightDecay, cfg.Dropout = 1e-3, 0.01, &zero
	idx := []int{0, 1, 2}
	step := func(rows int) map[string][]float32 {
		tr, _ := tinyTrainer(t, fixture, nil, cfg)
		if err := tr.startAtStepZero(); err != nil {
			t.Fatal(err)
		}
		tokens, mask, types, labels, real := d.batch(idx, []int{8, 16}, rows)
		if got := tensors.MustCopyFlatData[bool](real); len(got) != rows || got[rows-1] != (rows == len(idx)) {
			t.Fatalf("real rows %v for %d rows", got, rows)
		}
		if ids := tensors.MustCopyFlatData[int32](tokens); tokens.Shape().Dim(1) != 8 || (rows > 3 && ids[3*8+1] != ids[1]) {
			t.Fatalf("tokens %v %v: want 8 columns, padding rows repeating the first example", tokens.Shape(), ids)
		}
		stepOn(t, tr, tr.opt.StepAt(1, cfg.LearningRate), tokens, mask, types, labels, real)
		params, err := tr.model.Tensors(tr.store)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]float32{}
		for name, p := range params {
			out[name] = p.Data
		}
		return out
	}
	want, got := step(3), step(4)
	for name, w := range want {
		// Softmax ignores a bias added to every key, so the key biases' gradient is zero but for
		// rounding, which differs with the batch's shape (AVX2), and AdamW's first step,
		// lr*g/(|g|+eps), scales that noise up to lr.
		if strings.HasSuffix(name, "/key/dense/biases") {
			continue
		}
		for i := range w {
			if math.Abs(float64(got[name][i]-w[i])) > 1e-6 {
				t.Fatalf("%s[%d]: %g with a padding row, %g without", name, i, got[name][i], w[i])
			}
		}
	}
}

// TestCompileAhead: on XLA a run compiles, before its first step, one gradient program per
// padded length its batches reach, the optimizer's update and one evaluation program per
// evaluation batch shape, and none on the Go backend. The training batches' longest rows (25 or
// 20, and 3) pad to 25, and the evaluation's, run sorted by length in batches of 2 ({3, 20},
// {40}), to 40 with 2 rows each (backend.Shapes.PlanLengths: a second program costs more than
// the padding).
func TestCompileAhead(t *testing.T) {
	cfg := Defaults()
	cfg.MaxSteps, cfg.BatchSize, cfg.LogEvery = 1, 2, 1
	tr, _ := tinyTrainer(t, "bert-tiny-cls", nil, cfg)
	examples := func(lengths ...int) *Dataset {
		d := &Dataset{PadID: 0}
		for i, n := range lengths {
			ids := make([]int32, n)
			for k := range ids {
				ids[k] = int32(5 + k)
			}
			d.IDs, d.TypeIDs, d.Labels = append(d.IDs, ids), append(d.TypeIDs, make([]int32, n)), append(d.Labels, i%3)
		}
		return d
	}
	res, err := tr.Train(t.Context(), t.TempDir(), examples(3, 25, 20), examples(40, 3, 20))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	if tr.shapes.Few {
		want = 3
	}
	if res.Programs != want || (want > 0) != (res.CompileSeconds > 0) {
		t.Errorf("%d programs compiled ahead in %.2f s on %s, want %d", res.Programs, res.CompileSeconds, tr.backend.Name(), want)
	}
	if p, _ := tr.evaluator(); tr.shapes.Few && !slices.Equal(p.Shapes(examples(40, 3, 20), 2), [][2]int{{2, 40}}) {
		t.Errorf("evaluation shapes %v, want [[2 40]]", p.Shapes(examples(40, 3, 20), 2))
	}
}

// TestCompileAheadConcurrently: the programs after the first compile at once (compileAll), and
// every one is in place before the first step. The evaluation set's three lengths, 64 examples
// each and run sorted by length in batches of 64, plan to three programs (padding a batch of 64
// from 16 to 256 tokens costs 15,360 padded tokens, more than a program's price), and the
// training set to one, with the update: five programs, four of them compiled together.
func TestCompileAheadConcurrently(t *testing.T) {
	cfg := Defaults()
	cfg.MaxSteps, cfg.BatchSize, cfg.LogEvery = 1, 64, 1
	tr, _ := tinyTrainer(t, "bert-tiny-cls", nil, cfg)
	if !tr.shapes.Few {
		t.Skip("the Go backend compiles nothing ahead")
	}
	examples := func(lengths ...int) *Dataset {
		d := &Dataset{PadID: 0}
		for _, n := range lengths {
			for i := range 64 {
				ids := make([]int32, n)
				for k := range ids {
					ids[k] = int32(5 + (i+k)%50)
				}
				d.IDs, d.TypeIDs, d.Labels = append(d.IDs, ids), append(d.TypeIDs, make([]int32, n)), append(d.Labels, i%3)
			}
		}
		return d
	}
	evalSet := examples(512, 16, 256)
	p, err := tr.evaluator()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Shapes(evalSet, 64), [][2]int{{64, 16}, {64, 256}, {64, 512}}; !slices.Equal(got, want) {
		t.Fatalf("evaluation shapes %v, want %v", got, want)
	}
	res, err := tr.Train(t.Context(), t.TempDir(), examples(20), evalSet)
	if err != nil {
		t.Fatal(err)
	}
	if res.Programs != 5 {
		t.Errorf("%d programs compiled ahead, want 5", res.Programs)
	}
	if res.Eval == nil || len(res.Eval.Predictions) != evalSet.Len() {
		t.Errorf("evaluation after the concurrent compilation: %+v", res.Eval)
	}
}

// TestManyLengths: a trainer runs more shapes than GoMLX keeps programs for by default (32):
// 40 steps of 40 lengths, each padded to its own (TrainStep; on the Go backend a run's planned
// lengths are about as many).
func TestManyLengths(t *testing.T) {
	tr, _ := tinyTrainer(t, "bert-tiny-cls", nil, Defaults())
	if tr.shapes.Few {
		t.Skip("40 programs take minutes to compile on XLA; the Go backend pass runs this")
	}
	d := &Dataset{PadID: 0}
	for n := 3; n < 43; n++ {
		ids := make([]int32, n)
		for k := range ids {
			ids[k] = int32(5 + k%50)
		}
		d.IDs, d.TypeIDs, d.Labels = append(d.IDs, ids), append(d.TypeIDs, make([]int32, n)), append(d.Labels, n%3)
	}
	for k := range d.Len() {
		if _, _, err := tr.TrainStep(d, []int{k}, k+1); err != nil {
			t.Fatalf("step %d (%d tokens): %v", k+1, len(d.IDs[k]), err)
		}
	}
}

// TestPredictorKeepsEveryShape: on the Go backend the predictor runs more batch shapes than
// GoMLX keeps programs for by default (64 rows counts here; serving's fine buckets times row
// counts are as many), and warms none ahead: it builds each in milliseconds.
func TestPredictorKeepsEveryShape(t *testing.T) {
	tr, _ := tinyTrainer(t, "bert-tiny-cls", nil, Defaults())
	p, err := tr.evaluator()
	if err != nil {
		t.Fatal(err)
	}
	if p.shapes.Few {
		t.Skip("70 programs take minutes to compile on XLA; the Go backend pass runs this")
	}
	if shapes := p.WarmShapes(16, 64); len(shapes) != 0 {
		t.Errorf("WarmShapes on the Go backend = %v, want none", shapes)
	}
	for rows := 1; rows <= 70; rows++ {
		if err := p.Compile(rows, 8); err != nil {
			t.Fatalf("shape %d x 8: %v", rows, err)
		}
	}
}

// TestPlanIgnoresSeedAndEpochs: a run's padded lengths depend on its training set and batch size
// alone, so that a run with another seed or more epochs compiles the same programs (and loads
// them from the compilation cache), while padding each seed's batches within 1% of the tokens
// of the lengths planned for that seed's own batches. The set's 4,000 lengths are drawn as
// tweets' are (12 to 64 tokens, most near 30); group_by_length batches of 16.
func TestPlanIgnoresSeedAndEpochs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	d := &Dataset{}
	for range 4000 {
		n := min(64, 12+rng.IntN(20)+rng.IntN(20)+rng.IntN(15))
		d.IDs = append(d.IDs, make([]int32, n))
	}
	trainer := func(seed uint64, epochs int) *Trainer {
		cfg := Defaults()
		cfg.Seed, cfg.Epochs, cfg.BatchSize = seed, epochs, 16
		return &Trainer{cfg: cfg, shapes: backend.Shapes{Few: true}}
	}
	plan := trainer(1, 1).planLengths(d)
	if len(plan) < 3 {
		t.Fatalf("plan %v: want several lengths for 4,000 examples of 12 to 64 tokens", plan)
	}
	for _, seed := range []uint64{2, 3, 4} {
		for _, epochs := range []int{1, 3} {
			if got := trainer(seed, epochs).planLengths(d); !slices.Equal(got, plan) {
				t.Errorf("seed %d, %d epochs: lengths %v, want those of seed 1 and one epoch, %v", seed, epochs, got, plan)
			}
		}
		// The lengths planned for this seed's own batches of one epoch, and the tokens each plan
		// pads them to.
		tr := trainer(seed, 1)
		batches := tr.runBatches(d, 0)
		var longest, rows []int
		for _, b := range batches {
			longest, rows = append(longest, d.paddedLength(b, nil)), append(rows, 16)
		}
		own := tr.shapes.PlanLengths(longest, rows)
		padded := func(lengths []int) int {
			n := 0
			for _, b := range batches {
				n += 16 * d.paddedLength(b, lengths)
			}
			return n
		}
		if p, o := padded(plan), padded(own); float64(p) > 1.01*float64(o) {
			t.Errorf("seed %d: %d padded tokens with the shared lengths %v, more than 1%% over the %d of its own %v", seed, p, plan, o, own)
		}
	}
}
