/* A target that closes every descriptor it did not open (the probe's
 * socket included), as daemons do, then opens a file (argv[1]) that takes
 * the lowest number, likely the socket's old one, and writes to it from
 * its loop: nothing but its own lines may end up in that file. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

static int fd, ticks;

static void on_tick(uv_timer_t *t) {
  char line[32];
  int n = snprintf(line, sizeof(line), "tick %d\n", ++ticks);
  if (write(fd, line, (size_t)n) != n)
    perror("write");
  if (ticks == 5)
    uv_timer_stop(t);
}

int main(int argc, char **argv) {
  if (argc < 2)
    return 2;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  for (int i = 3; i < (int)rl.rlim_cur && i < 65536; i++)
    close(i);
  fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0)
    return 1;
  uv_timer_t timer;
  uv_timer_init(uv_default_loop(), &timer);
  uv_timer_start(&timer, on_tick, 5, 5);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  printf("close-fds: %d ticks written to fd %d\n", ticks, fd);
  return close(fd) == 0 ? 0 : 1;
}
