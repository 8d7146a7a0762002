package tokenize

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

const bpeDir = "testdata/roberta-bpe"

// tokenizerDirs are the two tokenizers under test: bert-base-uncased WordPiece (as shipped with
// all-MiniLM-L6-v2) and the RoBERTa-style byte-level BPE fixture made by testdata/make_bpe.py.
func tokenizerDirs(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"WordPiece": func(t *testing.T) string { return testenv.ModelDir(t, "all-MiniLM-L6-v2") },
		"ByteLevelBPE": func(t *testing.T) string {
			abs, err := filepath.Abs(bpeDir)
			if err != nil {
				t.Fatal(err)
			}
			return abs
		},
	}
}

// paritySettings are the truncation and padding settings compared with Hugging Face.
var paritySettings = []struct {
	maxLength int
	oracle    string // hf_oracle.py's padding mode
	padding   Padding
}{
	{128, "longest", PadLongest()},
	{512, "max_length", PadToMaxLength()},
	{128, "multiple:48", PadToMultipleOf(48)},
}

// TestParity compares ids, masks and type ids with Hugging Face `tokenizers` on real texts,
// for both tokenizers: one text at a time without truncation (and Decode), and in batches with
// truncation at 128 and 512 and each padding mode.
func TestParity(t *testing.T) {
	texts := loadTexts(t)
	if len(texts) < 2000 {
		t.Fatalf("only %d texts", len(texts))
	}
	for name, dirOf := range tokenizerDirs(t) {
		t.Run(name, func(t *testing.T) {
			dir := dirOf(t)
			tok, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			settings := []string{"0:none"}
			for _, s := range paritySettings {
				settings = append(settings, fmt.Sprintf("%d:%s", s.maxLength, s.oracle))
			}
			wait := startOracle(t, dir, texts, settings...)

			single := make([]Encoding, len(texts))
			for i, text := range texts {
				if single[i], err = tok.WithMaxLength(0).Encode(text); err != nil {
					t.Fatal(err)
				}
			}
			batches := make([]*Batch, len(paritySettings))
			for i, s := range paritySettings {
				if batches[i], err = tok.WithMaxLength(s.maxLength).WithPadding(s.padding).EncodeBatch(texts); err != nil {
					t.Fatal(err)
				}
			}
			want := wait()

			t.Run("Encode", func(t *testing.T) {
				want := want[settings[0]]
				for i, got := range single {
					if !compareRow(t, tok, texts, want, i, got) {
						return
					}
					if d := tok.Decode(got.IDs); d != want.Decoded[i] {
						t.Fatalf("row %d: Decode differs from Hugging Face\ntext: %q\ngo: %q\nhf: %q", i, texts[i], d, want.Decoded[i])
					}
				}
			})
			for i, s := range paritySettings {
				t.Run(settings[i+1], func(t *testing.T) {
					checkBatch(t, tok, texts, want[settings[i+1]], batches[i], s.maxLength)
				})
			}
		})
	}
}

func checkBatch(t *testing.T, tok *Tokenizer, texts []string, want *oracleResult, batch *Batch, maxLength int) {
	t.Helper()
	if batch.BatchSize != len(texts) || len(batch.IDs) != batch.BatchSize*batch.SeqLen ||
		len(batch.Mask) != len(batch.IDs) || len(batch.TypeIDs) != len(batch.IDs) || len(batch.Lengths) != len(texts) {
		t.Fatalf("batch shape: BatchSize %d, SeqLen %d, %d ids, %d mask, %d type ids, %d lengths for %d texts",
			batch.BatchSize, batch.SeqLen, len(batch.IDs), len(batch.Mask), len(batch.TypeIDs), len(batch.Lengths), len(texts))
	}
	truncated := 0
	for i := range texts {
		if !compareRow(t, tok, texts, want, i, batch.Row(i)) {
			return
		}
		real := realTokens(want.Mask[i])
		if batch.Lengths[i] != real {
			t.Fatalf("row %d: Lengths %d, Hugging Face has %d real tokens", i, batch.Lengths[i], real)
		}
		if real == maxLength {
			truncated++
		}
	}
	if truncated < 20 {
		t.Errorf("only %d rows reach max length %d: the texts do not exercise truncation", truncated, maxLength)
	}
}

