/* JavaScript names for a node that uvdb attached to, started without
 * --perf-basic-prof: V8's JIT code event handler, registered on the main
 * thread while its loop is parked, writes the perf map V8's flag would have
 * written (/tmp/perf-PID.map), beginning with the code that exists already. */
#define _GNU_SOURCE
#include "../preload/probe.h"
#include "../preload/rawsys.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* v8::JitCodeEvent, as v8-callbacks.h lays it out (V8 11, node 20). */
struct uv__jit_event {
  int type;      /* CODE_ADDED 0, CODE_MOVED 1, CODE_REMOVED 2, ... */
  int code_type; /* BYTE_CODE 0, JIT_CODE 1, WASM_CODE 2 */
  void *code_start;
  size_t code_len;
  void *script;
  void *user_data;
  void *wasm_source_info;
  union {
    struct {
      const char *str;
      size_t len;
    } name;
    void *new_code_start;
  };
  void *isolate;
};

enum { JIT_CODE_ADDED = 0, JIT_CODE_MOVED = 1, JIT_BYTE_CODE = 0 };
enum { JIT_OPTIONS_DEFAULT = 0, JIT_OPTIONS_ENUM_EXISTING = 1 };

typedef void (*uv__jit_handler)(const struct uv__jit_event *);
static void *(*uv__try_get_current)(void);
static void (*uv__set_handler)(void *isolate, int options, uv__jit_handler handler);

static int uv__map_fd = -1;
static void *uv__isolate;         /* where the handler is set: the map is ours */
static char uv__map_path[64];

/* Names live per code object; a moved object keeps its name, which V8 does
 * not repeat: remembered by start address, as the map's last line for it. */
static void uv__write_line(uint64_t start, uint64_t len, const char *name, size_t name_len) {
  char line[512];
  if (name_len > 400)
    name_len = 400;
  int n = snprintf(line, sizeof(line), "%lx %lx %.*s\n", (unsigned long)start, (unsigned long)len, (int)name_len, name);
  if (n > 0 && uv__map_fd >= 0 && write(uv__map_fd, line, (size_t)n) < 0)
    return; /* a full disk loses names, never the program's time */
}

#define UV__MOVED_MAX 4096
static struct {
  uint64_t start, len;
  char name[96];
} uv__recent[UV__MOVED_MAX];

static void uv__remember(uint64_t start, uint64_t len, const char *name, size_t name_len) {
  unsigned slot = (unsigned)((start >> 4) % UV__MOVED_MAX);
  uv__recent[slot].start = start;
  uv__recent[slot].len = len;
  size_t n = name_len < sizeof(uv__recent[slot].name) - 1 ? name_len : sizeof(uv__recent[slot].name) - 1;
  memcpy(uv__recent[slot].name, name, n);
  uv__recent[slot].name[n] = '\0';
}

static void uv__on_code(const struct uv__jit_event *e) {
  if (!atomic_load_explicit(&uvdb_probe.active, memory_order_relaxed)) {
    if (uv__map_fd >= 0) /* the debugger left while the loop was too busy to say goodbye */
      close(uv__map_fd);
    uv__map_fd = -1;
    return;
  }
  if (e->type == JIT_CODE_ADDED && e->code_type != JIT_BYTE_CODE && e->name.str) {
    uv__write_line((uint64_t)(uintptr_t)e->code_start, e->code_len, e->name.str, e->name.len);
    uv__remember((uint64_t)(uintptr_t)e->code_start, e->code_len, e->name.str, e->name.len);
  } else if (e->type == JIT_CODE_MOVED) {
    uint64_t from = (uint64_t)(uintptr_t)e->code_start;
    unsigned slot = (unsigned)((from >> 4) % UV__MOVED_MAX);
    if (uv__recent[slot].start == from) {
      uint64_t to = (uint64_t)(uintptr_t)e->new_code_start;
      uv__write_line(to, uv__recent[slot].len, uv__recent[slot].name, strlen(uv__recent[slot].name));
      uv__remember(to, uv__recent[slot].len, uv__recent[slot].name, strlen(uv__recent[slot].name));
    }
  }
}

static int uv__resolve(void) {
  if (!uv__try_get_current) {
    uv__try_get_current = (void *(*)(void))dlsym(RTLD_DEFAULT, "_ZN2v87Isolate13TryGetCurrentEv");
    uv__set_handler = (void (*)(void *, int, uv__jit_handler))dlsym(
        RTLD_DEFAULT, "_ZN2v87Isolate22SetJitCodeEventHandlerENS_19JitCodeEventOptionsEPFvPKNS_12JitCodeEventEE");
  }
  return uv__try_get_current && uv__set_handler ? 0 : -1;
}

/* The main thread, its loop parked at a boundary (outside JavaScript).
 * The map is V8's own when node was started with a perf flag: then nothing. */
void uvdb_jit_names_start(void) {
  snprintf(uv__map_path, sizeof(uv__map_path), UVDB_PERF_MAP_PATH, (int)getpid());
  if (uv__resolve() != 0 || access(uv__map_path, F_OK) == 0)
    return;
  void *isolate = uv__try_get_current();
  if (!isolate)
    return;
  if (uv__map_fd >= 0) /* a map abandoned by a debugger that died, no code event since */
    close(uv__map_fd);
  uv__map_fd = open(uv__map_path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (uv__map_fd < 0)
    return;
  uv__isolate = isolate;
  uv__set_handler(isolate, JIT_OPTIONS_ENUM_EXISTING, uv__on_code);
}

/* Detach: the handler goes (same thread, same kind of moment); the debugger
 * has read the map and removes it. */
void uvdb_jit_names_stop(void) {
  if (!uv__isolate || uv__try_get_current() != uv__isolate)
    return;
  uv__set_handler(uv__isolate, JIT_OPTIONS_DEFAULT, NULL);
  uv__isolate = NULL;
  close(uv__map_fd);
  uv__map_fd = -1;
}

/* The agent, as it ends with the handler still set (the debugger died, or
 * the loop never parked to stop it): the map goes, not to mislead a later
 * profiler; the handler, inert while no debugger is there, closes its file
 * on the main thread at its next event.  Raw system calls: the agent's
 * thread has no libc thread state. */
void uvdb_jit_names_abandon(void) {
  if (uv__isolate && uv__map_path[0])
    uvdb_sys1(SYS_unlink, uv__map_path);
}
