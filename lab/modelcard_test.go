package lab_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/train"
)

// TestModelCardCarriesTitleAndExamples: SaveFineTuned's model card has a readable title (the
// base model's name, not its path) and, as the Hub's widget examples (valid YAML, read back by
// PyYAML), texts of the validation split for each label; ReadModelCard reads both back.
func TestModelCardCarriesTitleAndExamples(t *testing.T) {
	modelDir := testenv.ModelDir(t, lab.DefaultModel)
	ctx := context.Background()
	tweets, err := data.NewLoader(testenv.DataDir(t)).WithLimit(60).Load(ctx, data.Tweets)
	if err != nil {
		t.Fatal(err)
	}
	validation := tweets.Splits[data.Validation]
	clf, err := lab.Load(ctx, modelDir, lab.WithLabels(tweets.Labels...))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := clf.SaveFineTuned(dir, modelDir, tweets.Name, train.Defaults(), map[string]float64{"accuracy": 0.5}, validation); err != nil {
		t.Fatal(err)
	}
	card, err := lab.ReadModelCard(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := lab.DefaultModel + " fine-tuned on " + tweets.Name; card.Title != want {
		t.Errorf("title %q, want %q", card.Title, want)
	}
	perLabel := map[string]int{}
	for _, text := range card.Examples {
		i := slices.IndexFunc(validation, func(ex data.Example) bool { return ex.Text == text })
		if i < 0 {
			t.Fatalf("example %q is not a validation text", text)
		}
		perLabel[validation[i].Label]++
	}
	if perLabel[tweets.Labels[0]] != 3 || perLabel[tweets.Labels[1]] != 3 {
		t.Errorf("examples per label %v, want 3 of each of %q", perLabel, tweets.Labels)
	}

	python := testenv.Python(t, "yaml")
	script := `import json, sys, yaml
text = open(sys.argv[1], encoding="utf-8").read()
front = yaml.safe_load(text.split("---\n")[1])
print(json.dumps([w["text"] for w in front["widget"]]))`
	out, err := exec.Command(python, "-c", script, filepath.Join(dir, "README.md")).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("PyYAML: %v\n%s", err, stderr)
	}
	var widget []string
	if err := json.Unmarshal(out, &widget); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(widget, card.Examples) {
		t.Errorf("PyYAML reads the widget texts %q, ReadModelCard %q", widget, card.Examples)
	}
	if strings.Contains(card.Title, "/") {
		t.Errorf("title %q holds a path", card.Title)
	}
}
