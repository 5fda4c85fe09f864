/* V8 inside node: its garbage collections and microtask checkpoints,
 * hooked by their symbols in node's .symtab, as events on the loop thread
 * they hold (GC pauses count in the blocking view; microtasks run inside a
 * callback's scope, between macrotasks); and `break microtasks`. */
#define _GNU_SOURCE
#include "../preload/probe.h"

#include <stdbool.h>

static bool (*uv__orig_collect_garbage)(void *heap, int space, int reason, int flags);
static int (*uv__orig_run_microtasks)(void *queue, void *isolate);

/* Where a MicrotaskQueue keeps its length (V8's own constant, read once at
 * hook time; 0: unknown, every checkpoint counts as non-empty). */
static size_t uv__size_offset;

/* The loop this thread runs, if it runs one (GC and microtasks also run
 * before uv_run, in the program's main code, and on other isolates). */
static struct uvdb_run_frame *uv__frame(void) {
  int d = uvdb_self.depth;
  return d > 0 ? &uvdb_self.frames[d - 1] : NULL;
}

/* "GC held the loop": the pause V8 makes inside Heap::CollectGarbage, a
 * scavenge or a mark-compact's atomic pause, as --trace-gc's first figure;
 * not incremental marking steps, which run inside allocations, nor the
 * concurrent and parallel helpers' time on other threads. */
/* Node also runs V8's tasks between two uv_run calls (SpinEventLoop drains
 * the platform's queue when uv_run returns): a scavenge task, or the
 * finalization of incremental marking, collects there, holding the loop as
 * much as one inside it.  Counted for the loop this thread ran last (its
 * outermost frame stays filled after uv_run returns); only what runs
 * before a thread's first uv_run (the main module's code) has no loop. */
static bool uv__hook_collect_garbage(void *heap, int space, int reason, int flags) {
  uint64_t t0 = uvdb_now();
  bool r = uv__orig_collect_garbage(heap, space, reason, flags);
  struct uvdb_run_frame *f = uv__frame();
  struct uvdb_loop *l = f ? f->loop : uvdb_self.frames[0].loop;
  if (l)
    uvdb_emit_at(t0, UVDB_EV_GC, l, (uint32_t)space, (uint64_t)(uint32_t)reason, uvdb_now());
  return r;
}

/* `break microtasks`: stop before a checkpoint that has microtasks to run
 * (an empty one is V8's routine at every callback's end, not a checkpoint
 * worth a stop), in the phase the callback around it runs in. */
static __attribute__((noinline)) void uv__checkpoint_break(struct uvdb_run_frame *f, void *queue) {
  if (uv__size_offset && *(const intptr_t *)((const char *)queue + uv__size_offset) <= 0)
    return;
  uint64_t iter = f->in_iter ? f->iter : atomic_load_explicit(&f->loop->iterations, memory_order_relaxed);
  uvdb_park(f->loop, UVDB_STOP_BREAKPOINT | UVDB_STOPPED_MICROTASKS, f->cur_phase, iter, NULL, 0);
}

static int uv__hook_run_microtasks(void *queue, void *isolate) {
  struct uvdb_run_frame *f = uv__frame();
  if (f && uvdb_unlikely(atomic_load_explicit(&uvdb_probe.attention, memory_order_relaxed)) &&
      (atomic_load_explicit(&f->loop->armed, memory_order_relaxed) & UVDB_BP_MICROTASKS))
    uv__checkpoint_break(f, queue);
  uint64_t t0 = uvdb_now();
  int r = uv__orig_run_microtasks(queue, isolate);
  if (f && r > 0) /* an empty checkpoint says nothing */
    uvdb_emit_at(t0, UVDB_EV_MICROTASKS, f->loop, (uint32_t)r, 0, uvdb_now());
  return r;
}

static struct uvdb_hook uv__v8_hooks[3]; /* those found, filled below */

/* Only where node's V8 is: a C program has none, and lists none.  The
 * list also carries uv_loop_close's hook (probes/loop.c), in every program. */
struct uvdb_hook *uvdb_v8_hooks(size_t *n, const struct uvdb_located_fn **located) {
  static const enum uvdb_pool_fn fns[2] = {UVDB_V8_COLLECT_GARBAGE, UVDB_V8_RUN_MICROTASKS};
  static const struct uvdb_hook originals[2] = {
      {.replacement = (void *)uv__hook_collect_garbage, .original = (void **)&uv__orig_collect_garbage},
      {.replacement = (void *)uv__hook_run_microtasks, .original = (void **)&uv__orig_run_microtasks},
  };
  size_t k = 0;
  for (int i = 0; i < 2; i++) {
    const struct uvdb_located_fn *fn = &uvdb_probe.lib.pool[fns[i]];
    if (!fn->addr)
      continue;
    uv__v8_hooks[k] = (struct uvdb_hook){.name = fn->name,
                                         .target = (uint8_t *)fn->addr,
                                         .size = fn->size,
                                         .replacement = originals[i].replacement,
                                         .original = originals[i].original};
    located[k++] = fn;
  }
  const struct uvdb_located_fn *size_sym = &uvdb_probe.lib.pool[UVDB_V8_MICROTASK_SIZE_OFFSET];
  if (size_sym->addr && size_sym->size == sizeof(size_t)) /* the constant lives in node's .rodata */
    uv__size_offset = *(const size_t *)size_sym->addr;
  struct uvdb_hook *close = uvdb_loop_close_hook(&located[k]);
  if (close)
    uv__v8_hooks[k++] = *close; /* a copy: the stub writes the original through .original */
  *n = k;
  return uv__v8_hooks;
}
