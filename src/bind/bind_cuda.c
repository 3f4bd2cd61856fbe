/* Lua binding of the CUDA runtime (src/rt/cuda): availability and devices, device tensors and the
 * device guard (bind_cuda_launch.c has modules, launches and events). Part of src/bind.
 *
 * Device tensors are ordinary "helua.Tensor" userdata whose storage is on the GPU. The host
 * tensor library reads storage as host memory, so this file installs a guard around every C
 * tensor function registered before it (core.*, the methods in core.Tensor, the metamethods):
 * a call that gets a cuda tensor (as an argument, or inside a small table argument such as
 * tile specs) is refused with "move it to the CPU with t:cpu()" — unless the function only reads
 * sizes and strides (views), has a device implementation here (cpu, to, clone, contiguous,
 * copy_, fill_, reshape, flatten, __tostring), or only returns Lua values (item, get, totable,
 * allclose, rel_err, max_abs_err: those run on a host copy). The guard is deny-by-default, so a
 * host op added later cannot read device memory by mistake. */
#include "bind/bind_cuda.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "bind/bind_tensor.h"
#include "rt/cuda/rt_cuda.h"

#define TENSOR_METATABLE "helua.Tensor"

static int raise(lua_State *L, const Diag *d) { return luaL_error(L, "%s", d->msg); }

static bool is_device_tensor(lua_State *L, int idx) {
  Tensor *t = bind_tensor_test(L, idx);
  return t && rt_cuda_tensor_is_device(t);
}

/* ---- availability and devices ------------------------------------------------------------- */

/* core.cuda_available() -> true | false, reason. Loads the driver on first use. */
static int core_cuda_available(lua_State *L) {
  Diag d;
  if (rt_cuda_available(&d)) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushstring(L, d.msg);
  return 2;
}

static int core_cuda_device_count(lua_State *L) {
  Diag d;
  int n = 0;
  if (rt_cuda_device_count(&n, &d)) return raise(L, &d);
  lua_pushinteger(L, n);
  return 1;
}

/* core.cuda_select_device(ordinal): the device this process's context is made on (before the
 * first CUDA use; a tuning worker per GPU). Raises when a context exists on another device. */
static int core_cuda_select_device(lua_State *L) {
  Diag d;
  if (rt_cuda_select_device((int)luaL_checkinteger(L, 1), &d)) return raise(L, &d);
  return 0;
}

