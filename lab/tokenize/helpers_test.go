package tokenize

import (
	"archive/tar"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

// edgeTexts are hand-picked cases around added tokens, whitespace and Unicode.
var edgeTexts = []string{
	"", " ", "  ", "\n", "a", "Hello <mask> world!", "a<s>b", "<s>", " </s> ", "[CLS] x [SEP]", "<pad><pad>",
	"hello   there\n\nyou  ", "tabs\tand\r\nnewlines", "Don't you'll we've I'm he'd 'S 's",
	"Ünïcödé İstanbul \u200d x\u00ad y \ufeffz", "emoji 🔥🔥 👍🏽 👨‍👩‍👧 🥺", "中文字符 and 日本語",
	"#39; &lt;b&gt; &amp; quot;", "http://t.co/abc123 @user_name #hashtag", "123,456.78 $5 5%",
	strings.Repeat("a", 101), strings.Repeat("é", 60), strings.Repeat("🔥", 30), strings.Repeat("word ", 700),
}

// loadTexts returns about 2,200 texts from the real datasets: tweets (emoji, URLs, mentions),
// AG News (HTML entities like #39; and &lt;), IMDB reviews (<br />, long enough to be
// truncated at 128 and 512 tokens), and edgeTexts.
func loadTexts(t testing.TB) []string {
	t.Helper()
	dir := testenv.DataDir(t)
	texts := append([]string(nil), edgeTexts...)
	for _, f := range []struct {
		path string
		n    int
	}{{"disaster_tweets/train.csv", 700}, {"disaster_tweets/test.csv", 400}} {
		rows := readCSV(t, filepath.Join(dir, f.path))
		col := indexOf(t, rows[0], "text", f.path)
		for _, row := range rows[1 : f.n+1] {
			texts = append(texts, row[col])
		}
	}
	for _, row := range readCSV(t, filepath.Join(dir, "ag_news/test.csv"))[:800] {
		texts = append(texts, row[1]+" "+row[2])
	}
	texts = append(texts, readIMDB(t, filepath.Join(dir, "imdb/aclImdb_v1_labelled.tar.gz"), 150)...)
	return texts
}

func indexOf(t testing.TB, header []string, name, path string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	t.Fatalf("%s: no %q column in header %q", path, name, header)
	return -1
}

func readCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// readIMDB reads the first n reviews of test/neg and of test/pos straight from the archive.
func readIMDB(t testing.TB, path string, n int) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tr := tar.NewReader(gz)
	count := map[string]int{}
	var texts []string
	for count["neg"] < n || count["pos"] < n {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: after %d reviews: %v", path, len(texts), err)
		}
		dir := filepath.Base(filepath.Dir(h.Name))
		if !strings.HasPrefix(h.Name, "aclImdb/test/") || !strings.HasSuffix(h.Name, ".txt") || count[dir] >= n {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, h.Name, err)
		}
		texts = append(texts, string(body))
		count[dir]++
	}
	return texts
}

// oracleResult is what hf_oracle.py writes: one list per text.
type oracleResult struct {
	IDs     [][]int32  `json:"ids"`
	Mask    [][]int32  `json:"mask"`
	TypeIDs [][]int32  `json:"type_ids"`
	Tokens  [][]string `json:"tokens"`
	Decoded []string   `json:"decoded"`
}

// startOracle starts encoding texts with Hugging Face `tokenizers` (testdata/hf_oracle.py) for
// each setting ("MAX_LENGTH:PADDING"), so that Go can encode meanwhile; the returned function
// waits for the results. Without python3 and tokenizers it calls testenv.Missing.
func startOracle(t testing.TB, tokDir string, texts []string, settings ...string) func() map[string]*oracleResult {
	t.Helper()
	python := testenv.Python(t, "tokenizers")
	tmp := t.TempDir()
	in, out := filepath.Join(tmp, "texts.json"), filepath.Join(tmp, "out.json")
	data, err := json.Marshal(texts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{filepath.Join("testdata", "hf_oracle.py"), tokDir, in, out}, settings...)
	var stderr strings.Builder
	cmd := exec.Command(python, args...)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() map[string]*oracleResult {
		t.Helper()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("python3 %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var res map[string]*oracleResult
		if err := json.Unmarshal(data, &res); err != nil {
			t.Fatalf("hf_oracle.py output: %v", err)
		}
		for _, s := range settings {
			if r := res[s]; r == nil || len(r.IDs) != len(texts) {
				t.Fatalf("hf_oracle.py: setting %s: no result for each of the %d texts", s, len(texts))
			}
		}
		return res
	}
}

// compareRow reports the first difference between a Go row and the oracle's row i.
func compareRow(t testing.TB, tok *Tokenizer, texts []string, want *oracleResult, i int, got Encoding) bool {
	t.Helper()
	for _, f := range []struct {
		name      string
		got, want []int32
	}{{"ids", got.IDs, want.IDs[i]}, {"mask", got.Mask, want.Mask[i]}, {"type ids", got.TypeIDs, want.TypeIDs[i]}} {
		if !slicesEqual(f.got, f.want) {
			t.Errorf("row %d: %s differ from Hugging Face\ntext: %q\ngo tokens (without padding): %q\nhf tokens (without padding): %q\ngo %s: %v\nhf %s: %v",
				i, f.name, texts[i], tok.Tokens(got.IDs[:realTokens(got.Mask)]), want.Tokens[i], f.name, f.got, f.name, f.want)
			return false
		}
	}
	return true
}

// realTokens counts the ones of an attention mask.
func realTokens(mask []int32) int {
	n := 0
	for _, m := range mask {
		n += int(m)
	}
	return n
}

func slicesEqual(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
