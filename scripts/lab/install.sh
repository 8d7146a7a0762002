#!/usr/bin/env bash
# install.sh sets up the notebook environment: JupyterLab and nbconvert (PyPI, pinned in
# scripts/lab/requirements.txt), the GoNB kernel and goimports from the Go module's tools
# (go.mod's `tool` lines, so the versions match the gonbui the notebooks import), gopls (hover
# and completion; without it the kernel complains at every start), and the kernelspec with
# --raw_error and the environment every cell needs (GOEXPERIMENT=simd and GODEBUG=asyncpreemptoff=1:
# without them GoMLX's Go backend runs ~6x and 3.6x slower; GLIBC_TUNABLES=glibc.malloc.hugetlb=1:
# XLA's training steps 12% faster; LD_PRELOAD of tcmalloc where it is installed, scripts/setup/tcmalloc.sh:
# 5-25% faster still, see lab/backend TCMalloc). Then JupyterLab's settings (no news pop-up, no update checks), the
# notebooks marked trusted, and a CJK font for Chinese reports (see install_cjk_font).
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
# gopls v0.23.0 is the newest that builds with Go 1.26.
go install golang.org/x/tools/gopls@v0.23.0
gobin=$(go env GOBIN)
gobin=${gobin:-$(go env GOPATH)/bin}
goroot_bin=$(go env GOROOT)/bin

PATH="$gobin:$goroot_bin:$PATH" "$gobin/gonb" --install --raw_error
kernel_json=$("$PYTHON" -c 'import jupyter_core.paths as p, os; print(os.path.join(p.jupyter_data_dir(), "kernels", "gonb", "kernel.json"))')
[[ -f "$kernel_json" ]] || { echo "install.sh: gonb --install wrote no $kernel_json" >&2; exit 1; }

tcmalloc=$(bash scripts/setup/tcmalloc.sh --path)
"$PYTHON" - "$kernel_json" "$gobin:$goroot_bin" "$tcmalloc" <<'PY'
import json, os, sys
path, tool_path, tcmalloc = sys.argv[1], sys.argv[2], sys.argv[3]
spec = json.load(open(path))
env = spec.setdefault("env", {})
env.update({
    "GOEXPERIMENT": "simd",
    "GODEBUG": "asyncpreemptoff=1",  # the Go backend is 3.6x slower with it on (lab/backend)
    "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1",  # XLA's training steps 12% faster (lab/backend)
    "PATH": tool_path + ":" + os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
})
if tcmalloc:  # every cell's program, as the tunelab command (lab/backend TunedEnviron)
    env["LD_PRELOAD"] = tcmalloc
# Unset, the lab picks its own safe Go backend settings (lab/backend); a chosen one is kept.
if os.environ.get("GOMLX_BACKEND"):
    env["GOMLX_BACKEND"] = os.environ["GOMLX_BACKEND"]
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(spec, f, indent=1)
os.replace(tmp, path)
print(f"GoNB kernel: {path}: argv {spec['argv']}, env {sorted(spec['env'])}")
PY

# JupyterLab asks on first start whether to fetch Jupyter news, in a pop-up over the notebook:
# answered "never" (and no update checks) for every user of this JupyterLab, in a settings file
# of the lab's own next to any others (overrides.d).
"$PYTHON" - <<'PY'
import json, os
from jupyterlab.commands import get_app_dir
path = os.path.join(get_app_dir(), "settings", "overrides.d", "tunelab.json")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path + ".tmp", "w") as f:
    json.dump({"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}, f, indent=1)
os.replace(path + ".tmp", path)
print(f"JupyterLab settings: {path}")
PY

# The committed notebooks carry outputs: trusted, JupyterLab shows them as they were made (their
# charts are images, which it shows either way; see lab/display.Image).
# (docker/lab runs this before it copies them, and trusts them after.)
shopt -s nullglob
committed=(notebooks/*.ipynb)
if ((${#committed[@]})); then
  "$PYTHON" -m jupyter trust "${committed[@]}"
fi

# install_cjk_font makes Chinese (and Japanese, Korean) text render in JupyterLab and in the
# exported report: Chromium prints the PDF with the fonts fontconfig knows, and without a CJK one
# a Chinese analysis cell prints as boxes. Debian/Ubuntu: fonts-wqy-microhei (WenQuanYi Micro
# Hei, 5 MB of TrueType, which Chromium embeds in the PDF as a named font; it prints CFF fonts
# such as Noto Sans CJK as nameless Type 3 glyphs), as root or through sudo. Elsewhere it says
# what to install.
install_cjk_font() {
  if command -v fc-list >/dev/null && [[ -n "$(fc-list :lang=zh family)" ]]; then
    return
  fi
  if [[ "$(uname)" == Darwin ]]; then
    return # macOS ships CJK fonts (PingFang).
  fi
  local sudo=""
  [[ $(id -u) == 0 ]] || sudo=$(command -v sudo || true)
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 || -n "$sudo" ]]; then
    echo "install.sh: installing a CJK font (fonts-wqy-microhei) for Chinese text in the notebooks and the report"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-wqy-microhei fontconfig ||
      { $sudo apt-get update && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fonts-wqy-microhei fontconfig; }
  else
    echo "install.sh: no CJK font found: Chinese text will print as boxes in the PDF report." \
      "Install one (Debian/Ubuntu: apt-get install fonts-wqy-microhei; Fedora: dnf install google-noto-sans-cjk-fonts)." >&2
  fi
}
install_cjk_font
