/* Lua binding of the tile IR: a builder userdata the tracer drives (the finished function it
 * makes is bind_ir_func.c), and core.ir_ops. Part of src/bind (the Lua boundary).
 *
 * Conventions: values are small integer handles (the IR's value ids). Op dims given as `dim`
 * and `perm` are Lua's 1-based (or negative) dims, converted here to the IR's 0-based ones;
 * index values inside the IR stay 0-based (the tracer converts). Shape dims are integers or the
 * strings "B<n>" (block-size slot n) and "R<n>" (reduction dim n), as the text form prints them.
 * Errors raise "file:line: message" with the kernel location the builder was given. */
#include "bind/bind_ir.h"
#include "bind/bind_ir_internal.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "ir/ir.h"

#define BUILDER_MT "helua.IrBuilder"

typedef struct LBuilder {
  IrBuilder *b; /* NULL before it is made and after finish */
} LBuilder;

int bind_ir_raise(lua_State *L, const Diag *d) {
  if (d->file[0] && d->line > 0) return luaL_error(L, "%s:%d: %s", d->file, d->line, d->msg);
  return luaL_error(L, "%s", d->msg);
}

static IrBuilder *check_builder(lua_State *L) {
  LBuilder *lb = luaL_checkudata(L, 1, BUILDER_MT);
  if (!lb->b) luaL_error(L, "the IR builder has finished (b:finish() was called) or was closed");
  return lb->b;
}

/* ---- argument conversion --------------------------------------------------------------------- */

static DType check_dtype(lua_State *L, int idx) {
  Diag d = {0};
  DType dt;
  if (ir_dtype_from_name(luaL_checkstring(L, idx), &dt, &d)) bind_ir_raise(L, &d);
  return dt;
}

static IrValueId check_value(lua_State *L, IrBuilder *b, int idx) {
  lua_Integer v = luaL_checkinteger(L, idx);
  if (!ir_value(ir_builder_func(b), (IrValueId)v))
    luaL_error(L, "argument #%d: %I is not an IR value handle", idx, v);
  return (IrValueId)v;
}

/* A value handle from field `key` of the table at t, or IR_NONE when absent. */
static IrValueId opt_field_value(lua_State *L, IrBuilder *b, int t, const char *key) {
  IrValueId v = IR_NONE;
  if (lua_getfield(L, t, key) != LUA_TNIL) {
    if (!lua_isinteger(L, -1)) luaL_error(L, "option '%s' must be a value handle", key);
    v = (IrValueId)lua_tointeger(L, -1);
    if (!ir_value(ir_builder_func(b), v))
      luaL_error(L, "option '%s' is not an IR value handle", key);
  }
  lua_pop(L, 1);
  return v;
}

/* Lua's 1-based or negative dim to the IR's 0-based or negative one. */
static int lua_dim(lua_State *L, lua_Integer d, const char *what) {
  if (d == 0) luaL_error(L, "%s 0 is not a dim: dims are 1-based (or negative from the end)", what);
  if (d > 64 || d < -64) luaL_error(L, "%s %I is out of range", what, d);
  return d > 0 ? (int)d - 1 : (int)d;
}

static IrDim check_dim_spec(lua_State *L, int idx, int pos) {
  if (lua_isinteger(L, idx)) return (IrDim){IR_DIM_CONST, lua_tointeger(L, idx)};
  const char *s = lua_tostring(L, idx);
  char kind;
  long long n;
  char extra;
  if (s && sscanf(s, "%c%lld%c", &kind, &n, &extra) == 2 && (kind == 'B' || kind == 'R') && n >= 0)
    return (IrDim){kind == 'B' ? IR_DIM_BLOCK : IR_DIM_RDIM, n};
  luaL_error(L, "shape entry %d must be an integer or \"B<n>\" / \"R<n>\"", pos);
  return (IrDim){IR_DIM_CONST, 0};
}

static void check_shape(lua_State *L, int idx, IrShape *s) {
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer n = luaL_len(L, idx);
  if (n > IR_MAX_RANK) luaL_error(L, "a shape has at most %d dims, got %I", IR_MAX_RANK, n);
  s->rank = (int)n;
  for (int i = 0; i < s->rank; i++) {
    lua_geti(L, idx, i + 1);
    s->dims[i] = check_dim_spec(L, -1, i + 1);
    lua_pop(L, 1);
  }
}

