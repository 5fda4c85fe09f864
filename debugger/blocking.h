/* What blocked each loop, from the probe's events (blocking.c): lag per
 * poll, idle time, the stretches the watchdog caught and the file-system
 * calls run on the loop thread, with the stacks sampled for them. */
#ifndef UVDB_BLOCKING_H
#define UVDB_BLOCKING_H

#include "histogram.h"
#include <stdint.h>

#define STACK_MAX 64
#define BLOCKED_SAMPLES 4
#define UTIL_WINDOWS 64 /* seconds kept for utilization over windows */

struct stack {
  int n;
  uint64_t pcs[STACK_MAX];
};

struct blocked_event {
  int loop_id, phase;
  uint64_t iteration; /* of the boundary that ended it */
  uint64_t since, end; /* TSC */
  int nsamples;
  struct stack samples[BLOCKED_SAMPLES];
};

struct sync_io_event {
  int loop_id, fs_type;
  uint64_t begin, end;
  int sampled;
  struct stack stack;
};

/* V8's garbage collections on the loop's thread, and its microtask checkpoints. */
struct gc_event {
  uint64_t begin, end;
  int space, reason;
};
#define GC_KEPT 64

struct loop_gc {
  uint64_t count[2], ticks[2], max; /* [0] scavenges (new space), [1] the others */
  struct gc_event longest[GC_KEPT]; /* the longest kept */
  int nlongest;
  uint64_t checkpoints, microtasks, microtask_ticks, microtask_max;
};

/* A callback a loop ran (its phase function's call, to the next boundary). */
struct callback_event {
  int loop_id, phase;
  uint64_t iteration, fn, begin, end; /* TSC */
};
#define SLOWEST_KEPT 64

/* Callbacks by function, phase and loop: how often, how long. */
struct callback_stat {
  uint64_t fn, count, ticks, max;
  int loop_id, phase;
};
#define CALLBACK_STATS 512 /* a power of two: open addressing */

struct loop_blocking {
  struct histogram lag; /* ns, one value per poll */
  uint64_t idle, waits, first_ts, last_ts;
  uint64_t timers_begin; /* the last timers phase's begin: libuv's clock was updated then */
  uint64_t window_second[UTIL_WINDOWS], window_idle[UTIL_WINDOWS]; /* idle ns by second of the clock */
  uint64_t blocked_count, sync_count, sync_ticks; /* this loop's */
  uint64_t callbacks, callback_ticks;
  struct loop_gc gc;
};

#define MAX_BLOCKED 256
#define MAX_SYNC_IO 256

struct blocking_model {
  struct blocked_event blocked[MAX_BLOCKED]; /* the longest kept when full */
  int nblocked;
  uint64_t blocked_total;
  struct sync_io_event sync_io[MAX_SYNC_IO];
  int nsync;
  uint64_t sync_total, sync_ticks;
  struct callback_event slowest[SLOWEST_KEPT]; /* the slowest callbacks, unordered */
  int nslowest;
  int slowest_min; /* once full: the shortest kept, which a longer one replaces */
  struct callback_stat by_fn[CALLBACK_STATS];
  int nby_fn;
  uint64_t callbacks_unsorted; /* callbacks of functions met after by_fn filled */
  /* samples that came before their event */
  struct {
    int loop_id, kind;
    uint64_t episode;
    struct stack stack;
  } pending[16];
  int npending;
};

#endif
