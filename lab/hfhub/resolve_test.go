package hfhub

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

// fakeHub serves the parts of the Hugging Face Hub's HTTP API that model downloads use, with
// the headers the real Hub sends:
//
//	GET /api/models/{id}/revision/{revision}  repository info: "sha" (the commit) and "siblings"
//	HEAD|GET /{id}/resolve/{commit}/{file}    the file, with X-Repo-Commit and ETag (the Git blob
//	                                          id; for LFS files, the sha256 in X-Linked-Etag)
type fakeHub struct {
	repos map[string]map[string]fakeRevision // model id -> branch/tag -> revision
	token string                             // when set, requests without "Bearer token" get 401
	fail  int                                // when set, every request gets this status

	mu       sync.Mutex
	requests []string // "METHOD path", in order
	auths    []string // the Authorization header of each request
}

type fakeRevision struct {
	commit string
	files  map[string][]byte
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.requests = append(h.requests, r.Method+" "+r.URL.Path)
	h.auths = append(h.auths, r.Header.Get("Authorization"))
	h.mu.Unlock()
	if h.fail != 0 {
		http.Error(w, `{"error":"Service unavailable"}`, h.fail)
		return
	}
	if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		http.Error(w, `{"error":"Invalid username or password."}`, http.StatusUnauthorized)
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/api/models/"); ok {
		id, revision, ok := strings.Cut(rest, "/revision/")
		rev, found := h.repos[id][revision]
		if !ok || !found {
			w.Header().Set("X-Error-Code", "RepoNotFound")
			http.Error(w, `{"error":"Repository not found"}`, http.StatusNotFound)
			return
		}
		h.serveInfo(w, id, rev)
		return
	}
	id, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/resolve/")
	commit, file, _ := strings.Cut(rest, "/")
	var content []byte
	found := false
	for _, rev := range h.repos[id] {
		if rev.commit == commit {
			content, found = rev.files[file]
		}
	}
	if !ok || !found {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		http.Error(w, `{"error":"Entry not found"}`, http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", commit)
	if isLFS(file) {
		w.Header().Set("X-Linked-Etag", `"`+sha256Hex(content)+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(content)))
		w.Header().Set("ETag", `"`+sha256Hex(content)+`"`)
	} else {
		w.Header().Set("ETag", `"`+gitBlobID(content)+`"`)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	if r.Method == http.MethodGet {
		w.Write(content)
	}
}

func (h *fakeHub) serveInfo(w http.ResponseWriter, id string, rev fakeRevision) {
	type lfs struct {
		SHA256      string `json:"sha256"`
		Size        int    `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type sibling struct {
		Name   string `json:"rfilename"`
		Size   int    `json:"size"`
		BlobID string `json:"blobId"`
		LFS    *lfs   `json:"lfs,omitempty"`
	}
	info := struct {
		ID       string    `json:"id"`
		ModelID  string    `json:"modelId"`
		SHA      string    `json:"sha"`
		Siblings []sibling `json:"siblings"`
	}{ID: id, ModelID: id, SHA: rev.commit}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for name := range rev.files {
			if !yield(name) {
				return
			}
		}
	}) {
		content := rev.files[name]
		s := sibling{Name: name, Size: len(content), BlobID: gitBlobID(content)}
		if isLFS(name) {
			s.LFS = &lfs{SHA256: sha256Hex(content), Size: len(content), PointerSize: 134}
		}
		info.Siblings = append(info.Siblings, s)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(info)
}

func (h *fakeHub) log() (requests, auths []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests), slices.Clone(h.auths)
}

// sent lists the requests received so far, as "METHOD path".
func (h *fakeHub) sent() []string {
	requests, _ := h.log()
	return requests
}

// isLFS tells which files the Hub stores with Git LFS in these tests: the weights.
func isLFS(name string) bool {
	return strings.HasSuffix(name, ".safetensors") || strings.HasSuffix(name, ".bin") || strings.HasSuffix(name, ".onnx")
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// gitBlobID is Git's object id of a file: sha1("blob <size>\x00" + content).
func gitBlobID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// tinySafetensors writes a valid safetensors file holding one F32 tensor per name, following
// the format's specification: an 8-byte little-endian header length, the JSON header, the data.
func tinySafetensors(tensors map[string][]float32) []byte {
	header := map[string]any{}
	var data []byte
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for name := range tensors {
			if !yield(name) {
				return
			}
		}
	}) {
		begin := len(data)
		for _, v := range tensors[name] {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		header[name] = map[string]any{"dtype": "F32", "shape": []int{len(tensors[name])}, "data_offsets": []int{begin, len(data)}}
	}
	h, _ := json.Marshal(header)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(append(out, h...), data...)
}

const (
	commitMain = "0123456789abcdef0123456789abcdef01234567"
	commitV1   = "89abcdef0123456789abcdef0123456789abcdef"
)

// tinyRepo is a BERT checkpoint as the Hub serves it, with files in formats tunelab must not download.
func tinyRepo(commit string, hidden int) fakeRevision {
	config := fmt.Sprintf(`{"architectures":["BertModel"],"model_type":"bert","hidden_size":%d,"num_hidden_layers":1,`+
		`"num_attention_heads":1,"intermediate_size":8,"vocab_size":5,"max_position_embeddings":8}`, hidden)
	return fakeRevision{commit: commit, files: map[string][]byte{
		"config.json":             []byte(config),
		"model.safetensors":       tinySafetensors(map[string][]float32{"embeddings.word_embeddings.weight": make([]float32, 5*hidden)}),
		"tokenizer.json":          []byte(`{"version":"1.0","model":{"type":"WordPiece","vocab":{"[PAD]":0,"[UNK]":1,"[CLS]":2,"[SEP]":3,"a":4}}}`),
		"tokenizer_config.json":   []byte(`{"do_lower_case":true}`),
		"special_tokens_map.json": []byte(`{"cls_token":"[CLS]","sep_token":"[SEP]"}`),
		"vocab.txt":               []byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n"),
		"pytorch_model.bin":       []byte("pickled weights tunelab does not read"),
		"onnx/model.onnx":         []byte("onnx graph tunelab does not read"),
		"README.md":               []byte("# tiny\n"),
		".gitattributes":          []byte("*.safetensors filter=lfs\n"),
	}}
}

// clearHFEnv isolates a test from the machine's Hugging Face settings and token file.
func newHub(t *testing.T, hub *fakeHub) (*fakeHub, ResolveOptions) {
	t.Helper()
	testenv.IsolateHuggingFace(t)
	server := httptest.NewServer(hub)
	t.Cleanup(server.Close)
	return hub, ResolveOptions{Endpoint: server.URL, CacheDir: t.TempDir(), ModelsDir: t.TempDir(), Token: hub.token}
}

// cacheState lists every entry under dir with what identifies its state, to prove a cache unchanged.
func cacheState(t *testing.T, dir string) map[string]string {
	t.Helper()
	state := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == dir {
			return fs.SkipDir
		}
		if err != nil {
			return err
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		s := fmt.Sprintf("%v %d %v", info.Mode(), info.Size(), info.ModTime())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			s += " -> " + target
		case info.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			s += " " + sha256Hex(b)
		}
		state[path] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}

func TestResolveDownloadsOnlyCheckpointFilesIntoHubCache(t *testing.T) {
	repo := tinyRepo(commitMain, 2)
	hub, opts := newHub(t, &fakeHub{token: "hf_secret", repos: map[string]map[string]fakeRevision{
		"acme/tiny-bert": {"main": repo}}})
	var progress bytes.Buffer
	opts.Progress = &progress

	dir, err := Resolve(context.Background(), "acme/tiny-bert", opts)
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(opts.CacheDir, "models--acme--tiny-bert")
	if want := filepath.Join(repoDir, "snapshots", commitMain); dir != want {
		t.Errorf("Resolve = %s, want the snapshot %s", dir, want)
	}
	wanted := []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
		"special_tokens_map.json", "vocab.txt"}
	for _, name := range wanted {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("snapshot lacks %s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, repo.files[name]) {
			t.Errorf("%s: cached content differs from the served one", name)
		}
		// The Hub cache stores content under blobs/ETAG and links the snapshot to it.
		etag := gitBlobID(repo.files[name])
		if isLFS(name) {
			etag = sha256Hex(repo.files[name])
		}
		if target, err := filepath.EvalSymlinks(filepath.Join(dir, name)); err != nil || target != filepath.Join(repoDir, "blobs", etag) {
			t.Errorf("%s resolves to %q (%v), want blobs/%s", name, target, err, etag)
		}
		if !strings.Contains(progress.String(), name) {
			t.Errorf("progress does not mention %s:\n%s", name, progress.String())
		}
	}
	for _, name := range []string{"pytorch_model.bin", "onnx/model.onnx", "README.md", ".gitattributes"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s was downloaded; tunelab does not read it", name)
		}
	}
	if ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "main")); err != nil || string(ref) != commitMain {
		t.Errorf("refs/main = %q (%v), want %s", ref, err, commitMain)
	}

	requests, auths := hub.log()
	for i, r := range requests {
		if auths[i] != "Bearer hf_secret" {
			t.Errorf("%s sent Authorization %q, want the token as a Bearer token", r, auths[i])
		}
		for _, unwanted := range []string{"pytorch_model.bin", "onnx", "README"} {
			if strings.Contains(r, unwanted) {
				t.Errorf("request %s: tunelab does not read %s", r, unwanted)
			}
		}
	}
	if want := "GET /api/models/acme/tiny-bert/revision/main"; !slices.Contains(requests, want) {
		t.Errorf("requests %q lack the repository info request %q", requests, want)
	}

	// Offline, by option or by environment: the same snapshot, without a single request.
	before := cacheState(t, opts.CacheDir)
	offline := opts
	offline.Offline = true
	if again, err := Resolve(context.Background(), "acme/tiny-bert", offline); err != nil || again != dir {
		t.Errorf("offline Resolve = %q, %v; want the cached %s", again, err, dir)
	}
	t.Setenv("HF_HUB_OFFLINE", "1")
	if again, err := Resolve(context.Background(), "acme/tiny-bert", opts); err != nil || again != dir {
		t.Errorf("Resolve with HF_HUB_OFFLINE=1 = %q, %v; want the cached %s", again, err, dir)
	}
	if after, _ := hub.log(); len(after) != len(requests) {
		t.Errorf("offline resolution sent %d requests: %q", len(after)-len(requests), after[len(requests):])
	}
	if after := cacheState(t, opts.CacheDir); !maps.Equal(before, after) {
		t.Errorf("offline resolution changed the cache:\nbefore %v\nafter  %v", before, after)
	}
}

func TestResolveHonoursRevision(t *testing.T) {
	main, v1 := tinyRepo(commitMain, 2), tinyRepo(commitV1, 3)
	hub, opts := newHub(t, &fakeHub{repos: map[string]map[string]fakeRevision{
		"acme/tiny-bert": {"main": main, "v1": v1}}})
	opts.Revision = "v1"
	dir, err := Resolve(context.Background(), "acme/tiny-bert", opts)
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(opts.CacheDir, "models--acme--tiny-bert")
	if want := filepath.Join(repoDir, "snapshots", commitV1); dir != want {
		t.Errorf("Resolve at v1 = %s, want %s", dir, want)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "config.json")); !bytes.Equal(got, v1.files["config.json"]) {
		t.Errorf("config.json at v1 = %s, want %s", got, v1.files["config.json"])
	}
	if ref, err := os.ReadFile(filepath.Join(repoDir, "refs", "v1")); err != nil || string(ref) != commitV1 {
		t.Errorf("refs/v1 = %q (%v), want %s", ref, err, commitV1)
	}
	for _, r := range hub.sent() {
		if strings.Contains(r, commitMain) || strings.HasSuffix(r, "/revision/main") {
			t.Errorf("request %s is for main, not v1", r)
		}
	}

	// A commit id names its snapshot directly: no ref needed, even offline.
	opts.Revision, opts.Offline = commitV1, true
	if again, err := Resolve(context.Background(), "acme/tiny-bert", opts); err != nil || again != dir {
		t.Errorf("offline Resolve at %s = %q, %v; want %s", commitV1, again, err, dir)
	}
	// main was never fetched, so offline it is not there.
	opts.Revision = "main"
	if _, err := Resolve(context.Background(), "acme/tiny-bert", opts); !errors.Is(err, ErrNotCached) {
		t.Errorf("offline Resolve at main = %v, want ErrNotCached", err)
	}
}

func TestResolveDownloadsShardsNamedByIndex(t *testing.T) {
	rev := tinyRepo(commitMain, 2)
	delete(rev.files, "model.safetensors")
	rev.files["model-00001-of-00002.safetensors"] = tinySafetensors(map[string][]float32{"a": {1, 2}})
	rev.files["model-00002-of-00002.safetensors"] = tinySafetensors(map[string][]float32{"b": {3}, "c": {4}})
	rev.files["model-00003-of-00003.safetensors"] = tinySafetensors(map[string][]float32{"stale": {5}})
	rev.files["model.safetensors.index.json"] = []byte(`{"metadata":{"total_size":16},"weight_map":{` +
		`"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}}`)
	hub, opts := newHub(t, &fakeHub{repos: map[string]map[string]fakeRevision{"acme/sharded": {"main": rev}}})
	dir, err := Resolve(context.Background(), "acme/sharded", opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || !bytes.Equal(got, rev.files[name]) {
			t.Errorf("%s not cached intact: %v", name, err)
		}
	}
	for _, r := range hub.sent() {
		if strings.Contains(r, "00003") {
			t.Errorf("request %s: the index does not name that shard", r)
		}
	}

	// A cached snapshot missing a shard is incomplete: offline, it is not used.
	if err := os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors")); err != nil {
		t.Fatal(err)
	}
	opts.Offline = true
	_, err = Resolve(context.Background(), "acme/sharded", opts)
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "model-00002-of-00002.safetensors") {
		t.Errorf("offline Resolve with a missing shard = %v, want ErrNotCached naming the shard", err)
	}
}

// writePythonCache lays out a model as Python's huggingface_hub does: content in blobs/, a
// branch in refs/, relative symlinks in snapshots/COMMIT.
func writePythonCache(t *testing.T, cacheDir, id, branch, commit string, files map[string][]byte) string {
	t.Helper()
	repoDir := filepath.Join(cacheDir, "models--"+strings.ReplaceAll(id, "/", "--"))
	snapshot := filepath.Join(repoDir, "snapshots", commit)
	for _, dir := range []string{filepath.Join(repoDir, "blobs"), filepath.Join(repoDir, "refs"), snapshot} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repoDir, "refs", branch), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		blob := sha256Hex(content)
		if err := os.WriteFile(filepath.Join(repoDir, "blobs", blob), content, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "..", "blobs", blob), filepath.Join(snapshot, name)); err != nil {
			t.Fatal(err)
		}
	}
	return snapshot
}

