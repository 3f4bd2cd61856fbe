/* The cached call's helpers in C: core.fast_empty (helua.empty's common case) and
 * core.tensor_index (the tensor __index for methods, dtype and device). Part of src/bind (the Lua
 * boundary); every kernel call's host code runs them (issue 4: host overhead).
 *
 * Strings are compared and pushed through upvalues (interned Lua strings: lua_rawequal, no
 * strcmp, no lua_pushstring of a C string, which hashes it). */
#include <lauxlib.h>
#include <string.h>

#include "bind/bind_cuda.h"
#include "bind/bind_tensor.h"
#include "rt/cuda/rt_cuda.h"

/* Upvalues of both closures after their own: the option names, device names and dtype names. */
enum { S_DTYPE, S_DEVICE, S_CPU, S_CUDA, S_CUDA0, S_COUNT };
static const char *const names[S_COUNT] = {"dtype", "device", "cpu", "cuda", "cuda:0"};

/* Pushes the S_COUNT strings and a table: dtype name -> DType + 1, and [DType + 1] -> name. */
static int push_names(lua_State *L) {
  for (int i = 0; i < S_COUNT; i++) lua_pushstring(L, names[i]);
  lua_createtable(L, DT_COUNT, DT_COUNT);
  for (int i = 0; i < DT_COUNT; i++) {
    lua_pushstring(L, tensor_dtype_name((DType)i));
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, i + 1);
    lua_pushinteger(L, i + 1);
    lua_rawset(L, -3);
  }
  return S_COUNT + 1;
}

#define STR(base, s) lua_upvalueindex((base) + (s) + 1) /* base: the closure's own upvalues */

/* ---- core.fast_empty ------------------------------------------------------------------------ */

/* core.fast_empty(shape, opts) -> a new uninitialized tensor, or nothing when anything about the
 * arguments is out of the ordinary: shape a plain list of integers >= 0, opts nil or a plain
 * table holding only dtype (a known name) and device ("cpu", "cuda", "cuda:0", with a usable
 * driver). helua.empty (tensor.lua) tries it first and takes its checked Lua path, which raises
 * with a clear message, when it returns nothing: this is every kernel call's output allocation,
 * helua.empty({m, n}, {dtype = x.dtype, device = x.device}). Upvalues: the names (push_names). */
static int fast_empty(lua_State *L) {
  if (lua_gettop(L) > 2 || lua_type(L, 1) != LUA_TTABLE || lua_getmetatable(L, 1)) return 0;
  int n = (int)lua_rawlen(L, 1);
  if (n > TENSOR_MAX_DIMS) return 0;
  int64_t sizes[TENSOR_MAX_DIMS];
  for (int i = 0; i < n; i++) {
    int isint = 0;
    lua_rawgeti(L, 1, i + 1);
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    bool ok = isint && lua_type(L, -1) == LUA_TNUMBER && v >= 0;
    lua_pop(L, 1);
    if (!ok) return 0;
    sizes[i] = (int64_t)v;
  }
  DType dt = DT_FLOAT32;
  bool cuda = false;
  if (!lua_isnoneornil(L, 2)) {
    if (lua_type(L, 2) != LUA_TTABLE || lua_getmetatable(L, 2)) return 0;
    lua_settop(L, 2);
    lua_pushnil(L);
    while (lua_next(L, 2)) { /* key at 3, value at 4 */
      if (lua_rawequal(L, 3, STR(0, S_DTYPE))) {
        if (lua_type(L, 4) != LUA_TSTRING || lua_rawget(L, STR(0, S_COUNT)) != LUA_TNUMBER)
          return 0;
        dt = (DType)(lua_tointeger(L, -1) - 1);
      } else if (lua_rawequal(L, 3, STR(0, S_DEVICE))) {
        cuda = lua_rawequal(L, 4, STR(0, S_CUDA)) || lua_rawequal(L, 4, STR(0, S_CUDA0));
        if (!cuda && !lua_rawequal(L, 4, STR(0, S_CPU))) return 0;
      } else {
        return 0;
      }
      lua_settop(L, 3);
    }
  }
  Tensor *t = NULL;
  Diag d;
  if (!cuda) {
    if (tensor_empty(sizes, n, dt, &t, &d)) return 0;
    bind_tensor_push(L, t);
    return 1;
  }
  if (!rt_cuda_available(&d) || rt_cuda_tensor_empty(sizes, n, dt, &t, &d)) return 0;
  bind_cuda_push_new(L, t);
  return 1;
}

/* ---- core.tensor_index ---------------------------------------------------------------------- */

/* The tensor metatable's __index that tensor.lua installs: t:size(), t.dtype and t.device answered
 * without a Lua frame. String keys: the Lua methods, then the C methods (raw lookups), then dtype
 * and device from the tensor; anything else goes to fallback (the Lua __index: element indexing,
 * did-you-mean errors). Upvalues: 1 the Lua methods, 2 the C methods, 3 fallback, then the
 * names. */
static int tensor_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING) {
    for (int u = 1; u <= 2; u++) {
      lua_pushvalue(L, 2);
      if (lua_rawget(L, lua_upvalueindex(u)) != LUA_TNIL) return 1;
      lua_pop(L, 1);
    }
    Tensor *t = bind_tensor_test(L, 1);
    if (t && lua_rawequal(L, 2, STR(3, S_DTYPE))) {
      lua_rawgeti(L, STR(3, S_COUNT), (lua_Integer)t->dtype + 1);
      return 1;
    }
    if (t && lua_rawequal(L, 2, STR(3, S_DEVICE))) {
      bool cuda = t->storage->ops->device == TENSOR_DEVICE_CUDA;
      lua_pushvalue(L, STR(3, cuda ? S_CUDA : S_CPU));
      return 1;
    }
  }
  lua_pushvalue(L, lua_upvalueindex(3));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

/* core.tensor_index(lua_methods, c_methods, fallback) -> the __index function above. */
static int core_tensor_index(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TFUNCTION);
  lua_settop(L, 3);
  lua_pushcclosure(L, tensor_index, 3 + push_names(L));
  return 1;
}

void bind_fast_register(lua_State *L) {
  lua_pushcclosure(L, fast_empty, push_names(L));
  lua_setfield(L, -2, "fast_empty");
  lua_pushcfunction(L, core_tensor_index);
  lua_setfield(L, -2, "tensor_index");
}
