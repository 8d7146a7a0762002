package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

// write creates name in a fresh temporary directory with content and returns its path.
func write(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantErr fails unless err's message holds every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one with %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func TestBadTweets(t *testing.T) {
	const header = "id,keyword,location,text,target\r\n"
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"malformed row", header + "1,,,ok,1\r\n2,,,\"unterminated,0\r\n", []string{"train.csv", "line 3", `extraneous or missing " in quoted-field`}},
		{"wrong field count", header + "1,,,ok,1\r\n2,,,too,many,0\r\n", []string{"train.csv", "record on line 3", "wrong number of fields"}},
		{"missing column", "id,keyword,location,tweet,target\r\n1,,,x,0\r\n", []string{"train.csv", `no column "text"`, "tweet"}},
		{"empty text", header + "1,,,ok,1\r\n7,,,  ,0\r\n", []string{"train.csv:3", "empty text"}},
		{"unknown label", header + "1,,,ok,1\r\n8,,,fire,2\r\n", []string{"train.csv:3", `target "2"`, "want 0 or 1"}},
		{"invalid UTF-8", header + "1,,,ok,1\r\n\r\n9,,,bad \xff byte,1\r\n", []string{"train.csv:4", "not valid UTF-8"}},
		{"empty file", "", []string{"train.csv", "empty file", "want header"}},
		{"invalid UTF-8 location", header + "1,,Paris \xe9,ok,1\r\n", []string{"train.csv:2", "location is not valid UTF-8"}},
		{"bad keyword encoding", header + "1,fire%2,,ok,1\r\n", []string{"train.csv:2", `keyword "fire%2"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadTweets(write(t, "train.csv", tc.content), Options{KeywordLocation: true})
			wantErr(t, err, tc.want...)
		})
	}
}

func TestSkipEmptyIsCounted(t *testing.T) {
	dir := t.TempDir()
	train := "id,keyword,location,text,target\r\n1,,,ok,1\r\n2,,,,0\r\n3,,,\" \n \",0\r\n4,,,fine,0\r\n"
	test := "id,keyword,location,text\n10,,,a\n"
	os.WriteFile(filepath.Join(dir, "train.csv"), []byte(train), 0o644)
	os.WriteFile(filepath.Join(dir, "test.csv"), []byte(test), 0o644)
	d, err := LoadTweets(dir, Options{SkipEmpty: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Splits[Train]); n != 2 {
		t.Errorf("kept %d training rows, want 2", n)
	}
	if !strings.Contains(strings.Join(d.Notes, "\n"), "skipped 2 rows with empty text in "+filepath.Join(dir, "train.csv")+" (") ||
		!strings.Contains(strings.Join(d.Notes, "\n"), "train.csv:3, ") {
		t.Errorf("notes %q do not report the 2 skipped rows", d.Notes)
	}
}

func TestBadAGNews(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"unknown class", "\"1\",\"a\",\"b\"\n\"5\",\"c\",\"d\"\n", []string{"test.csv:2", `class "5"`, "want 1-4"}},
		{"missing column", "\"1\",\"a\",\"b\"\n\"2\",\"c\"\n", []string{"test.csv", "line 2", "wrong number of fields"}},
		{"empty text", "\"1\",\"a\",\"b\"\n\"2\",\"\",\" \"\n", []string{"test.csv:2", "empty title and description"}},
		{"invalid UTF-8", "\"1\",\"a\",\"b\xc3\"\n", []string{"test.csv:1", "not valid UTF-8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Dir(write(t, "test.csv", tc.content))
			_, err := LoadAGNews(dir, Options{})
			wantErr(t, err, tc.want...)
		})
	}
	t.Run("duplicate class name", func(t *testing.T) {
		dir := filepath.Dir(write(t, "classes.txt", "World\nSports\nWorld\n"))
		_, err := LoadAGNews(dir, Options{})
		wantErr(t, err, "classes.txt:3", `class name "World"`)
	})
}

func TestBadFiles(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		labels              []string
		want                []string
	}{
		{"csv missing column", "a.csv", "sentence,label\nhi,1\n", nil, []string{"a.csv", `no column "text"`, "sentence"}},
		{"csv unknown label", "a.csv", "text,label\nhi,pos\nho,meh\n", []string{"neg", "pos"}, []string{"a.csv:3", `label "meh"`, "want one of"}},
		{"csv empty label", "a.csv", "text,label\nhi,\n", nil, []string{"a.csv:2", "empty label"}},
		{"csv empty text", "a.csv", "text,label\n,1\n", nil, []string{"a.csv:2", "empty text"}},
		{"csv malformed", "a.csv", "text,label\n\"hi,1\n", nil, []string{"a.csv", "line 2", "extraneous or missing"}},
		{"tsv field count", "a.tsv", "text\tlabel\nhi\t1\nho\n", nil, []string{"a.tsv:3", "1 tab-separated fields, want 2"}},
		{"tsv invalid UTF-8", "a.tsv", "text\tlabel\nh\xffi\t1\n", nil, []string{"a.tsv:2", "not valid UTF-8"}},
		{"jsonl missing key", "a.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\"}\n", nil, []string{"a.jsonl:2", `no key "label"`}},
		{"jsonl malformed", "a.jsonl", "{\"text\":\"a\",\"label\":1}\n{\"text\":\"b\",\n", nil, []string{"a.jsonl:2", "want a JSON object"}},
		{"jsonl float label", "a.jsonl", "{\"text\":\"a\",\"label\":1.5}\n", nil, []string{"a.jsonl:1", `key "label"`, "want a string or an integer"}},
		{"jsonl invalid UTF-8", "a.jsonl", "{\"text\":\"a\xff\",\"label\":1}\n", nil, []string{"a.jsonl:1", `key "text"`, "not valid UTF-8"}},
		{"unknown format", "a.xml", "<a/>", nil, []string{"a.xml", "unknown format"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFile(File{Path: write(t, tc.file, tc.content), Text: "text", Label: "label", Labels: tc.labels}, Options{})
			wantErr(t, err, tc.want...)
		})
	}
	t.Run("parquet corrupt", func(t *testing.T) {
		_, err := LoadFile(File{Path: write(t, "a.parquet", "PAR1 not really"), Text: "text", Label: "label"}, Options{})
		wantErr(t, err, "a.parquet", "not a Parquet file")
	})
	t.Run("parquet missing column", func(t *testing.T) {
		path := writeParquet(t, "a.parquet", []hubRow{{Text: "x", Label: 1}})
		_, err := LoadFile(File{Path: path, Text: "sentence", Label: "label"}, Options{})
		wantErr(t, err, "a.parquet", `no scalar column "sentence"`)
	})
}

// tarGz builds a gzip-compressed tar archive of the given entries (name -> content).
func tarGz(t *testing.T, entries [][2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: e[0], Mode: 0o644, Size: int64(len(e[1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e[1]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestBadIMDB(t *testing.T) {
	good := [][2]string{
		{"aclImdb/train/pos/0_9.txt", "great"}, {"aclImdb/train/neg/1_2.txt", "bad"},
		{"aclImdb/test/pos/2_10.txt", "fine"}, {"aclImdb/test/neg/3_1.txt", "awful<br />really"},
	}
	for _, tc := range []struct {
		name  string
		extra [][2]string
		want  []string
	}{
		{"bad file name", [][2]string{{"aclImdb/train/pos/x_9.txt", "t"}}, []string{"aclImdb_v1.tar.gz: entry aclImdb/train/pos/x_9.txt", "want <id>_<rating>.txt"}},
		{"rating outside label", [][2]string{{"aclImdb/train/neg/5_8.txt", "t"}}, []string{"entry aclImdb/train/neg/5_8.txt", "rating 8 in neg/, want 1-4"}},
		{"empty review", [][2]string{{"aclImdb/test/pos/6_7.txt", " \n"}}, []string{"entry aclImdb/test/pos/6_7.txt", "empty review"}},
		{"invalid UTF-8", [][2]string{{"aclImdb/test/pos/6_7.txt", "\xff"}}, []string{"entry aclImdb/test/pos/6_7.txt", "not valid UTF-8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, "aclImdb_v1.tar.gz", string(tarGz(t, append(good[:4:4], tc.extra...))))
			_, err := LoadIMDB(path, Options{})
			wantErr(t, err, tc.want...)
		})
	}
	t.Run("missing folder", func(t *testing.T) {
		path := write(t, "aclImdb_v1.tar.gz", string(tarGz(t, good[:3])))
		_, err := LoadIMDB(path, Options{})
		wantErr(t, err, "no reviews in aclImdb/test/neg/")
	})
	t.Run("not gzip", func(t *testing.T) {
		_, err := LoadIMDB(write(t, "aclImdb_v1.tar.gz", "plain text"), Options{})
		wantErr(t, err, "aclImdb_v1.tar.gz: not a gzip archive")
	})
	t.Run("corrupt gzip", func(t *testing.T) {
		archive := tarGz(t, good)
		archive[len(archive)/2] ^= 0xff
		_, err := LoadIMDB(write(t, "aclImdb_v1.tar.gz", string(archive)), Options{})
		wantErr(t, err, "aclImdb_v1.tar.gz: ")
	})
	t.Run("folder and clean-up", func(t *testing.T) {
		root := t.TempDir()
		for _, e := range good {
			p := filepath.Join(root, filepath.FromSlash(e[0]))
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(e[1]), 0o644)
		}
		d, err := LoadIMDB(root, Options{CleanHTML: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Splits[Test][0]; got.ID != "test/neg/3_1" || got.Text != "awful really" || got.Rating != 1 {
			t.Errorf("got %+v, want test/neg/3_1 %q rating 1", got, "awful really")
		}
	})
}

// A truncated copy of the real archive must fail naming the entry cut short, not read as a
// smaller dataset.
func TestTruncatedRealIMDB(t *testing.T) {
	src := filepath.Join(testenv.DataDir(t), "imdb", "aclImdb_v1_labelled.tar.gz")
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 2<<20) // The first 2 MB of 28 MB.
	if _, err := f.Read(head); err != nil {
		t.Fatal(err)
	}
	_, err = LoadIMDB(write(t, "aclImdb_v1_labelled.tar.gz", string(head)), Options{})
	wantErr(t, err, "aclImdb_v1_labelled.tar.gz: ", "aclImdb/", "unexpected EOF")
}

// TestTooFewToHoldOut: a stratified fifth of one example per label is no example, and the
// notes say so rather than that a validation split was made.
func TestTooFewToHoldOut(t *testing.T) {
	for rows, wantHeld := range map[int]int{2: 0, 10: 2} {
		var csv strings.Builder
		csv.WriteString("text,label\n")
		for i := range rows {
			fmt.Fprintf(&csv, "text %d,%s\n", i, []string{"pos", "neg"}[i%2])
		}
		d, err := NewLoader(t.TempDir()).WithValidation(0.2).Load(context.Background(), write(t, "few.csv", csv.String()))
		if err != nil {
			t.Fatal(err)
		}
		notes := strings.Join(d.Notes, "\n")
		if held := len(d.Splits[Validation]); held != wantHeld {
			t.Fatalf("%d rows: %d held out, want %d", rows, held, wantHeld)
		}
		if tooFew := strings.Contains(notes, "too few to hold any out"); tooFew != (wantHeld == 0) {
			t.Errorf("%d rows, %d held out: notes %q", rows, wantHeld, notes)
		}
	}
}
