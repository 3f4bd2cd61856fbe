/* Lua binding of the tuner's worker processes: fresh helua processes (exec of /proc/self/exe
 * --tune-worker DEVICE, never a fork of an initialized tuner: a CUDA context does not survive
 * fork) that talk length-prefixed frames over a socket on their stdin/stdout. Part of src/bind
 * (the Lua boundary); the protocol and the pool are lua/helua/tune_worker.lua / tune_pool.lua.
 *
 *   core.worker_spawn(device) -> w      w:send(bytes | {bytes, ...})   w:pid()   w:device()
 *   w:kill()
 *   core.worker_wait({w, ...}, timeout_s) -> w, frame | w, nil, "exit"|"signal", detail | nil
 *   core.worker_enter(): in the worker, marks it one (core.tune_fault works there), no cores
 *   core.cpu_count() -> online CPU cores
 *   core.worker_available() -> whether workers can start (the helua executable, not helua.so)
 *   f:serialize() is core.ir_serialize(f) -> bytes;  core.ir_deserialize(bytes) -> IrFunc
 *   core.tensor_pack(t) -> bytes;  core.tensor_unpack(bytes [, at, len]) -> tensor (same sizes,
 *     strides; at, len: the packed tensor inside a bigger string, 1-based);
 *     a device tensor packs straight from the GPU (unpacked, it is a host tensor)
 *   core.tensor_same_bytes(t, bytes) -> whether t (host or device) packs to exactly bytes
 *   core.gpu_lock(path) -> l; l:hold(true | false): an exclusive flock on path, for the workers
 *     that share a GPU (procs_per_gpu > 1): one of them uses the GPU at a time
 *   core.max_abs_err_par(a, b, threads) -> max |a - b| over two host tensors of one shape, any
 *     dtypes (NaN when any difference is NaN), split along dim 1 over `threads` threads: the
 *     worker's check of a big output against the reference
 * Frames are a u32 little-endian length and the bytes. Writes use MSG_NOSIGNAL, so a worker
 * that died is an error on send, never a SIGPIPE in the tuner. */
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "bind/bind_ir.h"
#include "bind/bind_tensor.h"
#include "bind/bind_tune.h"
#include "rt/cuda/rt_cuda.h"

extern char **environ;

#define WORKER_MT   "helua.TuneWorker"
#define FRAME_MAX   0xffffffffu /* the u32 length: a setup of big tensors can pass 1 GiB */
#define MAX_WORKERS 256

static int is_helua_exe = 0; /* set by the helua executable: /proc/self/exe is helua */

void bind_worker_enable(void) {
  is_helua_exe = 1;
}

static int worker_available(lua_State *L) {
  lua_pushboolean(L, is_helua_exe);
  return 1;
}

typedef struct LWorker {
  pid_t pid; /* 0 once reaped */
  int fd;    /* the parent's end of the socket; -1 once closed */
  char device[32];
  unsigned char *buf; /* bytes read, not yet a whole frame */
  size_t len, cap;
  int status; /* waitpid status once reaped */
} LWorker;

static LWorker *check_worker(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, WORKER_MT);
}

static void reap(LWorker *w, bool kill_it) {
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
  if (w->pid > 0) {
    if (kill_it) kill(w->pid, SIGKILL);
    while (waitpid(w->pid, &w->status, 0) < 0 && errno == EINTR) {
    }
    w->pid = 0;
  }
}

static int w_gc(lua_State *L) {
  LWorker *w = check_worker(L, 1);
  reap(w, true);
  free(w->buf);
  w->buf = NULL;
  w->len = w->cap = 0;
  return 0;
}

