/* The debugger's shared declarations: session, event model, output, and the
 * command table every command family registers into. */
#ifndef UVDB_DEBUGGER_H
#define UVDB_DEBUGGER_H

#include "../probes/wire.h"
#include "cond.h"
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- output: human text or one JSON object per line (out.c) ---- */
struct json;
extern int uvdb_json_mode;
int uvdb_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));     /* returns -1 */
void uvdb_message(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct json *json_begin(void); /* starts a top-level object */
void json_end(struct json *j); /* closes it and prints the line */
void json_obj(struct json *j, const char *key);
void json_arr(struct json *j, const char *key);
void json_close(struct json *j);
void json_str(struct json *j, const char *key, const char *v);
void json_int(struct json *j, const char *key, int64_t v);
void json_uint(struct json *j, const char *key, uint64_t v);
void json_num(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, int v);
void json_null(struct json *j, const char *key);

/* ---- the event model: what the events say about each loop (model.c) ---- */
#define UVDB_MAX_ORDER 16

struct phase_stats {
  uint64_t count, total, max, last; /* ticks */
};

struct loop_model {
  int seen;
  uint16_t id;
  uint64_t addr;
  uint32_t tid;
  char thread[16];
  uint64_t iterations, runs;
  int running; /* inside uv_run */
  struct phase_stats phase[UVDB_PHASE_COUNT];
  int cur_order[UVDB_MAX_ORDER], ncur;
  int last_order[UVDB_MAX_ORDER], nlast; /* the last complete iteration */
};

struct stop_info {
  int loop_id;
  int bp_id; /* the breakpoint that stopped it, 0 for none */
  int phase; /* -1: none */
  uint32_t reason;
  uint64_t iteration;
};

struct model {
  struct loop_model loops[64];
  uint64_t events, dropped;
  int stopped; /* a STOPPED event arrived since the last resume */
  struct stop_info stop;
  int trace_phases;
  int trace_loop; /* 0: every loop */
};

struct uvdb_shm_header;
void model_reset(struct model *m);
void model_apply(struct model *m, const struct uvdb_record *r, const struct uvdb_ring *ring,
                 const struct uvdb_shm_header *shm);
int model_main_loop(const struct model *m);
const char *phase_name(int phase);
int phase_by_name(const char *name);
const char *event_name(int type);
double ticks_to_ns(const struct uvdb_shm_header *shm, uint64_t ticks);
uint64_t tsc_to_ns(const struct uvdb_shm_header *shm, uint64_t tsc);

/* ---- breakpoints (cmd_break.c) ---- */
#define UVDB_MAX_BREAKPOINTS 64

struct breakpoint {
  int id; /* 0: free slot */
  int enabled, temporary;
  int phase;
  int loop; /* 0: every loop */
  uint64_t hits, ignore;
  struct cond cond;
  char **commands; /* commands N ... end: run at each stop */
  int ncommands;
};

/* ---- the session: one target (session.c) ---- */
enum target_state { TARGET_NONE, TARGET_RUNNING, TARGET_STOPPED, TARGET_EXITED };

struct session {
  char **argv; /* program and arguments, NULL-terminated */
  int argc;
  pid_t pid;
  enum target_state state;
  int exit_code, term_signal; /* after TARGET_EXITED: one of them is set (-1 the other) */
  int listen_fd, ctl_fd;
  char sock_path[256];
  struct uvdb_shm_header *shm;
  int probe_connected, libuv_found;
  char probe_info[8192];
  char no_libuv[600]; /* why the last image had no libuv, until one has */
  struct model model;
  struct breakpoint bp[UVDB_MAX_BREAKPOINTS];
  int last_bp_id;
  uint64_t stops_seen;
  struct symbolizer *sym;
  uint64_t stop_generation; /* stops and exits reported: did a command resume? */
  volatile sig_atomic_t interrupted;
  int start_paused;
  int batch;
};

extern struct session uvdb_session;

int session_launch(struct session *s, int start_paused);
int session_wait(struct session *s); /* until stopped or exited */
int session_resume(struct session *s);
int session_send(struct session *s, uint32_t type, const void *payload, size_t len);
int session_step(struct session *s); /* park the stopped loop at its next safepoint */
struct symbolizer *session_symbolizer(struct session *s); /* of the running image, cached */
void session_kill(struct session *s);
void session_check(struct session *s); /* report a target that died between commands */
uint64_t session_drain(struct session *s);
void session_report_state(struct session *s, const char *command);
const char *session_prompt(const struct session *s, char *buf, size_t cap);
const char *probe_info_get(const struct session *s, const char *key, char *buf, size_t cap);

size_t breakpoints_welcome(const struct session *s, char *buf, size_t cap);
void breakpoints_push(struct session *s);
int breakpoints_should_stop(struct session *s);
void breakpoints_after_stop(struct session *s);
int breakpoints_silent(const struct session *s);
void breakpoint_clear(struct breakpoint *b);

/* Where a command that reads more lines (commands ... end) takes them from:
 * the next -ex arguments, the script file, or the prompt.  A malloc'd line,
 * or NULL at the end of the input. */
typedef char *(*uvdb_line_reader)(void *ctx);
extern uvdb_line_reader uvdb_reader;
extern void *uvdb_reader_ctx;
extern int uvdb_reader_is_tty;

/* ---- commands (commands.c and one file per family) ---- */
struct uvdb_command {
  const char *name;
  int (*fn)(struct session *s, int argc, char **argv);
  const char *usage;
  const char *help;
  const struct uvdb_command *sub; /* subcommand table, NULL-terminated */
};

extern const struct uvdb_command uvdb_info_commands[];
extern const struct uvdb_command uvdb_trace_commands[];

int cmd_run(struct session *s, int argc, char **argv);
int cmd_start(struct session *s, int argc, char **argv);
int cmd_continue(struct session *s, int argc, char **argv);
int cmd_kill(struct session *s, int argc, char **argv);
int cmd_quit(struct session *s, int argc, char **argv);
int cmd_info(struct session *s, int argc, char **argv);
int cmd_trace(struct session *s, int argc, char **argv);
int cmd_help(struct session *s, int argc, char **argv);
int cmd_next(struct session *s, int argc, char **argv);
int cmd_finish(struct session *s, int argc, char **argv);
int cmd_break(struct session *s, int argc, char **argv);
int cmd_tbreak(struct session *s, int argc, char **argv);
int cmd_delete(struct session *s, int argc, char **argv);
int cmd_enable(struct session *s, int argc, char **argv);
int cmd_disable(struct session *s, int argc, char **argv);
int cmd_ignore(struct session *s, int argc, char **argv);
int cmd_condition(struct session *s, int argc, char **argv);
int cmd_info_breakpoints(struct session *s, int argc, char **argv);
int cmd_commands(struct session *s, int argc, char **argv);
int cmd_info_timers(struct session *s, int argc, char **argv);
int cmd_info_handles(struct session *s, int argc, char **argv);
int cmd_info_pending(struct session *s, int argc, char **argv);
int cmd_info_requests(struct session *s, int argc, char **argv);
int cmd_info_closing(struct session *s, int argc, char **argv);
int cmd_info_watchers(struct session *s, int argc, char **argv);
int cmd_backtrace(struct session *s, int argc, char **argv);
int cmd_source(struct session *s, int argc, char **argv);
int cmd_echo(struct session *s, int argc, char **argv);
int uvdb_source(struct session *s, const char *path); /* 0, -1 failed, 1 quit */
char *uvdb_read_file_line(void *file);

int uvdb_execute(struct session *s, const char *line); /* 0 ok, -1 failed, 1 quit */
int uvdb_repeatable(const char *line);
int uvdb_dispatch(struct session *s, const struct uvdb_command *table, const char *what, int argc, char **argv);
const struct uvdb_command *uvdb_lookup(const struct uvdb_command *table, const char *word, int *ambiguous);
char *uvdb_complete(const char *text, int state, const char *line_before);
extern int uvdb_quit_requested;

#endif
