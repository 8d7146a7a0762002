package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/backend/xlacache"
)

func init() {
	register(command{name: "engine", summary: "say which compute engine tunelab runs on (XLA's CPU plugin, the Go backend, ...)", run: runEngine})
}

func runEngine(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("engine", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("backend", "", "engine to check: xla:cpu, go, xla:cuda (default: $GOMLX_BACKEND, else the default engine)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	b, err := backend.New(*config)
	if err != nil {
		return err
	}
	defer b.Finalize()
	backend.Announce(stdout, b, backend.MatmulDType(b))
	if backend.ShapesFor(b).Few {
		if lib := backend.LoadedTCMalloc(); lib != "" {
			fmt.Fprintf(stdout, "tunelab: memory allocator tcmalloc (%s)\n", lib)
		} else {
			fmt.Fprintln(stdout, "tunelab: memory allocator glibc malloc: XLA's training steps take 5-25% longer than with tcmalloc (Debian, Ubuntu: apt install libtcmalloc-minimal4)")
		}
		if folder, why := backend.ProgramCache(b); why == nil {
			fmt.Fprintf(stdout, "tunelab: compiled programs are cached in %s (%s=off: compile in every run)\n", folder, xlacache.EnvVar)
		} else {
			fmt.Fprintf(stdout, "tunelab: compiled programs are not cached: every run compiles its own (%v)\n", why)
		}
	}
	return nil
}
