/* Lua binding of host tensors: the "helua.Tensor" userdata, its shape, element, copy and view
 * methods and the creation functions (bind_tensor_ops.c has the math). Part of src/bind (the Lua
 * boundary): converts Lua's 1-based dims and indices to the C library's 0-based ones, and is the
 * only place a tensor Diag becomes a Lua error.
 *
 * Every C tensor the binding makes lives in a userdata box on the Lua stack from the moment it
 * exists (the box is pushed empty first, then filled), so a Lua error never leaks one. */
#include "bind/bind_tensor.h"
#include "bind/bind_tensor_internal.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"


typedef struct TBox {
  Tensor *t;
} TBox;

int bind_tensor_raise(lua_State *L, const Diag *d) { return luaL_error(L, "%s", d->msg); }

/* Pushes an empty box (safe to collect) and returns its slot. Functions with optional arguments
 * first fix their arity with lua_settop ("fixed arity"), so that boxes pushed for results and
 * scalar operands never land where an absent optional argument is read. */
/* The metatable is also kept in the registry under this address: a light-userdata key, so that
 * the checks below (several per kernel call) do not hash the name as luaL_testudata does. */
static const char tensor_mt_key = 0;

Tensor **bind_tensor_box_new(lua_State *L) {
  TBox *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->t = NULL;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_mt_key);
  lua_setmetatable(L, -2);
  return &b->t;
}

/* luaL_testudata(L, idx, TENSOR_MT) without the name lookup. */
static TBox *test_box(lua_State *L, int idx) {
  TBox *b = lua_touserdata(L, idx);
  if (!b || !lua_getmetatable(L, idx)) return NULL;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_mt_key);
  bool same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? b : NULL;
}

Tensor *bind_tensor_test(lua_State *L, int idx) {
  TBox *b = test_box(L, idx);
  return b ? b->t : NULL;
}

Tensor *bind_tensor_check(lua_State *L, int idx) {
  TBox *b = test_box(L, idx);
  if (!b) luaL_typeerror(L, idx, "Tensor");
  if (!b->t) luaL_argerror(L, idx, "tensor was closed");
  return b->t;
}

void bind_tensor_push(lua_State *L, Tensor *t) { *bind_tensor_box_new(L) = t; }

/* ---- argument helpers ---------------------------------------------------------------------- */

DType bind_tensor_opt_dtype(lua_State *L, int idx, DType def) {
  if (lua_isnoneornil(L, idx)) return def;
  Diag d;
  DType dt;
  if (tensor_dtype_from_name(luaL_checkstring(L, idx), &dt, &d)) bind_tensor_raise(L, &d);
  return dt;
}

/* A shape: an array table of ints, or a single int (1-D). */
static int check_shape(lua_State *L, int idx, int64_t *sizes) {
  if (lua_isinteger(L, idx)) {
    sizes[0] = lua_tointeger(L, idx);
    return 1;
  }
  luaL_checktype(L, idx, LUA_TTABLE);
  int n = (int)luaL_len(L, idx);
  if (n > TENSOR_MAX_DIMS) luaL_error(L, "tensors have at most %d dims, got %d", TENSOR_MAX_DIMS, n);
  for (int i = 0; i < n; i++) {
    lua_geti(L, idx, i + 1);
    int ok;
    sizes[i] = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "shape entry %d is not an integer", i + 1);
    lua_pop(L, 1);
  }
  return n;
}

/* Sizes given as integers from `first` on, or as one table at `first`. */
static int check_sizes(lua_State *L, int first, int64_t *sizes) {
  if (lua_istable(L, first)) return check_shape(L, first, sizes);
  int n = lua_gettop(L) - first + 1;
  if (n > TENSOR_MAX_DIMS) luaL_error(L, "tensors have at most %d dims, got %d", TENSOR_MAX_DIMS, n);
  for (int i = 0; i < n; i++) sizes[i] = luaL_checkinteger(L, first + i);
  return n < 0 ? 0 : n;
}

