package yamlstr

import (
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

// TestPyYAMLReadsQuotedStringsBack quotes strings with control characters (a real tweet's
// mojibake U+0089), quotes, backslashes, newlines, emoji and HTML, and has PyYAML read them
// back unchanged.
func TestPyYAMLReadsQuotedStringsBack(t *testing.T) {
	texts := []string{"plain", "Forest fire near La Ronge\u0089\u00db\u00aa Sask.", `say "hi" \ bye`, "two\nlines\ttab",
		"emoji 🔥 <b>&amp;</b>", "\u0000\u007f\u0085\u009f\ufffe", "key: value # not a comment", "- not a list"}
	doc := ""
	for _, text := range texts {
		doc += "- " + Quote(text) + "\n"
	}
	python := testenv.Python(t, "yaml")
	out, err := exec.Command(python, "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.argv[1])))", doc).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("PyYAML: %v\n%s", err, stderr)
	}
	var got []string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for i, want := range texts {
		if i >= len(got) || got[i] != want {
			t.Errorf("text %d: PyYAML reads %q, want %q", i, got, want)
		}
	}
}
