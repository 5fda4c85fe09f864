/* The profiler in uvdb: telling the probe to sample, taking its samples
 * from the profile ring (unwound at once, while the process is there to
 * read), and naming frames for reports and exports. */
#define _GNU_SOURCE
#include "record.h"
#include "symbolize.h"
#include "uvdb.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double uv__now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void profile_reset(struct profile *p) {
  free(p->recs);
  free(p->pcs);
  memset(p, 0, sizeof(*p));
}

/* Tell the probe what to sample (period 0: nothing). */
int profile_push(struct session *s) {
  struct profile *p = &s->profile;
  struct uvdb_msg_profile m = {p->active ? p->period_ns : 0, (uint32_t)p->wall, p->threads};
  if (!s->probe_connected)
    return 0;
  if (s->shm)
    p->next_index = atomic_load(&s->shm->profile_claimed);
  return session_send(s, UVDB_MSG_PROFILE, &m, sizeof(m));
}

/* WELCOME's line for a profile started before the program ran. */
size_t profile_welcome(struct session *s, char *buf, size_t cap) {
  struct profile *p = &s->profile;
  if (!p->armed)
    return 0;
  p->active = 1;
  p->started = uv__now_s();
  p->next_index = 0;
  int n = snprintf(buf, cap, "profile=%llu,%d,%u\n", (unsigned long long)p->period_ns, p->wall, p->threads);
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Keep one unwound sample (its off and n are set here).  The live drain and
 * the replay of a recording both come through feed_profile_sample. */
void profile_store(struct profile *p, const struct prof_rec *meta, const uint64_t *pcs, int n) {
  if (p->nrecs == PROFILE_MAX_SAMPLES) {
    p->lost++;
    return;
  }
  if (p->nrecs == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 4096;
    p->recs = realloc(p->recs, p->cap * sizeof(*p->recs));
  }
  if (p->npcs + (size_t)n > p->pcs_cap) {
    p->pcs_cap = p->pcs_cap ? p->pcs_cap * 2 : 65536;
    p->pcs = realloc(p->pcs, p->pcs_cap * sizeof(*p->pcs));
  }
  p->recs[p->nrecs] = *meta;
  p->recs[p->nrecs].off = (uint32_t)p->npcs;
  p->recs[p->nrecs++].n = (uint8_t)n;
  memcpy(p->pcs + p->npcs, pcs, sizeof(*pcs) * (size_t)n);
  p->npcs += (size_t)n;
}

/* Take the samples written since the last look.  One the probe wrote over
 * before it was read is lost (counted). */
void profile_collect(struct session *s) {
  struct profile *p = &s->profile;
  if (!p->active || !s->shm)
    return;
  uint64_t claimed = atomic_load(&s->shm->profile_claimed);
  if (claimed - p->next_index > UVDB_PROFILE_SLOTS) {
    p->lost += claimed - p->next_index - UVDB_PROFILE_SLOTS;
    p->next_index = claimed - UVDB_PROFILE_SLOTS;
  }
  static uint8_t copy[UVDB_PROFILE_STACK];
  struct symbolizer *sym = session_symbolizer(s);
  for (; p->next_index < claimed; p->next_index++) {
    struct uvdb_profile_sample *smp = uvdb_shm_profile(s->shm, p->next_index);
    uint32_t seq = atomic_load(&smp->seq);
    if ((seq & 1) || smp->index != p->next_index)
      break; /* still being written: the next look */
    struct uvdb_profile_sample head;
    memcpy(&head, smp, offsetof(struct uvdb_profile_sample, stack));
    uint32_t len = head.stack_len < UVDB_PROFILE_STACK ? head.stack_len : UVDB_PROFILE_STACK;
    memcpy(copy, smp->stack, len);
    if (atomic_load(&smp->seq) != seq || smp->index != p->next_index) {
      p->lost++; /* written over while read */
      continue;
    }
    uint64_t pcs[128];
    int n = symbolizer_unwind_copy(sym, (pid_t)head.tid, &head.regs, copy, head.stack_base, len, pcs, 128);
    if (n <= 0)
      pcs[0] = head.regs.rip, n = 1;
    int kept = 0; /* the probe's own frames (its hooks around libuv's) are not the program's */
    for (int k = 0; k < n; k++)
      if (strncmp(symbolize_module(sym, pcs[k]), "libuvdb-probe", 13) != 0)
        pcs[kept++] = pcs[k];
    struct prof_rec meta = {0, 0, head.phase, head.role, head.waiting, head.loop_id};
    feed_profile_sample(s, &meta, head.ts, head.tid, pcs, kept > 255 ? 255 : kept);
  }
}

int profile_start(struct session *s, uint64_t period_ns, int wall, uint32_t threads) {
  struct profile *p = &s->profile;
  profile_reset(p);
  p->period_ns = period_ns, p->wall = wall, p->threads = threads;
  if (s->state != TARGET_RUNNING && s->state != TARGET_STOPPED) {
    p->armed = 1; /* from the program's start */
    return 0;
  }
  if (!s->probe_connected)
    return uvdb_error("the probe is not in this process (no libuv): nothing to sample");
  p->active = 1;
  p->started = uv__now_s();
  return profile_push(s);
}

/* The program ended: sampling is over, nothing to tell the probe. */
void profile_ended(struct profile *p) {
  if (p->active)
    p->seconds += uv__now_s() - p->started;
  p->active = 0;
}

int profile_stop(struct session *s) {
  struct profile *p = &s->profile;
  if (!p->active && !p->armed)
    return uvdb_error("the profiler is not running (profile start)");
  if (p->active) {
    profile_collect(s);
    p->seconds += uv__now_s() - p->started;
  }
  p->active = p->armed = 0;
  return s->probe_connected ? profile_push(s) : 0;
}

/* The name a frame is counted under: the function, without an offset;
 * code of a module without symbols, the module; JIT code without a name,
 * [jit]. */
const char *profile_frame_name(struct session *s, uint64_t pc, int leaf, char *buf, size_t cap) {
  symbolize_frame(session_symbolizer(s), pc, leaf, buf, cap);
  char *plus = strrchr(buf, '+');
  if (plus && strncmp(plus, "+0x", 3) == 0 && !strchr(plus, ')'))
    *plus = '\0';
  if (strncmp(buf, "0x", 2) == 0)
    snprintf(buf, cap, "[jit]");
  return buf;
}
