/* The cost of one recorded event on the probe's hot path (timestamp, TLS
 * ring, push), with a reader thread draining the ring as the debugger does,
 * beside a baseline loop that does the same work minus the event. */
#include "../preload/probe.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int done;
static struct uvdb_ring *ring;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *reader(void *arg) {
  (void)arg;
  static struct uvdb_record batch[4096];
  /* As the debugger does: look now and then, and read a ring once it is a
   * quarter full, leaving the writer's recent cache lines alone. */
  while (!atomic_load(&done)) {
    usleep(100);
    if (atomic_load(&ring->head) - atomic_load(&ring->tail) >= UVDB_RING_RECORDS / 4)
      while (uvdb_ring_pop(ring, batch, 4096))
        ;
  }
  while (uvdb_ring_pop(ring, batch, 4096))
    ;
  return NULL;
}

static volatile uint64_t sink;

__attribute__((noinline)) static void baseline(struct uvdb_loop *l, uint64_t i) {
  sink = i + (uint64_t)(uintptr_t)l;
}

__attribute__((noinline)) static void recorded(struct uvdb_loop *l, uint64_t i) {
  sink = i + (uint64_t)(uintptr_t)l;
  uvdb_emit_at(uvdb_now(), UVDB_EV_PHASE, l, UVDB_PHASE_POLL, i, i);
}

static double run(void (*fn)(struct uvdb_loop *, uint64_t), struct uvdb_loop *l, uint64_t n) {
  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < n; i++)
    fn(l, i);
  return (double)(now_ns() - t0) / (double)n;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000000;
  ring = aligned_alloc(64, sizeof(*ring));
  memset(ring, 0, sizeof(*ring));
  uvdb_self.ring = ring;
  atomic_store(&uvdb_probe.active, 1);
  struct uvdb_loop loop = {.id = 1};
  pthread_t t;
  pthread_create(&t, NULL, reader, NULL);
  enum { ROUNDS = 7 };
  double base[ROUNDS], rec[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) { /* alternate, so drift hits both */
    base[r] = run(baseline, &loop, n);
    rec[r] = run(recorded, &loop, n);
  }
  atomic_store(&done, 1);
  pthread_join(t, NULL);
  qsort(base, ROUNDS, sizeof(double), cmp);
  qsort(rec, ROUNDS, sizeof(double), cmp);
  printf("baseline_ns=%.2f recorded_ns=%.2f event_ns=%.2f dropped=%llu events=%llu\n", base[ROUNDS / 2],
         rec[ROUNDS / 2], rec[ROUNDS / 2] - base[ROUNDS / 2], (unsigned long long)atomic_load(&ring->dropped),
         (unsigned long long)(n * ROUNDS));
  return 0;
}
