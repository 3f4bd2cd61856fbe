/* Lua binding of CUDA modules and launches: core.cuda_module (PTX text → CudaModule, with the
 * JIT's logs), CudaFunc (a kernel with its parameter signature; launch, attributes) and
 * core.cuda_event (CudaEvent: record, synchronize, elapsed_ms). Part of src/bind (the Lua
 * boundary); bind_cuda.c has the devices and device tensors. Every userdata is created empty
 * before its resource is acquired, and released by __gc / __close. */
#include "bind/bind_cuda.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "bind/bind_tensor.h"
#include "rt/cuda/rt_cuda.h"

#define MODULE_MT "helua.CudaModule"
#define FUNC_MT "helua.CudaFunc"
#define EVENT_MT "helua.CudaEvent"
#define MAX_LAUNCH_ARGS 64

static int raise(lua_State *L, const Diag *d) { return luaL_error(L, "%s", d->msg); }

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* ---- modules and functions ---------------------------------------------------------------- */

/* A loaded module; its uservalue 1 is the JIT's info log (a string). */
typedef struct ModuleBox {
  RtCudaModule *m;
  float jit_ms;
} ModuleBox;

typedef struct FuncBox {
  RtCudaFunc *f;
  char sig[MAX_LAUNCH_ARGS + 1];
  char name[128];
} FuncBox;

static ModuleBox *check_module(lua_State *L, int idx) {
  ModuleBox *b = luaL_checkudata(L, idx, MODULE_MT);
  if (!b->m) luaL_argerror(L, idx, "the cuda module was unloaded");
  return b;
}

/* core.cuda_module(ptx) -> CudaModule; raises with the driver error and ptxas' log. */
static int core_cuda_module(lua_State *L) {
  size_t len;
  const char *ptx = luaL_checklstring(L, 1, &len);
  ModuleBox *b = lua_newuserdatauv(L, sizeof *b, 1); /* empty first: safe to collect */
  b->m = NULL;
  b->jit_ms = 0;
  luaL_setmetatable(L, MODULE_MT);
  RtCudaJitLog *log = lua_newuserdatauv(L, sizeof *log, 0); /* scratch, collected */
  Diag d;
  if (rt_cuda_module_load_ptx(ptx, len, &b->m, log, &d)) return raise(L, &d);
  b->jit_ms = log->wall_ms;
  lua_pushstring(L, log->info);
  lua_setiuservalue(L, -3, 1);
  lua_pop(L, 1);
  return 1;
}

static int module_gc(lua_State *L) {
  ModuleBox *b = luaL_checkudata(L, 1, MODULE_MT);
  Diag ignored;
  rt_cuda_module_unload(b->m, &ignored);
  b->m = NULL;
  return 0;
}

static int module_unload(lua_State *L) {
  ModuleBox *b = check_module(L, 1);
  Diag d;
  int rc = rt_cuda_module_unload(b->m, &d);
  b->m = NULL;
  if (rc) return raise(L, &d);
  return 0;
}

/* m:info_log() -> the JIT's info log (registers, spills, ...); m:jit_ms() -> its wall time. */
static int module_info_log(lua_State *L) {
  luaL_checkudata(L, 1, MODULE_MT);
  lua_getiuservalue(L, 1, 1);
  return 1;
}

static int module_jit_ms(lua_State *L) {
  ModuleBox *b = luaL_checkudata(L, 1, MODULE_MT);
  lua_pushnumber(L, b->jit_ms);
  return 1;
}

/* m:func(name, sig) -> CudaFunc. sig has one letter per kernel parameter: p (a cuda tensor:
 * its device address), i (int32), l (int64), f (float32), d (float64). */
