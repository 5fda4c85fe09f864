/* libFuzzer target: what the probe sends, decoded as the debugger decodes
 * it: a control frame (uvdb_msg_recv) carrying HELLO's key=value text,
 * event records read from a ring (session_drain -> model_apply), a
 * profiler sample's registers and stack (profile_collect -> the unwinder),
 * then the views that read the model built from them. */
#define _GNU_SOURCE
#include "../../debugger/uvdb.h"
#include "../../debugger/symbolize.h"
#include "../../preload/transport.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static void *shm;
static int sv[2];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  /* The whole ring memory, as the probe maps it; pages never written cost
   * nothing, and a hostile probe could put anything anywhere in it. */
  shm = mmap(NULL, UVDB_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (shm == MAP_FAILED || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    abort();
  /* A symbolizer over this very process: samples unwind through real
   * modules, with registers and stack bytes from the input. */
  uvdb_session.sym = symbolizer_open(getpid());
  if (getenv("UVDB_FUZZ_QUIET"))
    if (!freopen("/dev/null", "w", stdout))
      abort();
  return 0;
}

static size_t take(const uint8_t **p, size_t *left, void *out, size_t n) {
  size_t k = n < *left ? n : *left;
  memset(out, 0, n);
  memcpy(out, *p, k);
  *p += k, *left -= k;
  return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct session *s = &uvdb_session;
  const uint8_t *p = data;
  size_t left = size;

  /* 1. A control frame, as sent: the first u16 is its length on the socket. */
  uint16_t flen;
  take(&p, &left, &flen, sizeof(flen));
  if (flen > left)
    flen = (uint16_t)left;
  if (send(sv[0], p, flen, MSG_DONTWAIT) == (ssize_t)flen) {
    uint32_t type;
    size_t len;
    int fd;
    s->probe_info[0] = '\0';
    if (uvdb_msg_recv(sv[1], &type, s->probe_info, sizeof(s->probe_info), &len, &fd, 0) == 1) {
      char v[600];
      static const char *const keys[] = {"protocol", "libuv", "libuv_how", "libuv_version", "libuv_path", "hooks"};
      for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        probe_info_get(s, keys[k], v, sizeof(v));
      probe_info_get(s, "x", v, 1); /* a one-byte buffer: just the NUL */
    }
    if (fd >= 0)
      close(fd);
  }
  p += flen, left -= flen;

  /* 2. The clock and a profiler sample: registers (rip as an offset into
   * this program, where there is unwind information), stack_len, stack. */
  struct uvdb_shm_header *h = shm;
  memset(h, 0, sizeof(*h));
  h->magic = UVDB_SHM_MAGIC;
  take(&p, &left, &h->clock.tsc0, 4 * sizeof(uint64_t));
  struct uvdb_profile_sample *smp = uvdb_shm_profile(shm, 0);
  memset(smp, 0, offsetof(struct uvdb_profile_sample, stack));
  uint16_t rip_off;
  take(&p, &left, &rip_off, sizeof(rip_off));
  take(&p, &left, &smp->regs.rsp, 7 * sizeof(uint64_t)); /* rsp ... r15 */
  take(&p, &left, &smp->stack_base, sizeof(smp->stack_base));
  take(&p, &left, &smp->stack_len, sizeof(smp->stack_len));
  uint8_t stack_bytes;
  take(&p, &left, &stack_bytes, 1);
  take(&p, &left, smp->stack, stack_bytes);
  smp->regs.rip = (uint64_t)(uintptr_t)&LLVMFuzzerTestOneInput + rip_off;
  smp->regs.valid = 1;
  smp->tid = (uint32_t)gettid();
  smp->role = UVDB_ROLE_LOOP, smp->loop_id = 1, smp->phase = (uint8_t)rip_off;
  h->profile_claimed = 1;
  s->profile.active = 1, s->profile.next_index = 0;

  /* 3. The rest: records in ring 0, as the loop thread wrote them. */
  struct uvdb_ring *r = uvdb_shm_ring(shm, 0);
  size_t n = left / sizeof(struct uvdb_record);
  if (n > 4096)
    n = 4096;
  memcpy(r->rec, p, n * sizeof(struct uvdb_record));
  atomic_store(&r->head, n);
  atomic_store(&r->tail, 0);
  atomic_store(&r->dropped, 0);
  r->tid = (uint32_t)getpid();
  memcpy(r->thread_name, "fuzz-loop-thread", sizeof(r->thread_name)); /* no NUL: the probe's names are 16 bytes */
  atomic_store(&r->state, UVDB_RING_LIVE);

  /* An exited target: nothing is signalled or waited for, the model is
   * read as after a real run. */
  s->shm = shm;
  s->pid = getpid();
  s->state = TARGET_EXITED;
  s->libuv_found = s->probe_connected = 1;
  session_drain(s);
  static const char *const views[] = {"info loops", "info loop", "info threadpool", "info blocking",
                                      "info gc", "print $iteration"};
  for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
    uvdb_execute(s, views[i]);
  s->profile.active = 0;
  model_reset(&s->model);
  s->shm = NULL;
  return 0;
}
