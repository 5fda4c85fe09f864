/* The locate cache's file: a followed child of node finds libuv where its
 * parent found it (a 100k-symbol search skipped), trusting nothing it reads. */
#define _GNU_SOURCE
#include "loccache.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define UV__MAGIC "uvdbloc1" /* the last byte: the format's version */
#define UV__SUFFIX ".locate"

/* The file, as the probe that wrote it laid it out (the key's probe
 * build-id says it is this one's layout); zeroed before it is filled, so
 * that padding is part of what the checksum covers. */
struct uv__file {
  char magic[8];
  uint32_t size;
  uint8_t obj_len, probe_len, pad[2];
  uint8_t obj[UVDB_BUILD_ID_MAX], probe[UVDB_BUILD_ID_MAX];
  struct uvdb_loccache_record rec;
  uint64_t sum; /* FNV-1a of every byte before it */
};

static uint64_t uv__fnv1a(const void *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ull;
  return h;
}

/* Is [vaddr, vaddr + len) in a readable loaded segment of the object?  Only
 * then are its bytes in memory to read. */
static int uv__mapped(const struct dl_phdr_info *info, uint64_t vaddr, uint64_t len) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_R) && vaddr >= ph->p_vaddr && vaddr - ph->p_vaddr <= ph->p_filesz &&
        len <= ph->p_filesz - (vaddr - ph->p_vaddr))
      return 1;
  }
  return 0;
}

/* The build-id of a loaded object, from its notes in memory: its length, or
 * 0 when it has none (or one longer than out holds). */
static size_t uv__build_id(const struct dl_phdr_info *info, uint8_t *out, size_t cap) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_NOTE || !uv__mapped(info, ph->p_vaddr, ph->p_memsz))
      continue;
    size_t align = ph->p_align == 8 ? 8 : 4;
    const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
    for (size_t off = 0; off + sizeof(ElfW(Nhdr)) <= ph->p_memsz;) {
      ElfW(Nhdr) nh;
      memcpy(&nh, p + off, sizeof(nh));
      size_t name = off + sizeof(nh), desc = name + ((nh.n_namesz + align - 1) & ~(align - 1));
      size_t next = desc + ((nh.n_descsz + align - 1) & ~(align - 1));
      if (nh.n_namesz > ph->p_memsz || nh.n_descsz > ph->p_memsz || next > ph->p_memsz)
        break;
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(p + name, "GNU", 4) == 0) {
        if (nh.n_descsz == 0 || nh.n_descsz > cap)
          return 0;
        memcpy(out, p + desc, nh.n_descsz);
        return nh.n_descsz;
      }
      off = next;
    }
  }
  return 0;
}

struct uv__holder {
  uintptr_t addr;
  uint8_t *id;
  size_t len;
};

static int uv__find_holder(struct dl_phdr_info *info, size_t sz, void *data) {
  (void)sz;
  struct uv__holder *h = data;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && h->addr >= lo && h->addr - lo < ph->p_memsz) {
      h->len = uv__build_id(info, h->id, UVDB_BUILD_ID_MAX);
      return 1;
    }
  }
  return 0;
}

/* The build-id of the object holding this code: the probe, once. */
static size_t uv__own_id(uint8_t *out) {
  static uint8_t id[UVDB_BUILD_ID_MAX];
  static int len = -1;
  if (len < 0) {
    struct uv__holder h = {(uintptr_t)&uv__own_id, id, 0};
    dl_iterate_phdr(uv__find_holder, &h);
    len = (int)h.len;
  }
  memcpy(out, id, (size_t)len);
  return (size_t)len;
}

int uvdb_loccache_key(const struct dl_phdr_info *info, struct uvdb_loccache_key *key, struct uvdb_segments *segs) {
  memset(key, 0, sizeof(*key));
  key->obj_len = (uint8_t)uv__build_id(info, key->obj, sizeof(key->obj));
  key->probe_len = (uint8_t)uv__own_id(key->probe);
  segs->n = 0;
  for (int i = 0; i < info->dlpi_phnum && segs->n < sizeof(segs->s) / sizeof(segs->s[0]); i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD)
      continue;
    segs->s[segs->n].lo = ph->p_vaddr;
    segs->s[segs->n].hi = ph->p_vaddr + ph->p_memsz;
    segs->s[segs->n].exec = (ph->p_flags & PF_X) != 0;
    segs->n++;
  }
  return key->obj_len && key->probe_len ? 0 : -1;
}

/* The directory of `prefix`: ours, not a symlink, closed to others (what
 * uvdb_private_dir makes), so that no one else put a file there. */
static int uv__dir_is_private(const char *prefix) {
  const char *slash = strrchr(prefix, '/');
  char dir[4096];
  if (!slash || slash == prefix || (size_t)(slash - prefix) >= sizeof(dir))
    return 0;
  memcpy(dir, prefix, (size_t)(slash - prefix));
  dir[slash - prefix] = '\0';
  struct stat st;
  return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() && !(st.st_mode & 077);
}

