/* The bench's loopback load generator (libuv): CONNECTIONS connections to
 * each of one to four servers on 127.0.0.1 (--port, once for each), each
 * connection in a closed loop (send one request, wait for the whole answer,
 * send the next): echo bytes (bench/echo_server.c) or minimal HTTP/1.1
 * keep-alive GETs (bench/http_server.js).  After WARMUP answers from each
 * server it times REQUESTS more from each, in SLICES slices taking turns
 * between the servers (A, B, C, A, B, C, ...; a slice ends when its last
 * answer is in), so that all see the same moments of a shared machine.  Each answer's
 * latency by uv_hrtime.  Prints one line per server: requests_per_s=...
 * p50_us=... p99_us=... over all its slices, and slice_... the medians of
 * its slices' figures, which a burst of other work moves less.  Bounded: it
 * gives up (exit 1) after --timeout seconds, or if a server cannot be
 * reached in --connect-timeout seconds.  With --hold it goes on after the
 * timed answers, untimed, until SIGUSR1 (then held=ANSWERS): load that
 * lasts exactly as long as a test needs it, however slow the machine. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define MAX_SIDES 4
#define MAX_CONNECTIONS 1024
#define MAX_SLICES 100
#define MAX_ECHO_SIZE 4096
#define ANSWER_BUFFER_SIZE 16384
#define RETRY_MS 20

enum mode { MODE_ECHO, MODE_HTTP };

struct side;

struct connection {
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_write_t write_req;
  uv_timer_t retry_timer;
  struct side *side;
  uint64_t sent_at;
  size_t have; /* bytes of the current answer received so far */
  char answer[ANSWER_BUFFER_SIZE];
};

/* One server and what was measured of it. */
struct side {
  int port;
  struct sockaddr_in addr;
  struct connection *conns;
  uint64_t *latencies; /* ns, of its timed answers, slice after slice */
  long timed;
  uint64_t busy_ns; /* the sum of its timed slices' durations */
  double slice_rate[MAX_SLICES], slice_p50[MAX_SLICES], slice_p99[MAX_SLICES];
  int slices_done;
};

/* The slice under way: COUNT requests to one server. */
static struct {
  struct side *side;
  long count, issued, answered;
  int timed, held; /* held: a --hold slice, after the timed ones */
  uint64_t began;
} slice;

static struct {
  enum mode mode;
  int sides, connections, slices;
  long requests, warmup;
  size_t echo_size;
  double timeout_s, connect_timeout_s;
  int hold;
} opt = {MODE_ECHO, 0, 32, 20, 200000, 20000, 64, 120, 15, 0};

static struct side sides[MAX_SIDES];
static uv_timer_t deadline;
static uv_signal_t release; /* --hold: SIGUSR1 ends the held load */
static int released;
static long held;
static char request[MAX_SIDES][MAX_ECHO_SIZE];
static size_t request_len[MAX_SIDES];
static uint64_t started_at;
static long connected, answered, slices_started;

static void connect_one(struct connection *c);
static void start_next_slice(void);

static void fail(const char *what, const char *why) {
  fprintf(stderr, "loadgen: %s: %s (%ld answers)\n", what, why, answered);
  exit(1);
}

static int compare_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void sort_u64(uint64_t *v, long n) {
  qsort(v, (size_t)n, sizeof *v, compare_u64);
}

