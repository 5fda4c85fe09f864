/* 64 threads, each running a loop of its own (three timer ticks), besides
 * the main thread's: more loop threads than the probe has rings (64). */
#include <pthread.h>
#include <stdio.h>
#include <uv.h>

#define THREADS 64

static int ticks[THREADS];

static void on_tick(uv_timer_t *t) {
  int *n = t->data;
  if (++*n == 3)
    uv_timer_stop(t);
}

static void *run(void *arg) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_timer_t timer;
  uv_timer_init(&loop, &timer);
  timer.data = arg;
  uv_timer_start(&timer, on_tick, 1, 1);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&timer, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return NULL;
}

int main(void) {
  pthread_t t[THREADS];
  int main_ticks = 0;
  uv_timer_t timer;
  uv_timer_init(uv_default_loop(), &timer);
  timer.data = &main_ticks;
  uv_timer_start(&timer, on_tick, 1, 1);
  for (int i = 0; i < THREADS; i++)
    pthread_create(&t[i], NULL, run, &ticks[i]);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  int total = main_ticks;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    total += ticks[i];
  }
  printf("threads64: %d loops ran %d timer ticks\n", THREADS + 1, total);
  return 0;
}
