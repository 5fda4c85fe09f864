/* libFuzzer target: command lines (the parser, the dispatcher, every
 * command's argument handling, cond.c via print/if/while/break ... if), run
 * with no program and no target attached, as typed at the prompt. */
#define _GNU_SOURCE
#include "../../debugger/uvdb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The input's lines, handed out one by one: the command's own line, then
 * the bodies `commands`, `define`, `while` read. */
struct lines {
  const char *p, *end;
};

static char *next_line(void *ctx) {
  struct lines *l = ctx;
  if (l->p >= l->end)
    return NULL;
  const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
  size_t len = nl ? (size_t)(nl - l->p) : (size_t)(l->end - l->p);
  char *line = strndup(l->p, len);
  l->p += len + (nl != NULL);
  return line;
}

/* Commands that reach outside the debugger are not fuzzed: `attach PID`
 * would inject the probe into whatever process the number names, `sleep`
 * only waits.  Every line is checked: bodies of define/while are lines too. */
static int reaches_out(const char *p, const char *end) {
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    while (p < stop && (*p == ' ' || *p == '\t'))
      p++;
    char word[64];
    size_t n = 0;
    while (p + n < stop && p[n] != ' ' && p[n] != '\t' && n < sizeof(word) - 1)
      word[n] = p[n], n++;
    word[n] = '\0';
    const struct uvdb_command *c = n ? uvdb_command_named(word) : NULL;
    if (c && (strcmp(c->name, "attach") == 0 || strcmp(c->name, "sleep") == 0))
      return 1;
    p = stop + 1;
  }
  return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  /* And no probe to inject, should an attach get through all the same. */
  setenv("UVDB_PROBE", "/nonexistent/libuvdb-probe.so", 1);
  /* Commands that name files (source, profile export) act on a scratch
   * directory, never on the tree the fuzzer runs in. */
  char dir[] = "/tmp/uvdb-fuzz-command-XXXXXX";
  if (!mkdtemp(dir) || chdir(dir) != 0)
    abort();
  cond_set_lookup(convenience_lookup, &uvdb_session);
  if (getenv("UVDB_FUZZ_QUIET")) /* the answers are not what is checked */
    if (!freopen("/dev/null", "w", stdout))
      abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096 || memchr(data, '\0', size) || reaches_out((const char *)data, (const char *)data + size))
    return 0; /* a NUL never reaches a command: lines are C strings */
  struct session *s = &uvdb_session;
  struct lines l = {(const char *)data, (const char *)data + size};
  uvdb_reader = next_line, uvdb_reader_ctx = &l, uvdb_reader_is_tty = 0;
  char *line;
  while ((line = next_line(&l)) != NULL) {
    uvdb_execute(s, line);
    free(line);
    uvdb_quit_requested = 0;
  }
  uvdb_execute(s, "delete"); /* breakpoints do not pile up across inputs */
  uvdb_commands_failed = 0;
  return 0;
}