/* core.cuda_current_device() -> the ordinal the context is (or will be) on. */
static int core_cuda_current_device(lua_State *L) {
  lua_pushinteger(L, rt_cuda_current_device());
  return 1;
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* core.cuda_device_info([ordinal = 0]) -> {name=, cc=, sm_count=, total_bytes=, ...} */
static int core_cuda_device_info(lua_State *L) {
  int ordinal = (int)luaL_optinteger(L, 1, 0);
  RtCudaDeviceInfo info;
  Diag d;
  if (rt_cuda_device_info(ordinal, &info, &d)) return raise(L, &d);
  lua_createtable(L, 0, 20);
  lua_pushstring(L, info.name);
  lua_setfield(L, -2, "name");
  lua_pushfstring(L, "%d.%d", info.cc_major, info.cc_minor);
  lua_setfield(L, -2, "cc");
  lua_pushfstring(L, "sm_%d%d", info.cc_major, info.cc_minor);
  lua_setfield(L, -2, "arch");
  lua_pushstring(L, rt_cuda_library_path());
  lua_setfield(L, -2, "library");
  set_int(L, "ordinal", info.ordinal);
  set_int(L, "cc_major", info.cc_major);
  set_int(L, "cc_minor", info.cc_minor);
  set_int(L, "sm_count", info.sm_count);
  set_int(L, "total_bytes", (lua_Integer)info.total_bytes);
  set_int(L, "max_threads_per_block", info.max_threads_per_block);
  set_int(L, "warp_size", info.warp_size);
  set_int(L, "regs_per_block", info.regs_per_block);
  set_int(L, "shared_per_block", info.shared_per_block);
  set_int(L, "shared_per_block_optin", info.shared_per_block_optin);
  set_int(L, "shared_per_sm", info.shared_per_sm);
  set_int(L, "l2_bytes", info.l2_bytes);
  set_int(L, "clock_khz", info.clock_khz);
  set_int(L, "mem_clock_khz", info.mem_clock_khz);
  set_int(L, "mem_bus_bits", info.mem_bus_bits);
  set_int(L, "driver_version", info.driver_version);
  return 1;
}

static int core_cuda_mem_info(lua_State *L) {
  size_t free_b = 0, total_b = 0;
  Diag d;
  if (rt_cuda_mem_info(&free_b, &total_b, &d)) return raise(L, &d);
  lua_pushinteger(L, (lua_Integer)free_b);
  lua_pushinteger(L, (lua_Integer)total_b);
  return 2;
}

static int core_cuda_synchronize(lua_State *L) {
  Diag d;
  if (rt_cuda_synchronize(&d)) return raise(L, &d);
  return 0;
}

/* core.cuda_mem_stats() -> {allocated=, cached=, hits=, misses=, driver_allocs=, releases=,
 * oom_retries=}: the caching allocator's counters (bytes and counts; zeros before any use). */
static int core_cuda_mem_stats(lua_State *L) {
  RtCudaMemStats st;
  rt_cuda_mem_stats(&st);
  const struct {
    const char *name;
    lua_Integer v;
  } fields[] = {{"allocated", (lua_Integer)st.allocated}, {"cached", (lua_Integer)st.cached},
                {"hits", st.hits}, {"misses", st.misses}, {"driver_allocs", st.driver_allocs},
                {"releases", st.releases}, {"oom_retries", st.oom_retries}};
  lua_createtable(L, 0, (int)(sizeof fields / sizeof fields[0]));
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    lua_pushinteger(L, fields[i].v);
    lua_setfield(L, -2, fields[i].name);
  }
  return 1;
}

/* core.cuda_empty_cache(): every cached device block back to the driver. */
static int core_cuda_empty_cache(lua_State *L) {
  Diag d;
  if (rt_cuda_empty_cache(&d)) return raise(L, &d);
  return 0;
}

/* ---- device tensors ----------------------------------------------------------------------- */

/* "cuda", "cuda:0" -> true; "cpu" -> false; anything else raises. */
static bool check_device_name(lua_State *L, int idx) {
  const char *s = luaL_checkstring(L, idx);
  if (strcmp(s, "cpu") == 0) return false;
  if (strcmp(s, "cuda") == 0 || strcmp(s, "cuda:0") == 0) return true;
  if (strncmp(s, "cuda:", 5) == 0)
    luaL_error(L, "device '%s': only cuda:0 is supported for now", s);
  luaL_error(L, "unknown device '%s' (devices: \"cpu\", \"cuda\")", s);
  return false;
}

/* Device bytes and Lua's collector. A device tensor's userdata is a few dozen bytes to Lua, so
 * the collector would run no sooner for the device memory it holds: a loop making 1 MB device
 * outputs would keep thousands of dead ones alive until the Lua heap alone grew enough. Every
 * new device storage therefore adds its bytes to the collector's debt (lua_gc LUA_GCSTEP with a
 * size in KB, "as if that much had been allocated"): the collector paces itself as if the
 * userdata were as big as its device memory, and a cycle starts once the device bytes made
 * since the last one pass the pause (200% of the live Lua heap by default), so dead outputs go
 * back to the caching allocator within a cycle. A stopped collector (collectgarbage("stop"))
 * stays stopped. Bytes under 1 KB carry over to the next tensor. */
static _Thread_local size_t gc_pending_bytes;

