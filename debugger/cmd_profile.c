/* profile start|stop|report|export: the sampling profiler's commands, and
 * its exports (folded stacks, speedscope JSON, an interactive SVG
 * flamegraph). */
#define _GNU_SOURCE
#include "symbolize.h"
#include "uvdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *uv__role_root(const struct prof_rec *r, char *buf, size_t cap) {
  if (r->role == UVDB_ROLE_POOL)
    snprintf(buf, cap, "[threadpool]");
  else if (r->role == UVDB_ROLE_OTHER)
    snprintf(buf, cap, "[other threads]");
  else if (r->waiting)
    snprintf(buf, cap, "[waiting]"); /* not [idle]: that is the idle phase */
  else if (r->phase < UVDB_PHASE_COUNT)
    snprintf(buf, cap, "[%s]", phase_name(r->phase));
  else
    snprintf(buf, cap, "[outside the loop]");
  return buf;
}

/* One sample as "root;...;leaf" (root first), into a malloc'd string. */
static char *uv__folded_line(struct session *s, const struct prof_rec *r, int phase_roots) {
  size_t cap = 256, len = 0;
  char *out = malloc(cap), name[512];
  out[0] = '\0';
  if (phase_roots) {
    uv__role_root(r, name, sizeof(name));
    len = (size_t)snprintf(out, cap, "%s", name);
  }
  for (int k = r->n - 1; k >= 0; k--) {
    profile_frame_name(s, s->profile.pcs[r->off + (unsigned)k], k == 0, name, sizeof(name));
    for (char *c = name; *c; c++)
      if (*c == ';')
        *c = ':'; /* the separator */
    size_t need = len + strlen(name) + 2;
    if (need > cap) {
      cap = need * 2;
      out = realloc(out, cap);
    }
    len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ";" : "", name);
  }
  return out;
}

static int uv__by_string(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void profile_fold(struct session *s, int phase_roots, struct profile_folded *f) {
  const struct profile *p = &s->profile;
  char **all = malloc(sizeof(char *) * (p->nrecs ? p->nrecs : 1));
  struct out_progress pg; /* naming every frame of a large profile can take seconds */
  out_progress_begin(&pg, "symbolizing", "stacks", p->nrecs, 256);
  for (size_t i = 0; i < p->nrecs; i++) {
    out_progress(&pg, i);
    all[i] = uv__folded_line(s, &p->recs[i], phase_roots);
  }
  out_progress_end(&pg);
  qsort(all, p->nrecs, sizeof(char *), uv__by_string);
  f->line = malloc(sizeof(char *) * (p->nrecs ? p->nrecs : 1));
  f->count = malloc(sizeof(uint64_t) * (p->nrecs ? p->nrecs : 1));
  f->n = 0, f->total = p->nrecs;
  for (size_t i = 0; i < p->nrecs; i++) {
    if (f->n && strcmp(f->line[f->n - 1], all[i]) == 0) {
      f->count[f->n - 1]++;
      free(all[i]);
      continue;
    }
    f->line[f->n] = all[i];
    f->count[f->n++] = 1;
  }
  free(all);
}

void profile_unfold(struct profile_folded *f) {
  for (size_t i = 0; i < f->n; i++)
    free(f->line[i]);
  free(f->line);
  free(f->count);
}

static int uv__write_folded(FILE *out, const struct profile_folded *f) {
  for (size_t i = 0; i < f->n; i++)
    fprintf(out, "%s %llu\n", f->line[i], (unsigned long long)f->count[i]);
  return 0;
}

/* speedscope's "sampled" profile: a table of frames, each sample a list of
 * frame indexes from the root. */
static int uv__write_speedscope(FILE *out, const struct profile_folded *f, const char *title) {
  char **names = NULL;
  size_t nnames = 0;
  fprintf(out, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"exporter\":\"uvdb\","
               "\"name\":\"");
  json_fputs(out, title);
  fprintf(out, "\",\"activeProfileIndex\":0,\"profiles\":[{\"type\":\"sampled\",\"name\":\"");
  json_fputs(out, title);
  fprintf(out, "\",\"unit\":\"none\",\"startValue\":0,\"endValue\":%llu,\"samples\":[",
           (unsigned long long)f->total);
  for (size_t i = 0; i < f->n; i++) {
    fprintf(out, "%s[", i ? "," : "");
    char *line = strdup(f->line[i]), *save = NULL;
    int first = 1;
    for (char *name = strtok_r(line, ";", &save); name; name = strtok_r(NULL, ";", &save)) {
      size_t k = 0;
      while (k < nnames && strcmp(names[k], name) != 0)
        k++;
      if (k == nnames) {
        names = realloc(names, sizeof(char *) * (nnames + 1));
        names[nnames++] = strdup(name);
      }
      fprintf(out, "%s%zu", first ? "" : ",", k);
      first = 0;
    }
    free(line);
    fprintf(out, "]");
  }
  fprintf(out, "],\"weights\":[");
  for (size_t i = 0; i < f->n; i++)
    fprintf(out, "%s%llu", i ? "," : "", (unsigned long long)f->count[i]);
  fprintf(out, "]}],\"shared\":{\"frames\":[");
  for (size_t k = 0; k < nnames; k++) {
    fprintf(out, "%s{\"name\":\"", k ? "," : "");
    json_fputs(out, names[k]);
    fprintf(out, "\"}");
    free(names[k]);
  }
  free(names);
  fprintf(out, "]}}\n");
  return 0;
}

/* ---- the SVG flamegraph ---- */

struct uv__node {
  char *name;
  uint64_t count;
  struct uv__node *child, *next;
};

static struct uv__node *uv__child(struct uv__node *parent, const char *name) {
  for (struct uv__node *c = parent->child; c; c = c->next)
    if (strcmp(c->name, name) == 0)
      return c;
  struct uv__node *c = calloc(1, sizeof(*c));
  c->name = strdup(name);
  c->next = parent->child;
  parent->child = c;
  return c;
}

static int uv__depth(const struct uv__node *n) {
  int d = 0;
  for (const struct uv__node *c = n->child; c; c = c->next) {
    int cd = uv__depth(c);
    d = cd > d ? cd : d;
  }
  return d + 1;
}

static void uv__xml(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '<')
      fputs("&lt;", out);
    else if (*s == '>')
      fputs("&gt;", out);
    else if (*s == '&')
      fputs("&amp;", out);
    else if (*s == '"')
      fputs("&quot;", out);
    else
      fputc(*s, out);
  }
}

