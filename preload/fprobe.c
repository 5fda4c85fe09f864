/* Function probes: a hook on any function's entry that knows nothing of its
 * signature, for `break callback` and `step`, and on its return, for
 * `finish`.  uvdb names the functions in shared slots; entering an armed one
 * on a loop thread parks it with the registers of the function's entry. */
#define _GNU_SOURCE
#include "probe.h"
#include "rawsys.h"

#include <linux/futex.h>
#include <stdio.h>
#include <string.h>

/* What the entry thunk saved, at the function's entry before it ran: every
 * register an argument or the unwinder may need. */
struct uv__entry_frame {
  uint64_t xmm[16];
  uint64_t r11, r10, r9, r8, rcx, rdx, rsi, rdi, rax;
  uint64_t rbx, rbp, r12, r13, r14, r15;
  uint64_t slot; /* in: the slot; out: where to go on (the trampoline) */
  uint64_t ret;  /* the caller's return address */
};

/* What the exit thunk saved, just after the function returned. */
struct uv__exit_frame {
  uint64_t xmm[4];
  uint64_t r15, r14, r13, r12, rbp, rbx, rdx, rax;
  uint64_t cont; /* out: the caller's return address */
};

void uvdb_fprobe_enter(struct uv__entry_frame *f) __attribute__((used));
void uvdb_fprobe_exit(struct uv__exit_frame *f) __attribute__((used));
extern char uvdb_fprobe_entry_thunk[], uvdb_fprobe_exit_thunk[];

/* Each slot's stub (in near memory) does
 *   cmp byte [rip+flag], 0 ; je trampoline ; push SLOT ; jmp [rip] entry_thunk
 * so a disarmed probe costs a compare and two jumps.  The thunks keep the
 * stack 16-byte aligned at their calls: 15 pushes and 136 bytes on top of
 * the return address and the slot; 8 pushes and 48 bytes after a return. */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl uvdb_fprobe_entry_thunk\n"
        ".hidden uvdb_fprobe_entry_thunk\n"
        ".type uvdb_fprobe_entry_thunk, @function\n"
        "uvdb_fprobe_entry_thunk:\n"
        "  push %r15\n  push %r14\n  push %r13\n  push %r12\n  push %rbp\n  push %rbx\n"
        "  push %rax\n  push %rdi\n  push %rsi\n  push %rdx\n  push %rcx\n  push %r8\n  push %r9\n"
        "  push %r10\n  push %r11\n"
        "  sub $136, %rsp\n"
        "  movdqu %xmm0, 8(%rsp)\n  movdqu %xmm1, 24(%rsp)\n  movdqu %xmm2, 40(%rsp)\n"
        "  movdqu %xmm3, 56(%rsp)\n  movdqu %xmm4, 72(%rsp)\n  movdqu %xmm5, 88(%rsp)\n"
        "  movdqu %xmm6, 104(%rsp)\n  movdqu %xmm7, 120(%rsp)\n"
        "  lea 8(%rsp), %rdi\n"
        "  call uvdb_fprobe_enter\n"
        "  movdqu 8(%rsp), %xmm0\n  movdqu 24(%rsp), %xmm1\n  movdqu 40(%rsp), %xmm2\n"
        "  movdqu 56(%rsp), %xmm3\n  movdqu 72(%rsp), %xmm4\n  movdqu 88(%rsp), %xmm5\n"
        "  movdqu 104(%rsp), %xmm6\n  movdqu 120(%rsp), %xmm7\n"
        "  add $136, %rsp\n"
        "  pop %r11\n  pop %r10\n  pop %r9\n  pop %r8\n  pop %rcx\n  pop %rdx\n  pop %rsi\n  pop %rdi\n"
        "  pop %rax\n  pop %rbx\n  pop %rbp\n  pop %r12\n  pop %r13\n  pop %r14\n  pop %r15\n"
        "  ret\n" /* to the slot word, now the trampoline */
        ".size uvdb_fprobe_entry_thunk, .-uvdb_fprobe_entry_thunk\n"
        ".p2align 4\n"
        ".globl uvdb_fprobe_exit_thunk\n"
        ".hidden uvdb_fprobe_exit_thunk\n"
        ".type uvdb_fprobe_exit_thunk, @function\n"
        "uvdb_fprobe_exit_thunk:\n"
        "  sub $8, %rsp\n"
        "  push %rax\n  push %rdx\n  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
        "  sub $40, %rsp\n"
        "  movdqu %xmm0, 8(%rsp)\n  movdqu %xmm1, 24(%rsp)\n"
        "  lea 8(%rsp), %rdi\n"
        "  call uvdb_fprobe_exit\n"
        "  movdqu 8(%rsp), %xmm0\n  movdqu 24(%rsp), %xmm1\n"
        "  add $40, %rsp\n"
        "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n  pop %rdx\n  pop %rax\n"
        "  ret\n" /* to the caller */
        ".size uvdb_fprobe_exit_thunk, .-uvdb_fprobe_exit_thunk\n");