static void push_dim(lua_State *L, IrDim dim) {
  if (dim.kind == IR_DIM_CONST)
    lua_pushinteger(L, (lua_Integer)dim.v);
  else
    lua_pushfstring(L, "%c%I", dim.kind == IR_DIM_BLOCK ? 'B' : 'R', (lua_Integer)dim.v);
}

void bind_ir_push_shape(lua_State *L, const IrShape *s) {
  lua_createtable(L, s->rank, 0);
  for (int i = 0; i < s->rank; i++) {
    push_dim(L, s->dims[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* The list of value handles at idx (absent = empty) into out[max]; returns the count. */
static int check_handles(lua_State *L, IrBuilder *b, int idx, IrValueId *out, int max,
                         const char *what) {
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer n = luaL_len(L, idx);
  if (n > max) luaL_error(L, "at most %d %s, got %I", max, what, n);
  for (int i = 0; i < (int)n; i++) {
    lua_geti(L, idx, i + 1);
    out[i] = check_value(L, b, lua_gettop(L));
    lua_pop(L, 1);
  }
  return (int)n;
}

/* A boolean, integer or float at idx as an IR scalar. */
static IrScalar check_scalar(lua_State *L, int idx, const char *what) {
  IrScalar v = {0};
  if (lua_isboolean(L, idx)) {
    v.i = lua_toboolean(L, idx);
  } else if (lua_isinteger(L, idx)) {
    v.i = lua_tointeger(L, idx);
  } else if (lua_type(L, idx) == LUA_TNUMBER) {
    v.is_float = true;
    v.f = lua_tonumber(L, idx);
  } else {
    luaL_error(L, "%s must be a number or boolean", what);
  }
  return v;
}

/* Reads the attribute table at idx (absent = none) into *a. */
static void check_attrs(lua_State *L, int idx, IrAttrs *a) {
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  if (lua_getfield(L, idx, "dtype") != LUA_TNIL) a->dtype = check_dtype(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "value") != LUA_TNIL)
    a->value = check_scalar(L, -1, "attribute 'value'");
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "start") != LUA_TNIL) a->start = luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "dim") != LUA_TNIL) a->dim = lua_dim(L, luaL_checkinteger(L, -1), "dim");
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "axis") != LUA_TNIL) a->dim = (int)luaL_checkinteger(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, idx, "keepdim");
  a->keepdim = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "shape") != LUA_TNIL) check_shape(L, lua_gettop(L), &a->shape);
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "perm") != LUA_TNIL) {
    int p = lua_gettop(L);
    luaL_checktype(L, p, LUA_TTABLE);
    lua_Integer n = luaL_len(L, p);
    if (n > IR_MAX_RANK) luaL_error(L, "perm has at most %d entries", IR_MAX_RANK);
    a->shape.rank = (int)n;
    for (int i = 0; i < (int)n; i++) {
      lua_geti(L, p, i + 1);
      a->perm[i] = lua_dim(L, luaL_checkinteger(L, -1), "perm entry");
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

static int push_result(lua_State *L, IrValueId v) {
  lua_pushinteger(L, v);
  return 1;
}

static void push_ids(lua_State *L, const IrValueId *ids, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushinteger(L, ids[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

void bind_ir_set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

void bind_ir_set_bool(lua_State *L, const char *k, bool v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

void bind_ir_set_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

/* ---- the builder ----------------------------------------------------------------------------- */

/* core.ir_builder(name) */
static int core_ir_builder(lua_State *L) {
  const char *name = luaL_optstring(L, 1, "kernel");
  LBuilder *lb = lua_newuserdatauv(L, sizeof *lb, 0);
  lb->b = NULL; /* safe to collect before the builder exists */
  luaL_setmetatable(L, BUILDER_MT);
  Diag d = {0};
  if (ir_builder_new(name, &lb->b, &d)) return bind_ir_raise(L, &d);
  return 1;
}

static int b_gc(lua_State *L) {
  LBuilder *lb = luaL_checkudata(L, 1, BUILDER_MT);
  ir_builder_free(lb->b);
  lb->b = NULL;
  return 0;
}

static int b_file(lua_State *L) {
  IrBuilder *b = check_builder(L);
  Diag d = {0};
  int file;
  if (ir_build_file(b, luaL_checkstring(L, 2), &file, &d)) return bind_ir_raise(L, &d);
  lua_pushinteger(L, file);
  return 1;
}

/* b:loc(file, line): file is a path (interned) or an id from b:file */
static int b_loc(lua_State *L) {
  IrBuilder *b = check_builder(L);
  int file = -1;
  if (lua_type(L, 2) == LUA_TSTRING) {
    Diag d = {0};
    if (ir_build_file(b, lua_tostring(L, 2), &file, &d)) return bind_ir_raise(L, &d);
  } else if (!lua_isnil(L, 2)) {
    file = (int)luaL_checkinteger(L, 2);
  }
  ir_build_loc(b, file, (int)luaL_optinteger(L, 3, 0));
  return 0;
}

static int b_name(lua_State *L) {
  IrBuilder *b = check_builder(L);
  IrValueId v = check_value(L, b, 2);
  Diag d = {0};
  if (ir_build_name(b, v, luaL_checkstring(L, 3), &d)) return bind_ir_raise(L, &d);
  lua_pushstring(L, ir_value(ir_builder_func(b), v)->name);
  return 1;
}

/* b:arg_tensor(name, dtype, sizes, strides?) */
static int b_arg_tensor(lua_State *L) {
  IrBuilder *b = check_builder(L);
  const char *name = luaL_optstring(L, 2, NULL);
  DType dt = check_dtype(L, 3);
  IrShape s;
  int64_t sizes[IR_MAX_RANK], strides[IR_MAX_RANK];
  check_shape(L, 4, &s);
  for (int i = 0; i < s.rank; i++) {
    if (s.dims[i].kind != IR_DIM_CONST) luaL_error(L, "tensor sizes must be integers");
    sizes[i] = s.dims[i].v;
  }
  bool has_strides = !lua_isnoneornil(L, 5);
  if (has_strides) {
    IrShape st;
    check_shape(L, 5, &st);
    if (st.rank != s.rank) luaL_error(L, "%d strides for %d sizes", st.rank, s.rank);
    for (int i = 0; i < st.rank; i++) {
      if (st.dims[i].kind != IR_DIM_CONST) luaL_error(L, "tensor strides must be integers");
      strides[i] = st.dims[i].v;
    }
  }
  Diag d = {0};
  IrValueId v;
  if (ir_build_arg_tensor(b, name, dt, s.rank, sizes, has_strides ? strides : NULL, &v, &d))
    return bind_ir_raise(L, &d);
  return push_result(L, v);
}

static int b_arg_scalar(lua_State *L) {
  IrBuilder *b = check_builder(L);
  const char *name = luaL_optstring(L, 2, NULL);
  DType dt = check_dtype(L, 3);
  Diag d = {0};
  IrValueId v;
  if (ir_build_arg_scalar(b, name, dt, &v, &d)) return bind_ir_raise(L, &d);
  return push_result(L, v);
}

/* b:const(value, dtype) */
static int b_const(lua_State *L) {
  IrBuilder *b = check_builder(L);
  IrAttrs a = IR_ATTRS_INIT;
  a.dtype = check_dtype(L, 3);
  a.value = check_scalar(L, 2, "the value");
  Diag d = {0};
  IrValueId v;
  if (ir_build_op(b, IR_OP_CONST, 0, NULL, &a, &v, &d)) return bind_ir_raise(L, &d);
  return push_result(L, v);
}

/* b:op(name, {operands}, {attrs}) -> handle (nothing for ops without a result) */
static int b_op(lua_State *L) {
  IrBuilder *b = check_builder(L);
  const char *name = luaL_checkstring(L, 2);
  int kind = ir_op_lookup(name);
  if (kind < 0) return luaL_error(L, "unknown IR op '%s'", name);
  IrValueId args[4];
  int nargs = check_handles(L, b, 3, args, 4, "operands");
  IrAttrs a = IR_ATTRS_INIT;
  check_attrs(L, 4, &a);
  Diag d = {0};
  IrValueId v = IR_NONE;
  if (ir_build_op(b, (IrOpKind)kind, nargs, args, &a, &v, &d)) return bind_ir_raise(L, &d);
  return v == IR_NONE ? 0 : push_result(L, v);
}

/* b:register_block_size(max) or (min, max) -> handle, slot */
static int b_register_block_size(lua_State *L) {
  IrBuilder *b = check_builder(L);
  lua_Integer lo = 1, hi = luaL_checkinteger(L, 2);
  if (!lua_isnoneornil(L, 3)) {
    lo = hi;
    hi = luaL_checkinteger(L, 3);
  }
  Diag d = {0};
  IrValueId v;
  int slot;
  if (ir_build_register_block_size(b, lo, hi, &slot, &v, &d)) return bind_ir_raise(L, &d);
  lua_pushinteger(L, v);
  lua_pushinteger(L, slot);
  return 2;
}

/* b:tunable(name, fragment, dtype?) */
static int b_tunable(lua_State *L) {
  IrBuilder *b = check_builder(L);
  const char *name = luaL_checkstring(L, 2), *frag = luaL_checkstring(L, 3);
  DType dt = lua_isnoneornil(L, 4) ? DT_INT64 : check_dtype(L, 4);
  Diag d = {0};
  IrValueId v;
  if (ir_build_tunable(b, name, frag, dt, &v, &d)) return bind_ir_raise(L, &d);
  return push_result(L, v);
}

/* b:specialize(handle, value) */
static int b_specialize(lua_State *L) {
  IrBuilder *b = check_builder(L);
  IrValueId arg = check_value(L, b, 2);
  IrScalar s = check_scalar(L, 3, "the value");
  Diag d = {0};
  IrValueId v;
  if (ir_build_specialize(b, arg, s, &v, &d)) return bind_ir_raise(L, &d);
  return push_result(L, v);
}

/* b:tile(dims, inits?) / b:grid(dims, inits?) -> {iteration handles}, {carried handles}.
 * dims: {{begin = h, ["end"] = h, slot = n | block_size = n | hint = n}, ...} */
static int loop_begin(lua_State *L, IrOpKind kind) {
  IrBuilder *b = check_builder(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer nd = luaL_len(L, 2);
  if (nd < 1 || nd > IR_MAX_RANK)
    return luaL_error(L, "a loop has 1..%d dims, got %I", IR_MAX_RANK, nd);
  IrLoopDim dims[IR_MAX_RANK];
  for (int i = 0; i < (int)nd; i++) {
    IrLoopDim ld = IR_LOOP_DIM_INIT;
    lua_geti(L, 2, i + 1);
    int t = lua_gettop(L);
    luaL_checktype(L, t, LUA_TTABLE);
    ld.begin = opt_field_value(L, b, t, "begin");
    ld.end = opt_field_value(L, b, t, "end");
    if (ld.begin == IR_NONE || ld.end == IR_NONE)
      return luaL_error(L, "loop dim %d needs begin and end", i + 1);
    if (lua_getfield(L, t, "slot") != LUA_TNIL) ld.slot = (int)luaL_checkinteger(L, -1);
    if (lua_getfield(L, t, "block_size") != LUA_TNIL) ld.block_size = luaL_checkinteger(L, -1);
    if (lua_getfield(L, t, "hint") != LUA_TNIL) ld.size_hint = luaL_checkinteger(L, -1);
    lua_pop(L, 4);
    dims[i] = ld;
  }
  IrValueId inits[256], iters[IR_MAX_RANK], carried[256];
  int nc = check_handles(L, b, 3, inits, 256, "carried values");
  Diag d = {0};
  if (ir_build_loop_begin(b, kind, (int)nd, dims, nc, inits, iters, carried, &d))
    return bind_ir_raise(L, &d);
  push_ids(L, iters, (int)nd);
  push_ids(L, carried, nc);
  return 2;
}

static int b_tile(lua_State *L) {
  return loop_begin(L, IR_OP_TILE);
}
static int b_grid(lua_State *L) {
  return loop_begin(L, IR_OP_GRID);
}

/* b:end_loop({yields}) -> {results} (a pruned carried value's result is its init) */
static int b_end_loop(lua_State *L) {
  IrBuilder *b = check_builder(L);
  IrValueId ys[256], res[256];
  int n = check_handles(L, b, 2, ys, 256, "yielded values");
  Diag d = {0};
  if (ir_build_loop_end(b, n, ys, res, &d)) return bind_ir_raise(L, &d);
  push_ids(L, res, n);
  return 1;
}

/* Index entries: a handle (tile, integer scalar, or 1-D integer value to gather with), ":" or
 * "newaxis". */
static int check_index(lua_State *L, IrBuilder *b, int idx, IrIndex *out) {
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer n = luaL_len(L, idx);
  if (n > IR_MAX_INDEX) luaL_error(L, "an index has at most %d entries, got %I", IR_MAX_INDEX, n);
  for (int i = 0; i < (int)n; i++) {
    lua_geti(L, idx, i + 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *s = lua_tostring(L, -1);
      if (strcmp(s, ":") == 0)
        out[i] = (IrIndex){IR_IDX_SLICE, IR_NONE};
      else if (strcmp(s, "newaxis") == 0)
        out[i] = (IrIndex){IR_IDX_NEWAXIS, IR_NONE};
      else
        luaL_error(L, "index entry %d: '%s' is not ':' or 'newaxis'", i + 1, s);
    } else {
      IrValueId v = check_value(L, b, lua_gettop(L));
      const IrValue *val = ir_value(ir_builder_func(b), v);
      IrIndexKind k = val->kind == IR_VAL_TILE ? IR_IDX_TILE
                      : val->shape.rank == 0   ? IR_IDX_SCALAR
                                               : IR_IDX_GATHER;
      out[i] = (IrIndex){k, v};
    }
    lua_pop(L, 1);
  }
  return (int)n;
}

static IrEviction opt_eviction(lua_State *L, int opts) {
  IrEviction ev = IR_EVICT_NONE;
  if (lua_getfield(L, opts, "eviction_policy") != LUA_TNIL) {
    const char *s = luaL_checkstring(L, -1);
    if (strcmp(s, "first") == 0 || strcmp(s, "evict_first") == 0)
      ev = IR_EVICT_FIRST;
    else if (strcmp(s, "last") == 0 || strcmp(s, "evict_last") == 0)
      ev = IR_EVICT_LAST;
    else if (*s)
      luaL_error(L, "eviction_policy must be \"first\", \"last\" or \"\", got '%s'", s);
  }
  lua_pop(L, 1);
  return ev;
}

/* b:load(tensor, index, {extra_mask = h, eviction_policy = "first" | "last"}) */
static int b_load(lua_State *L) {
  IrBuilder *b = check_builder(L);
  IrValueId t = check_value(L, b, 2);
  IrIndex idx[IR_MAX_INDEX];
  int n = check_index(L, b, 3, idx);
  IrValueId mask = IR_NONE;
  IrEviction ev = IR_EVICT_NONE;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    mask = opt_field_value(L, b, 4, "extra_mask");
    ev = opt_eviction(L, 4);
  }
  Diag d = {0};
  IrValueId v;
  if (ir_build_load(b, t, n, idx, mask, ev, &v, &d)) return bind_ir_raise(L, &d);
  return push_result(L, v);
}

/* b:store(tensor, index, value, {extra_mask = h}) / b:atomic_add(..., {extra_mask, sem}) */
static int store_like(lua_State *L, bool atomic) {
  IrBuilder *b = check_builder(L);
  IrValueId t = check_value(L, b, 2);
  IrIndex idx[IR_MAX_INDEX];
  int n = check_index(L, b, 3, idx);
  IrValueId v = check_value(L, b, 4), mask = IR_NONE;
  IrAtomicSem sem = IR_SEM_RELAXED;
  if (!lua_isnoneornil(L, 5)) {
    luaL_checktype(L, 5, LUA_TTABLE);
    mask = opt_field_value(L, b, 5, "extra_mask");
    if (lua_getfield(L, 5, "sem") != LUA_TNIL) {
      static const char *const sems[] = {"relaxed", "acquire", "release", "acq_rel", NULL};
      sem = (IrAtomicSem)luaL_checkoption(L, -1, NULL, sems);
    }
    lua_pop(L, 1);
  }
  Diag d = {0};
  IrValueId out;
  if (atomic) {
    if (ir_build_atomic_add(b, t, n, idx, v, mask, sem, &out, &d)) return bind_ir_raise(L, &d);
    return push_result(L, out);
  }
  if (ir_build_store(b, t, n, idx, v, mask, &d)) return bind_ir_raise(L, &d);
  return 0;
}

static int b_store(lua_State *L) {
  return store_like(L, false);
}
static int b_atomic_add(lua_State *L) {
  return store_like(L, true);
}

static const char *const kind_names[] = {"data", "tensor", "tile"};

void bind_ir_push_value_info(lua_State *L, const IrFunc *f, IrValueId id) {
  const IrValue *v = ir_value(f, id);
  lua_createtable(L, 0, 6);
  bind_ir_set_str(L, "kind", kind_names[v->kind]);
  bind_ir_set_str(L, "dtype", ir_dtype_name(v->dtype));
  bind_ir_push_shape(L, &v->shape);
  lua_setfield(L, -2, "shape");
  if (v->name) bind_ir_set_str(L, "name", v->name);
  if (v->loc.line > 0) bind_ir_set_int(L, "line", v->loc.line);
  if (v->kind == IR_VAL_TENSOR && v->strides) {
    lua_createtable(L, v->shape.rank, 0);
    for (int i = 0; i < v->shape.rank; i++) {
      lua_pushinteger(L, (lua_Integer)v->strides[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "strides");
  }
}

/* b:value(h) -> {kind=, dtype=, shape=, name=, line=} */
static int b_value(lua_State *L) {
  IrBuilder *b = check_builder(L);
  bind_ir_push_value_info(L, ir_builder_func(b), check_value(L, b, 2));
  return 1;
}

int bind_ir_push_text(lua_State *L, const IrFunc *f, int opts) {
  unsigned flags = 0;
  if (!lua_isnoneornil(L, opts)) {
    luaL_checktype(L, opts, LUA_TTABLE);
    if (lua_getfield(L, opts, "locations") != LUA_TNIL && !lua_toboolean(L, -1))
      flags |= IR_PRINT_NO_LOC;
    if (lua_getfield(L, opts, "names") != LUA_TNIL && !lua_toboolean(L, -1))
      flags |= IR_PRINT_NO_NAMES;
    lua_pop(L, 2);
  }
  Diag d = {0};
  char *text;
  size_t len;
  if (ir_print(f, flags, &text, &len, &d)) return bind_ir_raise(L, &d);
  lua_pushlstring(L, text, len); /* only a Lua out-of-memory error could skip the free */
  mem_free(text);
  return 1;
}

/* b:text(opts?) -> the text of the function so far (loops may still be open) */
static int b_text(lua_State *L) {
  return bind_ir_push_text(L, ir_builder_func(check_builder(L)), 2);
}

/* b:finish() -> IrFunc (verified for the traced phase); the builder is spent */
static int b_finish(lua_State *L) {
  LBuilder *lb = luaL_checkudata(L, 1, BUILDER_MT);
  check_builder(L);
  IrFunc **slot = bind_ir_push_func(L);
  Diag d = {0};
  if (ir_builder_finish(lb->b, slot, &d)) return bind_ir_raise(L, &d);
  ir_builder_free(lb->b);
  lb->b = NULL;
  return 1;
}

/* ---- core.ir_ops and registration ------------------------------------------------------------ */

/* core.ir_ops() -> {{name=, arity=, traced=, lowered=, doc=}, ...} in table order */
static int core_ir_ops(lua_State *L) {
  lua_createtable(L, IR_OP_COUNT, 0);
  for (int i = 0; i < IR_OP_COUNT; i++) {
    const IrOpInfo *info = ir_op_info((IrOpKind)i);
    lua_createtable(L, 0, 5);
    bind_ir_set_str(L, "name", info->name);
    bind_ir_set_int(L, "arity", info->arity);
    bind_ir_set_bool(L, "traced", (info->phases & IR_PHASE_TRACED) != 0);
    bind_ir_set_bool(L, "lowered", (info->phases & IR_PHASE_LOWERED) != 0);
    bind_ir_set_str(L, "doc", info->doc);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int b_tostring(lua_State *L) {
  LBuilder *lb = luaL_checkudata(L, 1, BUILDER_MT);
  lua_pushfstring(L, "IrBuilder(%s)", lb->b ? ir_builder_func(lb->b)->name : "finished");
  return 1;
}

static const luaL_Reg builder_methods[] = {{"file", b_file},
                                           {"loc", b_loc},
                                           {"name", b_name},
                                           {"arg_tensor", b_arg_tensor},
                                           {"arg_scalar", b_arg_scalar},
                                           {"const", b_const},
                                           {"op", b_op},
                                           {"register_block_size", b_register_block_size},
                                           {"tunable", b_tunable},
                                           {"specialize", b_specialize},
                                           {"tile", b_tile},
                                           {"grid", b_grid},
                                           {"end_loop", b_end_loop},
                                           {"load", b_load},
                                           {"store", b_store},
                                           {"atomic_add", b_atomic_add},
                                           {"value", b_value},
                                           {"text", b_text},
                                           {"finish", b_finish},
                                           {"close", b_gc},
                                           {NULL, NULL}};

void bind_ir_new_class(lua_State *L, const char *mt, const luaL_Reg *methods, lua_CFunction gc,
                       lua_CFunction tostring) {
  luaL_newmetatable(L, mt);
  const luaL_Reg meta[] = {{"__gc", gc}, {"__close", gc}, {"__tostring", tostring}, {NULL, NULL}};
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

void bind_ir_register(lua_State *L) {
  bind_ir_new_class(L, BUILDER_MT, builder_methods, b_gc, b_tostring);
  bind_ir_func_register(L);
  lua_pushcfunction(L, core_ir_builder);
  lua_setfield(L, -2, "ir_builder");
  lua_pushcfunction(L, core_ir_ops);
  lua_setfield(L, -2, "ir_ops");
}
