package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/tunelab/tunelab/internal/testenv"
)

// TestBrowser drives the demo page in headless Chromium (e2e/demo.mjs, playwright-core) and
// takes a screenshot; docs/img/demo.png comes from cmd/tunelab's test of the real model. Needs
// /usr/bin/chromium (or $CHROMIUM), node and `npm ci` in e2e/.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	node, chromium, e2e := testenv.Browser(t)

	const topK = 2
	card := Card{Title: "Keyword sentiment", Description: "Counts the words good and bad.",
		Examples: []string{"bad weather today", "a good plan"}}
	flagDir := t.TempDir()
	url := startServer(t, newTestServer(t, &keywordClassifier{}, Options{Card: card, TopK: topK, FlagDir: flagDir}))

	// Expected label and bars from the keyword rule, computed here, not read from the server.
	expected := func(text string) map[string]any {
		probs := keywordProbs(text)
		idx := []int{0, 1, 2}
		sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
		var bars []map[string]any
		for _, i := range idx[:topK] {
			bars = append(bars, map[string]any{"label": testLabels[i], "p": probs[i], "percent": fmt.Sprintf("%.1f%%", 100*probs[i])})
		}
		return map[string]any{"text": text, "label": testLabels[idx[0]], "bars": bars}
	}
	expect, _ := json.Marshal(map[string]any{
		"title":   card.Title,
		"typed":   expected("good good day"),
		"example": expected(card.Examples[0]),
	})
	shot := filepath.Join(t.TempDir(), "demo.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "demo.mjs")
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "DEMO_URL="+url, "DEMO_EXPECT="+string(expect), "CHROMIUM="+chromium,
		"DEMO_FLAG_FILE="+filepath.Join(flagDir, FlagFile), "DEMO_SCREENSHOT="+absPath(t, shot), testenv.BrowserTempDir(t, "e2e/demo.mjs"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("e2e/demo.mjs: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if info, err := os.Stat(shot); err != nil || info.Size() < 10_000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
	rows := readFlags(t, flagDir)
	if len(rows) != 2 || rows[1][1] != card.Examples[0] || rows[1][2] != "negative" {
		t.Errorf("flag log after the browser run: %q", rows)
	}
}

func absPath(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
