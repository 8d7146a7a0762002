package tokenize

import (
	"fmt"
	"strings"
)

// IDToToken returns the token of id.
func (t *Tokenizer) IDToToken(id int32) (string, bool) {
	if at, ok := t.added[id]; ok {
		return at.Content, true
	}
	return t.hf.IDToToken(int(id))
}

// TokenToID returns the id of token.
func (t *Tokenizer) TokenToID(token string) (int32, bool) {
	for id, at := range t.added {
		if at.Content == token {
			return id, true
		}
	}
	id, ok := t.hf.TokenToID(token)
	return int32(id), ok
}

// Tokens returns the token of each id (e.g. to show how a text was split); an id outside the
// vocabulary shows as "<unknown id N>".
func (t *Tokenizer) Tokens(ids []int32) []string {
	tokens := make([]string, len(ids))
	for i, id := range ids {
		tok, ok := t.IDToToken(id)
		if !ok {
			tok = fmt.Sprintf("<unknown id %d>", id)
		}
		tokens[i] = tok
	}
	return tokens
}

// Decode turns ids back into text, skipping special tokens and padding (Hugging Face
// decode(ids, skip_special_tokens=True)).
func (t *Tokenizer) Decode(ids []int32) string {
	kept := make([]int, 0, len(ids))
	for _, id := range ids {
		if at, ok := t.added[id]; !ok || !at.Special {
			kept = append(kept, int(id))
		}
	}
	if t.wordPiece != nil {
		return t.wordPiece.decode(t.Tokens(toInt32(kept)))
	}
	// Hugging Face decodes bytes that are not UTF-8 (a character cut by truncation) as U+FFFD.
	return strings.ToValidUTF8(t.hf.Decode(kept), "\uFFFD")
}

func toInt32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

// wordPieceDecoder is Hugging Face's WordPiece decoder: go-huggingface's lacks the cleanup
// step and strips the prefix of a leading sub-word.
type wordPieceDecoder struct {
	prefix  string
	cleanup bool
}

// cleanupReplacer undoes the spaces WordPiece puts before punctuation and contractions; like
// Hugging Face, it is applied to one token (with its leading space) at a time.
var cleanupReplacer = []string{" .", ".", " ?", "?", " !", "!", " ,", ",", " ' ", "'", " n't", "n't",
	" 'm", "'m", " do not", " don't", " 's", "'s", " 've", "'ve", " 're", "'re"}

func (d *wordPieceDecoder) decode(tokens []string) string {
	var b strings.Builder
	for i, tok := range tokens {
		if i > 0 {
			if rest, ok := strings.CutPrefix(tok, d.prefix); ok {
				tok = rest
			} else {
				tok = " " + tok
			}
		}
		if d.cleanup {
			for j := 0; j < len(cleanupReplacer); j += 2 {
				tok = strings.ReplaceAll(tok, cleanupReplacer[j], cleanupReplacer[j+1])
			}
		}
		b.WriteString(tok)
	}
	return b.String()
}
