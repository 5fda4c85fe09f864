/* A target that takes every realtime signal for itself once main runs,
 * after the probe chose its own (the kick and the profiler's): from then
 * on no signal may reach the program from the probe.  It prints how many
 * it got: 0, and it then uses SIGRTMIN+1 itself, which must work. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static volatile sig_atomic_t got[128];
static int ticks;

static void on_signal(int sig) {
  got[sig]++;
}

static void on_tick(uv_timer_t *t) {
  /* some CPU time in each callback, for a CPU-clock profiler to sample */
  struct timespec a, b;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
  do
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
  while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 2000000L);
  if (++ticks == 40)
    uv_timer_stop(t);
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
    sigaction(sig, &sa, NULL);
  uv_timer_t timer;
  uv_timer_init(uv_default_loop(), &timer);
  uv_timer_start(&timer, on_tick, 1, 5);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  int foreign = 0;
  for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
    foreign += got[sig];
  raise(SIGRTMIN + 1);
  printf("own-signals: %d ticks, %d signals not sent by the program, own signal %s\n", ticks, foreign,
         got[SIGRTMIN + 1] == 1 ? "received" : "lost");
  return 0;
}
