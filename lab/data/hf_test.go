package data

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab/hfhub"
)

// fakeHub serves datasets in the Hugging Face Hub's API layout:
// /api/datasets/ID/revision/main lists a repository's files, and
// /datasets/ID/resolve/COMMIT/FILE serves one (with the ETag the Hub client requires).
type fakeHub struct {
	repos map[string]map[string][]byte // repo id -> file name -> content
	// auth records the Authorization header of each request, when not nil.
	auth *[]string
}

const fakeCommit = "0123456789abcdef0123456789abcdef01234567"

func (h fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.auth != nil {
		*h.auth = append(*h.auth, r.Header.Get("Authorization"))
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/api/datasets/"); ok {
		id, _, _ := strings.Cut(rest, "/revision/")
		files, ok := h.repos[id]
		if !ok {
			http.Error(w, `{"error":"Repository not found"}`, http.StatusNotFound)
			return
		}
		var siblings []map[string]any
		for name, content := range files {
			siblings = append(siblings, map[string]any{"rfilename": name, "size": len(content)})
		}
		json.NewEncoder(w).Encode(map[string]any{"id": id, "sha": fakeCommit, "siblings": siblings})
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/datasets/"); ok {
		repoAndFile := strings.Replace(rest, "/resolve/"+fakeCommit+"/", "\x00", 1)
		id, name, _ := strings.Cut(repoAndFile, "\x00")
		if content, ok := h.repos[id][name]; ok {
			w.Header().Set("ETag", `"`+sha256Hex(content)+`"`)
			w.Header().Set("X-Repo-Commit", fakeCommit)
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(content))
			return
		}
	}
	http.NotFound(w, r)
}

