package notebooks_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReportChinese exports a notebook with a Chinese analysis cell and a title page with a
// Chinese name (the way a student's report is exported: no execution) into a folder that does not
// exist yet, and reads the PDF back: its text must hold the Chinese sentences, not boxes, and
// its fonts must include an embedded CJK one.
func TestReportChinese(t *testing.T) {
	requireTools(t, func() string {
		if _, err := exec.LookPath("pdffonts"); err != nil {
			return "pdffonts"
		}
		return ""
	})
	const analysis = "模型在验证集上的F1为0.79，高于多数类基线。"
	nb := map[string]any{
		"nbformat": 4, "nbformat_minor": 5,
		"metadata": map[string]any{"kernelspec": map[string]any{"name": "gonb", "display_name": "Go (gonb)", "language": "go"}},
		"cells": []any{
			map[string]any{"cell_type": "markdown", "id": "title", "metadata": map[string]any{}, "source": "# 1. 灾难推文分类"},
			map[string]any{"cell_type": "markdown", "id": "analysis", "metadata": map[string]any{}, "source": "## 结果分析 / Analysis\n\n" + analysis},
		},
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "zh.ipynb")
	raw, _ := json.Marshal(nb)
	student := filepath.Join(dir, "student.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(student, []byte(`{"name": "李明", "student_id": "2024123456", "course": "自然语言处理"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "not", "yet")
	cmd := exec.Command("python3", filepath.Join("..", "scripts", "lab", "report.py"), "export", "--out", out,
		"--runs", filepath.Join(dir, "no-runs"), "--student", student, path)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("report.py export: %v\n%s", err, b)
	}
	pdf := filepath.Join(out, "lab-report.pdf")
	txt, err := exec.Command("pdftotext", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext %s: %v", pdf, err)
	}
	flat := strings.Join(strings.Fields(string(txt)), "")
	for _, want := range []string{analysis, "结果分析/Analysis", "灾难推文分类", "李明", "2024123456", "自然语言处理"} {
		if !strings.Contains(flat, strings.Join(strings.Fields(want), "")) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, txt)
		}
	}
	fonts, err := exec.Command("pdffonts", pdf).Output()
	if err != nil {
		t.Fatalf("pdffonts %s: %v", pdf, err)
	}
	// pdffonts: name type encoding emb sub uni object ID; a CJK font's name says so.
	cjk := regexp.MustCompile(`(?im)^\S*(CJK|WenQuanYi|WQY|Hei|Song|Ming|Gothic)\S*\s.*\byes\s+yes\s+yes\b`)
	if !cjk.Match(fonts) {
		t.Errorf("no embedded CJK font in %s:\n%s", pdf, fonts)
	}
}
