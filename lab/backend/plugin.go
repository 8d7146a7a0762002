package backend

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// PluginPathEnv lists the folders (":"-separated) searched for PJRT plugins instead of the
// default ones, as go-xla reads it.
const PluginPathEnv = "PJRT_PLUGIN_LIBRARY_PATH"

// PluginDirs returns the folders searched for PJRT plugins, in order: $PJRT_PLUGIN_LIBRARY_PATH
// when set, otherwise go-xla's default folders ($HOME/.local/lib/go-xla first, where `make
// setup` installs the CPU plugin, then /usr/local/lib/go-xla).
func PluginDirs() []string {
	if paths, ok := os.LookupEnv(PluginPathEnv); ok {
		var dirs []string
		for _, d := range strings.Split(paths, ":") {
			if d != "" {
				dirs = append(dirs, d)
			}
		}
		return dirs
	}
	var dirs []string
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".local", "lib", "go-xla"))
	}
	return append(dirs, "/usr/local/lib/go-xla")
}

// UserPluginDir is where `make setup` installs the CPU plugin: go-xla's per-user folder.
func UserPluginDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "lib", "go-xla"), nil
}

// pluginFileNames are the file names go-xla recognises for the plugin called name.
func pluginFileNames(name string) []string {
	ext := ".so"
	switch runtime.GOOS {
	case "darwin":
		ext = ".dylib"
	case "windows":
		ext = ".dll"
	}
	return []string{"pjrt_c_api_" + name + "_plugin" + ext, "pjrt-plugin-" + name + ext, "pjrt_plugin_" + name + ext}
}

// FindPlugin returns the path of the PJRT plugin called name ("cpu", "cuda") in PluginDirs.
func FindPlugin(name string) (string, error) {
	dirs := PluginDirs()
	for _, dir := range dirs {
		for _, file := range pluginFileNames(name) {
			path := filepath.Join(dir, file)
			if _, err := os.Stat(path); err == nil {
				return path, nil
			}
		}
	}
	return "", fmt.Errorf("no PJRT %q plugin (%s) in %s", name, pluginFileNames(name)[0], strings.Join(dirs, ", "))
}

// CheckPlugin checks that path is a shared library for this machine that exports GetPjrtApi,
// the entry point of every PJRT plugin. go-xla v0.4.5 crashes (a nil handle dereferenced in its
// plugin search) on a file it cannot load, so tunelab checks before handing it over.
func CheckPlugin(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("PJRT plugin: %w", err)
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("PJRT plugin %s is not a shared library (%v): reinstall it: %s", path, err, InstallHint)
	}
	defer f.Close()
	if want := elfMachine(); f.Machine != want {
		return fmt.Errorf("PJRT plugin %s is built for %v, this machine is %v (%s)", path, f.Machine, want, runtime.GOARCH)
	}
	if f.Type != elf.ET_DYN {
		return fmt.Errorf("PJRT plugin %s is an %v file, not a shared library", path, f.Type)
	}
	symbols, err := f.DynamicSymbols()
	if err != nil {
		return fmt.Errorf("PJRT plugin %s has no symbol table (%v): reinstall it: %s", path, err, InstallHint)
	}
	for _, s := range symbols {
		if s.Name == "GetPjrtApi" && elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF {
			return nil
		}
	}
	return fmt.Errorf("PJRT plugin %s does not export GetPjrtApi: the file is not a PJRT plugin", path)
}

func elfMachine() elf.Machine {
	switch runtime.GOARCH {
	case "arm64":
		return elf.EM_AARCH64
	default:
		return elf.EM_X86_64
	}
}

// pluginName returns the name go-xla gives the plugin file at path ("cpu" for
// .../pjrt_c_api_cpu_plugin.so), or "" for a file not named as a plugin.
func pluginName(path string) string {
	base := filepath.Base(path)
	for _, pattern := range pluginFileNames("*") {
		prefix, suffix, _ := strings.Cut(pattern, "*")
		if name, ok := strings.CutPrefix(base, prefix); ok && strings.HasSuffix(name, suffix) && len(name) > len(suffix) {
			return strings.TrimSuffix(name, suffix)
		}
	}
	return ""
}
