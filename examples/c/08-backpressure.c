/* Chapter 8: backpressure in libuv itself.  A producer writes 32 MiB in
 * 64 KiB chunks over loopback TCP to a consumer in the same process that
 * reads 256 KiB, then pauses for 1 ms (uv_read_stop, a timer, uv_read_start).
 * By default the producer keeps at most 256 KiB in its write queue and waits
 * for its write callbacks to drain it; with --no-backpressure it queues every
 * chunk at once.  It prints the peak of its write queue (bytes libuv has not
 * yet handed to the kernel) and of the memory its writes held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define CHUNK (64 * 1024)
#define TOTAL (32 * 1024 * 1024)
#define HIGH_WATER (256 * 1024) /* the producer's limit, and the consumer's read burst */

static uv_loop_t *loop;
static uv_tcp_t server, producer, consumer;
static uv_timer_t pause_timer;
static int backpressure = 1;
static size_t sent, received, burst, held, peak_held, peak_queue;

static void on_write(uv_write_t *req, int status);

/* One chunk of new memory, as real data would be; freed when written. */
static void write_chunk(void) {
  uv_write_t *req = malloc(sizeof(*req) + CHUNK);
  char *data = (char *)(req + 1);
  memset(data, (int)(sent / CHUNK), CHUNK);
  uv_buf_t buf = uv_buf_init(data, CHUNK);
  held += CHUNK, sent += CHUNK;
  if (held > peak_held)
    peak_held = held;
  uv_write(req, (uv_stream_t *)&producer, &buf, 1, on_write);
  size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&producer);
  if (queued > peak_queue)
    peak_queue = queued;
}

/* With backpressure, stop while the queue is at the limit; on_write calls
 * again when it drains.  Without, queue everything now. */
static void produce(void) {
  while (sent < TOTAL) {
    if (backpressure && uv_stream_get_write_queue_size((uv_stream_t *)&producer) >= HIGH_WATER)
      return;
    write_chunk();
  }
}

static void on_write(uv_write_t *req, int status) {
  (void)status;
  free(req);
  held -= CHUNK;
  produce();
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h;
  static char space[CHUNK];
  (void)size;
  *buf = uv_buf_init(space, sizeof(space));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* The slow part of the consumer: after a burst, 1 ms of "work" with reading
 * stopped.  The kernel's buffers fill, and the producer's writes queue up. */
static void on_resume(uv_timer_t *t) {
  (void)t;
  burst = 0;
  uv_read_start((uv_stream_t *)&consumer, on_alloc, on_read);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  if (n < 0)
    return;
  received += (size_t)n, burst += (size_t)n;
  if (received == TOTAL) {
    uv_close((uv_handle_t *)s, NULL);
    uv_close((uv_handle_t *)&producer, NULL);
    uv_close((uv_handle_t *)&server, NULL);
    uv_close((uv_handle_t *)&pause_timer, NULL);
  } else if (burst >= HIGH_WATER) {
    uv_read_stop(s);
    uv_timer_start(&pause_timer, on_resume, 1, 0);
  }
}

static void on_connection(uv_stream_t *srv, int status) {
  if (status < 0)
    return;
  uv_tcp_init(loop, &consumer);
  uv_accept(srv, (uv_stream_t *)&consumer);
  uv_read_start((uv_stream_t *)&consumer, on_alloc, on_read);
}

static void on_connect(uv_connect_t *req, int status) {
  (void)req;
  if (status == 0)
    produce();
}

int main(int argc, char **argv) {
  backpressure = !(argc > 1 && strcmp(argv[1], "--no-backpressure") == 0);
  loop = uv_default_loop();
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(loop, &server);
  uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  uv_listen((uv_stream_t *)&server, 8, on_connection);
  int len = sizeof(addr);
  uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len);
  uv_timer_init(loop, &pause_timer);
  uv_tcp_init(loop, &producer);
  static uv_connect_t connect_req;
  uv_tcp_connect(&connect_req, &producer, (const struct sockaddr *)&addr, on_connect);
  uv_run(loop, UV_RUN_DEFAULT);
  printf("backpressure %s: %zu MiB sent, %zu MiB received\n", backpressure ? "on" : "off", sent >> 20,
         received >> 20);
  printf("peak write queue: %.2f MiB\n", peak_queue / 1048576.0);
  printf("peak memory held by writes: %.2f MiB\n", peak_held / 1048576.0);
  return received == TOTAL ? 0 : 1;
}
