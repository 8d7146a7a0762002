package benchkit

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <dlfcn.h>

// release_malloc_free_memory calls tcmalloc's MallocExtension_ReleaseFreeMemory where the
// process runs on tcmalloc (preloaded), and reports whether it did.
static int release_malloc_free_memory(void) {
	void (*release)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "MallocExtension_ReleaseFreeMemory");
	if (release == NULL) {
		return 0;
	}
	release();
	return 1;
}
*/
import "C"

import (
	"runtime"
	"runtime/debug"
)

// ReleaseFreeMemory returns to the OS the memory this process has freed: the Go heap's, and
// that of tcmalloc, which tunelab's processes preload (lab/backend TCMalloc) and which keeps the
// buffers a finished engine's XLA programs freed (bench/train_step's float32 MiniLM step, run
// after the bfloat16 engine's steps, peaked at 5.6 GB without this and 3.6 GB with it, against
// 1.7 GB alone). glibc's malloc returns its large blocks by itself. It reports whether tcmalloc
// was there to ask.
func ReleaseFreeMemory() (tcmalloc bool) {
	runtime.GC()
	debug.FreeOSMemory()
	return C.release_malloc_free_memory() == 1
}
