/* Scripting, as gdb's: command files (-x, source), echo, printf, print and
 * output, if/else/while blocks, user commands (define, document, show user)
 * and the bodies of all blocks, breakpoints' `commands` included: read up
 * to their `end` from wherever the block began (-ex, a file, the prompt, an
 * enclosing body), then run from memory. */
#define _GNU_SOURCE
#include "format.h"
#include "uvdb.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef SCRIPT_MAX_WHILE /* the fuzz build lowers it: a runaway loop there is no finding */
#define SCRIPT_MAX_WHILE 1000000 /* passes of one `while`: a runaway loop ends with an error */
#endif
#define SCRIPT_MAX_CALLS 64      /* user commands calling user commands */
#define SCRIPT_MAX_ARGS 10       /* $arg0 ... $arg9 */

char *uvdb_read_file_line(void *ctx) {
  char buf[4096];
  if (!fgets(buf, sizeof(buf), ctx))
    return NULL;
  buf[strcspn(buf, "\n")] = '\0';
  return strdup(buf);
}

/* ---- reading a block's body ---- */

enum line_kind { LINE_PLAIN, LINE_OPENS, LINE_OPENS_TEXT, LINE_ELSE, LINE_END };

/* Does the line open a block (its first word a command that reads a body;
 * `document` reads text, in which nothing nests), close one, or split an if? */
static enum line_kind uv__kind(const char *line) {
  char word[64];
  if (sscanf(line, " %63[^ \t]", word) != 1)
    return LINE_PLAIN;
  if (strcmp(word, "end") == 0)
    return LINE_END;
  if (strcmp(word, "else") == 0)
    return LINE_ELSE;
  const struct uvdb_command *c = uvdb_command_named(word);
  if (!c)
    return LINE_PLAIN;
  if (c->fn == cmd_document)
    return LINE_OPENS_TEXT;
  return c->fn == cmd_if || c->fn == cmd_while || c->fn == cmd_define || c->fn == cmd_commands ? LINE_OPENS
                                                                                                 : LINE_PLAIN;
}

void script_body_free(struct script_body *b) {
  for (int i = 0; i < b->n; i++)
    free(b->lines[i]);
  free(b->lines);
  memset(b, 0, sizeof(*b));
}

int script_read_body(const char *what, int text, struct script_body *b) {
  memset(b, 0, sizeof(*b));
  b->else_at = -1;
  /* depth: blocks opened in the body; in_text: of them, the innermost that
   * is a `document`'s text, where only `end` counts. */
  int depth = 0, text_depth = text ? 0 : -1, ended = 0, bad_else = 0;
  for (char *line; uvdb_reader && (line = uvdb_reader(uvdb_reader_ctx)) != NULL;) {
    char *t = line + strspn(line, " \t");
    enum line_kind kind = uv__kind(t);
    if (text_depth >= 0 && kind != LINE_END)
      kind = LINE_PLAIN;
    if (kind == LINE_END && depth == 0) {
      free(line);
      ended = 1;
      break;
    }
    if (kind == LINE_END) {
      if (text_depth == depth)
        text_depth = -1;
      depth--;
    } else if (kind == LINE_OPENS || kind == LINE_OPENS_TEXT) {
      depth++;
      if (kind == LINE_OPENS_TEXT)
        text_depth = depth;
    } else if (kind == LINE_ELSE && depth == 0) {
      bad_else += b->else_at >= 0 || strcmp(what, "if") != 0;
      b->else_at = b->n;
    }
    char **grown = realloc(b->lines, sizeof(char *) * (size_t)(b->n + 1));
    char *copy = grown ? strdup(t) : NULL;
    free(line);
    if (!copy) {
      b->lines = grown ? grown : b->lines;
      script_body_free(b);
      return uvdb_error("out of memory reading `%s`", what);
    }
    b->lines = grown;
    b->lines[b->n++] = copy;
  }
  if (!ended) {
    script_body_free(b);
    return uvdb_error("`%s` ended without `end`", what);
  }
  if (bad_else) {
    script_body_free(b);
    return uvdb_error(strcmp(what, "if") == 0 ? "`if` has more than one `else`" : "`else` outside an `if`");
  }
  return 0;
}

/* ---- running lines from memory ---- */

/* Breakpoint commands end when a command resumes the program (gdb's rule):
 * the stop it comes to runs its own commands, from breakpoints_after_stop's
 * loop, not from inside this one. */
static int uv__in_commands;
static uint64_t uv__commands_generation;

/* The innermost user command running: the lines it runs, its nested
 * blocks' included, have its $argN replaced as each runs (as gdb does: an
 * `if $argc > 0` guards a $arg0). */
