/* Lua binding of host tensors, second half: the core.* reference ops, the elementwise and
 * reduction methods and metamethods, and the tile primitives of interpret mode.
 * Part of src/bind (the Lua boundary); shares its helpers with bind_tensor.c. */
#include <lauxlib.h>

#include "bind/bind_tensor.h"
#include "bind/bind_tensor_internal.h"

/* ---- core.* ops ------------------------------------------------------------------------------ */

static int core_where(lua_State *L) {
  lua_settop(L, 3); /* fixed arity */
  Tensor *c = bind_tensor_check_operand(L, 1), *a = bind_tensor_check_operand(L, 2), *b = bind_tensor_check_operand(L, 3);
  Diag d;
  if (tensor_where(c, a, b, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int core_allclose(lua_State *L) {
  lua_settop(L, 4); /* fixed arity */
  Tensor *a = bind_tensor_check_operand(L, 1), *b = bind_tensor_check_operand(L, 2);
  double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
  Diag d;
  bool ok;
  if (tensor_allclose(a, b, rtol, atol, &ok, &d)) return bind_tensor_raise(L, &d);
  lua_pushboolean(L, ok);
  return 1;
}

static int core_errs(lua_State *L, int (*fn)(const Tensor *, const Tensor *, double *, Diag *)) {
  lua_settop(L, 2); /* fixed arity */
  Tensor *a = bind_tensor_check_operand(L, 1), *b = bind_tensor_check_operand(L, 2);
  Diag d;
  double v;
  if (fn(a, b, &v, &d)) return bind_tensor_raise(L, &d);
  lua_pushnumber(L, v);
  return 1;
}

static int core_max_abs_err(lua_State *L) { return core_errs(L, tensor_max_abs_err); }
static int core_rel_err(lua_State *L) { return core_errs(L, tensor_rel_err); }

static int core_matmul(lua_State *L) {
  Tensor *a = bind_tensor_check(L, 1), *b = bind_tensor_check(L, 2);
  Diag d;
  if (tensor_matmul(a, b, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int softmax_common(lua_State *L, bool logsm) {
  lua_settop(L, 2); /* fixed arity */
  Tensor *x = bind_tensor_check(L, 1);
  int dim = lua_isnoneornil(L, 2) ? (x->ndim ? x->ndim - 1 : 0) : bind_tensor_check_dim(L, 2, x->ndim);
  Diag d;
  Tensor **slot = bind_tensor_box_new(L);
  if ((logsm ? tensor_log_softmax : tensor_softmax)(x, dim, slot, &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int core_softmax(lua_State *L) { return softmax_common(L, false); }
static int core_log_softmax(lua_State *L) { return softmax_common(L, true); }

static Tensor *opt_tensor(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? NULL : bind_tensor_check(L, idx);
}

static int core_layer_norm(lua_State *L) {
  lua_settop(L, 4); /* fixed arity */
  Tensor *x = bind_tensor_check(L, 1), *w = opt_tensor(L, 2), *b = opt_tensor(L, 3);
  double eps = luaL_optnumber(L, 4, 1e-5);
  Diag d;
  if (tensor_layer_norm(x, w, b, eps, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int core_rms_norm(lua_State *L) {
  lua_settop(L, 3); /* fixed arity */
  Tensor *x = bind_tensor_check(L, 1), *w = opt_tensor(L, 2);
  double eps = luaL_optnumber(L, 3, 1e-6);
  Diag d;
  if (tensor_rms_norm(x, w, eps, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int core_cross_entropy(lua_State *L) {
  Tensor *x = bind_tensor_check(L, 1), *y = bind_tensor_check(L, 2);
  Diag d;
  if (tensor_cross_entropy(x, y, 1, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int core_attention(lua_State *L) {
  lua_settop(L, 5); /* fixed arity */
  Tensor *q = bind_tensor_check(L, 1), *k = bind_tensor_check(L, 2), *v = bind_tensor_check(L, 3);
  bool causal = lua_toboolean(L, 4);
  double scale = luaL_optnumber(L, 5, 0.0);
  Diag d;
  if (tensor_attention(q, k, v, causal, scale, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int core_is_tensor(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, TENSOR_MT) != NULL);
  return 1;
}

static int core_dtypes(lua_State *L) {
  lua_createtable(L, DT_COUNT, 0);
  for (int i = 0; i < DT_COUNT; i++) {
    lua_pushstring(L, tensor_dtype_name((DType)i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int core_promote(lua_State *L) {
  DType a = bind_tensor_opt_dtype(L, 1, DT_FLOAT32), b = bind_tensor_opt_dtype(L, 2, DT_FLOAT32);
  luaL_checkstring(L, 1);
  luaL_checkstring(L, 2);
  lua_pushstring(L, tensor_dtype_name(tensor_dtype_promote(a, b)));
  return 1;
}

/* ---- Tensor methods: math -------------------------------------------------------------------- */

/* upvalue 1: the TensorBinOp; either operand may be a number (metamethods: 2 - t) */
static int m_binary(lua_State *L) {
  lua_settop(L, 2); /* fixed arity */
  Tensor *a = bind_tensor_check_operand(L, 1), *b = bind_tensor_check_operand(L, 2);
  Diag d;
  if (tensor_binary((TensorBinOp)lua_tointeger(L, lua_upvalueindex(1)), a, b, bind_tensor_box_new(L), &d))
    return bind_tensor_raise(L, &d);
  return 1;
}

static int m_unary(lua_State *L) {
  lua_settop(L, 1); /* fixed arity */
  Tensor *a = bind_tensor_check(L, 1);
  Diag d;
  if (tensor_unary((TensorUnOp)lua_tointeger(L, lua_upvalueindex(1)), a, bind_tensor_box_new(L), &d))
    return bind_tensor_raise(L, &d);
  return 1;
}

/* upvalue 1: the TensorReduceOp. t:sum([dim [, keepdim]]) */
static int m_reduce(lua_State *L) {
  lua_settop(L, 3); /* fixed arity */
  Tensor *t = bind_tensor_check(L, 1);
  int dim = lua_isnoneornil(L, 2) ? TENSOR_ALL_DIMS : bind_tensor_check_dim(L, 2, t->ndim);
  bool keepdim = lua_toboolean(L, 3); /* read before box_new pushes onto the stack */
  Diag d;
  if (tensor_reduce((TensorReduceOp)lua_tointeger(L, lua_upvalueindex(1)), t, dim, keepdim, 1,
                    bind_tensor_box_new(L), &d))
    return bind_tensor_raise(L, &d);
  return 1;
}

/* ---- Tensor methods: tiles ------------------------------------------------------------------- */

static int check_specs(lua_State *L, int idx, const Tensor *t, TileSpec *specs) {
  luaL_checktype(L, idx, LUA_TTABLE);
  int n = (int)luaL_len(L, idx);
  if (n != t->ndim)
    return luaL_error(L, "expected %d indices for a %d-d tensor, got %d", t->ndim, t->ndim, n);
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    TileSpec *s = &specs[i];
    int ok;
    s->first = lua_tointegerx(L, -1, &ok);
    if (ok) {
      s->kind = TILE_INDEX;
    } else if (lua_istable(L, -1)) {
      s->kind = TILE_RANGE;
      int ok2;
      lua_geti(L, -1, 1);
      lua_geti(L, -2, 2);
      s->first = lua_tointegerx(L, -2, &ok);
      s->len = lua_tointegerx(L, -1, &ok2);
      if (!ok || !ok2) luaL_error(L, "tile index %d: a range must be {first, len} with integers", i + 1);
      lua_pop(L, 2);
    } else if ((s->index = bind_tensor_test(L, -1)) != NULL) {
      s->kind = TILE_GATHER; /* stays referenced by the specs table */
    } else {
      luaL_error(L, "tile index %d: expected an integer, a {first, len} range or an index tensor, "
                    "got a %s", i + 1, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
  }
  return n;
}

static int m_load_tile(lua_State *L) {
  lua_settop(L, 3); /* fixed arity */
  Tensor *t = bind_tensor_check(L, 1);
  TileSpec specs[TENSOR_MAX_DIMS];
  int n = check_specs(L, 2, t, specs);
  double fill = lua_isboolean(L, 3) ? lua_toboolean(L, 3) : luaL_optnumber(L, 3, 0.0);
  Diag d;
  if (tensor_load_tile(t, specs, n, 1, fill, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int store_common(lua_State *L, bool add) {
  lua_settop(L, 4); /* fixed arity */
  Tensor *t = bind_tensor_check(L, 1);
  TileSpec specs[TENSOR_MAX_DIMS];
  int n = check_specs(L, 2, t, specs);
  Tensor *v = bind_tensor_check_operand(L, 3);
  Tensor *mask = lua_isnoneornil(L, 4) ? NULL : bind_tensor_check(L, 4);
  Diag d;
  int rc = add ? tensor_atomic_add_tile(t, specs, n, 1, v, mask, &d)
               : tensor_store_tile(t, specs, n, 1, v, mask, &d);
  if (rc) return bind_tensor_raise(L, &d);
  lua_settop(L, 1);
  return 1;
}

static int m_store_tile(lua_State *L) { return store_common(L, false); }
static int m_atomic_add_tile(lua_State *L) { return store_common(L, true); }

/* ---- registration ---------------------------------------------------------------------------- */

static const luaL_Reg ops_core_funcs[] = {
    {"where", core_where}, {"allclose", core_allclose},
    {"max_abs_err", core_max_abs_err}, {"rel_err", core_rel_err}, {"matmul", core_matmul},
    {"softmax", core_softmax}, {"log_softmax", core_log_softmax},
    {"layer_norm", core_layer_norm}, {"rms_norm", core_rms_norm},
    {"cross_entropy", core_cross_entropy}, {"attention", core_attention},
    {"is_tensor", core_is_tensor}, {"dtypes", core_dtypes}, {"promote", core_promote},
    {NULL, NULL}};

static const luaL_Reg ops_methods[] = {
    {"softmax", core_softmax}, {"log_softmax", core_log_softmax}, {"matmul", core_matmul},
    {"load_tile", m_load_tile}, {"store_tile", m_store_tile},
    {"atomic_add_tile", m_atomic_add_tile}, {NULL, NULL}};

static const struct {
  const char *name;
  TensorBinOp op;
} arith_meta[] = {{"__add", TENSOR_ADD}, {"__sub", TENSOR_SUB}, {"__mul", TENSOR_MUL},
                  {"__div", TENSOR_DIV}, {"__mod", TENSOR_MOD}, {"__pow", TENSOR_POW},
                  {"__idiv", TENSOR_FLOORDIV}};

static const char *const reduce_names[] = {"sum", "mean", "amax", "amin", "argmax", "argmin"};

static void set_closure(lua_State *L, int table, const char *name, lua_CFunction fn, int op) {
  lua_pushinteger(L, op);
  lua_pushcclosure(L, fn, 1);
  lua_setfield(L, table, name);
}

void bind_tensor_ops_register(lua_State *L, int core, int methods, int mt) {
  lua_pushvalue(L, core);
  luaL_setfuncs(L, ops_core_funcs, 0);
  lua_pop(L, 1);
  lua_pushvalue(L, methods);
  luaL_setfuncs(L, ops_methods, 0);
  lua_pop(L, 1);
  for (int op = 0; op < TENSOR_BINOP_COUNT; op++)
    set_closure(L, methods, tensor_binop_name((TensorBinOp)op), m_binary, op);
  for (int op = 0; op < TENSOR_UNOP_COUNT; op++)
    set_closure(L, methods, tensor_unop_name((TensorUnOp)op), m_unary, op);
  for (int op = 0; op <= TENSOR_ARGMIN; op++) set_closure(L, methods, reduce_names[op], m_reduce, op);
  for (size_t i = 0; i < sizeof arith_meta / sizeof arith_meta[0]; i++)
    set_closure(L, mt, arith_meta[i].name, m_binary, arith_meta[i].op);
  set_closure(L, mt, "__unm", m_unary, TENSOR_NEG);
}