/* The p-th percentile of n sorted latencies, in microseconds. */
static double percentile_us(const uint64_t *ns, long n, double p) {
  return (double)ns[(long)(p * (double)(n - 1) + 0.5)] / 1e3;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, compare_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void report(const struct side *s) {
  long n = s->timed;
  double seconds = (double)s->busy_ns / 1e9;
  double rate[MAX_SLICES], p50[MAX_SLICES], p99[MAX_SLICES];
  memcpy(rate, s->slice_rate, sizeof rate);
  memcpy(p50, s->slice_p50, sizeof p50);
  memcpy(p99, s->slice_p99, sizeof p99);
  sort_u64(s->latencies, n);
  printf("loadgen port=%d mode=%s connections=%d requests=%ld seconds=%.3f requests_per_s=%.1f p50_us=%.1f "
         "p90_us=%.1f p99_us=%.1f max_us=%.1f slices=%d slice_requests_per_s=%.1f slice_p50_us=%.1f "
         "slice_p99_us=%.1f held=%ld\n",
         s->port, opt.mode == MODE_ECHO ? "echo" : "http", opt.connections, n, seconds, (double)n / seconds,
         percentile_us(s->latencies, n, 0.50), percentile_us(s->latencies, n, 0.90),
         percentile_us(s->latencies, n, 0.99), (double)s->latencies[n - 1] / 1e3, s->slices_done,
         median(rate, s->slices_done), median(p50, s->slices_done), median(p99, s->slices_done), held);
}

static void finish(void) {
  for (int k = 0; k < opt.sides; k++)
    for (int i = 0; i < opt.connections; i++)
      uv_close((uv_handle_t *)&sides[k].conns[i].tcp, NULL);
  uv_close((uv_handle_t *)&deadline, NULL);
  if (opt.hold)
    uv_close((uv_handle_t *)&release, NULL);
  for (int k = 0; k < opt.sides; k++)
    report(&sides[k]);
  fflush(stdout);
}

static void on_written(uv_write_t *req, int status) {
  (void)req;
  if (status < 0)
    fail("write", uv_strerror(status));
}

static void send_request(struct connection *c) {
  if (slice.issued == slice.count)
    return; /* this connection waits for the next slice of its server */
  slice.issued++;
  c->have = 0;
  c->sent_at = uv_hrtime();
  int k = (int)(c->side - sides);
  uv_buf_t buf = uv_buf_init(request[k], (unsigned)request_len[k]);
  int r = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
  if (r < 0)
    fail("write", uv_strerror(r));
}

static void end_slice(uint64_t now) {
  struct side *s = slice.side;
  if (slice.timed) {
    uint64_t took = now - slice.began;
    s->busy_ns += took;
    uint64_t *mine = malloc((size_t)slice.count * sizeof *mine);
    if (!mine)
      fail("memory", "no room for a slice");
    memcpy(mine, s->latencies + s->timed - slice.count, (size_t)slice.count * sizeof *mine);
    sort_u64(mine, slice.count);
    s->slice_rate[s->slices_done] = (double)slice.count / ((double)took / 1e9);
    s->slice_p50[s->slices_done] = percentile_us(mine, slice.count, 0.50);
    s->slice_p99[s->slices_done] = percentile_us(mine, slice.count, 0.99);
    s->slices_done++;
    free(mine);
  }
  start_next_slice();
}

/* Warm-up slices first (one per server), then the timed ones in turn, then
 * (--hold) untimed ones the same size until released. */
static void start_next_slice(void) {
  long warmups = opt.warmup > 0 ? opt.sides : 0, n = slices_started++;
  long timed_end = warmups + (long)opt.slices * opt.sides;
  if (n >= timed_end && (!opt.hold || released)) {
    finish();
    return;
  }
  slice.timed = n >= warmups && n < timed_end;
  slice.held = n >= timed_end;
  slice.side = &sides[n >= warmups ? (n - warmups) % opt.sides : n];
  slice.count = n >= warmups ? opt.requests / opt.slices : opt.warmup;
  slice.issued = slice.answered = 0;
  slice.began = uv_hrtime();
  for (int i = 0; i < opt.connections; i++)
    send_request(&slice.side->conns[i]);
}

/* The length of a whole HTTP answer at the start of the buffer, 0 while it
 * is incomplete. */
static size_t http_answer_length(const char *a, size_t n) {
  const char *end = memmem(a, n, "\r\n\r\n", 4);
  if (!end)
    return 0;
  size_t head = (size_t)(end - a) + 4;
  if (n < 12 || memcmp(a, "HTTP/1.1 200", 12) != 0)
    fail("answer", "not HTTP/1.1 200");
  for (const char *line = memchr(a, '\n', head); line && line < end; line = memchr(line, '\n', (size_t)(end - line))) {
    line++;
    if (strncasecmp(line, "content-length:", 15) == 0) {
      size_t body = strtoul(line + 15, NULL, 10);
      return n >= head + body ? head + body : 0;
    }
  }
  fail("answer", "no Content-Length");
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  struct connection *c = h->data;
  if (c->have == sizeof c->answer)
    fail("answer", "longer than the buffer");
  *buf = uv_buf_init(c->answer + c->have, (unsigned)(sizeof c->answer - c->have));
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  struct connection *c = stream->data;
  if (n < 0)
    fail("read", n == UV_EOF ? "the server closed a connection" : uv_strerror((int)n));
  c->have += (size_t)n;
  size_t whole = opt.mode == MODE_ECHO ? (c->have >= opt.echo_size ? opt.echo_size : 0)
                                       : http_answer_length(c->answer, c->have);
  if (!whole)
    return;
  if (c->have != whole || c->side != slice.side)
    fail("answer", "bytes nobody asked for");
  uint64_t now = uv_hrtime();
  answered++;
  held += slice.held;
  if (slice.timed)
    c->side->latencies[c->side->timed++] = now - c->sent_at;
  if (++slice.answered == slice.count)
    end_slice(now);
  else
    send_request(c);
}

static void on_retry(uv_timer_t *t) {
  connect_one(t->data);
}

static void on_closed_for_retry(uv_handle_t *h) {
  struct connection *c = h->data;
  uv_timer_start(&c->retry_timer, on_retry, RETRY_MS, 0);
}

static void on_connect(uv_connect_t *req, int status) {
  struct connection *c = req->data;
  if (status < 0) {
    /* The server may still be starting (under uvdb it takes longer). */
    if ((double)(uv_hrtime() - started_at) / 1e9 > opt.connect_timeout_s)
      fail("connect", uv_strerror(status));
    uv_close((uv_handle_t *)&c->tcp, on_closed_for_retry);
    return;
  }
  uv_close((uv_handle_t *)&c->retry_timer, NULL);
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (++connected == (long)opt.connections * opt.sides)
    start_next_slice();
}

static void connect_one(struct connection *c) {
  uv_tcp_init(uv_default_loop(), &c->tcp);
  c->tcp.data = c;
  c->connect_req.data = c;
  int r = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&c->side->addr, on_connect);
  if (r < 0)
    fail("connect", uv_strerror(r));
}

