//go:build !noxla

// The compilation cache's side in C: a PJRT_Client_Compile that looks the program up before
// compiling it, installed in the plugin's PJRT_Api table in place of the plugin's own.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "_cgo_export.h"

static const PJRT_Api* api;
static PJRT_Client_Compile* compile_uncached;

// error_message hands err's message to Go (as what) and destroys err.
static void error_message(PJRT_Error* err, int what) {
  PJRT_Error_Message_Args m = {0};
  m.struct_size = PJRT_Error_Message_Args_STRUCT_SIZE;
  m.error = err;
  api->PJRT_Error_Message(&m);
  tunelabCacheProblem(what, (char*)m.message, m.message_size);
  PJRT_Error_Destroy_Args d = {0};
  d.struct_size = PJRT_Error_Destroy_Args_STRUCT_SIZE;
  d.error = err;
  api->PJRT_Error_Destroy(&d);
}

// store serializes loaded and hands the bytes to Go under key.
static void store(PJRT_LoadedExecutable* loaded, uintptr_t key) {
  PJRT_LoadedExecutable_GetExecutable_Args g = {0};
  g.struct_size = PJRT_LoadedExecutable_GetExecutable_Args_STRUCT_SIZE;
  g.loaded_executable = loaded;
  PJRT_Error* err = api->PJRT_LoadedExecutable_GetExecutable(&g);
  if (err) {
    error_message(err, PROBLEM_SERIALIZE);
    return;
  }
  PJRT_Executable_Serialize_Args s = {0};
  s.struct_size = PJRT_Executable_Serialize_Args_STRUCT_SIZE;
  s.executable = g.executable;
  err = api->PJRT_Executable_Serialize(&s);
  if (err) {
    error_message(err, PROBLEM_SERIALIZE);
  } else {
    tunelabCacheStore(key, (char*)s.serialized_bytes, s.serialized_bytes_size);
    s.serialized_executable_deleter(s.serialized_executable);
  }
  PJRT_Executable_Destroy_Args d = {0};
  d.struct_size = PJRT_Executable_Destroy_Args_STRUCT_SIZE;
  d.executable = g.executable;
  err = api->PJRT_Executable_Destroy(&d);
  if (err) error_message(err, PROBLEM_SERIALIZE);
}

// compile_cached loads the executable of args' program from the cache, or compiles it and
// stores it there. A cached executable the plugin rejects is compiled afresh.
static PJRT_Error* compile_cached(PJRT_Client_Compile_Args* args) {
  char* bytes = NULL;
  size_t size = 0;
  uintptr_t key = tunelabCacheLoad((char*)args->program->format, args->program->format_size,
                                   args->program->code, args->program->code_size,
                                   (char*)args->compile_options, args->compile_options_size, &bytes, &size);
  if (bytes != NULL) {
    PJRT_Executable_DeserializeAndLoad_Args d = {0};
    d.struct_size = PJRT_Executable_DeserializeAndLoad_Args_STRUCT_SIZE;
    d.client = args->client;
    d.serialized_executable = bytes;
    d.serialized_executable_size = size;
    PJRT_Error* err = api->PJRT_Executable_DeserializeAndLoad(&d);
    free(bytes);
    if (!err) {
      args->executable = d.loaded_executable;
      tunelabCacheLoaded(key);
      return NULL;
    }
    error_message(err, PROBLEM_DESERIALIZE);
  }
  PJRT_Error* err = compile_uncached(args);
  if (err == NULL && key != 0) store(args->executable, key);
  tunelabCacheForget(key, err == NULL);
  return err;
}

int install_compile_cache(const char* plugin_path, char** problem) {
  // The plugin is loaded already (go-xla opened it): RTLD_NOLOAD finds that copy.
  void* lib = dlopen(plugin_path, RTLD_NOW | RTLD_NOLOAD);
  if (lib == NULL) {
    *problem = "the plugin is not loaded in this process";
    return 0;
  }
  const PJRT_Api* (*get_api)(void) = (const PJRT_Api* (*)(void))dlsym(lib, "GetPjrtApi");
  dlclose(lib);
  if (get_api == NULL) {
    *problem = "the plugin has no GetPjrtApi";
    return 0;
  }
  const PJRT_Api* a = get_api();
  if (a->PJRT_Client_Compile == compile_cached) return 1;
  if (a->struct_size < PJRT_Api_STRUCT_SIZE || a->PJRT_Executable_Serialize == NULL ||
      a->PJRT_Executable_DeserializeAndLoad == NULL) {
    *problem = "the plugin's PJRT API cannot serialize executables";
    return 0;
  }
  // The table is the plugin's static data, which may share a read-only page after relocation.
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t slot = (uintptr_t)&a->PJRT_Client_Compile;
  void* start = (void*)(slot & ~(uintptr_t)(page - 1));
  size_t length = slot + sizeof(a->PJRT_Client_Compile) - (uintptr_t)start;
  if (mprotect(start, length, PROT_READ | PROT_WRITE) != 0) {
    *problem = "the plugin's PJRT API table cannot be made writable";
    return 0;
  }
  api = a;
  compile_uncached = a->PJRT_Client_Compile;
  ((PJRT_Api*)a)->PJRT_Client_Compile = compile_cached;
  return 1;
}
