package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadInput(t *testing.T) {
	tok := wordHasher{maxLen: 32}
	small, err := Encode(tok, []string{"fire in the forest", "a quiet day", "flood warning now"}, []int{1, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("unknown label", func(t *testing.T) {
		bad, _ := Encode(tok, []string{"a", "b"}, []int{0, 2})
		tr, _ := tinyTrainer(t, "bert-tiny-bare", tweetLabels, tinyConfig())
		_, err := tr.Train(ctx, t.TempDir(), bad, nil)
		if err == nil || !strings.Contains(err.Error(), "example 1: label 2 out of range for a model with 2 labels") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("empty training set", func(t *testing.T) {
		empty, _ := Encode(tok, nil, nil)
		tr, _ := tinyTrainer(t, "bert-tiny-bare", tweetLabels, tinyConfig())
		if _, err := tr.Train(ctx, t.TempDir(), empty, nil); err == nil || !strings.Contains(err.Error(), "training set is empty") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("batch larger than the data", func(t *testing.T) {
		// transformers' drop_last=false: one smaller batch per epoch.
		cfg := tinyConfig()
		cfg.BatchSize = 64
		tr, _ := tinyTrainer(t, "bert-tiny-bare", tweetLabels, cfg)
		res, err := tr.Train(ctx, t.TempDir(), small, small)
		if err != nil || res.Step != 2 {
			t.Errorf("steps %v, err %v; want 2 steps (1 per epoch)", res, err)
		}
	})
	t.Run("NaN loss", func(t *testing.T) {
		cfg := tinyConfig()
		cfg.LearningRate, cfg.WarmupRatio, cfg.BatchSize, cfg.SaveEvery, cfg.Epochs = 1e30, 0, 1, 1, 5
		tr, _ := tinyTrainer(t, "bert-tiny-bare", tweetLabels, cfg)
		dir := t.TempDir()
		_, err := tr.Train(ctx, dir, small, nil)
		if err == nil || !strings.Contains(err.Error(), "step 2 ") || !strings.Contains(err.Error(), "checkpoint-1") {
			t.Fatalf("err = %v, want the loss to blow up at step 2 with checkpoint-1 kept", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "checkpoint-1", "model.safetensors")); err != nil {
			t.Error(err)
		}
	})
	t.Run("save fails", func(t *testing.T) {
		cfg := tinyConfig()
		cfg.BatchSize, cfg.SaveEvery, cfg.SaveTotalLimit = 1, 2, 0
		tr, _ := tinyTrainer(t, "bert-tiny-bare", tweetLabels, cfg)
		dir := t.TempDir()
		// A directory where the history file should go makes the second save fail.
		hook := func(p Progress) {
			if p.Step == 3 {
				os.Remove(filepath.Join(dir, "history.json"))
				os.Mkdir(filepath.Join(dir, "history.json"), 0o755)
				os.WriteFile(filepath.Join(dir, "history.json", "x"), nil, 0o644)
			}
		}
		tr.WithHook(hook)
		_, err := tr.Train(ctx, dir, small, nil)
		if err == nil || !strings.Contains(err.Error(), "history.json") {
			t.Fatalf("err = %v, want a failure naming history.json", err)
		}
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if strings.Join(names, ",") != "checkpoint-2,history.csv,history.json,history.svg" {
			t.Errorf("run dir holds %v, want checkpoint-2 intact and no temporary files", names)
		}
	})
	t.Run("bad config", func(t *testing.T) {
		cfg := Defaults()
		cfg.BatchSize, cfg.Scheduler = 0, "step"
		if _, err := New(testBackend(), nil, nil, nil, cfg); err == nil || !strings.Contains(err.Error(), "batch size 0") || !strings.Contains(err.Error(), `unknown scheduler "step"`) {
			t.Errorf("err = %v", err)
		}
	})
}
