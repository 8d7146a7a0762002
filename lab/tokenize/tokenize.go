// Package tokenize turns texts into the int32 tensors a BERT-family encoder takes (token ids,
// attention mask, token type ids), reading a Hugging Face tokenizer.json (WordPiece as in BERT,
// byte-level BPE as in RoBERTa) and matching Hugging Face `tokenizers` token for token.
//
// The model step (WordPiece, BPE) is go-huggingface's hftokenizer; the steps before it are
// done here, where go-huggingface v0.4.3 differs from Hugging Face (see pipeline.go).
//
//	tok, err := tokenize.Load("models/all-MiniLM-L6-v2")
//	...
//	batch, err := tok.WithMaxLength(128).WithPadding(tokenize.PadToBuckets(32, 64, 128)).EncodeBatch(texts)
//	// batch.IDs, batch.Mask, batch.TypeIDs: [batch.BatchSize, batch.SeqLen], row-major.
package tokenize

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomlx/go-huggingface/tokenizers/api"
	"github.com/gomlx/go-huggingface/tokenizers/hftokenizer"
)

// Tokenizer encodes texts for a model. It is safe for concurrent use; the With methods return
// modified copies and leave the receiver unchanged.
type Tokenizer struct {
	*core
	maxLength int
	padding   Padding
	err       error // first configuration error, returned by Encode and EncodeBatch
}

// core is the immutable part shared by all copies of a Tokenizer.
type core struct {
	hf             *hftokenizer.Tokenizer
	pipe           *pipeline
	template       []templateItem
	numSpecial     int // special tokens the template adds around the text
	padID          int32
	modelMaxLength int
	added          map[int32]hftokenizer.AddedToken
	vocabSize      int
	// wordPiece is set when decoding is done here rather than by go-huggingface.
	wordPiece *wordPieceDecoder
}

// templateItem is one part of the post-processor's single-sequence template: special token
// ids, or (sequence) the text's own tokens.
type templateItem struct {
	ids      []int32
	sequence bool
	typeID   int32
}

type postProcessorConfig struct {
	Type          string                                      `json:"type"`
	Cls           json.RawMessage                             `json:"cls"`
	Sep           json.RawMessage                             `json:"sep"`
	Single        []hftokenizer.PostProcItem                  `json:"single"`
	SpecialTokens map[string]hftokenizer.PostProcSpecialToken `json:"special_tokens"`
	Processors    []postProcessorConfig                       `json:"processors"`
}

func newTokenizer(content []byte, config *tokenizerConfig) (*Tokenizer, error) {
	var file tokenizerFile
	if err := json.Unmarshal(content, &file); err != nil {
		return nil, jsonError(content, err)
	}
	if config != nil {
		file.applyConfig(config)
	}
	pipe, err := newPipeline(file.AddedTokens, file.Normalizer, file.PreTokenizer)
	if err != nil {
		return nil, err
	}
	if err := checkModel(&file); err != nil {
		return nil, err
	}
	modelJSON, err := modelOnly(content)
	if err != nil {
		return nil, err
	}
	hf, err := hftokenizer.NewFromContent(nil, modelJSON)
	if err != nil {
		return nil, err
	}
	if err := hf.With(api.EncodeOptions{AddSpecialTokens: false}); err != nil {
		return nil, err
	}
	c := &core{hf: hf, pipe: pipe, padID: -1, added: make(map[int32]hftokenizer.AddedToken)}
	vocab := hf.GetVocab()
	for _, at := range file.AddedTokens {
		c.added[int32(at.ID)] = at
		vocab[at.Content] = at.ID
	}
	c.vocabSize = len(vocab)
	if file.Model.Type == "WordPiece" {
		pipe.maxWordChars = orDefault(file.Model.MaxInputCharsPerWord, 100) // Hugging Face's default
		id, ok := vocab[*file.Model.UnkToken]
		if !ok {
			return nil, fmt.Errorf("model.unk_token %q is not in the vocabulary", *file.Model.UnkToken)
		}
		pipe.unkID = id
	}
	if d := file.Decoder; d != nil && d.Type == "WordPiece" {
		c.wordPiece = &wordPieceDecoder{prefix: d.Prefix, cleanup: d.Cleanup}
	}
	if c.template, err = parseTemplate(file.PostProcessor); err != nil {
		return nil, err
	}
	for _, item := range c.template {
		c.numSpecial += len(item.ids)
	}

	var padToken string
	if file.Padding != nil {
		padToken = file.Padding.PadToken
	}
	if config != nil {
		if config.PadToken != "" {
			padToken = string(config.PadToken)
		}
		// transformers writes a huge number when the model has no limit.
		if config.ModelMaxLength > 0 && config.ModelMaxLength < 1e9 {
			c.modelMaxLength = int(config.ModelMaxLength)
		}
		if config.PaddingSide != "" && config.PaddingSide != "right" {
			return nil, fmt.Errorf("tokenizer_config.json padding_side %q: only right padding is supported", config.PaddingSide)
		}
	}
	if padToken != "" {
		id, ok := vocab[padToken]
		if !ok {
			return nil, fmt.Errorf("pad token %q is not in the vocabulary", padToken)
		}
		c.padID = int32(id)
	}
	return &Tokenizer{core: c, maxLength: c.modelMaxLength}, nil
}

