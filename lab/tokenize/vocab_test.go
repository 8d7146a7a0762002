package tokenize

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

// vocabOnly copies a checkpoint's tokenizer without its tokenizer.json (vocab.txt and its
// configuration files), as older and many Chinese BERT checkpoints ship it, with the edits
// given as file name -> content.
func vocabOnly(t *testing.T, edits map[string]string) string {
	t.Helper()
	src, dir := testenv.ModelDir(t, "all-MiniLM-L6-v2"), t.TempDir()
	for _, name := range []string{"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"} {
		copyFile(t, filepath.Join(src, name), filepath.Join(dir, name))
	}
	for name, content := range edits {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestVocabTxtMatchesTokenizerJSON: the tokenizer built from bert-base-uncased's vocab.txt and
// tokenizer_config.json encodes the real texts exactly as the tokenizer.json shipped beside
// them, and as Hugging Face `tokenizers` builds it from the same files.
func TestVocabTxtMatchesTokenizerJSON(t *testing.T) {
	texts := loadTexts(t)
	dir := vocabOnly(t, nil)
	wait := startOracle(t, dir, texts, "0:none", "128:longest")
	fromVocab, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := Load(testenv.ModelDir(t, "all-MiniLM-L6-v2"))
	if err != nil {
		t.Fatal(err)
	}
	want := wait()
	for i, text := range texts {
		got, err := fromVocab.WithMaxLength(0).Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		shipped, err := fromJSON.WithMaxLength(0).Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		if !slicesEqual(got.IDs, shipped.IDs) {
			t.Fatalf("row %d %q: ids %v from vocab.txt, %v from tokenizer.json", i, text, got.IDs, shipped.IDs)
		}
		if !compareRow(t, fromVocab, texts, want["0:none"], i, got) {
			return
		}
		if d := fromVocab.Decode(got.IDs); d != want["0:none"].Decoded[i] {
			t.Fatalf("row %d: Decode %q, Hugging Face %q", i, d, want["0:none"].Decoded[i])
		}
	}
	batch, err := fromVocab.WithMaxLength(128).WithPadding(PadLongest()).EncodeBatch(texts)
	if err != nil {
		t.Fatal(err)
	}
	checkBatch(t, fromVocab, texts, want["128:longest"], batch, 128)
}

// TestVocabTxtSettings: tokenizer_config.json's casing, accents and Chinese characters, a vocab.txt
// with Windows line ends and a token repeated (its last line wins, as in transformers'
// load_vocab), each against Hugging Face `tokenizers` built from the same files.
func TestVocabTxtSettings(t *testing.T) {
	texts := append(loadTexts(t)[:300], "Café MÜNCHEN naïve résumé", "中文字符 and 日本語 mixed", "[CLS] inside [SEP] text [MASK]")
	vocab, err := os.ReadFile(filepath.Join(testenv.ModelDir(t, "all-MiniLM-L6-v2"), "vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for name, edits := range map[string]map[string]string{
		"cased, accents kept, Chinese not split": {"tokenizer_config.json": `{"do_lower_case": false, "tokenize_chinese_chars": false, "strip_accents": false}`},
		"lowercase, accents kept":                {"tokenizer_config.json": `{"do_lower_case": true, "strip_accents": false}`},
		"defaults, no configuration":             {"tokenizer_config.json": `{}`, "special_tokens_map.json": `{}`},
		"Windows line ends, a repeated token":    {"vocab.txt": strings.ReplaceAll(string(vocab), "\n", "\r\n") + "the\r\n"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := vocabOnly(t, edits)
			wait := startOracle(t, dir, texts, "0:none")
			tok, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			want := wait()["0:none"]
			for i, text := range texts {
				got, err := tok.WithMaxLength(0).Encode(text)
				if err != nil {
					t.Fatal(err)
				}
				if !compareRow(t, tok, texts, want, i, got) {
					return
				}
			}
		})
	}
}

func TestVocabTxtErrors(t *testing.T) {
	for name, c := range map[string]struct {
		edits map[string]string
		want  string
	}{
		"added tokens":        {map[string]string{"added_tokens.json": `{"[NEW]": 30522}`}, "added_tokens.json adds 1 tokens to vocab.txt"},
		"no separator token":  {map[string]string{"special_tokens_map.json": `{"sep_token": "[END]"}`}, `vocab.txt has no separator token "[END]"`},
		"bad added_tokens":    {map[string]string{"added_tokens.json": "{\n oops}"}, "added_tokens.json: line 2"},
		"empty vocab":         {map[string]string{"vocab.txt": ""}, "vocab.txt is empty"},
		"no vocab.txt either": {map[string]string{}, "nor BERT's vocab.txt"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := vocabOnly(t, c.edits)
			if name == "no vocab.txt either" {
				os.Remove(filepath.Join(dir, "vocab.txt"))
			}
			if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
}