#define STUB_LEN 32

struct uv__fprobe {
  struct uvdb_hook hook;
  void *original;
  uint64_t addr;
  _Atomic(uint8_t *) flag; /* published once the probe is in place */
};

static struct uv__fprobe uv__fprobes[UVDB_FPROBE_SLOTS];

/* A function probed that the probe itself calls (memcpy, say) must not
 * re-enter it; and one `finish` return per nesting level. */
static __thread int uv__busy __attribute__((tls_model("initial-exec")));
#define SHADOW_MAX 16
static __thread struct {
  uint64_t ret, sp, fn;
} uv__shadow[SHADOW_MAX] __attribute__((tls_model("initial-exec")));
static __thread int uv__shadow_n __attribute__((tls_model("initial-exec")));

static uint64_t uv__iteration(const struct uvdb_run_frame *rf) {
  return rf->in_iter ? rf->iter : atomic_load_explicit(&rf->loop->iterations, memory_order_relaxed);
}

/* Park inside a phase: the time parked is nobody's, so the open phase and
 * iteration begin that much later. */
static void uv__park_in_phase(struct uvdb_run_frame *rf, uint32_t reason, const struct uvdb_stop_stack *regs,
                              uint64_t fn) {
  uint64_t t0 = uvdb_now();
  uvdb_park(rf->loop, reason, rf->cur_phase, uv__iteration(rf), regs, fn);
  uint64_t parked = uvdb_now() - t0;
  rf->phase_begin += parked;
  rf->anchor += parked;
  rf->iter_begin += parked;
}

void uvdb_fprobe_enter(struct uv__entry_frame *f) {
  unsigned slot = (unsigned)f->slot < UVDB_FPROBE_SLOTS ? (unsigned)f->slot : 0;
  struct uv__fprobe *p = &uv__fprobes[slot];
  f->slot = (uint64_t)(uintptr_t)p->hook.trampoline;
  int d = uvdb_self.depth;
  uint8_t *flag = atomic_load_explicit(&p->flag, memory_order_acquire);
  if (d <= 0 || uv__busy || !flag || !atomic_load_explicit(&uvdb_probe.active, memory_order_relaxed))
    return; /* not run by a loop: a worker, or before uv_run */
  uv__busy = 1;
  struct uvdb_run_frame *rf = &uvdb_self.frames[d - 1];
  uint32_t me = atomic_load_explicit(&rf->loop->tid, memory_order_relaxed), reason = 0;
  uint8_t armed = *(volatile uint8_t *)flag;
  uint32_t stepping = me;
  if ((armed & UVDB_FPROBE_STEP) && atomic_compare_exchange_strong(&uvdb_probe.step_tid, &stepping, 0))
    reason = UVDB_STOP_STEP;
  else if (armed & UVDB_FPROBE_BREAK)
    reason = UVDB_STOP_CALLBACK;
  if (reason) {
    struct uvdb_stop_stack regs = {
        .rip = p->addr, .rsp = (uint64_t)(uintptr_t)&f->ret, .rbp = f->rbp, .rbx = f->rbx,
        .r12 = f->r12,  .r13 = f->r13,                         .r14 = f->r14, .r15 = f->r15,
    };
    uv__park_in_phase(rf, reason, &regs, p->addr);
    uint32_t finishing = me;
    if (atomic_compare_exchange_strong(&uvdb_probe.finish_tid, &finishing, 0)) {
      if (uv__shadow_n < SHADOW_MAX) {
        uv__shadow[uv__shadow_n].ret = f->ret;
        uv__shadow[uv__shadow_n].sp = (uint64_t)(uintptr_t)&f->ret;
        uv__shadow[uv__shadow_n++].fn = p->addr;
        f->ret = (uint64_t)(uintptr_t)uvdb_fprobe_exit_thunk;
      } else {
        uvdb_request_pause(me, UVDB_STOP_STEP); /* too deep: the next safepoint will do */
      }
    }
  }
  uv__busy = 0;
}

