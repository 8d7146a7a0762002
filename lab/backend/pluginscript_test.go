package backend

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// pluginScript runs scripts/setup/xla-plugin.sh, `make setup`'s installer of the CPU plugin, with
// env added to a copy of this process's environment without $PJRT_PLUGIN_LIBRARY_PATH.
func pluginScript(t *testing.T, env ...string) (output string, exitCode int) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "setup", "xla-plugin.sh"))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, PluginPathEnv+"=") && !strings.HasPrefix(kv, "TUNELAB_XLA_PLUGIN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok {
		return string(out), exit.ExitCode()
	} else if err != nil {
		t.Fatalf("xla-plugin.sh: %v", err)
	}
	return string(out), 0
}

// smallPlugin builds the smallest file a PJRT plugin can be mistaken for: a shared library
// exporting GetPjrtApi (with C's compiler, which go-xla's cgo needs anyway).
func smallPlugin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	source := filepath.Join(dir, "plugin.c")
	if err := os.WriteFile(source, []byte("void *GetPjrtApi(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	library := filepath.Join(dir, "plugin.so")
	if out, err := exec.Command("cc", "-shared", "-fPIC", "-o", library, source).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	return library
}

func skipUnlessLinuxAMD64(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("xla-plugin.sh installs the plugin on Linux x86-64 only")
	}
}

// TestPluginScriptChecksAsTunelabDoes: the installer keeps a file in the plugin's place exactly
// when tunelab (CheckPlugin) would load it, so the advice "make setup installs it" that follows a
// damaged file mends it rather than saying the plugin is installed.
func TestPluginScriptChecksAsTunelabDoes(t *testing.T) {
	skipUnlessLinuxAMD64(t)
	files := map[string]string{"small plugin": smallPlugin(t), "executable": "/bin/sh", "garbage": filepath.Join(t.TempDir(), "garbage")}
	if err := os.WriteFile(files["garbage"], []byte("not a library\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if path, err := FindPlugin("cpu"); err == nil {
		files["installed plugin"] = path
	}
	for name, file := range files {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			placed := filepath.Join(dir, "pjrt_c_api_cpu_plugin.so")
			if err := os.Symlink(file, placed); err != nil {
				t.Fatal(err)
			}
			out, code := pluginScript(t, PluginPathEnv+"="+dir, "TUNELAB_XLA_PLUGIN_DIR="+t.TempDir())
			loads := CheckPlugin(file) == nil
			if kept := code == 0 && strings.Contains(out, "plugin is installed: "+placed); kept != loads {
				t.Errorf("xla-plugin.sh kept %s: %t (exit %d), tunelab loads it: %t (CheckPlugin: %v)\n%s", file, kept, code, loads, CheckPlugin(file), out)
			}
			if !loads && (code != 1 || !strings.Contains(out, placed+" is not a PJRT plugin") || !strings.Contains(out, "remove it")) {
				t.Errorf("exit %d, output %q: want exit 1 naming %s and asking to remove it (it is not where the script installs)", code, out, placed)
			}
		})
	}
}

// TestPluginScriptReplacesADamagedPlugin runs the installer's download against a package index
// on this machine that serves one wheel: a damaged file in the plugin's place is replaced by the
// wheel's plugin when its sha256 is the one pinned, and left alone, with the two checksums
// named, when it is not.
func TestPluginScriptReplacesADamagedPlugin(t *testing.T) {
	skipUnlessLinuxAMD64(t)
	plugin, err := os.ReadFile(smallPlugin(t))
	if err != nil {
		t.Fatal(err)
	}
	const inner = "tunelab_test_plugin/pjrt_c_api_cpu_plugin.so"
	wheelName := "tunelab_test_plugin-1.0-py3-none-manylinux_2_27_x86_64.whl"
	wheel := testWheel(t, "tunelab-test-plugin", "1.0", map[string][]byte{inner: plugin})
	sum := sha256.Sum256(wheel)
	index := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/simple/tunelab-test-plugin/":
			fmt.Fprintf(w, `<html><body><a href="/files/%s#sha256=%x">%s</a></body></html>`, wheelName, sum, wheelName)
		case "/files/" + wheelName:
			w.Write(wheel)
		default:
			http.NotFound(w, r)
		}
	}))
	defer index.Close()

	for _, pinned := range []string{hex.EncodeToString(sum[:]), strings.Repeat("0", 64)} {
		dest := t.TempDir()
		damaged := []byte("half a plugin")
		if err := os.WriteFile(filepath.Join(dest, "pjrt_c_api_cpu_plugin.so"), damaged, 0o755); err != nil {
			t.Fatal(err)
		}
		out, code := pluginScript(t, "TUNELAB_XLA_PLUGIN_DIR="+dest, "PIP_INDEX_URL="+index.URL+"/simple/",
			"PIP_NO_CACHE_DIR=1", "TUNELAB_XLA_PLUGIN_WHEEL=tunelab-test-plugin==1.0 "+pinned+" "+inner)
		installed, err := os.ReadFile(filepath.Join(dest, "pjrt_c_api_cpu_plugin.so"))
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 || !strings.Contains(out, "is not a PJRT plugin") {
			t.Errorf("exit %d, output %q: want exit 0 and the damaged file named", code, out)
		}
		if pinned == hex.EncodeToString(sum[:]) {
			if !bytes.Equal(installed, plugin) || !strings.Contains(out, "installed XLA's CPU plugin from tunelab-test-plugin==1.0") {
				t.Errorf("the wheel's plugin was not installed over the damaged file (%d bytes there, want %d)\n%s", len(installed), len(plugin), out)
			}
		} else if !bytes.Equal(installed, damaged) || !strings.Contains(out, fmt.Sprintf("sha256 %x, expected %s", sum, pinned)) {
			t.Errorf("a wheel with another sha256 than the one pinned: want nothing installed and both checksums named\n%s", out)
		}
	}
}

// testWheel returns a wheel (a zip with its .dist-info) of the package name at version holding files.
func testWheel(t *testing.T, name, version string, files map[string][]byte) []byte {
	t.Helper()
	info := strings.ReplaceAll(name, "-", "_") + "-" + version + ".dist-info/"
	files[info+"METADATA"] = []byte("Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n")
	files[info+"WHEEL"] = []byte("Wheel-Version: 1.0\nGenerator: tunelab-test\nRoot-Is-Purelib: false\nTag: py3-none-manylinux_2_27_x86_64\n")
	var record strings.Builder
	for path := range files {
		record.WriteString(path + ",,\n")
	}
	files[info+"RECORD"] = []byte(record.String() + info + "RECORD,,\n")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for path, content := range files {
		w, err := zw.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(content)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
