/* Launching a compiled kernel from Lua: ck:launch(list) with the arguments in IR order, and
 * ck:launch_frame(fn, plan), the cached-call path that reads them straight from the kernel
 * function's frame. Part of src/bind (the Lua boundary); bind_lower.c makes the kernels.
 *
 * Tensors are checked against the dtype, sizes and strides the kernel was specialized on (device
 * tensors for cuda, 16-byte aligned); numbers are converted to the argument's dtype. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "bind/bind_lower_internal.h"
#include "bind/bind_tensor.h"
#include "rt/rt_time.h"

static const char *sig_str(const LowerArgSig *s, char *buf, size_t cap) {
  size_t n = (size_t)snprintf(buf, cap, "%s[", tensor_dtype_name(s->dtype));
  for (int i = 0; i < s->rank && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)s->sizes[i]);
  if (n < cap) n += (size_t)snprintf(buf + n, cap - n, "] strides [");
  for (int i = 0; i < s->rank && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)s->strides[i]);
  if (n < cap) snprintf(buf + n, cap - n, "]");
  return buf;
}

static bool tensor_matches(const Tensor *t, const LowerArgSig *s) {
  if (t->dtype != s->dtype || t->ndim != s->rank) return false;
  for (int i = 0; i < s->rank; i++) {
    if (t->sizes[i] != s->sizes[i]) return false;
    if (s->sizes[i] > 1 && t->strides[i] != s->strides[i]) return false;
  }
  return true;
}

#define NO_LAUNCH (-1) /* soft mode: an argument does not fit; nothing was launched */

/* Launches k with its arguments at stack slots base .. base + nargs - 1. A wrong argument
 * raises, or with soft returns NO_LAUNCH (the caller tries another way); driver errors raise. */
static int launch_args(lua_State *L, LKernel *k, int base, bool soft) {
  const LowerArtifact *a = k->art;
  void *ptrs[MAX_ARGS];
  union {
    double f;
    int64_t i;
    RtCudaPtr p;
  } slots[MAX_ARGS];
  for (int i = 0; i < a->nargs; i++) {
    const LowerArgSig *s = &a->args[i];
    int idx = base + i;
    char want[256], got[256];
    if (s->is_tensor) {
      Tensor *t = bind_tensor_test(L, idx);
      bool on_device = t && rt_cuda_tensor_is_device(t);
      if (soft && (!t || on_device != k->cuda || !tensor_matches(t, s))) return NO_LAUNCH;
      if (!t)
        return luaL_error(L, "launch: argument %d (%s) must be a tensor %s, got %s", i + 1, s->name,
                          sig_str(s, want, sizeof want), luaL_typename(L, idx));
      if (k->cuda && !on_device)
        return luaL_error(L,
                          "launch: argument %d (%s) is a %s tensor; the cuda kernel needs device "
                          "tensors (move it with t:cuda())",
                          i + 1, s->name, t->storage->ops->name);
      if (!k->cuda && t->storage->ops->device != TENSOR_DEVICE_CPU)
        return luaL_error(L, "launch: argument %d (%s) is on %s; the CPU kernel needs a cpu tensor",
                          i + 1, s->name, t->storage->ops->name);
      if (!tensor_matches(t, s)) {
        LowerArgSig ts = {.dtype = t->dtype, .rank = t->ndim};
        memcpy(ts.sizes, t->sizes, sizeof ts.sizes);
        memcpy(ts.strides, t->strides, sizeof ts.strides);
        return luaL_error(L,
                          "launch: argument %d (%s) is %s, but the kernel was specialized on %s "
                          "(trace it again for this tensor)",
                          i + 1, s->name, sig_str(&ts, got, sizeof got),
                          sig_str(s, want, sizeof want));
      }
      if (k->cuda) {
        slots[i].p = rt_cuda_tensor_ptr(t);
        if (slots[i].p % 16 != 0) /* the PTX uses 16-byte vector accesses */
          return luaL_error(L,
                            "launch: argument %d (%s) starts at a device address that is not "
                            "16-byte aligned (a view at an offset); the cuda kernel assumes "
                            "aligned tensors: pass a copy (t:clone())",
                            i + 1, s->name);
        ptrs[i] = &slots[i];
      } else {
        ptrs[i] = tensor_data(t);
      }
      continue;
    }
    if (ir_dtype_is_float(s->dtype)) {
      if (!lua_isnumber(L, idx)) {
        if (soft) return NO_LAUNCH;
        return luaL_error(L, "launch: argument %d (%s) must be a number, got %s", i + 1, s->name,
                          luaL_typename(L, idx));
      }
      slots[i].f = lua_tonumber(L, idx);
    } else if (lua_isboolean(L, idx)) {
      slots[i].i = lua_toboolean(L, idx);
    } else {
      int isint = 0;
      slots[i].i = lua_tointegerx(L, idx, &isint);
      if (!isint) {
        if (soft) return NO_LAUNCH;
        return luaL_error(L, "launch: argument %d (%s) must be an integer (%s), got %s", i + 1,
                          s->name, tensor_dtype_name(s->dtype), luaL_typename(L, idx));
      }
    }
    ptrs[i] = &slots[i];
  }
  Diag d = {0};
  if (k->cuda) {
    if (!k->ck) { /* the first launch loads the module: the PTX JIT's time */
      int64_t t0 = rt_now_ns();
      if (rt_cuda_kernel_load(a->ptx, a->entry, &k->ck, &d)) return bind_lower_raise(L, &d);
      k->jit_ms = (double)(rt_now_ns() - t0) * 1e-6;
    }
    if (rt_cuda_kernel_launch(k->ck, a->grid3, a->block, a->shared_bytes, ptrs, &d))
      return bind_lower_raise(L, &d);
    k->last.programs = a->grid;
    k->last.threads = (int)a->block[0];
    k->last.ns = 0; /* asynchronous: the kernel's time is the events' (no clock reads per call) */
    k->launches++;
    return HL_OK;
  }
  if (rt_cpu_launch(k->rk, ptrs, lower_artifact_threads(a), a->frame_bytes, &k->last, &d))
    return bind_lower_raise(L, &d);
  k->launches++;
  return HL_OK;
}

