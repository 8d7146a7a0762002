package tokenize

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gomlx/go-huggingface/tokenizers/hftokenizer"
	"golang.org/x/text/unicode/norm"
)

// This file holds the steps of Hugging Face `tokenizers` that run before the model (added-token
// extraction, normalizer, pre-tokenizer). go-huggingface v0.4.3 runs them too, but differs from
// Hugging Face on real texts, so they are done here and go-huggingface only sees finished words.

// piece is one unit handed to the model: a word to split into sub-words, or (id >= 0) a token
// whose id is already known.
type piece struct {
	word string
	id   int
}

// pipeline turns raw text into pieces, exactly as Hugging Face `tokenizers` does.
type pipeline struct {
	added        []addedToken // longest content first, for leftmost-longest matching
	normalizers  []normalizerConfig
	preTokenizer preTokenizerConfig
	// maxWordChars > 0 (WordPiece) turns longer words into unkID.
	maxWordChars int
	unkID        int
}

type addedToken struct {
	content        string
	id             int
	lstrip, rstrip bool
}

type normalizerConfig struct {
	Type               string             `json:"type"`
	CleanText          bool               `json:"clean_text"`
	HandleChineseChars bool               `json:"handle_chinese_chars"`
	StripAccents       *bool              `json:"strip_accents"`
	Lowercase          bool               `json:"lowercase"`
	Normalizers        []normalizerConfig `json:"normalizers"`
}

type preTokenizerConfig struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
}

// newPipeline checks that every step of the tokenizer.json is one this package reproduces, so
// that no configuration is silently approximated.
func newPipeline(added []hftokenizer.AddedToken, norm *normalizerConfig, pre *preTokenizerConfig) (*pipeline, error) {
	p := &pipeline{unkID: -1}
	for _, at := range added {
		if at.SingleWord {
			return nil, fmt.Errorf("added token %q: single_word tokens are not supported", at.Content)
		}
		if at.Normalized && norm != nil {
			return nil, fmt.Errorf("added token %q: normalized added tokens are not supported", at.Content)
		}
		p.added = append(p.added, addedToken{content: at.Content, id: at.ID, lstrip: at.Lstrip, rstrip: at.Rstrip})
	}
	slices.SortStableFunc(p.added, func(a, b addedToken) int { return len(b.content) - len(a.content) })
	if norm != nil {
		if err := p.addNormalizer(*norm); err != nil {
			return nil, err
		}
	}
	if pre == nil {
		return nil, fmt.Errorf("pre_tokenizer is null: not supported")
	}
	switch pre.Type {
	case "BertPreTokenizer", "WhitespaceSplit", "ByteLevel":
	default:
		return nil, fmt.Errorf("pre_tokenizer type %q is not supported (want BertPreTokenizer, WhitespaceSplit or ByteLevel)", pre.Type)
	}
	p.preTokenizer = *pre
	return p, nil
}

func (p *pipeline) addNormalizer(n normalizerConfig) error {
	switch n.Type {
	case "Sequence":
		for _, child := range n.Normalizers {
			if err := p.addNormalizer(child); err != nil {
				return err
			}
		}
		return nil
	case "BertNormalizer", "Lowercase", "StripAccents", "NFC", "NFD", "NFKC", "NFKD":
		p.normalizers = append(p.normalizers, n)
		return nil
	}
	return fmt.Errorf("normalizer type %q is not supported", n.Type)
}

// pieces appends the pieces of text to dst.
func (p *pipeline) pieces(dst []piece, text string) []piece {
	// Added tokens are cut out of the raw text first; the rest is normalized and pre-tokenized
	// segment by segment, as Hugging Face's AddedVocabulary does.
	start := 0 // start of the pending text segment
	for i := 0; i < len(text); {
		tok, ok := p.matchAdded(text[i:])
		if !ok {
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
			continue
		}
		segEnd, next := i, i+len(tok.content)
		if tok.lstrip {
			segEnd = start + len(strings.TrimRightFunc(text[start:i], unicode.IsSpace))
		}
		if tok.rstrip {
			next = len(text) - len(strings.TrimLeftFunc(text[next:], unicode.IsSpace))
		}
		dst = p.segmentPieces(dst, text[start:segEnd])
		dst = append(dst, piece{id: tok.id})
		start, i = next, next
	}
	return p.segmentPieces(dst, text[start:])
}

func (p *pipeline) matchAdded(s string) (addedToken, bool) {
	for _, tok := range p.added {
		if strings.HasPrefix(s, tok.content) {
			return tok, true
		}
	}
	return addedToken{}, false
}

func (p *pipeline) segmentPieces(dst []piece, segment string) []piece {
	if segment == "" {
		return dst
	}
	for _, n := range p.normalizers {
		segment = normalize(n, segment)
	}
	emit := func(word string) {
		if p.maxWordChars > 0 && utf8.RuneCountInString(word) > p.maxWordChars {
			// Hugging Face counts characters; go-huggingface counts bytes (so it is given no limit).
			dst = append(dst, piece{id: p.unkID})
			return
		}
		dst = append(dst, piece{word: word, id: -1})
	}
	switch p.preTokenizer.Type {
	case "BertPreTokenizer":
		bertPreTokenize(segment, emit)
	case "WhitespaceSplit":
		for _, w := range strings.FieldsFunc(segment, unicode.IsSpace) {
			emit(w)
		}
	case "ByteLevel":
		if p.preTokenizer.AddPrefixSpace && !strings.HasPrefix(segment, " ") {
			segment = " " + segment
		}
		// go-huggingface splits only on spaces; Hugging Face splits with the GPT-2 regex.
		if p.preTokenizer.UseRegex == nil || *p.preTokenizer.UseRegex {
			gpt2Split(segment, func(w string) { emit(byteLevelMap(w)) })
		} else {
			emit(byteLevelMap(segment))
		}
	}
	return dst
}

