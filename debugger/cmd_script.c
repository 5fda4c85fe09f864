/* Scripting: command files (-x, source) and echo. */
#include "uvdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

char *uvdb_read_file_line(void *ctx) {
  char buf[4096];
  if (!fgets(buf, sizeof(buf), ctx))
    return NULL;
  buf[strcspn(buf, "\n")] = '\0';
  return strdup(buf);
}

/* Runs a script file; like gdb, the first failing command ends the file. */
int uvdb_source(struct session *s, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return uvdb_error("cannot read %s: %s", path, strerror(errno));
  uvdb_line_reader saved = uvdb_reader;
  void *saved_ctx = uvdb_reader_ctx;
  int saved_tty = uvdb_reader_is_tty;
  uvdb_reader = uvdb_read_file_line, uvdb_reader_ctx = f, uvdb_reader_is_tty = 0;
  char line[4096];
  int r = 0, lineno = 0;
  while (fgets(line, sizeof(line), f)) {
    lineno++;
    line[strcspn(line, "\n")] = '\0';
    int e = uvdb_execute(s, line);
    if (e == 1) {
      r = 1;
      break;
    }
    if (e < 0) {
      uvdb_error("%s:%d: stopped the script here", path, lineno);
      r = -1;
      break;
    }
  }
  fclose(f);
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
