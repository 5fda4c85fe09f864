/* uvdb learn: the learning path's chapters, and each chapter's uvdb sessions
 * run step by step, read from the chapter's own Markdown (one source of truth). */
#define _GNU_SOURCE
#include "uvdb.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Where the chapters and the programs they run are: `root` holds docs/learn/
 * and examples/node/ (the source tree, or DATADIR/uvdb once installed); the
 * C examples, which the chapters call build/examples/NAME, are in `cbin`. */
struct learn_paths {
  char self[4096]; /* this uvdb, which the sessions run */
  char root[4096];
  char cbin[4096];
};

/* One `$ ` command of a uvdb-session block, with the chapter's text before it. */
struct learn_step {
  char *text; /* the prose since the previous block (may be empty) */
  char *command;
};

struct learn_chapter {
  struct learn_step *steps;
  int nsteps;
  char *closing; /* the prose after the last block: what to notice, exercises */
};

static int uv__is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int uv__has_learn(const char *root) {
  char p[4200];
  snprintf(p, sizeof(p), "%s/docs/learn", root);
  return uv__is_dir(p);
}

/* An installed uvdb finds DATADIR/uvdb and LIBEXECDIR/uvdb/examples relative
 * to its own directory; a built one is BUILD/debugger/uvdb, next to
 * BUILD/examples, with the source tree where meson configured it. */
static int uv__find_paths(struct learn_paths *p) {
  ssize_t n = readlink("/proc/self/exe", p->self, sizeof(p->self) - 1);
  if (n <= 0)
    return uvdb_error("cannot find uvdb's own path: %s", strerror(errno));
  p->self[n] = '\0';
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s", p->self);
  *strrchr(dir, '/') = '\0';
  const char *env = getenv("UVDB_LEARN_ROOT");
  if (env && *env) {
    snprintf(p->root, sizeof(p->root), "%s", env);
    snprintf(p->cbin, sizeof(p->cbin), "%s/../examples", dir);
  } else {
    snprintf(p->root, sizeof(p->root), "%s/%s", dir, UVDB_DATA_FROM_BINDIR);
    snprintf(p->cbin, sizeof(p->cbin), "%s/%s", dir, UVDB_EXAMPLES_FROM_BINDIR);
    if (!uv__has_learn(p->root)) {
      snprintf(p->root, sizeof(p->root), "%s", UVDB_SOURCE_ROOT);
      snprintf(p->cbin, sizeof(p->cbin), "%s/../examples", dir);
    }
  }
  const char *cbin = getenv("UVDB_EXAMPLES"); /* as for the docs tests: the sanitizer run's come from another build */
  if (cbin && *cbin)
    snprintf(p->cbin, sizeof(p->cbin), "%s", cbin);
  if (!uv__has_learn(p->root))
    return uvdb_error("cannot find the chapters (docs/learn) in %s; set UVDB_LEARN_ROOT to the source tree", p->root);
  return 0;
}

static int uv__by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

/* NN-topic.md: the chapter files, by number. */
static int uv__chapter_file(const struct dirent *d) {
  size_t len = strlen(d->d_name);
  return len > 6 && d->d_name[0] >= '0' && d->d_name[0] <= '9' && d->d_name[1] >= '0' && d->d_name[1] <= '9' &&
         d->d_name[2] == '-' && strcmp(d->d_name + len - 3, ".md") == 0;
}

/* The chapter's title: its first line, without the leading `# `. */
static void uv__title(const char *path, char *out, size_t cap) {
  FILE *f = fopen(path, "r");
  out[0] = '\0';
  if (!f)
    return;
  if (fgets(out, (int)cap, f)) {
    out[strcspn(out, "\n")] = '\0';
    if (out[0] == '#')
      memmove(out, out + strspn(out, "# "), strlen(out + strspn(out, "# ")) + 1);
  }
  fclose(f);
}

static int uv__list(const struct learn_paths *p) {
  char dir[4200];
  snprintf(dir, sizeof(dir), "%s/docs/learn", p->root);
  struct dirent **names;
  int n = scandir(dir, &names, uv__chapter_file, uv__by_name);
  if (n < 0)
    return uvdb_error("cannot read %s: %s", dir, strerror(errno));
  printf("The learning path's chapters (%s):\n", dir);
  for (int i = 0; i < n; i++) {
    char path[4500], title[512];
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
    uv__title(path, title, sizeof(title));
    printf("  %s\n", title);
    free(names[i]);
  }
  free(names);
  printf("`uvdb learn N` runs chapter N's sessions step by step; `uvdb learn N --batch` without stopping "
         "(the path's index: %s/README.md).\n",
         dir);
  return 0;
}