static void gc_account(lua_State *L, const Tensor *t) {
  if (!rt_cuda_tensor_is_device(t) || t->storage->refcount != 1) return; /* a view: no new bytes */
  gc_pending_bytes += t->storage->nbytes;
  if (gc_pending_bytes < 1024) return;
  size_t kb = gc_pending_bytes >> 10;
  gc_pending_bytes &= 1023;
  if (!lua_gc(L, LUA_GCISRUNNING)) return;
  lua_gc(L, LUA_GCSTEP, kb > (size_t)INT_MAX ? INT_MAX : (int)kb);
}

void bind_cuda_push_new(lua_State *L, Tensor *t) {
  bind_tensor_push(L, t); /* on the stack first: the collector step below cannot free it */
  gc_account(L, t);
}

/* Pushes the result of a C call that made a tensor, or raises. */
static int push_result(lua_State *L, int rc, Tensor *t, const Diag *d) {
  if (rc) return raise(L, d);
  bind_cuda_push_new(L, t);
  return 1;
}

/* core.to_device(t, "cuda" | "cpu") -> t itself when it is there already, else a copy. */
static int core_to_device(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  bool want_cuda = check_device_name(L, 2);
  if (want_cuda == rt_cuda_tensor_is_device(t)) {
    lua_settop(L, 1);
    return 1;
  }
  Tensor *r = NULL;
  Diag d;
  int rc = want_cuda ? rt_cuda_tensor_to_device(t, &r, &d) : rt_cuda_tensor_to_host(t, &r, &d);
  return push_result(L, rc, r, &d);
}

/* core.cuda_empty(shape_table, dtype) */
static int core_cuda_empty(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int64_t sizes[TENSOR_MAX_DIMS];
  int n = (int)luaL_len(L, 1);
  if (n > TENSOR_MAX_DIMS) return luaL_error(L, "tensors have at most %d dims, got %d", TENSOR_MAX_DIMS, n);
  for (int i = 0; i < n; i++) {
    lua_geti(L, 1, i + 1);
    sizes[i] = luaL_checkinteger(L, -1);
    lua_pop(L, 1);
  }
  Diag d;
  DType dt;
  if (tensor_dtype_from_name(luaL_optstring(L, 2, "float32"), &dt, &d)) return raise(L, &d);
  Tensor *t = NULL;
  int rc = rt_cuda_tensor_empty(sizes, n, dt, &t, &d); /* before reading t */
  return push_result(L, rc, t, &d);
}

/* core.cuda_pin(t) -> a page-locked host copy (fast transfers). */
static int core_cuda_pin(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1), *r = NULL;
  Diag d;
  int rc = rt_cuda_tensor_pin(t, &r, &d); /* before reading r */
  return push_result(L, rc, r, &d);
}

/* ---- the device guard: device implementations --------------------------------------------- */

static int dev_cpu(lua_State *L) {
  lua_settop(L, 1);
  lua_pushliteral(L, "cpu");
  return core_to_device(L);
}

static int dev_clone(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1), *r = NULL;
  Diag d;
  int rc = rt_cuda_tensor_empty(t->sizes, t->ndim, t->dtype, &r, &d);
  if (rc == HL_OK && (rc = rt_cuda_tensor_copy(r, t, &d)) != HL_OK) tensor_free(r);
  return push_result(L, rc, r, &d);
}

static int dev_contiguous(lua_State *L) {
  if (tensor_is_contiguous(bind_tensor_check(L, 1))) {
    lua_settop(L, 1);
    return 1;
  }
  return dev_clone(L);
}

/* t:to(dtype) on the GPU: the cast runs on the host (device kernels for it come later). */
static int dev_to(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  const char *s = luaL_checkstring(L, 2);
  if (strcmp(s, "cpu") == 0) return dev_cpu(L);
  if (strcmp(s, "cuda") == 0) {
    lua_settop(L, 1);
    return 1;
  }
  Diag d;
  DType dt;
  if (tensor_dtype_from_name(s, &dt, &d)) return raise(L, &d);
  Tensor *h = NULL, *c = NULL, *r = NULL;
  int rc = rt_cuda_tensor_to_host(t, &h, &d);
  if (rc == HL_OK) rc = tensor_cast(h, dt, &c, &d);
  if (rc == HL_OK) rc = rt_cuda_tensor_to_device(c, &r, &d);
  tensor_free(h);
  tensor_free(c);
  return push_result(L, rc, r, &d);
}

