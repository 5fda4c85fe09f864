/* Output: prose for people, or one JSON object per line for scripts. */
#include "uvdb.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static void uv__keyed_line(const char *key, const char *fmt, va_list ap, FILE *human) {
  char buf[2048];
  vsnprintf(buf, sizeof(buf), fmt, ap);
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_str(j, key, buf);
    json_end(j);
  } else {
    if (human == stderr)
      fprintf(human, "%s: ", key);
    fprintf(human, "%s\n", buf);
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