static int worker_spawn(lua_State *L) {
  size_t n = 0;
  const char *device = luaL_checklstring(L, 1, &n);
  if (n == 0 || n >= sizeof((LWorker *)0)->device)
    return luaL_error(L, "worker_spawn: bad device name");
  if (!is_helua_exe)
    return luaL_error(L, "worker_spawn: only the helua executable starts workers (this process "
                         "loaded helua as a module)");
  LWorker *w = lua_newuserdatauv(L, sizeof *w, 0); /* safe empty state first */
  memset(w, 0, sizeof *w);
  w->fd = -1;
  luaL_setmetatable(L, WORKER_MT);
  memcpy(w->device, device, n + 1);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return luaL_error(L, "worker_spawn: socketpair failed: %s", strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
  char exe[] = "/proc/self/exe", mode[] = "--tune-worker", arg0[] = "helua-worker";
  char *argv[] = {arg0, mode, w->device, NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(sv[1]);
  if (rc != 0) {
    close(sv[0]);
    return luaL_error(L, "worker_spawn: cannot start %s: %s", exe, strerror(rc));
  }
  w->pid = pid;
  w->fd = sv[0];
  return 1;
}

/* w:send(bytes) or w:send({bytes, ...}): one frame (a list's strings are its body in order,
 * written one after another: a gigabyte setup is never concatenated). */
#define SEND_PARTS 4096

static int w_send(lua_State *L) {
  LWorker *w = check_worker(L, 1);
  size_t n = 0, np = 1;
  const char *one = NULL;
  if (lua_istable(L, 2)) {
    np = (size_t)luaL_len(L, 2);
    if (np > SEND_PARTS) return luaL_error(L, "worker %s: at most %d parts", w->device, SEND_PARTS);
    for (size_t k = 1; k <= np; k++) { /* checked first: nothing is half sent on a bad part */
      lua_geti(L, 2, (lua_Integer)k);
      size_t len = 0;
      if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "worker %s: part %d is not a string", w->device, (int)k);
      lua_tolstring(L, -1, &len);
      n += len;
      lua_pop(L, 1);
    }
  } else {
    one = luaL_checklstring(L, 2, &n);
  }
  if (w->fd < 0) return luaL_error(L, "worker %s: closed", w->device);
  if (n > FRAME_MAX) return luaL_error(L, "worker %s: frame too large", w->device);
  unsigned char hdr[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 24)};
  for (size_t k = 0; k <= np; k++) {
    const char *p = (const char *)hdr;
    size_t left = 4;
    if (k > 0 && one) {
      p = one;
      left = n;
    } else if (k > 0) {
      lua_geti(L, 2, (lua_Integer)k); /* the table holds it: the pointer stays valid */
      p = lua_tolstring(L, -1, &left);
      lua_pop(L, 1);
    }
    while (left > 0) {
      ssize_t m = send(w->fd, p, left, MSG_NOSIGNAL);
      if (m < 0) {
        if (errno == EINTR) continue;
        lua_pushnil(L);
        lua_pushfstring(L, "worker %s: send failed: %s", w->device, strerror(errno));
        return 2;
      }
      p += m;
      left -= (size_t)m;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* A whole frame in w's buffer: pushes it and drops it from the buffer. */
static bool pop_frame(lua_State *L, LWorker *w) {
  if (w->len < 4) return false;
  size_t n = (size_t)w->buf[0] | (size_t)w->buf[1] << 8 | (size_t)w->buf[2] << 16 |
             (size_t)w->buf[3] << 24;
  if (w->len < 4 + n) return false;
  lua_pushlstring(L, (const char *)w->buf + 4, n);
  memmove(w->buf, w->buf + 4 + n, w->len - 4 - n);
  w->len -= 4 + n;
  return true;
}

/* The worker at stack index idx ended (EOF): reaps it, pushes w, nil, how, detail. */
static int push_end(lua_State *L, int idx, LWorker *w) {
  reap(w, false);
  lua_pushvalue(L, idx);
  lua_pushnil(L);
  if (WIFSIGNALED(w->status)) {
    const char *name = bind_tune_signal_name(WTERMSIG(w->status));
    lua_pushstring(L, "signal");
    if (name)
      lua_pushstring(L, name);
    else
      lua_pushfstring(L, "signal %d", WTERMSIG(w->status));
  } else {
    lua_pushstring(L, "exit");
    lua_pushinteger(L, WIFEXITED(w->status) ? WEXITSTATUS(w->status) : -1);
  }
  return 4;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int worker_wait(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  double timeout = luaL_checknumber(L, 2);
  int n = (int)luaL_len(L, 1);
  if (n > MAX_WORKERS) return luaL_error(L, "worker_wait: too many workers");
  LWorker *ws[MAX_WORKERS];
  struct pollfd pf[MAX_WORKERS];
  for (int i = 0; i < n; i++) {
    lua_geti(L, 1, i + 1);
    ws[i] = check_worker(L, -1); /* stays on the stack at 2 + i + 1 */
    if (pop_frame(L, ws[i])) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      return 2;
    }
  }
  double deadline = now_s() + timeout;
  for (;;) {
    int m = 0;
    for (int i = 0; i < n; i++)
      if (ws[i]->fd >= 0) pf[m++] = (struct pollfd){.fd = ws[i]->fd, .events = POLLIN};
    if (m == 0) {
      lua_pushnil(L);
      lua_pushstring(L, "no worker is running");
      return 2;
    }
    double left = deadline - now_s();
    if (left <= 0) break;
    int r = poll(pf, (nfds_t)m, left > 1e6 ? 1000000000 : (int)(left * 1e3) + 1);
    if (r < 0 && errno != EINTR) return luaL_error(L, "worker_wait: poll: %s", strerror(errno));
    for (int i = 0, k = 0; i < n && r > 0; i++) {
      LWorker *w = ws[i];
      if (w->fd < 0) continue;
      short ev = pf[k++].revents;
      if (!ev) continue;
      if (w->cap - w->len < 65536) {
        size_t ncap = w->cap ? w->cap * 2 : 131072;
        unsigned char *nb = realloc(w->buf, ncap);
        if (!nb) return luaL_error(L, "worker_wait: out of memory");
        w->buf = nb;
        w->cap = ncap;
      }
      ssize_t got = read(w->fd, w->buf + w->len, w->cap - w->len);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return push_end(L, 2 + i + 1, w);
      w->len += (size_t)got;
      if (pop_frame(L, w)) {
        lua_pushvalue(L, 2 + i + 1);
        lua_insert(L, -2);
        return 2;
      }
    }
  }
  lua_pushnil(L);
  lua_pushstring(L, "timeout");
  return 2;
}

static int w_kill(lua_State *L) {
  reap(check_worker(L, 1), true);
  return 0;
}

static int w_pid(lua_State *L) {
  lua_pushinteger(L, check_worker(L, 1)->pid);
  return 1;
}

static int w_device(lua_State *L) {
  lua_pushstring(L, check_worker(L, 1)->device);
  return 1;
}

static int w_alive(lua_State *L) {
  lua_pushboolean(L, check_worker(L, 1)->fd >= 0);
  return 1;
}

static int cpu_count(lua_State *L) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  lua_pushinteger(L, n > 0 ? n : 1);
  return 1;
}

static int worker_enter(lua_State *L) {
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core); /* a faulting candidate leaves no core file */
  bind_tune_mark_worker();
  return 0;
}

/* ---- IR and tensors as bytes ------------------------------------------------------------------ */

static int ir_serialize_l(lua_State *L) {
  IrFunc *f = bind_ir_check_func(L, 1);
  unsigned char *bytes = NULL;
  size_t len = 0;
  Diag d = {0};
  if (ir_serialize(f, &bytes, &len, &d)) return luaL_error(L, "%s", d.msg);
  lua_pushlstring(L, (const char *)bytes, len); /* may raise: copy the bytes out first */
  mem_free(bytes);
  return 1;
}

static int ir_deserialize_l(lua_State *L) {
  size_t len = 0;
  const char *s = luaL_checklstring(L, 1, &len);
  IrFunc **slot = bind_ir_push_func(L);
  Diag d = {0};
  if (ir_deserialize((const unsigned char *)s, len, IR_PHASE_TRACED, slot, &d))
    return luaL_error(L, "%s", d.msg);
  return 1;
}

/* Header: u8 dtype, u8 ndim, ndim x (i64 size, i64 stride); then the elements the view spans,
 * from its first element (strides must be non-negative). */
/* The elements a tensor's view spans (0 when empty); -1 for negative strides. */
static int64_t pack_span(const Tensor *t) {
  int64_t span = 1;
  for (int i = 0; i < t->ndim; i++) {
    if (t->strides[i] < 0) return -1;
    if (t->sizes[i] == 0) span = 0;
  }
  if (span)
    for (int i = 0; i < t->ndim; i++)
      span += (t->sizes[i] - 1) * t->strides[i];
  return span;
}

static bool on_device(const Tensor *t) {
  return t->storage->ops->device != TENSOR_DEVICE_CPU && rt_cuda_tensor_is_device(t);
}

static int tensor_pack(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  bool dev = on_device(t);
  if (t->storage->ops->device != TENSOR_DEVICE_CPU && !dev)
    return luaL_error(L, "tensor_pack: a %s tensor (only host and cuda tensors travel to workers)",
                      t->storage->ops->name);
  int64_t span = pack_span(t);
  if (span < 0) return luaL_error(L, "tensor_pack: negative strides");
  size_t el = tensor_dtype_size(t->dtype), hdr = 2 + (size_t)t->ndim * 16;
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, hdr + (size_t)span * el);
  p[0] = (char)t->dtype;
  p[1] = (char)t->ndim;
  for (int i = 0; i < t->ndim; i++) {
    memcpy(p + 2 + i * 16, &t->sizes[i], 8);
    memcpy(p + 2 + i * 16 + 8, &t->strides[i], 8);
  }
  if (span && dev) {
    Diag d = {0};
    if (rt_cuda_copy_dtoh(p + hdr, rt_cuda_tensor_ptr(t), (size_t)span * el, &d))
      return luaL_error(L, "tensor_pack: %s", d.msg);
  } else if (span) {
    memcpy(p + hdr, tensor_data(t), (size_t)span * el);
  }
  luaL_pushresultsize(&b, hdr + (size_t)span * el);
  return 1;
}

