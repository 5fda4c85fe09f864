/* A loop-bound C program: idle handles turn the loop N times (argv[1]),
 * doing nothing else, so the probe's per-iteration cost is all there is to
 * see.  With argv[2], that many idle handles (default 1), each a callback
 * an iteration: more records a second for the ring-throughput row.  Prints
 * the nanoseconds per iteration and the run's time, measured inside. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#define MAX_HANDLES 64

static uv_idle_t idle[MAX_HANDLES];
static long turns, target;
static int handles;

static void on_idle(uv_idle_t *h) {
  if (h != &idle[0])
    return;
  if (++turns == target)
    for (int i = 0; i < handles; i++)
      uv_idle_stop(&idle[i]);
}

int main(int argc, char **argv) {
  target = argc > 1 ? atol(argv[1]) : 2000000;
  handles = argc > 2 ? atoi(argv[2]) : 1;
  if (target < 1 || handles < 1 || handles > MAX_HANDLES) {
    fprintf(stderr, "usage: %s [ITERATIONS >= 1] [HANDLES 1..%d]\n", argv[0], MAX_HANDLES);
    return 2;
  }
  uv_loop_t *loop = uv_default_loop();
  for (int i = 0; i < handles; i++) {
    uv_idle_init(loop, &idle[i]);
    uv_idle_start(&idle[i], on_idle);
  }
  uint64_t t0 = uv_hrtime();
  uv_run(loop, UV_RUN_DEFAULT);
  uint64_t t1 = uv_hrtime();
  printf("ns_per_iteration=%.2f iterations=%ld seconds=%.4f\n", (double)(t1 - t0) / (double)turns, turns,
         (double)(t1 - t0) / 1e9);
  return 0;
}
