# tunelab: the two set-up commands of the README are `make demo` and `make test`.
#
# The engine is XLA on the CPU (XLA's PJRT CPU plugin, installed by `make setup`); every Go build
# also runs with GOEXPERIMENT=simd, without which GoMLX's Go backend (the fallback where the
# plugin does not load) runs ~6x slower.
export GOEXPERIMENT := simd
# asyncpreemptoff=1: with the Go runtime's asynchronous preemption on, the Go backend spends most
# of a training step in the preemption signal handler (3.6x slower on an AVX-512 Xeon); a GODEBUG
# of the caller's own comes after it, so it can still turn preemption back on.
# glibc.malloc.hugetlb=1: transparent huge pages for malloc's large blocks, where XLA's CPU
# plugin puts each step's new weights and optimizer state (12% faster steps; lab/backend
# TunedEnviron, which the tunelab command applies to itself too).
comma := ,
export GODEBUG := asyncpreemptoff=1$(if $(GODEBUG),$(comma)$(GODEBUG))
export GLIBC_TUNABLES := glibc.malloc.hugetlb=1$(if $(GLIBC_TUNABLES),:$(GLIBC_TUNABLES))
export TUNELAB_DATA ?= $(abspath ../shared/data)
PYTHON ?= python3
BIN := build/tunelab

.PHONY: setup models models-all demo test bench tunelab

# setup installs what the lab needs: XLA's CPU plugin (the engine), tcmalloc (the allocator its
# processes preload, lab/backend TCMalloc), Go modules, the Python
# packages the tests use as oracles (light: tokenizers, scikit-learn, gradio_client), and the
# offline default model; then it says which engine tunelab will run on.
setup: models
	bash scripts/setup/xla-plugin.sh
	bash scripts/setup/tcmalloc.sh
	go mod download
	$(PYTHON) -m pip install --quiet -r requirements-test.txt
	go run ./cmd/tunelab engine

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
	$(BIN) train --model all-MiniLM-L6-v2 --task tweets --data $(TUNELAB_DATA) --epochs 1 --max-length 64 --out build/tweets-minilm
	$(BIN) eval --model build/tweets-minilm --task tweets --data $(TUNELAB_DATA)
	$(BIN) serve --model build/tweets-minilm --port 7860

# test runs every test on the default engine, the notebooks included (executed in quick mode,
# exported to HTML and PDF, and opened in JupyterLab), then the numeric tests (logits and
# gradients against the goldens, the AdamW step, resume, determinism, save -> transformers
# reload) again on the Go backend, so both engines give the same numbers; CI runs exactly this.
NUMERIC_PACKAGES := ./lab/encoder/ ./lab/train/ ./lab/
test: setup models-all
	bash scripts/lab/install.sh
	go vet ./...
	TUNELAB_NOTEBOOKS=1 go test -count=1 -timeout 60m ./...
	GOMLX_BACKEND=go go test -count=1 -timeout 20m $(NUMERIC_PACKAGES)
	GOMLX_BACKEND=go go test -count=1 -timeout 20m -run 'TestTrainSaveLoadsInTransformers' ./cmd/tunelab/

# bench runs the speed comparisons against transformers + torch and Hugging Face tokenizers on
# this machine (about 15 minutes on 2 cores) and writes bench/results/; the peer's Python (with
# torch, transformers and gradio) is $$PYTHON_PEER. bench-finetune is the whole fine-tune of
# the disaster tweets on both sides, 3 seeds (about an hour on 2 cores).
PYTHON_PEER ?= /opt/oracle-venv/bin/python
.PHONY: bench-finetune
bench: models
	go run ./bench/forward -python $(PYTHON_PEER)
	go run ./bench/train_step -python $(PYTHON_PEER)
	go run ./bench/tokenizer -python $(PYTHON)
	go run ./bench/serve -compare -python $(PYTHON_PEER) -clients 32 -duration 60s
	go run ./bench/serve -compare -python $(PYTHON_PEER) -clients 1 -duration 20s -warmup 5s -out bench/results/one-client
bench-finetune: models
	go run ./bench/finetune -python $(PYTHON_PEER)

# lab installs the notebook environment (JupyterLab, nbconvert, the GoNB kernel with
# GOEXPERIMENT=simd) and starts JupyterLab on notebooks/ without opening a browser: open the URL
# it prints. TUNELAB_QUICK=1 makes the notebooks use small slices (minutes instead of hours).
.PHONY: lab report report-saved notebooks-test
lab: models-all
	bash scripts/lab/install.sh
	cd notebooks && jupyter lab --no-browser --ip=127.0.0.1 --port=8888 $(if $(filter 0,$(shell id -u)),--allow-root,)

# report executes the notebooks headless (the real run unless TUNELAB_QUICK=1) and exports each to
# HTML and PDF, plus build/report/lab-report.pdf (title page with the results, then the notebooks).
REPORT_FLAGS := $(if $(filter 1,$(TUNELAB_QUICK)),--quick,)
report: models-all
	bash scripts/lab/install.sh
	$(PYTHON) scripts/lab/report.py all $(REPORT_FLAGS) --out build/report

# report-saved exports the notebooks as they were last saved, without running anything: each from
# notebooks/ (run and saved in JupyterLab) or build/report/ (make report), whichever is newer, with
# the student's fields of notebooks/student.json on the title page.
report-saved:
	$(PYTHON) scripts/lab/report.py export --out build/report

# notebooks-test runs the notebooks in quick mode and checks the exported report (minutes).
notebooks-test: models-all
	bash scripts/lab/install.sh
	TUNELAB_NOTEBOOKS=1 go test -count=1 -timeout 60m -v ./notebooks/
