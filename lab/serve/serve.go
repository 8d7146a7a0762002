// Package serve puts a text classifier on the web: a self-contained demo page, a JSON API
// (POST /api/predict, /healthz, /readyz, /openapi.json) and the HTTP API of a Gradio app, so
// clients written for Hugging Face Spaces (gradio_client, curl against /gradio_api/call/predict)
// work unchanged.
//
// Concurrent requests are micro-batched into one Classifier.Classify call; a bounded queue
// answers 503 with Retry-After when full. Server.Serve shuts down gracefully when its context
// is cancelled: in-flight requests finish, new connections are refused.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/tunelab/tunelab/lab/hfmodel"
)

// Classifier scores texts. The server calls it from a single goroutine (it serialises batches),
// so implementations need not be safe for concurrent use.
type Classifier interface {
	// Labels returns the class names in id order (one name for a regression model).
	Labels() []string
	// Classify returns the scores of each text, shape [len(texts)][len(Labels())]: the class
	// probabilities, or what Options.Problem says they are.
	Classify(ctx context.Context, texts []string) ([][]float32, error)
}

// Card describes the model on the demo page and in the API documents.
type Card struct {
	Title       string
	Description string
	// Examples are texts shown under the textbox; clicking one fills the textbox.
	Examples []string
}

// Options configure a Server. Zero fields take the defaults documented on each field.
type Options struct {
	Card Card

	// Problem says what the classifier's scores are (config.json's problem_type): class
	// probabilities ("" or hfmodel.SingleLabel), one predicted value (hfmodel.Regression),
	// or independent per-label probabilities (hfmodel.MultiLabel). The API, the page and the
	// Gradio output follow it.
	Problem hfmodel.ProblemType

	// MaxBatch is the most texts passed to one Classify call (default 16).
	MaxBatch int
	// MaxWait is how long the first queued text waits for others to fill its batch (default 5ms).
	MaxWait time.Duration
	// QueueSize is the most texts waiting or being classified; more get 503 (default 256).
	QueueSize int

	// MaxTexts is the most texts one /api/predict request may carry (default 64).
	MaxTexts int
	// MaxBodyBytes limits request bodies; larger ones get 413 (default 1 MiB).
	MaxBodyBytes int64
	// MaxChars is the most characters (runes) of a text passed to the classifier; longer texts
	// are truncated and the response says so (default 5000).
	MaxChars int
	// TopK is how many classes the demo page draws bars for (default 5).
	TopK int

	// FlagDir is the folder of the flag log (flagged.csv). Empty disables flagging. Nothing in a
	// request chooses the file.
	FlagDir string
	// AllowedOrigins lists the origins that may call the API from a browser (CORS); "*" allows
	// any. Empty allows none (same-origin only).
	AllowedOrigins []string

	// ReadTimeout and WriteTimeout bound one request (defaults 30s and 60s); event streams extend
	// their own write deadline. ShutdownTimeout bounds the graceful shutdown (default 30s).
	ReadTimeout, WriteTimeout, ShutdownTimeout time.Duration

	// Logger receives request failures and recovered panics (default: standard error).
	Logger *log.Logger

	// Warmup, when set, runs once Serve listens, before /readyz answers ready (it answers 503
	// until then): an engine that compiles a program per input shape (XLA) compiles them there
	// rather than in the first requests. Serve stops with its error.
	Warmup func(context.Context) error
}

