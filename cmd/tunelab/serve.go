package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/serve"
)

func init() {
	register(command{name: "serve", summary: "serve a classifier as a web demo with a JSON and Gradio-compatible API", run: runServe})
}

// served adapts a lab.Classifier to the server's Classifier interface.
type served struct{ *lab.Classifier }

func (s served) Labels() []string { return s.Classifier.Labels }

func (s served) Classify(ctx context.Context, texts []string) ([][]float32, error) {
	return s.Probabilities(ctx, texts)
}

// describe is the page's default description of what clf does.
func describe(clf *lab.Classifier) string {
	switch clf.Problem {
	case hfmodel.Regression:
		return "Predicts a number from a text (regression)."
	case hfmodel.MultiLabel:
		return fmt.Sprintf("Tags texts with any of %s (multi-label: each label's own probability; labels above 0.5 apply).", strings.Join(clf.Labels, ", "))
	}
	return fmt.Sprintf("Text classification into %s.", strings.Join(clf.Labels, ", "))
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	mf.registerRun(fs)
	host := fs.String("host", "0.0.0.0", "address to listen on")
	port := fs.Int("port", 7860, "port to listen on (7860 is what Hugging Face Spaces expect)")
	title := fs.String("title", "", "page title (default: the model card's title, else the model folder's name)")
	description := fs.String("description", "", "text under the title")
	var examples stringList
	fs.Var(&examples, "example", "example text shown under the textbox (repeatable; default: the model card's widget texts)")
	flagDir := fs.String("flag-dir", "flagged", "folder of the Flag button's CSV log (empty: no flagging)")
	origins := fs.String("cors", "", "comma-separated origins allowed to call the API from a browser (* for any)")
	maxBatch := fs.Int("max-batch", 16, "most texts per forward pass when requests are micro-batched")
	if err := fs.Parse(args); err != nil {
		return err
	}
	clf, err := mf.load(ctx, stderr)
	if err != nil {
		return err
	}
	card, err := lab.ReadModelCard(clf.Dir)
	if err != nil {
		return err
	}
	if *title == "" {
		*title = cmp.Or(card.Title, filepath.Base(filepath.Clean(mf.model)))
	}
	if len(examples) == 0 {
		examples = card.Examples
	}
	if r := mf.fromRun; *description == "" && r != nil {
		*description = fmt.Sprintf("%s fine-tuned on %s (run %s): validation accuracy %.3f.", r.Model, r.Task, r.Name, r.Metrics["accuracy"])
	}
	if *description == "" {
		*description = describe(clf)
	}
	opts := serve.Options{
		Card:     serve.Card{Title: *title, Description: *description, Examples: examples},
		Problem:  clf.Problem,
		FlagDir:  *flagDir,
		MaxBatch: *maxBatch,
		Warmup: func(ctx context.Context) error {
			start := time.Now()
			n, err := clf.Warm(ctx, *maxBatch)
			if err == nil {
				fmt.Fprintf(stderr, "ready: %d input shapes prepared in %.1f s\n", n, time.Since(start).Seconds())
			}
			return err
		},
	}
	if *origins != "" {
		opts.AllowedOrigins = strings.Split(*origins, ",")
	}
	srv, err := serve.New(served{clf}, opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	addr := fmt.Sprintf("%s:%d", *host, *port)
	fmt.Fprintf(stderr, "serving %s on http://%s (Ctrl+C to stop)\n", clf.Dir, addr)
	return srv.ListenAndServe(ctx, addr)
}