void uvdb_fprobe_exit(struct uv__exit_frame *f) {
  uint64_t sp = (uint64_t)(uintptr_t)&f->cont + 8; /* the caller's, after the return */
  /* Entries deeper than this frame were skipped by a longjmp. */
  while (uv__shadow_n > 1 && uv__shadow[uv__shadow_n - 1].sp + 8 < sp)
    uv__shadow_n--;
  if (uv__shadow_n <= 0)
    __builtin_trap(); /* a return we did not patch: cannot happen */
  uv__shadow_n--;
  f->cont = uv__shadow[uv__shadow_n].ret;
  int d = uvdb_self.depth;
  if (d <= 0 || uv__busy)
    return;
  uv__busy = 1;
  struct uvdb_stop_stack regs = {
      .rip = f->cont, .rsp = sp,      .rbp = f->rbp, .rbx = f->rbx,
      .r12 = f->r12,  .r13 = f->r13,  .r14 = f->r14, .r15 = f->r15,
  };
  uv__park_in_phase(&uvdb_self.frames[d - 1], UVDB_STOP_FINISH, &regs, uv__shadow[uv__shadow_n].fn);
  uv__busy = 0;
}

static int uv__refuse(struct uvdb_fprobe_slot *s, const char *why) {
  snprintf(s->reason, sizeof(s->reason), "%s", why);
  return -1;
}

/* Is [addr, addr+size) executable code that is not the probe's own?  Code
 * pages once patched are mappings of their own: adjacent executable ones
 * count as one. */
