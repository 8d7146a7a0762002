package data

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/go-huggingface/datasets"
	"github.com/tunelab/tunelab/lab/hfhub"
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

// loadHub reads the Parquet files of the Hub dataset id (repository files named
// [DIR/]SPLIT-NNNNN-of-NNNNN.parquet, as the Hub's datasets store them): downloaded into the
// Hugging Face cache, or in offline mode read from the cache's snapshot of its main branch.
func (l *Loader) loadHub(ctx context.Context, id string) (*Dataset, error) {
	env := l.hub.WithDefaults()
	cache := hfhub.Cache{Root: env.CacheDir, Kind: hfhub.Datasets, ID: id}
	var repo *hubFiles
	var err error
	if env.Offline {
		repo, err = cachedHubFiles(cache)
	} else {
		repo, err = remoteHubFiles(env, cache)
	}
	if err != nil {
		return nil, fmt.Errorf("hub dataset %s: %w", id, err)
	}
	var names []string
	for _, name := range repo.names {
		if strings.HasSuffix(name, ".parquet") {
			names = append(names, name)
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
	paths, err := repo.fetch(ctx, wanted)
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

// hubFiles are the files of a Hub dataset and how to get them onto the disk.
type hubFiles struct {
	names []string
	// fetch returns the local paths of the named files.
	fetch func(ctx context.Context, names []string) ([]string, error)
}

// remoteHubFiles lists the dataset's files on the Hub; fetching downloads them into the cache
// and records the commit of its main branch there, as huggingface_hub does, for offline runs.
func remoteHubFiles(env hfhub.Env, cache hfhub.Cache) (*hubFiles, error) {
	ds := datasets.New(cache.ID).WithEndpoint(env.Endpoint).WithCacheDir(env.CacheDir).WithAuth(env.Token)
	ds.Verbosity = 0
	files := &hubFiles{}
	for fi, err := range ds.IterFileInfos() {
		if err != nil {
			return nil, err
		}
		files.names = append(files.names, fi.Name)
	}
	files.fetch = func(ctx context.Context, names []string) ([]string, error) {
		paths, err := ds.DownloadFilesCtx(ctx, names...)
		if err != nil {
			return nil, err
		}
		if info := ds.Repo.Info(); info != nil && info.CommitHash != "" {
			if err := cache.WriteRef("main", info.CommitHash); err != nil {
				return nil, fmt.Errorf("recording the revision: %w", err)
			}
		}
		return paths, nil
	}
	return files, nil
}

// cachedHubFiles lists the files of the cache's snapshot of the dataset's main branch.
func cachedHubFiles(cache hfhub.Cache) (*hubFiles, error) {
	dir, err := cache.Snapshot("main")
	if err != nil {
		return nil, fmt.Errorf("offline mode is on (HF_HUB_OFFLINE) and %w: load it once online, or copy its cache folder %s from a machine that has it", err, filepath.Base(cache.RepoDir()))
	}
	files := &hubFiles{fetch: func(_ context.Context, names []string) ([]string, error) {
		paths := make([]string, len(names))
		for i, name := range names {
			paths[i] = filepath.Join(dir, filepath.FromSlash(name))
		}
		return paths, nil
	}}
	err = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files.names = append(files.names, filepath.ToSlash(rel))
		return err
	})
	return files, err
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
