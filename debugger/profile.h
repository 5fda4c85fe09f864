/* The profiler's data in uvdb (profile.c): every sample unwound into its
 * return addresses, with the thread's role and the loop's phase then;
 * named when reported or exported. */
#ifndef UVDB_PROFILE_H
#define UVDB_PROFILE_H

#include <stddef.h>
#include <stdint.h>

struct prof_rec {
  uint32_t off;     /* its first pc in pcs */
  uint8_t n;        /* how many, innermost first */
  uint8_t phase;    /* 0xff: none */
  uint8_t role;     /* enum uvdb_profile_role */
  uint8_t waiting;  /* the loop waited in epoll (wall clock only) */
  uint16_t loop_id;
};

struct profile {
  int active;  /* sampling now */
  int armed;   /* `profile start` before `run`: from the program's start */
  uint64_t period_ns;
  int wall;
  uint32_t threads; /* UVDB_PROFILE_* */
  uint64_t next_index, lost;
  struct prof_rec *recs;
  size_t nrecs, cap;
  uint64_t *pcs;
  size_t npcs, pcs_cap;
  double seconds; /* sampled for, in all */
  double started;
};

#define PROFILE_MAX_SAMPLES 500000u

struct session;
/* Keep one unwound sample (profile.c); meta's off and n are set here. */
void profile_store(struct profile *p, const struct prof_rec *meta, const uint64_t *pcs, int n);

/* The samples' stacks, folded "root;...;leaf", sorted, each with its count
 * (cmd_profile.c). */
struct profile_folded {
  char **line;
  uint64_t *count;
  size_t n;
  uint64_t total;
};
void profile_fold(struct session *s, int phase_roots, struct profile_folded *f);
void profile_unfold(struct profile_folded *f);
/* Write the samples to path as folded, svg, speedscope or pprof (through
 * path.tmp, renamed).  0, or -1 with the error said. */
int profile_export_file(struct session *s, const char *path, const char *format, int phase_roots,
                        uint64_t *samples, size_t *stacks);

#endif
