/* The event model: folds the probe's records into per-loop state and
 * statistics, and prints phases as they run when tracing is on. */
#include "uvdb.h"

#include <string.h>

static const char *const uv__phase_names[UVDB_PHASE_COUNT] = {
#define UVDB_PHASE(id, name, inlined) [UVDB_PHASE_##id] = name,
#include "../probes/phases.def"
#undef UVDB_PHASE
};

static const char *const uv__event_names[UVDB_EV_COUNT] = {
    [UVDB_EV_NONE] = "none",
#define UVDB_EVENT(id, name, a32, x, y) [UVDB_EV_##id] = name,
#include "../probes/events.def"
#undef UVDB_EVENT
};

const char *phase_name(int phase) {
  return phase >= 0 && phase < UVDB_PHASE_COUNT ? uv__phase_names[phase] : "none";
}

int phase_by_name(const char *name) {
  for (int i = 0; i < UVDB_PHASE_COUNT; i++)
    if (strcmp(uv__phase_names[i], name) == 0)
      return i;
  return -1;
}

const char *event_name(int type) {
  return type > 0 && type < UVDB_EV_COUNT ? uv__event_names[type] : "unknown";
}

/* TSC ticks to nanoseconds with the probe's two reference points. */
static double uv__ns_per_tick(const struct uvdb_shm_header *shm) {
  const struct uvdb_clock *c = &shm->clock;
  uint64_t dt = c->tsc1 - c->tsc0, dn = c->ns1 - c->ns0;
  if (c->tsc1 <= c->tsc0 || dn == 0)
    return 1.0; /* not yet calibrated: assume 1 GHz */
  return (double)dn / (double)dt;
}

double ticks_to_ns(const struct uvdb_shm_header *shm, uint64_t ticks) {
  return (double)ticks * uv__ns_per_tick(shm);
}

/* A double to u64, saturating: converting one out of range is undefined,
 * and a corrupt record's ticks (or clock) give any value. */
static uint64_t uv__to_u64(double d) {
  return d > 0 ? d < 18446744073709549568.0 ? (uint64_t)d : UINT64_MAX : 0;
}

uint64_t tsc_to_ns(const struct uvdb_shm_header *shm, uint64_t tsc) {
  double d = ((double)tsc - (double)shm->clock.tsc0) * uv__ns_per_tick(shm);
  return shm->clock.ns0 + uv__to_u64(d);
}

void model_reset(struct model *m) {
  int trace = m->trace_phases, trace_loop = m->trace_loop;
  int trace_processes = m->trace_processes, trace_processes_loop = m->trace_processes_loop;
  pool_reset(&m->pool);
  timeline_reset();
  memset(m, 0, sizeof(*m));
  m->trace_phases = trace;
  m->trace_loop = trace_loop;
  m->trace_processes = trace_processes;
  m->trace_processes_loop = trace_processes_loop;
  m->stop.phase = -1;
}

static void uv__trace_phase(const struct loop_model *l, int phase, uint64_t iteration, uint64_t begin, uint64_t ticks,
                            const struct uvdb_shm_header *shm) {
  double ns = ticks_to_ns(shm, ticks);
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "phase");
    json_int(j, "loop", l->id);
    json_uint(j, "iteration", iteration);
    json_str(j, "phase", phase_name(phase));
    json_uint(j, "begin_ns", tsc_to_ns(shm, begin));
    json_uint(j, "duration_ns", uv__to_u64(ns));
    json_end(j);
  } else {
    printf("[loop %d] #%-6llu %-8s %10.3f us\n", l->id, (unsigned long long)iteration, phase_name(phase), ns / 1e3);
  }
}

