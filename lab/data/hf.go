package data

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/go-huggingface/datasets"
)

// HubLabels are the label names, in id order, of Hub datasets whose Parquet files store the
// label as an integer id. Other Hub datasets keep the label column's values as names.
var HubLabels = map[string][]string{
	"stanfordnlp/imdb": IMDBLabels,
	"imdb":             IMDBLabels,
	"fancyzhx/ag_news": AGNewsLabels,
	"ag_news":          AGNewsLabels,
}

// hubUnlabelled are the Hub splits without labels (e.g. IMDB's 50,000 unsupervised reviews).
var hubUnlabelled = []string{"unsupervised"}

// loadHub downloads the Parquet files of the Hub dataset id (repository files named
// [DIR/]SPLIT-NNNNN-of-NNNNN.parquet, as the Hub's datasets store them) and reads each
// split's text and label columns.
func (l *Loader) loadHub(ctx context.Context, id string) (*Dataset, error) {
	ds := datasets.New(id)
	if l.hub != "" {
		ds.WithEndpoint(l.hub)
	}
	if l.hubCache != "" {
		ds.WithCacheDir(l.hubCache)
	}
	ds.Verbosity = 0
	var names []string
	for fi, err := range ds.IterFileInfos() {
		if err != nil {
			return nil, fmt.Errorf("hub dataset %s: %w", id, err)
		}
		if strings.HasSuffix(fi.Name, ".parquet") {
			names = append(names, fi.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("hub dataset %s: no .parquet files in the repository", id)
	}
	slices.Sort(names) // Shards in order.
	d := &Dataset{Name: id, Labels: HubLabels[id], Splits: map[string][]Example{}}
	var wanted []string
	for _, name := range names {
		if split := hubSplit(name); slices.Contains(hubUnlabelled, split) {
			d.Notef("hub split %q (%s) has no labels and is not used", split, name)
		} else {
			wanted = append(wanted, name)
		}
	}
	paths, err := ds.DownloadFilesCtx(ctx, wanted...)
	if err != nil {
		return nil, fmt.Errorf("hub dataset %s: %w", id, err)
	}
	for i, p := range paths {
		split := hubSplit(wanted[i])
		f, err := LoadFile(File{Path: p, Text: l.text, Label: l.label, Split: split}, l.opts)
		if err != nil {
			return nil, fmt.Errorf("hub dataset %s, file %s: %w", id, wanted[i], err)
		}
		examples := f.Splits[split]
		if d.Labels != nil {
			for j := range examples {
				if examples[j].Label, err = hubLabelName(d.Labels, examples[j].Label); err != nil {
					return nil, fmt.Errorf("hub dataset %s, file %s, example %s: %w", id, wanted[i], examples[j].ID, err)
				}
			}
		}
		d.Notes = append(d.Notes, f.Notes...)
		d.Splits[split] = append(d.Splits[split], examples...)
	}
	if d.Labels == nil {
		var all []Example
		for _, examples := range d.Splits {
			all = append(all, examples...)
		}
		d.Labels = distinctLabels(all)
		d.Notef("label names of %s are not known here: the label column's values %q are used", id, d.Labels)
	}
	return d, nil
}

// hubSplit is the split of a Hub Parquet file [DIR/]SPLIT-NNNNN-of-NNNNN.parquet.
func hubSplit(name string) string {
	split, _, _ := strings.Cut(strings.TrimSuffix(path.Base(name), ".parquet"), "-")
	return split
}

// hubLabelName maps a label id stored as text to its name.
func hubLabelName(labels []string, id string) (string, error) {
	k, err := strconv.Atoi(id)
	if err != nil || k < 0 || k >= len(labels) {
		return "", fmt.Errorf("label %q, want an id 0-%d", id, len(labels)-1)
	}
	return labels[k], nil
}
