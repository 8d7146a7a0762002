package display

import (
	"context"
	"os"

	"github.com/tunelab/tunelab/lab/runs"
	"github.com/tunelab/tunelab/lab/train"
)

// FineTune runs job as a notebook's training cell does (runs.FineTune), drawing its progress
// live in the cell's output, titled with the run's folder (known once FineTune has made it);
// outside a notebook it prints a line per evaluation.
func FineTune(ctx context.Context, job runs.Job) (*runs.Run, error) {
	var live *Live
	run, err := runs.FineTune(ctx, job, func(r *runs.Run, p train.Progress) {
		if live == nil {
			live = NewLive(r.Title())
			live.Text = os.Stdout
		}
		live.Update(p)
	})
	if live != nil {
		live.Finish()
	}
	return run, err
}

// Curves shows the run's loss and validation accuracy (a regression run's Spearman correlation)
// by step (runs.Run.Curves) side by side.
func Curves(r *runs.Run) string {
	loss, score := r.Curves()
	return Row(Image(loss), Image(score))
}

// RunsCurves shows the runs' validation curves by epoch (runs.ValidationCurves) side by side;
// nothing for no runs.
func RunsCurves(rs []*runs.Run) string {
	loss, metric := runs.ValidationCurves(rs)
	if loss == "" {
		return ""
	}
	return Row(Image(loss), Image(metric))
}