static int dev_copy_(lua_State *L) {
  Tensor *dst = bind_tensor_check(L, 1), *src = bind_tensor_check(L, 2);
  Diag d;
  if (rt_cuda_tensor_copy(dst, src, &d)) return raise(L, &d);
  lua_settop(L, 1);
  return 1;
}

static int dev_fill_(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  Diag d;
  int rc;
  if (lua_isboolean(L, 2)) rc = rt_cuda_tensor_fill(t, 0, true, lua_toboolean(L, 2), &d);
  else if (lua_isinteger(L, 2)) rc = rt_cuda_tensor_fill(t, 0, true, lua_tointeger(L, 2), &d);
  else rc = rt_cuda_tensor_fill(t, luaL_checknumber(L, 2), false, 0, &d);
  if (rc) return raise(L, &d);
  lua_settop(L, 1);
  return 1;
}

/* reshape / flatten: a view when the strides allow, else a contiguous device copy viewed. */
static int reshape_common(lua_State *L, const int64_t *sizes, int n) {
  Tensor *t = bind_tensor_check(L, 1), *r = NULL, *c = NULL;
  Diag d;
  if (tensor_view(t, sizes, n, &r, &d) == HL_OK) return push_result(L, HL_OK, r, &d);
  int rc = rt_cuda_tensor_to_host(t, &c, &d);
  Tensor *dc = NULL;
  if (rc == HL_OK) rc = rt_cuda_tensor_to_device(c, &dc, &d);
  if (rc == HL_OK) rc = tensor_view(dc, sizes, n, &r, &d);
  tensor_free(c);
  tensor_free(dc);
  return push_result(L, rc, r, &d);
}

static int dev_reshape(lua_State *L) {
  int64_t sizes[TENSOR_MAX_DIMS];
  int n = 0;
  if (lua_istable(L, 2)) {
    n = (int)luaL_len(L, 2);
    if (n > TENSOR_MAX_DIMS) return luaL_error(L, "tensors have at most %d dims", TENSOR_MAX_DIMS);
    for (int i = 0; i < n; i++) {
      lua_geti(L, 2, i + 1);
      sizes[i] = luaL_checkinteger(L, -1);
      lua_pop(L, 1);
    }
  } else {
    n = lua_gettop(L) - 1;
    if (n > TENSOR_MAX_DIMS) return luaL_error(L, "tensors have at most %d dims", TENSOR_MAX_DIMS);
    for (int i = 0; i < n; i++) sizes[i] = luaL_checkinteger(L, i + 2);
  }
  return reshape_common(L, sizes, n);
}

static int dev_flatten(lua_State *L) {
  int64_t n = tensor_numel(bind_tensor_check(L, 1));
  return reshape_common(L, &n, 1);
}

static int dev_tostring(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1), *h = NULL;
  Diag d;
  if (rt_cuda_tensor_to_host(t, &h, &d)) return raise(L, &d);
  bind_tensor_push(L, h);
  size_t len;
  const char *s = luaL_tolstring(L, -1, &len); /* the host tensor's own __tostring */
  if (len == 0 || s[len - 1] != ')') return 1;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addlstring(&b, s, len - 1);
  luaL_addstring(&b, ", device='cuda')");
  luaL_pushresult(&b);
  return 1;
}

/* ---- the device guard ---------------------------------------------------------------------- */

/* REFUSE: an error naming the call. VIA_HOST: device arguments are read back and the host
 * function's results (numbers, tables) returned. ROUND_TRIP: the same, and every tensor result
 * is moved back to the GPU (a tensor method on a device tensor gives a device tensor, as in
 * PyTorch; correct but slow: two copies and a host computation). */
typedef enum GuardMode { GUARD_REFUSE, GUARD_VIA_HOST, GUARD_ROUND_TRIP } GuardMode;