/* A Lua dim (1..n or -n..-1) as the C library's 0-based dim. `n` is the number of valid slots. */
int bind_tensor_check_dim(lua_State *L, int idx, int n) {
  lua_Integer dim = luaL_checkinteger(L, idx);
  if (dim >= 1 && dim <= n) return (int)dim - 1;
  if (dim <= -1 && dim >= -n) return (int)(dim + n);
  if (n == 0) return luaL_error(L, "dim %d is out of range for a 0-d tensor (it has no dims)", (int)dim);
  return luaL_error(L, "dim %d is out of range for a %d-d tensor (valid: 1..%d or -%d..-1)",
                    (int)dim, n, n, n);
}

/* A tensor argument, or a number/boolean made into a wrapped scalar (pushed, so it is owned). */
Tensor *bind_tensor_check_operand(lua_State *L, int idx) {
  Tensor *t = bind_tensor_test(L, idx);
  if (t) return t;
  Diag d;
  Tensor **slot;
  int rc;
  if (lua_isinteger(L, idx)) {
    slot = bind_tensor_box_new(L);
    rc = tensor_scalar_i64(lua_tointeger(L, idx), slot, &d);
  } else if (lua_type(L, idx) == LUA_TNUMBER) {
    slot = bind_tensor_box_new(L);
    rc = tensor_scalar_f64(lua_tonumber(L, idx), slot, &d);
  } else if (lua_isboolean(L, idx)) {
    slot = bind_tensor_box_new(L);
    rc = tensor_scalar_bool(lua_toboolean(L, idx), slot, &d);
  } else {
    bind_tensor_check(L, idx); /* raises the type error */
    return NULL;
  }
  if (rc) bind_tensor_raise(L, &d);
  return *slot; /* the box stays on the stack until the C function returns */
}

static void push_element(lua_State *L, const Tensor *t, const int64_t *idx) {
  Diag d;
  if (t->dtype == DT_BOOL || tensor_dtype_is_int(t->dtype)) {
    int64_t v = 0;
    tensor_get_i64(t, idx, &v, &d);
    if (t->dtype == DT_BOOL) lua_pushboolean(L, v != 0);
    else lua_pushinteger(L, (lua_Integer)v);
  } else {
    double v = 0;
    tensor_get_f64(t, idx, &v, &d);
    lua_pushnumber(L, v);
  }
}

static void set_element(lua_State *L, Tensor *t, const int64_t *idx, int vidx) {
  Diag d;
  int rc;
  if (lua_isboolean(L, vidx)) rc = tensor_set_i64(t, idx, lua_toboolean(L, vidx), &d);
  else if (lua_isinteger(L, vidx)) rc = tensor_set_i64(t, idx, lua_tointeger(L, vidx), &d);
  else rc = tensor_set_f64(t, idx, luaL_checknumber(L, vidx), &d);
  if (rc) bind_tensor_raise(L, &d);
}

static void check_index(lua_State *L, const Tensor *t, int i, lua_Integer v, int64_t *out) {
  if (v < 1 || v > t->sizes[i])
    luaL_error(L, "index %I is out of range for dim %d (size %I)", (lua_Integer)v, i + 1,
               (lua_Integer)t->sizes[i]);
  *out = v - 1;
}

/* ---- core.* creation ------------------------------------------------------------------------- */

typedef int (*CreateFn)(const int64_t *, int, DType, Tensor **, Diag *);

