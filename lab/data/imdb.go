package data

import (
	"archive/tar"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// IMDBLabels are the IMDB label names, in the order Hugging Face's stanfordnlp/imdb uses.
var IMDBLabels = []string{"neg", "pos"}

// IMDBArchives are the archive names LoadIMDB recognizes in a directory: the official
// download and the mirror that carries only its labelled part.
var IMDBArchives = []string{"aclImdb_v1.tar.gz", "aclImdb_v1_labelled.tar.gz"}

// imdbRatings are the star ratings each label may have (Maas et al. 2011: a negative review
// has a score <= 4 out of 10, a positive one >= 7).
var imdbRatings = map[string][2]int{"neg": {1, 4}, "pos": {7, 10}}

// imdbReader collects reviews from archive entries or files named relative to aclImdb/.
type imdbReader struct {
	check  rowChecker
	splits map[string][]Example
	unsup  int
}

// LoadIMDB reads the IMDB reviews from path: the official aclImdb_v1.tar.gz (or the mirror's
// aclImdb_v1_labelled.tar.gz), streamed without extraction; an extracted aclImdb folder; or a
// directory holding either. It returns splits "train" and "test" with labels IMDBLabels and
// each review's star rating from its file name <id>_<rating>.txt. The unlabelled
// train/unsup reviews are counted in a note but not returned.
func LoadIMDB(path string, opts Options) (*Dataset, error) {
	path, err := findIMDB(path)
	if err != nil {
		return nil, err
	}
	r := &imdbReader{check: rowChecker{opts: opts}, splits: map[string][]Example{}}
	if strings.HasSuffix(path, ".gz") {
		err = r.readArchive(path)
	} else {
		err = r.readDir(path)
	}
	if err != nil {
		return nil, err
	}
	d := &Dataset{Name: "imdb", Labels: IMDBLabels, Splits: map[string][]Example{}}
	for _, split := range []string{Train, Test} {
		examples := r.splits[split]
		for _, label := range IMDBLabels {
			if !slices.ContainsFunc(examples, func(ex Example) bool { return ex.Label == label }) {
				return nil, fmt.Errorf("%s: no reviews in aclImdb/%s/%s/, want the official layout aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt", path, split, label)
			}
		}
		// Archive and directory orders differ; sort so both give the same dataset.
		slices.SortFunc(examples, func(a, b Example) int {
			return cmp.Or(cmp.Compare(a.Label, b.Label), cmp.Compare(reviewNumber(a.ID), reviewNumber(b.ID)))
		})
		d.Splits[split] = examples
	}
	noteSkipped(d, path, r.check.skipped)
	if r.unsup > 0 {
		d.Notef("%d unlabelled reviews in aclImdb/train/unsup are not used", r.unsup)
	}
	if opts.CleanHTML {
		d.Notef("<br /> tags and HTML entities were replaced in the texts")
	}
	return d, nil
}

// ratingTargets turns the IMDB sentiment dataset into the star-rating regression task: each
// review's Value is its rating (1-4 and 7-10). The sentiment stays in Label, so derived splits
// are still stratified by it.
func ratingTargets(d *Dataset) {
	d.Name, d.Problem, d.Labels = IMDBRating, Regression, nil
	for _, examples := range d.Splits {
		for i := range examples {
			examples[i].Value = float64(examples[i].Rating)
		}
	}
	d.Notef("targets are the reviews' star ratings (1-4 and 7-10, from the file names <id>_<rating>.txt) as numbers")
}

// findIMDB resolves a directory to the archive or extracted folder it holds.
func findIMDB(p string) (string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if !info.IsDir() || filepath.Base(p) == "aclImdb" {
		return p, nil
	}
	candidates := append(slices.Clone(IMDBArchives), "aclImdb")
	for _, name := range candidates {
		if _, err := os.Stat(filepath.Join(p, name)); err == nil {
			return filepath.Join(p, name), nil
		}
	}
	return "", fmt.Errorf("%s: no IMDB data, want one of %q", p, candidates)
}

// reviewNumber is the numeric review id of an example ID "split/label/<id>_<rating>".
func reviewNumber(id string) int {
	n, _, _ := strings.Cut(path.Base(id), "_")
	v, _ := strconv.Atoi(n)
	return v
}

func (r *imdbReader) readArchive(archive string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: not a gzip archive: %w", archive, err)
	}
	tr := tar.NewReader(gz)
	last := "its start"
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: after entry %s: %w", archive, last, noEOF(err))
		}
		last = h.Name
		if h.Typeflag != tar.TypeReg {
			continue
		}
		rel, ok := strings.CutPrefix(path.Clean(h.Name), "aclImdb/")
		if !ok || !r.wants(rel) {
			continue
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("%s: entry %s: %w", archive, h.Name, noEOF(err))
		}
		if err := r.add(rel, archive+": entry "+h.Name, content); err != nil {
			return err
		}
	}
}

// noEOF turns an io.EOF met inside an archive into io.ErrUnexpectedEOF: a truncated
// archive must not read as a complete one.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (r *imdbReader) readDir(root string) error {
	for _, split := range []string{Train, Test} {
		for _, label := range append(slices.Clone(IMDBLabels), "unsup") {
			dir := filepath.Join(root, split, label)
			entries, err := os.ReadDir(dir)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			for _, e := range entries {
				rel := split + "/" + label + "/" + e.Name()
				if !r.wants(rel) {
					continue
				}
				file := filepath.Join(dir, e.Name())
				content, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				if err := r.add(rel, file, content); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// wants reports whether rel (relative to aclImdb/) is a review: a .txt file in
// {train,test}/{neg,pos,unsup}/.
func (r *imdbReader) wants(rel string) bool {
	parts := strings.Split(rel, "/")
	if len(parts) != 3 || (parts[0] != Train && parts[0] != Test) || !strings.HasSuffix(parts[2], ".txt") {
		return false
	}
	_, labelled := imdbRatings[parts[1]]
	return labelled || parts[1] == "unsup"
}

// add parses one review file rel = split/label/<id>_<rating>.txt found at loc.
func (r *imdbReader) add(rel, loc string, content []byte) error {
	parts := strings.Split(rel, "/")
	split, label, name := parts[0], parts[1], parts[2]
	if label == "unsup" {
		r.unsup++
		return nil
	}
	id, rating, ok := strings.Cut(strings.TrimSuffix(name, ".txt"), "_")
	stars, err := strconv.Atoi(rating)
	if _, idErr := strconv.Atoi(id); !ok || err != nil || idErr != nil {
		return fmt.Errorf("%s: file name %q, want <id>_<rating>.txt", loc, name)
	}
	if lim := imdbRatings[label]; stars < lim[0] || stars > lim[1] {
		return fmt.Errorf("%s: rating %d in %s/, want %d-%d", loc, stars, label, lim[0], lim[1])
	}
	text := string(content)
	if keep, err := r.check.check(loc, "review", text); err != nil || !keep {
		return err
	}
	if r.check.opts.CleanHTML {
		text = cleanHTML(text)
	}
	r.splits[split] = append(r.splits[split], Example{
		ID: split + "/" + label + "/" + strings.TrimSuffix(name, ".txt"), Text: text, Label: label, Rating: stars})
	return nil
}
