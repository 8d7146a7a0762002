package main

import (
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGPUScript builds bench/gpu.sh's self-contained directory and runs it as on a GPU machine
// without a GPU: with no plugin it must stop with status 2 and say where it looked; with a fake
// jax-cuda12-pjrt wheel it must lay the plugin out under the names go-xla loads, run train_step
// on xla:cuda, and report train_step's own error (the fake plugin cannot load). With a fake
// python that answers as torch on 2 GPUs would, the torch side must run the peer in one process
// and in 2 under torchrun, and the summary give its samples/s on both and its scaling.
func TestGPUScript(t *testing.T) {
	bash, err := osexec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	tmp := t.TempDir()
	buildDir := filepath.Join(tmp, "build", "gpu")
	build := osexec.Command(bash, filepath.Join("bench", "gpu.sh"), "build")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "GPU_BUILD_DIR="+buildDir)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("gpu.sh build: %v\n%s", err, out)
	}
	for _, f := range []string{"train_step", "peer.py", "benchkit.py", "gpu.sh"} {
		if _, err := os.Stat(filepath.Join(buildDir, f)); err != nil {
			t.Errorf("gpu.sh build left no %s: %v", f, err)
		}
	}

	// run runs the copied script from build/'s parent, as on the GPU machine, with env added to
	// an environment without a plugin path.
	run := func(env ...string) (string, int) {
		cmd := osexec.Command(bash, filepath.Join(buildDir, "gpu.sh"), "run")
		cmd.Dir = tmp
		cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
			return strings.HasPrefix(kv, "PJRT_PLUGIN_LIBRARY_PATH=")
		}), env...)
		out, err := cmd.CombinedOutput()
		var exit *osexec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		}
		if err != nil {
			t.Fatalf("gpu.sh run: %v\n%s", err, out)
		}
		return string(out), 0
	}

	empty := filepath.Join(tmp, "empty-site")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	out, code := run("GPU_SITE_PACKAGES=" + empty)
	if code != 2 || !strings.Contains(out, "no PJRT CUDA plugin found") || !strings.Contains(out, empty) {
		t.Errorf("without a plugin: exit %d, output:\n%s\nwant exit 2 and the no-plugin message naming %s", code, out, empty)
	}

	site := filepath.Join(tmp, "site")
	plugin := filepath.Join(site, "jax_plugins", "xla_cuda12", "xla_cuda_plugin.so")
	for _, d := range []string{filepath.Dir(plugin), filepath.Join(site, "nvidia", "cublas", "lib")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(plugin, []byte("not a shared library"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The script links to real paths.
	if plugin, err = filepath.EvalSymlinks(plugin); err != nil {
		t.Fatal(err)
	}
	if site, err = filepath.EvalSymlinks(site); err != nil {
		t.Fatal(err)
	}
	for _, env := range [][]string{
		{"GPU_SITE_PACKAGES=" + empty + ":" + site},
		// A jax_plugins directory named directly, as lab/backend's hint suggests.
		{"PJRT_PLUGIN_LIBRARY_PATH=" + filepath.Dir(plugin)},
	} {
		layout := filepath.Join(t.TempDir(), "pjrt")
		out, code := run(append(env, "GPU_PLUGIN_DIR="+layout, "PYTHON="+filepath.Join(tmp, "no-python"))...)
		for link, want := range map[string]string{
			filepath.Join(layout, "lib", "pjrt_c_api_cuda_plugin.so"): plugin,
			filepath.Join(layout, "nvidia"):                           filepath.Join(site, "nvidia"),
		} {
			if got, err := os.Readlink(link); err != nil || got != want {
				t.Errorf("%v: %s -> %q (%v), want -> %s", env, link, got, err, want)
			}
		}
		if code == 0 || code == 2 ||
			!strings.Contains(out, "tunelab side failed (exit 1); its error:\n") ||
			!strings.Contains(out[strings.Index(out, "its error:"):], `backend "xla:cuda"`) ||
			!strings.Contains(out, "torch side skipped") {
			t.Errorf("%v: exit %d, output:\n%s\nwant train_step's xla:cuda error reported after \"tunelab side failed\", and the torch side skipped", env, code, out)
		}
	}

	// Anything else, such as gpu.sh's check that torch imports and sees CUDA, succeeds.
	python := filepath.Join(tmp, "fake-python")
	peer := filepath.Join(buildDir, "peer.py")
	script := fmt.Sprintf(`#!/bin/sh
case "$*" in
*device_count*) echo 2 ;;
"-m torch.distributed.run --standalone --nproc_per_node=2 %[1]s "*) echo '{"seconds": [0.5, 0.5, 0.5, 0.5, 0.5], "peak_rss_bytes": 1048576}' ;;
"%[1]s "*) echo '{"seconds": [0.8, 0.8, 0.8, 0.8, 0.8], "peak_rss_bytes": 1048576}' ;;
esac
`, peer)
	if err := os.WriteFile(python, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out, code = run("GPU_SITE_PACKAGES="+site, "GPU_PLUGIN_DIR="+t.TempDir(), "PYTHON="+python)
	for _, want := range []string{
		"\n  torch (cuda) on 1 GPU samples/s: 40.00\n", // 32 samples in 0.8 s
		"\n  torch (cuda) on 2 GPUs samples/s: 64.00, 1.60x one GPU, scaling efficiency 80%\n",
	} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("torch on 2 GPUs: exit %d, output:\n%s\nwant exit 1 (the tunelab side's) and %q", code, out, want)
		}
	}
}