static int create_common(lua_State *L, CreateFn fn) {
  lua_settop(L, 2); /* fixed arity */
  int64_t sizes[TENSOR_MAX_DIMS];
  int n = check_shape(L, 1, sizes);
  DType dt = bind_tensor_opt_dtype(L, 2, DT_FLOAT32);
  Diag d;
  if (fn(sizes, n, dt, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int core_empty(lua_State *L) { return create_common(L, tensor_empty); }
static int core_zeros(lua_State *L) { return create_common(L, tensor_zeros); }
static int core_ones(lua_State *L) { return create_common(L, tensor_ones); }

static int core_full(lua_State *L) {
  lua_settop(L, 3); /* fixed arity */
  int64_t sizes[TENSOR_MAX_DIMS];
  int n = check_shape(L, 1, sizes);
  bool isint = lua_isinteger(L, 2), isbool = lua_isboolean(L, 2);
  if (!isbool) luaL_checknumber(L, 2);
  DType dt = bind_tensor_opt_dtype(L, 3, isbool ? DT_BOOL : isint ? DT_INT64 : DT_FLOAT32);
  Diag d;
  Tensor **slot = bind_tensor_box_new(L);
  int rc = isbool || isint ? tensor_full_i64(sizes, n, isbool ? lua_toboolean(L, 2) : lua_tointeger(L, 2), dt, slot, &d)
                           : tensor_full(sizes, n, lua_tonumber(L, 2), dt, slot, &d);
  if (rc) return bind_tensor_raise(L, &d);
  return 1;
}

static int core_arange(lua_State *L) {
  lua_settop(L, 4); /* fixed arity */
  bool ints = lua_isinteger(L, 1) && lua_isinteger(L, 2) && (lua_isnoneornil(L, 3) || lua_isinteger(L, 3));
  double start = luaL_checknumber(L, 1), stop = luaL_checknumber(L, 2);
  double step = luaL_optnumber(L, 3, 1.0);
  DType dt = bind_tensor_opt_dtype(L, 4, ints ? DT_INT64 : DT_FLOAT32);
  Diag d;
  if (tensor_arange(start, stop, step, dt, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int random_common(lua_State *L, bool gaussian) {
  lua_settop(L, 3); /* fixed arity */
  int64_t sizes[TENSOR_MAX_DIMS];
  int n = check_shape(L, 1, sizes);
  DType dt = bind_tensor_opt_dtype(L, 2, DT_FLOAT32);
  uint64_t seed = (uint64_t)luaL_optinteger(L, 3, 0);
  Diag d;
  Tensor **slot = bind_tensor_box_new(L);
  int rc = gaussian ? tensor_randn(sizes, n, dt, seed, slot, &d) : tensor_rand(sizes, n, dt, seed, slot, &d);
  if (rc) return bind_tensor_raise(L, &d);
  return 1;
}

static int core_rand(lua_State *L) { return random_common(L, false); }
static int core_randn(lua_State *L) { return random_common(L, true); }

/* core.tensor: first pass finds the shape (from first elements) and leaf kinds. */
typedef struct Nest {
  int ndim;
  int64_t sizes[TENSOR_MAX_DIMS];
  bool all_bool, any_leaf;
  int64_t n;
  double *f;
  int64_t *i;
  char path[96];
} Nest;

static void nest_shape(lua_State *L, int idx, Nest *nt) {
  lua_pushvalue(L, idx);
  while (lua_istable(L, -1)) {
    if (nt->ndim == TENSOR_MAX_DIMS) luaL_error(L, "core.tensor: more than %d nesting levels", TENSOR_MAX_DIMS);
    int64_t len = (int64_t)luaL_len(L, -1);
    nt->sizes[nt->ndim++] = len;
    if (len == 0) break;
    lua_geti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
}

static void nest_fill(lua_State *L, int idx, int dim, Nest *nt, int64_t *pos) {
  size_t plen = strlen(nt->path);
  if (dim == nt->ndim) {
    int t = lua_type(L, idx);
    if (t == LUA_TBOOLEAN) {
      if (nt->f) nt->f[*pos] = lua_toboolean(L, idx), nt->i[*pos] = lua_toboolean(L, idx);
    } else if (t == LUA_TNUMBER) {
      nt->all_bool = false;
      if (nt->f) {
        nt->f[*pos] = lua_tonumber(L, idx);
        nt->i[*pos] = lua_isinteger(L, idx) ? lua_tointeger(L, idx) : (int64_t)0;
      }
    } else {
      luaL_error(L, "core.tensor: element at %s is a %s, expected a number or boolean",
                 plen ? nt->path : "(top)", luaL_typename(L, idx));
    }
    nt->any_leaf = true;
    (*pos)++;
    return;
  }
  const char *where = plen ? nt->path : "(top)";
  if (!lua_istable(L, idx))
    luaL_error(L, "core.tensor: ragged nested table at %s: expected a table of %I elements, got a %s",
               where, (lua_Integer)nt->sizes[dim], luaL_typename(L, idx));
  if ((int64_t)luaL_len(L, idx) != nt->sizes[dim])
    luaL_error(L, "core.tensor: ragged nested table at %s: expected %I elements, got %I", where,
               (lua_Integer)nt->sizes[dim], (lua_Integer)luaL_len(L, idx));
  for (int64_t k = 1; k <= nt->sizes[dim]; k++) {
    snprintf(nt->path + plen, sizeof nt->path - plen, "[%lld]", (long long)k);
    lua_geti(L, idx, k);
    nest_fill(L, lua_gettop(L), dim + 1, nt, pos);
    lua_pop(L, 1);
  }
  nt->path[plen] = '\0';
}

static int core_tensor(lua_State *L) {
  lua_settop(L, 2); /* fixed arity */
  luaL_checkany(L, 1);
  Nest nt = {.all_bool = true};
  nest_shape(L, 1, &nt);
  int64_t numel = 1, pos = 0;
  for (int i = 0; i < nt.ndim; i++) numel *= nt.sizes[i];
  nest_fill(L, 1, 0, &nt, &pos); /* validates, finds the kinds */
  DType dt = bind_tensor_opt_dtype(L, 2, nt.all_bool && nt.any_leaf ? DT_BOOL : DT_FLOAT32);
  nt.f = lua_newuserdatauv(L, sizeof(double) * (size_t)(numel ? numel : 1), 0);
  nt.i = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(numel ? numel : 1), 0);
  pos = 0;
  nest_fill(L, 1, 0, &nt, &pos);
  bool ints = dt == DT_BOOL || tensor_dtype_is_int(dt);
  if (ints) /* keep integers exact; fractional leaves convert like a C cast */
    for (int64_t k = 0; k < numel; k++)
      if ((double)nt.i[k] != nt.f[k]) nt.i[k] = (int64_t)nt.f[k];
  Diag d;
  if (tensor_from_buffer(ints ? (void *)nt.i : (void *)nt.f, ints ? DT_INT64 : DT_FLOAT64, nt.sizes,
                         nt.ndim, dt, bind_tensor_box_new(L), &d))
    return bind_tensor_raise(L, &d);
  return 1;
}

/* ---- Tensor methods: shape and elements ------------------------------------------------------ */

static int m_size(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, (lua_Integer)t->sizes[bind_tensor_check_dim(L, 2, t->ndim)]);
    return 1;
  }
  luaL_checkstack(L, t->ndim, NULL);
  for (int i = 0; i < t->ndim; i++) lua_pushinteger(L, (lua_Integer)t->sizes[i]);
  return t->ndim;
}

static void push_array(lua_State *L, const int64_t *v, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)v[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int m_shape(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  push_array(L, t->sizes, t->ndim);
  return 1;
}

static int m_stride(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, (lua_Integer)t->strides[bind_tensor_check_dim(L, 2, t->ndim)]);
    return 1;
  }
  push_array(L, t->strides, t->ndim);
  return 1;
}

static int m_dim(lua_State *L) {
  lua_pushinteger(L, bind_tensor_check(L, 1)->ndim);
  return 1;
}

static int m_numel(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)tensor_numel(bind_tensor_check(L, 1)));
  return 1;
}

static int m_is_contiguous(lua_State *L) {
  lua_pushboolean(L, tensor_is_contiguous(bind_tensor_check(L, 1)));
  return 1;
}

static int m_element_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)tensor_dtype_size(bind_tensor_check(L, 1)->dtype));
  return 1;
}

