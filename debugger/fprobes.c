/* Function probes from the debugger's side: which functions of the target
 * have a probe slot (shared memory), asking a parked loop to install them,
 * and arming them for `break callback` and `step`. */
#define _GNU_SOURCE
#include "uvdb.h"

#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

const struct uvdb_fprobe_slot *fprobe_find(const struct session *s, uint64_t addr) {
  if (!s->shm)
    return NULL;
  for (unsigned i = 0; i < UVDB_FPROBE_SLOTS; i++) {
    const struct uvdb_fprobe_slot *f = uvdb_shm_fprobe(s->shm, i);
    if (atomic_load(&((struct uvdb_fprobe_slot *)f)->state) != UVDB_FPROBE_FREE && f->addr == addr)
      return f;
  }
  return NULL;
}

int fprobe_slot(struct session *s, uint64_t addr, uint64_t size) {
  if (!s->shm)
    return -1;
  for (unsigned i = 0; i < UVDB_FPROBE_SLOTS; i++) {
    struct uvdb_fprobe_slot *f = uvdb_shm_fprobe(s->shm, i);
    uint32_t state = atomic_load(&f->state);
    if (state != UVDB_FPROBE_FREE && f->addr == addr)
      return (int)i;
    if (state == UVDB_FPROBE_FREE) {
      f->addr = addr;
      f->size = size;
      f->reason[0] = '\0';
      atomic_store(&f->armed, 0);
      atomic_store(&f->state, UVDB_FPROBE_REQUESTED);
      return (int)i;
    }
  }
  return -1;
}

int fprobes_requested(const struct session *s) {
  for (unsigned i = 0; s->shm && i < UVDB_FPROBE_SLOTS; i++)
    if (atomic_load(&uvdb_shm_fprobe(s->shm, i)->state) == UVDB_FPROBE_REQUESTED)
      return 1;
  return 0;
}

/* Only a parked loop thread patches code (the agent thread has no libc),
 * so the program must be stopped; the probe answers on a futex. */
int fprobes_install(struct session *s) {
  if (!fprobes_requested(s))
    return 0;
  if (s->state != TARGET_STOPPED)
    return uvdb_error("the program must be stopped to place a probe on a function");
  uint32_t acks = atomic_load(&s->shm->fprobe_acks);
  if (session_send(s, UVDB_MSG_FPROBES, NULL, 0) != 0)
    return -1;
  for (int i = 0; i < 200 && atomic_load(&s->shm->fprobe_acks) == acks; i++) {
    struct timespec ms10 = {0, 10 * 1000 * 1000};
    syscall(SYS_futex, (uint32_t *)&s->shm->fprobe_acks, FUTEX_WAIT, acks, &ms10, NULL, 0);
    session_check(s);
    if (s->state != TARGET_STOPPED)
      return uvdb_error("the program ended before the probe answered");
  }
  if (atomic_load(&s->shm->fprobe_acks) == acks)
    return uvdb_error("the probe did not answer within 2 s; the functions are not probed yet");
  return 0;
}

void fprobes_arm(struct session *s, const uint8_t *step) {
  if (!s->shm)
    return;
  uint8_t armed[UVDB_FPROBE_SLOTS] = {0};
  for (int b = 0; b < UVDB_MAX_BREAKPOINTS; b++) {
    const struct breakpoint *bp = &s->bp[b];
    if (!bp->id || !bp->enabled || bp->type != BP_CALLBACK)
      continue;
    for (int k = 0; k < bp->nlocations; k++)
      for (unsigned i = 0; i < UVDB_FPROBE_SLOTS; i++)
        if (uvdb_shm_fprobe(s->shm, i)->addr == bp->location[k])
          armed[i] |= UVDB_FPROBE_BREAK;
  }
  int changed = 0;
  for (unsigned i = 0; i < UVDB_FPROBE_SLOTS; i++) {
    struct uvdb_fprobe_slot *f = uvdb_shm_fprobe(s->shm, i);
    if (atomic_load(&f->state) == UVDB_FPROBE_FREE)
      continue;
    uint32_t want = armed[i] | (step && step[i] ? UVDB_FPROBE_STEP : 0);
    if (atomic_load(&f->armed) != want) {
      atomic_store(&f->armed, want);
      changed = 1;
    }
  }
  s->step_armed = step != NULL;
  if (changed && s->probe_connected)
    session_send(s, UVDB_MSG_FPROBES, NULL, 0);
}
