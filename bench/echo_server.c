/* A libuv TCP echo server for the blocking probes' cost under load: listens
 * on 127.0.0.1:PORT (argv[1]) and writes back whatever a connection sends.
 * Exits once CONNECTIONS (argv[2], default 0: never) connections have closed,
 * or on SIGTERM or SIGINT.  bench/loadgen.c drives it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define READ_BUFFER_SIZE 65536

struct connection {
  uv_tcp_t tcp;
  char buffer[READ_BUFFER_SIZE];
};

/* The echo write holds the bytes it sends: reads and writes overlap. */
struct echo_write {
  uv_write_t req;
  char bytes[];
};

static uv_tcp_t server;
static uv_signal_t sigterm, sigint;
static long closed, close_after;

static void stop_server(void) {
  if (!uv_is_closing((uv_handle_t *)&server))
    uv_close((uv_handle_t *)&server, NULL);
  if (!uv_is_closing((uv_handle_t *)&sigterm))
    uv_close((uv_handle_t *)&sigterm, NULL);
  if (!uv_is_closing((uv_handle_t *)&sigint))
    uv_close((uv_handle_t *)&sigint, NULL);
}

static void on_connection_closed(uv_handle_t *h) {
  free(h->data);
  if (++closed == close_after)
    stop_server();
}

static void close_connection(uv_stream_t *s) {
  if (!uv_is_closing((uv_handle_t *)s))
    uv_close((uv_handle_t *)s, on_connection_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  struct connection *c = h->data;
  *buf = uv_buf_init(c->buffer, sizeof c->buffer);
}

static void on_written(uv_write_t *req, int status) {
  if (status < 0)
    close_connection(req->handle);
  free(req);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n < 0) {
    close_connection(s);
    return;
  }
  if (n == 0)
    return;
  struct echo_write *w = malloc(sizeof *w + (size_t)n);
  if (!w) {
    close_connection(s);
    return;
  }
  memcpy(w->bytes, buf->base, (size_t)n);
  uv_buf_t out = uv_buf_init(w->bytes, (unsigned)n);
  if (uv_write(&w->req, s, &out, 1, on_written) < 0) {
    free(w);
    close_connection(s);
  }
}

static void on_connection(uv_stream_t *listener, int status) {
  if (status < 0)
    return;
  struct connection *c = malloc(sizeof *c);
  if (!c)
    return;
  uv_tcp_init(listener->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
    uv_close((uv_handle_t *)&c->tcp, on_connection_closed);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void close_any_connection(uv_handle_t *h, void *arg) {
  (void)arg;
  if (h->type == UV_TCP && h != (uv_handle_t *)&server)
    close_connection((uv_stream_t *)h);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  (void)signum;
  stop_server();
  uv_walk(uv_default_loop(), close_any_connection, NULL);
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  close_after = argc > 2 ? atol(argv[2]) : 0;
  if (port < 1 || port > 65535 || close_after < 0) {
    fprintf(stderr, "usage: echo_server PORT [CONNECTIONS >= 0]\n");
    return 2;
  }
  uv_loop_t *loop = uv_default_loop();
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  uv_tcp_init(loop, &server);
  int r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  if (r == 0)
    r = uv_listen((uv_stream_t *)&server, 128, on_connection);
  if (r < 0) {
    fprintf(stderr, "echo_server: 127.0.0.1:%d: %s\n", port, uv_strerror(r));
    return 1;
  }
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_signal_init(loop, &sigint);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_run(loop, UV_RUN_DEFAULT);
  printf("echo_server connections_closed=%ld\n", closed);
  return 0;
}