static int m_len(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  if (t->ndim == 0) return luaL_error(L, "attempt to get the length of a 0-d tensor");
  lua_pushinteger(L, (lua_Integer)t->sizes[0]);
  return 1;
}

static int m_get(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  int n = lua_gettop(L) - 1;
  if (n != t->ndim)
    return luaL_error(L, "t:get expects %d indices for a %d-d tensor, got %d", t->ndim, t->ndim, n);
  int64_t idx[TENSOR_MAX_DIMS];
  for (int i = 0; i < n; i++) check_index(L, t, i, luaL_checkinteger(L, i + 2), &idx[i]);
  push_element(L, t, idx);
  return 1;
}

static int m_set(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  int64_t idx[TENSOR_MAX_DIMS];
  if (lua_isinteger(L, 2) && t->ndim == 1) {
    check_index(L, t, 0, lua_tointeger(L, 2), &idx[0]);
  } else {
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = (int)luaL_len(L, 2);
    if (n != t->ndim)
      return luaL_error(L, "t:set expects %d indices for a %d-d tensor, got %d", t->ndim, t->ndim, n);
    for (int i = 0; i < n; i++) {
      lua_geti(L, 2, i + 1);
      check_index(L, t, i, luaL_checkinteger(L, -1), &idx[i]);
      lua_pop(L, 1);
    }
  }
  luaL_checkany(L, 3);
  set_element(L, t, idx, 3);
  lua_settop(L, 1);
  return 1;
}

