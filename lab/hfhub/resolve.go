package hfhub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/gomlx/go-huggingface/hub"
	"github.com/tunelab/tunelab/lab/hfmodel"
)

// ResolveOptions configures Resolve. The zero value resolves like the Hugging Face
// libraries do, reading the same environment variables; see the field comments.
type ResolveOptions struct {
	// ModelsDir holds installed checkpoints as ModelsDir/NAME. Default: $TUNELAB_MODELS, else "models".
	ModelsDir string

	// Revision is the Hub branch, tag or commit to resolve. Default: "main".
	Revision string

	// Token is sent to the Hub as "Authorization: Bearer TOKEN". Default: $HF_TOKEN, else the
	// token file that `huggingface-cli login` writes ($HF_TOKEN_PATH, else $HF_HOME/token).
	Token string

	// CacheDir is the Hugging Face cache (shared with Python's huggingface_hub). Default:
	// $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
	// ~/.cache/huggingface/hub.
	CacheDir string

	// Endpoint is the Hub's base URL. Default: $HF_ENDPOINT, else https://huggingface.co.
	Endpoint string

	// Offline forbids network access: only the cache is used. It is also on when
	// $HF_HUB_OFFLINE or $TRANSFORMERS_OFFLINE is set to 1 (or true, yes, on).
	Offline bool

	// Progress, if not nil, receives one line per step of a Hub download.
	Progress io.Writer
}

// ErrNotCached is returned (wrapped, with what to do about it) by Resolve when a model
// must come from the Hub but the Hub cannot be used (offline mode or network failure)
// and the cache holds no complete copy of it.
var ErrNotCached = errors.New("checkpoint is not installed and not in the Hugging Face cache")

// Resolve returns the directory holding the checkpoint nameOrDir: its config.json, its
// safetensors weights (model.safetensors, or model.safetensors.index.json and its shards)
// and the tokenizer files it has.
//
// It tries, in order:
//  1. nameOrDir itself, when it is a directory (it must hold config.json);
//  2. ModelsDir/nameOrDir, then ModelsDir/<last path element of nameOrDir>
//     (so "sentence-transformers/all-MiniLM-L6-v2" finds models/all-MiniLM-L6-v2);
//  3. the Hugging Face Hub, when nameOrDir is a model id: only the files tunelab reads are
//     downloaded (never pytorch_model.bin, ONNX or TensorFlow weights), into the Hugging Face
//     cache layout (models--ORG--NAME/{blobs,refs,snapshots}), and the snapshot directory
//     models--ORG--NAME/snapshots/COMMIT is returned.
//
// In offline mode, or when the Hub cannot be reached (network error or HTTP 5xx), the cache
// alone is used, following refs/REVISION to its snapshot, and nothing in it is changed; if it
// has no complete copy, the error wraps ErrNotCached and says how to obtain one. HTTP 401/403
// and 404 answers are reported as such, without falling back to the cache.
func Resolve(ctx context.Context, nameOrDir string, opts ResolveOptions) (dir string, err error) {
	if nameOrDir == "" {
		return "", errors.New("checkpoint: empty model name")
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if st, err := os.Stat(nameOrDir); err == nil && st.IsDir() {
		if !isCheckpointDir(nameOrDir) {
			return "", fmt.Errorf("checkpoint: directory %s has no config.json: it is not a Hugging Face checkpoint", nameOrDir)
		}
		return filepath.Abs(nameOrDir)
	}
	opts = opts.withDefaults()
	for _, candidate := range installedCandidates(opts.ModelsDir, nameOrDir) {
		if isCheckpointDir(candidate) {
			return filepath.Abs(candidate)
		}
	}
	if !hubModelID.MatchString(nameOrDir) || strings.Contains(nameOrDir, "..") {
		return "", fmt.Errorf("checkpoint: %q is neither a directory, nor installed in %s, nor a Hugging Face model id",
			nameOrDir, opts.ModelsDir)
	}
	cache := Cache{Root: opts.CacheDir, Kind: Models, ID: nameOrDir}
	if opts.Offline {
		return cachedCheckpoint(cache, opts, "offline mode is on")
	}
	dir, err = downloadFromHub(ctx, nameOrDir, opts)
	if err == nil {
		return dir, nil
	}
	if !isUnreachable(err) {
		return "", err
	}
	dir, cacheErr := cachedCheckpoint(cache, opts, fmt.Sprintf("the Hub is unreachable (%v)", err))
	if cacheErr != nil {
		return "", cacheErr
	}
	if opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "%s: the Hub is unreachable (%v); using the cached snapshot %s\n", nameOrDir, err, dir)
	}
	return dir, nil
}

