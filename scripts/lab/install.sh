#!/usr/bin/env bash
# install.sh sets up the notebook environment: JupyterLab and nbconvert (PyPI, pinned in
# scripts/lab/requirements.txt), the GoNB kernel and goimports from the Go module's tools
# (go.mod's `tool` lines, so the versions match the gonbui the notebooks import), and the
# kernelspec with --raw_error and the environment every cell needs (GOEXPERIMENT=simd: without
# it GoMLX's Go backend runs ~6x slower). gopls (hover and completion in JupyterLab) is optional
# and not installed: --force_deps; `go install golang.org/x/tools/gopls@v0.23.0` adds it.
#
# Usage: bash scripts/lab/install.sh     (PYTHON=python3 by default; JUPYTER_DATA_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip install --quiet -r scripts/lab/requirements.txt

# The tools land in GOBIN (default GOPATH/bin); the kernel gets that directory and Go's own on
# its PATH, since GoNB runs `go` and `goimports` for every cell.
export GOEXPERIMENT=simd
go install tool
gobin=$(go env GOBIN)
gobin=${gobin:-$(go env GOPATH)/bin}
goroot_bin=$(go env GOROOT)/bin

PATH="$gobin:$goroot_bin:$PATH" "$gobin/gonb" --install --raw_error --force_deps
kernel_json=$("$PYTHON" -c 'import jupyter_core.paths as p, os; print(os.path.join(p.jupyter_data_dir(), "kernels", "gonb", "kernel.json"))')
[[ -f "$kernel_json" ]] || { echo "install.sh: gonb --install wrote no $kernel_json" >&2; exit 1; }

"$PYTHON" - "$kernel_json" "$gobin:$goroot_bin" <<'PY'
import json, os, sys
path, tool_path = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
env = spec.setdefault("env", {})
env.update({
    "GOEXPERIMENT": "simd",
    "PATH": tool_path + ":" + os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
})
# Unset, the lab picks its own safe Go backend settings (lab/backend); a chosen one is kept.
if os.environ.get("GOMLX_BACKEND"):
    env["GOMLX_BACKEND"] = os.environ["GOMLX_BACKEND"]
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(spec, f, indent=1)
os.replace(tmp, path)
print(f"GoNB kernel: {path}: argv {spec['argv']}, env {sorted(spec['env'])}")
PY