static void on_deadline(uv_timer_t *t) {
  (void)t;
  fail("timeout", connected < (long)opt.connections * opt.sides ? "not every connection was made"
                                                                 : "the load did not finish");
}

static void on_release(uv_signal_t *h, int signum) {
  (void)signum;
  released = 1; /* the slice under way ends with its last answer */
  uv_signal_stop(h);
}

static void usage(void) {
  fprintf(stderr, "usage: loadgen --mode echo|http --port PORT [--port PORT ... (up to %d)] [--connections N (1..%d)] "
                  "[--requests N] [--warmup N] [--slices N (1..%d, at most REQUESTS/100)] "
                  "[--size BYTES (echo, 1..%d)] [--timeout S] [--connect-timeout S] [--hold 0|1]\n",
          MAX_SIDES, MAX_CONNECTIONS, MAX_SLICES, MAX_ECHO_SIZE);
  exit(2);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      usage();
    i++;
    if (!strcmp(a, "--mode") && (!strcmp(v, "echo") || !strcmp(v, "http")))
      opt.mode = !strcmp(v, "echo") ? MODE_ECHO : MODE_HTTP;
    else if (!strcmp(a, "--port") && opt.sides < MAX_SIDES)
      sides[opt.sides++].port = atoi(v);
    else if (!strcmp(a, "--connections"))
      opt.connections = atoi(v);
    else if (!strcmp(a, "--requests"))
      opt.requests = atol(v);
    else if (!strcmp(a, "--warmup"))
      opt.warmup = atol(v);
    else if (!strcmp(a, "--slices"))
      opt.slices = atoi(v);
    else if (!strcmp(a, "--size"))
      opt.echo_size = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--timeout"))
      opt.timeout_s = atof(v);
    else if (!strcmp(a, "--connect-timeout"))
      opt.connect_timeout_s = atof(v);
    else if (!strcmp(a, "--hold") && (!strcmp(v, "0") || !strcmp(v, "1")))
      opt.hold = v[0] == '1';
    else
      usage();
  }
  if (opt.sides < 1 || opt.connections < 1 || opt.connections > MAX_CONNECTIONS || opt.slices < 1 ||
      opt.slices > MAX_SLICES || opt.requests / opt.slices < 100 || opt.warmup < 0 || opt.echo_size < 1 ||
      opt.echo_size > MAX_ECHO_SIZE || !(opt.timeout_s > 0) || !(opt.connect_timeout_s > 0))
    usage();
  uv_loop_t *loop = uv_default_loop();
  for (int k = 0; k < opt.sides; k++) {
    struct side *s = &sides[k];
    if (s->port < 1 || s->port > 65535)
      usage();
    if (opt.mode == MODE_ECHO) {
      for (size_t i = 0; i < opt.echo_size; i++)
        request[k][i] = (char)('a' + i % 26);
      request_len[k] = opt.echo_size;
    } else {
      request_len[k] = (size_t)snprintf(request[k], sizeof request[k],
                                        "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: keep-alive\r\n\r\n",
                                        s->port);
    }
    uv_ip4_addr("127.0.0.1", s->port, &s->addr);
    s->conns = calloc((size_t)opt.connections, sizeof *s->conns);
    s->latencies = malloc((size_t)opt.requests * sizeof *s->latencies);
    if (!s->conns || !s->latencies)
      fail("memory", "no room for the connections and latencies");
  }
  if (opt.hold) {
    uv_signal_init(loop, &release);
    uv_signal_start(&release, on_release, SIGUSR1);
  }
  uv_timer_init(loop, &deadline);
  uv_timer_start(&deadline, on_deadline, (uint64_t)(opt.timeout_s * 1e3), 0);
  started_at = uv_hrtime();
  for (int k = 0; k < opt.sides; k++)
    for (int i = 0; i < opt.connections; i++) {
      struct connection *c = &sides[k].conns[i];
      c->side = &sides[k];
      uv_timer_init(loop, &c->retry_timer);
      c->retry_timer.data = c;
      connect_one(c);
    }
  uv_run(loop, UV_RUN_DEFAULT);
  for (int k = 0; k < opt.sides; k++) {
    free(sides[k].conns);
    free(sides[k].latencies);
  }
  return 0;
}
