/* A target that forks without exec: the child runs a loop of its own on the
 * copy of the probe it inherited, which must stay quiet (the rings it shares
 * with the parent belong to the parent's debugger).  The parent runs exactly
 * N iterations (argv[1]); the child 5. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

static uv_idle_t idle;
static void on_idle(uv_idle_t *h) { (void)h; }
static void on_close(uv_handle_t *h) { (void)h; }

static int child(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_idle_t mine;
  uv_idle_init(&loop, &mine);
  uv_idle_start(&mine, on_idle);
  for (int i = 0; i < 5; i++)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&mine, on_close);
  uv_run(&loop, UV_RUN_DEFAULT);
  return uv_loop_close(&loop) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 4;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_idle_init(&loop, &idle);
  uv_idle_start(&idle, on_idle);
  int status = -1;
  for (int i = 0; i < n; i++) {
    if (i == 1) {
      pid_t pid = fork();
      if (pid == 0)
        _exit(child());
      waitpid(pid, &status, 0);
    }
    if (i == n - 1)
      uv_close((uv_handle_t *)&idle, on_close);
    uv_run(&loop, UV_RUN_ONCE);
  }
  printf("parent ran %d iterations, child exited with %d\n", n, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return uv_loop_close(&loop) == 0 ? 0 : 1;
}
