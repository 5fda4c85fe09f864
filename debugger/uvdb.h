/* The debugger's shared declarations: session, event model, output, and the
 * command table every command family registers into. */
#ifndef UVDB_DEBUGGER_H
#define UVDB_DEBUGGER_H

#include "../probes/wire.h"
#include "blocking.h"
#include "cond.h"
#include "follow.h"
#include "pool.h"
#include "process.h"
#include "profile.h"
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

/* Colour, only for a person at a terminal: the stream is a tty, and not
 * --batch, --json, NO_COLOR (set and not empty) or TERM=dumb.  Each
 * returns the escape, or "" when the stream gets no colour. */
enum out_style { OUT_RESET, OUT_BOLD, OUT_ERROR /* red */, OUT_WARNING /* yellow */, OUT_HEADER /* a table's */ };
int out_colour(FILE *f);                              /* does f get colour? */
const char *out_style_on(FILE *f, enum out_style st); /* for f */
const char *out_style(enum out_style st);             /* for stdout */
const char *out_reset(void);                          /* out_style(OUT_RESET) */
/* For readline's prompt (written to stdout): the escape between \001 and
 * \002, so that readline does not count it in the prompt's width. */
const char *out_prompt_style(enum out_style st);

/* Progress of long work, on stderr, only for a person at a terminal (not
 * --batch, --json or a pipe), drawn only once the work has taken 0.3 s,
 * and erased when done: "symbolizing 12000/48000 stacks", or with no unit
 * "reading recording 43%".  out_progress() costs a compare: the clock is
 * read every `every` items. */
struct out_progress {
  const char *what, *unit; /* unit NULL: done/total shown as a percentage */
  uint64_t total, next;    /* next: the count at which the clock is read */
  unsigned every;
  int enabled, shown;
  size_t width; /* of the line drawn, to erase it */
  double start, drawn;
};
void out_progress_begin(struct out_progress *p, const char *what, const char *unit, uint64_t total, unsigned every);
void out_progress_tick(struct out_progress *p, uint64_t done);
static inline void out_progress(struct out_progress *p, uint64_t done) {
  if (done >= p->next)
    out_progress_tick(p, done);
}
void out_progress_end(struct out_progress *p);

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
void json_fputs(FILE *out, const char *s); /* a string's JSON escapes, no quotes */
void json_value(struct json *j, const char *key, const struct cond_value *v); /* null for void */

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
  uint64_t caller; /* where its first uv_run returns to: what kind of loop (info loops) */
  int ended;       /* uv_loop_close ended it: it runs no more */
  int kind;        /* enum loop_kind, once named (0: not yet) */
  int running; /* inside uv_run */
  struct phase_stats phase[UVDB_PHASE_COUNT];
  int cur_order[UVDB_MAX_ORDER], ncur;
  int last_order[UVDB_MAX_ORDER], nlast; /* the last complete iteration */
  int last_phase;                        /* the last phase completed, */
  uint64_t last_phase_end, last_iteration; /* when (TSC), and in which iteration */
  uint64_t last_resumed;                 /* when it last left a stop (TSC) */
  int last_stop_phase;                   /* where that stop was */
  uint64_t last_stop_iteration;
  struct loop_blocking blocking;
};

struct stop_info {
  int loop_id;
  int bp_id; /* the breakpoint that stopped it, 0 for none */
  int phase; /* -1: none */
  uint32_t reason;
  uint64_t iteration;
  uint64_t callback; /* the function a callback stop is in (or returned from), 0 at a phase boundary */
  unsigned pool_depth; /* a thread-pool queue stop: the depth reached */
  double blocked_ms;   /* a blocked stop: how long the stretch that just ended blocked */
  int microtasks;      /* `break microtasks`: before a checkpoint (callback: the one it runs in) */
};

struct model {
  struct loop_model loops[64];
  uint64_t events, dropped;
  int stopped; /* a STOPPED event arrived since the last resume */
  struct stop_info stop;
  int trace_phases;
  int trace_loop; /* 0: every loop */
  int trace_processes, trace_processes_loop; /* `trace on processes [loop N]` */
  struct pool_model pool;
  struct blocking_model blocking;
  struct process_model processes;
};

