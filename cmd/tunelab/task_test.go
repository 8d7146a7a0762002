package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
)

// TestTaskFlagsAreSharedWithOneSetOfDefaults: train, eval, compare and data summary describe
// every data flag with the same words and the same default, as their -h help prints them.
func TestTaskFlagsAreSharedWithOneSetOfDefaults(t *testing.T) {
	commands := map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
		"train": runTrain, "eval": runEval, "compare": runCompare,
		"data summary": func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return runData(ctx, append([]string{"summary"}, args...), stdout, stderr)
		},
	}
	shared := []string{"data", "download", "text", "label", "validation", "seed", "limit", "per-label",
		"keyword-location", "clean-html", "skip-empty"}
	flagHelp := regexp.MustCompile(`(?m)^  -([a-z-]+)[^\n]*\n((?:    [^\n]*\n)*)`)
	help := map[string]map[string]string{}
	for name, run := range commands {
		var stderr bytes.Buffer
		_ = run(context.Background(), []string{"-h"}, io.Discard, &stderr)
		help[name] = map[string]string{}
		for _, m := range flagHelp.FindAllStringSubmatch(stderr.String(), -1) {
			help[name][m[1]] = m[0]
		}
	}
	for _, flag := range shared {
		want := help["train"][flag]
		if want == "" {
			t.Errorf("train has no --%s", flag)
			continue
		}
		for name := range commands {
			if got := help[name][flag]; got != want {
				t.Errorf("%s --%s:\n%s\ntrain --%s:\n%s", name, flag, got, flag, want)
			}
		}
	}
	for _, name := range []string{"eval", "data summary"} {
		if help[name]["task"] != help["train"]["task"] {
			t.Errorf("%s --task:\n%s\ntrain --task:\n%s", name, help[name]["task"], help["train"]["task"])
		}
	}
	if !strings.Contains(help["train"]["validation"], "(default 0.2)") || !strings.Contains(help["train"]["seed"], "(default 42)") {
		t.Errorf("defaults: %s%s want validation 0.2 and seed 42", help["train"]["validation"], help["train"]["seed"])
	}
}
