/* Chapter 4: a callback that blocks the loop.  The timer callback spins for
 * 200 ms (as a CPU-heavy computation would); the 10 ms timer due meanwhile
 * runs 200 ms late, and nothing else can run. */
#include <stdio.h>
#include <uv.h>

static uv_timer_t heavy, tick;
static int ticks;

static void on_heavy(uv_timer_t *t) {
  uint64_t start = uv_hrtime();
  while (uv_hrtime() - start < 200 * 1000 * 1000)
    ;
  uv_close((uv_handle_t *)t, NULL);
}

static void on_tick(uv_timer_t *t) {
  if (++ticks == 30)
    uv_close((uv_handle_t *)t, NULL);
}

int main(void) {
  uv_timer_init(uv_default_loop(), &heavy);
  uv_timer_init(uv_default_loop(), &tick);
  uv_timer_start(&heavy, on_heavy, 50, 0);
  uv_timer_start(&tick, on_tick, 10, 10);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  printf("ticked %d times\n", ticks);
  return 0;
}
