package data

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/tunelab/tunelab/internal/testenv"
)

// TestRealIMDBRating loads the imdb-rating task through the Loader, train and test as
// published, and counts the targets per split and rating against Python's tarfile.
func TestRealIMDBRating(t *testing.T) {
	d, err := NewLoader(testenv.DataDir(t)).WithValidation(0).Load(context.Background(), IMDBRating)
	if err != nil {
		t.Fatal(err)
	}
	if d.Problem != Regression || d.Labels != nil || d.Name != IMDBRating {
		t.Errorf("problem %q, labels %q, name %q; want regression, none, imdb-rating", d.Problem, d.Labels, d.Name)
	}
	if names := d.SplitNames(); !reflect.DeepEqual(names, []string{Train, Test}) {
		t.Errorf("splits %q, want train and test as published", names)
	}
	want := map[string]int{}
	for key, n := range archiveRatingCounts(t) { // "train/pos/8": the sentiment folder is implied by the rating.
		parts := strings.Split(key, "/")
		want[parts[0]+"/"+parts[2]] += n
	}
	got := map[string]int{}
	for _, split := range []string{Train, Test} {
		if n := len(d.Splits[split]); n != 25000 {
			t.Errorf("%s: %d reviews, want 25,000", split, n)
		}
		for _, ex := range d.Splits[split] {
			got[fmt.Sprintf("%s/%g", split, ex.Value)]++
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reviews per split and rating %v, the archive holds %v", got, want)
	}
}

// targetRow is a Parquet row with a float target.
type targetRow struct {
	Text  string  `parquet:"text"`
	Score float64 `parquet:"score"`
}

func TestRegressionFiles(t *testing.T) {
	want := []float64{3.5, -2, 10, 0.25}
	csvPath := write(t, "r.csv", "text,score\n\"a, b\",3.5\nc,-2\nd, 10 \ne,2.5e-1\n")
	jsonlPath := write(t, "r.jsonl", `{"text":"a, b","score":3.5}`+"\n"+`{"text":"c","score":-2}`+"\n"+
		`{"text":"d","score":"10"}`+"\n"+`{"text":"e","score":0.25}`+"\n")
	parquetPath := filepath.Join(t.TempDir(), "r.parquet")
	f, err := os.Create(parquetPath)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[targetRow](f)
	if _, err := w.Write([]targetRow{{"a, b", 3.5}, {"c", -2}, {"d", 10}, {"e", 0.25}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, path := range []string{csvPath, jsonlPath, parquetPath} {
		d, err := NewLoader("").WithValidation(0).WithColumns("text", "score").WithProblem(Regression, "").Load(context.Background(), path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var got []float64
		for _, ex := range d.Splits[Train] {
			got = append(got, ex.Value)
		}
		if d.Problem != Regression || d.Labels != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: problem %q labels %q values %v, want regression, no labels, %v", filepath.Base(path), d.Problem, d.Labels, got, want)
		}
	}
	for _, tc := range []struct{ name, content, want string }{
		{"bad.csv", "text,score\na,1\nb,three\n", `bad.csv:3: "score" value "three" is not a number`},
		{"bad.jsonl", `{"text":"a","score":1}` + "\n" + `{"text":"b","score":[1]}` + "\n", `bad.jsonl:2: "score" value [1] is a list, want a number`},
		{"nan.csv", "text,score\na,1\nb,NaN\n", `nan.csv:3: "score" value "NaN" is not a number`},
		{"empty.csv", "text,score\na,1\nb,\n", `empty.csv:3: "score" value "" is not a number`},
	} {
		_, err := LoadFile(File{Path: write(t, tc.name, tc.content), Text: "text", Label: "score", Problem: Regression}, Options{})
		wantErr(t, err, tc.want)
	}
}

func TestMultiLabelFiles(t *testing.T) {
	wantSets := [][]string{{"sports", "politics"}, {}, {"tech"}}
	csvPath := write(t, "m.csv", "text,tags\na,sports; politics\nb,\nc,tech;tech\n")
	jsonlPath := write(t, "m.jsonl", `{"text":"a","tags":["sports","politics"]}`+"\n"+`{"text":"b","tags":[]}`+"\n"+
		`{"text":"c","tags":["tech"]}`+"\n")
	for _, path := range []string{csvPath, jsonlPath} {
		d, err := NewLoader("").WithValidation(0).WithColumns("text", "tags").WithProblem(MultiLabel, ";").Load(context.Background(), path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var got [][]string
		for _, ex := range d.Splits[Train] {
			got = append(got, ex.LabelSet)
		}
		if d.Problem != MultiLabel || !reflect.DeepEqual(d.Labels, []string{"politics", "sports", "tech"}) || !reflect.DeepEqual(got, wantSets) {
			t.Errorf("%s: problem %q labels %q sets %q, want the sorted names and %q", filepath.Base(path), d.Problem, d.Labels, got, wantSets)
		}
	}
	// An unknown name, a string without a separator, a bad list element.
	_, err := LoadFile(File{Path: csvPath, Text: "text", Label: "tags", Problem: MultiLabel, LabelSep: ";",
		Labels: []string{"sports", "tech"}}, Options{})
	wantErr(t, err, "m.csv:2", `label "politics"`, `["sports" "tech"]`)
	_, err = LoadFile(File{Path: csvPath, Text: "text", Label: "tags", Problem: MultiLabel}, Options{})
	wantErr(t, err, "m.csv:2", "is not a list", "--label-sep")
	_, err = LoadFile(File{Path: write(t, "b.jsonl", `{"text":"a","tags":["x",1.5]}`+"\n"), Text: "text", Label: "tags", Problem: MultiLabel}, Options{})
	wantErr(t, err, "b.jsonl:1", "list element 1", "want a string or an integer")
	// A list where a class name is expected.
	_, err = LoadFile(File{Path: jsonlPath, Text: "text", Label: "tags"}, Options{})
	wantErr(t, err, "m.jsonl:1", `key "tags"`, "want a string or an integer")
}
