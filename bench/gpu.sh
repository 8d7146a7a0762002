#!/usr/bin/env bash
# gpu.sh measures tunelab's training step on an NVIDIA GPU (GoMLX's XLA backend with a PJRT CUDA
# plugin) against transformers + torch on the same GPU, on a machine without network access and
# without Go: nothing is built or downloaded there.
#
#   bench/gpu.sh build    here, from the repository root: builds build/gpu/ (train_step, peer.py,
#                         benchkit.py and this script), which is self-contained.
#   build/ is what to carry to the GPU machine (e.g. rsync -a build/ gpu:tunelab/build/); then
#   bench/gpu.sh run      there, from the directory holding build/ (or build/gpu/gpu.sh run):
#                         BERT-base shape, batch 32 x seq 128, 5 timed steps per side, within 5
#                         minutes; results in build/gpu/results/{tunelab,torch}/train_step.md.
#                         On a machine with several GPUs both sides run on one and on all of
#                         them, the batch of 32 split across them: tunelab as `tunelab train
#                         --devices all`, torch as the Trainer under torchrun (one process per
#                         GPU, DistributedDataParallel over NCCL); the summary gives each side's
#                         samples/s on all GPUs and its scaling efficiency.
#
# run finds the PJRT CUDA plugin in $PJRT_PLUGIN_LIBRARY_PATH when set, else in the
# jax-cuda12-pjrt / jax-cuda13-pjrt wheel (jax_plugins/xla_cuda*/xla_cuda_plugin.so) of python3's
# site-packages (system and user), with the CUDA libraries of the nvidia-* wheels in that
# site-packages' nvidia/. The torch side needs a python ($PYTHON, default python3) with torch
# (CUDA, with NCCL for several GPUs) and transformers; without one it is skipped, saying why.
#
# Environment: GPU_BUILD_DIR (default build/gpu); GPU_SITE_PACKAGES, colon-separated
# site-packages directories to search instead of python3's; GPU_PLUGIN_DIR, where to lay the
# plugin out (default: a temporary directory, removed at exit).
#
# Exit status: 2 when no plugin is found; else the first failing side's (124: timed out).
set -u

budget=290 # seconds for everything, within the 5 minutes promised above

die() {
	echo "gpu.sh: $2" >&2
	exit "$1"
}

build() {
	[ -f go.mod ] && [ -d bench/train_step ] || die 1 "build runs from the repository root (no go.mod and bench/train_step in $PWD)"
	mkdir -p "$dir" || exit 1
	GOEXPERIMENT=simd go build -o "$dir/train_step" ./bench/train_step || die 1 "building bench/train_step failed"
	cp bench/train_step/peer.py bench/forward/benchkit/benchkit.py bench/gpu.sh "$dir/" || exit 1
	echo "gpu.sh: built $dir; carry $(dirname "$dir")/ to the GPU machine and run: $dir/gpu.sh run"
}

# find_plugin sets plugin (the plugin's .so) and site (the site-packages holding it), or leaves
# plugin empty when $PJRT_PLUGIN_LIBRARY_PATH already holds a plugin go-xla loads as it is.
find_plugin() {
	plugin="" site=""
	local d so sites=()
	if [ -n "${PJRT_PLUGIN_LIBRARY_PATH:-}" ]; then
		IFS=: read -ra sites <<<"$PJRT_PLUGIN_LIBRARY_PATH"
		for d in "${sites[@]}"; do
			if [ -f "$d/pjrt_c_api_cuda_plugin.so" ]; then
				echo "gpu.sh: plugin $d/pjrt_c_api_cuda_plugin.so (PJRT_PLUGIN_LIBRARY_PATH)"
				return 0
			fi
			# A jax_plugins/xla_cuda* directory: go-xla does not load xla_cuda_plugin.so by that name.
			if [ -f "$d/xla_cuda_plugin.so" ]; then
				plugin=$(readlink -f "$d/xla_cuda_plugin.so") site=$(readlink -f "$d/../..")
				return 0
			fi
		done
		echo "gpu.sh: no PJRT CUDA plugin found: PJRT_PLUGIN_LIBRARY_PATH=$PJRT_PLUGIN_LIBRARY_PATH holds neither pjrt_c_api_cuda_plugin.so nor xla_cuda_plugin.so" >&2
		return 1
	fi
	sites=()
	if [ -n "${GPU_SITE_PACKAGES:-}" ]; then
		IFS=: read -ra sites <<<"$GPU_SITE_PACKAGES"
	elif command -v python3 >/dev/null; then
		mapfile -t sites < <(python3 -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))')
	fi
	for d in "${sites[@]}"; do
		for so in "$d"/jax_plugins/xla_cuda*/xla_cuda_plugin.so; do
			if [ -f "$so" ]; then
				plugin=$(readlink -f "$so") site=$(readlink -f "$d")
				return 0
			fi
		done
	done
	echo "gpu.sh: no PJRT CUDA plugin found: PJRT_PLUGIN_LIBRARY_PATH is unset and there is no jax_plugins/xla_cuda*/xla_cuda_plugin.so (pip wheels jax-cuda12-pjrt or jax-cuda13-pjrt, with their nvidia-* wheels) in ${sites[*]:-the site-packages of python3 (none on PATH)}" >&2
	return 1
}

