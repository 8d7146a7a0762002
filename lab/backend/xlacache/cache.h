// The compilation cache's C side (cache.c), declared for cgo. pjrt_c_api.h is XLA's PJRT C API
// header (API 0.104) as go-xla v0.4.5 ships it; the plugin's newer API (0.115) only adds to it.

#ifndef TUNELAB_XLACACHE_H_
#define TUNELAB_XLACACHE_H_

#include <stdint.h>

#include "pjrt_c_api.h"

// What failed, in tunelabCacheProblem.
enum { PROBLEM_SERIALIZE = 1, PROBLEM_DESERIALIZE = 2 };

// install_compile_cache puts the cache in front of PJRT_Client_Compile in the PJRT_Api table of
// the plugin loaded from plugin_path; it returns 0 and sets *problem when it cannot.
int install_compile_cache(const char* plugin_path, char** problem);

#endif  // TUNELAB_XLACACHE_H_
