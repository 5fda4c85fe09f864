/* Chapter 3: one loop, every phase busy.  A repeating timer, idle, prepare
 * and check handles, a file-system request and a TCP echo on loopback;
 * everything closes by itself and the loop ends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_timer_t timer;
static uv_idle_t idle;
static uv_prepare_t prepare;
static uv_check_t check;
static uv_fs_t stat_req;
static uv_tcp_t server, client, accepted;
static uv_connect_t connect_req;
static uv_write_t write_req, echo_req;
static int ticks, idles, prepares, checks, echoed;

static void on_close(uv_handle_t *h) { (void)h; }

static void on_timer(uv_timer_t *t) {
  if (++ticks == 3)
    uv_close((uv_handle_t *)t, on_close);
}

static void on_idle(uv_idle_t *h) {
  if (++idles == 10) /* idle keeps poll from blocking: stop it soon */
    uv_close((uv_handle_t *)h, on_close);
}

static void on_prepare(uv_prepare_t *h) { (void)h; prepares++; }
static void on_check(uv_check_t *h) { (void)h; checks++; }

static void on_stat(uv_fs_t *req) {
  printf("stat: %s is %lld bytes\n", (const char *)req->data, (long long)req->statbuf.st_size);
  uv_fs_req_cleanup(req);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(hint);
  buf->len = hint;
}

static void on_echo_written(uv_write_t *req, int status) {
  (void)status;
  free(req->data);
}

/* server side: echo what arrives, close at EOF */
static void on_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) {
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
    echo_req.data = buf->base;
    uv_write(&echo_req, s, &out, 1, on_echo_written);
    return;
  }
  free(buf->base);
  if (n < 0) {
    uv_close((uv_handle_t *)s, on_close);
    uv_close((uv_handle_t *)&server, on_close);
  }
}

static void on_connection(uv_stream_t *srv, int status) {
  if (status < 0)
    return;
  uv_tcp_init(srv->loop, &accepted);
  if (uv_accept(srv, (uv_stream_t *)&accepted) == 0)
    uv_read_start((uv_stream_t *)&accepted, on_alloc, on_server_read);
}

/* client side: send a line, read the echo, hang up */
static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) {
    printf("echo: %.*s", (int)n, buf->base);
    echoed = 1;
    uv_close((uv_handle_t *)s, on_close);
  }
  free(buf->base);
}

static void on_written(uv_write_t *req, int status) {
  (void)req, (void)status;
}

static void on_connect(uv_connect_t *req, int status) {
  if (status < 0) {
    fprintf(stderr, "connect: %s\n", uv_strerror(status));
    uv_close((uv_handle_t *)req->handle, on_close);
    uv_close((uv_handle_t *)&server, on_close);
    return;
  }
  static char line[] = "hello, loop\n";
  uv_buf_t buf = uv_buf_init(line, sizeof(line) - 1);
  uv_write(&write_req, req->handle, &buf, 1, on_written);
  uv_read_start(req->handle, on_alloc, on_client_read);
}

int main(int argc, char **argv) {
  (void)argc;
  uv_loop_t *loop = uv_default_loop();
  uv_timer_init(loop, &timer);
  uv_timer_start(&timer, on_timer, 5, 5);
  uv_idle_init(loop, &idle);
  uv_idle_start(&idle, on_idle);
  uv_prepare_init(loop, &prepare);
  uv_prepare_start(&prepare, on_prepare);
  uv_unref((uv_handle_t *)&prepare); /* watchers only: they must not keep the loop alive */
  uv_check_init(loop, &check);
  uv_check_start(&check, on_check);
  uv_unref((uv_handle_t *)&check);

  stat_req.data = argv[0];
  uv_fs_stat(loop, &stat_req, argv[0], on_stat);

  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(loop, &server);
  uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  int r = uv_listen((uv_stream_t *)&server, 8, on_connection);
  if (r != 0) {
    fprintf(stderr, "listen: %s\n", uv_strerror(r));
    return 1;
  }
  struct sockaddr_storage bound;
  int len = sizeof(bound);
  uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
  uv_tcp_init(loop, &client);
  uv_tcp_connect(&connect_req, &client, (const struct sockaddr *)&bound, on_connect);

  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&prepare, on_close);
  uv_close((uv_handle_t *)&check, on_close);
  uv_run(loop, UV_RUN_DEFAULT);
  printf("timer fired %d times, idle ran %d times, echo %s\n", ticks, idles, echoed ? "received" : "missing");
  return uv_loop_close(loop) == 0 && echoed ? 0 : 1;
}
