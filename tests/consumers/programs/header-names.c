/* A program whose hot functions are named as pprof's header strings are
 * (samples, count, wall, nanoseconds): in the pprof export each must still
 * be a function and a location of its own. */
#include <stdint.h>
#include <uv.h>

static volatile uint64_t sink; /* written after each call: no tail calls, every frame stays */

static __attribute__((noinline)) void nanoseconds(void) {
  uint64_t start = uv_hrtime();
  while (uv_hrtime() - start < 100 * 1000 * 1000)
    sink++;
}

static __attribute__((noinline)) void count(void) {
  nanoseconds();
  sink++;
}

static __attribute__((noinline)) void wall(void) {
  count();
  sink++;
}

static __attribute__((noinline)) void samples(void) {
  wall();
  sink++;
}

static void on_timer(uv_timer_t *t) {
  samples();
  uv_close((uv_handle_t *)t, NULL);
}

int main(void) {
  uv_timer_t timer;
  uv_timer_init(uv_default_loop(), &timer);
  uv_timer_start(&timer, on_timer, 1, 0);
  return uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}