/* Warm colours for native code, green for JavaScript, grey for uvdb's roots. */
static void uv__colour(const char *name, char *buf, size_t cap) {
  unsigned h = 2166136261u;
  for (const char *c = name; *c; c++)
    h = (h ^ (unsigned char)*c) * 16777619u;
  if (name[0] == '[')
    snprintf(buf, cap, "rgb(190,190,190)");
  else if (strncmp(name, "JS:", 3) == 0)
    snprintf(buf, cap, "rgb(%u,%u,%u)", 60 + h % 60, 170 + h / 7 % 60, 60 + h / 13 % 50);
  else
    snprintf(buf, cap, "rgb(%u,%u,%u)", 205 + h % 50, 80 + h / 7 % 120, 40 + h / 13 % 40);
}

#define SVG_WIDTH 1200.0
#define SVG_ROW 16

static void uv__svg_node(FILE *out, const struct uv__node *n, double x, int depth, int height, uint64_t total) {
  double w = SVG_WIDTH * (double)n->count / (double)total;
  if (depth >= 0 && w >= 0.1) {
    char colour[32];
    uv__colour(n->name, colour, sizeof(colour));
    double y = height - (depth + 1) * SVG_ROW;
    fprintf(out, "<g class=\"f\" data-x=\"%.3f\" data-w=\"%.3f\" data-d=\"%d\"><title>", x, w, depth);
    uv__xml(out, n->name);
    fprintf(out, " (%llu samples, %.2f%%)</title><rect x=\"%.3f\" y=\"%.1f\" width=\"%.3f\" height=\"%d\" "
                 "fill=\"%s\" rx=\"2\"/><text x=\"%.3f\" y=\"%.1f\">",
            (unsigned long long)n->count, 100.0 * (double)n->count / (double)total, x, y, w, SVG_ROW - 1, colour,
            x + 3, y + SVG_ROW - 4);
    uv__xml(out, n->name);
    fprintf(out, "</text></g>\n");
  }
  double cx = x;
  for (const struct uv__node *c = n->child; c; c = c->next) {
    uv__svg_node(out, c, cx, depth + 1, height, total);
    cx += SVG_WIDTH * (double)c->count / (double)total;
  }
}

