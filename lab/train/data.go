package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/tunelab/tunelab/lab/hfmodel"
	"github.com/tunelab/tunelab/lab/tokenize"
)

// BatchEncoder is what Encode needs of a tokenizer; *tokenize.Tokenizer is one (truncating to
// its WithMaxLength).
type BatchEncoder interface {
	EncodeBatch(texts []string) (*tokenize.Batch, error)
	PadID() int32
}

// Dataset is a tokenized labelled set, kept unpadded so that batches are padded only to the
// bucket of their longest row. It holds the targets of one problem type: Labels for
// single-label classification, Targets for regression and multi-label classification.
type Dataset struct {
	// IDs and TypeIDs are each example's token ids and token type ids (special tokens included).
	IDs, TypeIDs [][]int32
	// Labels are the class ids of a single-label classification set (nil otherwise, and for texts
	// to predict).
	Labels []int
	// Targets are, per example, one float per model output: the values of a regression set, or
	// the multi-hot row of a multi-label set (1 for each class the example has, 0 otherwise).
	// nil for single-label classification.
	Targets [][]float32
	// PadID is the token that pads rows.
	PadID int32
}

// Len is the number of examples.
func (d *Dataset) Len() int { return len(d.IDs) }

// encodeChunk bounds the memory of one EncodeBatch call.
const encodeChunk = 256

// Encode tokenizes texts with their class ids labels (single-label classification; nil for texts
// to predict).
func Encode(tok BatchEncoder, texts []string, labels []int) (*Dataset, error) {
	if labels != nil && len(texts) != len(labels) {
		return nil, fmt.Errorf("train: %d texts but %d labels", len(texts), len(labels))
	}
	d, err := encodeTexts(tok, texts)
	if err != nil {
		return nil, err
	}
	d.Labels = slices.Clone(labels)
	return d, nil
}

// EncodeTargets tokenizes texts with their float targets (see Dataset.Targets): regression
// values or multi-hot label rows.
func EncodeTargets(tok BatchEncoder, texts []string, targets [][]float32) (*Dataset, error) {
	if len(texts) != len(targets) {
		return nil, fmt.Errorf("train: %d texts but %d targets", len(texts), len(targets))
	}
	d, err := encodeTexts(tok, texts)
	if err != nil {
		return nil, err
	}
	d.Targets = make([][]float32, len(targets))
	for i, row := range targets {
		d.Targets[i] = slices.Clone(row)
	}
	return d, nil
}

// encodeTexts tokenizes texts into a Dataset without targets.
func encodeTexts(tok BatchEncoder, texts []string) (*Dataset, error) {
	d := &Dataset{PadID: tok.PadID()}
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

// check validates d for a model of problem type problem with numLabels outputs.
func (d *Dataset) check(what string, problem hfmodel.ProblemType, numLabels int) error {
	if d == nil || d.Len() == 0 {
		return fmt.Errorf("train: the %s set is empty", what)
	}
	if single := problem == hfmodel.SingleLabel; single && len(d.Labels) != d.Len() {
		return fmt.Errorf("train: the %s set has %d class ids for %d examples, want one each for a %s model", what, len(d.Labels), d.Len(), problem)
	} else if !single && len(d.Targets) != d.Len() {
		return fmt.Errorf("train: the %s set has %d float targets for %d examples, want one row each for a %s model", what, len(d.Targets), d.Len(), problem)
	}
	var errs []error
	for i := range d.IDs {
		if problem == hfmodel.SingleLabel {
			if l := d.Labels[i]; l < 0 || l >= numLabels {
				errs = append(errs, fmt.Errorf("train: %s example %d: label %d out of range for a model with %d labels", what, i, l, numLabels))
			}
		} else if err := checkTargets(d.Targets[i], problem, numLabels); err != nil {
			errs = append(errs, fmt.Errorf("train: %s example %d: %w", what, i, err))
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

// checkTargets validates one example's float targets: numLabels finite numbers, each 0 or 1
// for a multi-label model.
func checkTargets(row []float32, problem hfmodel.ProblemType, numLabels int) error {
	if len(row) != numLabels {
		return fmt.Errorf("%d targets for a model with %d outputs", len(row), numLabels)
	}
	for j, v := range row {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("target %d is %v, want a finite number", j, v)
		}
		if problem == hfmodel.MultiLabel && v != 0 && v != 1 {
			return fmt.Errorf("target %d is %v, want 0 or 1 (a class the example has or not)", j, v)
		}
	}
	return nil
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
// the right to the smallest of lengths that holds the longest row (to the longest row when none
// does), the targets (class ids [rows] int32, zeros for an unlabelled
// set, or Targets [rows, c] float32), and real [rows], true for the rows of idx.
// The rows past len(idx) (rows >= len(idx)) repeat the first example, so that a short last batch
// keeps the shape of the others (one compiled program less on XLA); real masks them out of the
// loss and the metrics.
func (d *Dataset) batch(idx []int, lengths []int, rows int) (tokens, mask, types, labels, real *tensors.Tensor) {
	seq := d.paddedLength(idx, lengths)
	ids, m, ty, ls := make([]int32, rows*seq), make([]int32, rows*seq), make([]int32, rows*seq), make([]int32, rows)
	var targets []float32
	isReal := make([]bool, rows)
	for r := range rows {
		i := idx[0]
		if r < len(idx) {
			i, isReal[r] = idx[r], true
		}
		if d.Targets != nil {
			targets = append(targets, d.Targets[i]...)
		} else if d.Labels != nil {
			ls[r] = int32(d.Labels[i])
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
	}
	labels = tensors.FromFlatDataAndDimensions(ls, rows)
	if d.Targets != nil {
		labels = tensors.FromFlatDataAndDimensions(targets, rows, len(targets)/rows)
	}
	return tensors.FromFlatDataAndDimensions(ids, rows, seq), tensors.FromFlatDataAndDimensions(m, rows, seq),
		tensors.FromFlatDataAndDimensions(ty, rows, seq), labels, tensors.FromFlatDataAndDimensions(isReal, rows)
}

// paddedLength is the length the batch idx is padded to: the smallest of lengths that holds its
// longest row (its longest row's, past the last of lengths).
func (d *Dataset) paddedLength(idx []int, lengths []int) int {
	longest := 0
	for _, i := range idx {
		longest = max(longest, len(d.IDs[i]))
	}
	if j, _ := slices.BinarySearch(lengths, longest); j < len(lengths) {
		return lengths[j]
	}
	return longest
}

// trainRows is the number of rows a batch of n examples is padded to: n on the Go backend;
// with few shapes (XLA) the batch size, so a short last batch compiles no program of its own;
// then up to a multiple of the number of devices, which split the rows evenly.
func (t *Trainer) trainRows(n int) int {
	if t.shapes.Few {
		n = max(n, t.cfg.BatchSize)
	}
	return t.parallel.padRows(n)
}
