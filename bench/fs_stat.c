/* An fs-bound C program for the thread-pool probe's cost: N uv_fs_stat calls
 * (argv[1], default 100000) on one path (argv[3], default "/"), at most
 * IN_FLIGHT (argv[2], default 64) at a time, each a job of libuv's thread
 * pool.  Prints the nanoseconds per stat measured inside, and the process's
 * CPU time and context switches per stat over the same stretch: with the
 * loop and the pool's workers sharing one CPU, the switches, not the work,
 * set the pace. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <uv.h>

#define MAX_IN_FLIGHT 1024

static uv_fs_t requests[MAX_IN_FLIGHT];
static const char *path;
static long started, finished, failed, target;

static void on_stat(uv_fs_t *req);

struct usage {
  double cpu_ns, switches;
};

static struct usage usage_now(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (struct usage){(double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e9 +
                            (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e3,
                        (double)(u.ru_nvcsw + u.ru_nivcsw)};
}

static void start_stat(uv_fs_t *req) {
  started++;
  int r = uv_fs_stat(uv_default_loop(), req, path, on_stat);
  if (r < 0) {
    fprintf(stderr, "fs_stat: uv_fs_stat: %s\n", uv_strerror(r));
    exit(1);
  }
}

static void on_stat(uv_fs_t *req) {
  if (req->result < 0)
    failed++;
  uv_fs_req_cleanup(req);
  finished++;
  if (started < target)
    start_stat(req);
}

int main(int argc, char **argv) {
  target = argc > 1 ? atol(argv[1]) : 100000;
  int in_flight = argc > 2 ? atoi(argv[2]) : 64;
  path = argc > 3 ? argv[3] : "/";
  if (target < 1 || in_flight < 1 || in_flight > MAX_IN_FLIGHT) {
    fprintf(stderr, "usage: fs_stat [STATS >= 1] [IN_FLIGHT 1..%d] [PATH]\n", MAX_IN_FLIGHT);
    return 2;
  }
  struct usage u0 = usage_now();
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < in_flight && started < target; i++)
    start_stat(&requests[i]);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  uint64_t t1 = uv_hrtime();
  struct usage u1 = usage_now();
  if (failed) {
    fprintf(stderr, "fs_stat: %ld of %ld stats failed\n", failed, finished);
    return 1;
  }
  printf("ns_per_op=%.2f cpu_ns_per_op=%.2f switches_per_op=%.3f ops=%ld in_flight=%d libuv=%s\n",
         (double)(t1 - t0) / (double)finished, (u1.cpu_ns - u0.cpu_ns) / (double)finished,
         (u1.switches - u0.switches) / (double)finished, finished, in_flight, uv_version_string());
  return 0;
}
