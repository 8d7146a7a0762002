package train

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/tunelab/tunelab/lab/tokenize"
)

// BatchEncoder is what Encode needs of a tokenizer; *tokenize.Tokenizer is one (truncating to
// its WithMaxLength).
type BatchEncoder interface {
	EncodeBatch(texts []string) (*tokenize.Batch, error)
	PadID() int32
}

// Dataset is a tokenized labelled set, kept unpadded so that batches are padded only to the
// bucket of their longest row.
type Dataset struct {
	// IDs and TypeIDs are each example's token ids and token type ids (special tokens included).
	IDs, TypeIDs [][]int32
	// Labels are the class ids.
	Labels []int
	// PadID is the token that pads rows.
	PadID int32
}

// Len is the number of examples.
func (d *Dataset) Len() int { return len(d.Labels) }

// encodeChunk bounds the memory of one EncodeBatch call.
const encodeChunk = 256

// Encode tokenizes texts with their class ids labels.
func Encode(tok BatchEncoder, texts []string, labels []int) (*Dataset, error) {
	if len(texts) != len(labels) {
		return nil, fmt.Errorf("train: %d texts but %d labels", len(texts), len(labels))
	}
	d := &Dataset{Labels: slices.Clone(labels), PadID: tok.PadID()}
	for lo := 0; lo < len(texts); lo += encodeChunk {
		hi := min(lo+encodeChunk, len(texts))
		b, err := tok.EncodeBatch(texts[lo:hi])
		if err != nil {
			return nil, fmt.Errorf("train: tokenizing examples %d-%d: %w", lo, hi-1, err)
		}
		for i := range b.BatchSize {
			row, n := b.Row(i), b.Lengths[i]
			d.IDs = append(d.IDs, slices.Clone(row.IDs[:n]))
			d.TypeIDs = append(d.TypeIDs, slices.Clone(row.TypeIDs[:n]))
		}
	}
	return d, nil
}

// check validates d for a model with numLabels classes.
func (d *Dataset) check(what string, numLabels int) error {
	if d == nil || d.Len() == 0 {
		return fmt.Errorf("train: the %s set is empty", what)
	}
	var errs []error
	for i, l := range d.Labels {
		if l < 0 || l >= numLabels {
			errs = append(errs, fmt.Errorf("train: %s example %d: label %d out of range for a model with %d labels", what, i, l, numLabels))
		}
		if len(d.IDs[i]) == 0 {
			errs = append(errs, fmt.Errorf("train: %s example %d: no tokens", what, i))
		}
		if len(errs) == 10 {
			errs = append(errs, errors.New("train: (more errors not shown)"))
			break
		}
	}
	return errors.Join(errs...)
}

// megaBatches is transformers' LengthGroupedSampler mega_batch_mult: examples are sorted by
// length within groups of up to 50 batches.
const megaBatches = 50

// order returns the batches (example indices) of one epoch: a seeded permutation, sorted by
// length (longest first) within mega-batches as transformers' group_by_length does, cut into
// batches of batchSize (the last one may be smaller, drop_last=false), in a seeded random
// order. It depends only on (seed, epoch), which is what makes resuming exact.
func (d *Dataset) order(seed uint64, epoch, batchSize int) [][]int {
	rng := rand.New(rand.NewPCG(seed, uint64(epoch)))
	perm := rng.Perm(d.Len())
	mult := max(1, min(d.Len()/(batchSize*4), megaBatches))
	for lo := 0; lo < len(perm); lo += mult * batchSize {
		group := perm[lo:min(lo+mult*batchSize, len(perm))]
		slices.SortStableFunc(group, func(a, b int) int { return len(d.IDs[b]) - len(d.IDs[a]) })
	}
	var batches [][]int
	for lo := 0; lo < len(perm); lo += batchSize {
		batches = append(batches, perm[lo:min(lo+batchSize, len(perm))])
	}
	rng.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
	return batches
}

// batch returns the model inputs of examples idx: tokens, mask and type ids [rows, s] padded on
// the right to the smallest of lengths that holds the longest row (lengths ends with the
// longest length the model takes), labels [rows], and real [rows], true for the rows of idx.
// The rows past len(idx) (rows >= len(idx)) repeat the first example, so that a short last batch
// keeps the shape of the others (one compiled program less on XLA); real masks them out of the
// loss and the metrics.
func (d *Dataset) batch(idx []int, lengths []int, rows int) (tokens, mask, types, labels, real *tensors.Tensor) {
	longest := 0
	for _, i := range idx {
		longest = max(longest, len(d.IDs[i]))
	}
	seq := longest
	if j, _ := slices.BinarySearch(lengths, longest); j < len(lengths) {
		seq = lengths[j]
	}
	ids, m, ty, ls := make([]int32, rows*seq), make([]int32, rows*seq), make([]int32, rows*seq), make([]int32, rows)
	isReal := make([]bool, rows)
	for r := range rows {
		i := idx[0]
		if r < len(idx) {
			i, isReal[r] = idx[r], true
		}
		row := ids[r*seq : (r+1)*seq]
		for k := range row {
			row[k] = d.PadID
		}
		copy(row, d.IDs[i])
		copy(ty[r*seq:], d.TypeIDs[i])
		for k := range d.IDs[i] {
			m[r*seq+k] = 1
		}
		ls[r] = int32(d.Labels[i])
	}
	return tensors.FromFlatDataAndDimensions(ids, rows, seq), tensors.FromFlatDataAndDimensions(m, rows, seq),
		tensors.FromFlatDataAndDimensions(ty, rows, seq), tensors.FromFlatDataAndDimensions(ls, rows),
		tensors.FromFlatDataAndDimensions(isReal, rows)
}

// seqLengths are the padded sequence lengths of t's batches: the engine's buckets up to the
// model's longest input (the tokenizer has already truncated to the run's maximum length).
func (t *Trainer) seqLengths() []int {
	return t.shapes.SeqLengths(t.model.Config().MaxPositionEmbeddings)
}

// trainRows is the number of rows a batch of n examples is padded to: n on the Go backend;
// with few shapes (XLA) the batch size, so a short last batch compiles no program of its own;
// then up to a multiple of the number of devices, which split the rows evenly.
func (t *Trainer) trainRows(n int) int {
	if t.shapes.Few {
		n = max(n, t.cfg.BatchSize)
	}
	devices := len(t.devices)
	return (n + devices - 1) / devices * devices
}
