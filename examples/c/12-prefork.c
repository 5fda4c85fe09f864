/* Chapter 12: processes forked without exec, as a prefork server makes its
 * workers.  The parent forks two children from inside a timer callback;
 * each child tells libuv it forked (uv_loop_fork), stops the parent's timer
 * it inherited, ticks a timer of its own 20 times and exits with its number.
 * The parent reaps them from a SIGCHLD watcher and prints what they said. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#define CHILDREN 2
#define TICKS 20

static uv_timer_t start, tick;
static uv_signal_t child_exit;
static int me, ticks, reaped;

static void on_tick(uv_timer_t *t) {
  if (++ticks == TICKS) {
    uv_close((uv_handle_t *)t, NULL);
    uv_close((uv_handle_t *)&child_exit, NULL);
  }
}

/* In a child: the loop is the parent's copy, handles and all. */
static void child_main(int number) {
  me = number;
  if (uv_loop_fork(uv_default_loop()) != 0)
    _exit(100);
  uv_close((uv_handle_t *)&start, NULL);
  uv_timer_init(uv_default_loop(), &tick);
  uv_timer_start(&tick, on_tick, 2, 2);
}

static void on_start(uv_timer_t *t) {
  (void)t;
  for (int i = 1; i <= CHILDREN; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      exit(1);
    }
    if (pid == 0) {
      child_main(i);
      return;
    }
  }
  uv_close((uv_handle_t *)&start, NULL);
}

static void on_child_exit(uv_signal_t *s, int signum) {
  (void)signum;
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    printf("child pid %d exited with code %d\n", (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (++reaped == CHILDREN)
      uv_close((uv_handle_t *)s, NULL);
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  uv_signal_init(uv_default_loop(), &child_exit);
  uv_signal_start(&child_exit, on_child_exit, SIGCHLD);
  uv_timer_init(uv_default_loop(), &start);
  uv_timer_start(&start, on_start, 5, 0);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  if (me) {
    uv_loop_close(uv_default_loop());
    return me; /* a child: its number */
  }
  printf("parent: %d children reaped\n", reaped);
  return 0;
}