struct uvdb_shm_header;
void model_reset(struct model *m);
void model_apply(struct model *m, const struct uvdb_record *r, const struct uvdb_ring *ring,
                 const struct uvdb_shm_header *shm);
int model_main_loop(const struct model *m);
int model_current_phase(const struct loop_model *l); /* -1: not known yet */
void blocking_apply(struct model *m, struct loop_model *l, const struct uvdb_record *r,
                    const struct uvdb_shm_header *shm);
void blocking_add_sample(struct blocking_model *b, int loop_id, int kind, uint64_t episode, const struct stack *st);
const char *phase_name(int phase);
int phase_by_name(const char *name);
const char *event_name(int type);
double ticks_to_ns(const struct uvdb_shm_header *shm, uint64_t ticks);
uint64_t tsc_to_ns(const struct uvdb_shm_header *shm, uint64_t tsc);

/* ---- what each loop is (cmd_info.c): main, a Worker's, Node's own ---- */
enum loop_kind { LOOP_KIND_UNKNOWN, LOOP_KIND_MAIN, LOOP_KIND_WORKER, LOOP_KIND_PLATFORM, LOOP_KIND_INSPECTOR,
                 LOOP_KIND_TRACING, LOOP_KIND_OTHER };
/* "main", "worker 2", "node platform", ...: into buf; its kind and, for a
 * Worker's loop, its number among them in *worker (1-based). */
const char *loop_label(struct session *s, int id, char *buf, size_t cap, int *kind, int *worker)
    __attribute__((weak)); /* the unit tests link the timeline without it */
const char *loop_kind_name(int kind);
/* A callback's function, named without its parameters, into buf.  Weak:
 * the unit tests link the timeline without a symbolizer. */
const char *callback_name(struct session *s, uint64_t fn, char *buf, size_t cap) __attribute__((weak));
/* A Worker's loop ended: one line.  Weak: the unit tests link the model alone. */
void loop_report_end(int id) __attribute__((weak));

/* ---- breakpoints (cmd_break.c) ---- */
#define UVDB_MAX_BREAKPOINTS 64

enum breakpoint_type { BP_PHASE, BP_CALLBACK, BP_POOL_QUEUE, BP_BLOCKED, BP_MICROTASKS };
#define UVDB_BP_MAX_LOCATIONS 64

struct breakpoint {
  int id; /* 0: free slot */
  int enabled, temporary;
  enum breakpoint_type type;
  int phase;                               /* BP_PHASE */
  unsigned depth;                          /* BP_POOL_QUEUE: jobs; BP_BLOCKED: ms */
  char pattern[256];                       /* BP_CALLBACK: a glob over function names */
  uint64_t location[UVDB_BP_MAX_LOCATIONS]; /* its functions in the running image */
  int nlocations;
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
  unsigned rings_seen; /* rings below this index have been in use (session.c: uv__rings_in_use) */
  struct follow follow; /* uvdb's sleep between looks at a running program: longer while it is quiet */
  struct symbolizer *sym;
  uint64_t stop_generation; /* stops and exits reported: did a command resume? */
  volatile sig_atomic_t interrupted;
  int start_paused;
  int batch;
  struct profile profile;
  int background;    /* `run &`: the program runs while commands are read */
  uint32_t samples_seen, sample_seq[UVDB_SAMPLE_SLOTS]; /* samples taken in ring memory */
  int query_waiting; /* a view waits for a loop to park */
  int query_paused;  /* a view parked a running loop: resumed after the command */
  int step_armed;   /* fprobes armed for `step` */
  int step_request; /* the next resume is a `step`: keep them armed */
  int attached;     /* the target was running before uvdb came (attach): not our child */
  int pidfd;        /* an attached target's: readable once it has ended */
  int exit_unknown; /* it ended, and not being its parent uvdb cannot know how */
  int jit_map_ours; /* the probe had V8 write /tmp/perf-PID.map: removed at detach */
  int js_names_later; /* a child told js_names=later: its JS names not asked for yet */
  int inferior_id;  /* 1: the program uvdb started or attached to; then its children, as they come */
  pid_t parent_pid; /* a child followed: its parent's pid (not uvdb's child: its pidfd says it ended) */
};

