package data

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/tunelab/tunelab/internal/datadir"
	"github.com/tunelab/tunelab/lab/hfhub"
)

// DefaultDir is the data directory used when none is given, for the repository checkout (or
// working folder) root, "" for the current folder: $TUNELAB_DATA; else root/../shared/data,
// the folder beside the repository, when it exists; else root/data.
func DefaultDir(root string) string { return datadir.Find(root) }

// Task names understood by Loader.Load, besides "hf:OWNER/NAME" and file paths.
const (
	Tweets = "tweets"
	IMDB   = "imdb"
	AGNews = "agnews"
	// IMDBRating is IMDB with each review's 1-10 star rating as a regression target.
	IMDBRating = "imdb-rating"
)

// Loader loads datasets by name from a data directory holding the official layouts:
//
//	DIR/disaster_tweets/{train,test}.csv                  Kaggle nlp-getting-started
//	DIR/imdb/aclImdb_v1.tar.gz (or aclImdb_v1_labelled.tar.gz or aclImdb/)
//	DIR/ag_news/{classes.txt,train.csv,test.csv}          ag_news_csv (train.csv optional)
//
// Missing datasets are downloaded from their official sources when downloads are enabled
// (Kaggle's need a signed-in account, so tweets must be placed by hand). It then derives the
// splits a training run needs (see Load). Create it with NewLoader and set options with the
// With methods.
type Loader struct {
	dir        string
	download   bool
	client     *http.Client
	hub        hfhub.Env
	opts       Options
	seed       uint64
	validation float64
	perLabel   int
	limit      int
	text       string
	label      string
	labels     []string
	problem    Problem
	labelSep   string
}

// NewLoader returns a Loader reading dir (DefaultDir("") if empty), with downloads disabled,
// seed 1 and a validation fraction of 0.1.
func NewLoader(dir string) *Loader {
	if dir == "" {
		dir = DefaultDir("")
	}
	return &Loader{dir: dir, seed: 1, validation: 0.1, text: "text", label: "label"}
}

// Dir returns the data directory.
func (l *Loader) Dir() string { return l.dir }

// WithDownload enables downloading missing datasets into the data directory.
func (l *Loader) WithDownload(download bool) *Loader { l.download = download; return l }

// WithHTTPClient sets the client used for downloads (default http.DefaultClient).
func (l *Loader) WithHTTPClient(client *http.Client) *Loader { l.client = client; return l }

// WithHub sets how "hf:" datasets reach the Hugging Face Hub; its zero fields follow the
// environment as for models (hfhub.Env: HF_TOKEN, HF_HOME, HF_HUB_CACHE, HF_ENDPOINT,
// HF_HUB_OFFLINE).
func (l *Loader) WithHub(env hfhub.Env) *Loader { l.hub = env; return l }

// WithOptions sets how rows are read.
func (l *Loader) WithOptions(opts Options) *Loader { l.opts = opts; return l }

// WithSeed sets the seed of the derived splits, caps and limits.
func (l *Loader) WithSeed(seed uint64) *Loader { l.seed = seed; return l }

// WithValidation sets the fraction of the training examples held out as the validation split
// when the dataset has none (0: no validation split).
func (l *Loader) WithValidation(fraction float64) *Loader { l.validation = fraction; return l }

// WithPerLabel caps every split at n examples per label (0: no cap).
func (l *Loader) WithPerLabel(n int) *Loader { l.perLabel = n; return l }

// WithLimit caps every split at n examples, keeping the label proportions (0: no limit).
func (l *Loader) WithLimit(n int) *Loader { l.limit = n; return l }

// WithColumns names the text and label columns of files and Hub datasets (default "text"
// and "label").
func (l *Loader) WithColumns(text, label string) *Loader { l.text, l.label = text, label; return l }

// WithProblem says what a file's label column holds (see File.Problem) and, for MultiLabel
// sets written as one string, the separator of their names.
func (l *Loader) WithProblem(problem Problem, labelSep string) *Loader {
	l.problem, l.labelSep = problem, labelSep
	return l
}

// WithLabels fixes the label names of a file, in id order; other labels are errors.
func (l *Loader) WithLabels(labels []string) *Loader { l.labels = labels; return l }

// agNewsHeldOut is the fraction of AG News's official test rows kept as the test split when
// the official train.csv is absent and the test rows are split for an offline run.
const agNewsHeldOut = 0.1

