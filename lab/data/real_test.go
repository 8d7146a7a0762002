package data

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

// python runs a Python oracle script with args and returns its standard output. The oracle
// is required in CI.
func python(t *testing.T, script string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(testenv.Python(t), append([]string{"-c", script}, args...)...).Output()
	if err != nil {
		t.Fatalf("python oracle: %v", err)
	}
	return out
}

// The IMDB archive takes seconds to read: read it once per test binary.
var (
	imdbOnce sync.Once
	imdbData *Dataset
	imdbErr  error
)

func realIMDB(t *testing.T) *Dataset {
	t.Helper()
	dir := filepath.Join(testenv.DataDir(t), "imdb")
	imdbOnce.Do(func() { imdbData, imdbErr = LoadIMDB(dir, Options{}) })
	if imdbErr != nil {
		t.Fatal(imdbErr)
	}
	return imdbData
}

func labelCounts(examples []Example) map[string]int {
	counts := map[string]int{}
	for _, ex := range examples {
		counts[ex.Label]++
	}
	return counts
}

func TestRealTweets(t *testing.T) {
	dir := filepath.Join(testenv.DataDir(t), "disaster_tweets")
	d, err := LoadTweets(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Counts from SOURCES.md.
	train, test := d.Splits[Train], d.Splits[Test]
	if len(train) != 7613 || len(test) != 3263 {
		t.Fatalf("got %d train, %d test rows, want 7613, 3263", len(train), len(test))
	}
	if c := labelCounts(train); c["not disaster"] != 4342 || c["disaster"] != 3271 {
		t.Errorf("train labels %v, want 4342 not disaster, 3271 disaster", c)
	}
	if c := labelCounts(test); c[""] != 3263 {
		t.Errorf("test labels %v, want all 3263 unlabelled", c)
	}
	// Record 86 spans three physical lines (bare LF inside quotes, CRLF record ends).
	const want86 = "Progressive greetings!\n\nIn about a month students would have set their pens ablaze in The Torch Publications'... http://t.co/9FxPiXQuJt"
	if ex := exampleWithID(t, train, "86"); ex.Text != want86 || ex.Label != "not disaster" {
		t.Errorf("record 86: got %q (%s), want %q (not disaster)", ex.Text, ex.Label, want86)
	}
	// Every record against Python's csv module.
	const script = `import csv, json, sys
rows = csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8'))
json.dump([[r['id'], r['text'], r.get('target', '')] for r in rows], sys.stdout)`
	for split, examples := range map[string][]Example{"train": train, "test": test} {
		var want [][3]string
		if err := json.Unmarshal(python(t, script, filepath.Join(dir, split+".csv")), &want); err != nil {
			t.Fatal(err)
		}
		if len(want) != len(examples) {
			t.Fatalf("%s: python reads %d rows, we read %d", split, len(want), len(examples))
		}
		for i, w := range want {
			label := map[string]string{"0": "not disaster", "1": "disaster", "": ""}[w[2]]
			if got := examples[i]; got.ID != w[0] || got.Text != w[1] || got.Label != label {
				t.Fatalf("%s row %d: got %+v, python reads %q", split, i+1, got, w)
			}
		}
	}
}

func TestRealTweetsKeywordLocation(t *testing.T) {
	dir := filepath.Join(testenv.DataDir(t), "disaster_tweets")
	examples, _, err := ReadTweets(filepath.Join(dir, "train.csv"), Options{KeywordLocation: true})
	if err != nil {
		t.Fatal(err)
	}
	// Row id 74: keyword "ablaze", location "India" (read with Python's csv).
	want := "keyword: ablaze; location: India; Man wife get six years jail for setting ablaze niece\nhttp://t.co/eV1ahOUCZA"
	if ex := exampleWithID(t, examples, "74"); ex.Text != want {
		t.Errorf("id 74: got %q, want %q", ex.Text, want)
	}
	// train.csv writes the keyword "airplane accident" as airplane%20accident on 35 rows.
	decoded := 0
	for _, ex := range examples {
		if strings.HasPrefix(ex.Text, "keyword: airplane%20accident") {
			t.Errorf("id %s: keyword not decoded: %q", ex.ID, ex.Text)
		}
		if strings.HasPrefix(ex.Text, "keyword: airplane accident;") {
			decoded++
		}
	}
	if decoded != 35 {
		t.Errorf("%d texts start with the decoded keyword \"airplane accident\", want the 35 rows of train.csv", decoded)
	}
}

// exampleWithID returns the example with id, failing the test when there is none.
func exampleWithID(t *testing.T, examples []Example, id string) Example {
	t.Helper()
	for _, ex := range examples {
		if ex.ID == id {
			return ex
		}
	}
	t.Fatalf("no record with id %s among %d", id, len(examples))
	return Example{}
}

func TestRealIMDB(t *testing.T) {
	d := realIMDB(t)
	want := archiveRatingCounts(t)
	got := map[string]int{}
	for _, split := range []string{Train, Test} {
		examples := d.Splits[split]
		if c := labelCounts(examples); len(examples) != 25000 || c["pos"] != 12500 || c["neg"] != 12500 {
			t.Errorf("%s: %d examples %v, want 12,500 pos and 12,500 neg", split, len(examples), c)
		}
		for _, ex := range examples {
			got[split+"/"+ex.Label+"/"+strconv.Itoa(ex.Rating)]++
			// SOURCES.md: ratings 1-4 are negative, 7-10 positive.
			if lo, hi := imdbRatings[ex.Label][0], imdbRatings[ex.Label][1]; ex.Rating < lo || ex.Rating > hi {
				t.Fatalf("%s: rating %d for %s", ex.ID, ex.Rating, ex.Label)
			}
		}
	}
	if len(got) != len(want) || len(got) != 2*8 {
		t.Errorf("rating groups: got %v, python %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: got %d reviews, python counts %d", k, got[k], n)
		}
	}
}

