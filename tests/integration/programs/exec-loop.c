/* A target that execs: its loop runs 3 iterations, then it becomes
 * argv[1] (with the rest as arguments), which may be a libuv program of
 * its own; the probe must say hello again from the new image. */
#include <stdio.h>
#include <unistd.h>
#include <uv.h>

static int idles;
static void on_idle(uv_idle_t *h) {
  if (++idles == 3)
    uv_idle_stop(h);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: exec-loop PROGRAM [ARGS...]\n");
    return 2;
  }
  uv_idle_t idle;
  uv_idle_init(uv_default_loop(), &idle);
  uv_idle_start(&idle, on_idle);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  printf("exec-loop: %d idle callbacks, now exec %s\n", idles, argv[1]);
  fflush(stdout);
  execv(argv[1], argv + 1);
  perror("execv");
  return 127;
}