static void uv__free_tree(struct uv__node *n) {
  for (struct uv__node *c = n->child, *next; c; c = next) {
    next = c->next;
    uv__free_tree(c);
  }
  free(n->name);
  free(n);
}

/* Self-contained: hover names a frame, a click zooms into it (a lower
 * frame zooms out), and the search box highlights every frame whose name
 * holds the text.  Zoomed, only the frame's ancestors (full width) and
 * what it called (scaled) stay: other frames below it would cover its
 * ancestors.  Positions are printed to 0.001, so containment allows 0.01
 * (a drawn frame is at least 0.1 wide).  A frame's name is its tooltip
 * without the " (N samples, P%)" that ends it, which a search must not match. */
static const char uv__svg_script[] =
    "<script><![CDATA[\n"
    "var W=1200,E=0.01;function all(){return document.querySelectorAll('g.f');}\n"
    "function fit(g){var t=g.querySelector('text'),r=g.querySelector('rect'),w=+r.getAttribute('width');"
    "var n=t.getAttribute('data-n')||t.textContent;t.setAttribute('data-n',n);"
    "var c=Math.floor((w-6)/7);t.textContent=c<3?'':(n.length>c?n.slice(0,c-2)+'..':n);}\n"
    "function zoom(g){var x0=+g.getAttribute('data-x'),w0=+g.getAttribute('data-w'),d0=+g.getAttribute('data-d');"
    "all().forEach(function(e){var x=+e.getAttribute('data-x'),w=+e.getAttribute('data-w'),d=+e.getAttribute('data-d');"
    "var r=e.querySelector('rect'),t=e.querySelector('text'),up=d<d0&&x<=x0+E&&x+w>=x0+w0-E,"
    "in_=d>=d0&&x>=x0-E&&x+w<=x0+w0+E;"
    "if(up||in_){var nx=up?0:(x-x0)*W/w0,nw=up?W:w*W/w0;r.setAttribute('x',nx);r.setAttribute('width',nw);"
    "t.setAttribute('x',nx+3);e.style.display='';fit(e);}else e.style.display='none';});}\n"
    "function reset(){all().forEach(function(e){var r=e.querySelector('rect'),t=e.querySelector('text');"
    "var x=+e.getAttribute('data-x');r.setAttribute('x',x);r.setAttribute('width',e.getAttribute('data-w'));"
    "t.setAttribute('x',x+3);e.style.display='';fit(e);});}\n"
    "function search(){var q=prompt('Highlight frames whose name contains:');all().forEach(function(e){"
    "var r=e.querySelector('rect');if(!r.getAttribute('data-fill'))r.setAttribute('data-fill',r.getAttribute('fill'));"
    "var n=e.querySelector('title').textContent;n=n.slice(0,n.lastIndexOf(' ('));"
    "r.setAttribute('fill',q&&n.indexOf(q)>=0?'rgb(230,0,230)':r.getAttribute('data-fill'));});}\n"
    "window.addEventListener('load',function(){all().forEach(function(e){fit(e);"
    "e.addEventListener('click',function(){zoom(e);});});});\n"
    "]]></script>\n";

static int uv__write_svg(FILE *out, const struct profile_folded *f, const char *title) {
  struct uv__node *root = calloc(1, sizeof(*root));
  root->name = strdup("all");
  for (size_t i = 0; i < f->n; i++) {
    char *line = strdup(f->line[i]), *save = NULL;
    struct uv__node *n = root;
    n->count += f->count[i];
    for (char *name = strtok_r(line, ";", &save); name; name = strtok_r(NULL, ";", &save)) {
      n = uv__child(n, name);
      n->count += f->count[i];
    }
    free(line);
  }
  int depth = uv__depth(root), height = (depth + 1) * SVG_ROW + 40;
  fprintf(out, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
               "<svg version=\"1.1\" width=\"%d\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\" "
               "font-family=\"monospace\" font-size=\"11\">\n<style>text{pointer-events:none}"
               "g.f:hover rect{stroke:black;stroke-width:0.5}g.f{cursor:pointer}</style>\n%s",
          (int)SVG_WIDTH, height, uv__svg_script);
  fprintf(out, "<text x=\"4\" y=\"16\" font-size=\"14\">");
  uv__xml(out, title);
  fprintf(out, " (%llu samples)</text>\n<text x=\"%d\" y=\"16\" onclick=\"search()\" style=\"cursor:pointer;"
               "pointer-events:all\">[search]</text><text x=\"%d\" y=\"16\" onclick=\"reset()\" "
               "style=\"cursor:pointer;pointer-events:all\">[reset zoom]</text>\n",
          (unsigned long long)f->total, (int)SVG_WIDTH - 180, (int)SVG_WIDTH - 100);
  uv__svg_node(out, root, 0, 0, height - 4, f->total ? f->total : 1);
  fprintf(out, "</svg>\n");
  uv__free_tree(root);
  return 0;
}

