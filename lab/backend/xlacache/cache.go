//go:build !noxla

package xlacache

/*
#cgo CFLAGS: -O2
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "cache.h"
*/
import "C"

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/cgo"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/tunelab/tunelab/internal/atomicfile"
)

// DefaultLimit is the most bytes the folder keeps: past it the least recently used programs go.
// A MiniLM fine-tune's 9 programs take about 60 MB.
const DefaultLimit = 4 << 30

var (
	identity []byte // what besides the program decides the compiled code (plugin, CPU, XLA_FLAGS)
	// identities are the plugins' identities as first installed: the plugin reads XLA_FLAGS
	// when it loads, so a later change of the variable does not change what it compiles.
	identities = map[string][]byte{}
	// problem is the first thing that went wrong with the cache, said once on stderr.
	problem sync.Once
)

// Install puts the cache, kept in folder, in front of the compiler of the plugin loaded from
// pluginPath (go-xla has loaded it already); folder "" turns the cache off. Installing again
// only changes the folder.
func Install(pluginPath, folder string) error {
	if folder != "" {
		if err := os.MkdirAll(folder, 0o755); err != nil {
			mu.Lock()
			dir = "" // off, rather than the folder of an earlier Install
			mu.Unlock()
			return fmt.Errorf("xlacache: %w", err)
		}
	}
	mu.Lock()
	id, known := identities[pluginPath]
	mu.Unlock()
	if !known {
		var err error
		if id, err = identify(pluginPath); err != nil {
			return err
		}
	}
	mu.Lock()
	identity, identities[pluginPath] = id, id
	mu.Unlock()
	path := C.CString(pluginPath)
	defer C.free(unsafe.Pointer(path))
	var why *C.char
	if C.install_compile_cache(path, &why) == 0 {
		return fmt.Errorf("xlacache: %s: %s", pluginPath, C.GoString(why))
	}
	mu.Lock()
	dir = folder
	mu.Unlock()
	return nil
}

// identify returns what, besides a program and its options, decides the code the plugin at
// pluginPath compiles: the plugin file (its path, size and time: hashing 300 MB would cost a
// second), the CPU (XLA compiles for the features of the one it runs on) and XLA_FLAGS.
func identify(pluginPath string) ([]byte, error) {
	info, err := os.Stat(pluginPath)
	if err != nil {
		return nil, fmt.Errorf("xlacache: %w", err)
	}
	cpu, _ := os.ReadFile("/proc/cpuinfo")
	var b bytes.Buffer
	fmt.Fprintf(&b, "tunelab xlacache 1\n%s\n%d %d\n%s\n%s\n%s\n", pluginPath, info.Size(), info.ModTime().UnixNano(),
		runtime.GOARCH, firstProcessor(cpu), os.Getenv("XLA_FLAGS"))
	return b.Bytes(), nil
}