static int module_func(lua_State *L) {
  ModuleBox *mb = check_module(L, 1);
  const char *name = luaL_checkstring(L, 2);
  size_t n;
  const char *sig = luaL_optlstring(L, 3, "", &n);
  if (n > MAX_LAUNCH_ARGS) return luaL_error(L, "m:func: at most %d parameters", MAX_LAUNCH_ARGS);
  for (size_t i = 0; i < n; i++)
    if (!strchr("pilfd", sig[i]))
      return luaL_error(L, "m:func: signature letter '%c' (parameter %d) is not one of p i l f d "
                           "(cuda tensor, int32, int64, float32, float64)", sig[i], (int)i + 1);
  FuncBox *fb = lua_newuserdatauv(L, sizeof *fb, 1);
  fb->f = NULL;
  luaL_setmetatable(L, FUNC_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1); /* the function keeps its module alive */
  Diag d;
  if (rt_cuda_module_function(mb->m, name, &fb->f, &d)) return raise(L, &d);
  memcpy(fb->sig, sig, n + 1);
  snprintf(fb->name, sizeof fb->name, "%s", name);
  return 1;
}

static FuncBox *check_func(lua_State *L, int idx) {
  FuncBox *fb = luaL_checkudata(L, idx, FUNC_MT);
  lua_getiuservalue(L, idx, 1);
  ModuleBox *mb = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!fb->f || !mb || !mb->m) luaL_argerror(L, idx, "the kernel's module was unloaded");
  return fb;
}

/* An integer or a table of 1..3 integers, as x, y, z (missing ones are 1). */
static void check_dim3(lua_State *L, int idx, const char *what, unsigned out[3]) {
  out[0] = out[1] = out[2] = 1;
  if (lua_isinteger(L, idx)) {
    lua_Integer v = lua_tointeger(L, idx);
    if (v < 1 || v > 0x7fffffff) luaL_error(L, "launch: %s %I is out of range", what, v);
    out[0] = (unsigned)v;
    return;
  }
  luaL_checktype(L, idx, LUA_TTABLE);
  int n = (int)luaL_len(L, idx);
  if (n < 1 || n > 3) luaL_error(L, "launch: %s needs 1 to 3 sizes, got %d", what, n);
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    lua_Integer v = luaL_checkinteger(L, -1);
    if (v < 1 || v > 0x7fffffff) luaL_error(L, "launch: %s size %d (%I) is out of range", what, i + 1, v);
    out[i] = (unsigned)v;
    lua_pop(L, 1);
  }
}

/* f:launch(grid, block, {args...} [, shared_bytes]). Asynchronous: use an event or
 * core.cuda_synchronize() to wait (and to see the kernel's own errors). */
static int func_launch(lua_State *L) {
  FuncBox *fb = check_func(L, 1);
  RtCudaLaunch l;
  check_dim3(L, 2, "grid", l.grid);
  check_dim3(L, 3, "block", l.block);
  luaL_checktype(L, 4, LUA_TTABLE);
  l.shared_bytes = (unsigned)luaL_optinteger(L, 5, 0);
  int n = (int)strlen(fb->sig), given = (int)luaL_len(L, 4);
  if (given != n)
    return luaL_error(L, "launch '%s': the kernel takes %d arguments (signature \"%s\"), got %d",
                      fb->name, n, fb->sig, given);
  union {
    uint64_t p;
    int32_t i;
    int64_t l;
    float f;
    double d;
  } vals[MAX_LAUNCH_ARGS];
  void *params[MAX_LAUNCH_ARGS];
  for (int i = 0; i < n; i++) {
    lua_geti(L, 4, i + 1); /* left on the stack: tensors stay referenced through the launch */
    int top = lua_gettop(L);
    switch (fb->sig[i]) {
    case 'p': {
      Tensor *t = bind_tensor_test(L, top);
      if (!t || !rt_cuda_tensor_is_device(t))
        return luaL_error(L, "launch '%s': argument %d must be a cuda tensor, got %s", fb->name,
                          i + 1, t ? "a cpu tensor (move it with t:cuda())" : luaL_typename(L, top));
      vals[i].p = rt_cuda_tensor_ptr(t);
      break;
    }
    case 'i': {
      lua_Integer v = luaL_checkinteger(L, top);
      if (v < INT32_MIN || v > INT32_MAX)
        return luaL_error(L, "launch '%s': argument %d (%I) does not fit int32", fb->name, i + 1, v);
      vals[i].i = (int32_t)v;
      break;
    }
    case 'l': vals[i].l = (int64_t)luaL_checkinteger(L, top); break;
    case 'f': vals[i].f = (float)luaL_checknumber(L, top); break;
    default: vals[i].d = (double)luaL_checknumber(L, top); break;
    }
    params[i] = &vals[i];
  }
  Diag d;
  if (rt_cuda_launch(fb->f, &l, params, &d)) return raise(L, &d);
  return 0;
}