/* ---- the commands ---- */

static int uv__profile_start(struct session *s, int argc, char **argv) {
  long hz = 99;
  int wall = 0;
  uint32_t threads = UVDB_PROFILE_LOOPS;
  for (int i = 1; i < argc; i++) {
    char *end = NULL;
    if (strcmp(argv[i], "--hz") == 0 && i + 1 < argc) {
      hz = strtol(argv[++i], &end, 10);
      if (*end || hz < 1 || hz > 10000)
        return uvdb_error("--hz takes 1 to 10000 samples a second, not \"%s\"", argv[i]);
    } else if (strcmp(argv[i], "--clock") == 0 && i + 1 < argc) {
      i++;
      if (strcmp(argv[i], "cpu") != 0 && strcmp(argv[i], "wall") != 0)
        return uvdb_error("--clock is cpu (time on the CPU) or wall (all time, waits too), not \"%s\"", argv[i]);
      wall = strcmp(argv[i], "wall") == 0;
    } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      i++;
      if (strcmp(argv[i], "loop") == 0)
        threads = UVDB_PROFILE_LOOPS;
      else if (strcmp(argv[i], "pool") == 0)
        threads = UVDB_PROFILE_POOL;
      else if (strcmp(argv[i], "all") == 0)
        threads = UVDB_PROFILE_LOOPS | UVDB_PROFILE_POOL | UVDB_PROFILE_OTHER;
      else
        return uvdb_error("--threads is loop, pool or all (every thread of the process), not \"%s\"", argv[i]);
    } else {
      return uvdb_error("usage: profile start [--hz N] [--clock cpu|wall] [--threads loop|pool|all]");
    }
  }
  if (profile_start(s, 1000000000ull / (uint64_t)hz, wall, threads) != 0)
    return -1;
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "profile_start");
    json_int(j, "hz", hz);
    json_str(j, "clock", wall ? "wall" : "cpu");
    json_str(j, "threads", threads == UVDB_PROFILE_LOOPS ? "loop" : threads == UVDB_PROFILE_POOL ? "pool" : "all");
    json_bool(j, "from_start", s->profile.armed);
    json_end(j);
  } else {
    printf("Profiling %s at %ld Hz of %s time%s.\n",
           threads == UVDB_PROFILE_LOOPS ? "the loops" : threads == UVDB_PROFILE_POOL ? "the pool" : "every thread",
           hz, wall ? "wall" : "CPU", s->profile.armed ? ", from the program's start" : "");
  }
  return 0;
}

static int uv__profile_stop(struct session *s, int argc, char **argv) {
  (void)argc, (void)argv;
  if (profile_stop(s) != 0)
    return -1;
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "profile_stop");
    json_uint(j, "samples", s->profile.nrecs);
    json_uint(j, "lost", s->profile.lost);
    json_end(j);
  } else {
    printf("%zu samples%s.\n", s->profile.nrecs, s->profile.lost ? " (some lost: the profiler fell behind)" : "");
  }
  return 0;
}

struct uv__fn_count {
  char *name;
  char *source; /* "file.c:LINE" where DWARF says it begins, or NULL */
  uint64_t self, total;
};

/* The report's functions by name: an open-addressed table of indexes into
 * the array, so 100k deep samples cost a hash a frame, not a scan. */
struct uv__fn_table {
  struct uv__fn_count *fn;
  size_t n, cap;
  uint32_t *slot; /* index + 1; 0 is empty */
  size_t nslots;  /* a power of two, at least twice n */
};