/* ck:launch({args...}) -> ck. Arguments in IR argument order. */
int bind_lower_launch(lua_State *L) {
  LKernel *k = bind_lower_check_kernel(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  const LowerArtifact *a = k->art;
  if (a->nargs > MAX_ARGS) return luaL_error(L, "launch: too many kernel arguments");
  lua_Integer n = luaL_len(L, 2);
  if (n != a->nargs)
    return luaL_error(L, "launch: %s takes %d arguments (in IR argument order), got %I", a->name,
                      a->nargs, n);
  lua_settop(L, 2);
  luaL_checkstack(L, a->nargs, "launch arguments");
  for (int i = 0; i < a->nargs; i++) lua_geti(L, 2, i + 1); /* on the stack: kept alive */
  launch_args(L, k, 3, false);
  lua_settop(L, 1);
  return 1;
}

/* ck:launch_frame(fn, plan) -> true when launched, false when an argument is not where the plan
 * says or does not fit (the caller then takes its general path). The cached-call path of
 * trace_launch.lua: fn is the kernel function, running further up the stack; plan lists, per IR
 * argument, the index and name of the local of fn's frame that holds it ({i1, name1, i2, name2,
 * ...}). Driver errors raise. */
int bind_lower_launch_frame(lua_State *L) {
  LKernel *k = bind_lower_check_kernel(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  luaL_checktype(L, 3, LUA_TTABLE);
  const LowerArtifact *a = k->art;
  lua_settop(L, 3);
  if (a->nargs > MAX_ARGS || lua_rawlen(L, 3) != (size_t)(2 * a->nargs)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_Debug ar;
  bool found = false;
  for (int level = 1; level <= 16 && lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "f", &ar);
    found = lua_rawequal(L, -1, 2);
    lua_pop(L, 1);
    if (found) break;
  }
  luaL_checkstack(L, a->nargs + 2, "launch arguments");
  for (int i = 0; found && i < a->nargs; i++) {
    lua_rawgeti(L, 3, 2 * i + 1);
    lua_rawgeti(L, 3, 2 * i + 2);
    int n = (int)lua_tointeger(L, -2);
    const char *want = lua_tostring(L, -1); /* stays alive in plan */
    lua_pop(L, 2);
    const char *name = n > 0 && want ? lua_getlocal(L, &ar, n) : NULL;
    if (!name) {
      found = false;
    } else if (name != want && strcmp(name, want) != 0) { /* equal short strings: one pointer */
      lua_pop(L, 1);
      found = false;
    }
  }
  bool launched = found && launch_args(L, k, 4, true) == HL_OK;
  lua_settop(L, 3);
  lua_pushboolean(L, launched);
  return 1;
}
