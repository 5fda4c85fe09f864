/* Finding libuv in the process: which object holds it, its version, and the
 * addresses of the functions the loop probes hook. */
#ifndef UVDB_LOCATE_H
#define UVDB_LOCATE_H

#include <stddef.h>
#include <stdint.h>

enum uvdb_fn {
  UVDB_FN_UV_RUN,
  UVDB_FN_RUN_TIMERS,
  UVDB_FN_RUN_IDLE,
  UVDB_FN_RUN_PREPARE,
  UVDB_FN_IO_POLL,
  UVDB_FN_RUN_CHECK,
  UVDB_FN_COUNT
};

/* The thread pool's entry points (hooked) and its work functions (which
 * tell a job's kind); named only where a symbol table names them. */
enum uvdb_pool_fn {
  UVDB_POOL_WORK_SUBMIT,
  UVDB_POOL_QUEUE_WORK,
  UVDB_POOL_FS_WORK,
  UVDB_POOL_USER_WORK, /* uv__queue_work: runs uv_queue_work's work_cb */
  UVDB_POOL_GETADDRINFO_WORK,
  UVDB_POOL_GETNAMEINFO_WORK,
  UVDB_POOL_RANDOM_WORK,
  UVDB_V8_COLLECT_GARBAGE, /* V8 inside node: its garbage collections, */
  UVDB_V8_RUN_MICROTASKS,  /* and its microtask checkpoints */
  UVDB_LOOP_CLOSE,         /* uv_loop_close: a loop's end (a Worker's, with its thread) */
  UVDB_V8_MICROTASK_SIZE_OFFSET, /* data: where a MicrotaskQueue keeps its length */
  UVDB_PROC_SPAWN,         /* uv_spawn: a child started */
  UVDB_SIGNAL_EVENT,       /* uv__signal_event: a loop delivers the signals its pipe got */
  UVDB_SIGNAL_INIT,        /* uv_signal_init: where a stripped libuv names uv__signal_event */
  UVDB_POOL_COUNT
};

/* How a function was found (the locate cache keeps this; located_fn.how
 * says it in words). */
enum uvdb_how {
  UVDB_HOW_NONE,
  UVDB_HOW_SYMTAB,
  UVDB_HOW_DYNSYM,
  UVDB_HOW_CALL2, /* calls of uv_run in the libuv 1.44 pattern */
  UVDB_HOW_CALL4,
  UVDB_HOW_CALL5,
  UVDB_HOW_CALL7,
  UVDB_HOW_CALL10,
  UVDB_HOW_SIGNAL_INIT, /* the function uv_signal_init loads (libuv 1.44) */
  UVDB_HOW_COUNT
};

struct uvdb_located_fn {
  const char *name;
  uintptr_t addr; /* 0: not found */
  size_t size;
  const char *how; /* ".symtab", ".dynsym", "call 2 of uv_run (libuv 1.44 pattern)" */
};

struct uvdb_libuv {
  char path[512];
  uintptr_t bias;
  const uint8_t *eh_frame_hdr;
  unsigned version; /* UV_VERSION_HEX: 0x012c02 for 1.44.2 */
  int version_inferred; /* uv_version absent: only major.minor is known */
  char how[256];    /* how libuv was found, or why not */
  struct uvdb_located_fn fn[UVDB_FN_COUNT];
  struct uvdb_located_fn pool[UVDB_POOL_COUNT];
};

/* 0 when libuv is found (fn[] filled as far as possible), -1 otherwise.
 * cache: the prefix of the locate cache's files (the session's socket
 * path, loccache.h), where what is found is read first and published
 * after a search; NULL: always search, publish nothing. */
int uvdb_locate_libuv(struct uvdb_libuv *lib, const char *cache);

/* Examine one loaded object: 1 if it defines uv_run (lib filled), else 0. */
struct dl_phdr_info;
int uvdb_locate_in_object(struct dl_phdr_info *info, struct uvdb_libuv *lib, const char *cache);

/* The phase functions of a stripped libuv 1.44 from the order of uv_run's
 * direct calls (lib->fn[UVDB_FN_UV_RUN] and eh_frame_hdr set).  0 or -1. */
int uvdb_match_uv144(struct uvdb_libuv *lib);

/* uv__signal_event of a stripped libuv 1.44, from the one function address
 * uv_signal_init loads into its second argument's register (the callback
 * it gives uv__io_init).  0 or -1 (lib->pool[UVDB_SIGNAL_INIT] and
 * eh_frame_hdr set). */
int uvdb_match_signal_event(struct uvdb_libuv *lib);

/* Direct call targets of the code in [start, start+size), in address order. */
size_t uvdb_direct_calls(const uint8_t *start, size_t size, uintptr_t *out, size_t max);

#endif
