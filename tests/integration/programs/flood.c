/* An event flood: a loop turning as fast as it can (an idle handle) for
 * argv[1] iterations, some ten records each, far more than a ring holds
 * when nobody reads it.  It must never wait for the reader. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

static long left;

static void on_idle(uv_idle_t *h) {
  if (--left == 0)
    uv_idle_stop(h);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  left = n;
  uv_idle_t idle;
  uv_idle_init(uv_default_loop(), &idle);
  uv_idle_start(&idle, on_idle);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  printf("flood: %ld iterations done\n", n);
  fflush(stdout);
  return 0;
}