static uint64_t uv__hash(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  while (*s)
    h = (h ^ (unsigned char)*s++) * 1099511628211ull;
  return h;
}

static int uv__fn_grow(struct uv__fn_table *t) {
  size_t nslots = t->nslots ? t->nslots * 2 : 1024;
  uint32_t *slot = calloc(nslots, sizeof(*slot));
  if (!slot)
    return -1;
  for (size_t i = 0; i < t->n; i++) {
    size_t k = uv__hash(t->fn[i].name) & (nslots - 1);
    while (slot[k])
      k = (k + 1) & (nslots - 1);
    slot[k] = (uint32_t)i + 1;
  }
  free(t->slot);
  t->slot = slot, t->nslots = nslots;
  return 0;
}

/* Addresses already named: most frames of a profile repeat, so each
 * distinct (adjusted) pc is symbolized once.  -1: not cached. */
struct uv__pc_cache {
  uint64_t *key; /* pc + 1; 0 is empty */
  uint32_t *fn;
  size_t n, nslots;
};

static long uv__pc_get(const struct uv__pc_cache *c, uint64_t pc) {
  for (size_t k = c->nslots ? (pc * 0x9e3779b97f4a7c15ull) >> 40 & (c->nslots - 1) : 0; c->nslots && c->key[k];
       k = (k + 1) & (c->nslots - 1))
    if (c->key[k] == pc + 1)
      return c->fn[k];
  return -1;
}

static void uv__pc_put(struct uv__pc_cache *c, uint64_t pc, uint32_t fn) {
  if ((c->n + 1) * 2 > c->nslots) {
    size_t nslots = c->nslots ? c->nslots * 2 : 4096;
    uint64_t *key = calloc(nslots, sizeof(*key));
    uint32_t *val = calloc(nslots, sizeof(*val));
    if (!key || !val) {
      free(key), free(val);
      return; /* uncached: named again next time */
    }
    for (size_t i = 0; i < c->nslots; i++)
      if (c->key[i]) {
        size_t k = ((c->key[i] - 1) * 0x9e3779b97f4a7c15ull) >> 40 & (nslots - 1);
        while (key[k])
          k = (k + 1) & (nslots - 1);
        key[k] = c->key[i], val[k] = c->fn[i];
      }
    free(c->key), free(c->fn);
    c->key = key, c->fn = val, c->nslots = nslots;
  }
  size_t k = (pc * 0x9e3779b97f4a7c15ull) >> 40 & (c->nslots - 1);
  while (c->key[k])
    k = (k + 1) & (c->nslots - 1);
  c->key[k] = pc + 1, c->fn[k] = fn;
  c->n++;
}

/* The function named so, added (with its source, asked of pc) if new; -1 out of memory. */
static long uv__fn_find(struct session *s, struct uv__fn_table *t, const char *name, uint64_t pc) {
  if ((t->n + 1) * 2 > t->nslots && uv__fn_grow(t) != 0)
    return -1;
  size_t k = uv__hash(name) & (t->nslots - 1);
  for (; t->slot[k]; k = (k + 1) & (t->nslots - 1))
    if (strcmp(t->fn[t->slot[k] - 1].name, name) == 0)
      return t->slot[k] - 1;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    struct uv__fn_count *fn = realloc(t->fn, cap * sizeof(*fn));
    if (!fn)
      return -1;
    t->fn = fn, t->cap = cap;
  }
  char src[512];
  const char *source = strncmp(name, "JS:", 3) && strcmp(name, "[jit]")
                           ? symbolize_source(session_symbolizer(s), pc, src, sizeof(src)) : NULL;
  t->fn[t->n] = (struct uv__fn_count){strdup(name), source ? strdup(source) : NULL, 0, 0};
  t->slot[k] = (uint32_t)t->n + 1;
  return (long)t->n++;
}

static int uv__by_self(const void *a, const void *b) {
  const struct uv__fn_count *x = a, *y = b;
  return x->self < y->self ? 1 : x->self > y->self ? -1 : (x->total < y->total) - (x->total > y->total);
}

