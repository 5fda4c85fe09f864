/* V8 inside node: its garbage collections and microtask checkpoints,
 * hooked by their symbols in node's .symtab, as events on the loop thread
 * they hold (GC pauses count in the blocking view; microtasks run inside a
 * callback's scope, between macrotasks). */
#define _GNU_SOURCE
#include "../preload/probe.h"

#include <stdbool.h>

static bool (*uv__orig_collect_garbage)(void *heap, int space, int reason, int flags);
static int (*uv__orig_run_microtasks)(void *queue, void *isolate);

/* The loop this thread runs, if it runs one (GC and microtasks also run
 * before uv_run, in the program's main code, and on other isolates). */
static struct uvdb_loop *uv__loop(void) {
  int d = uvdb_self.depth;
  return d > 0 ? uvdb_self.frames[d - 1].loop : NULL;
}

static bool uv__hook_collect_garbage(void *heap, int space, int reason, int flags) {
  uint64_t t0 = uvdb_now();
  bool r = uv__orig_collect_garbage(heap, space, reason, flags);
  struct uvdb_loop *l = uv__loop();
  if (l)
    uvdb_emit_at(t0, UVDB_EV_GC, l, (uint32_t)space, (uint64_t)(uint32_t)reason, uvdb_now());
  return r;
}

static int uv__hook_run_microtasks(void *queue, void *isolate) {
  uint64_t t0 = uvdb_now();
  int r = uv__orig_run_microtasks(queue, isolate);
  struct uvdb_loop *l = uv__loop();
  if (l && r > 0) /* an empty checkpoint says nothing */
    uvdb_emit_at(t0, UVDB_EV_MICROTASKS, l, (uint32_t)r, 0, uvdb_now());
  return r;
}

static struct uvdb_hook uv__v8_hooks[2] = {
    {.replacement = (void *)uv__hook_collect_garbage, .original = (void **)&uv__orig_collect_garbage},
    {.replacement = (void *)uv__hook_run_microtasks, .original = (void **)&uv__orig_run_microtasks},
};

/* Only where node's V8 is: a C program has none, and lists none. */
struct uvdb_hook *uvdb_v8_hooks(size_t *n, const struct uvdb_located_fn **located) {
  static const enum uvdb_pool_fn fns[2] = {UVDB_V8_COLLECT_GARBAGE, UVDB_V8_RUN_MICROTASKS};
  size_t k = 0;
  for (int i = 0; i < 2; i++) {
    const struct uvdb_located_fn *fn = &uvdb_probe.lib.pool[fns[i]];
    if (!fn->addr)
      continue;
    uv__v8_hooks[k] = (struct uvdb_hook){.name = fn->name,
                                         .target = (uint8_t *)fn->addr,
                                         .size = fn->size,
                                         .replacement = uv__v8_hooks[i].replacement,
                                         .original = uv__v8_hooks[i].original};
    located[k++] = fn;
  }
  *n = k;
  return uv__v8_hooks;
}