/* The file of chapter n, NN-*.md. */
static int uv__find_chapter(const struct learn_paths *p, int n, char *out, size_t cap) {
  char dir[4200], prefix[8];
  snprintf(dir, sizeof(dir), "%s/docs/learn", p->root);
  snprintf(prefix, sizeof(prefix), "%02d-", n);
  struct dirent **names;
  int k = scandir(dir, &names, uv__chapter_file, uv__by_name), found = -1;
  for (int i = 0; i < k; i++) {
    if (found < 0 && strncmp(names[i]->d_name, prefix, 3) == 0) {
      snprintf(out, cap, "%s/%s", dir, names[i]->d_name);
      found = 0;
    }
    free(names[i]);
  }
  if (k >= 0)
    free(names);
  return found;
}

/* A growing string of prose. */
struct text {
  char *s;
  size_t len, cap;
};

static void uv__append(struct text *t, const char *line) {
  size_t l = strlen(line);
  if (t->len + l + 2 > t->cap) {
    t->cap = (t->len + l + 2) * 2;
    t->s = realloc(t->s, t->cap);
    if (!t->s)
      abort();
  }
  memcpy(t->s + t->len, line, l);
  t->len += l;
  t->s[t->len++] = '\n';
  t->s[t->len] = '\0';
}

/* The prose gathered so far, without blank lines around it; empties t. */
static char *uv__take(struct text *t) {
  char *s = t->s ? t->s : strdup("");
  while (t->len && (s[t->len - 1] == '\n' || s[t->len - 1] == ' '))
    s[--t->len] = '\0';
  size_t lead = strspn(s, "\n");
  memmove(s, s + lead, strlen(s + lead) + 1);
  memset(t, 0, sizeof(*t));
  return s;
}

static void uv__add_step(struct learn_chapter *c, char *text, const char *command) {
  c->steps = realloc(c->steps, sizeof(*c->steps) * (size_t)(c->nsteps + 1));
  if (!c->steps)
    abort();
  c->steps[c->nsteps].text = text;
  c->steps[c->nsteps++].command = strdup(command);
}

/* The chapter as check_transcripts.py reads it: in a ```uvdb-session block,
 * each `$ ` line is a command and the lines after it its output (not needed
 * here: the command prints it again); outside, prose. */
static int uv__parse(const char *path, struct learn_chapter *c) {
  memset(c, 0, sizeof(*c));
  FILE *f = fopen(path, "r");
  if (!f)
    return uvdb_error("cannot read %s: %s", path, strerror(errno));
  struct text prose = {0};
  char *line = NULL;
  size_t cap = 0;
  int in_block = 0;
  while (getline(&line, &cap, f) > 0) {
    line[strcspn(line, "\n")] = '\0';
    const char *trim = line + strspn(line, " ");
    if (!in_block && strcmp(trim, "```uvdb-session") == 0) {
      in_block = 1;
    } else if (in_block && strcmp(trim, "```") == 0) {
      in_block = 0;
    } else if (in_block && strncmp(line, "$ ", 2) == 0) {
      uv__add_step(c, uv__take(&prose), line + 2);
    } else if (!in_block && !(strncmp(line, "# ", 2) == 0 && c->nsteps == 0 && !prose.s)) {
      uv__append(&prose, line); /* (the title, the first line, is printed apart) */
    }
  }
  free(line);
  fclose(f);
  c->closing = uv__take(&prose);
  return 0;
}

static void uv__free_chapter(struct learn_chapter *c) {
  for (int i = 0; i < c->nsteps; i++)
    free(c->steps[i].text), free(c->steps[i].command);
  free(c->steps);
  free(c->closing);
}

/* Words as a POSIX shell splits them, for the quoting the chapters use:
 * '...', "..." (with \" \\ \$ \` inside), and \ outside quotes.  Writes into
 * buf; -1 on an unterminated quote or too many words. */
