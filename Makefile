# tunelab: the two set-up commands of the README are `make demo` and `make test`.
#
# Every Go build runs with GOEXPERIMENT=simd: without it GoMLX's Go backend runs ~6x slower.
export GOEXPERIMENT := simd
export TUNELAB_DATA ?= $(abspath ../shared/data)
PYTHON ?= python3
BIN := build/tunelab

.PHONY: setup models models-all demo test bench tunelab

# setup installs what the lab needs: Go modules, the Python packages the tests use as oracles
# (light: tokenizers, scikit-learn, gradio_client), and the offline default model.
setup: models
	go mod download
	$(PYTHON) -m pip install --quiet -r requirements-test.txt

# models installs the offline default model; models-all also the other pretrained models of
# the catalogue (models/README.md), for comparisons.
models:
	bash scripts/models/install.sh all-MiniLM-L6-v2

models-all:
	bash scripts/models/install.sh

tunelab:
	go build -o $(BIN) ./cmd/tunelab

# demo is the main job: fine-tune the default model on the disaster tweets, evaluate it on a
# held-out split, and serve the demo on http://localhost:7860.
demo: setup tunelab
	$(BIN) train --model all-MiniLM-L6-v2 --task tweets --data $(TUNELAB_DATA) --out build/tweets-minilm
	$(BIN) eval --model build/tweets-minilm --task tweets --data $(TUNELAB_DATA)
	$(BIN) serve --model build/tweets-minilm --port 7860

# test runs every test; CI runs exactly this.
test: setup
	go vet ./...
	go test -count=1 -timeout 40m ./...

# bench runs the speed comparisons against transformers + torch on this machine; the peer's
# Python (with torch and transformers) is $$PYTHON_PEER.
PYTHON_PEER ?= /opt/oracle-venv/bin/python
bench: models
	go run ./bench/forward -python $(PYTHON_PEER)
