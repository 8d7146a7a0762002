package data

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// hubRow is the row layout of the Hub's text-classification Parquet files (e.g.
// stanfordnlp/imdb): a string text and an int64 class id.
type hubRow struct {
	Text  string `parquet:"text"`
	Label int64  `parquet:"label"`
}

func writeParquet(t *testing.T, name string, rows []hubRow) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[hubRow](f)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadFileFormats(t *testing.T) {
	// The same three examples in each format; ids are the file's line (row for Parquet).
	want := []Example{{Text: "good, \"very\"", Label: "1"}, {Text: "bad\tday", Label: "0"}, {Text: "ok", Label: "10"}}
	for _, tc := range []struct {
		name, content string
		ids           []string
	}{
		{"a.csv", "label,text\n1,\"good, \"\"very\"\"\"\r\n0,bad\tday\n10,ok\n", []string{"a.csv:2", "a.csv:3", "a.csv:4"}},
		{"a.jsonl", "{\"text\":\"good, \\\"very\\\"\",\"label\":1}\n{\"label\":\"0\",\"text\":\"bad\\tday\"}\n{\"text\":\"ok\",\"label\":10}", []string{"a.jsonl:1", "a.jsonl:2", "a.jsonl:3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := LoadFile(File{Path: write(t, tc.name, tc.content), Text: "text", Label: "label"}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkExamples(t, d, want, tc.ids)
		})
	}
	t.Run("a.tsv", func(t *testing.T) {
		d, err := LoadFile(File{Path: write(t, "a.tsv", "id\ttext\tlabel\r\nx1\tgood, \"very\"\t1\r\nx2\tbad day\t0\r\nx3\tok\t10\r\n"), Text: "text", Label: "label", ID: "id", Split: Test}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		d.Splits[Train] = d.Splits[Test]
		w := append([]Example(nil), want...)
		w[1].Text = "bad day"
		checkExamples(t, d, w, []string{"x1", "x2", "x3"})
	})
	t.Run("a.parquet", func(t *testing.T) {
		path := writeParquet(t, "a.parquet", []hubRow{{"good, \"very\"", 1}, {"bad\tday", 0}, {"ok", 10}})
		d, err := LoadFile(File{Path: path, Text: "text", Label: "label"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkExamples(t, d, want, []string{"a.parquet: row 1", "a.parquet: row 2", "a.parquet: row 3"})
	})
}

// checkExamples compares d's train split with want (ids set from ids) and checks the labels
// are sorted numerically.
func checkExamples(t *testing.T, d *Dataset, want []Example, ids []string) {
	t.Helper()
	w := make([]Example, len(want))
	for i := range want {
		w[i] = want[i]
		w[i].ID = ids[i]
	}
	if got := d.Splits[Train]; !reflect.DeepEqual(got, w) {
		t.Errorf("got %+v\nwant %+v", got, w)
	}
	if !reflect.DeepEqual(d.Labels, []string{"0", "1", "10"}) {
		t.Errorf("labels %q, want numeric order 0, 1, 10", d.Labels)
	}
}