static int m_item(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  int64_t n = tensor_numel(t);
  if (n != 1)
    return luaL_error(L, "t:item needs a tensor with exactly 1 element, this one has %I", (lua_Integer)n);
  int64_t idx[TENSOR_MAX_DIMS] = {0};
  push_element(L, t, idx);
  return 1;
}

static void totable_rec(lua_State *L, const Tensor *t, int dim, int64_t *idx) {
  if (dim == t->ndim) {
    push_element(L, t, idx);
    return;
  }
  luaL_checkstack(L, 4, NULL);
  lua_createtable(L, (int)t->sizes[dim], 0);
  for (int64_t i = 0; i < t->sizes[dim]; i++) {
    idx[dim] = i;
    totable_rec(L, t, dim + 1, idx);
    lua_rawseti(L, -2, i + 1);
  }
}

static int m_totable(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  int64_t idx[TENSOR_MAX_DIMS] = {0};
  totable_rec(L, t, 0, idx);
  return 1;
}

static int m_tostring(lua_State *L) {
  TBox *b = luaL_checkudata(L, 1, TENSOR_MT);
  if (!b->t) {
    lua_pushstring(L, "tensor(<closed>)");
    return 1;
  }
  Diag d;
  char *s;
  if (tensor_to_string(b->t, &s, &d)) return bind_tensor_raise(L, &d);
  lua_pushstring(L, s); /* may raise on OOM; s leaks only then */
  mem_free(s);
  return 1;
}

static int m_gc(lua_State *L) {
  TBox *b = test_box(L, 1);
  if (!b) return luaL_typeerror(L, 1, "Tensor");
  tensor_free(b->t);
  b->t = NULL;
  return 0;
}

static int m_compare_error(lua_State *L) {
  return luaL_error(L, "comparison operators (<, <=, >, >=) cannot compare tensors elementwise; "
                       "use t:lt(x), t:le(x), t:gt(x), t:ge(x)");
}

static int m_index(lua_State *L) {
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *k = lua_tostring(L, 2);
    if (strcmp(k, "dtype") == 0) {
      lua_pushstring(L, tensor_dtype_name(bind_tensor_check(L, 1)->dtype));
      return 1;
    }
    if (strcmp(k, "device") == 0) {
      lua_pushstring(L, "cpu");
      return 1;
    }
  }
  lua_pushvalue(L, 2);
  lua_gettable(L, lua_upvalueindex(1));
  return 1;
}

