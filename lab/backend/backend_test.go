package backend

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute/dtypes"
)

// cpuPlugin returns the installed CPU plugin: `make setup` installs it, so CI must have it.
func cpuPlugin(t *testing.T) string {
	t.Helper()
	path, err := FindPlugin("cpu")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("XLA's CPU plugin is not installed (make setup): %v", err)
		}
		t.Skipf("XLA's CPU plugin is not installed (make setup): %v", err)
	}
	return path
}

func TestDefaultIsXLAOnTheCPU(t *testing.T) {
	path := cpuPlugin(t)
	t.Setenv(EnvVar, "")
	b, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	got := Describe(b)
	if want := "xla:cpu (XLA PJRT plugin v"; !strings.HasPrefix(got, want) || !strings.HasSuffix(got, ": "+path+")") {
		t.Errorf("default engine %q, want %q... ending with the plugin's path %s", got, want, path)
	}
	if b.NumDevices() < 1 {
		t.Errorf("%d devices", b.NumDevices())
	}
	if Accelerated(b) {
		t.Errorf("%s counts as an accelerator", got)
	}
}

func TestGoBackendByName(t *testing.T) {
	for _, config := range []string{"go", GoConfig} {
		b, err := New(config)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := Describe(b), "go (Go Portable Compute Backend (parallelism=-1))"; got != want {
			t.Errorf("New(%q): %q, want %q", config, got, want)
		}
		if Accelerated(b) {
			t.Errorf("New(%q) counts as an accelerator", config)
		}
	}
}

func TestEnvironmentSelectsBackend(t *testing.T) {
	t.Setenv(EnvVar, "nonesuch:x")
	_, err := New("")
	if err == nil || !strings.Contains(err.Error(), `unknown backend "nonesuch"`) {
		t.Fatalf("error = %v, want the unknown backend named", err)
	}
	t.Setenv(EnvVar, "go")
	b, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != "go" {
		t.Errorf("GOMLX_BACKEND=go gave %q", Describe(b))
	}
}

// TestBrokenPluginIsAnErrorNamingTheFile: go-xla itself crashes on a plugin file it cannot load;
// tunelab must answer with one error that names the file, and never hang or crash.
func TestBrokenPluginIsAnErrorNamingTheFile(t *testing.T) {
	notPlugin, err := filepath.Glob("/usr/lib/x86_64-linux-gnu/libz.so.*")
	if err != nil || len(notPlugin) == 0 {
		notPlugin, _ = filepath.Glob("/lib/*/libc.so.6")
	}
	cases := map[string]struct {
		content []byte
		want    string
	}{
		"garbage":    {[]byte("not a library\n"), "is not a shared library"},
		"empty":      {nil, "is not a shared library"},
		"executable": {mustRead(t, "/bin/sh"), "is not a PJRT plugin"},
	}
	if len(notPlugin) > 0 {
		cases["other library"] = struct {
			content []byte
			want    string
		}{mustRead(t, notPlugin[0]), "does not export GetPjrtApi"}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "pjrt_c_api_cpu_plugin.so")
			if err := os.WriteFile(path, c.content, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv(PluginPathEnv, dir)
			start := time.Now()
			_, err := New(XLACPU)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v: want one naming %s and saying %q", err, path, c.want)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %v: it must fail fast", time.Since(start))
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestMissingPluginSaysHowToInstall(t *testing.T) {
	t.Setenv(PluginPathEnv, t.TempDir())
	for _, config := range []string{"xla:cpu", "xla:cuda"} {
		_, err := New(config)
		if err == nil || !strings.Contains(err.Error(), "PJRT") {
			t.Fatalf("New(%q): error %v, want the missing plugin explained", config, err)
		}
	}
	_, err := New("xla:cpu")
	if !strings.Contains(err.Error(), "make setup") {
		t.Errorf("error %q does not say how to install the CPU plugin", err)
	}
}

// TestFallbackNotice runs `tunelab engine`'s code path in a child process (the notice is printed
// once per process) without any plugin: the Go backend, and one line on stderr saying why.
func TestFallbackNotice(t *testing.T) {
	if os.Getenv("TUNELAB_BACKEND_CHILD") == "1" {
		for range 2 { // asked twice, noticed once
			b := Default()
			Announce(os.Stdout, b, MatmulDType(b))
		}
		return
	}
	empty := t.TempDir()
	// With the Go runtime's asynchronous preemption on, the same line also says how to turn it off.
	for godebug, advice := range map[string]bool{"asyncpreemptoff=1": false, "": true} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFallbackNotice$")
		cmd.Env = append(os.Environ(), "TUNELAB_BACKEND_CHILD=1", PluginPathEnv+"="+empty, EnvVar+"=", "GODEBUG="+godebug)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
		}
		if got := strings.Count(stdout.String(), "tunelab: engine go ("); got != 2 {
			t.Errorf("stdout %q: want the Go backend announced twice", stdout.String())
		}
		notice := strings.TrimSpace(stderr.String())
		if strings.Count(notice, "\n") != 0 || !strings.Contains(notice, "running on GoMLX's Go backend") ||
			!strings.Contains(notice, empty) || !strings.Contains(notice, "make setup") {
			t.Errorf("GODEBUG=%q: stderr %q: want one line naming the searched folder and how to install the plugin", godebug, notice)
		}
		if strings.Contains(notice, "GODEBUG=asyncpreemptoff=1") != advice {
			t.Errorf("GODEBUG=%q: stderr %q: advice to turn asynchronous preemption off %t, want %t", godebug, notice, !advice, advice)
		}
	}
}

