/* The blocking model: lag and idle time from each epoll wait, the
 * stretches the watchdog caught and the sync I/O calls, joined with the
 * stacks the probe sampled for them. */
#include "uvdb.h"

#include <string.h>

static void uv__window_add(struct loop_blocking *b, uint64_t second, uint64_t idle_ns) {
  unsigned i = (unsigned)(second % UTIL_WINDOWS);
  if (b->window_second[i] != second)
    b->window_second[i] = second, b->window_idle[i] = 0;
  b->window_idle[i] += idle_ns;
}

/* A wait's idle time, in ns, to each second of the clock it spans. */
static void uv__window(struct loop_blocking *b, uint64_t begin_ns, uint64_t end_ns) {
  /* Only the last UTIL_WINDOWS seconds stay in the ring, so a wait longer
   * than that (or a corrupt one, hours or centuries long) starts there:
   * the same result, in at most UTIL_WINDOWS + 1 steps. */
  uint64_t keep = (uint64_t)(UTIL_WINDOWS + 1) * 1000000000u;
  if (end_ns > begin_ns && end_ns - begin_ns > keep)
    begin_ns = end_ns - keep;
  for (uint64_t t = begin_ns; t < end_ns;) {
    uint64_t second = t / 1000000000u, next = (second + 1) * 1000000000u;
    uint64_t stop = next > t && next < end_ns ? next : end_ns; /* next wraps in the last second of 2^64 ns */
    uv__window_add(b, second, stop - t);
    t = stop;
  }
}

/* A sample's stack goes to its event, or waits for it (the event is
 * written when the stretch or the call ends, the samples during it). */
static struct stack *uv__take_pending(struct blocking_model *b, int loop_id, int kind, uint64_t episode) {
  for (int i = 0; i < b->npending; i++)
    if (b->pending[i].loop_id == loop_id && b->pending[i].kind == kind && b->pending[i].episode == episode) {
      static struct stack taken;
      taken = b->pending[i].stack;
      b->pending[i] = b->pending[--b->npending];
      return &taken;
    }
  return NULL;
}

static struct blocked_event *uv__blocked_slot(struct blocking_model *b, uint64_t duration) {
  if (b->nblocked < MAX_BLOCKED)
    return &b->blocked[b->nblocked++];
  int shortest = 0; /* full: the longest are kept */
  for (int i = 1; i < MAX_BLOCKED; i++)
    if (b->blocked[i].end - b->blocked[i].since < b->blocked[shortest].end - b->blocked[shortest].since)
      shortest = i;
  struct blocked_event *e = &b->blocked[shortest];
  return e->end - e->since < duration ? e : NULL;
}

/* The iteration a callback's record gives as its low 24 bits: the one of
 * those nearest the loop's last known iteration. */
static uint64_t uv__iteration_near(uint64_t known, uint32_t low24) {
  uint64_t it = (known & ~(uint64_t)0xffffff) | low24;
  if (it > known + 0x800000 && it >= 0x1000000)
    it -= 0x1000000;
  else if (it + 0x800000 < known)
    it += 0x1000000;
  return it;
}

static void uv__callback(struct blocking_model *b, struct loop_model *l, const struct uvdb_record *r) {
  uint64_t d = r->y > r->ts ? r->y - r->ts : 0;
  int phase = (int)(r->a32 & 0xff);
  l->blocking.callbacks++;
  l->blocking.callback_ticks += d;
  struct callback_event e = {l->id, phase, uv__iteration_near(l->last_iteration, r->a32 >> 8), r->x, r->ts, r->y};
  /* Most calls are shorter than the shortest kept: one compare each; the
   * shortest is looked for again only when it is replaced. */
  if (b->nslowest < SLOWEST_KEPT || b->slowest[b->slowest_min].end - b->slowest[b->slowest_min].begin < d) {
    b->slowest[b->nslowest < SLOWEST_KEPT ? b->nslowest++ : b->slowest_min] = e;
    if (b->nslowest == SLOWEST_KEPT) {
      int shortest = 0;
      for (int i = 1; i < SLOWEST_KEPT; i++)
        if (b->slowest[i].end - b->slowest[i].begin < b->slowest[shortest].end - b->slowest[shortest].begin)
          shortest = i;
      b->slowest_min = shortest;
    }
  }
  unsigned mask = CALLBACK_STATS - 1, i = (unsigned)((r->x ^ (uint64_t)l->id << 56 ^ (uint64_t)phase << 48) *
                                                     0x9e3779b97f4a7c15ull >> 40) & mask;
  for (unsigned probes = 0; probes < CALLBACK_STATS; probes++, i = (i + 1) & mask) {
    struct callback_stat *c = &b->by_fn[i];
    if (c->count && (c->fn != r->x || c->loop_id != l->id || c->phase != phase))
      continue;
    if (!c->count) {
      if (b->nby_fn >= CALLBACK_STATS * 3 / 4)
        break; /* kept sparse: later functions are only counted */
      *c = (struct callback_stat){.fn = r->x, .loop_id = l->id, .phase = phase};
      b->nby_fn++;
    }
    c->count++;
    c->ticks += d;
    c->max = d > c->max ? d : c->max;
    return;
  }
  b->callbacks_unsorted++;
}