/* ---- Tensor methods: copies and views -------------------------------------------------------- */

static int m_to(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  const char *s = luaL_checkstring(L, 2);
  DType dt = strcmp(s, "cpu") == 0 ? t->dtype : bind_tensor_opt_dtype(L, 2, t->dtype);
  Diag d;
  if (tensor_cast(t, dt, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int m_cpu(lua_State *L) {
  bind_tensor_check(L, 1);
  lua_settop(L, 1);
  return 1;
}

static int m_contiguous(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  if (tensor_is_contiguous(t)) {
    lua_settop(L, 1);
    return 1;
  }
  Diag d;
  if (tensor_clone(t, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int m_clone(lua_State *L) {
  Diag d;
  if (tensor_clone(bind_tensor_check(L, 1), bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int m_copy_(lua_State *L) {
  lua_settop(L, 2); /* fixed arity */
  Tensor *t = bind_tensor_check(L, 1), *src = bind_tensor_check_operand(L, 2);
  Diag d;
  if (tensor_copy_(t, src, &d)) return bind_tensor_raise(L, &d);
  lua_pushvalue(L, 1);
  return 1;
}

static int m_fill_(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  Diag d;
  int rc;
  if (lua_isboolean(L, 2)) rc = tensor_fill_i64_(t, lua_toboolean(L, 2), &d);
  else if (lua_isinteger(L, 2)) rc = tensor_fill_i64_(t, lua_tointeger(L, 2), &d);
  else rc = tensor_fill_(t, luaL_checknumber(L, 2), &d);
  if (rc) return bind_tensor_raise(L, &d);
  lua_settop(L, 1);
  return 1;
}

static int m_transpose(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  int a, b;
  if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3)) {
    if (t->ndim != 2)
      return luaL_error(L, "t:transpose() without dims needs a 2-d tensor, this one is %d-d; "
                           "pass the two dims to swap", t->ndim);
    a = 0, b = 1;
  } else {
    a = bind_tensor_check_dim(L, 2, t->ndim);
    b = bind_tensor_check_dim(L, 3, t->ndim);
  }
  Diag d;
  if (tensor_transpose(t, a, b, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int m_permute(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  int64_t v[TENSOR_MAX_DIMS];
  int n = check_sizes(L, 2, v), dims[TENSOR_MAX_DIMS];
  if (n != t->ndim)
    return luaL_error(L, "t:permute needs %d dims for a %d-d tensor, got %d", t->ndim, t->ndim, n);
  for (int i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)v[i]);
    dims[i] = bind_tensor_check_dim(L, lua_gettop(L), t->ndim);
    lua_pop(L, 1);
  }
  Diag d;
  if (tensor_permute(t, dims, n, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int m_slice(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  int dim = bind_tensor_check_dim(L, 2, t->ndim);
  int64_t size = t->sizes[dim];
  lua_Integer first = luaL_checkinteger(L, 3), last = luaL_optinteger(L, 4, -1);
  lua_Integer step = luaL_optinteger(L, 5, 1);
  if (first == 0) return luaL_error(L, "t:slice: first is 1-based (or negative from the end), got 0");
  int64_t f0 = first > 0 ? first - 1 : size + first, e0 = last >= 0 ? last : size + last + 1;
  if (f0 < 0) f0 = 0;
  if (e0 < 0) e0 = 0;
  Diag d;
  if (tensor_slice(t, dim, f0, e0, step, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int m_narrow(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  int dim = bind_tensor_check_dim(L, 2, t->ndim);
  lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
  int64_t size = t->sizes[dim], s0 = start > 0 ? start - 1 : size + start;
  if (start == 0 || s0 < 0 || len < 0 || s0 + len > size)
    return luaL_error(L, "t:narrow: start %I with length %I is out of range for dim %d (size %I)",
                      start, len, dim + 1, (lua_Integer)size);
  Diag d;
  if (tensor_narrow(t, dim, s0, len, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

typedef int (*SizesFn)(const Tensor *, const int64_t *, int, Tensor **, Diag *);

static int sizes_method(lua_State *L, SizesFn fn) {
  Tensor *t = bind_tensor_check(L, 1);
  int64_t v[TENSOR_MAX_DIMS];
  int n = check_sizes(L, 2, v);
  Diag d;
  if (fn(t, v, n, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int m_expand(lua_State *L) { return sizes_method(L, tensor_expand); }
static int m_reshape(lua_State *L) { return sizes_method(L, tensor_reshape); }
static int m_view(lua_State *L) { return sizes_method(L, tensor_view); }

static int m_flatten(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  int64_t n = tensor_numel(t);
  Diag d;
  if (tensor_reshape(t, &n, 1, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int m_unsqueeze(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  int dim = bind_tensor_check_dim(L, 2, t->ndim + 1);
  Diag d;
  if (tensor_unsqueeze(t, dim, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

static int m_squeeze(lua_State *L) {
  Tensor *t = bind_tensor_check(L, 1);
  bool all = lua_isnoneornil(L, 2);
  int dim = all ? 0 : bind_tensor_check_dim(L, 2, t->ndim);
  Diag d;
  if (tensor_squeeze(t, dim, all, bind_tensor_box_new(L), &d)) return bind_tensor_raise(L, &d);
  return 1;
}

/* ---- registration ---------------------------------------------------------------------------- */

static const luaL_Reg core_funcs[] = {
    {"empty", core_empty}, {"zeros", core_zeros}, {"ones", core_ones}, {"full", core_full},
    {"arange", core_arange}, {"rand", core_rand}, {"randn", core_randn},
    {"tensor", core_tensor}, {NULL, NULL}};

static const luaL_Reg tensor_methods[] = {
    {"size", m_size}, {"shape", m_shape}, {"stride", m_stride}, {"dim", m_dim},
    {"numel", m_numel}, {"is_contiguous", m_is_contiguous}, {"element_size", m_element_size},
    {"get", m_get}, {"set", m_set}, {"item", m_item}, {"totable", m_totable},
    {"to", m_to}, {"cpu", m_cpu}, {"contiguous", m_contiguous}, {"clone", m_clone},
    {"copy_", m_copy_}, {"fill_", m_fill_}, {"transpose", m_transpose}, {"permute", m_permute},
    {"slice", m_slice}, {"narrow", m_narrow}, {"expand", m_expand}, {"reshape", m_reshape},
    {"view", m_view}, {"unsqueeze", m_unsqueeze}, {"squeeze", m_squeeze}, {"flatten", m_flatten},
    {NULL, NULL}};

void bind_tensor_register(lua_State *L) {
  int core = lua_gettop(L);
  luaL_setfuncs(L, core_funcs, 0);
  lua_newtable(L); /* methods */
  int methods = lua_gettop(L);
  luaL_setfuncs(L, tensor_methods, 0);

  luaL_newmetatable(L, TENSOR_MT);
  int mt = lua_gettop(L);
  lua_pushvalue(L, mt);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &tensor_mt_key);
  bind_tensor_ops_register(L, core, methods, mt); /* math, reference ops, tiles */
  const luaL_Reg meta[] = {{"__tostring", m_tostring}, {"__len", m_len}, {"__gc", m_gc},
                           {"__close", m_gc}, {"__lt", m_compare_error}, {"__le", m_compare_error},
                           {NULL, NULL}};
  luaL_setfuncs(L, meta, 0);
  lua_pushvalue(L, methods);
  lua_pushcclosure(L, m_index, 1);
  lua_setfield(L, mt, "__index");
  lua_pop(L, 1); /* metatable */
  lua_setfield(L, core, "Tensor"); /* core.Tensor = the method table (others may add methods) */
}