/* core.tensor_same_bytes(t, bytes): t's header and data against a tensor_pack result, a
 * device tensor copied back in 16 MiB pieces (no whole host copy). */
static int tensor_same_bytes(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  size_t len = 0;
  const char *p = luaL_checklstring(L, 2, &len);
  bool dev = on_device(t);
  int64_t span = pack_span(t);
  size_t el = tensor_dtype_size(t->dtype), hdr = 2 + (size_t)t->ndim * 16;
  bool same = span >= 0 && len == hdr + (size_t)span * el && p[0] == (char)t->dtype &&
              p[1] == (char)t->ndim;
  for (int i = 0; same && i < t->ndim; i++)
    same = memcmp(p + 2 + i * 16, &t->sizes[i], 8) == 0 &&
           memcmp(p + 2 + i * 16 + 8, &t->strides[i], 8) == 0;
  size_t n = same ? (size_t)span * el : 0;
  if (same && !dev) {
    same = n == 0 || memcmp(p + hdr, tensor_data(t), n) == 0;
  } else if (same && n) {
    size_t piece = (size_t)16 << 20;
    char *buf = mem_alloc(piece < n ? piece : n);
    if (!buf) return luaL_error(L, "tensor_same_bytes: out of memory");
    Diag d = {0};
    int rc = HL_OK;
    for (size_t off = 0; same && off < n; off += piece) {
      size_t m = n - off < piece ? n - off : piece;
      if ((rc = rt_cuda_copy_dtoh(buf, rt_cuda_tensor_ptr(t) + off, m, &d)) != HL_OK) break;
      same = memcmp(buf, p + hdr + off, m) == 0;
    }
    mem_free(buf);
    if (rc != HL_OK) return luaL_error(L, "tensor_same_bytes: %s", d.msg);
  }
  lua_pushboolean(L, same);
  return 1;
}

