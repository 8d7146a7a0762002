package serve

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"
)

// errQueueFull is returned by batcher.classify when accepting the texts would exceed the queue.
var errQueueFull = errors.New("the server is busy: too many texts queued, retry later")

// errClosed is returned for texts queued after (or still waiting when) the batcher stopped.
var errClosed = errors.New("the server is shutting down")

// job is one caller's texts; its items may be classified across several batches.
type job struct {
	ctx       context.Context
	texts     []string
	probs     [][]float32
	err       error
	remaining int // items not yet classified; guarded by batcher.mu
	done      chan struct{}
}

type item struct {
	job *job
	i   int
}

// batcher merges texts from concurrent callers into Classify calls of at most maxBatch texts,
// waiting at most maxWait after the first text for others to arrive.
type batcher struct {
	clf       Classifier
	numLabels int
	maxBatch  int
	maxWait   time.Duration
	logger    *log.Logger

	mu      sync.Mutex // guards pending and job.remaining, and serialises enqueues
	pending int        // texts queued or being classified
	queue   chan item  // capacity = queue size; enqueues reserve room under mu, so they never block
	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func newBatcher(clf Classifier, numLabels, maxBatch int, maxWait time.Duration, queueSize int, logger *log.Logger) *batcher {
	b := &batcher{clf: clf, numLabels: numLabels, maxBatch: maxBatch, maxWait: maxWait, logger: logger,
		queue: make(chan item, queueSize), stop: make(chan struct{}), stopped: make(chan struct{})}
	go b.run()
	return b
}

// classify queues texts and waits for their probabilities, shape [len(texts)][numLabels].
func (b *batcher) classify(ctx context.Context, texts []string) ([][]float32, error) {
	j, err := b.submit(ctx, texts)
	if err != nil {
		return nil, err
	}
	return j.wait()
}

// submit queues texts without waiting. It fails at once with errQueueFull when the queue has no
// room for all of them, or errClosed after close.
func (b *batcher) submit(ctx context.Context, texts []string) (*job, error) {
	j := &job{ctx: ctx, texts: texts, probs: make([][]float32, len(texts)), remaining: len(texts), done: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.stop:
		return nil, errClosed
	default:
	}
	if b.pending+len(texts) > cap(b.queue) {
		return nil, errQueueFull
	}
	b.pending += len(texts)
	for i := range texts {
		b.queue <- item{j, i}
	}
	return j, nil
}

// wait returns the job's probabilities, shape [len(texts)][numLabels], or its context's error
// if that ends first (the worker then skips the job's remaining texts).
func (j *job) wait() ([][]float32, error) {
	select {
	case <-j.done:
		return j.probs, j.err
	case <-j.ctx.Done():
		return nil, j.ctx.Err()
	}
}

func (b *batcher) close() {
	b.once.Do(func() { close(b.stop) })
	<-b.stopped
}

func (b *batcher) run() {
	defer close(b.stopped)
	defer b.failQueued()
	batch := make([]item, 0, b.maxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		batch = batch[:0]
		select {
		case it := <-b.queue:
			batch = append(batch, it)
		case <-b.stop:
			return
		}
		timer.Reset(b.maxWait)
	fill:
		for len(batch) < b.maxBatch {
			select {
			case it := <-b.queue:
				batch = append(batch, it)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		b.runBatch(batch)
	}
}

// runBatch classifies the live items of batch and hands each job its rows.
func (b *batcher) runBatch(batch []item) {
	live := batch[:0:0]
	texts := make([]string, 0, len(batch))
	for _, it := range batch {
		if it.job.ctx.Err() == nil {
			live = append(live, it)
			texts = append(texts, it.job.texts[it.i])
		}
	}
	var probs [][]float32
	var err error
	if len(texts) > 0 {
		probs, err = b.safeClassify(texts)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending -= len(batch)
	for k, it := range live {
		if err != nil {
			it.job.err = err
		} else {
			it.job.probs[it.i] = probs[k]
		}
	}
	for _, it := range batch {
		it.job.remaining--
		if it.job.remaining == 0 {
			close(it.job.done)
		}
	}
}

// safeClassify calls the classifier, turning a panic or a malformed result into an error.
func (b *batcher) safeClassify(texts []string) (probs [][]float32, err error) {
	defer func() {
		if v := recover(); v != nil {
			b.logger.Printf("classifier panicked on a batch of %d texts: %v", len(texts), v)
			probs, err = nil, fmt.Errorf("the classifier failed: %v", v)
		}
	}()
	// The batch outlives any one caller, so it runs under its own context.
	probs, err = b.clf.Classify(context.Background(), texts)
	if err != nil {
		b.logger.Printf("classifier failed on a batch of %d texts: %v", len(texts), err)
		return nil, fmt.Errorf("the classifier failed: %w", err)
	}
	if len(probs) != len(texts) {
		return nil, fmt.Errorf("the classifier returned %d rows for %d texts", len(probs), len(texts))
	}
	for i, row := range probs {
		if len(row) != b.numLabels {
			return nil, fmt.Errorf("the classifier returned %d scores for text %d of the batch, want %d (one per label)", len(row), i, b.numLabels)
		}
	}
	return probs, nil
}

// failQueued fails whatever is still queued once the worker stops.
func (b *batcher) failQueued() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		select {
		case it := <-b.queue:
			b.pending--
			it.job.err = errClosed
			it.job.remaining--
			if it.job.remaining == 0 {
				close(it.job.done)
			}
		default:
			return
		}
	}
}
