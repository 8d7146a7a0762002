package main

import (
	"os"
	"syscall"

	"github.com/tunelab/tunelab/lab/backend"
)

// startTuned starts tunelab again, in place, with the environment settings its engines want
// (backend.TunedEnviron), which the Go runtime and glibc read only at start-up; it returns
// when they are set already, or when the new start fails (tunelab then runs as it is).
func startTuned() {
	env := backend.TunedEnviron(os.Environ())
	if env == nil {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, env)
}
