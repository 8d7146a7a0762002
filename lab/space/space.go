// Package space exports a fine-tuned model as a ready-to-push Hugging Face Docker Space: a
// README.md with the Spaces front matter, a Dockerfile that builds tunelab and serves the model
// on port 7860 as user 1000, the model files under model/ and the tunelab source under src/.
package space

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"github.com/tunelab/tunelab/internal/yamlstr"
	"github.com/tunelab/tunelab/lab/hfmodel"
)

// ModulePath is the Go module whose source the Space builds.
const ModulePath = "github.com/tunelab/tunelab"

// AppPort is the port Hugging Face routes to a Docker Space.
const AppPort = 7860

// Spaces accepts these colours in colorFrom/colorTo.
var colors = []string{"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}

// Options describe the Space. ModelDir, OutDir and SourceDir are required.
type Options struct {
	// ModelDir is the fine-tuned model: config.json, safetensors weights, tokenizer files and
	// optionally its README.md model card.
	ModelDir string
	// OutDir receives the Space; it must not exist or be empty.
	OutDir string
	// SourceDir is the root of the tunelab module (its go.mod names ModulePath); the Go source
	// is copied so the Space builds without fetching tunelab itself.
	SourceDir string

	// MaxLength, when positive, is the number of tokens the model was fine-tuned with: the Space
	// serves with --max-length so that it truncates texts as training did (default: the model's
	// limit, at most 512).
	MaxLength int

	Title            string // default: the model folder's name
	Emoji            string // default 🏷️
	ColorFrom        string // default "indigo"
	ColorTo          string // default "blue"
	ShortDescription string // at most 60 characters (a Spaces limit)
}

func (o *Options) setDefaults() {
	if o.Title == "" {
		o.Title = filepath.Base(filepath.Clean(o.ModelDir))
	}
	if o.Emoji == "" {
		o.Emoji = "🏷️"
	}
	if o.ColorFrom == "" {
		o.ColorFrom = "indigo"
	}
	if o.ColorTo == "" {
		o.ColorTo = "blue"
	}
	if o.ShortDescription == "" {
		o.ShortDescription = "Text classification demo fine-tuned with tunelab"
	}
}

func (o *Options) check() error {
	if o.ModelDir == "" || o.OutDir == "" || o.SourceDir == "" {
		return errors.New("space: ModelDir, OutDir and SourceDir are required")
	}
	if !slices.Contains(colors, o.ColorFrom) || !slices.Contains(colors, o.ColorTo) {
		return fmt.Errorf("space: colours %q and %q: each must be one of %v", o.ColorFrom, o.ColorTo, colors)
	}
	if n := len([]rune(o.ShortDescription)); n > 60 {
		return fmt.Errorf("space: short description has %d characters, Spaces allows 60", n)
	}
	if strings.ContainsAny(o.Title+o.Emoji+o.ShortDescription, "\n\r") {
		return errors.New("space: title, emoji and short description must be one line each")
	}
	return nil
}

// Model files copied when present, besides config.json and the weights.
var optionalModelFiles = append(slices.Clone(hfmodel.TokenizerFiles), "README.md")

// ModelFiles lists the files of dir that the Space needs, relative to dir: config.json, the
// weights (hfmodel.FindWeights: model.safetensors, else model.safetensors.index.json and its
// shards), the tokenizer
// files and the model card. It fails when config.json, the weights or any tokenizer is missing.
func ModelFiles(dir string) ([]string, error) {
	files := []string{"config.json"}
	if !isFile(filepath.Join(dir, "config.json")) {
		return nil, fmt.Errorf("space: %s has no config.json: not a Hugging Face model folder", dir)
	}
	weights, err := hfmodel.FindWeights(dir)
	if err != nil {
		return nil, fmt.Errorf("space: %w", err)
	}
	if weights.Index != "" {
		files = append(files, weights.Index)
	}
	files = append(files, weights.Files...)
	hasTokenizer := false
	for _, name := range optionalModelFiles {
		if isFile(filepath.Join(dir, name)) {
			files = append(files, name)
			hasTokenizer = hasTokenizer || name == "tokenizer.json" || name == "vocab.txt" || name == "vocab.json"
		}
	}
	if !hasTokenizer {
		return nil, fmt.Errorf("space: %s has no tokenizer (tokenizer.json, vocab.txt or vocab.json)", dir)
	}
	for _, f := range files {
		if !isFile(filepath.Join(dir, f)) {
			return nil, fmt.Errorf("space: %s: missing %s", dir, f)
		}
	}
	return files, nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// Export writes the Space to OutDir. It builds the Space in a temporary folder beside OutDir
// and renames it into place, so a failure leaves no half-written Space.
func Export(opts Options) error {
	opts.setDefaults()
	if err := opts.check(); err != nil {
		return err
	}
	files, err := ModelFiles(opts.ModelDir)
	if err != nil {
		return err
	}
	if err := checkModule(opts.SourceDir); err != nil {
		return err
	}
	if entries, err := os.ReadDir(opts.OutDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("space: output folder %s exists and is not empty", opts.OutDir)
	}
	parent := filepath.Dir(filepath.Clean(opts.OutDir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("space: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".space-export-*")
	if err != nil {
		return fmt.Errorf("space: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	if err := writeSpace(tmp, opts, files); err != nil {
		return err
	}
	_ = os.Remove(opts.OutDir) // an empty folder may stand in the way
	if err := os.Rename(tmp, opts.OutDir); err != nil {
		return fmt.Errorf("space: %w", err)
	}
	return nil
}

func writeSpace(dir string, opts Options, files []string) error {
	readme, err := README(opts)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), readme, 0o644); err != nil {
		return fmt.Errorf("space: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), Dockerfile("src", "model", opts.MaxLength), 0o644); err != nil {
		return fmt.Errorf("space: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(".git\n"), 0o644); err != nil {
		return fmt.Errorf("space: %w", err)
	}
	gitattributes := "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
	if err := os.WriteFile(filepath.Join(dir, ".gitattributes"), []byte(gitattributes), 0o644); err != nil {
		return fmt.Errorf("space: %w", err)
	}
	for _, f := range files {
		if err := copyFile(filepath.Join(opts.ModelDir, f), filepath.Join(dir, "model", f)); err != nil {
			return err
		}
	}
	return copySource(opts.SourceDir, filepath.Join(dir, "src"))
}

// checkModule checks that dir is the root of the tunelab module.
func checkModule(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return fmt.Errorf("space: tunelab source: %w", err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	if strings.TrimSpace(first) != "module "+ModulePath {
		return fmt.Errorf("space: %s/go.mod declares %q, want module %s", dir, strings.TrimSpace(first), ModulePath)
	}
	return nil
}

// FindModuleRoot returns the nearest folder at or above dir holding the go.mod of ModulePath.
func FindModuleRoot(dir string) (string, error) {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if checkModule(d) == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("space: no go.mod of %s at or above %s: run inside the tunelab source or name it (--src)", ModulePath, dir)
		}
	}
}

// sourceDirs are the folders of the module the binary is built from, and the plugin installer.
var sourceDirs = []string{"cmd", "lab", "internal", "scripts/setup"}

// copySource copies go.mod, go.sum and the non-test Go files and embedded assets under
// sourceDirs, skipping testdata, node_modules and hidden folders.
func copySource(from, to string) error {
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := copyFile(filepath.Join(from, f), filepath.Join(to, f)); err != nil {
			return err
		}
	}
	for _, d := range sourceDirs {
		root := filepath.Join(from, d)
		err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := e.Name()
			if e.IsDir() {
				if path != root && (name == "testdata" || name == "node_modules" || name == "e2e" || strings.HasPrefix(name, ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if !e.Type().IsRegular() || strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, ".") {
				return nil
			}
			rel, _ := filepath.Rel(from, path)
			return copyFile(path, filepath.Join(to, rel))
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("space: copying source: %w", err)
		}
	}
	return nil
}

func copyFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return fmt.Errorf("space: %w", err)
	}
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("space: %w", err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return fmt.Errorf("space: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("space: copying %s: %w", from, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("space: %w", err)
	}
	return nil
}

// sentence ends s with a full stop unless it already ends with punctuation ("Real disaster?").
func sentence(s string) string {
	if strings.HasSuffix(s, ".") || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "!") {
		return s
	}
	return s + "."
}

var readmeTemplate = template.Must(template.New("README.md").Funcs(template.FuncMap{"yaml": yamlstr.Quote, "sentence": sentence}).Parse(`---
title: {{yaml .Title}}
emoji: {{yaml .Emoji}}
colorFrom: {{.ColorFrom}}
colorTo: {{.ColorTo}}
sdk: docker
app_port: {{.Port}}
short_description: {{yaml .ShortDescription}}
pinned: false
---

# {{.Title}}

{{sentence .ShortDescription}}

A text classifier fine-tuned with [tunelab](https://{{.Module}}) and served by ` + "`tunelab serve`" + `:
the demo page is at the Space's root, and the same model answers

- ` + "`POST /api/predict`" + ` with ` + "`{\"texts\": [\"...\"]}`" + ` (OpenAPI document at ` + "`/openapi.json`" + `);
- the Inference API's ` + "`{\"inputs\": \"...\"}`" + ` at the root URL and at ` + "`/api/predict`" + `, so
  ` + "`huggingface_hub.InferenceClient(model=\"https://OWNER-SPACE.hf.space\").text_classification(\"...\")`" + ` works;
- the Gradio API, so ` + "`gradio_client`" + ` works unchanged:

` + "```python" + `
from gradio_client import Client
client = Client("OWNER/SPACE")
print(client.predict("some text", api_name="/predict"))
` + "```" + `

The model files are in ` + "`model/`" + ` (its card: ` + "`model/README.md`" + `); ` + "`src/`" + ` holds the tunelab
source the Dockerfile builds.
`))

// README returns the Space's README.md: the Spaces YAML front matter, then a short description.
func README(opts Options) ([]byte, error) {
	opts.setDefaults()
	if err := opts.check(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err := readmeTemplate.Execute(&buf, struct {
		Options
		Port   int
		Module string
	}{opts, AppPort, ModulePath})
	return buf.Bytes(), err
}

var dockerfileTemplate = template.Must(template.New("Dockerfile").Parse(`# Builds tunelab and serves the baked-in model on port {{.Port}} on XLA's CPU plugin, tunelab's
# engine, which the build stage fetches from PyPI and checks (scripts/setup/xla-plugin.sh).
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY {{.Src}}/go.mod {{.Src}}/go.sum ./
RUN go mod download
COPY {{.Src}}/ ./
RUN TUNELAB_XLA_PLUGIN_DIR=/out/go-xla bash scripts/setup/xla-plugin.sh
# GOEXPERIMENT=simd turns on the SIMD kernels of the Go backend, the fallback without the plugin.
ENV GOEXPERIMENT=simd
RUN go build -trimpath -ldflags="-s -w" -o /out/tunelab ./cmd/tunelab

FROM debian:bookworm-slim
# tcmalloc: tunelab preloads it (lab/backend TCMalloc), which makes XLA's steps 5-25% faster.
RUN apt-get update && apt-get install -y --no-install-recommends libtcmalloc-minimal4 && rm -rf /var/lib/apt/lists/*
# Spaces run the container as user 1000; go-xla finds the plugin in its ~/.local/lib/go-xla.
RUN useradd --create-home --uid 1000 user
COPY --from=build /out/tunelab /usr/local/bin/tunelab
COPY --from=build --chown=1000:1000 /out/go-xla /home/user/.local/lib/go-xla
COPY --chown=1000:1000 {{.Model}} /app/model
USER user
WORKDIR /home/user
# The engines' settings (lab/backend TunedEnviron): asyncpreemptoff=1 keeps the Go backend (the
# fallback without the plugin) 3.6x faster, huge pages for malloc make XLA's steps 12% faster.
ENV HOME=/home/user GODEBUG=asyncpreemptoff=1 GLIBC_TUNABLES=glibc.malloc.hugetlb=1
EXPOSE {{.Port}}
CMD ["tunelab", "serve", "--model", "/app/model", "--port", "{{.Port}}"{{if .MaxLength}}, "--max-length", "{{.MaxLength}}"{{end}}]
`))

// Dockerfile returns the Space's Dockerfile: it builds the tunelab source found at src and bakes
// in the model folder model (both relative to the build context): "src" and "model" in an
// exported Space; docker/space/Dockerfile is the same with the repository root as context.
// maxLength, when positive, is passed to tunelab serve as --max-length.
func Dockerfile(src, model string, maxLength int) []byte {
	var buf bytes.Buffer
	if err := dockerfileTemplate.Execute(&buf, map[string]any{"Src": src, "Model": model, "Port": AppPort, "MaxLength": maxLength}); err != nil {
		panic(err) // the template and its data are fixed
	}
	return buf.Bytes()
}