struct user_call {
  char name[64];
  char args[SCRIPT_MAX_ARGS][512];
  int nargs;
};
static struct user_call *uv__call;

static int uv__substitute(const char *line, const struct user_call *call, char *out, size_t cap);

static int uv__resumed(const struct session *s) {
  return uv__in_commands && s->stop_generation != uv__commands_generation;
}

struct list_reader {
  char **lines;
  int n, next;
};

static char *uv__read_list_line(void *ctx) {
  struct list_reader *r = ctx;
  return r->next < r->n ? strdup(r->lines[r->next++]) : NULL;
}

/* Runs the lines; the first failing one ends them.  0, -1 failed, 1 quit. */
int script_run_lines(struct session *s, char **lines, int n) {
  struct list_reader list = {lines, n, 0};
  uvdb_line_reader saved = uvdb_reader;
  void *saved_ctx = uvdb_reader_ctx;
  int saved_tty = uvdb_reader_is_tty;
  uvdb_reader = uv__read_list_line, uvdb_reader_ctx = &list, uvdb_reader_is_tty = 0;
  int r = 0;
  for (char *line; r == 0 && !uv__resumed(s) && (line = uv__read_list_line(&list)) != NULL;) {
    char expanded[4096];
    r = uv__call ? uv__substitute(line, uv__call, expanded, sizeof(expanded)) : 0;
    if (r == 0)
      r = uvdb_execute(s, uv__call ? expanded : line);
    free(line);
  }
  uvdb_reader = saved, uvdb_reader_ctx = saved_ctx, uvdb_reader_is_tty = saved_tty;
  return r;
}

int script_run_commands(struct session *s, char **lines, int n) {
  int saved = uv__in_commands;
  uint64_t saved_generation = uv__commands_generation;
  struct user_call *saved_call = uv__call; /* a user command's `continue` came here: its $args are not these */
  uv__in_commands = 1, uv__commands_generation = s->stop_generation, uv__call = NULL;
  int r = script_run_lines(s, lines, n);
  uv__in_commands = saved, uv__commands_generation = saved_generation, uv__call = saved_call;
  return r;
}

/* ---- source, echo ---- */

struct file_reader {
  FILE *f;
  int lineno;
};

static char *uv__read_counted(void *ctx) {
  struct file_reader *r = ctx;
  char *line = uvdb_read_file_line(r->f);
  r->lineno += line != NULL;
  return line;
}

/* Runs a script file; like gdb, the first failing command ends the file,
 * named with the line where that command began. */
int uvdb_source(struct session *s, const char *path) {
  struct file_reader file = {fopen(path, "r"), 0};
  if (!file.f)
    return uvdb_error("cannot read %s: %s", path, strerror(errno));
  uvdb_line_reader saved = uvdb_reader;
  void *saved_ctx = uvdb_reader_ctx;
  int saved_tty = uvdb_reader_is_tty;
  uvdb_reader = uv__read_counted, uvdb_reader_ctx = &file, uvdb_reader_is_tty = 0;
  int r = 0;
  for (char *line; (line = uv__read_counted(&file)) != NULL;) {
    int at = file.lineno;
    int e = uvdb_execute(s, line);
    free(line);
    if (e == 1) {
      r = 1;
      break;
    }
    if (e < 0) {
      uvdb_error("%s:%d: stopped the script here", path, at);
      r = -1;
      break;
    }
  }
  fclose(file.f);
  uvdb_reader = saved, uvdb_reader_ctx = saved_ctx, uvdb_reader_is_tty = saved_tty;
  return r;
}

int cmd_source(struct session *s, int argc, char **argv) {
  if (argc != 2)
    return uvdb_error("usage: source FILE");
  static int depth;
  if (depth >= 16)
    return uvdb_error("source: files nested too deep (16); does %s source itself?", argv[1]);
  depth++;
  int r = uvdb_source(s, argv[1]);
  depth--;
  return r < 0 ? -1 : 0;
}

/* echo TEXT: as in gdb, for scripts that say what they do. */
int cmd_echo(struct session *s, int argc, char **argv) {
  (void)s;
  char text[4096] = "";
  for (int i = 1; i < argc; i++)
    snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", i > 1 ? " " : "", argv[i]);
  uvdb_message("echo", "%s", text);
  return 0;
}

/* ---- printf, print, output ---- */

int cmd_printf(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  struct cond_env env;
  char err[256];
  convenience_env(s, &env);
  char *text = format_printf(uvdb_command_args, &env, err, sizeof(err));
  if (!text)
    return uvdb_error("printf: %s", err);
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_str(j, "printf", text);
    json_end(j);
  } else {
    fputs(text, stdout);
    fflush(stdout);
  }
  free(text);
  return 0;
}

