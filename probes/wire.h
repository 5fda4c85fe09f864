/* The contract between the probe and the debugger: event records, the shared
 * memory that carries them, and the control messages on the Unix socket. */
#ifndef UVDB_WIRE_H
#define UVDB_WIRE_H

#include <stdint.h>
#include <stdatomic.h>

#define UVDB_PROTOCOL_VERSION 3
#define UVDB_VERSION_STRING "0.1.0"
#define UVDB_SHM_MAGIC 0x5556444253484d31ull /* "UVDBSHM1" */

enum uvdb_event_type {
  UVDB_EV_NONE = 0,
#define UVDB_EVENT(id, name, a32, x, y) UVDB_EV_##id,
#include "events.def"
#undef UVDB_EVENT
  UVDB_EV_COUNT
};

enum uvdb_phase {
#define UVDB_PHASE(id, name, inlined) UVDB_PHASE_##id,
#include "phases.def"
#undef UVDB_PHASE
  UVDB_PHASE_COUNT
};

enum uvdb_stop_reason {
  UVDB_STOP_INTERRUPT = 1, /* the user asked (Ctrl-C, `interrupt`) */
  UVDB_STOP_START = 2,     /* `start`: first phase of the first loop */
  UVDB_STOP_IN_POLL = 3,   /* interrupted while blocked waiting for events */
  UVDB_STOP_BREAKPOINT = 4,/* a phase the debugger armed */
  UVDB_STOP_STEP = 5,      /* `next`: the loop's next safepoint; `step`: its next callback */
  UVDB_STOP_CALLBACK = 6,  /* entering a function armed by `break callback` */
  UVDB_STOP_FINISH = 7,    /* `finish` in a callback: it returned */
  UVDB_STOP_QUERY = 8,     /* a view asked for while the loop ran: resumed after it */
  UVDB_STOP_POOL_QUEUE = 9,/* `break threadpool queue N`: a submission made the queue N deep */
  UVDB_STOP_BLOCKED = 10,  /* `break blocked MS`: the end of a stretch that blocked the loop that long */
};

#define UVDB_POOL_BREAKS 4 /* distinct depths of `break threadpool queue N` */

/* POOL_SUBMIT's kinds of job, from the work function libuv runs. */
enum uvdb_pool_kind {
  UVDB_POOL_KIND_UNKNOWN = 0,
  UVDB_POOL_KIND_FS = 1,
  UVDB_POOL_KIND_WORK = 2, /* uv_queue_work */
  UVDB_POOL_KIND_GETADDRINFO = 3,
  UVDB_POOL_KIND_GETNAMEINFO = 4,
  UVDB_POOL_KIND_RANDOM = 5,
};

/* PAUSE's reason for `step` and `finish` in a callback: no safepoint, the
 * next armed callback entered (step) or the return of the callback parked
 * in (finish) on that thread. */
#define UVDB_PAUSE_AT_CALLBACK 0x100u

/* PHASE's a32: the phase, and whether it ran inside an iteration (libuv
 * 1.45+ runs timers once before the first iteration of UV_RUN_DEFAULT). */
#define UVDB_PHASE_MASK 0xffu
#define UVDB_PHASE_IN_ITERATION 0x100u

/* STOPPED's a32: the reason, (phase + 1) << 8 (0 for none), and for a pool
 * queue stop the queue's depth << 16; its y: the callback entered or
 * returned from, 0 at a phase boundary. */

/* One event: fixed size, written by one thread into its own ring.  What a32,
 * x and y carry depends on the type: see events.def. */
struct uvdb_record {
  uint64_t ts;   /* TSC ticks; see uvdb_shm_header.clock */
  uint16_t type; /* enum uvdb_event_type */
  uint16_t loop_id;
  uint32_t a32;
  uint64_t x;
  uint64_t y;
};

#define UVDB_RING_RECORDS 131072u /* power of two: 4 MiB a ring */
#define UVDB_MAX_RINGS 64u

enum uvdb_ring_state {
  UVDB_RING_FREE = 0,
  UVDB_RING_CLAIMING = 1,
  UVDB_RING_LIVE = 2,
  UVDB_RING_RETIRED = 3, /* its thread exited; the reader frees it once drained */
};