// normalize applies one Hugging Face normalizer.
func normalize(n normalizerConfig, s string) string {
	switch n.Type {
	case "BertNormalizer":
		var b strings.Builder
		b.Grow(len(s))
		for _, r := range s {
			if n.CleanText {
				if r == 0 || r == utf8.RuneError || isOther(r) {
					continue
				}
				if unicode.IsSpace(r) {
					r = ' '
				}
			}
			if n.HandleChineseChars && isChineseChar(r) {
				b.WriteByte(' ')
				b.WriteRune(r)
				b.WriteByte(' ')
				continue
			}
			b.WriteRune(r)
		}
		s = b.String()
		if n.StripAccents != nil && *n.StripAccents || n.StripAccents == nil && n.Lowercase {
			s = stripAccents(s)
		}
		if n.Lowercase {
			s = lowercase(s)
		}
		return s
	case "Lowercase":
		return lowercase(s)
	case "StripAccents":
		return stripAccents(s)
	case "NFC":
		return norm.NFC.String(s)
	case "NFD":
		return norm.NFD.String(s)
	case "NFKC":
		return norm.NFKC.String(s)
	case "NFKD":
		return norm.NFKD.String(s)
	}
	panic("unreachable: normalizer types are checked in newPipeline")
}

// isOther reports Unicode category C without tab, newline and carriage return: Hugging Face
// drops all of it (go-huggingface drops only Cc, keeping e.g. zero-width joiners and soft hyphens).
func isOther(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.Is(unicode.C, r) || !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

func isChineseChar(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF || r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F || r >= 0x2B740 && r <= 0x2B81F || r >= 0x2B920 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF || r >= 0x2F800 && r <= 0x2FA1F
}

func stripAccents(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, norm.NFD.String(s))
}

// lowercase is Rust's char::to_lowercase: Go's simple mapping differs only for U+0130.
func lowercase(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "\u0130", "i\u0307"))
}

// bertPreTokenize splits on whitespace and isolates each punctuation character.
func bertPreTokenize(s string, emit func(string)) {
	start := -1
	for i, r := range s {
		space, punct := unicode.IsSpace(r), isBertPunct(r)
		if !space && !punct {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			emit(s[start:i])
			start = -1
		}
		if punct {
			emit(s[i : i+utf8.RuneLen(r)])
		}
	}
	if start >= 0 {
		emit(s[start:])
	}
}

// isBertPunct is Rust's is_ascii_punctuation (which includes symbols like $ + < = > ^ ` | ~) or
// Unicode category P.
func isBertPunct(r rune) bool {
	return r >= '!' && r <= '/' || r >= ':' && r <= '@' || r >= '[' && r <= '`' || r >= '{' && r <= '~' || unicode.IsPunct(r)
}

// gpt2Split splits like the GPT-2 pattern that Hugging Face's ByteLevel pre-tokenizer uses:
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Go's regexp has no look-ahead, hence the hand-written scanner.
func gpt2Split(s string, emit func(string)) {
	for len(s) > 0 {
		n := gpt2Match(s)
		emit(s[:n])
		s = s[n:]
	}
}

// gpt2Match returns the length of the GPT-2 pattern's match at the start of s (non-empty s).
func gpt2Match(s string) int {
	for _, c := range []string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"} {
		if strings.HasPrefix(s, c) {
			return len(c)
		}
	}
	body := 0
	if s[0] == ' ' {
		body = 1
	}
	if body < len(s) {
		r, _ := utf8.DecodeRuneInString(s[body:])
		var class func(rune) bool
		switch {
		case unicode.IsLetter(r):
			class = unicode.IsLetter
		case unicode.IsNumber(r):
			class = unicode.IsNumber
		case !unicode.IsSpace(r):
			class = func(r rune) bool { return !unicode.IsSpace(r) && !unicode.IsLetter(r) && !unicode.IsNumber(r) }
		}
		if class != nil {
			return body + runLength(s[body:], class)
		}
	}
	// A whitespace run: all of it at the end of s or before more whitespace, else all but its
	// last character, which then prefixes the next word; a single character stands alone.
	n := runLength(s, unicode.IsSpace)
	if n == len(s) {
		return n
	}
	_, lastSize := utf8.DecodeLastRuneInString(s[:n])
	if n-lastSize > 0 {
		return n - lastSize
	}
	return n
}

// runLength is the byte length of the longest prefix of s whose runes all satisfy class.
func runLength(s string, class func(rune) bool) int {
	for i, r := range s {
		if !class(r) {
			return i
		}
	}
	return len(s)
}

// byteLevelAlphabet maps each byte to the printable rune GPT-2's byte-level BPE uses for it.
var byteLevelAlphabet = func() (m [256]rune) {
	n := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			m[b] = rune(b)
		} else {
			m[b] = rune(256 + n)
			n++
		}
	}
	return m
}()

func byteLevelMap(s string) string {
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteRune(byteLevelAlphabet[s[i]])
	}
	return b.String()
}