func TestResolveOfflineReadsPythonCache(t *testing.T) {
	testenv.IsolateHuggingFace(t)
	cacheDir := t.TempDir()
	rev := tinyRepo(commitMain, 2)
	want := writePythonCache(t, cacheDir, "acme/tiny-bert", "main", commitMain, map[string][]byte{
		"config.json": rev.files["config.json"], "model.safetensors": rev.files["model.safetensors"]})
	t.Setenv("HF_HUB_CACHE", cacheDir)
	t.Setenv("TRANSFORMERS_OFFLINE", "1")
	before := cacheState(t, cacheDir)
	dir, err := Resolve(context.Background(), "acme/tiny-bert", ResolveOptions{ModelsDir: t.TempDir(), Endpoint: "http://127.0.0.1:1"})
	if err != nil || dir != want {
		t.Errorf("Resolve = %q, %v; want %s", dir, err, want)
	}
	if after := cacheState(t, cacheDir); !maps.Equal(before, after) {
		t.Errorf("offline resolution changed the cache:\nbefore %v\nafter  %v", before, after)
	}
}

func TestResolveOfflineMissSaysWhatToDoAndLeavesCacheAlone(t *testing.T) {
	hub, opts := newHub(t, &fakeHub{repos: map[string]map[string]fakeRevision{"acme/tiny-bert": {"main": tinyRepo(commitMain, 2)}}})
	rev := tinyRepo(commitV1, 2)
	writePythonCache(t, opts.CacheDir, "acme/other-bert", "main", commitV1, map[string][]byte{
		"config.json": rev.files["config.json"], "model.safetensors": rev.files["model.safetensors"]})
	before := cacheState(t, opts.CacheDir)
	opts.Offline = true

	_, err := Resolve(context.Background(), "acme/tiny-bert", opts)
	if !errors.Is(err, ErrNotCached) {
		t.Fatalf("offline Resolve of an uncached model = %v, want ErrNotCached", err)
	}
	for _, hint := range []string{"huggingface-cli download acme/tiny-bert", filepath.Join(opts.ModelsDir, "tiny-bert"),
		"HF_HUB_OFFLINE", "offline mode", opts.CacheDir} {
		if !strings.Contains(err.Error(), hint) {
			t.Errorf("error does not say %q:\n%v", hint, err)
		}
	}
	if requests := hub.sent(); len(requests) != 0 {
		t.Errorf("offline Resolve sent requests %q", requests)
	}
	if after := cacheState(t, opts.CacheDir); !maps.Equal(before, after) {
		t.Errorf("offline miss changed the cache:\nbefore %v\nafter  %v", before, after)
	}
}

