/* Child processes and signals as the probe's events tell them (process.c):
 * the children the loops spawned and how each ended, the signals the
 * loops' uv_signal_t handles were given. */
#ifndef UVDB_PROCESS_H
#define UVDB_PROCESS_H

#include <stddef.h>
#include <stdint.h>

#define PROCESS_CHILDREN 256 /* the last ones kept */
#define PROCESS_TEXT 160     /* the probe cuts the file and arguments there */
#define PROCESS_SIGNALS 64

struct process_child {
  int32_t pid; /* 0: the spawn failed */
  uint16_t loop_id;
  int result; /* uv_spawn's: 0 or a negative errno */
  int exited; /* reaped: exit_status and term_signal are known */
  int exit_status, term_signal;
  uint64_t spawned, ended; /* TSC */
  uint16_t text_len;       /* the file, then the arguments, each NUL-terminated */
  char text[PROCESS_TEXT];
};

struct process_signal {
  uint16_t loop_id;
  uint8_t signum, internal; /* internal: libuv's child watcher (SIGCHLD) */
  uint64_t count, last;     /* last: TSC */
};

struct process_model {
  struct process_child child[PROCESS_CHILDREN]; /* oldest first from `at` once full */
  unsigned n, at;
  uint64_t spawned, failed, exited, killed; /* in all, kept or not */
  unsigned text_for[65]; /* per loop: 1 + the child its SPAWN_TEXT records fill, 0 none */
  struct process_signal signal[PROCESS_SIGNALS];
  unsigned nsignals;
};

struct model;
struct uvdb_record;
struct uvdb_shm_header;
void process_apply(struct model *m, const struct uvdb_record *r, const struct uvdb_shm_header *shm);

/* The i-th child kept, oldest first. */
const struct process_child *process_child_at(const struct process_model *p, unsigned i);
/* The child spawned at TSC `spawned` (a SPAWN's ts, a PROCESS_EXIT's y); NULL if none kept. */
const struct process_child *process_child_find(const struct process_model *p, int32_t pid, uint64_t spawned);
const char *process_file(const struct process_child *c); /* the text's first string */
/* The arguments joined by blanks ("/bin/sh -c exit 3"), or the file. */
const char *process_command(const struct process_child *c, char *buf, size_t cap);
struct json;
void process_args_json(struct json *j, const struct process_child *c); /* "args": [...] */
const char *process_signal_name(int signum, char *buf, size_t cap); /* "SIGUSR1" */
const char *process_error_name(int result, char *buf, size_t cap); /* "ENOENT" */

#endif