func orDefault(v, fallback int) int {
	if v == 0 {
		return fallback
	}
	return v
}

// checkModel rejects model options go-huggingface does not implement.
func checkModel(f *tokenizerFile) error {
	m := &f.Model
	switch m.Type {
	case "WordPiece":
		if m.UnkToken == nil {
			return fmt.Errorf("WordPiece model without unk_token")
		}
	case "BPE":
		switch {
		case m.Dropout != nil && *m.Dropout != 0:
			return fmt.Errorf("BPE dropout is not supported")
		case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
			return fmt.Errorf("BPE continuing_subword_prefix is not supported")
		case m.FuseUnk || m.ByteFallback || m.IgnoreMerges:
			return fmt.Errorf("BPE fuse_unk, byte_fallback and ignore_merges are not supported")
		}
	default:
		return fmt.Errorf("model type %q is not supported (want WordPiece or BPE)", m.Type)
	}
	return nil
}

// parseTemplate reads the single-sequence template of a post_processor.
func parseTemplate(pp *postProcessorConfig) ([]templateItem, error) {
	if pp == nil {
		return []templateItem{{sequence: true}}, nil
	}
	switch pp.Type {
	case "BertProcessing", "RobertaProcessing":
		cls, err := parseTokenID(pp.Type, "cls", pp.Cls)
		if err != nil {
			return nil, err
		}
		sep, err := parseTokenID(pp.Type, "sep", pp.Sep)
		if err != nil {
			return nil, err
		}
		return []templateItem{{ids: []int32{cls}}, {sequence: true}, {ids: []int32{sep}}}, nil
	case "TemplateProcessing":
		var items []templateItem
		for _, it := range pp.Single {
			switch {
			case it.Sequence != nil:
				items = append(items, templateItem{sequence: true, typeID: int32(it.Sequence.TypeID)})
			case it.SpecialToken != nil:
				st, ok := pp.SpecialTokens[it.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("TemplateProcessing: special token %q is not in special_tokens", it.SpecialToken.ID)
				}
				ids := make([]int32, len(st.IDs))
				for i, id := range st.IDs {
					ids[i] = int32(id)
				}
				items = append(items, templateItem{ids: ids, typeID: int32(it.SpecialToken.TypeID)})
			}
		}
		return items, nil
	case "ByteLevel":
		return []templateItem{{sequence: true}}, nil // it only trims offsets
	case "Sequence":
		var found []templateItem
		for _, child := range pp.Processors {
			if child.Type == "ByteLevel" {
				continue
			}
			if found != nil {
				return nil, fmt.Errorf("post_processor Sequence with more than one template is not supported")
			}
			var err error
			if found, err = parseTemplate(&child); err != nil {
				return nil, err
			}
		}
		if found == nil {
			found = []templateItem{{sequence: true}}
		}
		return found, nil
	}
	return nil, fmt.Errorf("post_processor type %q is not supported", pp.Type)
}

// parseTokenID reads a [token, id] pair.
func parseTokenID(processor, field string, raw json.RawMessage) (int32, error) {
	var pair []any
	if err := json.Unmarshal(raw, &pair); err == nil && len(pair) == 2 {
		if id, ok := pair[1].(float64); ok {
			return int32(id), nil
		}
	}
	return 0, fmt.Errorf("post_processor %s: %s: want [token, id], got %s", processor, field, raw)
}

// WithMaxLength returns a copy that truncates each text to n tokens, special tokens included
// and kept (Hugging Face `truncation=True, max_length=n`). n = 0 turns truncation off.
// Load sets it to model_max_length.
func (t *Tokenizer) WithMaxLength(n int) *Tokenizer {
	c := *t
	c.maxLength = n
	if n < 0 || n > 0 && n < t.numSpecial {
		c.setErr(fmt.Errorf("tokenize: max length %d is shorter than the %d special tokens it must keep", n, t.numSpecial))
	}
	return &c
}