func TestResolveReportsHubRefusals(t *testing.T) {
	repos := map[string]map[string]fakeRevision{"acme/private-bert": {"main": tinyRepo(commitMain, 2)}}
	for _, tc := range []struct {
		name, id, token, revision string
		want                      []string
	}{
		{"no token", "acme/private-bert", "", "main", []string{"HTTP 401", "HF_TOKEN", "acme/private-bert"}},
		{"wrong token", "acme/private-bert", "hf_wrong", "main", []string{"HTTP 401", "HF_TOKEN"}},
		{"unknown model", "acme/missing-bert", "hf_right", "main", []string{"HTTP 404", "acme/missing-bert", "model id"}},
		{"unknown revision", "acme/private-bert", "hf_right", "v9", []string{"HTTP 404", `revision "v9"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, opts := newHub(t, &fakeHub{token: "hf_right", repos: repos})
			opts.Token, opts.Revision = tc.token, tc.revision
			_, err := Resolve(context.Background(), tc.id, opts)
			if err == nil {
				t.Fatal("Resolve succeeded")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
			if errors.Is(err, ErrNotCached) {
				t.Errorf("a refusal by the Hub is not a cache miss: %v", err)
			}
		})
	}
}

func TestResolveFallsBackToCacheWhenHubUnreachable(t *testing.T) {
	_, opts := newHub(t, &fakeHub{repos: map[string]map[string]fakeRevision{"acme/tiny-bert": {"main": tinyRepo(commitMain, 2)}}})
	dir, err := Resolve(context.Background(), "acme/tiny-bert", opts)
	if err != nil {
		t.Fatal(err)
	}

	down := httptest.NewServer(&fakeHub{fail: http.StatusServiceUnavailable})
	defer down.Close()
	opts.Endpoint = down.URL
	if got, err := Resolve(context.Background(), "acme/tiny-bert", opts); err != nil || got != dir {
		t.Errorf("Resolve with the Hub answering 503 = %q, %v; want the cached %s", got, err, dir)
	}

	gone := httptest.NewServer(http.NotFoundHandler())
	opts.Endpoint = gone.URL
	gone.Close() // connections are now refused
	var progress bytes.Buffer
	opts.Progress = &progress
	if got, err := Resolve(context.Background(), "acme/tiny-bert", opts); err != nil || got != dir {
		t.Errorf("Resolve with the Hub unreachable = %q, %v; want the cached %s", got, err, dir)
	}
	if !strings.Contains(progress.String(), "unreachable") {
		t.Errorf("progress does not say the cache stood in for the Hub:\n%s", progress.String())
	}

	opts.CacheDir = t.TempDir()
	_, err = Resolve(context.Background(), "acme/tiny-bert", opts)
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("Resolve with the Hub unreachable and an empty cache = %v, want ErrNotCached saying the Hub is unreachable", err)
	}
}

func TestResolveRefusesRepoWithoutSafetensors(t *testing.T) {
	rev := tinyRepo(commitMain, 2)
	delete(rev.files, "model.safetensors")
	hub, opts := newHub(t, &fakeHub{repos: map[string]map[string]fakeRevision{"acme/old-bert": {"main": rev}}})
	_, err := Resolve(context.Background(), "acme/old-bert", opts)
	if err == nil {
		t.Fatal("Resolve succeeded on a repository without safetensors weights")
	}
	for _, want := range []string{"pytorch_model.bin", "onnx/model.onnx", "reads safetensors", "save_pretrained", "models/old-bert"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	for _, r := range hub.sent() {
		if strings.Contains(r, "pytorch_model.bin") {
			t.Errorf("request %s downloads weights tunelab cannot read", r)
		}
	}
}

func TestResolvePrefersLocalDirectories(t *testing.T) {
	hub, opts := newHub(t, &fakeHub{repos: map[string]map[string]fakeRevision{"acme/tiny-bert": {"main": tinyRepo(commitMain, 2)}}})
	writeConfig := func(dir string) string {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type":"bert"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}

	local := writeConfig(filepath.Join(t.TempDir(), "my-bert"))
	if got, err := Resolve(context.Background(), local, opts); err != nil || got != local {
		t.Errorf("Resolve(%s) = %q, %v; want the directory itself", local, got, err)
	}
	installed := writeConfig(filepath.Join(opts.ModelsDir, "tiny-bert"))
	for _, name := range []string{"tiny-bert", "acme/tiny-bert"} {
		if got, err := Resolve(context.Background(), name, opts); err != nil || got != installed {
			t.Errorf("Resolve(%s) = %q, %v; want the installed %s", name, got, err, installed)
		}
	}
	nested := writeConfig(filepath.Join(opts.ModelsDir, "acme", "tiny-bert"))
	if got, err := Resolve(context.Background(), "acme/tiny-bert", opts); err != nil || got != nested {
		t.Errorf("Resolve(acme/tiny-bert) = %q, %v; want models/acme/tiny-bert before models/tiny-bert", got, err)
	}
	if requests := hub.sent(); len(requests) != 0 {
		t.Errorf("local resolution sent requests %q", requests)
	}

	empty := t.TempDir()
	if _, err := Resolve(context.Background(), empty, opts); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("Resolve of a directory without config.json = %v, want an error naming config.json", err)
	}
	missing := filepath.Join(empty, "no", "such", "dir")
	if _, err := Resolve(context.Background(), missing, opts); err == nil || !strings.Contains(err.Error(), "neither a directory") {
		t.Errorf("Resolve of a missing path = %v, want an error saying it is neither a directory nor a model id", err)
	}
}

func TestResolveOptionDefaultsFollowHuggingFaceEnvironment(t *testing.T) {
	testenv.IsolateHuggingFace(t)
	home := os.Getenv("HF_HOME")
	if err := os.WriteFile(filepath.Join(home, "token"), []byte("hf_from_login\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := ResolveOptions{}.withDefaults()
	want := ResolveOptions{ModelsDir: "models", Revision: "main", Token: "hf_from_login",
		CacheDir: filepath.Join(home, "hub"), Endpoint: "https://huggingface.co"}
	if got != want {
		t.Errorf("defaults with HF_HOME=%s:\n got %+v\nwant %+v", home, got, want)
	}

	t.Setenv("HF_HUB_CACHE", "/cache/hub")
	t.Setenv("HF_TOKEN", "hf_env")
	t.Setenv("HF_ENDPOINT", "https://mirror.example/")
	t.Setenv("TUNELAB_MODELS", "/srv/models")
	t.Setenv("HF_HUB_OFFLINE", "true")
	got = ResolveOptions{}.withDefaults()
	want = ResolveOptions{ModelsDir: "/srv/models", Revision: "main", Token: "hf_env",
		CacheDir: "/cache/hub", Endpoint: "https://mirror.example", Offline: true}
	if got != want {
		t.Errorf("defaults from the environment:\n got %+v\nwant %+v", got, want)
	}

	explicit := ResolveOptions{ModelsDir: "m", Revision: "v2", Token: "t", CacheDir: "c", Endpoint: "http://e"}
	t.Setenv("HF_HUB_OFFLINE", "0")
	if got := explicit.withDefaults(); got != explicit {
		t.Errorf("explicit options were overridden: got %+v, want %+v", got, explicit)
	}

	t.Setenv("HF_HOME", "")
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := (ResolveOptions{}).withDefaults().CacheDir; got != "/xdg/huggingface/hub" {
		t.Errorf("cache dir with XDG_CACHE_HOME=/xdg is %s, want /xdg/huggingface/hub", got)
	}
}
