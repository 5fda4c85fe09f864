/* libFuzzer target: the perf map reader (V8's /tmp/perf-PID.map, written
 * by the target, so anything): the input is the file, then the addresses
 * looked up in it, read in two growing steps as V8 appends. */
#define _GNU_SOURCE
#include "../../debugger/uvdb.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *perfmap_lookup(pid_t pid, uint64_t addr);
void perfmap_finish(pid_t pid);

/* A pid no process has (pid_max is 4194304 at most), so the map read is
 * only ever ours; one per fuzzing process, so parallel jobs do not share. */
static pid_t fake_pid(void) {
  return 2000000000 + getpid() % 100000000;
}
#define FAKE_PID fake_pid()

static void write_map(const uint8_t *data, size_t len, int append) {
  char path[64];
  snprintf(path, sizeof(path), "/tmp/perf-%d.map", FAKE_PID);
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
  if (fd < 0 || write(fd, data, len) != (ssize_t)len)
    abort();
  close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* First 8 bytes: an address to look up; then the map, split in half. */
  uint64_t addr = 0;
  if (size < sizeof(addr))
    return 0;
  memcpy(&addr, data, sizeof(addr));
  data += sizeof(addr), size -= sizeof(addr);
  size_t half = size / 2;
  write_map(data, half, 0);
  const char *name = perfmap_lookup(FAKE_PID, addr);
  if (name)
    (void)strlen(name);
  write_map(data + half, size - half, 1);
  for (uint64_t a = addr; a < addr + 4 && a >= addr; a++)
    if ((name = perfmap_lookup(FAKE_PID, a)) != NULL)
      (void)strlen(name);
  perfmap_finish(FAKE_PID); /* reads the rest, removes the file */
  perfmap_lookup(FAKE_PID, addr);
  perfmap_lookup(1, addr); /* another pid: forgets this map */
  return 0;
}
