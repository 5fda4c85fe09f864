/* Chapter 12: child processes and signals on a libuv loop.  It spawns
 * /bin/true, `/bin/sh -c 'exit 3'`, a /bin/sleep that it kills with SIGTERM
 * and a file that does not exist; and it watches SIGUSR1 with a
 * uv_signal_t while it raises SIGUSR1 at itself twice (the second time
 * from the first one's callback).  It prints each child's pid as it
 * starts, and at the end how each child ended, as its exit callback
 * learned it (in the order spawned: they end in any order). */
#include <signal.h>
#include <stdio.h>
#include <uv.h>

static uv_process_t children[4];
static struct {
  int64_t exit_status;
  int term_signal;
} ended[3];
static uv_signal_t usr1;
static int exited, signals;

/* Done once every child has ended and both signals came: the signal
 * handle is all that keeps the loop alive by then. */
static void maybe_done(void) {
  if (exited == 3 && signals == 2)
    uv_close((uv_handle_t *)&usr1, NULL);
}

static void on_child_exit(uv_process_t *p, int64_t exit_status, int term_signal) {
  ended[p - children].exit_status = exit_status;
  ended[p - children].term_signal = term_signal;
  uv_close((uv_handle_t *)p, NULL);
  exited++;
  maybe_done();
}

static void on_usr1(uv_signal_t *h, int signum) {
  (void)h;
  (void)signum;
  if (++signals == 1)
    raise(SIGUSR1);
  maybe_done();
}

static int spawn(uv_process_t *p, const char *what, char **args) {
  uv_process_options_t o = {0};
  o.file = args[0];
  o.args = args;
  o.exit_cb = on_child_exit;
  int r = uv_spawn(uv_default_loop(), p, &o);
  if (r == 0)
    printf("spawned %s: pid %d\n", what, p->pid);
  else
    printf("spawn %s failed: %s\n", what, uv_err_name(r));
  return r;
}

int main(void) {
  uv_loop_t *loop = uv_default_loop();
  uv_signal_init(loop, &usr1);
  uv_signal_start(&usr1, on_usr1, SIGUSR1);

  char *true_args[] = {"/bin/true", NULL};
  char *exit3_args[] = {"/bin/sh", "-c", "exit 3", NULL};
  char *sleep_args[] = {"/bin/sleep", "10", NULL};
  char *missing_args[] = {"/nonexistent/program", NULL};
  spawn(&children[0], "true", true_args);
  spawn(&children[1], "exit3", exit3_args);
  if (spawn(&children[2], "sleep", sleep_args) == 0)
    uv_process_kill(&children[2], SIGTERM);
  if (spawn(&children[3], "missing", missing_args) != 0)
    uv_close((uv_handle_t *)&children[3], NULL); /* a failed spawn's handle is still to close */

  raise(SIGUSR1);
  uv_run(loop, UV_RUN_DEFAULT);
  for (int i = 0; i < 3; i++)
    printf("pid %d ended: exit status %lld, signal %d\n", children[i].pid, (long long)ended[i].exit_status,
           ended[i].term_signal);
  printf("SIGUSR1 came %d times\n", signals);
  return uv_loop_close(loop);
}