// hubModelID matches "name" and "org/name" Hub model ids.
var hubModelID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$`)

func (o ResolveOptions) withDefaults() ResolveOptions {
	o.ModelsDir = cmp.Or(o.ModelsDir, os.Getenv("TUNELAB_MODELS"), "models")
	o.Revision = cmp.Or(o.Revision, "main")
	env := Env{Token: o.Token, CacheDir: o.CacheDir, Endpoint: o.Endpoint, Offline: o.Offline}.WithDefaults()
	o.Token, o.CacheDir, o.Endpoint, o.Offline = env.Token, env.CacheDir, env.Endpoint, env.Offline
	return o
}

func installedCandidates(modelsDir, name string) []string {
	candidates := []string{filepath.Join(modelsDir, filepath.FromSlash(name))}
	if base := filepath.Join(modelsDir, filepath.Base(filepath.FromSlash(name))); base != candidates[0] {
		candidates = append(candidates, base)
	}
	return candidates
}

func isCheckpointDir(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "config.json"))
	return err == nil && st.Mode().IsRegular()
}

// downloadFromHub fetches the checkpoint files of Hub model id into the cache and returns its
// snapshot directory.
func downloadFromHub(ctx context.Context, id string, opts ResolveOptions) (string, error) {
	repo := hub.New(id).WithEndpoint(opts.Endpoint).WithAuth(opts.Token).
		WithRevision(opts.Revision).WithCacheDir(opts.CacheDir).WithProgressBar(false)
	repo.Verbosity = 0 // hub prints to stdout; progress goes to opts.Progress instead.
	where := fmt.Sprintf("%s@%s from %s", id, opts.Revision, opts.Endpoint)

	// FileURL refreshes the repository info from the Hub once per Repo; DownloadInfo(true)
	// would be repeated by the first download.
	if _, err := repo.FileURL("config.json"); err != nil {
		return "", hubError(where, opts.Revision, err)
	}
	info := repo.Info()
	if info == nil || info.CommitHash == "" {
		return "", fmt.Errorf("checkpoint: %s: the Hub's repository info has no commit id (\"sha\")", where)
	}
	sizes := make(map[string]int64, len(info.Siblings))
	for _, s := range info.Siblings {
		sizes[s.Name] = s.Size
		if s.LFS != nil && s.LFS.Size > 0 {
			sizes[s.Name] = s.LFS.Size
		}
	}
	names, err := checkpointFiles(id, sizes)
	if err != nil {
		return "", err
	}
	fetch := func(name string) (string, error) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "%s: fetching %s (%d bytes)\n", where, name, sizes[name])
		}
		path, err := repo.DownloadFileCtx(ctx, name)
		if err != nil {
			return "", hubError(fmt.Sprintf("%s: %s", where, name), opts.Revision, err)
		}
		return path, nil
	}
	// Files are fetched one at a time: hub's parallel download shares unsynchronized counters,
	// and a checkpoint's time goes to its one large weights file anyway.
	for _, name := range names {
		path, err := fetch(name)
		if err != nil {
			return "", err
		}
		if name != hfmodel.WeightsIndex {
			continue
		}
		shards, err := hfmodel.ReadIndex(path)
		if err != nil {
			return "", fmt.Errorf("checkpoint: %s: %w", where, err)
		}
		for _, shard := range shards {
			if !hasRepoFile(sizes, shard) {
				return "", fmt.Errorf("checkpoint: %s: %s names the shard %q, which the repository does not have", where, hfmodel.WeightsIndex, shard)
			}
			if _, err := fetch(shard); err != nil {
				return "", err
			}
		}
	}

	cache := Cache{Root: opts.CacheDir, Kind: Models, ID: id}
	if opts.Revision != info.CommitHash {
		if err := cache.WriteRef(opts.Revision, info.CommitHash); err != nil {
			return "", fmt.Errorf("checkpoint: %s: recording the revision: %w", where, err)
		}
	}
	return cache.SnapshotDir(info.CommitHash), nil
}

// checkpointFiles picks, among a Hub repository's files (name -> size), those to download:
// config.json, the safetensors weights (the single file, else the index, as hfmodel.FindWeights
// prefers; the shards come from the index) and the tokenizer files present.
func checkpointFiles(id string, repoFiles map[string]int64) ([]string, error) {
	if _, ok := repoFiles["config.json"]; !ok {
		return nil, fmt.Errorf("checkpoint: Hub repository %s has no config.json: it is not a Transformers model", id)
	}
	names := []string{"config.json"}
	switch {
	case hasRepoFile(repoFiles, hfmodel.WeightsFile):
		names = append(names, hfmodel.WeightsFile)
	case hasRepoFile(repoFiles, hfmodel.WeightsIndex):
		names = append(names, hfmodel.WeightsIndex)
	default:
		var others []string
		for _, name := range hfmodel.UnreadableWeights {
			if hasRepoFile(repoFiles, name) {
				others = append(others, name)
			}
		}
		if len(others) == 0 {
			return nil, fmt.Errorf("checkpoint: Hub repository %s has no %s or %s", id, hfmodel.WeightsFile, hfmodel.WeightsIndex)
		}
		return nil, fmt.Errorf("checkpoint: Hub repository %s has only %s weights, and tunelab reads safetensors; "+
			"convert them on a machine with transformers installed: "+
			"python -c \"from transformers import AutoModel, AutoTokenizer; "+
			"AutoModel.from_pretrained('%s').save_pretrained('models/%s'); "+
			"AutoTokenizer.from_pretrained('%s').save_pretrained('models/%s')\" "+
			"(save_pretrained writes model.safetensors), then resolve models/%s",
			id, strings.Join(others, ", "), id, filepath.Base(id), id, filepath.Base(id), filepath.Base(id))
	}
	for _, name := range hfmodel.TokenizerFiles {
		if hasRepoFile(repoFiles, name) {
			names = append(names, name)
		}
	}
	return names, nil
}

func hasRepoFile(m map[string]int64, key string) bool {
	_, ok := m[key]
	return ok
}

// hubStatusText extracts the HTTP status from go-huggingface's errors, which carry it only in
// their text ("bad status code 404: ..." for GETs, `... message: "404 Not Found"` for HEADs).
var hubStatusText = regexp.MustCompile(`(?:status code |message: ")(\d{3})`)

func hubHTTPStatus(err error) int {
	m := hubStatusText.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	code, _ := strconv.Atoi(m[1])
	return code
}

// isUnreachable reports whether err means the Hub could not be used at all (so the cache
// may stand in), as opposed to the Hub answering that the model cannot be had.
func isUnreachable(err error) bool {
	var urlErr *url.Error
	return errors.As(err, &urlErr) || hubHTTPStatus(err) >= 500
}

// hubError explains a failed Hub request; it keeps err in the chain for isUnreachable.
func hubError(where, revision string, err error) error {
	switch code := hubHTTPStatus(err); {
	case code == 401 || code == 403:
		return fmt.Errorf("checkpoint: %s: access refused (HTTP %d): the repository does not exist, or it is private "+
			"or gated and needs a token that may read it (set HF_TOKEN): %w", where, code, err)
	case code == 404:
		return fmt.Errorf("checkpoint: %s: not found (HTTP 404): check the model id and the revision %q: %w",
			where, revision, err)
	}
	return fmt.Errorf("checkpoint: %s: %w", where, err)
}

// cachedCheckpoint returns the cached snapshot of opts.Revision, checking that it holds
// config.json and all its safetensors weights. why says why the Hub is not used.
func cachedCheckpoint(c Cache, opts ResolveOptions, why string) (string, error) {
	retry := "retry when the Hub is reachable"
	if opts.Offline {
		retry = "unset HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE (and ResolveOptions.Offline) to download it"
	}
	notCached := func(detail string) error {
		return fmt.Errorf("checkpoint: %s (revision %q) is needed but %s, and %s: %w.\n"+
			"To get it: on a machine with network access run `huggingface-cli download %s` and copy its %s "+
			"to this machine's Hugging Face cache (%s), or copy the model files (config.json, model.safetensors, "+
			"tokenizer.json, ...) to %s; or %s",
			c.ID, opts.Revision, why, detail, ErrNotCached, c.ID, filepath.Base(c.RepoDir()), opts.CacheDir,
			filepath.Join(opts.ModelsDir, filepath.Base(c.ID)), retry)
	}
	dir, err := c.Snapshot(opts.Revision)
	if err != nil {
		return "", notCached(err.Error())
	}
	if !isCheckpointDir(dir) {
		return "", notCached(fmt.Sprintf("the cache has no %s", filepath.Join(dir, "config.json")))
	}
	if _, err := hfmodel.FindWeights(dir); errors.Is(err, fs.ErrNotExist) {
		return "", notCached(fmt.Sprintf("the cached snapshot is incomplete (%v)", err))
	} else if err != nil {
		return "", err
	}
	return dir, nil
}