/* Single producer (the thread), single consumer (the debugger).  Head and
 * tail live on their own cache lines so the two sides do not bounce. */
struct uvdb_ring {
  _Alignas(64) _Atomic uint64_t head; /* next record the writer fills */
  uint64_t tail_cache;                /* writer's last view of tail */
  _Atomic uint64_t dropped;           /* records lost because the ring was full */
  _Alignas(64) _Atomic uint64_t tail; /* next record the reader takes */
  _Alignas(64) _Atomic uint32_t state;
  uint32_t tid;
  char thread_name[16];
  struct uvdb_record rec[UVDB_RING_RECORDS];
};

/* TSC to CLOCK_MONOTONIC: two reference points, the second refreshed by the
 * probe's agent thread; ns = ns0 + (tsc - tsc0) * (ns1 - ns0) / (tsc1 - tsc0). */
struct uvdb_clock {
  _Atomic uint64_t seq; /* odd while being written */
  uint64_t tsc0, ns0, tsc1, ns1;
};

struct uvdb_shm_header {
  uint64_t magic;
  uint32_t version;
  uint32_t nrings;
  uint32_t ring_records;
  uint32_t record_size;
  struct uvdb_clock clock;
  _Atomic uint64_t rings_exhausted; /* events lost: no ring left for a thread */
  /* Loops parked so far; its low 32 bits are a futex the probe wakes at
   * each stop and the debugger waits on (shared across the processes). */
  _Atomic uint64_t stops;
  /* Function probe requests served so far: a futex uvdb waits on. */
  _Atomic uint32_t fprobe_acks;
  /* Stack samples taken so far (SAMPLE): a futex uvdb waits on. */
  _Atomic uint32_t samples;
  /* Each loop (by id) now: since when it runs without a boundary, 0 while
   * it waits in epoll; copied by the watchdog at each look. */
  _Atomic uint64_t loop_busy_since[65];
  /* Profiler samples claimed so far (the next slot is this modulo the slots). */
  _Atomic uint64_t profile_claimed;
};

/* Where each loop's thread last parked: the registers an unwinder starts
 * from (the interrupted ones when parked from the kick signal), written by
 * the loop thread before it announces the stop.  uvdb unwinds from them,
 * reading the stack remotely: nothing is unwound inside the target. */
struct uvdb_stop_stack {
  uint64_t rip, rsp, rbp, rbx, r12, r13, r14, r15;
  uint32_t valid;
  uint32_t reserved;
};

/* Function probes (`break callback`, `step`): uvdb writes a slot's address
 * and size and marks it REQUESTED; the probe installs it in its constructor
 * or on a parked loop thread, and answers INSTALLED or REFUSED with a
 * reason.  `armed` (uvdb's) says what entering the function does. */
#define UVDB_FPROBE_SLOTS 256u
enum uvdb_fprobe_state {
  UVDB_FPROBE_FREE = 0,
  UVDB_FPROBE_REQUESTED = 1,
  UVDB_FPROBE_INSTALLED = 2,
  UVDB_FPROBE_REFUSED = 3,
};
#define UVDB_FPROBE_BREAK 1u /* stop any loop thread entering it */
#define UVDB_FPROBE_STEP 2u  /* stop the stepping thread entering it */

struct uvdb_fprobe_slot {
  uint64_t addr, size;
  _Atomic uint32_t state;
  _Atomic uint32_t armed;
  char reason[112];
};

#define UVDB_SHM_STACKS_OFFSET 4096u
#define UVDB_SHM_FPROBES_OFFSET \
  ((UVDB_SHM_STACKS_OFFSET + 65u * sizeof(struct uvdb_stop_stack) + 4095u) / 4096u * 4096u)
/* Samples of a running loop thread: its registers and the top of its
 * stack, copied by the thread itself (in the kick signal's handler, or in
 * a hook for sync I/O), so that uvdb unwinds a stack that held still.
 * Slot UVDB_SAMPLE_SLOTS - 1 answers uvdb's SAMPLE; the watchdog and sync
 * I/O take the others in turn. */
