package tokenize

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/go-huggingface/tokenizers/hftokenizer"
)

// bertTokenizerJSON builds the tokenizer.json that transformers makes of a BERT checkpoint that
// has only vocab.txt (BertTokenizer's files, converted by convert_slow_tokenizer's BertConverter):
// WordPiece over vocab.txt, a token a line whose id is the line's index (a repeated token takes
// its last line); BertNormalizer with BertTokenizer's defaults (lowercase, Chinese characters
// apart, accents stripped when lowercasing) where tokenizer_config.json does not say; BERT's
// pre-tokenizer; [CLS] A [SEP] (B [SEP]); the special tokens of the vocabulary kept whole.
func bertTokenizerJSON(dir string, c *tokenizerConfig) ([]byte, error) {
	path := filepath.Join(dir, "vocab.txt")
	content, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no %s, nor BERT's vocab.txt beside it (transformers writes a tokenizer.json: "+
			"AutoTokenizer.from_pretrained(DIR).save_pretrained(DIR))", filepath.Join(dir, "tokenizer.json"))
	} else if err != nil {
		return nil, err
	}
	if err := noAddedTokens(dir); err != nil {
		return nil, err
	}
	vocab := readVocab(string(content))
	if len(vocab) == 0 {
		return nil, fmt.Errorf("%s is empty: want one token a line", path)
	}
	or := func(t token, fallback string) string {
		if t == "" {
			return fallback
		}
		return string(t)
	}
	unk, cls, sep := or(c.UnkToken, "[UNK]"), or(c.ClsToken, "[CLS]"), or(c.SepToken, "[SEP]")
	pad, mask := or(c.PadToken, "[PAD]"), or(c.MaskToken, "[MASK]")
	for _, t := range []struct{ name, token string }{{"unknown", unk}, {"classification", cls}, {"separator", sep}} {
		if _, ok := vocab[t.token]; !ok {
			return nil, fmt.Errorf("%s has no %s token %q", path, t.name, t.token)
		}
	}
	var added []hftokenizer.AddedToken
	for _, t := range []string{pad, unk, cls, sep, mask} {
		if id, ok := vocab[t]; ok && !slices.ContainsFunc(added, func(a hftokenizer.AddedToken) bool { return a.Content == t }) {
			added = append(added, hftokenizer.AddedToken{ID: id, Content: t, Special: true})
		}
	}
	slices.SortFunc(added, func(a, b hftokenizer.AddedToken) int { return a.ID - b.ID })
	var padding any
	if _, ok := vocab[pad]; ok {
		padding = map[string]string{"pad_token": pad}
	}
	return json.Marshal(map[string]any{
		"version":      "1.0",
		"added_tokens": added,
		"normalizer": map[string]any{
			"type": "BertNormalizer", "clean_text": true, "strip_accents": c.StripAccents,
			"handle_chinese_chars": c.TokenizeChineseChars == nil || *c.TokenizeChineseChars,
			"lowercase":            c.DoLowerCase == nil || *c.DoLowerCase,
		},
		"pre_tokenizer":  map[string]string{"type": "BertPreTokenizer"},
		"post_processor": map[string]any{"type": "BertProcessing", "sep": []any{sep, vocab[sep]}, "cls": []any{cls, vocab[cls]}},
		"padding":        padding,
		"decoder":        map[string]any{"type": "WordPiece", "prefix": "##", "cleanup": true},
		"model": map[string]any{
			"type": "WordPiece", "unk_token": unk, "continuing_subword_prefix": "##",
			"max_input_chars_per_word": 100, "vocab": vocab,
		},
	})
}

// readVocab reads vocab.txt's lines as transformers' load_vocab does: Python's universal
// newlines (\n, \r\n or \r end a line), each line a token, its index the id.
func readVocab(content string) map[string]int {
	content = strings.ReplaceAll(strings.ReplaceAll(content, "\r\n", "\n"), "\r", "\n")
	lines := strings.SplitAfter(content, "\n")
	vocab := make(map[string]int, len(lines))
	for i, line := range lines {
		if line != "" { // SplitAfter's last element, after a final newline
			vocab[strings.TrimSuffix(line, "\n")] = i
		}
	}
	return vocab
}

// noAddedTokens refuses a vocab.txt checkpoint whose added_tokens.json adds tokens: how
// transformers normalizes and splits those differs between its versions, and tokenizer.json,
// which transformers writes with AutoTokenizer.from_pretrained(dir).save_pretrained(dir), says.
func noAddedTokens(dir string) error {
	path := filepath.Join(dir, "added_tokens.json")
	var added map[string]int
	if err := readOptionalJSON(path, &added); err != nil {
		return err
	}
	if len(added) > 0 {
		return fmt.Errorf("%s adds %d tokens to vocab.txt: tunelab reads added tokens from tokenizer.json only "+
			"(transformers writes one: AutoTokenizer.from_pretrained(DIR).save_pretrained(DIR))", path, len(added))
	}
	return nil
}
