/* The thread pool as the probe's events tell it (pool.c): jobs in flight,
 * workers, and the distributions of queue wait, run time and the delay
 * from a job's end to its done callback. */
#ifndef UVDB_POOL_H
#define UVDB_POOL_H

#include "histogram.h"
#include <stddef.h>
#include <stdint.h>

/* A job from its submission to its done callback.  Its events come from two
 * rings (the loop's, the worker's) read in either order, so a job is kept
 * until all of them are in. */
struct pool_job {
  uint64_t key, work_fn, job_object;
  uint64_t submitted, started, ended, done_begin, done_end; /* TSC; 0: not seen yet */
  uint32_t worker_tid;
  uint8_t cls, kind, fs_type, cancelled, done_phase;
  uint16_t loop_id;
  int next; /* the next job with the same key, oldest first; -1 */
  int tail; /* the chain's last job: kept in its first */
};

struct pool_worker {
  uint32_t tid;
  uint64_t job;   /* the job running, 0 when idle */
  uint64_t since; /* TSC */
  uint64_t jobs, busy;
};

#define POOL_MAX_WORKERS 1024
#define POOL_RECENT 64
#define POOL_KINDS 6

struct pool_model {
  int started;
  unsigned size;
  struct pool_job *jobs; /* slots; a free slot has key 0 */
  int *free_list, nfree, cap;
  int *map; /* open addressing, key -> index of its oldest job; -1 empty */
  unsigned map_cap;
  size_t active;
  size_t unsubmitted; /* jobs made by an event that came before their submission */
  struct pool_worker workers[POOL_MAX_WORKERS];
  int nworkers;
  uint64_t submitted, done, cancelled;
  uint64_t done_by_kind[POOL_KINDS];
  struct histogram wait, run, delay;
  struct pool_job recent[POOL_RECENT]; /* the last jobs done, oldest first from recent_at */
  unsigned nrecent, recent_at;
};

struct uvdb_record;
struct uvdb_ring;
void pool_reset(struct pool_model *p);
void pool_apply(struct pool_model *p, const struct uvdb_record *r, const struct uvdb_ring *ring);
struct pool_worker *pool_worker(struct pool_model *p, uint32_t tid);

/* Walk the jobs in flight (submitted, not yet done). */
void pool_each_active(const struct pool_model *p, void (*fn)(const struct pool_job *j, void *arg), void *arg);

const char *pool_kind_name(int kind);
const char *pool_fs_op_name(int fs_type);
const char *pool_class_name(int cls);

#endif