static const char *uv__code_check(uint64_t addr, uint64_t size) {
  const char *maps = uvdb_hook_self_maps();
  uint64_t self = (uint64_t)(uintptr_t)uvdb_fprobe_entry_thunk, end = 0;
  static char self_path[512], found_path[512];
  self_path[0] = found_path[0] = '\0';
  int found = 0;
  for (const char *line = maps; line && *line;) {
    const char *nl = strchr(line, '\n');
    char one[600];
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    if (len >= sizeof(one))
      len = sizeof(one) - 1;
    memcpy(one, line, len);
    one[len] = '\0';
    unsigned long lo, hi;
    char perms[8];
    int path_at = 0;
    if (sscanf(one, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path_at) >= 3) {
      const char *path = path_at ? one + path_at : "";
      if (self >= lo && self < hi)
        snprintf(self_path, sizeof(self_path), "%s", path);
      if (found && lo == end && perms[2] == 'x')
        end = hi;
      if (addr >= lo && addr < hi) {
        if (perms[2] != 'x')
          return "the address is not code";
        found = 1, end = hi;
        snprintf(found_path, sizeof(found_path), "%s", path);
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  if (!found)
    return "the address is not mapped";
  if (addr + size > end)
    return "the function runs past its code mapping";
  if (self_path[0] && strcmp(self_path, found_path) == 0)
    return "the function is uvdb's own";
  return NULL;
}

static void uv__stub(uint8_t *code, const uint8_t *flag, const uint8_t *tramp, unsigned slot) {
  uint8_t b[STUB_LEN];
  memset(b, 0xcc, sizeof(b));
  int32_t rel;
  b[0] = 0x80, b[1] = 0x3d; /* cmp byte [rip+rel32], 0 */
  rel = (int32_t)((intptr_t)flag - (intptr_t)(code + 7));
  memcpy(b + 2, &rel, 4);
  b[6] = 0;
  b[7] = 0x0f, b[8] = 0x84; /* je rel32 */
  rel = (int32_t)((intptr_t)tramp - (intptr_t)(code + 13));
  memcpy(b + 9, &rel, 4);
  b[13] = 0x68; /* push imm32 */
  uint32_t imm = slot;
  memcpy(b + 14, &imm, 4);
  b[18] = 0xff, b[19] = 0x25; /* jmp [rip+0] */
  memset(b + 20, 0, 4);
  uint64_t thunk = (uint64_t)(uintptr_t)uvdb_fprobe_entry_thunk;
  memcpy(b + 24, &thunk, 8);
  uvdb_hook_write_code(code, b, sizeof(b));
}

static int uv__reach(const void *from_end, const void *to) {
  int64_t d = (int64_t)((intptr_t)to - (intptr_t)from_end);
  return d > -0x7fff0000ll && d < 0x7fff0000ll;
}

static int uv__install(unsigned i, struct uvdb_fprobe_slot *s) {
  struct uv__fprobe *p = &uv__fprobes[i];
  if (atomic_load(&p->flag))
    return p->addr == s->addr ? 0 : uv__refuse(s, "slot already holds another function");
  for (unsigned k = 0; k < UVDB_FPROBE_SLOTS; k++)
    if (k != i && atomic_load(&uv__fprobes[k].flag) && uv__fprobes[k].addr == s->addr)
      return uv__refuse(s, "the function is probed by another slot");
  size_t nloop;
  const struct uvdb_hook *loop_hooks = uvdb_loop_hooks_installed(&nloop);
  for (size_t k = 0; k < nloop; k++)
    if (loop_hooks[k].installed && (uint64_t)(uintptr_t)loop_hooks[k].target == s->addr)
      return uv__refuse(s, "uvdb already hooks this libuv function (break on its phase instead)");
  const char *bad = uv__code_check(s->addr, s->size ? s->size : 5);
  if (bad)
    return uv__refuse(s, bad);
  uint8_t *target = (uint8_t *)(uintptr_t)s->addr;
  uint8_t *code = uvdb_hook_alloc_near(target, STUB_LEN);
  uint8_t *flag = uvdb_hook_alloc_near_data(target, 1);
  if (!code || !flag)
    return uv__refuse(s, "no memory within 2 GB of the function");
  p->hook = (struct uvdb_hook){
      .name = "callback", .target = target, .size = s->size, .replacement = code, .original = &p->original};
  if (uvdb_hook_prepare(&p->hook) != 0)
    return uv__refuse(s, p->hook.reason);
  if (!uv__reach(code + 7, flag) || !uv__reach(code + 13, p->hook.trampoline))
    return uv__refuse(s, "probe memory out of rel32 reach");
  *flag = 0;
  uv__stub(code, flag, p->hook.trampoline, i);
  if (uvdb_hook_install(&p->hook) != 0)
    return uv__refuse(s, p->hook.reason);
  p->addr = s->addr;
  atomic_store_explicit(&p->flag, flag, memory_order_release);
  return 0;
}

void uvdb_fprobe_install_requested(void) {
  if (!uvdb_probe.shm)
    return;
  uv__busy++;
  for (unsigned i = 0; i < UVDB_FPROBE_SLOTS; i++) {
    struct uvdb_fprobe_slot *s = uvdb_shm_fprobe(uvdb_probe.shm, i);
    if (atomic_load(&s->state) != UVDB_FPROBE_REQUESTED)
      continue;
    s->reason[0] = '\0';
    atomic_store(&s->state, uv__install(i, s) == 0 ? UVDB_FPROBE_INSTALLED : UVDB_FPROBE_REFUSED);
  }
  uv__busy--;
  uvdb_fprobe_sync();
  atomic_fetch_add(&uvdb_probe.shm->fprobe_acks, 1);
  uvdb_sys3(SYS_futex, (uint32_t *)&uvdb_probe.shm->fprobe_acks, FUTEX_WAKE, INT32_MAX); /* not private */
}

/* From here on the agent calls: raw system calls, no TLS. */
void uvdb_fprobe_sync(void) {
  if (!uvdb_probe.shm)
    return;
  int requested = 0, stepping = 0;
  for (unsigned i = 0; i < UVDB_FPROBE_SLOTS; i++) {
    struct uvdb_fprobe_slot *s = uvdb_shm_fprobe(uvdb_probe.shm, i);
    uint8_t *flag = atomic_load_explicit(&uv__fprobes[i].flag, memory_order_acquire);
    uint32_t armed = atomic_load(&s->armed) & (UVDB_FPROBE_BREAK | UVDB_FPROBE_STEP);
    stepping |= (armed & UVDB_FPROBE_STEP) != 0;
    if (atomic_load(&s->state) == UVDB_FPROBE_REQUESTED)
      requested = 1;
    else if (flag)
      *(volatile uint8_t *)flag = (uint8_t)armed;
  }
  if (!stepping) /* a step that ended elsewhere (a breakpoint) is over */
    atomic_store(&uvdb_probe.step_tid, 0);
  if (requested) {
    /* A parked loop thread does it: wake it without resuming it. */
    atomic_store(&uvdb_probe.fprobe_work, 1);
    uvdb_sys4(SYS_futex, (uint32_t *)&uvdb_probe.resume_seq, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
  }
}

void uvdb_fprobe_disarm_all(void) {
  for (unsigned i = 0; i < UVDB_FPROBE_SLOTS; i++) {
    uint8_t *flag = atomic_load_explicit(&uv__fprobes[i].flag, memory_order_acquire);
    if (flag)
      *(volatile uint8_t *)flag = 0;
  }
}

/* Detach: every other thread is stopped; the functions get their bytes back
 * and the slots are free for the next session. */
void uvdb_fprobe_remove_all(void) {
  for (unsigned i = 0; i < UVDB_FPROBE_SLOTS; i++) {
    struct uv__fprobe *p = &uv__fprobes[i];
    if (!atomic_load(&p->flag))
      continue;
    *(volatile uint8_t *)atomic_load(&p->flag) = 0;
    if (uvdb_hook_remove(&p->hook) == 0) {
      atomic_store(&p->flag, NULL);
      p->addr = 0;
    }
  }
}