/* print and output differ only by the newline, as in gdb. */
static int uv__print(struct session *s, const char *key, const char *newline) {
  if (!*uvdb_command_args)
    return uvdb_error("usage: %s EXPRESSION", key);
  struct cond c;
  struct cond_value v;
  if (convenience_eval(s, uvdb_command_args, &c, &v) < 0)
    return -1;
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_value(j, key, &v);
    json_end(j);
  } else {
    char text[1024];
    printf("%s%s", cond_value_text(&v, 1, text, sizeof(text)), newline);
    fflush(stdout);
  }
  return 0;
}

int cmd_print(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  return uv__print(s, "print", "\n");
}

int cmd_output(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  return uv__print(s, "output", "");
}

/* ---- if, while ---- */

/* The condition is compiled before the body is read, and the body read
 * even when the condition is bad, so that it never runs as commands. */
static int uv__block(const char *what, const char *text, struct cond *c, struct script_body *body) {
  char err[200];
  int bad = !*text ? uvdb_error("usage: %s EXPRESSION ... end", what)
                   : cond_parse(text, c, err, sizeof(err)) < 0 ? uvdb_error("%s: bad expression: %s", what, err)
                                                                : 0;
  if (script_read_body(what, 0, body) < 0)
    return -1;
  if (bad)
    script_body_free(body);
  return bad;
}

static int uv__test(struct session *s, const char *what, const struct cond *c, int *truth) {
  struct cond_env env;
  struct cond_value v;
  char err[200];
  convenience_env(s, &env);
  if (cond_eval(c, &env, &v, err, sizeof(err)) < 0)
    return uvdb_error("%s: %s", what, err);
  *truth = cond_truthy(&v);
  return 0;
}

int cmd_if(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  struct cond c;
  struct script_body body;
  if (uv__block("if", uvdb_command_args, &c, &body) < 0)
    return -1;
  int truth, r = uv__test(s, "if", &c, &truth);
  if (r == 0) {
    int split = body.else_at >= 0 ? body.else_at : body.n;
    if (truth)
      r = script_run_lines(s, body.lines, split);
    else if (split < body.n)
      r = script_run_lines(s, body.lines + split + 1, body.n - split - 1);
  }
  script_body_free(&body);
  return r;
}

int cmd_while(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  struct cond c;
  struct script_body body;
  if (uv__block("while", uvdb_command_args, &c, &body) < 0)
    return -1;
  int truth = 0, r = 0;
  long passes = 0;
  while (r == 0 && !uv__resumed(s) && (r = uv__test(s, "while", &c, &truth)) == 0 && truth) {
    if (s->interrupted)
      r = uvdb_error("while: interrupted (Ctrl-C) after %ld passes", passes);
    else if (passes++ == SCRIPT_MAX_WHILE)
      r = uvdb_error("while: stopped after %d passes; is `%s` ever false?", SCRIPT_MAX_WHILE, c.text);
    else
      r = script_run_lines(s, body.lines, body.n);
  }
  script_body_free(&body);
  return r;
}

/* ---- user commands: define, document, show user ---- */

struct user_command {
  char name[64];
  struct script_body body;
  char *doc; /* document NAME ... end, or NULL */
};

static struct user_command *uv__user;
static int uv__nuser;

static struct user_command *uv__user_named(const char *name) {
  for (int i = 0; i < uv__nuser; i++)
    if (strcmp(uv__user[i].name, name) == 0)
      return &uv__user[i];
  return NULL;
}

int script_is_user_command(const char *name) {
  return uv__user_named(name) != NULL;
}

static int uv__name_error(const char *what, const char *name) {
  size_t len = strlen(name);
  int ok = len > 0 && len < sizeof(uv__user[0].name) && (isalpha((unsigned char)name[0]) || name[0] == '_');
  for (size_t i = 0; ok && i < len; i++)
    ok = isalnum((unsigned char)name[i]) || name[i] == '_' || name[i] == '-';
  if (!ok)
    return uvdb_error("%s: \"%s\" is not a command name (a letter, then letters, digits, _ and -)", what, name);
  const struct uvdb_command *c = uvdb_command_named(name);
  if (c)
    return uvdb_error("%s: \"%s\" is the built-in command %s; choose another name", what, name, c->name);
  return 0;
}

