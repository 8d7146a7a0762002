//go:build !noxla

package xlacache

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestKey: every part of a program's key changes its file, boundaries included.
func TestKey(t *testing.T) {
	parts := [][]byte{[]byte("plugin"), []byte("mlir"), []byte("module"), []byte("options")}
	base := key(parts[0], parts[1], parts[2], parts[3])
	seen := map[string]bool{base: true}
	for i := range parts {
		changed := slices.Clone(parts)
		changed[i] = append(slices.Clone(parts[i]), '!')
		k := key(changed[0], changed[1], changed[2], changed[3])
		if seen[k] {
			t.Errorf("changing part %d gives a key seen before", i)
		}
		seen[k] = true
	}
	if key([]byte("ab"), []byte("c"), nil, nil) == key([]byte("a"), []byte("bc"), nil, nil) {
		t.Error(`"ab"+"c" and "a"+"bc" give the same key`)
	}
	if base != key(parts[0], parts[1], parts[2], parts[3]) {
		t.Error("the same parts give two keys")
	}
}

// TestUnnamed: programs that differ only in their module's name key alike; any other difference,
// or text that is not an MLIR module, is kept.
func TestUnnamed(t *testing.T) {
	a := []byte("module @Exec_fn_0 attributes {stablehlo.num_replicas = 1} {\n  func.func @main() {}\n}")
	b := []byte("module @Exec_fn_12 attributes {stablehlo.num_replicas = 1} {\n  func.func @main() {}\n}")
	c := []byte("module @Exec_fn_0 attributes {stablehlo.num_replicas = 2} {\n  func.func @main() {}\n}")
	if !bytes.Equal(unnamed(a), unnamed(b)) {
		t.Errorf("names only differ, yet:\n%s\n%s", unnamed(a), unnamed(b))
	}
	if bytes.Equal(unnamed(a), unnamed(c)) {
		t.Error("programs with other attributes key alike")
	}
	if got := string(unnamed([]byte("module @m {\n}"))); got != "module @ {\n}" {
		t.Errorf("unnamed(module @m {...}) = %q", got)
	}
	for _, code := range []string{"\x4dMLIR bytecode", "module @no_end"} {
		if got := unnamed([]byte(code)); string(got) != code {
			t.Errorf("unnamed(%q) = %q, want it unchanged", code, got)
		}
	}
}

// TestIdentity: the plugin file and XLA_FLAGS are part of what decides a compiled program.
func TestIdentity(t *testing.T) {
	plugin := filepath.Join(t.TempDir(), "pjrt_c_api_cpu_plugin.so")
	if err := os.WriteFile(plugin, []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XLA_FLAGS", "")
	a, err := identify(plugin)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=true")
	b, _ := identify(plugin)
	t.Setenv("XLA_FLAGS", "")
	if err := os.WriteFile(plugin, []byte("v2 longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := identify(plugin)
	if bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Errorf("identity ignores XLA_FLAGS or the plugin file:\n%s\n%s\n%s", a, b, c)
	}
	if _, err := identify(filepath.Join(t.TempDir(), "missing.so")); err == nil {
		t.Error("a missing plugin has an identity")
	}
}

// TestFirstProcessor keeps the first processor's model and flags from a real cpuinfo layout.
func TestFirstProcessor(t *testing.T) {
	cpuinfo := "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\n" +
		"model name\t: Intel(R) Xeon(R) Processor\nstepping\t: 8\ncpu MHz\t\t: 2100.000\n" +
		"flags\t\t: fpu avx512f amx_bf16\n\nprocessor\t: 1\nvendor_id\t: OtherVendor\ncpu MHz\t\t: 800.000\n"
	want := "vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu avx512f amx_bf16"
	if got := firstProcessor([]byte(cpuinfo)); got != want {
		t.Errorf("firstProcessor = %q, want %q", got, want)
	}
}

// TestEncode: a file decodes to the executable it was made from; a cut or changed one does not.
func TestEncode(t *testing.T) {
	executable := []byte("compiled program bytes")
	file := encode(executable)
	if got, err := decode(file); err != nil || !bytes.Equal(got, executable) {
		t.Fatalf("decode(encode(x)) = %q, %v", got, err)
	}
	changed := slices.Clone(file)
	changed[len(changed)-1] ^= 1
	for name, bad := range map[string][]byte{"cut": file[:len(file)-1], "changed": changed, "empty": nil, "other": []byte("ELF...")} {
		if _, err := decode(bad); err == nil {
			t.Errorf("%s file decoded", name)
		}
	}
}

// TestPrune removes the least recently used programs until the rest fit and the temporary files
// of writes that ended an hour ago, and nothing else.
func TestPrune(t *testing.T) {
	folder := t.TempDir()
	now := time.Now()
	files := []struct {
		name string
		size int
		age  time.Duration
	}{{"old.xla", 100, 3 * time.Hour}, {"mid.xla", 100, 2 * time.Hour}, {"new.xla", 100, time.Hour}, {"notes.txt", 1000, 5 * time.Hour},
		{".killed.xla.tmp-123", 10, 2 * time.Hour}, {".writing.xla.tmp-456", 10, time.Minute}}
	for _, f := range files {
		path := filepath.Join(folder, f.name)
		if err := os.WriteFile(path, make([]byte, f.size), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, now.Add(-f.age), now.Add(-f.age)); err != nil {
			t.Fatal(err)
		}
	}
	if err := prune(folder, 250); err != nil {
		t.Fatal(err)
	}
	var left []string
	entries, _ := os.ReadDir(folder)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := []string{".writing.xla.tmp-456", "mid.xla", "new.xla", "notes.txt"}; !slices.Equal(left, want) {
		t.Errorf("after pruning to 250 bytes: %v, want %v", left, want)
	}
}