// TestConfigOverrides checks that tokenizer_config.json's add_prefix_space and do_lower_case
// change tokenization as they do in transformers, which rewrites the pre-tokenizer and
// normalizer of tokenizer.json: the oracle gets tokenizer.json rewritten that way.
func TestConfigOverrides(t *testing.T) {
	texts := loadTexts(t)
	texts = append(texts[:len(edgeTexts)+300], texts[len(texts)-100:]...)
	dirs := tokenizerDirs(t)
	for _, tc := range []struct {
		name, tokenizer string
		config          map[string]any
		rewrite         func(tj map[string]any)
	}{
		{"add_prefix_space", "ByteLevelBPE", map[string]any{"add_prefix_space": true},
			func(tj map[string]any) { tj["pre_tokenizer"].(map[string]any)["add_prefix_space"] = true }},
		{"do_lower_case", "WordPiece", map[string]any{"do_lower_case": false},
			func(tj map[string]any) { tj["normalizer"].(map[string]any)["lowercase"] = false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := dirs[tc.tokenizer](t)
			goDir, oracleDir := t.TempDir(), t.TempDir()
			for _, dir := range []string{goDir, oracleDir} {
				for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
					copyFile(t, filepath.Join(src, f), filepath.Join(dir, f))
				}
			}
			editJSON(t, filepath.Join(goDir, "tokenizer_config.json"), func(m map[string]any) {
				for k, v := range tc.config {
					m[k] = v
				}
			})
			editJSON(t, filepath.Join(oracleDir, "tokenizer.json"), tc.rewrite)
			wait := startOracle(t, oracleDir, texts, "128:longest")
			tok, err := Load(goDir)
			if err != nil {
				t.Fatal(err)
			}
			batch, err := tok.WithMaxLength(128).EncodeBatch(texts)
			if err != nil {
				t.Fatal(err)
			}
			base, err := Load(src)
			if err != nil {
				t.Fatal(err)
			}
			baseBatch, err := base.WithMaxLength(128).EncodeBatch(texts)
			if err != nil {
				t.Fatal(err)
			}
			if slicesEqual(batch.IDs, baseBatch.IDs) {
				t.Fatalf("%s made no difference", tc.name)
			}
			checkBatch(t, tok, texts, wait()["128:longest"], batch, 128)
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func editJSON(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRobertaSingleSequence checks the <s> ... </s> frame and the ids of RoBERTa's specials,
// which make_bpe.py fixes at 0-3 with <mask> last.
func TestRobertaSingleSequence(t *testing.T) {
	tok, err := Load(bpeDir)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := tok.Encode("Hello <mask> world")
	if err != nil {
		t.Fatal(err)
	}
	tokens := tok.Tokens(enc.IDs)
	if enc.IDs[0] != 0 || enc.IDs[len(enc.IDs)-1] != 2 || tokens[0] != "<s>" || tokens[len(tokens)-1] != "</s>" {
		t.Errorf("want <s> (0) ... </s> (2), got %q %v", tokens, enc.IDs)
	}
	// <mask> swallows the space before it (lstrip), and "world" keeps its own: Ġworld.
	if n := len(tokens); tokens[n-3] != "<mask>" || tokens[n-2] != "Ġworld" {
		t.Errorf("want ... <mask> Ġworld </s>, got %q", tokens)
	}
	if mask, ok := tok.TokenToID("<mask>"); !ok || int(mask) != tok.VocabSize()-1 || tok.PadID() != 1 {
		t.Errorf("<mask> id %d (want %d), pad id %d (want 1)", mask, tok.VocabSize()-1, tok.PadID())
	}
	for _, id := range enc.TypeIDs {
		if id != 0 {
			t.Fatalf("type ids %v, want all 0", enc.TypeIDs)
		}
	}
}

// TestPadding checks bucket padding on lengths counted by hand: [CLS] hello world [SEP] is 4
// tokens, [CLS] hello [SEP] is 3.
func TestPadding(t *testing.T) {
	tok, err := Load(testenv.ModelDir(t, "all-MiniLM-L6-v2"))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"hello", "hello world"}
	for _, tc := range []struct {
		padding Padding
		seqLen  int
	}{{PadLongest(), 4}, {PadToBuckets(8, 3, 16), 8}, {PadToBuckets(4, 8), 4}, {PadToMultipleOf(3), 6}} {
		b, err := tok.WithPadding(tc.padding).EncodeBatch(texts)
		if err != nil {
			t.Fatal(err)
		}
		if b.SeqLen != tc.seqLen {
			t.Errorf("%+v: SeqLen %d, want %d", tc.padding, b.SeqLen, tc.seqLen)
		}
		hello, _ := tok.TokenToID("hello")
		wantRow0 := append([]int32{101, hello, 102}, make([]int32, tc.seqLen-3)...) // [PAD] is 0
		wantMask0 := append([]int32{1, 1, 1}, make([]int32, tc.seqLen-3)...)
		if r := b.Row(0); !slicesEqual(r.IDs, wantRow0) || !slicesEqual(r.Mask, wantMask0) || b.Lengths[0] != 3 || b.Lengths[1] != 4 {
			t.Errorf("%+v: row 0 %v mask %v lengths %v, want %v mask %v lengths [3 4]", tc.padding, r.IDs, r.Mask, b.Lengths, wantRow0, wantMask0)
		}
	}
	if _, err := tok.WithPadding(PadToBuckets(2, 3)).EncodeBatch(texts); err == nil || !strings.Contains(err.Error(), "largest bucket 3") {
		t.Errorf("a row longer than every bucket: got error %v", err)
	}
	if _, err := tok.WithMaxLength(1).EncodeBatch(texts); err == nil || !strings.Contains(err.Error(), "2 special tokens") {
		t.Errorf("max length below the special tokens: got error %v", err)
	}
	if _, err := tok.WithMaxLength(0).WithPadding(PadToMaxLength()).EncodeBatch(texts); err == nil {
		t.Errorf("PadToMaxLength without a max length: no error")
	}
	b, err := tok.EncodeBatch(nil)
	if err != nil || b.BatchSize != 0 || len(b.IDs) != 0 {
		t.Errorf("empty batch: %+v, %v", b, err)
	}
}

// TestLoadErrors checks that errors name the file (and line) at fault.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "tokenizer.json")) {
		t.Errorf("missing tokenizer.json: got %v", err)
	}
	copyFile(t, filepath.Join(bpeDir, "tokenizer.json"), filepath.Join(dir, "tokenizer.json"))
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte("{\n  \"model_max_length\": 512,\n  oops\n}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "tokenizer_config.json: line 3") {
		t.Errorf("malformed tokenizer_config.json: got %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"padding_side": "left"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "padding_side") {
		t.Errorf("left padding: got %v", err)
	}
	editJSON(t, filepath.Join(dir, "tokenizer.json"), func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Metaspace"} })
	os.Remove(filepath.Join(dir, "tokenizer_config.json"))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), `"Metaspace" is not supported`) {
		t.Errorf("unsupported pre-tokenizer: got %v", err)
	}
}

// TestGPT2Split checks the pre-tokenizer scanner on splits worked out by hand from the pattern.
func TestGPT2Split(t *testing.T) {
	for text, want := range map[string][]string{
		"a   b":            {"a", "  ", " b"},
		"Don't stop":       {"Don", "'t", " stop"},
		"x  \ny":           {"x", "  ", "\n", "y"},
		"end  ":            {"end", "  "},
		" 42abc!? ok":      {" 42", "abc", "!?", " ok"},
		"\u00e9t\u00e9 \t": {"\u00e9t\u00e9", " \t"},
	} {
		var got []string
		gpt2Split(text, func(w string) { got = append(got, w) })
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("gpt2Split(%q) = %q, want %q", text, got, want)
		}
	}
}