# lay_out_plugin gives go-xla the names it looks for: T/lib/pjrt_c_api_cuda_plugin.so, and the
# CUDA libraries in T/nvidia (../nvidia from the plugin's directory, as the plugin's RPATH has it).
lay_out_plugin() {
	local t=${GPU_PLUGIN_DIR:-}
	if [ -z "$t" ]; then
		t=$(mktemp -d) || exit 1
		# Expanded now: t is local, gone by the time the trap runs (set -u would fail on it).
		trap "rm -rf '$t'" EXIT
	fi
	mkdir -p "$t/lib" || exit 1
	ln -sfn "$plugin" "$t/lib/pjrt_c_api_cuda_plugin.so" || exit 1
	if [ -d "$site/nvidia" ]; then
		ln -sfn "$site/nvidia" "$t/nvidia" || exit 1
		# XLA compiles its kernels with ptxas, which the nvidia-cuda-nvcc wheel ships.
		[ -d "$site/nvidia/cuda_nvcc/bin" ] && PATH=$site/nvidia/cuda_nvcc/bin:$PATH
	else
		echo "gpu.sh: warning: no $site/nvidia: the plugin will look for the CUDA libraries on the system's library path" >&2
	fi
	export PJRT_PLUGIN_LIBRARY_PATH=$t/lib
	echo "gpu.sh: plugin $plugin, laid out in $t"
}

# side runs one side of train_step under the time left (at most $1 seconds), its output shown and
# kept in $dir/results/$2.log; on failure it says so with the binary's last lines.
side() {
	local cap=$1 name=$2 left rc
	shift 2
	left=$((budget - SECONDS))
	[ "$left" -lt "$cap" ] && cap=$left
	[ "$cap" -le 10 ] && die 124 "no time left for the $name side"
	mkdir -p "$dir/results" || exit 1
	timeout "$cap" "$dir/train_step" -side "$name" -only bert-base -batch 32 -seq 128 -reps 5 \
		-out "$dir/results/$name" "$@" 2>&1 | tee "$dir/results/$name.log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 124 ]; then
		echo "gpu.sh: $name side timed out after $cap s" >&2
	elif [ "$rc" -ne 0 ]; then
		echo "gpu.sh: $name side failed (exit $rc); its error:" >&2
		grep -v '^[[:space:]]*$' "$dir/results/$name.log" | tail -n 3 >&2
	fi
	return "$rc"
}

# torch_python prints why $PYTHON (or python3) cannot run the peer on CUDA, and fails; or
# succeeds silently.
torch_python() {
	command -v "$py" >/dev/null || {
		echo "no $py on PATH"
		return 1
	}
	timeout 60 "$py" -c '
import sys
try:
    import torch, transformers
except ImportError as e:
    sys.exit(f"cannot import {e.name}")
if not torch.cuda.is_available():
    sys.exit(f"torch {torch.__version__} sees no CUDA device (torch.cuda.is_available() is False)")' 2>&1 ||
		{
			[ $? -eq 124 ] && echo "importing torch took over 60 s"
			return 1
		}
}

# samples_per_second prints the samples/s of bert-base's row for side $2 ("xla:cuda", "torch
# (cuda)") in the per-side table of result $1's train_step.md.
samples_per_second() {
	local v
	v=$(awk -F'|' -v side="$2" '
		function trim(s) { gsub(/^ +| +$/, "", s); return s }
		/^\| workload \| side \|/ { table = 1; next }
		/^\| workload \| engine \| devices \|/ { table = 0 }
		table && trim($2) == "bert-base" && trim($3) == side { print trim($4) }' "$dir/results/$1/train_step.md" 2>/dev/null)
	echo "${v:-none (failed or skipped)}"
}

# scaling prints, for each device count above one in the scaling table of result $1's
# train_step.md, the samples/s of bert-base and the scaling efficiency.
scaling() {
	awk -F'|' '
		function trim(s) { gsub(/^ +| +$/, "", s); return s }
		/^\| workload \| engine \| devices \|/ { table = 1; next }
		table && trim($2) == "bert-base" {
			side = trim($3) # "torch (cuda)", or a tunelab engine
			if (side !~ /^torch /) side = "tunelab (" side ")"
			printf "  %s on %s GPUs samples/s: %s, %sx one GPU, scaling efficiency %s\n", side, trim($4), trim($5), trim($6), trim($7)
		}' "$dir/results/$1/train_step.md" 2>/dev/null
}

run() {
	[ -f "$dir/train_step" ] && [ -x "$dir/train_step" ] || die 1 "no $dir/train_step: run bench/gpu.sh build in the repository root and carry build/ here"
	find_plugin || exit 2
	[ -n "$plugin" ] && lay_out_plugin
	local status rc
	side 180 tunelab -backend xla:cuda -devices 1,all
	status=$?
	py=${PYTHON:-python3}
	if why=$(torch_python); then
		# Last, so it may take what time is left: it starts torch twice, once per device count.
		side "$budget" torch -device cuda -python "$py" -peer "$dir/peer.py" -peer-devices 1,all
		rc=$?
		[ "$status" -eq 0 ] && status=$rc
	else
		echo "gpu.sh: torch side skipped: $py cannot run it: $why" >&2
	fi
	gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
	gpus=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | wc -l)
	echo "bert-base, batch 32 x seq 128, training step on ${gpu:-the GPU}${gpu:+ ($gpus GPUs)}:"
	echo "  tunelab (xla:cuda) on 1 GPU samples/s: $(samples_per_second tunelab xla:cuda)"
	scaling tunelab
	echo "  torch (cuda) on 1 GPU samples/s: $(samples_per_second torch "torch (cuda)")"
	scaling torch
	exit "$status"
}

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${GPU_BUILD_DIR:-}" ] && [ -f "$here/train_step" ]; then
	dir=$here # run as build/gpu/gpu.sh
else
	dir=${GPU_BUILD_DIR:-build/gpu}
fi
case "${1:-}" in
build) build ;;
run) run ;;
*) die 1 "usage: $0 build|run" ;;
esac
