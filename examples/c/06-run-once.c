/* Chapter 6: drive the loop by hand, one iteration per uv_run(UV_RUN_ONCE).
 * An idle handle keeps each iteration from blocking; the last one closes it,
 * so the program runs exactly N iterations (argv[1], default 5). */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

static uv_idle_t idle;
static int idle_runs;

static void on_idle(uv_idle_t *h) { (void)h; idle_runs++; }
static void on_close(uv_handle_t *h) { (void)h; }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 5;
  if (n < 1) {
    fprintf(stderr, "usage: %s [ITERATIONS >= 1]\n", argv[0]);
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_idle_init(&loop, &idle);
  uv_idle_start(&idle, on_idle);
  for (int i = 0; i < n; i++) {
    if (i == n - 1)
      uv_close((uv_handle_t *)&idle, on_close); /* closed in this last iteration */
    uv_run(&loop, UV_RUN_ONCE);
  }
  int alive = uv_loop_alive(&loop);
  printf("%d iterations, idle callback ran %d times, loop %s\n", n, idle_runs, alive ? "alive" : "done");
  return uv_loop_close(&loop) == 0 ? 0 : 1;
}
