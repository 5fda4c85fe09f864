/* printf's formatting (format.c), apart from the session so that it can be
 * tested alone. */
#ifndef UVDB_FORMAT_H
#define UVDB_FORMAT_H

#include "cond.h"

/* TEXT is what follows `printf`: "FORMAT", EXPR, ...  Returns the malloc'd
 * result, or NULL with a message in err. */
char *format_printf(const char *text, const struct cond_env *env, char *err, size_t errlen);

/* The end of one argument at p: up to `sep` (or a blank, when sep is ' ')
 * outside "quotes" and (parentheses), which printf and user commands both
 * keep whole. */
const char *format_arg_end(const char *p, char sep);

#endif
