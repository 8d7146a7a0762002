package backend

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
)

// The environment settings tunelab's engines want. The Go runtime, glibc and the dynamic loader
// read them only when a process starts, so make, the notebooks' kernel and the Space image set
// them, and the tunelab command and the benchmarks start themselves again with them
// (StartTuned).
const (
	// asyncPreemptOff: with the Go runtime's asynchronous preemption on, the Go backend spends
	// most of a training step in the preemption signal handler (3.6x slower, see newGo).
	asyncPreemptOff = "asyncpreemptoff=1"
	// mallocHugePages: XLA's CPU plugin allocates each step's outputs (the weights and the
	// optimizer's moments, 270 MB for MiniLM) afresh with malloc; with transparent huge pages
	// for them a MiniLM training step at 16 x 48 tokens made 1.6 thousand page faults instead
	// of 56 thousand and took 12% less time (bench/results).
	mallocHugePages = "glibc.malloc.hugetlb=1"
)

// tcmallocNames are the shared libraries of gperftools' tcmalloc, the minimal one (Debian's and
// Ubuntu's libtcmalloc-minimal4) first, and libDirs where distributions put them; the shell's
// finder, scripts/setup/tcmalloc.sh --path, searches the same.
var (
	tcmallocNames = []string{"libtcmalloc_minimal.so.4", "libtcmalloc.so.4"}
	libDirs       = []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"}
)

// TCMalloc returns the path of tcmalloc's shared library on this machine, or "" where there is
// none (and off Linux).
//
// XLA's CPU plugin allocates every execution's scratch memory in one block (1.25 GB for a MiniLM
// training step at 32 x 128 tokens, 4.5 GB for BERT-base) and frees it at the end; glibc's
// malloc hands every block over 32 MB back to the kernel when it is freed, so each step
// started on fresh pages that the kernel zeroed: 4% of a MiniLM step's CPU time and 12% of a
// BERT-base step's. tcmalloc keeps freed blocks for the next step, with the same peak memory.
func TCMalloc() string {
	if runtime.GOOS != "linux" {
		return ""
	}
	for _, dir := range libDirs {
		for _, name := range tcmallocNames {
			path := filepath.Join(dir, name)
			if _, err := os.Stat(path); err == nil {
				return path
			}
		}
	}
	return ""
}

// TunedEnviron returns environ (KEY=value entries, as os.Environ) with GODEBUG's
// asyncpreemptoff=1 and GLIBC_TUNABLES' glibc.malloc.hugetlb=1 added where environ does not set
// them (a value set there is kept), and LD_PRELOAD set to tcmalloc where it is installed and
// environ has no LD_PRELOAD (one of the caller's own, even empty, is kept as it is), or nil when
// nothing is to change.
func TunedEnviron(environ []string) []string {
	return tunedEnviron(environ, TCMalloc())
}

// tunedEnviron is TunedEnviron with tcmalloc at the path allocator ("": none).
func tunedEnviron(environ []string, allocator string) []string {
	settings := []struct{ key, setting, separator string }{
		{"GODEBUG", asyncPreemptOff, ","},
		{"GLIBC_TUNABLES", mallocHugePages, ":"},
	}
	tuned := append([]string(nil), environ...)
	changed := false
	for _, s := range settings {
		name, _, _ := strings.Cut(s.setting, "=")
		i := len(tuned)
		value := ""
		for j, kv := range tuned {
			if v, ok := strings.CutPrefix(kv, s.key+"="); ok {
				i, value = j, v
			}
		}
		if settingNamed(value, s.separator, name) {
			continue
		}
		if value != "" {
			value += s.separator
		}
		entry := s.key + "=" + value + s.setting
		if i == len(tuned) {
			tuned = append(tuned, entry)
		} else {
			tuned[i] = entry
		}
		changed = true
	}
	preloads := slices.ContainsFunc(tuned, func(kv string) bool { return strings.HasPrefix(kv, "LD_PRELOAD=") })
	if allocator != "" && !preloads {
		tuned = append(tuned, "LD_PRELOAD="+allocator)
		changed = true
	}
	if !changed {
		return nil
	}
	return tuned
}

// settingNamed reports whether list (settings joined by separator) sets name.
func settingNamed(list, separator, name string) bool {
	for _, field := range strings.Split(list, separator) {
		if strings.HasPrefix(strings.TrimSpace(field), name+"=") {
			return true
		}
	}
	return false
}

// StartTuned starts this program again, in place, with TunedEnviron's settings, which the Go
// runtime, glibc and the dynamic loader read only at start-up; it returns when they are set
// already, or when the new start fails (the program then runs as it is).
func StartTuned() {
	env := TunedEnviron(os.Environ())
	if env == nil {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	_ = syscall.Exec(exe, os.Args, env)
}

// Untuned returns environ without what TunedEnviron adds for tunelab's engines, keeping every
// other setting: the environment for programs that are not tunelab's (a benchmark's peers, run
// as their own users run them). It drops glibc.malloc.hugetlb from GLIBC_TUNABLES and any
// tcmalloc from LD_PRELOAD.
func Untuned(environ []string) []string {
	name, _, _ := strings.Cut(mallocHugePages, "=")
	var env []string
	for _, kv := range environ {
		key, value, _ := strings.Cut(kv, "=")
		var kept []string
		switch key {
		case "GLIBC_TUNABLES":
			for _, t := range strings.Split(value, ":") {
				if !settingNamed(t, ":", name) {
					kept = append(kept, t)
				}
			}
			kv = key + "=" + strings.Join(kept, ":")
		case "LD_PRELOAD": // the loader takes colons or spaces between paths
			for _, lib := range strings.FieldsFunc(value, func(r rune) bool { return r == ':' || r == ' ' }) {
				if !isTCMalloc(lib) {
					kept = append(kept, lib)
				}
			}
			kv = key + "=" + strings.Join(kept, ":")
		default:
			env = append(env, kv)
			continue
		}
		if len(kept) > 0 {
			env = append(env, kv)
		}
	}
	return env
}

// LoadedTCMalloc returns the path of the tcmalloc library the dynamic loader mapped into this
// process (/proc/self/maps), or "" when it runs on glibc's malloc.
func LoadedTCMalloc() string {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(maps), "\n") {
		if fields := strings.Fields(line); len(fields) >= 6 && isTCMalloc(fields[len(fields)-1]) {
			return fields[len(fields)-1]
		}
	}
	return ""
}

// isTCMalloc reports whether the shared library at path is tcmalloc's.
func isTCMalloc(path string) bool { return strings.HasPrefix(filepath.Base(path), "libtcmalloc") }
