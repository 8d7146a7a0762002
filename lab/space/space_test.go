package space

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tunelab/tunelab/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite docker/space/Dockerfile from the template")

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// fakeModel writes a model folder whose files hold distinct bytes, to check byte-exact copies.
func fakeModel(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i, f := range files {
		content := []byte(strings.Repeat(f, i+1))
		if f == "config.json" {
			content = []byte(`{"model_type": "bert", "id2label": {"0": "neg", "1": "pos"}}`)
		}
		if err := os.WriteFile(filepath.Join(dir, f), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// frontMatter parses the README's YAML front matter with PyYAML, an independent parser.
func frontMatter(t *testing.T, readme []byte) map[string]any {
	t.Helper()
	python := testenv.Python(t, "yaml")
	text := string(readme)
	if !strings.HasPrefix(text, "---\n") {
		t.Fatalf("README does not start with front matter: %q", text[:min(len(text), 40)])
	}
	yml, _, ok := strings.Cut(text[4:], "\n---\n")
	if !ok {
		t.Fatal("front matter is not closed by ---")
	}
	cmd := exec.Command(python, "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))")
	cmd.Stdin = strings.NewReader(yml)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("PyYAML rejects the front matter %q: %v", yml, err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExportWritesAReadyToPushSpace(t *testing.T) {
	model := fakeModel(t, "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "README.md", "optimizer.pt")
	out := filepath.Join(t.TempDir(), "space")
	title := `Disaster tweets: "real" or not?`
	err := Export(Options{ModelDir: model, OutDir: out, SourceDir: repoRoot(), Title: title, Emoji: "🔥", MaxLength: 64,
		ShortDescription: "Tells real disaster tweets from the rest"})
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	fm := frontMatter(t, readme)
	want := map[string]any{"title": title, "emoji": "🔥", "colorFrom": "indigo", "colorTo": "blue", "sdk": "docker",
		"app_port": float64(7860), "short_description": "Tells real disaster tweets from the rest", "pinned": false}
	for k, v := range want {
		if fm[k] != v {
			t.Errorf("front matter %s = %#v, want %#v", k, fm[k], v)
		}
	}
	if len(fm) != len(want) {
		t.Errorf("front matter has %d keys, want %d: %v", len(fm), len(want), fm)
	}
	if !strings.Contains(string(readme), "\nTells real disaster tweets from the rest.\n") {
		t.Errorf("README.md does not state the description as a sentence:\n%s", readme)
	}

	// The model files, byte for byte; files the Space does not need stay behind.
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "README.md"} {
		a, _ := os.ReadFile(filepath.Join(model, f))
		b, err := os.ReadFile(filepath.Join(out, "model", f))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("model/%s not copied exactly: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "model", "optimizer.pt")); err == nil {
		t.Error("optimizer.pt was copied into the Space")
	}

	// The source the Dockerfile builds: module files and non-test Go code, no tests or test data.
	for _, f := range []string{"go.mod", "go.sum", "cmd/tunelab/main.go", "lab/serve/serve.go", "lab/serve/static/index.html", "lab/space/space.go", "scripts/setup/xla-plugin.sh"} {
		if _, err := os.Stat(filepath.Join(out, "src", f)); err != nil {
			t.Errorf("src/%s missing: %v", f, err)
		}
	}
	_ = filepath.Walk(filepath.Join(out, "src"), func(p string, info os.FileInfo, err error) error {
		if err == nil && (strings.HasSuffix(p, "_test.go") || info.Name() == "testdata" || info.Name() == "node_modules") {
			t.Errorf("%s copied into the Space", p)
		}
		return nil
	})

	docker, _ := os.ReadFile(filepath.Join(out, "Dockerfile"))
	checkDockerfile(t, string(docker), "src", "model", `CMD ["tunelab", "serve", "--model", "/app/model", "--port", "7860", "--max-length", "64"]`)
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
		t.Errorf("temporary folders left beside the Space: %v", entries)
	}
}

// checkDockerfile checks the instructions that make the image a working Space.
func checkDockerfile(t *testing.T, d, src, model, cmd string) {
	t.Helper()
	for _, want := range []string{
		"FROM golang:1.26-bookworm AS build",
		"COPY " + src + "/go.mod " + src + "/go.sum ./",
		"RUN TUNELAB_XLA_PLUGIN_DIR=/out/go-xla bash scripts/setup/xla-plugin.sh",
		"ENV GOEXPERIMENT=simd",
		"ENV HOME=/home/user GODEBUG=asyncpreemptoff=1 GLIBC_TUNABLES=glibc.malloc.hugetlb=1",
		"RUN go build -trimpath",
		"COPY --from=build --chown=1000:1000 /out/go-xla /home/user/.local/lib/go-xla",
		"-o /out/tunelab ./cmd/tunelab",
		"apt-get install -y --no-install-recommends libtcmalloc-minimal4",
		"RUN useradd --create-home --uid 1000 user",
		"COPY --from=build /out/tunelab /usr/local/bin/tunelab",
		"COPY --chown=1000:1000 " + model + " /app/model",
		"USER user",
		"EXPOSE 7860",
		cmd,
	} {
		if !strings.Contains(d, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Count(d, "\nFROM ")+boolInt(strings.HasPrefix(d, "FROM ")) != 2 {
		t.Error("Dockerfile is not a two-stage build")
	}
	// Everything runs as user 1000 from USER on: the CMD comes after it.
	if strings.Index(d, "USER user") > strings.Index(d, "CMD [") {
		t.Error("CMD comes before USER")
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRepositoryDockerfileMatchesTheTemplate(t *testing.T) {
	path := filepath.Join(repoRoot(), "docker", "space", "Dockerfile")
	want := Dockerfile(".", "models/space", 0)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from space.Dockerfile(\".\", \"models/space\"); run go test ./lab/space -update", path)
	}
	checkDockerfile(t, string(got), ".", "models/space", `CMD ["tunelab", "serve", "--model", "/app/model", "--port", "7860"]`)
}

func TestExportRefusesIncompleteModelsAndBadOptions(t *testing.T) {
	src := repoRoot()
	cases := []struct {
		name  string
		model []string
		opts  Options
		err   string
	}{
		{"no config", []string{"model.safetensors", "vocab.txt"}, Options{}, "has no config.json"},
		{"no weights", []string{"config.json", "vocab.txt"}, Options{}, "no model.safetensors or model.safetensors.index.json"},
		{"no tokenizer", []string{"config.json", "model.safetensors"}, Options{}, "has no tokenizer"},
		{"bad colour", []string{"config.json", "model.safetensors", "vocab.txt"}, Options{ColorFrom: "orange"}, `colours "orange"`},
		{"long description", []string{"config.json", "model.safetensors", "vocab.txt"}, Options{ShortDescription: strings.Repeat("x", 61)}, "61 characters"},
		{"newline in title", []string{"config.json", "model.safetensors", "vocab.txt"}, Options{Title: "a\nb: c"}, "one line"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := c.opts
			opts.ModelDir, opts.OutDir, opts.SourceDir = fakeModel(t, c.model...), filepath.Join(t.TempDir(), "out"), src
			err := Export(opts)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want one containing %q", err, c.err)
			}
			if _, err := os.Stat(opts.OutDir); err == nil {
				t.Error("a failed export left its output folder")
			}
		})
	}
	model := fakeModel(t, "config.json", "model.safetensors", "vocab.txt")
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "keep"), []byte("x"), 0o644)
	if err := Export(Options{ModelDir: model, OutDir: out, SourceDir: src}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty output folder: %v", err)
	}
	if err := Export(Options{ModelDir: model, OutDir: filepath.Join(t.TempDir(), "o"), SourceDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "go.mod") {
		t.Errorf("source folder without go.mod: %v", err)
	}
}

func TestModelFilesFollowsTheShardIndex(t *testing.T) {
	dir := fakeModel(t, "config.json", "tokenizer.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
	index := `{"metadata": {}, "weight_map": {"a": "model-00002-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}`
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(index), 0o644)
	files, err := ModelFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "config.json model.safetensors.index.json model-00001-of-00002.safetensors model-00002-of-00002.safetensors tokenizer.json"
	if strings.Join(files, " ") != want {
		t.Errorf("files %v, want %s", files, want)
	}
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map": {"a": "../../etc/passwd"}}`), 0o644)
	if _, err := ModelFiles(dir); err == nil || !strings.Contains(err.Error(), "not a .safetensors file name in the model folder") {
		t.Errorf("shard outside the folder: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(index), 0o644)
	// Beside the shards, a single model.safetensors wins, as in transformers.
	os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("x"), 0o644)
	if files, err := ModelFiles(dir); err != nil || strings.Join(files, " ") != "config.json model.safetensors tokenizer.json" {
		t.Errorf("single file and shards: files %v (%v), want config.json model.safetensors tokenizer.json", files, err)
	}
	os.Remove(filepath.Join(dir, "model.safetensors"))
	os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors"))
	if _, err := ModelFiles(dir); err == nil || !strings.Contains(err.Error(), "names the shard model-00002-of-00002.safetensors") {
		t.Errorf("missing shard: %v", err)
	}
}

func TestFindModuleRoot(t *testing.T) {
	root, err := FindModuleRoot(filepath.Join(repoRoot(), "lab", "space"))
	if err != nil || root != repoRoot() {
		t.Errorf("FindModuleRoot(lab/space) = %q, %v; want %q", root, err, repoRoot())
	}
	if _, err := FindModuleRoot(t.TempDir()); err == nil {
		t.Error("found a module root above a temporary folder")
	}
}

// TestReadmeQuestion keeps a description that ends with its own punctuation as it is.
func TestReadmeQuestion(t *testing.T) {
	out := filepath.Join(t.TempDir(), "space")
	err := Export(Options{ModelDir: fakeModel(t, "config.json", "model.safetensors", "vocab.txt"), OutDir: out,
		SourceDir: repoRoot(), ShortDescription: "Is this tweet about a real disaster?"})
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "\nIs this tweet about a real disaster?\n") {
		t.Errorf("README.md:\n%s\nwant the question as written, without a full stop after it", readme)
	}
}