int uvdb_loccache_path(char *out, size_t cap, const char *prefix, const struct uvdb_loccache_key *key) {
  if (!prefix || !key->obj_len || !uv__dir_is_private(prefix))
    return -1;
  char hex[2 * UVDB_BUILD_ID_MAX + 1];
  for (size_t i = 0; i < key->obj_len; i++)
    snprintf(hex + 2 * i, 3, "%02x", key->obj[i]);
  int n = snprintf(out, cap, "%s.%s" UV__SUFFIX, prefix, hex);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* An entry: absent (all zero), or found the way `how` says, its bytes in
 * a segment of the object (an executable one, unless it is data). */
static int uv__fn_ok(const struct uvdb_loccache_fn *f, const struct uvdb_segments *segs, int data) {
  if (f->pad)
    return 0;
  if (f->how == UVDB_HOW_NONE)
    return f->off == 0 && f->size == 0;
  if (f->how >= UVDB_HOW_COUNT || f->size > UINT32_MAX)
    return 0;
  uint64_t len = f->size ? f->size : 1;
  for (size_t i = 0; i < segs->n; i++)
    if ((data || segs->s[i].exec) && f->off >= segs->s[i].lo && f->off < segs->s[i].hi &&
        len <= segs->s[i].hi - f->off)
      return 1;
  return 0;
}

int uvdb_loccache_parse(const void *buf, size_t len, const struct uvdb_loccache_key *key,
                        const struct uvdb_segments *segs, struct uvdb_loccache_record *rec) {
  struct uv__file f;
  if (len != sizeof(f))
    return -1;
  memcpy(&f, buf, sizeof(f));
  if (memcmp(f.magic, UV__MAGIC, sizeof(f.magic)) != 0 || f.size != sizeof(f) ||
      f.sum != uv__fnv1a(&f, offsetof(struct uv__file, sum)))
    return -1;
  if (f.obj_len != key->obj_len || f.probe_len != key->probe_len || f.obj_len > UVDB_BUILD_ID_MAX ||
      f.probe_len > UVDB_BUILD_ID_MAX || memcmp(f.obj, key->obj, f.obj_len) != 0 ||
      memcmp(f.probe, key->probe, f.probe_len) != 0)
    return -1;
  if (f.rec.version_inferred > 1 || f.rec.fn[UVDB_FN_UV_RUN].how == UVDB_HOW_NONE)
    return -1;
  for (int i = 0; i < UVDB_FN_COUNT; i++)
    if (!uv__fn_ok(&f.rec.fn[i], segs, 0))
      return -1;
  for (int i = 0; i < UVDB_POOL_COUNT; i++)
    if (!uv__fn_ok(&f.rec.pool[i], segs, i == UVDB_V8_MICROTASK_SIZE_OFFSET))
      return -1;
  *rec = f.rec;
  return 0;
}

size_t uvdb_loccache_encode(const struct uvdb_loccache_key *key, const struct uvdb_loccache_record *rec, void *buf,
                            size_t cap) {
  struct uv__file f;
  if (cap < sizeof(f))
    return 0;
  memset(&f, 0, sizeof(f));
  memcpy(f.magic, UV__MAGIC, sizeof(f.magic));
  f.size = sizeof(f);
  f.obj_len = key->obj_len;
  f.probe_len = key->probe_len;
  memcpy(f.obj, key->obj, sizeof(f.obj));
  memcpy(f.probe, key->probe, sizeof(f.probe));
  f.rec = *rec;
  f.sum = uv__fnv1a(&f, offsetof(struct uv__file, sum));
  memcpy(buf, &f, sizeof(f));
  return sizeof(f);
}

int uvdb_loccache_read(const char *path, const struct uvdb_loccache_key *key, const struct uvdb_segments *segs,
                       struct uvdb_loccache_record *rec) {
  /* O_NONBLOCK: a FIFO in its place would hold the target in open(). */
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  struct stat st;
  struct uv__file f;
  size_t got = 0;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == getuid() && !(st.st_mode & 077) &&
      st.st_size == (off_t)sizeof(f)) {
    while (got < sizeof(f)) {
      ssize_t n = read(fd, (char *)&f + got, sizeof(f) - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      got += (size_t)n;
    }
  }
  close(fd);
  return got == sizeof(f) ? uvdb_loccache_parse(&f, sizeof(f), key, segs, rec) : -1;
}

void uvdb_loccache_write(const char *path, const struct uvdb_loccache_key *key,
                         const struct uvdb_loccache_record *rec) {
  struct uv__file f;
  size_t len = uvdb_loccache_encode(key, rec, &f, sizeof(f));
  /* A file past RLIMIT_FSIZE raises SIGXFSZ, which kills the target. */
  struct rlimit fsize;
  if (getrlimit(RLIMIT_FSIZE, &fsize) != 0 || (fsize.rlim_cur != RLIM_INFINITY && fsize.rlim_cur < len))
    return;
  char tmp[4096 + 32];
  if (snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid()) >= (int)sizeof(tmp))
    return;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return;
  size_t put = 0;
  while (put < len) {
    ssize_t n = write(fd, (const char *)&f + put, len - put);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    put += (size_t)n;
  }
  if (close(fd) != 0 || put != len || rename(tmp, path) != 0)
    unlink(tmp);
}

void uvdb_loccache_remove_all(const char *prefix) {
  const char *slash = strrchr(prefix, '/');
  char dir[4096];
  if (!slash || (size_t)(slash - prefix) >= sizeof(dir))
    return;
  memcpy(dir, prefix, (size_t)(slash - prefix));
  dir[slash - prefix] = '\0';
  const char *base = slash + 1;
  size_t blen = strlen(base);
  DIR *d = opendir(dir[0] ? dir : "/");
  if (!d)
    return;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    /* BASE.BUILDID.locate, and the temporary files of writers that died */
    if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] != '.' ||
        !strstr(e->d_name + blen, UV__SUFFIX))
      continue;
    unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
}