static const char *const device_safe[] = { /* read sizes and strides only */
    "size", "shape", "stride", "dim", "numel", "is_contiguous", "element_size", "transpose",
    "permute", "slice", "narrow", "expand", "unsqueeze", "squeeze", "view",
    "__gc", "__close", "__len", "__lt", "__le", "__index", "__newindex", "__name", "__metatable",
    /* core functions that take no tensors, or any device */
    "is_tensor", "dtypes", "promote", "versions", "flags", "flag", "clock", "ir_builder",
    "ir_ops", "config_space", "tensor_pack", "tensor_same_bytes", NULL};

static const char *const via_host[] = {"item", "get", "totable", "allclose", "rel_err",
                                       "max_abs_err", NULL};
/* tensor methods that write into a tensor: a host copy would lose the write, so they are refused */
static const char *const writes[] = {"set", "store_tile", "atomic_add_tile", NULL};
/* core functions that compute a tensor from tensors (the others refuse device tensors) */
static const char *const pure_core[] = {"matmul", "softmax", "log_softmax", "layer_norm", "rms_norm",
                                        "attention", "cross_entropy", "where", NULL};

static const struct {
  const char *name;
  lua_CFunction fn;
} device_impl[] = {{"cpu", dev_cpu}, {"to", dev_to}, {"clone", dev_clone},
                   {"contiguous", dev_contiguous}, {"copy_", dev_copy_}, {"fill_", dev_fill_},
                   {"reshape", dev_reshape}, {"flatten", dev_flatten},
                   {"__tostring", dev_tostring}, {NULL, NULL}};

static bool listed(const char *const *list, const char *name) {
  for (int i = 0; list[i]; i++)
    if (strcmp(list[i], name) == 0) return true;
  return false;
}

/* 0, or the argument holding a device tensor (directly or in a table of up to
 * TENSOR_MAX_DIMS entries: tile specs, index lists). */
static int device_arg(lua_State *L, int n) {
  for (int i = 1; i <= n; i++) {
    int t = lua_type(L, i);
    if (t == LUA_TUSERDATA && is_device_tensor(L, i)) return i;
    if (t != LUA_TTABLE || lua_rawlen(L, i) > TENSOR_MAX_DIMS) continue;
    int len = (int)lua_rawlen(L, i);
    for (int k = 1; k <= len; k++) {
      bool dev = lua_rawgeti(L, i, k) == LUA_TUSERDATA && is_device_tensor(L, -1);
      lua_pop(L, 1);
      if (dev) return i;
    }
  }
  return 0;
}

/* Upvalues: 1 the original function, 2 its name, 3 the GuardMode, 4 a device implementation
 * or nil. */
static int guard_call(lua_State *L) {
  int n = lua_gettop(L);
  int dev = device_arg(L, n);
  if (dev && !lua_isnil(L, lua_upvalueindex(4))) {
    lua_pushvalue(L, lua_upvalueindex(4));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
  }
  GuardMode mode = (GuardMode)lua_tointeger(L, lua_upvalueindex(3));
  bool moved = false; /* device arguments were read back: tensor results go back (ROUND_TRIP) */
  if (dev && mode != GUARD_REFUSE) {
    for (int i = 1; i <= n; i++) {
      if (!is_device_tensor(L, i)) continue;
      Tensor *h = NULL;
      Diag d;
      if (rt_cuda_tensor_to_host(bind_tensor_test(L, i), &h, &d)) return raise(L, &d);
      bind_tensor_push(L, h);
      lua_replace(L, i);
    }
    dev = device_arg(L, n); /* device tensors inside tables are still refused */
    moved = mode == GUARD_ROUND_TRIP;
  }
  if (dev)
    return luaL_error(L, "%s: this tensor is on cuda, and host operations need cpu tensors; "
                         "move it to the CPU with t:cpu()", lua_tostring(L, lua_upvalueindex(2)));
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  int top = lua_gettop(L);
  for (int i = 1; moved && i <= top; i++) {
    Tensor *h = lua_type(L, i) == LUA_TUSERDATA ? bind_tensor_test(L, i) : NULL;
    if (!h || is_device_tensor(L, i)) continue;
    Tensor *r = NULL;
    Diag d;
    if (rt_cuda_tensor_to_device(h, &r, &d)) return raise(L, &d);
    bind_cuda_push_new(L, r); /* its device bytes count for the collector, as every new one's */
    lua_replace(L, i);
  }
  return top;
}

