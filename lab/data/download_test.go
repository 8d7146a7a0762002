package data

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// dirEntries lists the names in dir, to check nothing but the wanted files is left there.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFetch(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	mux := http.NewServeMux()
	mux.HandleFunc("/good", func(w http.ResponseWriter, r *http.Request) { w.Write(content) })
	mux.HandleFunc("/truncated", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(content)))
		w.Write(content[:len(content)/2])
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()

	for _, tc := range []struct {
		name, path string
		sum        Checksum
		want       []string // error parts; none for success
	}{
		{"good file", "/good", Checksum{"sha256", sha256Hex(content)}, nil},
		{"good file, md5", "/good", Checksum{"md5", func() string { s := md5.Sum(content); return hex.EncodeToString(s[:]) }()}, nil},
		{"wrong checksum", "/good", Checksum{"sha256", sha256Hex([]byte("other"))}, []string{srv.URL + "/good", "sha256 " + sha256Hex(content), "want " + sha256Hex([]byte("other")), "not writing"}},
		{"truncated", "/truncated", Checksum{"sha256", sha256Hex(content)}, []string{srv.URL + "/truncated", "unexpected EOF"}},
		{"404", "/missing", Checksum{"sha256", sha256Hex(content)}, []string{"GET " + srv.URL + "/missing", "404 Not Found"}},
		{"unknown algorithm", "/good", Checksum{"crc32", "00"}, []string{`checksum algorithm "crc32"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dest := filepath.Join(dir, "sub", "file.bin")
			err := Fetch(ctx, srv.Client(), srv.URL+tc.path, dest, tc.sum)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(dest)
				if !bytes.Equal(got, content) {
					t.Errorf("wrote %d bytes, want the %d served", len(got), len(content))
				}
				if names := dirEntries(t, filepath.Dir(dest)); len(names) != 1 {
					t.Errorf("directory holds %q, want only file.bin", names)
				}
				return
			}
			wantErr(t, err, tc.want...)
			if names := dirEntries(t, filepath.Dir(dest)); len(names) != 0 {
				t.Errorf("failed download left %q behind", names)
			}
		})
	}
}

// redirect sends every request to srv, keeping the path, so the real source URLs can be
// served locally.
type redirect struct{ srv *httptest.Server }

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	u, _ := url.Parse(r.srv.URL)
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = u.Scheme, u.Host
	return r.srv.Client().Transport.RoundTrip(req)
}

func TestLoaderDownloads(t *testing.T) {
	real := testenv.DataDir(t)
	agTest, err := os.ReadFile(filepath.Join(real, "ag_news", "test.csv"))
	if err != nil {
		t.Fatal(err)
	}
	mirrorIMDB := filepath.Join(real, "imdb", "aclImdb_v1_labelled.tar.gz")
	mux := http.NewServeMux()
	mux.HandleFunc("/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/test.csv", func(w http.ResponseWriter, r *http.Request) { w.Write(agTest) })
	// The mirror's archive is not the official one: its checksum must be refused.
	mux.HandleFunc("/~amaas/data/sentiment/aclImdb_v1.tar.gz", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, mirrorIMDB) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: redirect{srv}}
	ctx := context.Background()

	t.Run("agnews", func(t *testing.T) {
		dir := t.TempDir()
		_, err := NewLoader(dir).WithDownload(true).WithHTTPClient(client).Load(ctx, AGNews)
		// test.csv (pinned sha256 of the official file) arrives; train.csv is not served.
		wantErr(t, err, "downloading agnews", "GET "+AGNewsRemotes[1].URL+": 404 Not Found", "place agnews from")
		got, _ := os.ReadFile(filepath.Join(dir, "ag_news", "test.csv"))
		if !bytes.Equal(got, agTest) {
			t.Errorf("ag_news/test.csv holds %d bytes, want the %d served", len(got), len(agTest))
		}
		if names := dirEntries(t, filepath.Join(dir, "ag_news")); len(names) != 1 {
			t.Errorf("ag_news/ holds %q, want only test.csv", names)
		}
		// With test.csv in place the loader reads it offline.
		d, err := NewLoader(dir).Load(ctx, AGNews)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(d.Splits[Train]) + len(d.Splits[Validation]) + len(d.Splits[Test]); n != 7600 {
			t.Errorf("downloaded AG News has %d rows, want 7600", n)
		}
	})
	t.Run("imdb wrong checksum", func(t *testing.T) {
		dir := t.TempDir()
		_, err := NewLoader(dir).WithDownload(true).WithHTTPClient(client).Load(ctx, IMDB)
		wantErr(t, err, IMDBRemote.URL, "sha256 3c27c84c5b647935a2b44ee9c5b3fc302d26b6d268caf4c6a360aa7cb1f5fce7", "want "+IMDBRemote.Sum.Hex)
		if names := dirEntries(t, filepath.Join(dir, "imdb")); len(names) != 0 {
			t.Errorf("imdb/ holds %q after a refused download", names)
		}
	})
	t.Run("downloads off", func(t *testing.T) {
		_, err := NewLoader(t.TempDir()).Load(ctx, IMDB)
		wantErr(t, err, "downloads are off", "place imdb from "+IMDBRemote.URL)
	})
	t.Run("tweets need Kaggle", func(t *testing.T) {
		_, err := NewLoader(t.TempDir()).WithDownload(true).WithHTTPClient(client).Load(ctx, Tweets)
		wantErr(t, err, "kaggle.com/competitions/nlp-getting-started", "disaster_tweets")
	})
	// A dataset file given as the data folder: each official dataset says so, none reads
	// FILE/disaster_tweets/train.csv as if a file could hold one.
	t.Run("data folder is a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "tweets.csv")
		if err := os.WriteFile(file, []byte("text,label\nhello,1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{Tweets, IMDB, AGNews} {
			_, err := NewLoader(file).WithDownload(true).WithHTTPClient(client).Load(ctx, name)
			wantErr(t, err, "the data folder "+file+" is a file")
		}
	})
}

func TestWriteSubmission(t *testing.T) {
	real := testenv.DataDir(t)
	test, _, err := ReadTweets(filepath.Join(real, "disaster_tweets", "test.csv"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// All-zero predictions must reproduce Kaggle's sample_submission.csv byte for byte.
	ids := make([]string, len(test))
	for i, ex := range test {
		ids[i] = ex.ID
	}
	path := filepath.Join(t.TempDir(), "submission.csv")
	if err := WriteSubmission(path, ids, make([]int, len(ids))); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want, _ := os.ReadFile(filepath.Join(real, "disaster_tweets", "sample_submission.csv"))
	if !bytes.Equal(got, want) {
		t.Errorf("submission (%d bytes) differs from sample_submission.csv (%d bytes)", len(got), len(want))
	}
	// A bad prediction fails and leaves the previous file intact.
	wantErr(t, WriteSubmission(path, ids[:1], []int{2}), "prediction 2 for id 0", "want 0 or 1")
	wantErr(t, WriteSubmission(path, ids, []int{1}), "3263 ids but 1 predictions")
	if again, _ := os.ReadFile(path); !bytes.Equal(again, want) {
		t.Error("a failed write changed the submission file")
	}
}