#define UVDB_SAMPLE_STACK 65536u
#define UVDB_SAMPLE_SLOTS 8u
struct uvdb_sample {
  _Atomic uint32_t seq; /* odd while written; the count of samples written here, doubled */
  uint32_t tid, stack_len;
  uint16_t loop_id, kind; /* kind: UVDB_SAMPLE_* */
  uint64_t episode;       /* the ts of the BLOCKED or SYNC_IO event it belongs to */
  uint64_t stack_base;    /* the address stack[0] was copied from: the sampled rsp */
  struct uvdb_stop_stack regs;
  uint8_t stack[UVDB_SAMPLE_STACK];
};

enum uvdb_sample_kind { UVDB_SAMPLE_ASKED = 0, UVDB_SAMPLE_BLOCKED = 1, UVDB_SAMPLE_SYNC_IO = 2 };

#define UVDB_SHM_SAMPLE_OFFSET \
  ((UVDB_SHM_FPROBES_OFFSET + UVDB_FPROBE_SLOTS * sizeof(struct uvdb_fprobe_slot) + 4095u) / 4096u * 4096u)
/* The profiler's samples: a ring of fixed slots that each sampled thread
 * claims with an atomic counter (`index` tells uvdb which claim a slot
 * holds, so that one overwritten before it was read is counted lost). */
#define UVDB_PROFILE_SLOTS 512u
#define UVDB_PROFILE_STACK 16384u
enum uvdb_profile_role { UVDB_ROLE_LOOP = 1, UVDB_ROLE_POOL = 2, UVDB_ROLE_OTHER = 3 };
struct uvdb_profile_sample {
  _Atomic uint32_t seq; /* odd while written */
  uint32_t tid, stack_len;
  uint16_t loop_id;     /* the loop the thread runs, 0: none */
  uint8_t phase;        /* the loop's phase then, 0xff: none */
  uint8_t role;         /* enum uvdb_profile_role */
  uint8_t waiting;      /* in epoll_wait: the loop was idle */
  uint8_t reserved[7];
  uint64_t index, ts, stack_base;
  struct uvdb_stop_stack regs;
  uint8_t stack[UVDB_PROFILE_STACK];
};

#define UVDB_SHM_PROFILE_OFFSET \
  ((UVDB_SHM_SAMPLE_OFFSET + UVDB_SAMPLE_SLOTS * sizeof(struct uvdb_sample) + 4095u) / 4096u * 4096u)
#define UVDB_SHM_RINGS_OFFSET \
  ((UVDB_SHM_PROFILE_OFFSET + UVDB_PROFILE_SLOTS * sizeof(struct uvdb_profile_sample) + 4095u) / 4096u * 4096u)
#define UVDB_SHM_SIZE (UVDB_SHM_RINGS_OFFSET + (uint64_t)UVDB_MAX_RINGS * sizeof(struct uvdb_ring))

/* The stop stack of loop `id` (1-based). */
static inline struct uvdb_stop_stack *uvdb_shm_stack(void *shm, unsigned id) {
  return (struct uvdb_stop_stack *)((char *)shm + UVDB_SHM_STACKS_OFFSET) + (id < 65 ? id : 0);
}

static inline struct uvdb_fprobe_slot *uvdb_shm_fprobe(void *shm, unsigned i) {
  return (struct uvdb_fprobe_slot *)((char *)shm + UVDB_SHM_FPROBES_OFFSET) + (i < UVDB_FPROBE_SLOTS ? i : 0);
}

static inline struct uvdb_sample *uvdb_shm_sample(void *shm, unsigned slot) {
  return (struct uvdb_sample *)((char *)shm + UVDB_SHM_SAMPLE_OFFSET) + (slot < UVDB_SAMPLE_SLOTS ? slot : 0);
}

static inline struct uvdb_profile_sample *uvdb_shm_profile(void *shm, uint64_t index) {
  return (struct uvdb_profile_sample *)((char *)shm + UVDB_SHM_PROFILE_OFFSET) + index % UVDB_PROFILE_SLOTS;
}

static inline struct uvdb_ring *uvdb_shm_ring(void *shm, unsigned i) {
  return (struct uvdb_ring *)((char *)shm + UVDB_SHM_RINGS_OFFSET) + i;
}

enum { UVDB_JIT_NAMES_START = 1, UVDB_JIT_NAMES_STOP = 2 };
/* Where V8 writes a process's JIT code names ("START SIZE name" lines), as
 * perf reads them: the probe has it written after an attach, uvdb reads it. */