/* core.tensor_unpack(bytes [, at, len]): the tensor packed in bytes, or in bytes[at, at+len)
 * (1-based: a tensor inside a bigger frame, read in place). */
static int tensor_unpack(lua_State *L) {
  size_t len = 0;
  const unsigned char *p = (const unsigned char *)luaL_checklstring(L, 1, &len);
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer at = luaL_checkinteger(L, 2), n = luaL_checkinteger(L, 3);
    if (at < 1 || n < 0 || (size_t)(at - 1) > len || (size_t)n > len - (size_t)(at - 1))
      return luaL_error(L, "tensor_unpack: the range is outside the bytes");
    p += at - 1;
    len = (size_t)n;
  }
  if (len < 2 || p[0] >= DT_COUNT || p[1] > TENSOR_MAX_DIMS || len < 2 + (size_t)p[1] * 16)
    return luaL_error(L, "tensor_unpack: malformed header");
  DType dt = (DType)p[0];
  int ndim = p[1];
  int64_t sizes[TENSOR_MAX_DIMS], strides[TENSOR_MAX_DIMS], span = 1;
  for (int i = 0; i < ndim; i++) {
    memcpy(&sizes[i], p + 2 + i * 16, 8);
    memcpy(&strides[i], p + 2 + i * 16 + 8, 8);
    if (sizes[i] < 0 || strides[i] < 0) return luaL_error(L, "tensor_unpack: malformed header");
    if (sizes[i] == 0) span = 0;
  }
  if (span)
    for (int i = 0; i < ndim; i++)
      span += (sizes[i] - 1) * strides[i];
  size_t el = tensor_dtype_size(dt), hdr = 2 + (size_t)ndim * 16;
  if (len != hdr + (size_t)span * el) return luaL_error(L, "tensor_unpack: wrong length");
  Tensor *flat = NULL;
  Diag d = {0};
  int64_t n1 = span ? span : 1;
  if (tensor_empty(&n1, 1, dt, &flat, &d)) return luaL_error(L, "%s", d.msg);
  if (span) memcpy(tensor_data(flat), p + hdr, (size_t)span * el);
  flat->ndim = ndim;
  memcpy(flat->sizes, sizes, sizeof(int64_t) * (size_t)ndim);
  memcpy(flat->strides, strides, sizeof(int64_t) * (size_t)ndim);
  bind_tensor_push(L, flat);
  return 1;
}