static int uv__profile_report(struct session *s, int argc, char **argv) {
  long top = 20;
  if (argc == 3 && strcmp(argv[1], "--top") == 0) {
    char *end;
    top = strtol(argv[2], &end, 10);
    if (*end || top < 1)
      return uvdb_error("--top takes a count of 1 or more");
  } else if (argc != 1) {
    return uvdb_error("usage: profile report [--top N]");
  }
  struct profile *p = &s->profile;
  profile_collect(s);
  if (!p->nrecs)
    return uvdb_error(p->active || p->armed ? "no samples yet" : "no profile: profile start, then run");
  /* by function: self (innermost) and total (anywhere in the stack, once) */
  struct uv__fn_table table = {0};
  struct uv__pc_cache cache = {0};
  uint64_t by_phase[UVDB_PHASE_COUNT + 4] = {0}; /* phases, then waiting, pool, outside, other threads */
  struct out_progress pg;
  out_progress_begin(&pg, "symbolizing", "stacks", p->nrecs, 256);
  for (size_t i = 0; i < p->nrecs; i++) {
    out_progress(&pg, i);
    const struct prof_rec *r = &p->recs[i];
    by_phase[r->role == UVDB_ROLE_OTHER ? UVDB_PHASE_COUNT + 3
             : r->role == UVDB_ROLE_POOL ? UVDB_PHASE_COUNT + 1
             : r->waiting            ? UVDB_PHASE_COUNT
             : r->phase < UVDB_PHASE_COUNT ? r->phase
                                           : UVDB_PHASE_COUNT + 2]++;
    char name[512];
    size_t marks[256];
    int nmarks = 0;
    for (int k = 0; k < r->n; k++) {
      uint64_t pc = p->pcs[r->off + (unsigned)k], at = k == 0 ? pc : pc - 1; /* a return address: its call */
      long fi = uv__pc_get(&cache, at);
      if (fi < 0) {
        profile_frame_name(s, pc, k == 0, name, sizeof(name));
        fi = uv__fn_find(s, &table, name, at);
        if (fi < 0)
          break; /* out of memory: this sample's outer frames go uncounted */
        uv__pc_put(&cache, at, (uint32_t)fi);
      }
      size_t f = (size_t)fi;
      struct uv__fn_count *fn = table.fn;
      if (k == 0)
        fn[f].self++;
      int dup = 0;
      for (int m = 0; m < nmarks; m++)
        dup |= marks[m] == f;
      if (!dup && nmarks < 256) {
        marks[nmarks++] = f;
        fn[f].total++;
      }
    }
  }
  out_progress_end(&pg);
  struct uv__fn_count *fn = table.fn;
  size_t nfn = table.n;
  free(table.slot);
  free(cache.key), free(cache.fn);
  qsort(fn, nfn, sizeof(*fn), uv__by_self);
  double n = (double)p->nrecs;
  static const char *const extra[] = {"waiting", "threadpool", "outside the loop", "other threads"};
  struct json *j = NULL;
  if (uvdb_json_mode) {
    j = json_begin();
    json_obj(j, "profile_report");
    json_uint(j, "samples", p->nrecs);
    json_uint(j, "lost", p->lost);
    json_obj(j, "by_phase");
    for (int ph = 0; ph < UVDB_PHASE_COUNT + 4; ph++)
      if (by_phase[ph])
        json_uint(j, ph < UVDB_PHASE_COUNT ? phase_name(ph) : extra[ph - UVDB_PHASE_COUNT], by_phase[ph]);
    json_close(j);
    json_arr(j, "functions");
  } else {
    printf("%zu samples; by phase:", p->nrecs);
    for (int ph = 0; ph < UVDB_PHASE_COUNT + 4; ph++)
      if (by_phase[ph])
        printf(" %s %.1f%%", ph < UVDB_PHASE_COUNT ? phase_name(ph) : extra[ph - UVDB_PHASE_COUNT],
               100.0 * (double)by_phase[ph] / n);
    printf("\n%8s %8s  %s\n", "self%", "total%", "function");
  }
  for (size_t f = 0; f < nfn && (long)f < top; f++) {
    if (j) {
      json_obj(j, NULL);
      json_str(j, "function", fn[f].name);
      fn[f].source ? json_str(j, "source", fn[f].source) : json_null(j, "source");
      json_uint(j, "self", fn[f].self);
      json_uint(j, "total", fn[f].total);
      json_close(j);
    } else {
      printf("%7.2f%% %7.2f%%  %s%s%s%s\n", 100.0 * (double)fn[f].self / n, 100.0 * (double)fn[f].total / n,
             fn[f].name, fn[f].source ? " (" : "", fn[f].source ? fn[f].source : "", fn[f].source ? ")" : "");
    }
  }
  if (j)
    json_end(j);
  for (size_t f = 0; f < nfn; f++) {
    free(fn[f].name);
    free(fn[f].source);
  }
  free(fn);
  return 0;
}