/* Inferiors (inferior.c): the processes of a session.  The one commands
 * act on is the session itself; the others wait in a list, polled with it,
 * and `inferior N` swaps one in. */
#define INFERIOR_MAX 16
struct session *inferior_by_pid(pid_t pid); /* among the others; NULL if none */
struct session *inferior_new(struct session *current, pid_t pid, pid_t ppid); /* not listed yet */
void inferior_register(struct session *o, int met); /* listed if its probe met uvdb, else freed */
int inferior_count(void);
struct session *inferior_at(int i);
void inferior_announce(const struct session *o, const char *what);
void inferior_end_others(struct session *s);
int inferior_forget_all(struct session *s); /* before a new run or attach; -1 if a child still runs */
int settings_follow_children(void);
int settings_callback_timing(void);
/* The callback call sites the probe patched (info probe's callsites), of total. */
int probe_callsites_installed(const struct session *s, int *total);
int cmd_info_inferiors(struct session *s, int argc, char **argv);
int cmd_inferior(struct session *s, int argc, char **argv);
void session_release(struct session *s);
const char *session_state_name(enum target_state st); /* none, running, stopped, exited */
void session_poll_others(void); /* the inferiors not current: drained, their ends seen */
/* The hellos waiting on the socket, answered (a child that started while
 * uvdb sat at its prompt); how many.  Reads no ring. */
int session_greet_waiting(struct session *s);
int session_hello_waiting(const struct session *s); /* a connection waits on the socket */

extern struct session uvdb_session;

int session_launch(struct session *s, int start_paused);
int session_wait(struct session *s); /* until stopped or exited */
int session_background(struct session *s);   /* `run &`: answer the probe, return */
int session_run_for(struct session *s, unsigned ms); /* 1 stopped, 0 still running, -1 ended */
void session_poll(struct session *s);         /* between commands: events, stops, exit */
int session_idle_timeout(const struct session *s); /* ms the prompt may wait before session_idle */
void session_idle(struct session *s);              /* at the prompt: hellos, background programs */
int session_query(struct session *s, int loop_id); /* park a running loop for one view */
void session_after_command(struct session *s);     /* resume a loop a view parked */
void session_report_busy(struct session *s, int loop_id); /* what a loop stuck in a callback does */
int session_resume(struct session *s);
int session_send(struct session *s, uint32_t type, const void *payload, size_t len);
int session_step(struct session *s); /* park the stopped loop at its next safepoint */
struct symbolizer *session_symbolizer(struct session *s); /* of the running image, cached */
void session_kill(struct session *s);
/* Quitting: detach from an attached process, kill a launched one. */
void session_leave(struct session *s);
void session_unlisten(struct session *s); /* uvdb ends: its socket goes, and its targets' locate cache */
void session_js_names(struct session *s);  /* a child looked at: its JS names, if it went without */
int session_attach(struct session *s, pid_t pid); /* debugger/session.c, by way of attach.c */
int session_detach(struct session *s);            /* the code back as it was; the process runs on */
int session_loops_known(const struct session *s);
void session_check(struct session *s); /* report a target that died between commands */
uint64_t session_drain(struct session *s);
void session_report_state(struct session *s, const char *command);
const char *session_prompt(struct session *s, char *buf, size_t cap);
const char *session_callback_name(struct session *s, uint64_t addr, char *buf, size_t cap);
const char *probe_info_get(const struct session *s, const char *key, char *buf, size_t cap);

size_t breakpoints_welcome(struct session *s, char *buf, size_t cap);
void breakpoints_push(struct session *s);
int breakpoints_should_stop(struct session *s);
void breakpoints_after_stop(struct session *s);
int breakpoints_silent(const struct session *s);
void breakpoint_clear(struct breakpoint *b);

