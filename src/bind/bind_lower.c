/* Lua binding of the compiler: core.compile(irfunc, config, target) and the compiled kernel
 * userdata ("helua.CompiledKernel": launch, code, info), for the cpu and cuda targets. Part of
 * src/bind (the Lua boundary); the lowering is src/lower, the runtimes src/rt and src/rt/cuda.
 *
 * The config is a plain table with Helion's field names (lists 1-based, loop orders 1-based,
 * helua.none for none): block_sizes, reduction_loops, loop_orders, range_unroll_factors,
 * vector_width, cpu_threads (cpu); num_warps, num_stages, pid_type, l2_groupings,
 * num_sm_multiplier, maxnreg, load_eviction_policies (cuda); dot_precision ("ieee" | "tf32",
 * the kernel setting, which kernel_compile.lua adds; cuda only); and user tunables by name. Known
 * fields the target does not read are ignored, as Helion ignores other backends' knobs;
 * :info().ignored lists them. Launch arguments come in IR argument order: tensors (checked
 * against the dtype, sizes and strides the kernel was specialized on; device tensors for cuda)
 * and numbers. A cuda kernel's module loads on its first launch, so PTX needs no GPU. */
#include "bind/bind_lower.h"
#include "bind/bind_lower_internal.h"

#include <lauxlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "bind/bind_ir.h"
#include "bind/bind_tensor.h"
#include "config/config.h"
#include "lower/lower.h"
#include "rt/cpu/rt_cpu.h"
#include "rt/cuda/rt_cuda.h"
#include "rt/rt_time.h"



int bind_lower_raise(lua_State *L, const Diag *d) {
  if (d->file[0] && d->line > 0) return luaL_error(L, "%s:%d: %s", d->file, d->line, d->msg);
  return luaL_error(L, "%s", d->msg);
}

LKernel *bind_lower_check_kernel(lua_State *L) {
  LKernel *k = luaL_checkudata(L, 1, KERNEL_MT);
  if (!k->art || (!k->rk && !k->cuda)) luaL_error(L, "the compiled kernel was closed");
  return k;
}

/* ---- the config table ------------------------------------------------------------------------ */

static bool is_none(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TSTRING) return strcmp(lua_tostring(L, idx), "none") == 0;
  if (lua_type(L, idx) == LUA_TBOOLEAN) return !lua_toboolean(L, idx);
  if (!lua_istable(L, idx)) return false;
  bool none = false;
  if (luaL_getmetafield(L, idx, "__name") != LUA_TNIL) {
    none = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "helua.none") == 0;
    lua_pop(L, 1);
  }
  if (!none && luaL_getmetafield(L, idx, "__tostring") != LUA_TNIL) {
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
    none = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "json.null") == 0;
    lua_pop(L, 1);
  }
  return none;
}

static lua_Integer field_int(lua_State *L, int idx, const char *field, int pos) {
  int isint = 0;
  lua_Integer v = lua_tointegerx(L, idx, &isint);
  if (!isint) {
    if (pos > 0)
      luaL_error(L, "config field %s[%d] must be an integer, got %s", field, pos,
                 luaL_typename(L, idx));
    luaL_error(L, "config field %s must be an integer, got %s", field, luaL_typename(L, idx));
  }
  return v;
}

/* The list at idx (a table), its length checked against cap. */
static int field_list(lua_State *L, int idx, const char *field) {
  if (!lua_istable(L, idx))
    luaL_error(L, "config field %s must be a list, got %s", field, luaL_typename(L, idx));
  lua_Integer n = luaL_len(L, idx);
  if (n > LOWER_MAX_LIST)
    luaL_error(L, "config field %s has %I entries (at most %d)", field, n, LOWER_MAX_LIST);
  return (int)n;
}

static void read_ints(lua_State *L, int idx, const char *field, int64_t *out, int *n,
                      bool none_ok) {
  *n = field_list(L, idx, field);
  for (int i = 1; i <= *n; i++) {
    lua_geti(L, idx, i);
    if (none_ok && (lua_isnil(L, -1) || is_none(L, -1)))
      out[i - 1] = 0;
    else
      out[i - 1] = field_int(L, -1, field, i);
    lua_pop(L, 1);
  }
}

