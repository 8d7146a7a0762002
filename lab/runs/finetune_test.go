package runs

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/train"
)

// TestFineTuneSeedDrawsTheHead: the job's seed reaches the fresh head's initialisation. One
// optimizer step inside a one-step warmup has learning rate 0, so the saved head is the initial
// one: equal to the head lab.Load draws with that seed, and different for another seed. The
// progress hook hears of the step with the run's record up to date, and the record names the
// matrix products' dtype.
func TestFineTuneSeedDrawsTheHead(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes a 22M-parameter model")
	}
	modelDir := testenv.ModelDir(t, lab.DefaultModel)
	ctx := context.Background()
	tweets, err := data.NewLoader(testenv.DataDir(t)).WithLimit(8).Load(ctx, data.Tweets)
	if err != nil {
		t.Fatal(err)
	}
	const weights = "/classifier/dense/weights"
	head := func(seed uint64, matmul dtypes.DType) ([]float32, *Run) {
		cfg := train.Defaults()
		cfg.MaxSteps, cfg.WarmupSteps, cfg.BatchSize, cfg.Seed = 1, 1, 4, seed
		job := Job{Model: modelDir, Task: data.Tweets, Data: tweets, MaxLength: 16, Config: cfg, MatmulDType: matmul, Dir: t.TempDir()}
		var steps []int
		run, err := FineTune(ctx, job, func(r *Run, p train.Progress) {
			if r.Dir != filepath.Join(job.Dir, data.Tweets, r.Name) || r.Step != p.Step {
				t.Errorf("progress of run %s (%s) at step %d: want the run's folder, its record up to date at step %d", r.Name, r.Dir, r.Step, p.Step)
			}
			steps = append(steps, p.Step)
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(steps) == 0 || steps[len(steps)-1] != 1 {
			t.Errorf("progress reported steps %v, want up to step 1", steps)
		}
		ck, err := hfmodel.Load(run.ModelDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return ck.Tensors[weights].Data, run
	}
	seven, sevenRun := head(7, dtypes.InvalidDType)
	eight, eightRun := head(8, dtypes.Float32)
	clf, err := lab.Load(ctx, modelDir, lab.WithLabels(tweets.Labels...), lab.WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	if want := tensors.MustCopyFlatData[float32](clf.Store.GetVariable(weights).MustValue()); !slices.Equal(seven, want) {
		t.Errorf("seed 7 trained from head %v..., lab.Load with seed 7 draws %v...", seven[:3], want[:3])
	}
	if slices.Equal(seven, eight) {
		t.Errorf("seeds 7 and 8 start from the same head %v...", seven[:3])
	}
	// The runs record their matrix products: the engine's default, or the job's choice.
	if want := backend.DTypeName(backend.MatmulDType(clf.Backend)); sevenRun.MatmulDType != want {
		t.Errorf("run with the default products recorded %q, want %q", sevenRun.MatmulDType, want)
	}
	if eightRun.MatmulDType != "float32" {
		t.Errorf("run with Job.MatmulDType float32 recorded %q", eightRun.MatmulDType)
	}
}