// firstProcessor returns the model and feature lines of cpuinfo's first processor.
func firstProcessor(cpuinfo []byte) string {
	var kept []string
	for _, line := range strings.Split(string(cpuinfo), "\n") {
		if line == "" && len(kept) > 0 {
			break
		}
		key, _, _ := strings.Cut(line, ":")
		switch strings.TrimSpace(key) {
		case "vendor_id", "cpu family", "model", "model name", "flags":
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}

// key returns the file name of a program's executable.
func key(id, format, code, options []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{id, format, code, options} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return fmt.Sprintf("%x.xla", h.Sum(nil))
}

// unnamed returns an MLIR program with its module's name left out: GoMLX names a graph after
// the order its Exec first compiled its shapes in ("Exec:fn#3"), which concurrent compilation
// changes from run to run, and the name changes nothing in the compiled code.
func unnamed(code []byte) []byte {
	const header = "module @"
	rest, ok := bytes.CutPrefix(code, []byte(header))
	if !ok {
		return code
	}
	end := bytes.IndexAny(rest, " {\n")
	if end < 0 {
		return code
	}
	return slices.Concat([]byte(header), rest[end:])
}

// A file holds magic, the SHA-256 of the executable, then the executable: the plugin is given
// only bytes that were written whole (a truncated or damaged file is compiled afresh).
var magic = []byte("tunelab compiled XLA program\n")

func encode(executable []byte) []byte {
	sum := sha256.Sum256(executable)
	return slices.Concat(magic, sum[:], executable)
}

func decode(file []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(file, magic)
	if !ok || len(rest) < sha256.Size {
		return nil, errors.New("not a compiled program")
	}
	executable := rest[sha256.Size:]
	if sum := sha256.Sum256(executable); !bytes.Equal(sum[:], rest[:sha256.Size]) {
		return nil, errors.New("damaged: its checksum does not match")
	}
	return executable, nil
}

// warn says the first problem with the cache on stderr; compiling goes on without it.
func warn(format string, args ...any) {
	problem.Do(func() {
		fmt.Fprintf(os.Stderr, "tunelab: XLA compilation cache: "+format+" (compiling instead)\n", args...)
	})
}

// tunelabCacheLoad looks the program up. It returns 0 when the cache is off; otherwise a handle
// on the program's file name, and when that file holds an executable, its bytes in *out
// (malloc'ed: the caller frees them).
//
//export tunelabCacheLoad
func tunelabCacheLoad(format *C.char, formatSize C.size_t, code *C.char, codeSize C.size_t,
	options *C.char, optionsSize C.size_t, out **C.char, outSize *C.size_t) C.uintptr_t {
	mu.Lock()
	folder, id := dir, identity
	mu.Unlock()
	if folder == "" {
		return 0
	}
	name := filepath.Join(folder, key(id, cBytes(format, formatSize), unnamed(cBytes(code, codeSize)), cBytes(options, optionsSize)))
	if file, err := os.ReadFile(name); err == nil {
		if executable, err := decode(file); err != nil {
			warn("%s: %v", name, err)
		} else {
			*out, *outSize = (*C.char)(C.CBytes(executable)), C.size_t(len(executable))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		warn("%v", err)
	}
	return C.uintptr_t(cgo.NewHandle(name))
}

// tunelabCacheLoaded counts a program loaded from the cache and marks it recently used.
//
//export tunelabCacheLoaded
func tunelabCacheLoaded(handle C.uintptr_t) {
	h := cgo.Handle(handle)
	now := time.Now()
	_ = os.Chtimes(h.Value().(string), now, now)
	h.Delete()
	mu.Lock()
	stats.Loaded++
	mu.Unlock()
}

// tunelabCacheStore writes a compiled program's executable to the file of handle, atomically,
// and keeps the folder under its limit.
//
//export tunelabCacheStore
func tunelabCacheStore(handle C.uintptr_t, executable *C.char, size C.size_t) {
	name := cgo.Handle(handle).Value().(string)
	if err := atomicfile.WriteFile(name, encode(cBytes(executable, size))); err != nil {
		warn("%v", err)
		return
	}
	if err := prune(filepath.Dir(name), DefaultLimit); err != nil {
		warn("%v", err)
	}
}

// tunelabCacheForget releases the handle of a program compiled afresh (0: the cache was off) and
// counts it when the compilation succeeded.
//
//export tunelabCacheForget
func tunelabCacheForget(handle C.uintptr_t, compiled C.int) {
	if handle != 0 {
		cgo.Handle(handle).Delete()
	}
	if compiled != 0 {
		mu.Lock()
		stats.Compiled++
		mu.Unlock()
	}
}

// tunelabCacheProblem reports an error of the plugin's serialization (what: PROBLEM_*).
//
//export tunelabCacheProblem
func tunelabCacheProblem(what C.int, message *C.char, size C.size_t) {
	doing := "storing a compiled program"
	if what == C.PROBLEM_DESERIALIZE {
		doing = "loading a compiled program"
	}
	warn("%s: %s", doing, cBytes(message, size))
}

// cBytes returns the C bytes at p as a slice, without copying them.
func cBytes(p *C.char, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// prune removes the least recently used programs of folder until the rest take at most max
// bytes, and temporary files older than an hour.
func prune(folder string, max int64) error {
	entries, err := os.ReadDir(folder)
	if err != nil {
		return err
	}
	type program struct {
		path string
		size int64
		used time.Time
	}
	var programs []program
	var total int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		if isTemporary(e.Name()) && time.Since(info.ModTime()) > time.Hour {
			os.Remove(filepath.Join(folder, e.Name())) // left by a process killed while writing
			continue
		}
		if !strings.HasSuffix(e.Name(), ".xla") {
			continue
		}
		programs = append(programs, program{filepath.Join(folder, e.Name()), info.Size(), info.ModTime()})
		total += info.Size()
	}
	slices.SortFunc(programs, func(a, b program) int { return a.used.Compare(b.used) })
	for _, p := range programs {
		if total <= max {
			break
		}
		if err := os.Remove(p.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		total -= p.size
	}
	return nil
}

// isTemporary reports whether name is an atomicfile temporary file (".NAME.tmp-RANDOM").
func isTemporary(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
}