void blocking_apply(struct model *m, struct loop_model *l, const struct uvdb_record *r,
                    const struct uvdb_shm_header *shm) {
  struct blocking_model *b = &m->blocking;
  struct loop_blocking *lb = &l->blocking;
  switch (r->type) {
  case UVDB_EV_POLL_WAIT: {
    uint64_t idle = r->y > r->ts ? r->y - r->ts : 0;
    lb->idle += idle;
    lb->waits++;
    if (!lb->first_ts)
      lb->first_ts = r->ts;
    lb->last_ts = r->y;
    if (shm)
      uv__window(lb, tsc_to_ns(shm, r->ts), tsc_to_ns(shm, r->y));
    /* The poll's first wait: how late it returned.  libuv counts the timeout
     * from its clock's last update, made just before the timers phase (at
     * an iteration's start before 1.45, at its end since): the loop should
     * have woken that long after the timers phase began. */
    histogram_add_n(&lb->lag, 0, r->a32 >> 17); /* prompt waits the probe only counted */
    if ((r->a32 >> 16) & 1) {
      uint64_t lag = 0; /* unsigned, compared before subtracting: any record's values give no overflow */
      if (r->x != UINT64_MAX && lb->timers_begin && shm) {
        uint64_t woke = tsc_to_ns(shm, r->y), began = tsc_to_ns(shm, lb->timers_begin);
        uint64_t due = r->x < UINT64_MAX / 1000000u ? r->x * 1000000u : UINT64_MAX;
        lag = woke > began && woke - began > due ? woke - began - due : 0;
      }
      histogram_add(&lb->lag, lag);
    }
    break;
  }
  case UVDB_EV_BLOCKED: {
    b->blocked_total++;
    lb->blocked_count++;
    struct blocked_event *e = uv__blocked_slot(b, r->y - r->ts);
    if (!e)
      break;
    memset(e, 0, sizeof(*e));
    e->loop_id = r->loop_id, e->phase = (int)(r->a32 & 0xff), e->since = r->ts, e->end = r->y;
    e->iteration = r->x;
    struct stack *st;
    while (e->nsamples < BLOCKED_SAMPLES && (st = uv__take_pending(b, r->loop_id, UVDB_SAMPLE_BLOCKED, r->ts)))
      e->samples[e->nsamples++] = *st;
    break;
  }
  case UVDB_EV_GC: {
    struct loop_gc *g = &lb->gc;
    uint64_t d = r->y > r->ts ? r->y - r->ts : 0;
    int full = r->a32 != 1; /* 1: new space, a scavenge */
    g->count[full]++;
    g->ticks[full] += d;
    g->max = d > g->max ? d : g->max;
    int at = g->nlongest < GC_KEPT ? g->nlongest++ : -1;
    for (int i = 0; at < 0 && i < GC_KEPT; i++) /* full: replace a shorter one */
      if (g->longest[i].end - g->longest[i].begin < d)
        at = i;
    if (at >= 0)
      g->longest[at] = (struct gc_event){r->ts, r->y, (int)r->a32, (int)r->x};
    break;
  }
  case UVDB_EV_MICROTASKS: {
    struct loop_gc *g = &lb->gc;
    uint64_t d = r->y > r->ts ? r->y - r->ts : 0;
    g->checkpoints++;
    g->microtasks += r->a32;
    g->microtask_ticks += d;
    g->microtask_max = d > g->microtask_max ? d : g->microtask_max;
    break;
  }
  case UVDB_EV_CALLBACK:
    uv__callback(b, l, r);
    break;
  case UVDB_EV_SYNC_IO: {
    b->sync_total++;
    b->sync_ticks += r->y > r->ts ? r->y - r->ts : 0;
    lb->sync_count++;
    lb->sync_ticks += r->y > r->ts ? r->y - r->ts : 0;
    if (b->nsync == MAX_SYNC_IO)
      break;
    struct sync_io_event *e = &b->sync_io[b->nsync++];
    memset(e, 0, sizeof(*e));
    e->loop_id = r->loop_id, e->fs_type = (int)(r->a32 & 0xff), e->begin = r->ts, e->end = r->y;
    struct stack *st = r->x ? uv__take_pending(b, r->loop_id, UVDB_SAMPLE_SYNC_IO, r->x) : NULL;
    if (st)
      e->stack = *st, e->sampled = 1;
    break;
  }
  default:
    break;
  }
}

void blocking_add_sample(struct blocking_model *b, int loop_id, int kind, uint64_t episode, const struct stack *st) {
  /* a stretch still going on is reported later: keep the sample for it */
  for (int i = 0; i < b->nblocked && kind == UVDB_SAMPLE_BLOCKED; i++) {
    struct blocked_event *e = &b->blocked[i];
    if (e->loop_id == loop_id && e->since == episode) {
      if (e->nsamples < BLOCKED_SAMPLES)
        e->samples[e->nsamples++] = *st;
      return;
    }
  }
  if (b->npending == (int)(sizeof(b->pending) / sizeof(b->pending[0])))
    b->pending[0] = b->pending[--b->npending]; /* the oldest goes */
  b->pending[b->npending].loop_id = loop_id;
  b->pending[b->npending].kind = kind;
  b->pending[b->npending].episode = episode;
  b->pending[b->npending].stack = *st;
  b->npending++;
}
