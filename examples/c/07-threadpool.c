/* Chapter 7: the thread pool.  Eight uv_queue_work jobs that each sleep
 * 50 ms, on libuv's pool (4 threads unless UV_THREADPOOL_SIZE says
 * otherwise): four run at once, four wait for a free worker, and each
 * job's after_work callback runs on the loop thread.  Optional argument:
 * the number of jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

static int done;

static void on_work(uv_work_t *req) {
  (void)req;
  struct timespec ms50 = {0, 50 * 1000 * 1000};
  while (nanosleep(&ms50, &ms50) != 0)
    ;
}

static void on_after_work(uv_work_t *req, int status) {
  (void)req;
  if (status == 0)
    done++;
}

int main(int argc, char **argv) {
  int jobs = argc > 1 ? atoi(argv[1]) : 8;
  uv_work_t *reqs = calloc((size_t)jobs, sizeof(*reqs));
  for (int i = 0; i < jobs; i++)
    uv_queue_work(uv_default_loop(), &reqs[i], on_work, on_after_work);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  printf("%d jobs done\n", done);
  free(reqs);
  return done == jobs ? 0 : 1;
}