/* f:attributes() -> {num_regs=, static_shared_bytes=, local_bytes=, const_bytes=,
 * max_threads_per_block=} */
static int func_attributes(lua_State *L) {
  FuncBox *fb = check_func(L, 1);
  RtCudaFuncAttrs a;
  Diag d;
  if (rt_cuda_func_attrs(fb->f, &a, &d)) return raise(L, &d);
  lua_createtable(L, 0, 5);
  set_int(L, "num_regs", a.num_regs);
  set_int(L, "static_shared_bytes", a.static_shared_bytes);
  set_int(L, "local_bytes", a.local_bytes);
  set_int(L, "const_bytes", a.const_bytes);
  set_int(L, "max_threads_per_block", a.max_threads_per_block);
  return 1;
}

/* ---- events ------------------------------------------------------------------------------- */

typedef struct EventBox {
  RtCudaEvent *e;
} EventBox;

static RtCudaEvent *check_event(lua_State *L, int idx) {
  EventBox *b = luaL_checkudata(L, idx, EVENT_MT);
  if (!b->e) luaL_argerror(L, idx, "the event was destroyed");
  return b->e;
}

static int core_cuda_event(lua_State *L) {
  EventBox *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->e = NULL;
  luaL_setmetatable(L, EVENT_MT);
  Diag d;
  if (rt_cuda_event_create(&b->e, &d)) return raise(L, &d);
  return 1;
}

static int event_gc(lua_State *L) {
  EventBox *b = luaL_checkudata(L, 1, EVENT_MT);
  Diag ignored;
  rt_cuda_event_destroy(b->e, &ignored);
  b->e = NULL;
  return 0;
}

static int event_record(lua_State *L) {
  Diag d;
  if (rt_cuda_event_record(check_event(L, 1), &d)) return raise(L, &d);
  lua_settop(L, 1);
  return 1;
}

static int event_synchronize(lua_State *L) {
  Diag d;
  if (rt_cuda_event_synchronize(check_event(L, 1), &d)) return raise(L, &d);
  return 0;
}

/* start:elapsed_ms(stop) -> milliseconds between the two recorded events (waits for stop). */
static int event_elapsed_ms(lua_State *L) {
  RtCudaEvent *a = check_event(L, 1), *b = check_event(L, 2);
  Diag d;
  float ms = 0;
  if (rt_cuda_event_synchronize(b, &d) || rt_cuda_event_elapsed_ms(a, b, &ms, &d)) return raise(L, &d);
  lua_pushnumber(L, ms);
  return 1;
}

/* ---- registration ------------------------------------------------------------------------- */

static void new_class(lua_State *L, const char *mt, const luaL_Reg *methods, const luaL_Reg *meta) {
  luaL_newmetatable(L, mt);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

void bind_cuda_launch_register(lua_State *L) {
  static const luaL_Reg funcs[] = {{"cuda_module", core_cuda_module},
                                   {"cuda_event", core_cuda_event}, {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);

  static const luaL_Reg module_methods[] = {{"func", module_func}, {"unload", module_unload},
                                            {"info_log", module_info_log},
                                            {"jit_ms", module_jit_ms}, {NULL, NULL}};
  static const luaL_Reg module_meta[] = {{"__gc", module_gc}, {"__close", module_gc}, {NULL, NULL}};
  new_class(L, MODULE_MT, module_methods, module_meta);

  static const luaL_Reg func_methods[] = {{"launch", func_launch},
                                          {"attributes", func_attributes}, {NULL, NULL}};
  static const luaL_Reg func_meta[] = {{NULL, NULL}};
  new_class(L, FUNC_MT, func_methods, func_meta);

  static const luaL_Reg event_methods[] = {{"record", event_record},
                                           {"synchronize", event_synchronize},
                                           {"elapsed_ms", event_elapsed_ms}, {NULL, NULL}};
  static const luaL_Reg event_meta[] = {{"__gc", event_gc}, {"__close", event_gc}, {NULL, NULL}};
  new_class(L, EVENT_MT, event_methods, event_meta);
}