// WithPadding returns a copy that pads batches as p says (the default is PadLongest).
func (t *Tokenizer) WithPadding(p Padding) *Tokenizer {
	c := *t
	c.padding = p
	if p.err != nil {
		c.setErr(p.err)
	}
	return &c
}

func (t *Tokenizer) setErr(err error) {
	if t.err == nil {
		t.err = err
	}
}

// MaxLength is the truncation length (0: none).
func (t *Tokenizer) MaxLength() int { return t.maxLength }

// ModelMaxLength is tokenizer_config.json's model_max_length (0: unknown or unlimited).
func (t *Tokenizer) ModelMaxLength() int { return t.modelMaxLength }

// PadID is the id of the pad token, -1 if the tokenizer has none.
func (t *Tokenizer) PadID() int32 { return t.padID }

// VocabSize is the number of distinct tokens, added tokens included (an embedding table needs
// at least that many rows).
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// Padding says to which length EncodeBatch pads its rows. Padding goes on the right, with the
// pad token, mask 0 and type id 0. The zero value is PadLongest.
type Padding struct {
	mode     padMode
	multiple int
	buckets  []int
	err      error
}

type padMode int

const (
	padLongest padMode = iota
	padMaxLength
	padMultiple
	padBuckets
)

// PadLongest pads to the longest row of the batch (Hugging Face padding="longest").
func PadLongest() Padding { return Padding{} }

// PadToMaxLength pads every row to the tokenizer's maximum length (Hugging Face
// padding="max_length"): one shape for all batches.
func PadToMaxLength() Padding { return Padding{mode: padMaxLength} }

// PadToMultipleOf pads to the longest row rounded up to a multiple of n (Hugging Face
// pad_to_multiple_of), which may exceed the maximum length.
func PadToMultipleOf(n int) Padding {
	p := Padding{mode: padMultiple, multiple: n}
	if n <= 0 {
		p.err = fmt.Errorf("tokenize: PadToMultipleOf(%d): want a positive multiple", n)
	}
	return p
}

// PadToBuckets pads to the smallest of lengths that holds the longest row, so that a model
// compiles one graph per bucket instead of one per batch. A batch longer than every bucket
// is an error: make the largest bucket the maximum length.
func PadToBuckets(lengths ...int) Padding {
	p := Padding{mode: padBuckets, buckets: slices.Sorted(slices.Values(lengths))}
	if len(lengths) == 0 || p.buckets[0] <= 0 {
		p.err = fmt.Errorf("tokenize: PadToBuckets(%v): want one or more positive lengths", lengths)
	}
	return p
}

// BucketLengths are the padded sequence lengths a model compiles graphs for, up to maxLength
// (the last one): steps of 8 up to 64, then of a quarter of the power of two below (16 up to
// 128, 32 up to 256, 64 beyond). Padding then adds about an eighth to a batch on average, where
// powers of two add about a third, and a run compiles at most 19 shapes up to 512.
func BucketLengths(maxLength int) []int {
	var lengths []int
	for n := 16; n < maxLength; n += max(8, 1<<(bits.Len(uint(n))-1)/4) {
		lengths = append(lengths, n)
	}
	return append(lengths, maxLength)
}

// CoarseBucketLengths are padded lengths for engines that compile a program per shape at a cost
// of seconds (XLA): powers of two from 32 up to maxLength (the last one), so a 64-token run
// compiles 2 shapes and a 512-token one 5, for about a third of padding on average.
func CoarseBucketLengths(maxLength int) []int {
	var lengths []int
	for n := 32; n < maxLength; n *= 2 {
		lengths = append(lengths, n)
	}
	return append(lengths, maxLength)
}

// Encoding is one encoded text: ids, attention mask (1 = real token, 0 = padding) and token
// type ids, each of shape [seq].
type Encoding struct {
	IDs, Mask, TypeIDs []int32
}

// Batch is a batch of encoded texts, ready to become GoMLX tensors.
type Batch struct {
	// BatchSize is the number of texts and SeqLen the padded length of every row.
	BatchSize, SeqLen int
	// IDs are the token ids, shape [BatchSize, SeqLen], row-major (row i is
	// IDs[i*SeqLen:(i+1)*SeqLen]), padded with the pad id.
	IDs []int32
	// Mask is the attention mask, shape [BatchSize, SeqLen]: 1 = real token, 0 = padding.
	Mask []int32
	// TypeIDs are the token type (segment) ids, shape [BatchSize, SeqLen]; 0 on padding.
	TypeIDs []int32
	// Lengths is the number of real tokens (special tokens included) of each row, shape [BatchSize].
	Lengths []int
}