int cmd_define(struct session *s, int argc, char **argv) {
  (void)s;
  int bad = argc != 2 ? uvdb_error("usage: define NAME ... end") : uv__name_error("define", argv[1]);
  if (!bad && !uvdb_json_mode && uvdb_reader_is_tty)
    printf("Type commands for the definition of \"%s\", one per line; end with \"end\".\n", argv[1]);
  struct script_body body;
  if (script_read_body("define", 0, &body) < 0)
    return -1;
  if (bad) {
    script_body_free(&body);
    return -1;
  }
  struct user_command *u = uv__user_named(argv[1]);
  if (!u) {
    struct user_command *grown = realloc(uv__user, sizeof(*uv__user) * (size_t)(uv__nuser + 1));
    if (!grown) {
      script_body_free(&body);
      return uvdb_error("out of memory");
    }
    uv__user = grown;
    u = &uv__user[uv__nuser++];
    memset(u, 0, sizeof(*u));
    snprintf(u->name, sizeof(u->name), "%s", argv[1]);
  }
  script_body_free(&u->body); /* redefined, as gdb does when not asked */
  u->body = body;
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "define");
    json_str(j, "name", u->name);
    json_arr(j, "lines");
    for (int i = 0; i < body.n; i++)
      json_str(j, NULL, body.lines[i]);
    json_end(j);
  }
  return 0;
}

int cmd_document(struct session *s, int argc, char **argv) {
  (void)s;
  struct user_command *u = argc == 2 ? uv__user_named(argv[1]) : NULL;
  if (argc != 2)
    uvdb_error("usage: document NAME ... end");
  else if (!u)
    uvdb_error("document: no user command \"%s\"; `define` it first", argv[1]);
  struct script_body body;
  if (script_read_body("document", 1, &body) < 0)
    return -1;
  if (!u) {
    script_body_free(&body);
    return -1;
  }
  size_t len = 1;
  for (int i = 0; i < body.n; i++)
    len += strlen(body.lines[i]) + 1;
  char *doc = malloc(len);
  if (!doc) {
    script_body_free(&body);
    return uvdb_error("out of memory");
  }
  doc[0] = '\0';
  for (int i = 0; i < body.n; i++)
    strcat(strcat(doc, body.lines[i]), i + 1 < body.n ? "\n" : "");
  script_body_free(&body);
  free(u->doc);
  u->doc = doc;
  return 0;
}

/* A user command's arguments, as gdb splits them: on blanks, a "quoted
 * string" or a (parenthesized expression) kept whole, quotes included. */
static int uv__split_args(const char *p, char args[][512], const char *name) {
  int n = 0;
  for (;;) {
    p += strspn(p, " \t");
    if (!*p)
      return n;
    if (n == SCRIPT_MAX_ARGS)
      return uvdb_error("%s: more than %d arguments", name, SCRIPT_MAX_ARGS);
    const char *start = p;
    p = format_arg_end(p, ' ');
    snprintf(args[n++], sizeof(args[0]), "%.*s", (int)(p - start), start);
  }
}

/* $argc and $arg0...$arg9 replaced by the call's arguments' text, as gdb
 * does, so that they work in any command (`break phase $arg0`). */
static int uv__substitute(const char *line, const struct user_call *call, char *out, size_t cap) {
  int nargs = call->nargs;
  const char *name = call->name;
  size_t off = 0;
  for (const char *p = line; *p;) {
    char with[512] = "";
    size_t skip = 0;
    if (strncmp(p, "$argc", 5) == 0 && !isalnum((unsigned char)p[5]) && p[5] != '_') {
      snprintf(with, sizeof(with), "%d", nargs), skip = 5;
    } else if (strncmp(p, "$arg", 4) == 0 && isdigit((unsigned char)p[4]) && !isalnum((unsigned char)p[5]) &&
               p[5] != '_') {
      int k = p[4] - '0';
      if (k >= nargs)
        return uvdb_error("%s: no argument %d ($arg%d): it was given %d", name, k, k, nargs);
      snprintf(with, sizeof(with), "%s", call->args[k]), skip = 5;
    }
    size_t len = skip ? strlen(with) : 1;
    if (off + len + 1 > cap)
      return uvdb_error("%s: a line is too long with its arguments", name);
    memcpy(out + off, skip ? with : p, len);
    off += len;
    p += skip ? skip : 1;
  }
  out[off] = '\0';
  return 0;
}