/* ---- settings (settings.c) ---- */
int settings_set(struct session *s, const char *name, const char *value);
int settings_show(struct session *s, const char *name);
void settings_push(struct session *s); /* the watchdog's, to the probe */
struct uvdb_msg_watchdog settings_watchdog(const struct session *s);
long settings_blocking_threshold_ms(void);
int settings_js_names(void);
double session_tsc_per_ms(void);

/* ---- the timeline (timeline.c): the last events, for trace export ---- */
void timeline_add(const struct uvdb_record *r, uint32_t tid);
void timeline_reset(void);
void timeline_prepare(void); /* before a launched program runs */
uint64_t timeline_dropped(void);
int timeline_export_chrome(struct session *s, const char *path);

/* ---- the profiler (profile.c, cmd_profile.c) ---- */
void profile_reset(struct profile *p);
int profile_push(struct session *s);
size_t profile_welcome(struct session *s, char *buf, size_t cap);
void profile_collect(struct session *s);
int profile_start(struct session *s, uint64_t period_ns, int wall, uint32_t threads);
int profile_stop(struct session *s);
void profile_ended(struct profile *p);
const char *profile_frame_name(struct session *s, uint64_t pc, int leaf, char *buf, size_t cap);
int cmd_profile(struct session *s, int argc, char **argv);
/* pprof's profile.proto, gzip'd (pprof.c): folded stacks and their counts. */
int pprof_write(FILE *out, char **lines, const uint64_t *counts, size_t n, uint64_t period_ns, int wall);

/* ---- JavaScript names from V8's perf map (perfmap.c) ---- */
const char *perfmap_lookup(pid_t pid, uint64_t addr);
void perfmap_finish(pid_t pid); /* the program exited: read the rest, remove the file */
void perfmap_path(pid_t pid, char *buf, size_t cap);
int perfmap_exists(pid_t pid);
void perfmap_remove_stale(pid_t pid); /* a map older than its process: an earlier one's with the same PID */

/* ---- function probes, the debugger's side (fprobes.c) ---- */
/* The probe slot for the function at addr (size bytes): its own, or a new
 * one to install.  -1: no probe memory, or every slot taken. */
int fprobe_slot(struct session *s, uint64_t addr, uint64_t size);
int fprobes_requested(const struct session *s);
/* Have a parked loop install the requested slots; waits for its answer. */
int fprobes_install(struct session *s);
/* Arm the slots: break for enabled callback breakpoints, step for those in
 * `step` (UVDB_FPROBE_SLOTS flags, or NULL), then tell the probe. */
void fprobes_arm(struct session *s, const uint8_t *step);
const struct uvdb_fprobe_slot *fprobe_find(const struct session *s, uint64_t addr);

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
extern const struct uvdb_command uvdb_show_commands[];

int cmd_run(struct session *s, int argc, char **argv);
int cmd_start(struct session *s, int argc, char **argv);
int cmd_continue(struct session *s, int argc, char **argv);
int cmd_kill(struct session *s, int argc, char **argv);
int cmd_attach(struct session *s, int argc, char **argv);
int cmd_detach(struct session *s, int argc, char **argv);
int cmd_sleep(struct session *s, int argc, char **argv);
int cmd_interrupt(struct session *s, int argc, char **argv);
int cmd_top(struct session *s, int argc, char **argv);
int cmd_quit(struct session *s, int argc, char **argv);
int cmd_info(struct session *s, int argc, char **argv);
int cmd_trace(struct session *s, int argc, char **argv);
int cmd_help(struct session *s, int argc, char **argv);
int cmd_next(struct session *s, int argc, char **argv);
int cmd_finish(struct session *s, int argc, char **argv);
int cmd_step(struct session *s, int argc, char **argv);
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
int cmd_info_threadpool(struct session *s, int argc, char **argv);
int cmd_info_blocking(struct session *s, int argc, char **argv);
int cmd_info_gc(struct session *s, int argc, char **argv);
int cmd_info_processes(struct session *s, int argc, char **argv);
void blocking_print_event(struct session *s, struct json *j, const struct blocked_event *e);
int blocking_busiest(const struct blocking_model *b, int loop_id, struct callback_stat *out, int max);
/* "fs stat /etc/hosts", "work on_job", "crypto pbkdf2" (in_flight: its request may be read). */
const char *pool_job_describe(struct session *s, const struct pool_job *j, int in_flight, char *out, size_t cap);
int cmd_backtrace(struct session *s, int argc, char **argv);
int loop_callbacks(struct session *s, uint64_t *out, int max);
/* Stacks (cmd_loopstate.c): an unwound stack's frames without the probe's
 * own, named into fn[][512]; printed (text or a JSON array's items); the
 * frame the loop's dispatch called (the callback), or -1. */
