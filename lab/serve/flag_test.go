package serve

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func readFlags(t *testing.T, dir string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, FlagFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestFlagAppendsToTheConfiguredFolderOnly(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "flags")
	s := newTestServer(t, &keywordClassifier{}, Options{FlagDir: dir})
	before := time.Now().UTC().Add(-time.Second)
	text := "line one,\n\"quoted\" ../../escape.csv"
	rec := do(s, "POST", "/api/flag", jsonBody(t, FlagRequest{Text: text, Label: "positive", Scores: map[string]float32{"positive": 0.6, "negative": 0.2, "neutral": 0.2}}))
	if rec.Code != 200 {
		t.Fatalf("flag: %d %s", rec.Code, rec.Body)
	}
	// Payloads that try to choose a file: unknown fields and path-like values.
	for _, body := range []string{
		`{"text": "x", "label": "positive", "path": "../../evil.csv"}`,
		`{"text": "x", "label": "positive", "file": "/tmp/evil.csv"}`,
		`{"text": "x", "label": "../../../evil"}`,
		`{"text": "x", "label": "positive", "scores": {"../evil": 0.5}}`,
		`{"text": "x", "label": "positive", "scores": {"positive": 7}}`,
		`{"text": "", "label": "positive"}`,
	} {
		if rec := do(s, "POST", "/api/flag", body); rec.Code != 400 {
			t.Errorf("%s: status %d, want 400", body, rec.Code)
		}
	}
	rec = do(s, "POST", "/api/flag?path=../../evil.csv&dir=/tmp", `{"text": "second", "label": "negative"}`)
	if rec.Code != 200 {
		t.Fatalf("flag with query: %d %s", rec.Code, rec.Body)
	}

	var files []string
	_ = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 || files[0] != filepath.Join(dir, FlagFile) {
		t.Errorf("files under the temp root: %v, want only %s", files, filepath.Join(dir, FlagFile))
	}
	rows := readFlags(t, dir)
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(FlagHeader, ",") {
		t.Fatalf("rows %q", rows)
	}
	if rows[1][1] != text || rows[1][2] != "positive" || rows[1][3] != `{"negative":0.2,"neutral":0.2,"positive":0.6}` {
		t.Errorf("row 1 %q", rows[1])
	}
	when, err := time.Parse(time.RFC3339Nano, rows[1][0])
	if err != nil || when.Before(before) || when.After(time.Now().UTC()) {
		t.Errorf("row 1 time %q: %v", rows[1][0], err)
	}
	if rows[2][1] != "second" || rows[2][3] != "null" {
		t.Errorf("row 2 %q", rows[2])
	}
}

func TestConcurrentFlagsDoNotInterleave(t *testing.T) {
	dir := t.TempDir()
	s := newTestServer(t, &keywordClassifier{}, Options{FlagDir: dir})
	const n = 50
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			text := fmt.Sprintf("flag %d %s", i, strings.Repeat("x", 3000))
			if rec := do(s, "POST", "/api/flag", jsonBody(t, FlagRequest{Text: text, Label: "neutral"})); rec.Code != 200 {
				t.Errorf("flag %d: %d", i, rec.Code)
			}
		}()
	}
	wg.Wait()
	rows := readFlags(t, dir)
	if len(rows) != n+1 {
		t.Fatalf("%d rows, want header + %d", len(rows), n)
	}
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		id, _, _ := strings.Cut(r[1], " x")
		seen[id] = true
		if len(r[1]) < 3000 {
			t.Errorf("row text cut: %d bytes", len(r[1]))
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct flags, want %d", len(seen), n)
	}
}

func TestFlagDisabled(t *testing.T) {
	s := newTestServer(t, &keywordClassifier{}, Options{})
	if rec := do(s, "POST", "/api/flag", `{"text":"a","label":"positive"}`); rec.Code != 404 {
		t.Errorf("flag without FlagDir: %d, want 404", rec.Code)
	}
	if strings.Contains(do(s, "GET", "/", "").Body.String(), `id="flag"`) {
		t.Error("page shows a Flag button with flagging disabled")
	}
}
