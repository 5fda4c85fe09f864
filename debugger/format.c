/* printf's formatting, as gdb's: a quoted format with C's conversions
 * (%d %i %u %x %X %o %c %s %f %e %g %%, flags, width, precision) and
 * escapes, then one expression per conversion, separated by commas. */
#define _GNU_SOURCE
#include "format.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_MAX_ARGS 16

/* The format's text between its quotes with the escapes applied; *end after
 * the closing quote. */
static int uv__unquote(const char *p, char *out, size_t cap, const char **end, char *err, size_t errlen) {
  while (isspace((unsigned char)*p))
    p++;
  if (*p != '"') {
    snprintf(err, errlen, "the format must be a \"quoted string\", as in: printf \"%%d\\n\", $iteration");
    return -1;
  }
  size_t len = 0;
  for (p++; *p && *p != '"'; p++) {
    char ch = *p;
    if (ch == '\\') {
      static const char from[] = "ntr\"\\ae", to[] = "\n\t\r\"\\\a\033";
      const char *k = p[1] ? strchr(from, p[1]) : NULL;
      if (!k) {
        snprintf(err, errlen, "unknown escape \\%.1s in the format (\\n \\t \\r \\\" \\\\ \\a \\e)", p + 1);
        return -1;
      }
      ch = to[k - from];
      p++;
    }
    if (len + 1 >= cap) {
      snprintf(err, errlen, "the format is too long");
      return -1;
    }
    out[len++] = ch;
  }
  if (*p != '"') {
    snprintf(err, errlen, "the format's string has no closing quote");
    return -1;
  }
  out[len] = '\0';
  *end = p + 1;
  return 0;
}

const char *format_arg_end(const char *p, char sep) {
  int depth = 0, quoted = 0;
  for (; *p && (quoted || depth || (sep == ' ' ? *p != ' ' && *p != '\t' : *p != sep)); p++) {
    if (quoted && *p == '\\' && p[1])
      p++;
    else if (*p == '"')
      quoted = !quoted;
    else if (!quoted)
      depth += (*p == '(') - (*p == ')');
  }
  return p;
}

/* Splits ", a, (b, c)..." at the commas outside quotes and parentheses. */
static int uv__split_args(const char *p, char args[][256], int max, char *err, size_t errlen) {
  while (isspace((unsigned char)*p))
    p++;
  if (!*p)
    return 0;
  if (*p != ',') {
    snprintf(err, errlen, "expected a comma after the format, at \"%.20s\"", p);
    return -1;
  }
  int n = 0;
  while (*p == ',') {
    const char *start = ++p;
    p = format_arg_end(p, ',');
    if (n == max) {
      snprintf(err, errlen, "too many arguments (%d at most)", max);
      return -1;
    }
    while (isspace((unsigned char)*start))
      start++;
    size_t len = (size_t)(p - start);
    while (len && isspace((unsigned char)start[len - 1]))
      len--;
    if (len >= sizeof(args[0])) {
      snprintf(err, errlen, "argument %d is too long", n + 1);
      return -1;
    }
    memcpy(args[n], start, len);
    args[n++][len] = '\0';
  }
  return n;
}

/* One conversion, "%-08.3f" say, of one value, written to out. */
static int uv__convert(FILE *out, const char *spec, int speclen, char conv, const struct cond_value *v, int argno,
                       char *err, size_t errlen) {
  char fmt[64];
  if (conv == 's') {
    char text[512];
    snprintf(fmt, sizeof(fmt), "%.*ss", speclen, spec);
    fprintf(out, fmt, v->type == COND_STRING ? v->str : cond_value_text(v, 0, text, sizeof(text)));
    return 0;
  }
  if (v->type != COND_NUMBER) {
    snprintf(err, errlen, "%%%c needs a number, but argument %d is %s", conv, argno,
             v->type == COND_STRING ? "a string (use %s)" : "void (no program, or no stopped loop?)");
    return -1;
  }
  if (strchr("feg", conv)) {
    snprintf(fmt, sizeof(fmt), "%.*s%c", speclen, spec, conv);
    fprintf(out, fmt, v->num);
    return 0;
  }
  /* Integers: the value must fit the type, or the conversion is undefined. */
  int is_signed = conv == 'd' || conv == 'i' || conv == 'c';
  if (!(v->num > -9.2e18 && v->num < (is_signed ? 9.2e18 : 1.8e19))) {
    snprintf(err, errlen, "argument %d (%g) does not fit %%%c", argno, v->num, conv);
    return -1;
  }
  long long i = v->num < 9.2e18 ? (long long)v->num : 0;
  unsigned long long u = v->num < 0 ? (unsigned long long)i : (unsigned long long)v->num;
  if (conv == 'c') {
    snprintf(fmt, sizeof(fmt), "%.*sc", speclen, spec);
    fprintf(out, fmt, (int)(unsigned char)i);
  } else if (is_signed) {
    snprintf(fmt, sizeof(fmt), "%.*slld", speclen, spec);
    fprintf(out, fmt, i);
  } else {
    snprintf(fmt, sizeof(fmt), "%.*sll%c", speclen, spec, conv);
    fprintf(out, fmt, u);
  }
  return 0;
}

