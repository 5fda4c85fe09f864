/* Output: prose for people, or one JSON object per line for scripts. */
#include "uvdb.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int uvdb_json_mode;

#define JSON_MAX_DEPTH 16

struct json {
  int depth;
  int count[JSON_MAX_DEPTH]; /* members written at each level */
  char closer[JSON_MAX_DEPTH]; /* '}' or ']' */
};

static struct json uv__json;

/* A string's JSON escapes, without the quotes (exports write files too). */
void json_fputs(FILE *out, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\t': fputs("\\t", out); break;
    case '\r': fputs("\\r", out); break;
    default:
      if (*p < 0x20)
        fprintf(out, "\\u%04x", *p);
      else
        fputc(*p, out);
    }
  }
}

static void uv__json_string(const char *s) {
  putchar('"');
  json_fputs(stdout, s);
  putchar('"');
}

static void uv__json_key(struct json *j, const char *key) {
  if (j->count[j->depth]++)
    putchar(',');
  if (key) {
    uv__json_string(key);
    putchar(':');
  }
}

struct json *json_begin(void) {
  struct json *j = &uv__json;
  memset(j, 0, sizeof(*j));
  putchar('{');
  return j;
}

void json_end(struct json *j) {
  while (j->depth > 0)
    json_close(j);
  fputs("}\n", stdout);
  fflush(stdout);
}

static void uv__json_open(struct json *j, const char *key, char c) {
  uv__json_key(j, key);
  putchar(c);
  if (j->depth + 1 < JSON_MAX_DEPTH)
    j->count[++j->depth] = 0;
}

void json_obj(struct json *j, const char *key) {
  uv__json_open(j, key, '{');
  j->closer[j->depth] = '}';
}

void json_arr(struct json *j, const char *key) {
  uv__json_open(j, key, '[');
  j->closer[j->depth] = ']';
}

void json_close(struct json *j) {
  if (j->depth == 0)
    return;
  putchar(j->closer[j->depth]);
  j->depth--;
}

void json_str(struct json *j, const char *key, const char *v) {
  uv__json_key(j, key);
  if (v)
    uv__json_string(v);
  else
    fputs("null", stdout);
}

void json_int(struct json *j, const char *key, int64_t v) {
  uv__json_key(j, key);
  printf("%lld", (long long)v);
}

void json_uint(struct json *j, const char *key, uint64_t v) {
  uv__json_key(j, key);
  printf("%llu", (unsigned long long)v);
}

void json_num(struct json *j, const char *key, double v) {
  uv__json_key(j, key);
  if (isfinite(v))
    printf("%.6g", v);
  else
    fputs("null", stdout);
}

void json_bool(struct json *j, const char *key, int v) {
  uv__json_key(j, key);
  fputs(v ? "true" : "false", stdout);
}

void json_null(struct json *j, const char *key) {
  uv__json_key(j, key);
  fputs("null", stdout);
}

/* An expression's value: a whole number as an integer, void as null. */
void json_value(struct json *j, const char *key, const struct cond_value *v) {
  if (v->type == COND_STRING)
    json_str(j, key, v->str);
  else if (v->type == COND_VOID)
    json_null(j, key);
  else if (v->num == floor(v->num) && fabs(v->num) < 9e15)
    json_int(j, key, (int64_t)v->num);
  else
    json_num(j, key, v->num);
}

/* ---- colour and progress, for a person at a terminal ---- */

/* --batch is the session's; weak, so that the unit tests can link this
 * file without the session (there it reads as absent: not batch). */
extern struct session uvdb_session __attribute__((weak));

static int uv__batch(void) {
  return &uvdb_session != NULL && uvdb_session.batch;
}

/* A person watching f: a terminal, and neither a script (--batch) nor a
 * program (--json) reading. */
static int uv__person_at(FILE *f) {
  return !uvdb_json_mode && !uv__batch() && isatty(fileno(f));
}

int out_colour(FILE *f) {
  const char *no = getenv("NO_COLOR"), *term = getenv("TERM"); /* https://no-color.org */
  return (!no || !*no) && !(term && strcmp(term, "dumb") == 0) && uv__person_at(f);
}