static void read_orders(lua_State *L, int idx, LowerConfig *cfg) {
  cfg->nloop_orders = field_list(L, idx, "loop_orders");
  for (int i = 1; i <= cfg->nloop_orders; i++) {
    lua_geti(L, idx, i);
    int t = lua_gettop(L);
    char name[32];
    snprintf(name, sizeof name, "loop_orders[%d]", i);
    int len = field_list(L, t, name);
    if (len > IR_MAX_RANK)
      luaL_error(L, "config field %s has %d entries (at most %d)", name, len, IR_MAX_RANK);
    cfg->loop_order_len[i - 1] = len;
    for (int k = 1; k <= len; k++) {
      lua_geti(L, t, k);
      cfg->loop_orders[i - 1][k - 1] = (int)field_int(L, -1, name, k) - 1;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

static void note_ignored(LKernel *k, const char *name) {
  size_t n = strlen(k->ignored);
  if (n + strlen(name) + 3 < sizeof k->ignored)
    snprintf(k->ignored + n, sizeof k->ignored - n, "%s%s", n ? "," : "", name);
}

static int read_choice(lua_State *L, int idx, const char *field, int pos,
                       const char *const *names, int n) {
  const char *v = lua_tostring(L, idx);
  if (lua_type(L, idx) != LUA_TSTRING) {
    if (pos > 0)
      luaL_error(L, "config field %s[%d] must be a string, got %s", field, pos,
                 luaL_typename(L, idx));
    luaL_error(L, "config field %s must be a string, got %s", field, luaL_typename(L, idx));
  }
  for (int i = 0; i < n; i++)
    if (strcmp(v, names[i]) == 0) return i;
  char all[160] = "";
  for (int i = 0; i < n; i++)
    snprintf(all + strlen(all), sizeof all - strlen(all), "%s\"%s\"", i ? ", " : "", names[i]);
  if (pos > 0) luaL_error(L, "config field %s[%d] = \"%s\" is not one of %s", field, pos, v, all);
  return luaL_error(L, "config field %s = \"%s\" is not one of %s", field, v, all);
}

/* The knobs of the cuda target; true when name is one of them. */
static bool read_cuda_knob(lua_State *L, int v, const char *name, LowerConfig *cfg) {
  static const char *const evictions[] = {"", "first", "last"};
  if (strcmp(name, "num_warps") == 0) {
    cfg->num_warps = (int)field_int(L, v, name, 0);
    if (cfg->num_warps == 0) cfg->num_warps = -1; /* 0 means unset inside; keep it an error */
  } else if (strcmp(name, "num_stages") == 0) {
    cfg->num_stages = (int)field_int(L, v, name, 0);
    if (cfg->num_stages == 0) cfg->num_stages = -1;
  } else if (strcmp(name, "pid_type") == 0) {
    cfg->pid_type = read_choice(L, v, name, 0, lower_pid_type_names, 4);
  } else if (strcmp(name, "num_sm_multiplier") == 0) {
    cfg->num_sm_multiplier = (int)field_int(L, v, name, 0);
    if (cfg->num_sm_multiplier == 0) cfg->num_sm_multiplier = -1;
  } else if (strcmp(name, "wgmma") == 0) {
    if (!lua_isboolean(L, v)) luaL_error(L, "config field wgmma must be true or false");
    cfg->wgmma = lua_toboolean(L, v) ? 2 : 1;
  } else if (strcmp(name, "maxnreg") == 0) {
    cfg->maxnreg = is_none(L, v) ? 0 : (int)field_int(L, v, name, 0);
  } else if (strcmp(name, "l2_groupings") == 0) {
    int64_t tmp[LOWER_MAX_LIST];
    read_ints(L, v, name, tmp, &cfg->nl2_groupings, false);
    for (int i = 0; i < cfg->nl2_groupings; i++)
      cfg->l2_groupings[i] = (int)tmp[i];
  } else if (strcmp(name, "load_eviction_policies") == 0) {
    cfg->nload_eviction_policies = field_list(L, v, name);
    for (int i = 1; i <= cfg->nload_eviction_policies; i++) {
      lua_geti(L, v, i);
      cfg->load_eviction_policies[i - 1] = read_choice(L, -1, name, i, evictions, 3);
      lua_pop(L, 1);
    }
  } else {
    return false;
  }
  return true;
}

static void read_config(lua_State *L, int idx, LowerConfig *cfg, LKernel *k) {
  lower_config_init(cfg);
  cfg->base = 1;
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int v = lua_gettop(L);
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "config keys must be field names (strings)");
    const char *name = lua_tostring(L, -2);
    if (strcmp(name, "block_sizes") == 0) {
      int n;
      read_ints(L, v, name, cfg->block_sizes, &n, false);
      cfg->nblock_sizes = n;
    } else if (strcmp(name, "reduction_loops") == 0) {
      int n;
      read_ints(L, v, name, cfg->reduction_loops, &n, true);
      cfg->nreduction_loops = n;
    } else if (strcmp(name, "loop_orders") == 0) {
      read_orders(L, v, cfg);
    } else if (strcmp(name, "range_unroll_factors") == 0) {
      int64_t tmp[LOWER_MAX_LIST];
      int n;
      read_ints(L, v, name, tmp, &n, true);
      cfg->nrange_unroll_factors = n;
      for (int i = 0; i < n; i++)
        cfg->range_unroll_factors[i] = (int)tmp[i];
    } else if (strcmp(name, "dot_precision") == 0) { /* the kernel setting; the CPU is exact */
      int p = read_choice(L, v, name, 0, lower_dot_precision_names, 2);
      if (k->cuda) cfg->dot_precision = p;
    } else if (k->cuda && read_cuda_knob(L, v, name, cfg)) {
      /* read */
    } else if (k->cuda && (strcmp(name, "vector_width") == 0 || strcmp(name, "cpu_threads") == 0)) {
      note_ignored(k, name); /* the CPU's knobs */
    } else if (strcmp(name, "vector_width") == 0) {
      cfg->vector_width = (int)field_int(L, v, name, 0);
    } else if (strcmp(name, "cpu_threads") == 0) {
      cfg->cpu_threads = (int)field_int(L, v, name, 0);
    } else if (cfg_known_field(name)) {
      note_ignored(k, name); /* another backend's knob, or one this lowering does not read */
    } else if (!lua_isboolean(L, v) && !lua_isnumber(L, v)) {
      luaL_error(L, "config field %s is neither a %s knob nor a user tunable (a number or boolean)",
                 name, k->cuda ? "cuda" : "CPU");
    } else {
      if (cfg->ntunables == LOWER_MAX_TUNABLES) luaL_error(L, "too many config fields");
      LowerTunable *t = &cfg->tunables[cfg->ntunables++];
      snprintf(t->name, sizeof t->name, "%s", name);
      t->value = lua_isboolean(L, v) ? lua_toboolean(L, v) : lua_tonumber(L, v);
    }
    lua_pop(L, 1);
  }
}

/* ---- core.compile ---------------------------------------------------------------------------- */

static int core_compile(lua_State *L) {
  lua_settop(L, 3);
  IrFunc *f = bind_ir_check_func(L, 1);
  const char *target = luaL_optstring(L, 3, "cpu");
  bool cuda = strcmp(target, "cuda") == 0;
  if (strcmp(target, "cpu") != 0 && !cuda)
    return luaL_error(L, "compile: unknown target \"%s\" (expected \"cpu\" or \"cuda\")", target);
  LKernel *k = lua_newuserdatauv(L, sizeof *k, 0); /* safe empty state first */
  memset(k, 0, sizeof *k);
  luaL_setmetatable(L, KERNEL_MT);
  k->cuda = cuda;
  LowerConfig cfg;
  read_config(L, 2, &cfg, k);
  Diag d = {0};
  if (lower_compile(f, &cfg, cuda ? LOWER_TARGET_CUDA : LOWER_TARGET_CPU, &k->art, &d))
    return bind_lower_raise(L, &d);
  if (cuda) return 1; /* the module loads on the first launch: PTX needs no GPU */
  int64_t t0 = rt_now_ns();
  if (rt_cpu_load(k->art->object, k->art->object_len, k->art->program_sym, k->art->grid_sym, &k->rk,
                  &d))
    return bind_lower_raise(L, &d);
  k->jit_ms = (double)(rt_now_ns() - t0) * 1e-6;
  return 1;
}

/* What the launch runs: FNV-1a of the object code (cuda: the PTX) and its launch shape, as
 * text (info().binary_key; the tuner dedupes on it). */
#define KEY_LEN 96

static void binary_key(const LowerArtifact *a, bool cuda, char out[KEY_LEN]) {
  uint64_t h = 0xcbf29ce484222325ull;
  const unsigned char *o = (const unsigned char *)(cuda ? a->ptx : a->object);
  size_t len = cuda ? (a->ptx ? strlen(a->ptx) : 0) : a->object_len;
  for (size_t i = 0; i < len; i++)
    h = (h ^ o[i]) * 0x100000001b3ull;
  if (cuda)
    snprintf(out, KEY_LEN, "%016llx:%ux%ux%u:%ux%ux%u:%u", (unsigned long long)h, a->grid3[0],
             a->grid3[1], a->grid3[2], a->block[0], a->block[1], a->block[2], a->shared_bytes);
  else
    snprintf(out, KEY_LEN, "%016llx:%d:%zu", (unsigned long long)h, lower_artifact_threads(a),
             (size_t)a->frame_bytes);
}

/* ---- core.compile_many / core.compile_start: lowering on threads ---------------------------- */

/* core.compile_many(irfunc, {config, ...}, threads [, target]) -> {kernel | error text, ...}:
 * lowers every config on up to `threads` threads at once (each lower_compile has its own LLVM
 * context and target machine and reads the function without changing it), then, for the cpu
 * target, loads each object on this thread (the JIT); a cuda kernel's module loads on its first
 * launch, as core.compile's. The tuner's workers compile a batch of candidates this way.
 * core.compile_start(same arguments) -> job: the same lowering on `threads` background threads
 * while this thread goes on (a GPU worker times the previous candidates meanwhile);
 * job:wait() -> the same table, the compile's wall seconds and the seconds the PTX JIT took on
 * the threads (summed). A job collected unwaited is joined first.
 * core.compile_start(func, configs, threads, "cuda", true [, skip]): each thread also loads its
 * module (the driver's PTX JIT, cuModuleLoadDataEx, on that thread's current context) right
 * after the lowering, so a GPU worker's launching thread never waits for the JIT; a load that
 * fails here is retried, and reported, by the first launch. A module whose binary_key is in
 * the list skip (keys the caller has measured already) or repeats an earlier one of this job
 * is not loaded: the caller reuses that measurement, and the JIT's time goes to new binaries
 * (a launch of such a kernel still loads it then). */
#define MANY_MAX 256
#define MANY_SKIP 4096
#define JOB_MT   "helua.CompileJob"

typedef struct ManyJob {
  const IrFunc *f;
  LowerConfig *cfgs;
  LowerArtifact **arts;
  Diag *diags;
  LKernel **ks;
  LowerTarget target;
  bool load;          /* cuda: the threads also load each module (the PTX JIT) */
  RtCudaKernel **cks; /* the modules loaded so (NULL: not loaded) */
  double *jit_ms;
  char (*keys)[KEY_LEN]; /* skip list, then the keys this job loaded: nkeys of them */
  int nkeys;
  pthread_mutex_t keys_lock;
  int n;
  atomic_int next;
  pthread_t tids[64];
  int started;   /* background threads running */
  bool joined;   /* the threads are done and the artifacts handed to their kernels */
  int64_t t0_ns;
  _Atomic int64_t end_ns;
} ManyJob;

/* Whether a's binary is new to job j (then remembered); false for a key in the skip list or
 * one this job met already. */
static bool first_of_key(ManyJob *j, const LowerArtifact *a) {
  char key[KEY_LEN];
  binary_key(a, true, key);
  pthread_mutex_lock(&j->keys_lock);
  bool seen = false;
  for (int i = 0; i < j->nkeys && !seen; i++)
    seen = strcmp(j->keys[i], key) == 0;
  if (!seen) memcpy(j->keys[j->nkeys++], key, KEY_LEN);
  pthread_mutex_unlock(&j->keys_lock);
  return !seen;
}

static void *many_worker(void *arg) {
  ManyJob *j = arg;
  for (;;) {
    int i = atomic_fetch_add(&j->next, 1);
    if (i >= j->n) break;
    if (lower_compile(j->f, &j->cfgs[i], j->target, &j->arts[i], &j->diags[i]) != HL_OK) {
      j->arts[i] = NULL;
      continue;
    }
    if (j->load && j->arts[i]->ptx && !first_of_key(j, j->arts[i])) continue;
    if (j->load && j->arts[i]->ptx) {
      Diag ignored = {0}; /* the first launch loads it again and reports the error */
      int64_t t0 = rt_now_ns();
      if (rt_cuda_kernel_load(j->arts[i]->ptx, j->arts[i]->entry, &j->cks[i], &ignored))
        j->cks[i] = NULL;
      else
        j->jit_ms[i] = (double)(rt_now_ns() - t0) * 1e-6;
    }
  }
  atomic_store(&j->end_ns, rt_now_ns());
  return NULL;
}

/* Joins the threads and hands every artifact to its kernel userdata (so that nothing leaks
 * whatever raises later). Idempotent; never raises. */
static void many_join(ManyJob *j) {
  if (j->joined) return;
  for (int t = 0; t < j->started; t++)
    pthread_join(j->tids[t], NULL);
  j->started = 0;
  for (int i = 0; i < j->n; i++) {
    j->ks[i]->art = j->arts[i];
    j->arts[i] = NULL;
    if (j->cks && j->cks[i]) {
      if (j->ks[i]->art) {
        j->ks[i]->ck = j->cks[i];
        j->ks[i]->jit_ms = j->jit_ms[i];
      } else {
        rt_cuda_kernel_free(j->cks[i]);
      }
      j->cks[i] = NULL;
    }
  }
  j->joined = true;
}

static int job_gc(lua_State *L) {
  ManyJob *j = luaL_checkudata(L, 1, JOB_MT);
  if (j->ks) many_join(j);
  return 0;
}

/* Reads the arguments (func at 1, configs at 2, threads at 3, target at 4), pushes a job with
 * its kernels in their safe empty state (uservalue 1: the function, 2: the result table), and
 * starts `background` threads (0: none; the caller works). */
static ManyJob *many_start(lua_State *L, bool background) {
  IrFunc *f = bind_ir_check_func(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer threads = luaL_optinteger(L, 3, 1);
  const char *target = luaL_optstring(L, 4, "cpu");
  bool cuda = strcmp(target, "cuda") == 0;
  if (strcmp(target, "cpu") != 0 && !cuda)
    luaL_error(L, "compile_many: unknown target \"%s\" (expected \"cpu\" or \"cuda\")", target);
  bool load = cuda && background && lua_toboolean(L, 5);
  int nskip = load && lua_istable(L, 6) ? (int)luaL_len(L, 6) : 0;
  if (nskip > MANY_SKIP) nskip = MANY_SKIP; /* only fewer reuses past that */
  lua_settop(L, 6);
  int n = (int)luaL_len(L, 2);
  if (n > MANY_MAX) luaL_error(L, "compile_many: at most %d configs", MANY_MAX);
  if (threads < 1) threads = 1;
  if (threads > n) threads = n ? n : 1;
  if (threads > 64) threads = 64;
  ManyJob *j = lua_newuserdatauv(L, sizeof *j, 2);
  int jx = lua_gettop(L); /* the job (7), then its result table (8) */
  memset(j, 0, sizeof *j);
  luaL_setmetatable(L, JOB_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, jx, 1);
  /* every array belongs to Lua (userdata in the result table's keys): an error never leaks it */
  size_t m = (size_t)(n ? n : 1);
  lua_createtable(L, n, 4);
  int rx = lua_gettop(L);
  j->cfgs = lua_newuserdatauv(L, sizeof *j->cfgs * m, 0);
  lua_setfield(L, rx, "_cfgs");
  j->arts = lua_newuserdatauv(L, sizeof *j->arts * m, 0);
  lua_setfield(L, rx, "_arts");
  j->diags = lua_newuserdatauv(L, sizeof *j->diags * m, 0);
  lua_setfield(L, rx, "_diags");
  LKernel **ks = lua_newuserdatauv(L, sizeof *ks * m, 0);
  lua_setfield(L, rx, "_ks");
  if (load) {
    j->cks = lua_newuserdatauv(L, sizeof *j->cks * m, 0);
    lua_setfield(L, rx, "_cks");
    j->jit_ms = lua_newuserdatauv(L, sizeof *j->jit_ms * m, 0);
    lua_setfield(L, rx, "_jit_ms");
    memset(j->cks, 0, sizeof *j->cks * m);
    memset(j->jit_ms, 0, sizeof *j->jit_ms * m);
    /* the skip list's keys, then room for every key this job loads */
    j->keys = lua_newuserdatauv(L, sizeof *j->keys * ((size_t)nskip + m), 0);
    lua_setfield(L, rx, "_keys");
    for (int i = 0; i < nskip; i++) {
      lua_geti(L, 6, i + 1);
      const char *k = lua_tostring(L, -1);
      snprintf(j->keys[j->nkeys++], KEY_LEN, "%s", k ? k : "");
      lua_pop(L, 1);
    }
    pthread_mutex_init(&j->keys_lock, NULL);
  }
  for (int i = 0; i < n; i++) { /* a kernel userdata per config, in its safe empty state */
    ks[i] = lua_newuserdatauv(L, sizeof *ks[i], 0);
    memset(ks[i], 0, sizeof *ks[i]);
    ks[i]->cuda = cuda;
    luaL_setmetatable(L, KERNEL_MT);
    lua_rawseti(L, rx, i + 1);
    lua_geti(L, 2, i + 1);
    read_config(L, lua_gettop(L), &j->cfgs[i], ks[i]);
    lua_pop(L, 1);
    j->arts[i] = NULL;
    j->diags[i] = (Diag){0};
  }
  lua_setiuservalue(L, jx, 2); /* pops the result table: the job is on top */
  j->f = f;
  j->n = n;
  j->target = cuda ? LOWER_TARGET_CUDA : LOWER_TARGET_CPU;
  j->load = load;
  atomic_init(&j->next, 0);
  j->t0_ns = rt_now_ns();
  atomic_init(&j->end_ns, j->t0_ns);
  j->ks = ks; /* from here on __gc joins */
  int want = background ? (int)threads : (int)threads - 1;
  for (int t = 0; t < want; t++)
    if (pthread_create(&j->tids[j->started], NULL, many_worker, j) == 0) j->started++;
  return j;
}

/* Pushes the result table of job j (at index idx): joins, then loads the cpu objects. */
static void many_finish(lua_State *L, int idx, ManyJob *j) {
  bool first = !j->joined;
  many_join(j);
  lua_getiuservalue(L, idx, 2);
  int out = lua_gettop(L);
  if (!first) return;
  for (int i = 0; i < j->n; i++) {
    LKernel *k = j->ks[i];
    Diag d = {0};
    if (!k->art) {
      lua_pushstring(L, j->diags[i].msg[0] ? j->diags[i].msg : "compile failed");
      lua_rawseti(L, out, i + 1);
      continue;
    }
    if (k->cuda) continue; /* the module loads on the first launch */
    int64_t t0 = rt_now_ns();
    if (rt_cpu_load(k->art->object, k->art->object_len, k->art->program_sym, k->art->grid_sym,
                    &k->rk, &d)) {
      lua_pushstring(L, d.msg);
      lua_rawseti(L, out, i + 1);
      continue;
    }
    k->jit_ms = (double)(rt_now_ns() - t0) * 1e-6;
  }
}

static int core_compile_many(lua_State *L) {
  ManyJob *j = many_start(L, false);
  many_worker(j); /* this thread works too */
  many_finish(L, lua_gettop(L), j);
  return 1;
}

static int core_compile_start(lua_State *L) {
  many_start(L, true);
  return 1;
}

/* job:wait() -> the result table, the compile's wall seconds (start to the last thread's end),
 * the JIT's seconds on the threads (summed; 0 unless the job loads). */
static int job_wait(lua_State *L) {
  ManyJob *j = luaL_checkudata(L, 1, JOB_MT);
  if (!j->ks) return luaL_error(L, "wait: not a started compile");
  if (j->started == 0 && !j->joined) many_worker(j); /* no thread could start: compile here */
  many_finish(L, 1, j);
  lua_pushnumber(L, (double)(atomic_load(&j->end_ns) - j->t0_ns) * 1e-9);
  double jit = 0;
  for (int i = 0; j->jit_ms && i < j->n; i++)
    jit += j->jit_ms[i];
  lua_pushnumber(L, jit * 1e-3);
  return 3;
}

/* ---- code and info --------------------------------------------------------------------------- */

static int k_code(lua_State *L) {
  LKernel *k = bind_lower_check_kernel(L);
  const char *stage = luaL_optstring(L, 2, "llvm");
  const char *text = NULL;
  if (strcmp(stage, "ir") == 0)
    text = k->art->ir;
  else if (strcmp(stage, "lowered") == 0)
    text = k->art->lowered;
  else if (strcmp(stage, "llvm") == 0)
    text = k->art->llvm;
  else if (strcmp(stage, "ptx") == 0) {
    if (!k->cuda)
      return luaL_error(L, "code: stage \"ptx\" belongs to the cuda target (this kernel was "
                           "compiled for the cpu)");
    text = k->art->ptx;
  } else if (strcmp(stage, "asm") == 0) {
    Diag d = {0};
    if (lower_artifact_asm(k->art, &text, &d)) return bind_lower_raise(L, &d);
  } else {
    return luaL_error(L, "code: unknown stage \"%s\" (ir, lowered, llvm, asm, ptx)", stage);
  }
  bool llvm = strcmp(stage, "llvm") == 0, ptx = strcmp(stage, "ptx") == 0;
  if (text && (llvm || ptx || strcmp(stage, "asm") == 0)) {
    /* each line ends with the kernel-file line it came from, as the ir stage's do */
    LowerTextKind kind = llvm ? LOWER_TEXT_LLVM : ptx || k->cuda ? LOWER_TEXT_PTX : LOWER_TEXT_X86;
    char *noted = NULL;
    Diag d = {0};
    if (lower_annotate_lines(text, kind, &noted, &d)) return bind_lower_raise(L, &d);
    lua_pushstring(L, noted);
    mem_free(noted);
    return 1;
  }
  lua_pushstring(L, text ? text : "");
  return 1;
}

static void set_num(lua_State *L, const char *key, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, key);
}

static void set_int(lua_State *L, const char *key, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, key);
}