void model_apply(struct model *m, const struct uvdb_record *r, const struct uvdb_ring *ring,
                 const struct uvdb_shm_header *shm) {
  m->events++;
  timeline_add(r, ring->tid);
  if (r->type >= UVDB_EV_POOL_INIT && r->type <= UVDB_EV_POOL_DONE) { /* from workers too: not the loop's thread */
    pool_apply(&m->pool, r, ring);
    return;
  }
  if (r->loop_id == 0 || r->loop_id > 64)
    return;
  struct loop_model *l = &m->loops[r->loop_id - 1];
  if (!l->seen) {
    l->seen = 1;
    l->id = r->loop_id;
  }
  if (l->tid != ring->tid) { /* a loop's thread rarely changes: copy its name then */
    l->tid = ring->tid;
    memcpy(l->thread, ring->thread_name, sizeof(l->thread));
    l->thread[sizeof(l->thread) - 1] = '\0';
  }
  switch (r->type) {
  case UVDB_EV_LOOP_SEEN:
    l->addr = r->x;
    break;
  case UVDB_EV_RUN_BEGIN:
    if (!l->caller)
      l->caller = r->x;
    l->runs++;
    l->running = 1;
    break;
  case UVDB_EV_RUN_END:
    l->running = 0;
    break;
  case UVDB_EV_LOOP_END:
    l->ended = 1;
    l->running = 0;
    if (loop_report_end)
      loop_report_end(l->id);
    break;
  case UVDB_EV_ITERATION:
    l->iterations++;
    memcpy(l->last_order, l->cur_order, sizeof(l->cur_order));
    l->nlast = l->ncur;
    l->ncur = 0;
    break;
  case UVDB_EV_PHASE: {
    int phase = (int)(r->a32 & UVDB_PHASE_MASK);
    if (phase >= UVDB_PHASE_COUNT)
      break;
    struct phase_stats *p = &l->phase[phase];
    uint64_t d = r->y >= r->ts ? r->y - r->ts : 0;
    p->count++;
    p->total += d;
    p->last = d;
    if (d > p->max)
      p->max = d;
    l->last_phase = phase;
    l->last_phase_end = r->y;
    if (phase == UVDB_PHASE_TIMERS)
      l->blocking.timers_begin = r->ts;
    l->last_iteration = r->x;
    if ((r->a32 & UVDB_PHASE_IN_ITERATION) && l->ncur < UVDB_MAX_ORDER)
      l->cur_order[l->ncur++] = phase;
    if (m->trace_phases && (!m->trace_loop || m->trace_loop == l->id))
      uv__trace_phase(l, phase, r->x, r->ts, d, shm);
    break;
  }
  case UVDB_EV_POLL_WAIT:
  case UVDB_EV_BLOCKED:
  case UVDB_EV_SYNC_IO:
  case UVDB_EV_GC:
  case UVDB_EV_MICROTASKS:
  case UVDB_EV_CALLBACK:
    blocking_apply(m, l, r, shm);
    break;
  case UVDB_EV_SPAWN:
  case UVDB_EV_SPAWN_TEXT:
  case UVDB_EV_PROCESS_EXIT:
  case UVDB_EV_SIGNAL:
    process_apply(m, r, shm);
    break;
  case UVDB_EV_RESUMED:
    l->last_resumed = r->ts;
    break;
  case UVDB_EV_STOPPED:
    m->stopped = 1;
    m->stop.loop_id = r->loop_id;
    m->stop.bp_id = 0;
    m->stop.reason = r->a32 & 0xff;
    m->stop.phase = (int)((r->a32 >> 8) & 0xff) - 1;
    m->stop.iteration = r->x;
    m->stop.callback = r->y;
    m->stop.pool_depth = m->stop.reason == UVDB_STOP_POOL_QUEUE ? r->a32 >> 16 : 0;
    m->stop.blocked_ms = 0;
    m->stop.microtasks = m->stop.reason == UVDB_STOP_BREAKPOINT && (r->a32 & UVDB_STOPPED_MICROTASKS);
    for (int i = m->blocking.nblocked; i-- > 0 && m->stop.reason == UVDB_STOP_BLOCKED && shm;)
      if (m->blocking.blocked[i].loop_id == r->loop_id) { /* its BLOCKED record came just before */
        const struct blocked_event *e = &m->blocking.blocked[i];
        m->stop.blocked_ms = ticks_to_ns(shm, e->end - e->since) / 1e6;
        break;
      }
    l->last_stop_phase = m->stop.phase;
    l->last_stop_iteration = r->x;
    break;
  default:
    break;
  }
}

/* The main loop: loop 1 (the probe gives that id to the first loop run on
 * the main thread); without one, the first loop seen. */
/* The phase a running loop is in now: the one after its last completed
 * phase.  The cycle is the same in every libuv (1.45 moved only where an
 * iteration begins), and it is phases.def's order. */
int model_current_phase(const struct loop_model *l) {
  if (l->last_resumed > l->last_phase_end) /* it left a stop since: in the stop's phase */
    return l->last_stop_phase;
  return l->last_phase_end ? (l->last_phase + 1) % UVDB_PHASE_COUNT : -1;
}

int model_main_loop(const struct model *m) {
  for (int i = 0; i < 64; i++)
    if (m->loops[i].seen)
      return m->loops[i].id;
  return 0;
}
