/* A loop-bound C program: an idle handle turns the loop N times (argv[1]),
 * doing nothing else, so the probe's per-iteration cost is all there is to
 * see.  Prints the nanoseconds per iteration measured inside. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

static uv_idle_t idle;
static long turns, target;

static void on_idle(uv_idle_t *h) {
  if (++turns == target)
    uv_idle_stop(h);
}

int main(int argc, char **argv) {
  target = argc > 1 ? atol(argv[1]) : 2000000;
  uv_loop_t *loop = uv_default_loop();
  uv_idle_init(loop, &idle);
  uv_idle_start(&idle, on_idle);
  uint64_t t0 = uv_hrtime();
  uv_run(loop, UV_RUN_DEFAULT);
  uint64_t t1 = uv_hrtime();
  printf("ns_per_iteration=%.2f iterations=%ld\n", (double)(t1 - t0) / (double)turns, turns);
  return 0;
}
