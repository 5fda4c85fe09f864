/* A loop that gets stuck: its timer callback spins (up to 60 s), so a view
 * asked while it runs finds no safepoint and must say what it is busy with. */
#include <time.h>
#include <uv.h>

static volatile unsigned long spins;

static void on_busy(uv_timer_t *t) {
  (void)t;
  time_t end = time(NULL) + 60;
  while (time(NULL) < end)
    spins++;
}

int main(void) {
  uv_timer_t timer;
  uv_timer_init(uv_default_loop(), &timer);
  uv_timer_start(&timer, on_busy, 1, 0);
  return uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}
