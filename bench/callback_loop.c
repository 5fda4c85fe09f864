/* A callback-bound C program for the function probes' costs: HANDLES idle
 * handles (argv[2], default 64) share one callback, on_tick, which is called
 * CALLS times in all (argv[1]) and does next to nothing, so that a probe on
 * it is most of what there is to see.  Prints the nanoseconds per call of
 * on_tick measured inside (loop turns and all). */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#define MAX_HANDLES 256

static uv_idle_t idles[MAX_HANDLES];
static int handles;
static long calls, target;

/* noinline and used: it must stay a function of its own, with its name in
 * the symbol table, for `break callback on_tick` and gdb's `break on_tick`. */
__attribute__((noinline, used)) static void on_tick(uv_idle_t *h) {
  (void)h;
  if (++calls == target)
    for (int i = 0; i < handles; i++)
      uv_idle_stop(&idles[i]);
}

int main(int argc, char **argv) {
  target = argc > 1 ? atol(argv[1]) : 2000000;
  handles = argc > 2 ? atoi(argv[2]) : 64;
  if (target < 1 || handles < 1 || handles > MAX_HANDLES) {
    fprintf(stderr, "usage: callback_loop [CALLS >= 1] [HANDLES 1..%d]\n", MAX_HANDLES);
    return 2;
  }
  uv_loop_t *loop = uv_default_loop();
  for (int i = 0; i < handles; i++) {
    uv_idle_init(loop, &idles[i]);
    uv_idle_start(&idles[i], on_tick);
  }
  uint64_t t0 = uv_hrtime();
  uv_run(loop, UV_RUN_DEFAULT);
  uint64_t t1 = uv_hrtime();
  printf("ns_per_call=%.2f calls=%ld handles=%d\n", (double)(t1 - t0) / (double)calls, calls, handles);
  return 0;
}