struct symbolizer;
int stack_frames(struct symbolizer *sym, const uint64_t *pcs, int depth, uint64_t *kept, char (*fn)[512], int max);
void stack_print(struct json *j, const uint64_t *pcs, char (*fn)[512], int n);
int stack_callback(struct symbolizer *sym, const uint64_t *pcs, char (*fn)[512], int n);
int cmd_source(struct session *s, int argc, char **argv);
int cmd_echo(struct session *s, int argc, char **argv);
int cmd_printf(struct session *s, int argc, char **argv);
int cmd_print(struct session *s, int argc, char **argv);
int cmd_output(struct session *s, int argc, char **argv);
int cmd_if(struct session *s, int argc, char **argv);
int cmd_while(struct session *s, int argc, char **argv);
int cmd_define(struct session *s, int argc, char **argv);
int cmd_document(struct session *s, int argc, char **argv);
int cmd_show(struct session *s, int argc, char **argv);
int cmd_show_user(struct session *s, int argc, char **argv);
int cmd_set(struct session *s, int argc, char **argv);
int cmd_show_convenience(struct session *s, int argc, char **argv);
int uvdb_source(struct session *s, const char *path); /* 0, -1 failed, 1 quit */
char *uvdb_read_file_line(void *file);

int uvdb_execute(struct session *s, const char *line); /* 0 ok, -1 failed, 1 quit */
int uvdb_repeatable(const char *line);
int uvdb_dispatch(struct session *s, const struct uvdb_command *table, const char *what, int argc, char **argv);
const struct uvdb_command *uvdb_lookup(const struct uvdb_command *table, const char *word, int *ambiguous);
char *uvdb_complete(const char *text, int state, const char *line_before);
extern int uvdb_quit_requested;
const struct uvdb_command *uvdb_command_named(const char *word); /* a built-in command, by name, alias or prefix */
extern const char *uvdb_command_args; /* the running command's arguments as typed, quotes kept */
extern unsigned uvdb_commands_failed; /* commands that failed, at any depth: --batch's exit status */

/* ---- scripting: blocks, user commands (cmd_script.c) ---- */
struct script_body {
  char **lines; /* without their indentation */
  int n;
  int else_at; /* the index of an if's `else`, or -1 */
};

/* Reads a block's lines from uvdb_reader up to the `end` that closes it,
 * nested blocks whole (text: a document's, where nothing nests).  0, or -1
 * (said) without `end`. */
int script_read_body(const char *what, int text, struct script_body *b);
void script_body_free(struct script_body *b);
int script_run_lines(struct session *s, char **lines, int n); /* 0, -1 failed, 1 quit */
/* A breakpoint's commands: they end when one of them resumes the program. */
int script_run_commands(struct session *s, char **lines, int n);
int script_is_user_command(const char *name);
int script_call_user(struct session *s, const char *name, const char *args_text);
int script_help_user(const char *name); /* -1: no such user command */
void script_help_user_list(struct json *j); /* into help's array, or printed */

/* ---- convenience variables (convenience.c) ---- */
int convenience_lookup(void *session, const char *name, struct cond_value *out);
void convenience_env(struct session *s, struct cond_env *env);
/* Parse and evaluate TEXT; -1 with the error said. */
int convenience_eval(struct session *s, const char *text, struct cond *c, struct cond_value *out);
int convenience_set(const char *name, const struct cond_value *v); /* -1 with the error said */
void convenience_clear(void);

#endif
