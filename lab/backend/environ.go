package backend

import "strings"

// The environment settings tunelab's engines want. The Go runtime and glibc read them only when
// a process starts, so make, the notebooks' kernel and the Space image set them, and the tunelab
// command starts itself again with them (TunedEnviron).
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

// TunedEnviron returns environ (KEY=value entries, as os.Environ) with GODEBUG's
// asyncpreemptoff=1 and GLIBC_TUNABLES' glibc.malloc.hugetlb=1 added where environ does not set
// them (a value set there is kept), or nil when it sets both already.
func TunedEnviron(environ []string) []string {
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

// WithoutHugePages returns environ without the glibc tunable TunedEnviron adds, keeping every
// other tunable: the environment for programs that are not tunelab's (a benchmark's peers).
func WithoutHugePages(environ []string) []string {
	name, _, _ := strings.Cut(mallocHugePages, "=")
	var env []string
	for _, kv := range environ {
		if tunables, ok := strings.CutPrefix(kv, "GLIBC_TUNABLES="); ok {
			var kept []string
			for _, t := range strings.Split(tunables, ":") {
				if !settingNamed(t, ":", name) {
					kept = append(kept, t)
				}
			}
			if len(kept) == 0 {
				continue
			}
			kv = "GLIBC_TUNABLES=" + strings.Join(kept, ":")
		}
		env = append(env, kv)
	}
	return env
}
