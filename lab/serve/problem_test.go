package serve

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tunelab/tunelab/internal/testenv"
	"github.com/tunelab/tunelab/lab/hfmodel"
)

// ratingClassifier is a transparent regression model for tests: a text's score is
// 5 + 2·(words "good") - 3·(words "bad").
type ratingClassifier struct{}

func (ratingClassifier) Labels() []string { return []string{"LABEL_0"} }

func (ratingClassifier) Classify(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{rating(t)}
	}
	return out, nil
}

func rating(text string) float32 {
	score := float32(5)
	for _, w := range strings.Fields(strings.ToLower(text)) {
		switch strings.Trim(w, ".,!?") {
		case "good":
			score += 2
		case "bad":
			score -= 3
		}
	}
	return score
}

// tagClassifier is a transparent multi-label model for tests: each of its labels has
// probability 0.9 when the text contains it as a word, 0.2 otherwise (independently: the
// scores need not sum to 1).
type tagClassifier struct{}

var tagLabels = []string{"rain", "sport", "vote"}

func (tagClassifier) Labels() []string { return tagLabels }

func (tagClassifier) Classify(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = tagScores(t)
	}
	return out, nil
}

func tagScores(text string) []float32 {
	words := strings.Fields(strings.ToLower(text))
	row := make([]float32, len(tagLabels))
	for j, l := range tagLabels {
		row[j] = 0.2
		if slices.Contains(words, l) {
			row[j] = 0.9
		}
	}
	return row
}