// BenchmarkEncodeBatch encodes IMDB reviews with the WordPiece tokenizer, truncated at 512.
func BenchmarkEncodeBatch(b *testing.B) {
	tok, err := Load(testenv.ModelDir(b, "all-MiniLM-L6-v2"))
	if err != nil {
		b.Fatal(err)
	}
	texts := readIMDB(b, filepath.Join(testenv.DataDir(b), "imdb/aclImdb_v1_labelled.tar.gz"), 128)
	tok = tok.WithMaxLength(512).WithPadding(PadToBuckets(128, 256, 512))
	b.ResetTimer()
	for b.Loop() {
		if _, err := tok.EncodeBatch(texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "texts/s")
}

// TestBucketLengths checks the padded lengths against lists written out by hand.
func TestBucketLengths(t *testing.T) {
	for _, c := range []struct {
		maxLength int
		want      []int
	}{
		{512, []int{16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512}},
		{64, []int{16, 24, 32, 40, 48, 56, 64}},
		{100, []int{16, 24, 32, 40, 48, 56, 64, 80, 96, 100}},
		{514, []int{16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 514}},
		{10, []int{10}},
	} {
		if got := BucketLengths(c.maxLength); !slices.Equal(got, c.want) {
			t.Errorf("BucketLengths(%d) = %v, want %v", c.maxLength, got, c.want)
		}
	}
}

func TestCoarseBucketLengths(t *testing.T) {
	for maxLength, want := range map[int][]int{
		512: {32, 64, 128, 256, 512}, 64: {32, 64}, 100: {32, 64, 100}, 32: {32}, 10: {10},
	} {
		if got := CoarseBucketLengths(maxLength); !slices.Equal(got, want) {
			t.Errorf("CoarseBucketLengths(%d) = %v, want %v", maxLength, got, want)
		}
	}
}