// archiveRatingCounts counts the reviews per split, label and rating (keys
// "train/pos/8") with Python's tarfile reading the real archive.
func archiveRatingCounts(t *testing.T) map[string]int {
	t.Helper()
	const script = `import tarfile, json, sys, collections
c = collections.Counter()
for m in tarfile.open(sys.argv[1]):
    p = m.name.split('/')
    if m.isfile() and len(p) == 4 and p[1] in ('train', 'test') and p[2] in ('pos', 'neg'):
        c['%s/%s/%s' % (p[1], p[2], p[3][:-4].split('_')[1])] += 1
json.dump(c, sys.stdout)`
	var counts map[string]int
	archive := filepath.Join(testenv.DataDir(t), "imdb", "aclImdb_v1_labelled.tar.gz")
	if err := json.Unmarshal(python(t, script, archive), &counts); err != nil {
		t.Fatal(err)
	}
	return counts
}

func TestRealAGNews(t *testing.T) {
	dir := filepath.Join(testenv.DataDir(t), "ag_news")
	d, err := LoadAGNews(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	classes, err := os.ReadFile(filepath.Join(dir, "classes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Fields(strings.ReplaceAll(string(classes), "\n", " ")); strings.Join(d.Labels, ",") != strings.Join(want, ",") {
		t.Errorf("labels %q, want classes.txt's %q", d.Labels, want)
	}
	test := d.Splits[Test]
	if len(test) != 7600 || d.Splits[Train] != nil {
		t.Fatalf("got %d test rows and train %v, want 7600 test rows and no train.csv", len(test), d.Splits[Train] != nil)
	}
	for _, label := range d.Labels {
		if n := labelCounts(test)[label]; n != 1900 {
			t.Errorf("%s: %d rows, want 1900", label, n)
		}
	}
	// First row of test.csv: class 3, its title and description joined by a space.
	want := "Fears for T N pension after talks Unions representing workers at Turner   Newall say they are 'disappointed' after talks with stricken parent firm Federal Mogul."
	if test[0].Text != want || test[0].Label != "Business" || test[0].ID != "test.csv:1" {
		t.Errorf("first row: got %+v, want %q (Business)", test[0], want)
	}
}

func TestRealAGNewsOfflineSplit(t *testing.T) {
	loaded, err := NewLoader(testenv.DataDir(t)).WithSeed(7).Load(context.Background(), AGNews)
	if err != nil {
		t.Fatal(err)
	}
	// 1900 rows per class split 0.8/0.1/0.1: exactly 1520/190/190 per class.
	want := map[string]int{Train: 1520, Validation: 190, Test: 190}
	seen := map[string]bool{}
	for split, n := range want {
		c := labelCounts(loaded.Splits[split])
		for _, label := range AGNewsLabels {
			if c[label] != n {
				t.Errorf("%s %s: %d rows, want %d", split, label, c[label], n)
			}
		}
		for _, ex := range loaded.Splits[split] {
			if seen[ex.ID] {
				t.Errorf("%s appears in two splits", ex.ID)
			}
			seen[ex.ID] = true
		}
	}
	if len(seen) != 7600 {
		t.Errorf("splits hold %d distinct rows, want all 7600", len(seen))
	}
	if len(loaded.Notes) == 0 || !strings.Contains(loaded.Notes[0], "official train.csv is absent") {
		t.Errorf("notes %q do not say the test rows were split", loaded.Notes)
	}
}
