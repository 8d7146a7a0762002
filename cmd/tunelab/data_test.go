package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

func TestDataSummary(t *testing.T) {
	dir := testenv.DataDir(t)
	var out, errOut bytes.Buffer
	err := runData(context.Background(), []string{"summary", "--task", "agnews", "--data", dir, "--download=false"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	// AG News offline: 7,600 official test rows (1,900 per class, SOURCES.md) split 0.7/0.2/0.1
	// (the default held-out 20%).
	for _, want := range []string{
		"World", "Sci/Tech",
		"train 5320 1330 (25.0%) 1330 (25.0%) 1330 (25.0%) 1330 (25.0%)",
		"validation 1520 380 (25.0%) 380 (25.0%) 380 (25.0%) 380 (25.0%)",
		"test 760 190 (25.0%) 190 (25.0%) 190 (25.0%) 190 (25.0%)",
		"note: the official train.csv is absent",
	} {
		if !strings.Contains(words(out.String()), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	file := filepath.Join(t.TempDir(), "x.csv")
	os.WriteFile(file, []byte("text,label\na b c,pos\nd,neg\n"), 0o644)
	if err := runData(context.Background(), []string{"summary", "--task", file, "--validation", "0"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	// Two texts of 3 and 1 words: nearest-rank p50 is 1, the others 3.
	if !strings.Contains(words(out.String()), "train 2 1 (50.0%) 1 (50.0%) 1 3 3 3 3") {
		t.Errorf("file summary:\n%s", out.String())
	}

	err = runData(context.Background(), []string{"summary", "--task", "tweets", "--data", t.TempDir()}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "kaggle competitions download -c nlp-getting-started") {
		t.Errorf("missing tweets: got %v, want instructions to place Kaggle's files", err)
	}
}

// words collapses runs of white space, so checks do not depend on column widths.
func words(s string) string { return strings.Join(strings.Fields(s), " ") }