// Row returns row i as an Encoding of length SeqLen, sharing the batch's memory.
func (b *Batch) Row(i int) Encoding {
	lo, hi := i*b.SeqLen, (i+1)*b.SeqLen
	return Encoding{IDs: b.IDs[lo:hi], Mask: b.Mask[lo:hi], TypeIDs: b.TypeIDs[lo:hi]}
}

// Encode encodes one text, padded as a batch of one (not at all with PadLongest).
func (t *Tokenizer) Encode(text string) (Encoding, error) {
	b, err := t.EncodeBatch([]string{text})
	if err != nil {
		return Encoding{}, err
	}
	return b.Row(0), nil
}

// rowsPerTask is how many texts a worker takes at a time: small enough to balance long and
// short texts, large enough to make the hand-off cheap.
const rowsPerTask = 8

// EncodeBatch encodes texts in parallel (one worker per CPU), keeping their order.
func (t *Tokenizer) EncodeBatch(texts []string) (*Batch, error) {
	if t.err != nil {
		return nil, t.err
	}
	rows := make([][]int32, len(texts))
	var next atomic.Int64
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), (len(texts)+rowsPerTask-1)/rowsPerTask)
	for range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(rowsPerTask)) - rowsPerTask
				if lo >= len(texts) {
					return
				}
				for i := lo; i < min(lo+rowsPerTask, len(texts)); i++ {
					rows[i] = t.contentIDs(texts[i])
				}
			}
		})
	}
	wg.Wait()

	b := &Batch{BatchSize: len(texts), Lengths: make([]int, len(texts))}
	budget := math.MaxInt
	if t.maxLength > 0 {
		budget = t.maxLength - t.numSpecial
	}
	longest := 0
	for i, row := range rows {
		rows[i] = row[:min(len(row), budget)]
		b.Lengths[i] = len(rows[i]) + t.numSpecial
		longest = max(longest, b.Lengths[i])
	}
	var err error
	if b.SeqLen, err = t.seqLen(longest); err != nil {
		return nil, err
	}
	if b.SeqLen > longest && t.padID < 0 {
		return nil, fmt.Errorf("tokenize: padding to %d tokens needs a pad token, and the tokenizer has none", b.SeqLen)
	}
	n := b.BatchSize * b.SeqLen
	b.IDs, b.Mask, b.TypeIDs = make([]int32, n), make([]int32, n), make([]int32, n)
	for i, content := range rows {
		ids, typeIDs := b.IDs[i*b.SeqLen:(i+1)*b.SeqLen], b.TypeIDs[i*b.SeqLen:]
		pos := 0
		for _, item := range t.template {
			part := item.ids
			if item.sequence {
				part = content
			}
			copy(ids[pos:], part)
			for j := range part {
				typeIDs[pos+j] = item.typeID
			}
			pos += len(part)
		}
		for j := range ids {
			if j < pos {
				b.Mask[i*b.SeqLen+j] = 1
			} else {
				ids[j] = t.padID
			}
		}
	}
	return b, nil
}

// seqLen is the padded length of a batch whose longest row has longest tokens.
func (t *Tokenizer) seqLen(longest int) (int, error) {
	switch t.padding.mode {
	case padMaxLength:
		if t.maxLength == 0 {
			return 0, fmt.Errorf("tokenize: PadToMaxLength without a maximum length (see WithMaxLength)")
		}
		return t.maxLength, nil
	case padMultiple:
		m := t.padding.multiple
		return (longest + m - 1) / m * m, nil
	case padBuckets:
		for _, size := range t.padding.buckets {
			if size >= longest {
				return size, nil
			}
		}
		return 0, fmt.Errorf("tokenize: a row has %d tokens, more than the largest bucket %d (set WithMaxLength to it)",
			longest, t.padding.buckets[len(t.padding.buckets)-1])
	}
	return longest, nil
}

// contentIDs returns the token ids of text, before truncation and special tokens.
func (c *core) contentIDs(text string) []int32 {
	var ids []int32
	var words []string
	flush := func() {
		if len(words) == 0 {
			return
		}
		// The words hold no whitespace, so go-huggingface's WhitespaceSplit gives them back.
		for _, id := range c.hf.Encode(strings.Join(words, " ")) {
			ids = append(ids, int32(id))
		}
		words = words[:0]
	}
	for _, p := range c.pipe.pieces(nil, text) {
		if p.id >= 0 {
			flush()
			ids = append(ids, int32(p.id))
		} else {
			words = append(words, p.word)
		}
	}
	flush()
	return ids
}
