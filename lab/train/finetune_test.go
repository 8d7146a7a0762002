package train

import (
	"context"
	"testing"

	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab/encoder"
	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/tokenize"
)

// TestFineTuneMiniLMOnTweets fine-tunes the real all-MiniLM-L6-v2 with a fresh head on 192 real
// disaster tweets (truncated to 32 tokens) for 12 steps: the held-out loss on 64 others must
// fall from the fresh head's.
func TestFineTuneMiniLMOnTweets(t *testing.T) {
	if testing.Short() {
		t.Skip("fine-tunes a 22M-parameter model")
	}
	dir := testenv.ModelDir(t, "all-MiniLM-L6-v2")
	tok, err := tokenize.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	trainSet, evalSet := tweets(t, tok.WithMaxLength(32), 192, 64)
	ck, err := hfmodel.Load(dir, tweetLabels)
	if err != nil {
		t.Fatal(err)
	}
	m := encoder.New(ck.Config, len(tweetLabels))
	store := model.NewStore()
	if err := m.LoadVariables(store, ck, 1); err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.LearningRate, cfg.Epochs, cfg.BatchSize, cfg.WarmupRatio, cfg.WeightDecay = 2e-4, 1, 16, 0.1, 0.01
	tr, err := New(testBackend(), m, store, tweetLabels, cfg)
	if err != nil {
		t.Fatal(err)
	}
	before, err := tr.Evaluate(context.Background(), evalSet)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Train(context.Background(), t.TempDir(), trainSet, evalSet)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("eval before %v, after %v", before.Metrics(), res.Eval.Metrics())
	if res.Step != 12 || res.Eval.Loss >= before.Loss-0.05 {
		t.Errorf("%d steps; held-out loss %.4f -> %.4f, want 12 steps and a drop of at least 0.05", res.Step, before.Loss, res.Eval.Loss)
	}
}