typedef struct ErrPart {
  Tensor *a, *b;
  double err;
  int rc;
  Diag d;
} ErrPart;

static void *err_part(void *arg) {
  ErrPart *p = arg;
  p->rc = tensor_max_abs_err(p->a, p->b, &p->err, &p->d);
  return NULL;
}

#define ERR_THREADS 64

static int max_abs_err_par(lua_State *L) {
  Tensor *a = bind_tensor_check(L, 1), *b = bind_tensor_check(L, 2);
  lua_Integer threads = luaL_optinteger(L, 3, 1);
  if (a->storage->ops->device != TENSOR_DEVICE_CPU || b->storage->ops->device != TENSOR_DEVICE_CPU)
    return luaL_error(L, "max_abs_err_par: host tensors only");
  bool same = a->ndim == b->ndim;
  for (int i = 0; same && i < a->ndim; i++)
    same = a->sizes[i] == b->sizes[i];
  if (!same) return luaL_error(L, "max_abs_err_par: the tensors differ in shape");
  int64_t rows = a->ndim ? a->sizes[0] : 1;
  if (threads > ERR_THREADS) threads = ERR_THREADS;
  if (threads > rows) threads = rows;
  if (threads < 1) threads = 1;
  ErrPart parts[ERR_THREADS];
  pthread_t tids[ERR_THREADS];
  bool started[ERR_THREADS] = {0};
  int n = 0, rc = HL_OK;
  Diag d = {0};
  memset(parts, 0, sizeof parts);
  for (int t = 0; t < threads && rc == HL_OK; t++, n++) { /* rows [first, first + len) */
    int64_t first = rows * t / threads, len = rows * (t + 1) / threads - first;
    if (a->ndim == 0) {
      parts[t].a = (Tensor *)a;
      parts[t].b = (Tensor *)b;
    } else if (tensor_narrow(a, 0, first, len, &parts[t].a, &d) ||
               tensor_narrow(b, 0, first, len, &parts[t].b, &d)) {
      rc = HL_ERR;
    }
  }
  for (int t = 0; rc == HL_OK && t < n; t++)
    started[t] = t > 0 && pthread_create(&tids[t], NULL, err_part, &parts[t]) == 0;
  for (int t = 0; rc == HL_OK && t < n; t++)
    if (!started[t]) err_part(&parts[t]); /* part 0, and any thread that could not start */
  double err = 0;
  for (int t = 0; t < n; t++) {
    if (started[t]) pthread_join(tids[t], NULL);
    if (rc == HL_OK && parts[t].rc != HL_OK) {
      rc = HL_ERR;
      d = parts[t].d;
    }
    if (isnan(parts[t].err) || isnan(err)) err = NAN;
    else if (parts[t].err > err) err = parts[t].err;
    if (a->ndim) {
      tensor_free(parts[t].a);
      tensor_free(parts[t].b);
    }
  }
  if (rc != HL_OK) return luaL_error(L, "max_abs_err_par: %s", d.msg);
  lua_pushnumber(L, err);
  return 1;
}

