package encoder_test

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/tunelab/tunelab/lab/hfmodel"
)

// TestProblemTypesMatchTorch checks the regression and multi-label heads of each family: the
// problem type and number of outputs read from the config.json transformers saved, the logits
// (within 1e-4) and the MSE or BCE-with-logits loss and its gradients (within 1e-3 relative)
// against transformers + torch.
func TestProblemTypesMatchTorch(t *testing.T) {
	for _, family := range []string{"bert", "roberta", "distilbert"} {
		for _, tc := range []struct {
			suffix  string
			problem hfmodel.ProblemType
		}{{"regression", hfmodel.Regression}, {"multilabel", hfmodel.MultiLabel}} {
			fixture := family + "-tiny-" + tc.suffix
			t.Run(fixture, func(t *testing.T) {
				dir := filepath.Join("testdata", fixture)
				ck, err := hfmodel.Load(dir, nil)
				if err != nil {
					t.Fatal(err)
				}
				goldenFile := filepath.Join(dir, "golden.safetensors")
				wantLogits := golden(t, goldenFile, "logits")
				if ck.Config.ProblemType != tc.problem || len(ck.Labels) != wantLogits.Shape().Dim(1) {
					t.Fatalf("problem type %q with %d labels, transformers saved %q with %d outputs",
						ck.Config.ProblemType, len(ck.Labels), tc.problem, wantLogits.Shape().Dim(1))
				}
				logits, _ := forward(t, ck, goldenFile)
				if d := maxAbsDiff(t, logits, tensors.MustCopyFlatData[float32](wantLogits), nil); d > 1e-4 {
					t.Errorf("logits differ from transformers by %g, want <= 1e-4", d)
				}
				checkGradients(t, fixture, tc.problem, 0)
			})
		}
	}
}

// TestMaskedRowsDoNotCount: the loss and gradients of each problem type on a batch padded with
// masked copies of its last row (the trainer's short-batch padding) equal torch's on the batch
// alone; unmasked, those copies would weigh the last row more and move both.
func TestMaskedRowsDoNotCount(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		problem hfmodel.ProblemType
	}{{"bert-tiny-cls", hfmodel.SingleLabel}, {"bert-tiny-regression", hfmodel.Regression}, {"bert-tiny-multilabel", hfmodel.MultiLabel}} {
		t.Run(tc.fixture, func(t *testing.T) { checkGradients(t, tc.fixture, tc.problem, 3) })
	}
}
