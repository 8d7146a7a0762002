package lab

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// ModelCard is what a demo shows of a model folder's README.md: the title of its first
// heading, and the texts of its front matter's widget, the examples the Hugging Face Hub's
// inference widget offers (SaveFineTuned writes both).
type ModelCard struct {
	Title    string
	Examples []string
}

// ReadModelCard reads dir/README.md; a folder without one has an empty card.
func ReadModelCard(dir string) (ModelCard, error) {
	data, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if os.IsNotExist(err) {
		return ModelCard{}, nil
	} else if err != nil {
		return ModelCard{}, err
	}
	var card ModelCard
	body := strings.ReplaceAll(string(data), "\r\n", "\n")
	if front, rest, ok := strings.Cut(strings.TrimPrefix(body, "---\n"), "\n---\n"); ok && strings.HasPrefix(body, "---\n") {
		card.Examples = widgetTexts(front)
		body = rest
	}
	for _, line := range strings.Split(body, "\n") {
		if title, ok := strings.CutPrefix(line, "# "); ok {
			card.Title = strings.TrimSpace(title)
			break
		}
	}
	return card, nil
}

// widgetTexts reads the "- text: ..." entries of the front matter's widget list; a text is a
// JSON (YAML double-quoted) string, or plain.
func widgetTexts(front string) []string {
	var texts []string
	inWidget := false
	for _, line := range strings.Split(front, "\n") {
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "-") {
			inWidget = strings.TrimSpace(line) == "widget:"
			continue
		}
		value, ok := strings.CutPrefix(strings.TrimSpace(line), "- text:")
		if !inWidget || !ok {
			continue
		}
		value = strings.TrimSpace(value)
		var text string
		if json.Unmarshal([]byte(value), &text) != nil {
			text = value
		}
		texts = append(texts, text)
	}
	return texts
}
