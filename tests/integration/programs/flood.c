/* An event flood: a loop turning as fast as it can (an idle handle) for
 * argv[1] iterations, some ten records each, far more than a ring holds
 * when nobody reads it.  It must never wait for the reader.  With argv[2],
 * it then waits for that file to exist before it ends, so a test can be
 * sure it still runs until it has seen the flood done. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

static long left;
static const char *gate;

static void on_gate(uv_timer_t *t) {
  if (access(gate, F_OK) == 0)
    uv_timer_stop(t);
}

static void on_idle(uv_idle_t *h) {
  if (--left == 0)
    uv_idle_stop(h);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  gate = argc > 2 ? argv[2] : NULL;
  left = n;
  uv_idle_t idle;
  uv_idle_init(uv_default_loop(), &idle);
  uv_idle_start(&idle, on_idle);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  printf("flood: %ld iterations done\n", n);
  fflush(stdout);
  if (gate) {
    uv_timer_t t;
    uv_timer_init(uv_default_loop(), &t);
    uv_timer_start(&t, on_gate, 0, 10);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  }
  return 0;
}