static const char *const uv__escapes[] = {
    [OUT_RESET] = "\033[0m", [OUT_BOLD] = "\033[1m", [OUT_ERROR] = "\033[31m", [OUT_WARNING] = "\033[33m",
    [OUT_HEADER] = "\033[1m"};
static const char *const uv__prompt_escapes[] = {
    [OUT_RESET] = "\001\033[0m\002", [OUT_BOLD] = "\001\033[1m\002", [OUT_ERROR] = "\001\033[31m\002",
    [OUT_WARNING] = "\001\033[33m\002", [OUT_HEADER] = "\001\033[1m\002"};

const char *out_style_on(FILE *f, enum out_style st) {
  return (unsigned)st <= OUT_HEADER && out_colour(f) ? uv__escapes[st] : "";
}

const char *out_style(enum out_style st) {
  return out_style_on(stdout, st);
}

const char *out_reset(void) {
  return out_style_on(stdout, OUT_RESET);
}

const char *out_prompt_style(enum out_style st) {
  return (unsigned)st <= OUT_HEADER && out_colour(stdout) ? uv__prompt_escapes[st] : "";
}

static double uv__now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define PROGRESS_AFTER_S 0.3  /* quick work shows nothing */
#define PROGRESS_REDRAW_S 0.1 /* a line redrawn faster is not read faster */

void out_progress_begin(struct out_progress *p, const char *what, const char *unit, uint64_t total, unsigned every) {
  *p = (struct out_progress){.what = what, .unit = unit, .total = total, .every = every ? every : 1};
  p->enabled = uv__person_at(stderr);
  p->next = p->enabled ? p->every : UINT64_MAX; /* disabled: out_progress never calls in */
  if (p->enabled)
    p->start = uv__now_s();
}

void out_progress_tick(struct out_progress *p, uint64_t done) {
  p->next = done + p->every;
  double now = uv__now_s();
  if (now - p->start < PROGRESS_AFTER_S || (p->shown && now - p->drawn < PROGRESS_REDRAW_S))
    return;
  char line[160];
  int n;
  if (p->unit)
    n = snprintf(line, sizeof(line), "%s %llu/%llu %s", p->what, (unsigned long long)done,
                 (unsigned long long)p->total, p->unit);
  else
    n = snprintf(line, sizeof(line), "%s %d%%", p->what,
                 p->total ? (int)(100.0 * (double)(done < p->total ? done : p->total) / (double)p->total) : 0);
  size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
  /* Spaces over what a longer line left, rather than an erase escape:
   * this works on any terminal. */
  fprintf(stderr, "\r%s%*s", line, p->width > len ? (int)(p->width - len) : 0, "");
  fflush(stderr);
  if (len > p->width)
    p->width = len;
  p->shown = 1, p->drawn = now;
}

void out_progress_end(struct out_progress *p) {
  if (p->shown) {
    fprintf(stderr, "\r%*s\r", (int)p->width, "");
    fflush(stderr);
  }
  p->shown = 0, p->next = UINT64_MAX;
}

static void uv__keyed_line(const char *key, const char *fmt, va_list ap, FILE *human) {
  char buf[2048];
  vsnprintf(buf, sizeof(buf), fmt, ap);
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_str(j, key, buf);
    json_end(j);
  } else {
    /* errors red, warnings yellow; other messages (stdout) as they are */
    enum out_style st = strcmp(key, "error") == 0 ? OUT_ERROR : strcmp(key, "warning") == 0 ? OUT_WARNING : OUT_RESET;
    const char *on = st != OUT_RESET ? out_style_on(human, st) : "";
    fputs(on, human);
    if (human == stderr)
      fprintf(human, "%s: ", key);
    fprintf(human, "%s%s\n", buf, *on ? out_style_on(human, OUT_RESET) : "");
    fflush(human);
  }
}

int uvdb_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  uv__keyed_line("error", fmt, ap, stderr);
  va_end(ap);
  return -1;
}

void uvdb_message(const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  uv__keyed_line(key, fmt, ap, strcmp(key, "warning") == 0 ? stderr : stdout);
  va_end(ap);
}