func TestPluginName(t *testing.T) {
	for path, want := range map[string]string{
		"/a/pjrt_c_api_cpu_plugin.so": "cpu", "/a/pjrt-plugin-cuda.so": "cuda", "/a/pjrt_plugin_x.so": "x",
		"/a/libpjrt_cpu.so": "", "/a/pjrt_c_api__plugin.so": "",
	} {
		if got := pluginName(path); got != want {
			t.Errorf("pluginName(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestAsyncPreemptionOff reads GODEBUG as the Go runtime does: the last asyncpreemptoff setting
// wins, and only the value 1 turns preemption off.
func TestAsyncPreemptionOff(t *testing.T) {
	for godebug, want := range map[string]bool{
		"":                                    false,
		"asyncpreemptoff=1":                   true,
		"asyncpreemptoff=0":                   false,
		"gctrace=1,asyncpreemptoff=1":         true,
		"asyncpreemptoff=1,asyncpreemptoff=0": false,
		"asyncpreemptoff=0,asyncpreemptoff=1": true,
		"xasyncpreemptoff=1":                  false,
	} {
		if got := asyncPreemptionOff(godebug); got != want {
			t.Errorf("GODEBUG=%q: preemption off %t, want %t", godebug, got, want)
		}
	}
}

// TestMatmulDType: bfloat16 products by default only for XLA on a CPU whose flags in
// /proc/cpuinfo (the kernel's word, not the cpuid reading under test) name AMX-BF16 or
// AVX512_BF16; float32 on the Go backend and on accelerators.
func TestMatmulDType(t *testing.T) {
	for _, c := range []struct {
		xlaOnCPU, cpuHasBF16 bool
		want                 dtypes.DType
	}{{true, true, dtypes.BFloat16}, {true, false, dtypes.Float32}, {false, true, dtypes.Float32}, {false, false, dtypes.Float32}} {
		if got := matmulDType(c.xlaOnCPU, c.cpuHasBF16); got != c.want {
			t.Errorf("XLA on the CPU %t, bfloat16 units %t: %s, want %s", c.xlaOnCPU, c.cpuHasBF16, got, c.want)
		}
	}
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skipf("no /proc/cpuinfo to check the CPU's flags against: %v", err)
	}
	flags := regexp.MustCompile(`(?m)^flags\s*:.*$`).Find(cpuinfo)
	hasBF16 := regexp.MustCompile(`\b(amx_bf16|avx512_bf16)\b`).Match(flags)
	if got := CPUHasBF16(); got != hasBF16 {
		t.Errorf("CPUHasBF16() = %t, /proc/cpuinfo flags say %t", got, hasBF16)
	}
	goBackend, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	if got := MatmulDType(goBackend); got != dtypes.Float32 {
		t.Errorf("Go backend: %s, want Float32", got)
	}
	if err := CheckMatmulDType(goBackend, dtypes.BFloat16); err == nil || !strings.Contains(err.Error(), "need an XLA engine") {
		t.Errorf("bfloat16 products on the Go backend: error %v, want one asking for an XLA engine", err)
	}
	if err := CheckMatmulDType(goBackend, dtypes.Float32); err != nil {
		t.Errorf("float32 products on the Go backend: %v", err)
	}
	cpuPlugin(t)
	xlaCPU, err := New(XLACPU)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckMatmulDType(xlaCPU, dtypes.BFloat16); err != nil {
		t.Errorf("bfloat16 products on xla:cpu: %v", err)
	}
	want := dtypes.Float32
	if hasBF16 {
		want = dtypes.BFloat16
	}
	if got := MatmulDType(xlaCPU); got != want {
		t.Errorf("xla:cpu on a CPU with bfloat16 units %t: %s, want %s", hasBF16, got, want)
	}
	var line bytes.Buffer
	Announce(&line, xlaCPU, dtypes.BFloat16)
	if got := line.String(); !strings.HasPrefix(got, "tunelab: engine xla:cpu (") || !strings.HasSuffix(got, "), matrix products in bfloat16 (float32 weights and sums)\n") {
		t.Errorf("Announce with bfloat16 products: %q", got)
	}
	line.Reset()
	Announce(&line, xlaCPU, dtypes.Float32)
	if got := line.String(); strings.Contains(got, "matrix products") {
		t.Errorf("Announce with float32 products: %q, want the engine alone", got)
	}
}

// TestTunedEnviron adds what is missing and keeps what the environment sets, its own values
// included (asyncpreemptoff=0 stays 0, an LD_PRELOAD of its own, even empty, stays as it is).
func TestTunedEnviron(t *testing.T) {
	const tcmalloc = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
	for _, c := range []struct {
		environ   []string
		allocator string
		want      []string
	}{
		{[]string{"PATH=/bin"}, "", []string{"PATH=/bin", "GODEBUG=asyncpreemptoff=1", "GLIBC_TUNABLES=glibc.malloc.hugetlb=1"}},
		{[]string{"PATH=/bin"}, tcmalloc, []string{"PATH=/bin", "GODEBUG=asyncpreemptoff=1", "GLIBC_TUNABLES=glibc.malloc.hugetlb=1", "LD_PRELOAD=" + tcmalloc}},
		{[]string{"GODEBUG=gctrace=1", "GLIBC_TUNABLES=glibc.malloc.arena_max=2"}, "",
			[]string{"GODEBUG=gctrace=1,asyncpreemptoff=1", "GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"}},
		{[]string{"GODEBUG=asyncpreemptoff=0", "GLIBC_TUNABLES="}, "", []string{"GODEBUG=asyncpreemptoff=0", "GLIBC_TUNABLES=glibc.malloc.hugetlb=1"}},
		{[]string{"GLIBC_TUNABLES=glibc.malloc.hugetlb=0", "GODEBUG=x=1,asyncpreemptoff=1"}, "", nil},
		{[]string{"GLIBC_TUNABLES=glibc.malloc.hugetlb=1", "GODEBUG=asyncpreemptoff=1", "LD_PRELOAD="}, tcmalloc, nil},
		{[]string{"GLIBC_TUNABLES=glibc.malloc.hugetlb=1", "GODEBUG=asyncpreemptoff=1", "LD_PRELOAD=/opt/libjemalloc.so.2"}, tcmalloc, nil},
	} {
		if got := tunedEnviron(c.environ, c.allocator); !slices.Equal(got, c.want) {
			t.Errorf("tunedEnviron(%q, %q) = %q, want %q", c.environ, c.allocator, got, c.want)
		}
	}
}

// TestUntuned: a peer's environment loses the huge-page tunable and tcmalloc's preload that
// TunedEnviron adds, and keeps every other tunable and preloaded library.
func TestUntuned(t *testing.T) {
	const tcmalloc = "/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"
	for _, c := range []struct{ environ, want []string }{
		{[]string{"GLIBC_TUNABLES=glibc.malloc.hugetlb=1", "LD_PRELOAD=" + tcmalloc, "HOME=/root"}, []string{"HOME=/root"}},
		{[]string{"GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", "LD_PRELOAD=/opt/a.so " + tcmalloc + ":/opt/b.so"},
			[]string{"GLIBC_TUNABLES=glibc.malloc.arena_max=2", "LD_PRELOAD=/opt/a.so:/opt/b.so"}},
		{[]string{"GLIBC_TUNABLES=glibc.malloc.arena_max=2", "LD_PRELOAD=/opt/a.so"}, []string{"GLIBC_TUNABLES=glibc.malloc.arena_max=2", "LD_PRELOAD=/opt/a.so"}},
	} {
		if got := Untuned(c.environ); !slices.Equal(got, c.want) {
			t.Errorf("Untuned(%q) = %q, want %q", c.environ, got, c.want)
		}
	}
}

// TestStartTuned: a program started without the engines' environment settings starts again with
// them, keeping the rest of its environment and its arguments, and runs on tcmalloc where this
// machine has it (the dynamic loader mapped the library: /proc/self/maps).
func TestStartTuned(t *testing.T) {
	if os.Getenv("TUNELAB_TUNED_CHILD") == "1" {
		StartTuned()
		os.Stdout.WriteString(strings.Join([]string{os.Getenv("GODEBUG"), os.Getenv("GLIBC_TUNABLES"), os.Getenv("TUNELAB_KEEP"), os.Args[len(os.Args)-1], LoadedTCMalloc()}, "|"))
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStartTuned$", "-test.v=false")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") && !strings.HasPrefix(kv, "GLIBC_TUNABLES=") && !strings.HasPrefix(kv, "LD_PRELOAD=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "TUNELAB_TUNED_CHILD=1", "TUNELAB_KEEP=kept", "GODEBUG=gctrace=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	loaded := "" // glibc's malloc
	if lib := TCMalloc(); lib != "" {
		mapped, err := filepath.EvalSymlinks(lib) // the file the loader mapped
		if err != nil {
			t.Fatal(err)
		}
		loaded = mapped
	} else if runtime.GOOS == "linux" && os.Getenv("CI") != "" {
		t.Fatal("no tcmalloc on this machine: make setup installs it (scripts/setup/tcmalloc.sh)")
	}
	if want := "gctrace=0,asyncpreemptoff=1|glibc.malloc.hugetlb=1|kept|-test.v=false|" + loaded; string(out) != want {
		t.Errorf("started again with %q, want %q", out, want)
	}
}

// TestTCMallocScriptAgrees: the shell's finder (scripts/setup/tcmalloc.sh --path, which the
// notebooks' kernel preloads) and TCMalloc (the tunelab command's) name the same library, so a
// cell and the command run on the same allocator.
func TestTCMallocScriptAgrees(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("tunelab preloads tcmalloc on Linux only")
	}
	out, err := exec.Command("bash", filepath.Join("..", "..", "scripts", "setup", "tcmalloc.sh"), "--path").Output()
	if err != nil {
		t.Fatalf("tcmalloc.sh --path: %v", err)
	}
	if got, want := strings.TrimSpace(string(out)), TCMalloc(); got != want {
		t.Errorf("tcmalloc.sh --path = %q, TCMalloc() = %q", got, want)
	}
	if TCMalloc() == "" && os.Getenv("CI") != "" {
		t.Fatal("no tcmalloc on this machine: make setup installs it (scripts/setup/tcmalloc.sh)")
	}
}
