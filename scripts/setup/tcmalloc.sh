#!/usr/bin/env bash
# Installs tcmalloc (gperftools' minimal library, Debian's and Ubuntu's libtcmalloc-minimal4),
# which tunelab's processes preload where it is installed (lab/backend TCMalloc): under glibc's
# malloc each XLA step's scratch block (GBs) goes back to the kernel when freed and comes back as
# fresh pages the kernel must zero, 4-12% of a training step's CPU time.
#
#   scripts/setup/tcmalloc.sh          (idempotent; as root with apt-get, else it says how)
#   scripts/setup/tcmalloc.sh --path   (prints the installed library's path, nothing without one)
#
# Without it tunelab runs on glibc's malloc, as fast as before, and `tunelab engine` says so.
set -euo pipefail

# have prints the library tunelab preloads: the same names in the same folders, in the same order,
# as lab/backend TCMalloc (TestTCMallocScriptAgrees holds the two together).
have() {
	local dir name
	for dir in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
		for name in libtcmalloc_minimal.so.4 libtcmalloc.so.4; do
			if [[ -e $dir/$name ]]; then
				echo "$dir/$name"
				return
			fi
		done
	done
	return 0 # none: nothing printed
}

if [[ ${1:-} == --path ]]; then
	have
	exit 0
fi

if [[ $(uname -s) != Linux ]]; then
	echo "tcmalloc.sh: tunelab preloads tcmalloc on Linux only: glibc's allocator is the one it replaces"
	exit 0
fi
if found=$(have) && [[ -n $found ]]; then
	echo "tcmalloc.sh: tcmalloc is installed: $found"
	exit 0
fi
if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq --no-install-recommends libtcmalloc-minimal4 >/dev/null 2>&1; then
		apt-get update -qq && apt-get install -y -qq --no-install-recommends libtcmalloc-minimal4 >/dev/null
	fi
	echo "tcmalloc.sh: installed tcmalloc: $(have)"
else
	echo "tcmalloc.sh: tcmalloc is not installed; XLA's training steps are 5-25% faster with it (Debian, Ubuntu: sudo apt install libtcmalloc-minimal4; Fedora: sudo dnf install gperftools-libs)"
fi