/* The export itself, for `profile export` and `uvdb report`: written to
 * FILE.tmp, then renamed, so a failed write leaves no file that looks
 * complete. */
int profile_export_file(struct session *s, const char *path, const char *format, int phase_roots,
                        uint64_t *samples, size_t *stacks) {
  if (strcmp(format, "folded") != 0 && strcmp(format, "svg") != 0 && strcmp(format, "speedscope") != 0 &&
      strcmp(format, "pprof") != 0)
    return uvdb_error("no format \"%s\": folded, svg, speedscope or pprof", format);
  profile_collect(s);
  if (!s->profile.nrecs)
    return uvdb_error("no samples to export (profile start, then run)");
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  FILE *out = fopen(tmp, "w");
  if (!out)
    return uvdb_error("cannot write %s: %s", path, strerror(errno));
  struct profile_folded f;
  profile_fold(s, phase_roots, &f);
  char title[300];
  snprintf(title, sizeof(title), "uvdb profile of %s", s->argv && s->argv[0] ? s->argv[0] : "the program");
  if (strcmp(format, "folded") == 0)
    uv__write_folded(out, &f);
  else if (strcmp(format, "svg") == 0)
    uv__write_svg(out, &f, title);
  else if (strcmp(format, "pprof") == 0)
    pprof_write(out, f.line, f.count, f.n, s->profile.period_ns, s->profile.wall);
  else
    uv__write_speedscope(out, &f, title);
  int failed = ferror(out) | (fclose(out) != 0);
  *stacks = f.n;
  *samples = f.total;
  profile_unfold(&f);
  if (failed || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return uvdb_error("cannot write %s: %s", path, strerror(e ? e : EIO));
  }
  return 0;
}

/* profile export FILE --format folded|svg|speedscope|pprof [--phase-roots] */
static int uv__profile_export(struct session *s, int argc, char **argv) {
  const char *usage = "usage: profile export FILE --format folded|svg|speedscope|pprof [--phase-roots]";
  if (argc < 4 || strcmp(argv[2], "--format") != 0)
    return uvdb_error("%s", usage);
  int phase_roots = argc == 5 && strcmp(argv[4], "--phase-roots") == 0;
  if (argc > 5 || (argc == 5 && !phase_roots))
    return uvdb_error("%s", usage);
  const char *format = argv[3];
  uint64_t total;
  size_t stacks;
  if (profile_export_file(s, argv[1], format, phase_roots, &total, &stacks) != 0)
    return -1;
  if (uvdb_json_mode) {
    struct json *j = json_begin();
    json_obj(j, "profile_export");
    json_str(j, "file", argv[1]);
    json_str(j, "format", format);
    json_uint(j, "samples", total);
    json_uint(j, "stacks", stacks);
    json_end(j);
  } else {
    printf("Wrote %s: %llu samples in %zu distinct stacks (%s).\n", argv[1], (unsigned long long)total, stacks,
           format);
  }
  return 0;
}

static const struct uvdb_command uv__profile_commands[] = {
    {"start", uv__profile_start, "profile start [--hz N] [--clock cpu|wall] [--threads loop|pool|all]",
     "Sample stacks (before `run`: from the program's start).", NULL},
    {"stop", uv__profile_stop, "profile stop", "Stop sampling; the samples stay.", NULL},
    {"report", uv__profile_report, "profile report [--top N]", "Self and total time by function, and by phase.",
     NULL},
    {"export", uv__profile_export, "profile export FILE --format folded|svg|speedscope|pprof [--phase-roots]",
     "Write the samples: folded stacks, an interactive SVG flamegraph, speedscope JSON or pprof.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

int cmd_profile(struct session *s, int argc, char **argv) {
  return uvdb_dispatch(s, uv__profile_commands, "profile", argc - 1, argv + 1);
}