static int uv__format(const char *format, const struct cond_value *vals, int nvals, FILE *out, char *err,
                      size_t errlen) {
  int used = 0;
  for (const char *p = format; *p; p++) {
    if (*p != '%') {
      fputc(*p, out);
      continue;
    }
    if (p[1] == '%') {
      fputc('%', out);
      p++;
      continue;
    }
    /* %[flags][width][.precision][length]conversion; the length (l, ll, h,
     * z) is accepted, as gdb does, and the value's own type used. */
    const char *spec = p++;
    p += strspn(p, "-+ #0");
    long width = strtol(p, NULL, 10), precision = 0;
    p += strspn(p, "0123456789");
    if (*p == '.') {
      precision = strtol(p + 1, NULL, 10);
      p += 1 + strspn(p + 1, "0123456789");
    }
    int speclen = (int)(p - spec);
    if (speclen > 24 || width > 1000 || precision > 1000) { /* no megabytes of padding */
      snprintf(err, errlen, "conversion %.*s... is too wide (1000 at most)", 12, spec);
      return -1;
    }
    p += strspn(p, "hljzt");
    if (!*p || !strchr("diuxXocsfeg", *p)) {
      if (!*p)
        snprintf(err, errlen, "a lone %% at the end of the format (%%%% prints one)");
      else if (*p == '*')
        snprintf(err, errlen, "a width or precision from an argument (*) is not supported");
      else
        snprintf(err, errlen, "unknown conversion %%%.*s%.1s (%%d %%i %%u %%x %%X %%o %%c %%s %%f %%e %%g %%%%)",
                 (int)(p - spec - 1), spec + 1, p);
      return -1;
    }
    if (used == nvals) {
      snprintf(err, errlen, "the format has more conversions than the %d argument%s given", nvals,
               nvals == 1 ? "" : "s");
      return -1;
    }
    if (uv__convert(out, spec, speclen, *p, &vals[used], used + 1, err, errlen) < 0)
      return -1;
    used++;
  }
  if (used < nvals) {
    snprintf(err, errlen, "%d argument%s but the format has %d conversion%s", nvals, nvals == 1 ? "" : "s", used,
             used == 1 ? "" : "s");
    return -1;
  }
  return 0;
}

char *format_printf(const char *text, const struct cond_env *env, char *err, size_t errlen) {
  char format[1024], args[FORMAT_MAX_ARGS][256];
  const char *rest;
  struct cond_value vals[FORMAT_MAX_ARGS];
  struct cond exprs[FORMAT_MAX_ARGS]; /* the strings of vals point into them */
  err[0] = '\0';
  if (uv__unquote(text, format, sizeof(format), &rest, err, errlen) < 0)
    return NULL;
  int n = uv__split_args(rest, args, FORMAT_MAX_ARGS, err, errlen);
  if (n < 0)
    return NULL;
  for (int i = 0; i < n; i++) {
    char why[160];
    if (cond_parse(args[i], &exprs[i], why, sizeof(why)) < 0 ||
        cond_eval(&exprs[i], env, &vals[i], why, sizeof(why)) < 0) {
      snprintf(err, errlen, "argument %d (%s): %s", i + 1, args[i], why);
      return NULL;
    }
  }
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  if (!out) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  int r = uv__format(format, vals, n, out, err, errlen);
  fclose(out);
  if (r < 0) {
    free(buf);
    return NULL;
  }
  return buf;
}