#define LOCK_MT "helua.GpuLock"

typedef struct LLock {
  int fd; /* -1 once closed */
} LLock;

static int gpu_lock(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  LLock *l = lua_newuserdatauv(L, sizeof *l, 0);
  l->fd = -1; /* safe empty state first */
  luaL_setmetatable(L, LOCK_MT);
  l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (l->fd < 0) return luaL_error(L, "gpu_lock: cannot open %s: %s", path, strerror(errno));
  return 1;
}

static int lock_hold(lua_State *L) {
  LLock *l = luaL_checkudata(L, 1, LOCK_MT);
  bool on = lua_toboolean(L, 2);
  if (l->fd < 0) return luaL_error(L, "gpu_lock: closed");
  while (flock(l->fd, on ? LOCK_EX : LOCK_UN) != 0)
    if (errno != EINTR) return luaL_error(L, "gpu_lock: flock: %s", strerror(errno));
  return 0;
}

static int lock_gc(lua_State *L) {
  LLock *l = luaL_checkudata(L, 1, LOCK_MT);
  if (l->fd >= 0) close(l->fd); /* releases the lock too */
  l->fd = -1;
  return 0;
}

void bind_worker_register(lua_State *L) {
  static const luaL_Reg methods[] = {{"send", w_send},     {"kill", w_kill},
                                     {"pid", w_pid},       {"device", w_device},
                                     {"alive", w_alive},   {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", w_gc}, {"__close", w_gc}, {NULL, NULL}};
  luaL_newmetatable(L, WORKER_MT);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  static const luaL_Reg lock_methods[] = {{"hold", lock_hold}, {NULL, NULL}};
  static const luaL_Reg lock_meta[] = {{"__gc", lock_gc}, {"__close", lock_gc}, {NULL, NULL}};
  luaL_newmetatable(L, LOCK_MT);
  luaL_setfuncs(L, lock_meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, lock_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"worker_spawn", worker_spawn}, {"worker_wait", worker_wait},
                                 {"worker_enter", worker_enter}, {"ir_serialize", ir_serialize_l},
                                 {"ir_deserialize", ir_deserialize_l},
                                 {"tensor_pack", tensor_pack},   {"tensor_unpack", tensor_unpack},
                                 {"tensor_same_bytes", tensor_same_bytes},
                                 {"cpu_count", cpu_count},
                                 {"max_abs_err_par", max_abs_err_par},
                                 {"gpu_lock", gpu_lock},
                                 {"worker_available", worker_available},
                                 {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
