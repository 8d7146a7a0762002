package tokenize

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/go-huggingface/tokenizers/hftokenizer"
)

// tokenizerFile is the part of tokenizer.json this package interprets itself.
type tokenizerFile struct {
	AddedTokens   []hftokenizer.AddedToken `json:"added_tokens"`
	Normalizer    *normalizerConfig        `json:"normalizer"`
	PreTokenizer  *preTokenizerConfig      `json:"pre_tokenizer"`
	PostProcessor *postProcessorConfig     `json:"post_processor"`
	Padding       *struct {
		PadToken string `json:"pad_token"`
	} `json:"padding"`
	Decoder *struct {
		Type    string `json:"type"`
		Prefix  string `json:"prefix"`
		Cleanup bool   `json:"cleanup"`
	} `json:"decoder"`
	Model struct {
		Type                    string   `json:"type"`
		UnkToken                *string  `json:"unk_token"`
		MaxInputCharsPerWord    int      `json:"max_input_chars_per_word"`
		Dropout                 *float64 `json:"dropout"`
		ContinuingSubwordPrefix *string  `json:"continuing_subword_prefix"`
		FuseUnk                 bool     `json:"fuse_unk"`
		ByteFallback            bool     `json:"byte_fallback"`
		IgnoreMerges            bool     `json:"ignore_merges"`
	} `json:"model"`
}

// tokenizerConfig holds the tokenizer_config.json fields that change tokenization. Pointers
// tell "absent" from a value: only present keys override tokenizer.json, as in transformers.
type tokenizerConfig struct {
	ModelMaxLength       float64 `json:"model_max_length"`
	DoLowerCase          *bool   `json:"do_lower_case"`
	StripAccents         *bool   `json:"strip_accents"`
	TokenizeChineseChars *bool   `json:"tokenize_chinese_chars"`
	AddPrefixSpace       *bool   `json:"add_prefix_space"`
	PaddingSide          string  `json:"padding_side"`
	specialTokens
}

// specialTokens are the special tokens named in tokenizer_config.json and
// special_tokens_map.json ("" where neither names one).
type specialTokens struct {
	PadToken  token `json:"pad_token"`
	UnkToken  token `json:"unk_token"`
	ClsToken  token `json:"cls_token"`
	SepToken  token `json:"sep_token"`
	MaskToken token `json:"mask_token"`
}

// override sets the tokens that s names over c's.
func (c *specialTokens) override(s specialTokens) {
	for _, pair := range []struct{ dst, src *token }{
		{&c.PadToken, &s.PadToken}, {&c.UnkToken, &s.UnkToken}, {&c.ClsToken, &s.ClsToken},
		{&c.SepToken, &s.SepToken}, {&c.MaskToken, &s.MaskToken},
	} {
		if *pair.src != "" {
			*pair.dst = *pair.src
		}
	}
}

// token is a special token as written in tokenizer_config.json and special_tokens_map.json:
// a string or an object with a "content" field.
type token string

func (t *token) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*t = token(s)
		return nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(data, &obj); err != nil {
		return fmt.Errorf("want a string or {\"content\": string}, got %s", data)
	}
	*t = token(obj.Content)
	return nil
}

// Load reads the tokenizer of a Hugging Face checkpoint directory: tokenizer.json, or where a
// checkpoint has only BERT's vocab.txt (older ones, many Chinese ones) the tokenizer.json that
// transformers makes of it (bertTokenizerJSON); tokenizer_config.json (model_max_length,
// do_lower_case, strip_accents, tokenize_chinese_chars, add_prefix_space and the special
// tokens override tokenizer.json, as in transformers) and special_tokens_map.json (the special
// tokens). The maximum length defaults to model_max_length, with padding to the longest row of
// a batch.
func Load(dir string) (*Tokenizer, error) {
	var config tokenizerConfig
	if err := readOptionalJSON(filepath.Join(dir, "tokenizer_config.json"), &config); err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	var specials specialTokens
	if err := readOptionalJSON(filepath.Join(dir, "special_tokens_map.json"), &specials); err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	config.override(specials)
	path := filepath.Join(dir, "tokenizer.json")
	content, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		path = filepath.Join(dir, "vocab.txt")
		content, err = bertTokenizerJSON(dir, &config)
	}
	if err != nil {
		return nil, fmt.Errorf("tokenize: %w", err)
	}
	t, err := newTokenizer(content, &config)
	if err != nil {
		return nil, fmt.Errorf("tokenize: %s: %w", path, err)
	}
	return t, nil
}

// New builds a Tokenizer from the contents of a tokenizer.json file alone: the pad token is
// tokenizer.json's padding.pad_token if any, and there is no default maximum length.
func New(tokenizerJSON []byte) (*Tokenizer, error) {
	t, err := newTokenizer(tokenizerJSON, nil)
	if err != nil {
		return nil, fmt.Errorf("tokenize: tokenizer.json: %w", err)
	}
	return t, nil
}

// readOptionalJSON reads the JSON file at path into v, leaving v as it is where there is no file.
func readOptionalJSON(path string, v any) error {
	content, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(content, v); err != nil {
		return fmt.Errorf("%s: %w", path, jsonError(content, err))
	}
	return nil
}

// jsonError adds the line and column to JSON syntax and type errors.
func jsonError(content []byte, err error) error {
	var offset int64
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		offset = syntax.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	default:
		return err
	}
	before := content[:min(int(offset), len(content))]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// applyConfig makes tokenizer_config.json override tokenizer.json where transformers'
// BertTokenizerFast and RobertaTokenizerFast do.
func (f *tokenizerFile) applyConfig(c *tokenizerConfig) {
	if n := f.Normalizer; n != nil && n.Type == "BertNormalizer" {
		if c.DoLowerCase != nil {
			n.Lowercase = *c.DoLowerCase
		}
		if c.StripAccents != nil {
			n.StripAccents = c.StripAccents
		}
		if c.TokenizeChineseChars != nil {
			n.HandleChineseChars = *c.TokenizeChineseChars
		}
	}
	if p := f.PreTokenizer; p != nil && p.Type == "ByteLevel" && c.AddPrefixSpace != nil {
		p.AddPrefixSpace = *c.AddPrefixSpace
	}
}

// modelOnly rewrites tokenizer.json so that go-huggingface runs only the model (WordPiece or
// BPE) on the words this package hands it, space-separated.
func modelOnly(content []byte) ([]byte, error) {
	var file map[string]json.RawMessage
	if err := json.Unmarshal(content, &file); err != nil {
		return nil, err
	}
	var model map[string]json.RawMessage
	if err := json.Unmarshal(file["model"], &model); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if _, ok := model["max_input_chars_per_word"]; ok {
		model["max_input_chars_per_word"] = json.RawMessage("1000000000") // enforced by the pipeline
	}
	var err error
	if file["model"], err = json.Marshal(model); err != nil {
		return nil, err
	}
	file["normalizer"] = json.RawMessage("null")
	file["pre_tokenizer"] = json.RawMessage(`{"type": "WhitespaceSplit"}`)
	file["post_processor"] = json.RawMessage("null")
	file["added_tokens"] = json.RawMessage("[]") // cut out by the pipeline
	return json.Marshal(file)
}