// TestPredictRegressionAndMultiLabel: /api/predict answers {"score": x} for a regression model
// and {"labels": [...], "scores": {...}} (labels above 0.5, every label's own probability) for a
// multi-label one, with no field of the other shapes.
func TestPredictRegressionAndMultiLabel(t *testing.T) {
	reg := newTestServer(t, ratingClassifier{}, Options{Problem: hfmodel.Regression})
	rec := do(reg, "POST", "/api/predict", `{"texts": ["good good film", "bad"]}`)
	if rec.Code != 200 {
		t.Fatalf("regression: %d %s", rec.Code, rec.Body)
	}
	got := decodeJSON[struct {
		Predictions []map[string]any `json:"predictions"`
	}](t, rec.Body.Bytes())
	for i, text := range []string{"good good film", "bad"} {
		p := got.Predictions[i]
		if len(p) != 1 || p["score"] != float64(rating(text)) {
			t.Errorf("regression %q: %v, want only {\"score\": %v}", text, p, rating(text))
		}
	}

	multi := newTestServer(t, tagClassifier{}, Options{Problem: hfmodel.MultiLabel})
	texts := []string{"rain stopped the sport", "nothing here"}
	rec = do(multi, "POST", "/api/predict", jsonBody(t, PredictRequest{Texts: texts}))
	if rec.Code != 200 {
		t.Fatalf("multi-label: %d %s", rec.Code, rec.Body)
	}
	var raw struct {
		Predictions []map[string]json.RawMessage `json:"predictions"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{{"rain", "sport"}, {}} {
		p := raw.Predictions[i]
		var labels []string
		var scores map[string]float32
		if len(p) != 2 || json.Unmarshal(p["labels"], &labels) != nil || json.Unmarshal(p["scores"], &scores) != nil || labels == nil {
			t.Fatalf("multi-label %q: %s, want exactly labels (a list, [] for none) and scores", texts[i], rec.Body)
		}
		if !slices.Equal(labels, want) {
			t.Errorf("multi-label %q: labels %v, want %v", texts[i], labels, want)
		}
		for j, l := range tagLabels {
			if !approx(scores[l], tagScores(texts[i])[j]) {
				t.Errorf("multi-label %q: score of %s %v, want %v", texts[i], l, scores[l], tagScores(texts[i])[j])
			}
		}
	}

	if _, err := New(&keywordClassifier{}, Options{Problem: hfmodel.Regression}); err == nil || !strings.Contains(err.Error(), "one output") {
		t.Errorf("a regression server over 3 labels: err %v, want one output", err)
	}
}

// TestPageAndFlagFollowTheProblem: the page tells its script the problem type, and the flag log
// records a regression score or a multi-label set (unknown labels refused).
func TestPageAndFlagFollowTheProblem(t *testing.T) {
	for _, tc := range []struct {
		clf            Classifier
		problem        hfmodel.ProblemType
		page, flag     string
		wantPrediction string
		bad            string
	}{
		{ratingClassifier{}, hfmodel.Regression, `data-problem="regression"`, `{"text": "good film", "score": 7}`, "7", `{"text": "good film"}`},
		{tagClassifier{}, hfmodel.MultiLabel, `data-problem="multilabel"`, `{"text": "rain", "labels": ["rain"], "scores": {"rain": 0.9, "sport": 0.2, "vote": 0.2}}`, `["rain"]`, `{"text": "rain", "labels": ["snow"]}`},
	} {
		dir := t.TempDir()
		s := newTestServer(t, tc.clf, Options{Problem: tc.problem, FlagDir: dir})
		if page := do(s, "GET", "/", "").Body.String(); !strings.Contains(page, tc.page) {
			t.Errorf("%s: the page lacks %s", tc.problem, tc.page)
		}
		if rec := do(s, "POST", "/api/flag", tc.flag); rec.Code != 200 {
			t.Fatalf("%s: flag %s: %d %s", tc.problem, tc.flag, rec.Code, rec.Body)
		}
		if rec := do(s, "POST", "/api/flag", tc.bad); rec.Code != 400 {
			t.Errorf("%s: flag %s: %d %s, want 400", tc.problem, tc.bad, rec.Code, rec.Body)
		}
		f, err := os.Open(filepath.Join(dir, FlagFile))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil || len(rows) != 2 || rows[1][2] != tc.wantPrediction {
			t.Errorf("%s: flag log %v (%v), want one row with prediction %s", tc.problem, rows, err, tc.wantPrediction)
		}
	}
}

// TestGradioRegressionAndMultiLabel: the Gradio API describes a regression model's output as a
// Number and answers its value; a multi-label model's as a Label of independent confidences.
// With python3 and gradio_client installed, the real client reads both.
func TestGradioRegressionAndMultiLabel(t *testing.T) {
	reg := newTestServer(t, ratingClassifier{}, Options{Problem: hfmodel.Regression})
	config := decodeJSON[struct {
		Components []map[string]any `json:"components"`
	}](t, do(reg, "GET", "/config", "").Body.Bytes())
	if len(config.Components) != 2 || config.Components[1]["type"] != "number" {
		t.Errorf("regression config components %v, want a textbox and a number", config.Components)
	}
	info := do(reg, "GET", "/gradio_api/info", "").Body.String()
	if !strings.Contains(info, `"component":"Number"`) {
		t.Errorf("regression info %s lacks the Number output", info)
	}
	multi := newTestServer(t, tagClassifier{}, Options{Problem: hfmodel.MultiLabel})

	python := testenv.Python(t, "gradio_client")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := func(s *Server, text string) []byte {
		out, err := exec.CommandContext(ctx, python, filepath.Join("testdata", "gradio_client_predict.py"), startServer(t, s), text).Output()
		if err != nil {
			t.Fatalf("gradio_client script: %v", err)
		}
		return out
	}
	var regOut struct {
		Results []float64 `json:"results"`
	}
	if err := json.Unmarshal(client(reg, "good good film"), &regOut); err != nil || len(regOut.Results) != 1 || regOut.Results[0] != float64(rating("good good film")) {
		t.Errorf("gradio_client on the regression server: %v (%v), want [%v]", regOut.Results, err, rating("good good film"))
	}
	var multiOut struct {
		Results []labelValue `json:"results"`
	}
	text := "vote in the rain"
	if err := json.Unmarshal(client(multi, text), &multiOut); err != nil || len(multiOut.Results) != 1 {
		t.Fatalf("gradio_client on the multi-label server: %v (%v)", multiOut.Results, err)
	}
	v, sum := multiOut.Results[0], 0.0
	for _, c := range v.Confidences {
		sum += float64(c.Confidence)
		if j := slices.Index(tagLabels, c.Label); j < 0 || !approx(c.Confidence, tagScores(text)[j]) {
			t.Errorf("confidence %+v, want the label's own score %v", c, tagScores(text))
		}
	}
	if len(v.Confidences) != 3 || math.Abs(sum-2.0) > 1e-6 {
		t.Errorf("confidences %+v: want every label's independent score (0.9 + 0.9 + 0.2)", v.Confidences)
	}
}