/* Wraps every C function of the table at idx in guard_call, except the device-safe ones;
 * methods (tensor methods and metamethods, not core functions) make the round trip. */
static void guard_table(lua_State *L, int idx, bool methods) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_iscfunction(L, -1)) {
      const char *name = lua_tostring(L, -2);
      if (!listed(device_safe, name)) {
        lua_pushvalue(L, -1);    /* 1: the original */
        lua_pushvalue(L, -3);    /* 2: the name */
        GuardMode mode = listed(via_host, name) ? GUARD_VIA_HOST
                         : (methods && !listed(writes, name)) || (!methods && listed(pure_core, name))
                             ? GUARD_ROUND_TRIP
                             : GUARD_REFUSE;
        lua_pushinteger(L, mode);
        lua_pushnil(L);          /* 4: the device implementation */
        for (int i = 0; device_impl[i].name; i++)
          if (strcmp(device_impl[i].name, name) == 0) {
            lua_pop(L, 1);
            lua_pushcfunction(L, device_impl[i].fn);
          }
        lua_pushcclosure(L, guard_call, 4);
        lua_pushvalue(L, -3);
        lua_insert(L, -2);
        lua_rawset(L, idx); /* replacing an existing key's value keeps lua_next valid */
      }
    }
    lua_pop(L, 1);
  }
}

/* The tensor metatable's __index, answering `device` from the storage. Upvalues: 1 the
 * original __index, 2 the string "device". */
static int index_with_device(lua_State *L) {
  if (lua_rawequal(L, 2, lua_upvalueindex(2))) {
    Tensor *t = bind_tensor_test(L, 1);
    if (t) {
      lua_pushstring(L, t->storage->ops->name);
      return 1;
    }
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

static void install_guard(lua_State *L, int core) {
  lua_getfield(L, core, "Tensor");
  if (lua_istable(L, -1)) guard_table(L, lua_gettop(L), true);
  lua_pop(L, 1);
  guard_table(L, core, false);
  if (luaL_getmetatable(L, TENSOR_METATABLE) == LUA_TTABLE) {
    int mt = lua_gettop(L);
    guard_table(L, mt, true);
    lua_getfield(L, mt, "__index");
    lua_pushliteral(L, "device");
    lua_pushcclosure(L, index_with_device, 2);
    lua_setfield(L, mt, "__index");
  }
  lua_pop(L, 1);
}

/* ---- registration ------------------------------------------------------------------------- */

static const luaL_Reg cuda_funcs[] = {
    {"cuda_available", core_cuda_available}, {"cuda_device_count", core_cuda_device_count},
    {"cuda_device_info", core_cuda_device_info}, {"cuda_mem_info", core_cuda_mem_info},
    {"cuda_synchronize", core_cuda_synchronize}, {"to_device", core_to_device},
    {"cuda_empty", core_cuda_empty}, {"cuda_pin", core_cuda_pin},
    {"cuda_select_device", core_cuda_select_device},
    {"cuda_current_device", core_cuda_current_device},
    {"cuda_mem_stats", core_cuda_mem_stats}, {"cuda_empty_cache", core_cuda_empty_cache},
    {NULL, NULL}};

void bind_cuda_register(lua_State *L) {
  int core = lua_gettop(L);
  install_guard(L, core); /* before our own functions, which take device tensors */
  luaL_setfuncs(L, cuda_funcs, 0);
  bind_cuda_launch_register(L);
  bind_fast_register(L);
}