func (o *Options) setDefaults() {
	setDefault(&o.MaxBatch, 16)
	setDefault(&o.MaxWait, 5*time.Millisecond)
	setDefault(&o.QueueSize, 256)
	setDefault(&o.MaxTexts, 64)
	setDefault(&o.MaxBodyBytes, 1<<20)
	setDefault(&o.MaxChars, 5000)
	setDefault(&o.TopK, 5)
	setDefault(&o.ReadTimeout, 30*time.Second)
	setDefault(&o.WriteTimeout, 60*time.Second)
	setDefault(&o.ShutdownTimeout, 30*time.Second)
	if o.Logger == nil {
		o.Logger = log.New(os.Stderr, "serve: ", log.LstdFlags)
	}
	if o.Card.Title == "" {
		o.Card.Title = "Text classifier"
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Server is the demo and API server. It is an http.Handler; Serve and ListenAndServe run it with
// timeouts and graceful shutdown.
type Server struct {
	opts    Options
	labels  []string
	batcher *batcher
	flags   *flagLog // nil when flagging is disabled
	events  *eventStore
	mux     *http.ServeMux
	// draining is set when shutdown begins: /readyz then answers 503 so load balancers stop
	// sending traffic while in-flight requests finish.
	draining atomic.Bool
	// warm is set once Options.Warmup has run (at once without one).
	warm atomic.Bool
}

// New returns a Server for clf. It starts the batching goroutine; Serve stops it on shutdown,
// and Close stops it when the Server is used only as an http.Handler.
func New(clf Classifier, opts Options) (*Server, error) {
	if clf == nil {
		return nil, errors.New("serve.New: nil Classifier")
	}
	opts.setDefaults()
	labels := clf.Labels()
	if len(labels) == 0 {
		return nil, errors.New("serve.New: the classifier has no labels")
	}
	seen := map[string]bool{}
	for i, l := range labels {
		if l == "" || seen[l] {
			return nil, fmt.Errorf("serve.New: label %d (%q) is empty or repeated", i, l)
		}
		seen[l] = true
	}
	switch opts.Problem {
	case "", hfmodel.SingleLabel, hfmodel.MultiLabel:
	case hfmodel.Regression:
		if len(labels) != 1 {
			return nil, fmt.Errorf("serve.New: a regression model has one output, the classifier has %d labels", len(labels))
		}
	default:
		return nil, fmt.Errorf("serve.New: problem type %q: want %q, %q or %q", opts.Problem, hfmodel.SingleLabel, hfmodel.Regression, hfmodel.MultiLabel)
	}
	if opts.MaxBatch < 1 || opts.QueueSize < opts.MaxBatch || opts.MaxTexts < 1 || opts.MaxChars < 1 {
		return nil, fmt.Errorf("serve.New: need MaxBatch >= 1, QueueSize >= MaxBatch, MaxTexts >= 1 and MaxChars >= 1, got %d, %d, %d, %d",
			opts.MaxBatch, opts.QueueSize, opts.MaxTexts, opts.MaxChars)
	}
	s := &Server{opts: opts, labels: labels}
	s.warm.Store(opts.Warmup == nil)
	if opts.FlagDir != "" {
		f, err := newFlagLog(opts.FlagDir)
		if err != nil {
			return nil, fmt.Errorf("serve.New: %w", err)
		}
		s.flags = f
	}
	s.events = newEventStore(opts.QueueSize * 4)
	s.batcher = newBatcher(clf, len(labels), opts.MaxBatch, opts.MaxWait, opts.QueueSize, opts.Logger)
	s.routes()
	return s, nil
}

// ServeHTTP serves the page and the APIs, recovering from panics in handlers so that one bad
// request never takes the process down.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.opts.Logger.Printf("panic serving %s %s: %v", r.Method, r.URL.Path, v)
			writeError(w, http.StatusInternalServerError, "internal error")
		}
	}()
	if !s.cors(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Close stops the batching goroutine; queued requests fail. Serve calls it after shutdown.
func (s *Server) Close() { s.batcher.close() }

// ListenAndServe listens on addr (host:port) and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve answers requests on ln until ctx is cancelled, then shuts down gracefully: the listener
// closes (new connections are refused), in-flight requests run to completion within
// Options.ShutdownTimeout, and the batcher stops. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.opts.ReadTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       2 * s.opts.ReadTimeout,
		ErrorLog:          s.opts.Logger,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	defer s.Close()
	warmed := make(chan error, 1)
	if s.opts.Warmup != nil {
		go func() { warmed <- s.opts.Warmup(ctx) }()
	}
	var stopErr error // why Serve stops, other than ctx
wait:
	for {
		select {
		case err := <-errc:
			return err
		case err := <-warmed:
			if err != nil && ctx.Err() == nil {
				stopErr = fmt.Errorf("serve: warming up: %w", err)
				break wait
			}
			s.warm.Store(true)
		case <-ctx.Done():
			break wait
		}
	}
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("serve: graceful shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return stopErr
}