int script_call_user(struct session *s, const char *name, const char *args_text) {
  static int calls;
  const struct user_command *u = uv__user_named(name);
  if (!u)
    return uvdb_error("no user command \"%s\"", name);
  if (calls >= SCRIPT_MAX_CALLS)
    return uvdb_error("%s: user commands nested too deep (%d); does it call itself?", name, SCRIPT_MAX_CALLS);
  struct user_call *call = calloc(1, sizeof(*call)); /* 5 KB: not on the stack, 64 deep */
  if (!call)
    return uvdb_error("out of memory");
  snprintf(call->name, sizeof(call->name), "%s", u->name); /* u moves if the body defines a command */
  call->nargs = uv__split_args(args_text, call->args, name);
  /* A copy of the body: it may redefine its own command. */
  int n = u->body.n, r = call->nargs < 0 ? -1 : 0;
  char **lines = calloc((size_t)n + 1, sizeof(char *));
  for (int i = 0; r == 0 && i < n; i++)
    if (!lines || !(lines[i] = strdup(u->body.lines[i])))
      r = uvdb_error("out of memory");
  if (r == 0) {
    struct user_call *saved = uv__call;
    uv__call = call, calls++;
    r = script_run_lines(s, lines, n);
    uv__call = saved, calls--;
  }
  for (int i = 0; lines && i < n; i++)
    free(lines[i]);
  free(lines);
  free(call);
  return r;
}

/* A body's lines, indented by how deep each is nested. */
static void uv__show_lines(char **lines, int n, int indent) {
  int depth = 0, text = -1;
  for (int i = 0; i < n; i++) {
    enum line_kind kind = text >= 0 && uv__kind(lines[i]) != LINE_END ? LINE_PLAIN : uv__kind(lines[i]);
    if (kind == LINE_END) {
      depth -= depth > 0;
      if (text > depth)
        text = -1;
    }
    printf("%*s%s\n", indent + 2 * (depth - (kind == LINE_ELSE)), "", lines[i]);
    if (kind == LINE_OPENS || kind == LINE_OPENS_TEXT)
      depth++;
    if (kind == LINE_OPENS_TEXT)
      text = depth;
  }
}

/* show user [NAME]: the user commands' definitions. */
int cmd_show_user(struct session *s, int argc, char **argv) {
  (void)s;
  const char *only = argc > 1 ? argv[1] : NULL;
  if (only && !uv__user_named(only))
    return uvdb_error("no user command \"%s\"", only);
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_arr(j, "show_user");
  }
  for (int i = 0; i < uv__nuser; i++) {
    const struct user_command *u = &uv__user[i];
    if (only && strcmp(only, u->name) != 0)
      continue;
    if (!j) {
      printf("User command \"%s\":\n", u->name);
      uv__show_lines(u->body.lines, u->body.n, 2);
      continue;
    }
    json_obj(j, NULL);
    json_str(j, "name", u->name);
    json_arr(j, "lines");
    for (int k = 0; k < u->body.n; k++)
      json_str(j, NULL, u->body.lines[k]);
    json_close(j);
    json_str(j, "doc", u->doc);
    json_close(j);
  }
  if (j)
    json_end(j);
  return 0;
}

/* help NAME for a user command, and the user commands in `help`'s list. */
int script_help_user(const char *name) {
  const struct user_command *u = uv__user_named(name);
  if (!u)
    return -1;
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "help");
    json_str(j, "command", u->name);
    json_str(j, "usage", u->name);
    json_str(j, "help", u->doc ? u->doc : "User-defined.");
    json_bool(j, "user", 1);
    json_end(j);
  } else {
    printf("%s\n", u->doc ? u->doc : "User-defined.");
  }
  return 0;
}

void script_help_user_list(struct json *j) {
  for (int i = 0; i < uv__nuser; i++) {
    const struct user_command *u = &uv__user[i];
    char first[120];
    snprintf(first, sizeof(first), "%.*s", u->doc ? (int)strcspn(u->doc, "\n") : 40,
             u->doc ? u->doc : "User-defined.");
    if (j) {
      json_obj(j, NULL);
      json_str(j, "command", u->name);
      json_str(j, "usage", u->name);
      json_str(j, "help", first);
      json_bool(j, "user", 1);
      json_close(j);
    } else {
      if (i == 0)
        printf("User-defined commands:\n");
      printf("  %-22s %s\n", u->name, first);
    }
  }
}

const struct uvdb_command uvdb_show_commands[] = {
    {"user", cmd_show_user, "show user [NAME]", "The user commands' definitions (define).", NULL},
    {"convenience", cmd_show_convenience, "show convenience", "Every convenience variable and its value now.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_show(struct session *s, int argc, char **argv) {
  int ambiguous;
  if (argc > 1 && !uvdb_lookup(uvdb_show_commands, argv[1], &ambiguous) && !ambiguous)
    return settings_show(s, argv[1]);
  return uvdb_dispatch(s, uvdb_show_commands, "show", argc - 1, argv + 1);
}
