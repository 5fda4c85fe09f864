/* Chapter 9: one TCP connection on loopback, from accept to close.  An echo
 * server and one client in the same process: the client connects and sends
 * "hello", the server reads it and writes it back, the client reads the echo
 * and closes; the server reads EOF and closes its side, then stops listening. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t *loop;
static uv_tcp_t server, conn, client;
static uv_connect_t connect_req;
static uv_write_t echo_req, hello_req;
static char echo_buf[64];
static int closed;

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  static char space[64];
  *buf = uv_buf_init(space, sizeof(space));
}

/* Every handle ends here, in the closing phase. */
static void on_close(uv_handle_t *h) {
  closed++;
  printf("closed the %s\n", h == (uv_handle_t *)&server ? "listening socket"
                            : h == (uv_handle_t *)&conn ? "server's connection" : "client");
}

static void on_echo_written(uv_write_t *req, int status) {
  (void)req;
  printf("server: echo written (%s)\n", status == 0 ? "ok" : uv_strerror(status));
}

static void on_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n == UV_EOF) {
    printf("server: end of stream\n");
    uv_close((uv_handle_t *)s, on_close);
    uv_close((uv_handle_t *)&server, on_close);
  } else if (n > 0) {
    printf("server: read %zd bytes\n", n);
    memcpy(echo_buf, buf->base, (size_t)n);
    uv_buf_t echo = uv_buf_init(echo_buf, (unsigned)n);
    uv_write(&echo_req, s, &echo, 1, on_echo_written);
  }
}

static void on_connection(uv_stream_t *srv, int status) {
  if (status < 0)
    return;
  uv_tcp_init(loop, &conn);
  uv_accept(srv, (uv_stream_t *)&conn);
  printf("server: accepted a connection\n");
  uv_read_start((uv_stream_t *)&conn, on_alloc, on_server_read);
}

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) {
    printf("client: got back \"%.*s\"\n", (int)n, buf->base);
    uv_close((uv_handle_t *)s, on_close);
  }
}

static void on_hello_written(uv_write_t *req, int status) {
  (void)req;
  printf("client: hello written (%s)\n", status == 0 ? "ok" : uv_strerror(status));
}

static void on_connect(uv_connect_t *req, int status) {
  if (status < 0) {
    fprintf(stderr, "connect: %s\n", uv_strerror(status));
    return;
  }
  printf("client: connected\n");
  static char hello[] = "hello";
  uv_buf_t buf = uv_buf_init(hello, 5);
  uv_write(&hello_req, req->handle, &buf, 1, on_hello_written);
  uv_read_start(req->handle, on_alloc, on_client_read);
}

int main(void) {
  loop = uv_default_loop();
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(loop, &server);
  uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  uv_listen((uv_stream_t *)&server, 8, on_connection);
  int len = sizeof(addr);
  uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len);
  uv_tcp_init(loop, &client);
  uv_tcp_connect(&connect_req, &client, (const struct sockaddr *)&addr, on_connect);
  uv_run(loop, UV_RUN_DEFAULT);
  return closed == 3 ? 0 : 1;
}