// Load reads the dataset called name: Tweets, IMDB, AGNews, "hf:OWNER/NAME" (a Hugging Face
// Hub dataset's Parquet files) or the path of a CSV, TSV, JSON Lines or Parquet file. Then:
//
//   - AG News without train.csv: the official test rows are split (stratified, seeded) into
//     train, validation and test parts (1-v-0.1, v, 0.1 for validation fraction v).
//   - A dataset with a train split but no validation split gets one: a stratified, seeded
//     fraction of train (WithValidation).
//   - WithPerLabel and WithLimit trim every split.
//
// Each such step is recorded in the Dataset's Notes.
func (l *Loader) Load(ctx context.Context, name string) (*Dataset, error) {
	if l.validation < 0 || l.validation >= 1-agNewsHeldOut {
		return nil, fmt.Errorf("validation fraction %g, want 0 <= v < %g", l.validation, 1-agNewsHeldOut)
	}
	d, err := l.load(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := l.derive(d); err != nil {
		return nil, err
	}
	return d, d.Validate()
}

func (l *Loader) load(ctx context.Context, name string) (*Dataset, error) {
	switch {
	case name == Tweets:
		dir, err := l.datasetDir("disaster_tweets")
		if err != nil {
			return nil, err
		}
		if !exists(filepath.Join(dir, "train.csv")) || !exists(filepath.Join(dir, "test.csv")) {
			return nil, fmt.Errorf("disaster tweets are not in %s and Kaggle serves them only to signed-in users: "+KaggleTweetsHelp, dir, dir)
		}
		return LoadTweets(dir, l.opts)
	case name == IMDB || name == IMDBRating:
		dir, err := l.datasetDir("imdb")
		if err != nil {
			return nil, err
		}
		if _, err := findIMDB(dir); err != nil {
			if err := l.fetch(ctx, IMDB, dir, IMDBRemote); err != nil {
				return nil, err
			}
		}
		d, err := LoadIMDB(dir, l.opts)
		if err == nil && name == IMDBRating {
			ratingTargets(d)
		}
		return d, err
	case name == AGNews:
		dir, err := l.datasetDir("ag_news")
		if err != nil {
			return nil, err
		}
		if !exists(filepath.Join(dir, "train.csv")) && !exists(filepath.Join(dir, "test.csv")) {
			if err := l.fetch(ctx, AGNews, dir, AGNewsRemotes...); err != nil {
				return nil, err
			}
		}
		d, err := LoadAGNews(dir, l.opts)
		if err == nil && d.Splits[Train] == nil {
			err = l.splitOfficialTest(d)
		}
		return d, err
	case strings.HasPrefix(name, "hf:"):
		return l.loadHub(ctx, strings.TrimPrefix(name, "hf:"))
	case exists(name):
		return LoadFile(File{Path: name, Text: l.text, Label: l.label, Labels: l.labels, Problem: l.problem, LabelSep: l.labelSep}, l.opts)
	}
	return nil, fmt.Errorf("dataset %q: want %s, %s, %s, %s, hf:OWNER/NAME or an existing file", name, Tweets, IMDB, IMDBRating, AGNews)
}

// datasetDir returns the folder sub of the data folder, where an official dataset lives.
func (l *Loader) datasetDir(sub string) (string, error) {
	if info, err := os.Stat(l.dir); err == nil && !info.IsDir() {
		return "", fmt.Errorf("the data folder %s is a file: it should be the folder of the official datasets (%s/ for this one); a file of your own is given as the dataset (the task) itself", l.dir, sub)
	}
	return filepath.Join(l.dir, sub), nil
}

// fetch downloads the remotes of a missing dataset into dir, or says how to place them.
func (l *Loader) fetch(ctx context.Context, name, dir string, remotes ...Remote) error {
	var urls []string
	for _, r := range remotes {
		urls = append(urls, r.URL)
	}
	place := fmt.Sprintf("place %s from %s in %s", name, strings.Join(urls, " and "), dir)
	if !l.download {
		return fmt.Errorf("%s is not in %s and downloads are off: %s", name, dir, place)
	}
	for _, r := range remotes {
		if err := Fetch(ctx, l.client, r.URL, filepath.Join(dir, r.Name), r.Sum); err != nil {
			return fmt.Errorf("downloading %s: %w (or %s)", name, err, place)
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

// splitOfficialTest splits AG News's official test rows into the splits of an offline run.
func (l *Loader) splitOfficialTest(d *Dataset) error {
	test := d.Splits[Test]
	fractions := []float64{1 - l.validation - agNewsHeldOut, l.validation, agNewsHeldOut}
	names := []string{Train, Validation, Test}
	if l.validation == 0 {
		fractions, names = []float64{1 - agNewsHeldOut, agNewsHeldOut}, []string{Train, Test}
	}
	parts, err := StratifiedSplit(test, l.seed, fractions...)
	if err != nil {
		return err
	}
	for i, name := range names {
		d.Splits[name] = parts[i]
	}
	d.Notef("the official train.csv is absent: the %d official test rows were split (stratified, seed %d) into %s of %s rows; "+
		"scores are not comparable with published AG News results", len(test), l.seed, strings.Join(names, "/"), counts(parts))
	return nil
}

// derive holds out a validation split and trims the splits, noting each step.
func (l *Loader) derive(d *Dataset) error {
	train, hasTrain := d.Splits[Train]
	if _, ok := d.Splits[Validation]; hasTrain && !ok && l.validation > 0 {
		parts, err := StratifiedSplit(train, l.seed, 1-l.validation, l.validation)
		if err != nil {
			return err
		}
		d.Splits[Train], d.Splits[Validation] = parts[0], parts[1]
		if len(parts[1]) == 0 {
			d.Notef("validation: a stratified %g of the %d training examples is no example: too few to hold any out (a larger fraction or more examples would)", l.validation, len(train))
		} else {
			d.Notef("validation is a stratified %g of the %d training examples (seed %d)", l.validation, len(train), l.seed)
		}
	}
	return l.trim(d)
}

func counts(parts [][]Example) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = fmt.Sprint(len(p))
	}
	return strings.Join(s, "/")
}

func (l *Loader) trim(d *Dataset) error {
	if l.perLabel < 0 || l.limit < 0 {
		return fmt.Errorf("per-label cap %d and limit %d: want >= 0", l.perLabel, l.limit)
	}
	for _, name := range d.SplitNames() {
		if l.perLabel > 0 {
			d.Splits[name] = CapPerLabel(d.Splits[name], l.perLabel, l.seed)
		}
		if l.limit > 0 {
			d.Splits[name] = Limit(d.Splits[name], l.limit, l.seed)
		}
	}
	if l.perLabel > 0 {
		d.Notef("every split is capped at %d examples per label (seed %d)", l.perLabel, l.seed)
	}
	if l.limit > 0 {
		d.Notef("every split is limited to %d examples, label proportions kept (seed %d)", l.limit, l.seed)
	}
	return nil
}
