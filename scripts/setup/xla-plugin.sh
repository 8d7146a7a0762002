#!/usr/bin/env bash
# Installs XLA's CPU PJRT plugin, tunelab's default engine, into go-xla's per-user folder
# ($HOME/.local/lib/go-xla/pjrt_c_api_cpu_plugin.so), where the CLI, GoNB cells, the tests and
# the Space image find it with no variable set.
#
#   scripts/setup/xla-plugin.sh          (idempotent; a plugin already installed is kept)
#
# The plugin comes from a PyPI wheel, fetched with pip --no-deps (the wheel declares jax, which
# the plugin does not need) and checked against the sha256 pinned here before anything is
# installed; $TUNELAB_XLA_PLUGIN_WHEEL ("package==version sha256 path/in/wheel") pins another
# wheel instead (pip's own settings, such as PIP_INDEX_URL, choose where it comes from). A file
# there that is no plugin (damaged, half-copied) is replaced; one go-xla would load first from
# another folder is named for removal (exit 1). Where no wheel fits (macOS, ARM) it says so and
# exits 0: tunelab then runs on GoMLX's Go backend.
set -euo pipefail

PYTHON=${PYTHON:-python3}
dest_dir=${TUNELAB_XLA_PLUGIN_DIR:-$HOME/.local/lib/go-xla}
dest=$dest_dir/pjrt_c_api_cpu_plugin.so

# Wheels that carry XLA's CPU plugin: package==version, wheel sha256, file inside the wheel.
# The first is XLA's own PJRT C API plugin built from jaxlib 0.11.2's XLA (plugin v0.115); the
# second, an older build (v0.106), is used only where the first cannot be fetched.
sources=(
	"lammps-jax-pjrt-cpu==0.11.2 1319390d948b39f69f7dade496b7c385149d9ca6097a6b62114da113216d9ad1 lammps_jax_pjrt_cpu/pjrt_c_api_cpu_plugin.so"
	"fastatomstruct-xla-cpu==2026.6.23 88b1c430b341b4bea40a37420311c9c75db6e22b46d2ff95b6986577bee6afe9 fastatomstruct_xla_cpu/libpjrt_cpu.so"
)
[[ -n ${TUNELAB_XLA_PLUGIN_WHEEL:-} ]] && sources=("$TUNELAB_XLA_PLUGIN_WHEEL")

is_plugin() { # an ELF shared library naming GetPjrtApi, PJRT's entry point: lab/backend CheckPlugin's test, without reading symbols
	"$PYTHON" - "$1" <<-'EOF'
		import mmap, sys
		with open(sys.argv[1], "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
		    sys.exit(0 if m[:4] == b"\x7fELF" and m[16:18] == b"\x03\x00" and m.find(b"GetPjrtApi\0") >= 0 else 1)
	EOF
}

installed() { # the plugin go-xla would load, the first in its folders; fails if none is there or it is no plugin
	local d
	IFS=: read -r -a dirs <<<"${PJRT_PLUGIN_LIBRARY_PATH:-$dest_dir:/usr/local/lib/go-xla}"
	for d in "${dirs[@]}"; do
		[[ -n $d && -s $d/pjrt_c_api_cpu_plugin.so ]] || continue
		echo "$d/pjrt_c_api_cpu_plugin.so"
		is_plugin "$d/pjrt_c_api_cpu_plugin.so"
		return
	done
	return 1
}

if found=$(installed); then
	echo "xla-plugin.sh: XLA's CPU plugin is installed: $found"
	exit 0
elif [[ -n $found ]]; then
	echo "xla-plugin.sh: $found is not a PJRT plugin (an ELF shared library exporting GetPjrtApi)" >&2
	if [[ $found != "$dest" ]]; then
		echo "xla-plugin.sh: remove it: go-xla would load it before $dest" >&2
		exit 1
	fi
fi
if [[ $(uname -s) != Linux || $(uname -m) != x86_64 ]]; then
	echo "xla-plugin.sh: no XLA CPU plugin wheel for $(uname -s) $(uname -m): tunelab will run on GoMLX's Go backend"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for source in "${sources[@]}"; do
	read -r requirement sha256 inner <<<"$source"
	if ! "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
		--platform manylinux_2_27_x86_64 --dest "$work/$requirement" "$requirement" >"$work/pip.log" 2>&1; then
		echo "xla-plugin.sh: pip could not fetch $requirement:" >&2
		tail -n 3 "$work/pip.log" >&2
		continue
	fi
	wheel=$(echo "$work/$requirement"/*.whl)
	got=$(sha256sum "$wheel" | cut -d' ' -f1)
	if [[ $got != "$sha256" ]]; then
		echo "xla-plugin.sh: $(basename "$wheel"): sha256 $got, expected $sha256 (the registry served a different file); not installed" >&2
		continue
	fi
	"$PYTHON" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' "$wheel" "$inner" "$work/unpacked"
	mkdir -p "$dest_dir"
	cp "$work/unpacked/$inner" "$dest.tmp.$$"
	chmod 0755 "$dest.tmp.$$"
	mv "$dest.tmp.$$" "$dest" # atomic: a half-copied plugin is never in place
	echo "xla-plugin.sh: installed XLA's CPU plugin from $requirement in $dest"
	exit 0
done
echo "xla-plugin.sh: no source of XLA's CPU plugin could be installed: tunelab will run on GoMLX's Go backend" >&2
exit 0