#define UVDB_PERF_MAP_PATH "/tmp/perf-%d.map"

/* Attach (debugger/attach.c): what uvdb_attach_prepare, run in the target by
 * ptrace, leaves in the probe's memory for the debugger to read. */
#define UVDB_ATTACH_MAX_RANGES 96
#define UVDB_ATTACH_NO_CALLBACKS 1u /* uvdb_attach_prepare's flags: leave the callback call sites unpatched */
struct uvdb_attach_plan {
  int32_t status;   /* 0: ready to install; else -errno, and `why` says it */
  uint32_t nranges; /* code the install rewrites: no thread may be inside it then */
  uint64_t range[UVDB_ATTACH_MAX_RANGES][2];
  char why[256];
};

/* Control messages: a header, then `len` bytes of payload.  Text payloads
 * are "key=value" lines, so either side can add a key without a new version. */
struct uvdb_msg_header {
  uint32_t type;
  uint32_t len;
};

#define UVDB_MSG_MAX 65536u

enum uvdb_msg_type {
  UVDB_MSG_HELLO = 1,       /* probe -> debugger: text, shm memfd attached */
  UVDB_MSG_WELCOME = 2,     /* debugger -> probe: text (protocol, options) */
  UVDB_MSG_REFUSE = 3,      /* either way: text reason, then close */
  UVDB_MSG_PAUSE = 5,       /* debugger -> probe: struct uvdb_msg_pause */
  UVDB_MSG_RESUME = 6,      /* debugger -> probe: release parked loops */
  UVDB_MSG_BREAKPOINTS = 8, /* debugger -> probe: struct uvdb_msg_breakpoints */
  UVDB_MSG_FPROBES = 9,     /* debugger -> probe: the fprobe slots changed */
  UVDB_MSG_SAMPLE = 10,     /* debugger -> probe: u32 tid, sample that loop thread's stack now */
  UVDB_MSG_POOL_BREAK = 11, /* debugger -> probe: u32 depth[UVDB_POOL_BREAKS], stop as the queue reaches one (0: none) */
  UVDB_MSG_WATCHDOG = 12,   /* debugger -> probe: struct uvdb_msg_watchdog */
  UVDB_MSG_PROFILE = 13,    /* debugger -> probe: struct uvdb_msg_profile */
  UVDB_MSG_JIT_NAMES = 14,  /* debugger -> probe: u32 UVDB_JIT_NAMES_START or _STOP, done at the next query stop */
};

/* PAUSE: park the loop run by thread `tid` (0: the main thread) at its next
 * safepoint, reporting `reason`; reason 0 withdraws a pause not yet taken. */
struct uvdb_msg_pause {
  uint32_t tid;
  uint32_t reason;
};

/* WATCHDOG: sample a loop stuck that long without a boundary (0: off),
 * looking every period_ns; stop at the end of a stretch at least
 * break_ticks long (0: never).  Ticks of the TSC. */
struct uvdb_msg_watchdog {
  uint64_t threshold_ticks, break_ticks, period_ns;
  uint64_t ticks_per_ms; /* the TSC's rate, for the probe's own millisecond thresholds */
};

/* PROFILE: sample the chosen threads every period_ns of their CPU time
 * (cpu) or of the clock (wall); period_ns 0 stops. */
#define UVDB_PROFILE_LOOPS 1u
#define UVDB_PROFILE_POOL 2u
#define UVDB_PROFILE_OTHER 4u /* every other thread: V8's, the inspector's, the program's own */
struct uvdb_msg_profile {
  uint64_t period_ns;
  uint32_t wall, threads; /* threads: UVDB_PROFILE_* bits */
};

/* BREAKPOINTS: the phases armed, as bit masks (1 << phase): [0] for every
 * loop, [N] for loop N alone. */
#define UVDB_BP_SLOTS 65
/* A mask's bit for `break microtasks`: the loop's thread stops as a microtask
 * checkpoint with microtasks queued begins; its STOPPED is a breakpoint's
 * with UVDB_STOPPED_MICROTASKS in a32. */
#define UVDB_BP_MICROTASKS (1u << 31)
#define UVDB_STOPPED_MICROTASKS (1u << 24)
struct uvdb_msg_breakpoints {
  uint32_t mask[UVDB_BP_SLOTS];
};

#endif