static int k_info(lua_State *L) {
  LKernel *k = bind_lower_check_kernel(L);
  const LowerArtifact *a = k->art;
  const LowerBinding *b = &a->bind;
  lua_createtable(L, 0, 16);
  lua_pushstring(L, a->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, k->cuda ? "cuda" : "cpu");
  lua_setfield(L, -2, "target");
  if (k->cuda) {
    set_int(L, "num_warps", b->num_warps);
    set_int(L, "num_stages", b->num_stages);
    lua_pushstring(L, lower_pid_type_names[b->pid_type]);
    lua_setfield(L, -2, "pid_type");
    set_int(L, "maxnreg", b->maxnreg);
    lua_pushboolean(L, b->wgmma);
    lua_setfield(L, -2, "wgmma");
    lua_pushstring(L, lower_dot_precision_names[b->dot_precision]);
    lua_setfield(L, -2, "dot_precision");
    set_int(L, "shared_bytes", a->shared_bytes);
    set_int(L, "ptx_bytes", a->ptx ? (lua_Integer)strlen(a->ptx) : 0);
    lua_createtable(L, 3, 0);
    for (int i = 0; i < 3; i++) {
      lua_pushinteger(L, a->grid3[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "grid_dims");
    lua_createtable(L, 3, 0);
    for (int i = 0; i < 3; i++) {
      lua_pushinteger(L, a->block[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "block_dims");
    lua_pushstring(L, a->entry);
    lua_setfield(L, -2, "entry");
  }
  lua_createtable(L, a->nargs, 0); /* argument names in launch order */
  for (int i = 0; i < a->nargs; i++) {
    lua_pushstring(L, a->args[i].name);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "args");
  lua_pushstring(L, a->cpu);
  lua_setfield(L, -2, "cpu");
  lua_createtable(L, 0, LOWER_NPASSES + 2);
  for (int p = 0; p < LOWER_NPASSES; p++)
    set_num(L, lower_pass_name((LowerPassId)p), a->ms[p]);
  set_num(L, "jit", k->jit_ms);
  lua_setfield(L, -2, "compile_ms");
  set_num(L, "total_ms", a->total_ms + k->jit_ms);
  set_int(L, "grid", a->grid);
  set_int(L, "threads", a->threads);
  set_int(L, "frame_bytes", (lua_Integer)a->frame_bytes);
  set_int(L, "object_bytes", (lua_Integer)a->object_len);
  {
    char key[KEY_LEN];
    binary_key(a, k->cuda, key);
    lua_pushstring(L, key);
    lua_setfield(L, -2, "binary_key");
  }
  lua_createtable(L, b->nslots, 0);
  for (int i = 0; i < b->nslots; i++) {
    lua_pushinteger(L, b->block[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "block_sizes");
  lua_createtable(L, b->nrdims, 0);
  for (int i = 0; i < b->nrdims; i++) {
    if (b->rchunk[i])
      lua_pushinteger(L, b->rchunk[i]);
    else
      lua_pushliteral(L, "none");
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "reduction_loops");
  set_int(L, "vector_width", b->vector_width);
  lua_pushstring(L, k->ignored);
  lua_setfield(L, -2, "ignored");
  set_int(L, "launches", k->launches);
  if (k->launches) {
    set_int(L, "programs", k->last.programs);
    set_int(L, "launch_threads", k->last.threads);
    set_num(L, "launch_ms", (double)k->last.ns * 1e-6);
  }
  return 1;
}

static int k_close(lua_State *L) {
  LKernel *k = luaL_checkudata(L, 1, KERNEL_MT);
  rt_cpu_free(k->rk);
  rt_cuda_kernel_free(k->ck);
  lower_artifact_free(k->art);
  k->ck = NULL;
  k->rk = NULL;
  k->art = NULL;
  return 0;
}

static int k_tostring(lua_State *L) {
  LKernel *k = luaL_checkudata(L, 1, KERNEL_MT);
  if (!k->art)
    lua_pushliteral(L, "helua.CompiledKernel (closed)");
  else
    lua_pushfstring(L, "helua.CompiledKernel %s (%s, %d programs)", k->art->name,
                    k->cuda ? "cuda" : "cpu", (int)k->art->grid);
  return 1;
}

static const luaL_Reg kernel_methods[] = {
    {"launch", bind_lower_launch}, {"launch_frame", bind_lower_launch_frame}, {"code", k_code}, {"info", k_info}, {"close", k_close}, {NULL, NULL},
};

static const luaL_Reg kernel_meta[] = {
    {"__gc", k_close},
    {"__close", k_close},
    {"__tostring", k_tostring},
    {NULL, NULL},
};

static const luaL_Reg core_funcs[] = {
    {"compile", core_compile},
    {"compile_many", core_compile_many},
    {"compile_start", core_compile_start},
    {NULL, NULL},
};

void bind_lower_register(lua_State *L) {
  static const luaL_Reg job_meta[] = {{"__gc", job_gc}, {"__close", job_gc}, {NULL, NULL}};
  static const luaL_Reg job_methods[] = {{"wait", job_wait}, {NULL, NULL}};
  luaL_newmetatable(L, JOB_MT);
  luaL_setfuncs(L, job_meta, 0);
  luaL_newlib(L, job_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newmetatable(L, KERNEL_MT);
  luaL_setfuncs(L, kernel_meta, 0);
  luaL_newlib(L, kernel_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_setfuncs(L, core_funcs, 0);
}
