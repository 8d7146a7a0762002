package train

import (
	"context"
	"errors"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab/data"
	"github.com/tunelab/tunelab/lab/tokenize"
)

// wordHasher tokenizes for the tiny fixtures (vocabulary 1000): [CLS]=1, words hashed into
// [3, 1000), [SEP]=2, at most maxLen tokens. It stands in for a real tokenizer, which is not
// what these tests check.
type wordHasher struct{ maxLen int }

func (w wordHasher) PadID() int32 { return 0 }

func (w wordHasher) EncodeBatch(texts []string) (*tokenize.Batch, error) {
	b := &tokenize.Batch{BatchSize: len(texts), SeqLen: w.maxLen}
	for _, text := range texts {
		ids := []int32{1}
		for _, word := range strings.Fields(strings.ToLower(text)) {
			if len(ids) == w.maxLen-1 {
				break
			}
			h := fnv.New32a()
			h.Write([]byte(word))
			ids = append(ids, int32(3+h.Sum32()%997))
		}
		ids = append(ids, 2)
		row := make([]int32, w.maxLen)
		mask := make([]int32, w.maxLen)
		copy(row, ids)
		for i := range ids {
			mask[i] = 1
		}
		b.IDs, b.Mask = append(b.IDs, row...), append(b.Mask, mask...)
		b.TypeIDs = append(b.TypeIDs, make([]int32, w.maxLen)...)
		b.Lengths = append(b.Lengths, len(ids))
	}
	return b, nil
}

// tweets returns n training and m evaluation tweets of the real disaster-tweets set, encoded
// with tok.
func tweets(t *testing.T, tok BatchEncoder, n, m int) (*Dataset, *Dataset) {
	t.Helper()
	d, err := data.LoadTweets(filepath.Join(testenv.DataDir(t), "disaster_tweets"), data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	examples := d.Splits[data.Train]
	if len(examples) < n+m {
		t.Fatalf("%d tweets, want %d", len(examples), n+m)
	}
	encode := func(ex []data.Example) *Dataset {
		labels, err := d.LabelIDs(ex)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := Encode(tok, data.Texts(ex), labels)
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	return encode(examples[:n]), encode(examples[n : n+m])
}

var tweetLabels = data.TweetLabels

func tinyConfig() Config {
	cfg := Defaults()
	cfg.LearningRate, cfg.Epochs, cfg.BatchSize, cfg.WarmupRatio, cfg.WeightDecay = 1e-3, 2, 8, 0.1, 0.01
	cfg.LogEvery, cfg.SaveEvery, cfg.SaveTotalLimit = 1, 3, 2
	return cfg
}

// TestSameSeedSameRunAndExactResume trains the tiny BERT twice with one seed, and a third
// time killed mid-epoch (context cancelled after step 7) then resumed from checkpoint-6: all
// three end with the same history and metrics.
func TestSameSeedSameRunAndExactResume(t *testing.T) {
	trainSet, evalSet := tweets(t, wordHasher{maxLen: 48}, 72, 40)
	run := func(dir string, cancelAt int) (*Result, error) {
		tr, _ := tinyTrainer(t, "bert-tiny-bare", tweetLabels, tinyConfig())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tr.WithHook(func(p Progress) {
			if p.Step == cancelAt && p.Eval == nil {
				cancel()
			}
		})
		return tr.Train(ctx, dir, trainSet, evalSet)
	}
	a, err := run(t.TempDir(), -1)
	if err != nil {
		t.Fatal(err)
	}
	if a.Step != 18 || a.Eval == nil {
		t.Fatalf("ran %d steps (want 2 epochs of 9), eval %v", a.Step, a.Eval)
	}
	b, err := run(t.TempDir(), -1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.History, b.History) || !reflect.DeepEqual(a.Eval.Probabilities, b.Eval.Probabilities) {
		t.Errorf("same seed, different runs:\n%v\n%v", a.History, b.History)
	}

	dir := t.TempDir()
	if _, err := run(dir, 7); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: err %v, want context.Canceled", err)
	}
	latest, err := LatestCheckpoint(dir)
	if err != nil || filepath.Base(latest) != "checkpoint-6" {
		t.Fatalf("latest checkpoint %q (%v), want checkpoint-6", latest, err)
	}
	tr, _ := tinyTrainer(t, "bert-tiny-bare", tweetLabels, tinyConfig())
	c, err := tr.Resume(context.Background(), dir, trainSet, evalSet)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.History, c.History) || !reflect.DeepEqual(a.Eval.Probabilities, c.Eval.Probabilities) {
		t.Errorf("resumed run differs:\n%v\n%v", a.History, c.History)
	}
	for _, name := range []string{"history.json", "history.csv", "history.svg", "checkpoint-18/model.safetensors", "checkpoint-18/trainer_state.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}