static int uv__split_words(const char *line, char *buf, char **argv, int max) {
  int argc = 0;
  const char *p = line;
  char *o = buf;
  for (;;) {
    p += strspn(p, " \t");
    if (!*p)
      break;
    if (argc == max - 1)
      return -1;
    argv[argc++] = o;
    for (char q = 0; *p && (q || (*p != ' ' && *p != '\t')); p++) {
      if (!q && (*p == '\'' || *p == '"'))
        q = *p;
      else if (q && *p == q)
        q = 0;
      else if (*p == '\\' && q != '\'' && p[1] && (!q || strchr("\"\\$`", p[1])))
        *o++ = *++p;
      else
        *o++ = *p;
      if (!p[1] && q)
        return -1;
    }
    *o++ = '\0';
  }
  argv[argc] = NULL;
  return argc;
}

/* The chapters say `uvdb` for this uvdb and build/examples/NAME for a built
 * C example: make them the real paths. */
static char *uv__map_word(const struct learn_paths *p, const char *w, int first) {
  char *out = NULL;
  if (first && strcmp(w, "uvdb") == 0)
    out = strdup(p->self);
  else if (strncmp(w, "build/examples/", 15) == 0 && asprintf(&out, "%s/%s", p->cbin, w + 15) < 0)
    out = NULL;
  return out ? out : strdup(w);
}

/* Runs one step's command from the root, as the docs tests do.  Its exit
 * status, or -1 when it could not be started. */
static int uv__run_step(const struct learn_paths *p, const char *command) {
  char *buf = malloc(strlen(command) + 1), *words[256];
  int n = buf ? uv__split_words(command, buf, words, 256) : -1;
  if (n <= 0) {
    free(buf);
    return uvdb_error("cannot split the command: %s", command);
  }
  char *argv[256];
  for (int i = 0; i < n; i++)
    argv[i] = uv__map_word(p, words[i], i == 0);
  argv[n] = NULL;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(p->root) != 0)
      _exit(127);
    execvp(argv[0], argv);
    fprintf(stderr, "uvdb learn: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status = -1;
  while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  for (int i = 0; i < n; i++)
    free(argv[i]);
  free(buf);
  if (pid < 0)
    return uvdb_error("cannot fork: %s", strerror(errno));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Waits for Enter; 1 when the reader asks to stop (q, or end of input). */
static int uv__wait_enter(void) {
  char answer[64];
  printf("[Enter runs it, q quits] ");
  fflush(stdout);
  if (!fgets(answer, sizeof(answer), stdin)) {
    putchar('\n');
    return 1;
  }
  return answer[0] == 'q';
}

static int uv__run_chapter(const struct learn_paths *p, int n, int batch) {
  char path[4500];
  if (uv__find_chapter(p, n, path, sizeof(path)) != 0)
    return uvdb_error("chapter %d is not written yet (`uvdb learn` lists the chapters)", n);
  struct learn_chapter c;
  if (uv__parse(path, &c) != 0)
    return -1;
  char title[512];
  uv__title(path, title, sizeof(title));
  printf("%s\n(%s: %d step%s)\n", title, path, c.nsteps, c.nsteps == 1 ? "" : "s");
  int failed = 0, quit = 0;
  for (int i = 0; i < c.nsteps && !quit; i++) {
    const struct learn_step *s = &c.steps[i];
    printf("\n──── step %d of %d ────\n", i + 1, c.nsteps);
    if (s->text[0])
      printf("%s\n\n", s->text);
    printf("$ %s\n", s->command);
    if (!batch && (quit = uv__wait_enter()))
      break;
    if (uv__run_step(p, s->command) < 0)
      failed = 1;
  }
  if (!quit && c.closing[0])
    printf("\n──── end of the sessions ────\n%s\n", c.closing);
  uv__free_chapter(&c);
  return failed ? -1 : 0;
}

int cmd_learn_main(int argc, char **argv) {
  int batch = 0, chapter = 0;
  for (int i = 1; i < argc; i++) {
    char *end;
    long n = strtol(argv[i], &end, 10);
    if (strcmp(argv[i], "--batch") == 0 || strcmp(argv[i], "-batch") == 0)
      batch = 1;
    else if (!*end && n >= 1 && n <= 99 && !chapter)
      chapter = (int)n;
    else {
      fprintf(stderr, "usage: uvdb learn [N [--batch]]\n");
      return 2;
    }
  }
  struct learn_paths p;
  if (uv__find_paths(&p) != 0)
    return 1;
  int r = chapter ? uv__run_chapter(&p, chapter, batch) : uv__list(&p);
  return r < 0 ? 1 : 0;
}
