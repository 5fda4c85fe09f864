/* Chapter 6: the timer heap.  Three timers due in 10, 20 and 30 ms, the
 * 20 ms one repeating (three times in all); libuv keeps them in a min-heap
 * ordered by due time, and runs the due ones in the timers phase. */
#include <stdio.h>
#include <uv.h>

static uv_timer_t first, repeating, third;
static int repeats;

static void on_close(uv_handle_t *h) { (void)h; }

static void on_first(uv_timer_t *t) {
  printf("first\n");
  uv_close((uv_handle_t *)t, on_close);
}

static void on_repeating(uv_timer_t *t) {
  if (++repeats == 3)
    uv_close((uv_handle_t *)t, on_close);
}

static void on_third(uv_timer_t *t) {
  printf("third, after the repeating timer fired %d time%s\n", repeats, repeats == 1 ? "" : "s");
  uv_close((uv_handle_t *)t, on_close);
}

int main(void) {
  uv_loop_t *loop = uv_default_loop();
  uv_timer_init(loop, &third);
  uv_timer_init(loop, &first);
  uv_timer_init(loop, &repeating);
  uv_timer_start(&third, on_third, 30, 0); /* started first, due last: the heap orders them */
  uv_timer_start(&first, on_first, 10, 0);
  uv_timer_start(&repeating, on_repeating, 20, 20);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
