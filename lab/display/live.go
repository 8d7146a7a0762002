package display

import (
	"fmt"
	"html"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/janpfeifer/gonb/gonbui"

	"github.com/tunelab/tunelab/lab/plot"
	"github.com/tunelab/tunelab/lab/train"
)

// Live shows a training run as it goes: a progress bar with step, loss, learning rate,
// throughput and ETA, the loss curve so far and the latest evaluation. In GoNB it redraws one
// output block in place; elsewhere it prints a line per evaluation to Text (if set).
//
//	live := display.NewLive("MiniLM on disaster tweets")
//	res, err := clf.FineTune(ctx, cfg, trainSet, evalSet, runDir, false, nil, live.Update)
//	live.Finish()
type Live struct {
	// Text receives a line per evaluation when not running in a notebook (nil: nothing).
	Text io.Writer
	// Every is the least time between two redraws (default 2s); evaluations always redraw.
	Every time.Duration

	title   string
	id      string
	last    time.Time
	p       train.Progress
	steps   []float64
	losses  []float64
	evals   []train.Progress
	started bool
}

// NewLive returns a live display titled title.
func NewLive(title string) *Live {
	return &Live{title: title, id: gonbui.UniqueId(), Every: 2 * time.Second}
}

// Update records p and redraws; pass it as FineTune's hook.
func (l *Live) Update(p train.Progress) {
	l.started = true
	if p.Eval != nil {
		l.evals = append(l.evals, p)
	} else {
		l.p = p // evaluations carry no loss, learning rate or throughput
		l.steps = append(l.steps, float64(p.Step))
		l.losses = append(l.losses, p.Loss)
	}
	if p.Eval == nil && time.Since(l.last) < l.Every && p.Step < p.TotalSteps {
		return
	}
	l.last = time.Now()
	if gonbui.IsNotebook {
		gonbui.UpdateHTML(l.id, l.HTML())
	} else if l.Text != nil && p.Eval != nil {
		fmt.Fprintf(l.Text, "%s: step %d/%d %s\n", l.title, p.Step, p.TotalSteps, formatMetrics(p.Eval))
	}
}

// Finish draws the final state (the last update may have been skipped by Every) and waits until
// GoNB has received it: a cell's program may exit before its outputs are sent otherwise.
func (l *Live) Finish() {
	if !gonbui.IsNotebook {
		return
	}
	gonbui.UpdateHTML(l.id, l.HTML())
	gonbui.Sync()
}

// HTML renders the current state.
func (l *Live) HTML() string {
	p := l.p
	done := 0.0
	if p.TotalSteps > 0 {
		done = float64(p.Step) / float64(p.TotalSteps)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<div style="font-family:sans-serif;font-size:13px"><b>%s</b>`, html.EscapeString(l.title))
	if !l.started {
		b.WriteString(` starting…</div>`)
		return b.String()
	}
	fmt.Fprintf(&b, `<div style="background:#eee;width:100%%;max-width:640px;height:14px;margin:4px 0"><div style="background:#4e79a7;width:%.1f%%;height:14px"></div></div>`, 100*done)
	fmt.Fprintf(&b, `<div>step %d/%d · epoch %.2f · loss %.4f · lr %.2e · %.1f samples/s · elapsed %s · ETA %s</div>`,
		p.Step, p.TotalSteps, p.Epoch, p.Loss, p.LR, p.SamplesPerSec, p.Elapsed.Round(time.Second), p.ETA.Round(time.Second))
	if len(l.evals) > 0 {
		last := l.evals[len(l.evals)-1]
		fmt.Fprintf(&b, `<div>evaluation at step %d: %s</div>`, last.Step, html.EscapeString(formatMetrics(last.Eval)))
	}
	if len(l.losses) > 1 {
		series := []plot.Series{{Name: "training loss", X: l.steps, Y: l.losses}}
		if len(l.evals) > 0 {
			ev := plot.Series{Name: "validation loss"}
			for _, e := range l.evals {
				ev.X = append(ev.X, float64(e.Step))
				ev.Y = append(ev.Y, e.Eval["loss"])
			}
			series = append(series, ev)
		}
		b.WriteString(`<div style="max-width:640px">` + Image(plot.Lines("loss", "step", series...)) + `</div>`)
	}
	b.WriteString(`</div>`)
	return b.String()
}

// formatMetrics prints metrics sorted by name: "accuracy 0.8123, f1 0.7712, loss 0.4321".
func formatMetrics(m map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %.4f", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
