package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tunelab/tunelab/lab/space"
)

func init() {
	register(command{name: "space", summary: "export a model as a Hugging Face Docker Space (space export --model DIR --out DIR)", run: runSpace})
}

func runSpace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(stderr, "usage: tunelab space export --model DIR --out DIR [--title T --emoji E ...]")
		return errors.New(`expected the subcommand "export"`)
	}
	fs := flag.NewFlagSet("space export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts space.Options
	fs.StringVar(&opts.ModelDir, "model", "", "fine-tuned model folder (config.json, model.safetensors, tokenizer files)")
	fs.StringVar(&opts.OutDir, "out", "", "folder to write the Space to (must not exist or be empty)")
	fs.StringVar(&opts.SourceDir, "src", "", "tunelab source root to build in the Space (default: the module root above the current folder)")
	fs.IntVar(&opts.MaxLength, "max-length", 0, "tokens the model was fine-tuned with: the Space truncates texts the same way (default: the model's limit, at most 512)")
	fs.StringVar(&opts.Title, "title", "", "Space title (default: the model folder's name)")
	fs.StringVar(&opts.Emoji, "emoji", "", "Space emoji (default 🏷️)")
	fs.StringVar(&opts.ColorFrom, "color-from", "", "thumbnail gradient start: red, yellow, green, blue, indigo, purple, pink or gray (default indigo)")
	fs.StringVar(&opts.ColorTo, "color-to", "", "thumbnail gradient end (default blue)")
	fs.StringVar(&opts.ShortDescription, "description", "", "short description, at most 60 characters")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if opts.ModelDir == "" || opts.OutDir == "" {
		fs.Usage()
		return errors.New("--model and --out are required")
	}
	if opts.SourceDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if opts.SourceDir, err = space.FindModuleRoot(wd); err != nil {
			return err
		}
	}
	if err := space.Export(opts); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote the Space to %s: push it to a Hugging Face Docker Space repository (git lfs for model/*.safetensors)\n", opts.OutDir)
	return nil
}