func parquetBytes(t *testing.T, rows []hubRow) []byte {
	b, err := os.ReadFile(writeParquet(t, "x.parquet", rows))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHubDatasets(t *testing.T) {
	hub := fakeHub{repos: map[string]map[string][]byte{
		"stanfordnlp/imdb": {
			"README.md": []byte("# IMDB"),
			"plain_text/train-00000-of-00001.parquet":        parquetBytes(t, []hubRow{{"loved it", 1}, {"hated it", 0}, {"fine film", 1}}),
			"plain_text/test-00000-of-00001.parquet":         parquetBytes(t, []hubRow{{"boring", 0}}),
			"plain_text/unsupervised-00000-of-00001.parquet": parquetBytes(t, []hubRow{{"no label", -1}}),
		},
		"someone/topics": {
			"data/train-00000-of-00002.parquet": parquetBytes(t, []hubRow{{"a", 7}}),
			"data/train-00001-of-00002.parquet": parquetBytes(t, []hubRow{{"b", 3}}),
		},
		"someone/broken": {
			"data/train-00000-of-00001.parquet": parquetBytes(t, []hubRow{{"a", 1}}),
			"data/test-00000-of-00001.parquet":  parquetBytes(t, []hubRow{{"b", 0}, {"c", 5}}),
		},
	}}
	srv := httptest.NewServer(hub)
	defer srv.Close()
	testenv.IsolateHuggingFace(t)
	loader := func() *Loader {
		return NewLoader(t.TempDir()).WithHub(hfhub.Env{Endpoint: srv.URL, CacheDir: t.TempDir()}).WithValidation(0)
	}
	ctx := context.Background()

	d, err := loader().Load(ctx, "hf:stanfordnlp/imdb")
	if err != nil {
		t.Fatal(err)
	}
	texts := func(examples []Example) (out [][2]string) {
		for _, ex := range examples {
			out = append(out, [2]string{ex.Text, ex.Label})
		}
		return out
	}
	if got, want := texts(d.Splits[Train]), [][2]string{{"loved it", "pos"}, {"hated it", "neg"}, {"fine film", "pos"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("train: got %q, want %q", got, want)
	}
	if got, want := texts(d.Splits[Test]), [][2]string{{"boring", "neg"}}; !reflect.DeepEqual(got, want) || len(d.Splits) != 2 {
		t.Errorf("test: got %q, want %q; splits %d, want 2", got, want, len(d.Splits))
	}
	if !strings.Contains(strings.Join(d.Notes, "\n"), `hub split "unsupervised"`) {
		t.Errorf("notes %q do not say the unsupervised split is unused", d.Notes)
	}

	d, err = loader().Load(ctx, "hf:someone/topics")
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(d.Splits[Train]); len(got) != 2 || !reflect.DeepEqual(d.Labels, []string{"3", "7"}) {
		t.Errorf("sharded train %q labels %q, want 2 rows and labels 3, 7", got, d.Labels)
	}
	if !strings.Contains(strings.Join(d.Notes, "\n"), "label names of someone/topics are not known") {
		t.Errorf("notes %q do not say label names are unknown", d.Notes)
	}

	HubLabels["someone/broken"] = []string{"no", "yes"}
	defer delete(HubLabels, "someone/broken")
	_, err = loader().Load(ctx, "hf:someone/broken")
	wantErr(t, err, "someone/broken", "data/test-00000-of-00001.parquet", "row 2", `label "5", want an id 0-1`)

	_, err = loader().Load(ctx, "hf:nobody/nothing")
	wantErr(t, err, "hub dataset nobody/nothing", "404")
}

// TestHubDatasetsFollowHuggingFaceEnvironment: "hf:" datasets read the Hugging Face
// environment as models do: HF_ENDPOINT, HF_TOKEN sent with every request, the cache under
// HF_HOME (or HF_HUB_CACHE) with refs/main recorded, and in offline mode (HF_HUB_OFFLINE) that
// cache alone, the Hub unreachable.
func TestHubDatasetsFollowHuggingFaceEnvironment(t *testing.T) {
	var auth []string
	srv := httptest.NewServer(fakeHub{auth: &auth, repos: map[string]map[string][]byte{"someone/topics": {
		"data/train-00000-of-00001.parquet": parquetBytes(t, []hubRow{{"a", 7}, {"b", 3}}),
		"data/test-00000-of-00001.parquet":  parquetBytes(t, []hubRow{{"c", 3}}),
	}}})
	testenv.IsolateHuggingFace(t)
	home := os.Getenv("HF_HOME")
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_TOKEN", "hf_secret")
	ctx := context.Background()
	online, err := NewLoader(t.TempDir()).WithValidation(0).Load(ctx, "hf:someone/topics")
	if err != nil {
		t.Fatal(err)
	}
	if len(auth) == 0 || slices.ContainsFunc(auth, func(h string) bool { return h != "Bearer hf_secret" }) {
		t.Errorf("Authorization headers %q, want HF_TOKEN's on every request", auth)
	}
	ref, err := os.ReadFile(filepath.Join(home, "hub", "datasets--someone--topics", "refs", "main"))
	if err != nil || string(ref) != fakeCommit {
		t.Errorf("$HF_HOME/hub/datasets--someone--topics/refs/main = %q, %v; want the commit %s", ref, err, fakeCommit)
	}

	srv.Close()
	t.Setenv("HF_HUB_OFFLINE", "1")
	offline, err := NewLoader(t.TempDir()).WithValidation(0).Load(ctx, "hf:someone/topics")
	if err != nil {
		t.Fatalf("offline, from the cache: %v", err)
	}
	if !reflect.DeepEqual(offline.Splits, online.Splits) || !reflect.DeepEqual(offline.Labels, online.Labels) {
		t.Errorf("offline splits %v labels %q, online %v %q", offline.Splits, offline.Labels, online.Splits, online.Labels)
	}

	empty := t.TempDir()
	t.Setenv("HF_HUB_CACHE", empty)
	_, err = NewLoader(t.TempDir()).Load(ctx, "hf:someone/topics")
	wantErr(t, err, "hub dataset someone/topics", "offline mode is on", filepath.Join(empty, "datasets--someone--topics", "refs", "main"))
}
