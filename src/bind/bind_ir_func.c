/* Lua binding of the finished tile IR function: the "helua.IrFunc" userdata b:finish() returns
 * (text, fingerprint, verify, config-space records). Part of src/bind (the Lua boundary). */
#include <lauxlib.h>
#include <stdio.h>

#include "bind/bind_ir.h"
#include "bind/bind_ir_internal.h"

typedef struct LFunc {
  IrFunc *f;
} LFunc;

IrFunc **bind_ir_push_func(lua_State *L) {
  LFunc *lf = lua_newuserdatauv(L, sizeof *lf, 0);
  lf->f = NULL;
  luaL_setmetatable(L, FUNC_MT);
  return &lf->f;
}

IrFunc *bind_ir_check_func(lua_State *L, int idx) {
  LFunc *lf = luaL_checkudata(L, idx, FUNC_MT);
  if (!lf->f) luaL_error(L, "the IR function was closed");
  return lf->f;
}

static IrFunc *check_func(lua_State *L) {
  return bind_ir_check_func(L, 1);
}

/* ---- the finished function ------------------------------------------------------------------- */

static int f_gc(lua_State *L) {
  LFunc *lf = luaL_checkudata(L, 1, FUNC_MT);
  ir_func_free(lf->f);
  lf->f = NULL;
  return 0;
}

static int f_text(lua_State *L) {
  return bind_ir_push_text(L, check_func(L), 2);
}

static int f_fingerprint(lua_State *L) {
  IrFunc *f = check_func(L);
  Diag d = {0};
  uint64_t h;
  if (ir_fingerprint(f, &h, &d)) return bind_ir_raise(L, &d);
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
  lua_pushstring(L, hex);
  return 1;
}

/* f:verify(phase?) -> true | false, message */
static int f_verify(lua_State *L) {
  IrFunc *f = check_func(L);
  Diag d = {0};
  IrPhase phase = IR_PHASE_TRACED;
  if (!lua_isnoneornil(L, 2) && ir_phase_from_name(luaL_checkstring(L, 2), &phase, &d))
    return bind_ir_raise(L, &d);
  diag_clear(&d);
  if (ir_verify(f, phase, &d) == HL_OK) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_pushstring(L, d.msg);
  return 2;
}

static int f_name(lua_State *L) {
  lua_pushstring(L, check_func(L)->name);
  return 1;
}

/* f:args() -> {{name=, kind=, dtype=, shape=, strides=}, ...} */
static int f_args(lua_State *L) {
  IrFunc *f = check_func(L);
  lua_createtable(L, f->nargs, 0);
  for (int i = 0; i < f->nargs; i++) {
    bind_ir_push_value_info(L, f, f->args[i]);
    bind_ir_set_int(L, "handle", f->args[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* f:block_slots() -> {{id=0, kind="tile"|"registered", extent=, min=, max=, line=}, ...} */
static int f_block_slots(lua_State *L) {
  IrFunc *f = check_func(L);
  lua_createtable(L, f->nslots, 0);
  for (int i = 0; i < f->nslots; i++) {
    const IrBlockSlot *s = &f->slots[i];
    lua_createtable(L, 0, 6);
    bind_ir_set_int(L, "id", i);
    bind_ir_set_str(L, "kind", s->kind == IR_SLOT_TILE ? "tile" : "registered");
    bind_ir_set_int(L, "extent", s->extent);
    bind_ir_set_int(L, "min", s->min);
    bind_ir_set_int(L, "max", s->max);
    bind_ir_set_int(L, "line", s->loc.line);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* f:reduction_dims() -> {{id=0, extent=, line=}, ...} */
static int f_reduction_dims(lua_State *L) {
  IrFunc *f = check_func(L);
  lua_createtable(L, f->nrdims, 0);
  for (int i = 0; i < f->nrdims; i++) {
    lua_createtable(L, 0, 3);
    bind_ir_set_int(L, "id", i);
    bind_ir_set_int(L, "extent", f->rdims[i].extent);
    bind_ir_set_int(L, "line", f->rdims[i].loc.line);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* f:tunables() -> {{id=0, name=, fragment=, dtype=, line=}, ...} */
static int f_tunables(lua_State *L) {
  IrFunc *f = check_func(L);
  lua_createtable(L, f->ntunables, 0);
  for (int i = 0; i < f->ntunables; i++) {
    const IrTunable *t = &f->tunables[i];
    lua_createtable(L, 0, 5);
    bind_ir_set_int(L, "id", i);
    bind_ir_set_str(L, "name", t->name);
    bind_ir_set_str(L, "fragment", t->fragment);
    bind_ir_set_str(L, "dtype", ir_dtype_name(t->dtype));
    bind_ir_set_int(L, "line", t->loc.line);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* f:loops() -> {{kind=, ndims=, block={...}, extent={...}, depth=, parent=, nest=, line=}, ...}
 * parent: position of the enclosing loop in this list (nil at top level); nest: 1-based. */
static int f_loops(lua_State *L) {
  IrFunc *f = check_func(L);
  int n = ir_func_loops(f, NULL, 0);
  IrLoopInfo *li = lua_newuserdatauv(L, sizeof *li * (size_t)(n ? n : 1), 0);
  ir_func_loops(f, li, n);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_createtable(L, 0, 8);
    bind_ir_set_str(L, "kind", ir_op_info(li[i].kind)->name);
    bind_ir_set_int(L, "ndims", li[i].ndims);
    IrShape block = {.rank = li[i].ndims}, extent = {.rank = li[i].ndims};
    for (int k = 0; k < li[i].ndims; k++) {
      block.dims[k] = li[i].block[k];
      extent.dims[k] = (IrDim){IR_DIM_CONST, li[i].extent[k]};
    }
    bind_ir_push_shape(L, &block);
    lua_setfield(L, -2, "block");
    bind_ir_push_shape(L, &extent);
    lua_setfield(L, -2, "extent");
    bind_ir_set_int(L, "depth", li[i].depth);
    if (li[i].parent >= 0) bind_ir_set_int(L, "parent", li[i].parent + 1);
    bind_ir_set_int(L, "nest", li[i].nest + 1);
    bind_ir_set_int(L, "line", li[i].op->loc.line);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* f:memops() -> {{kind="load"|"store"|"atomic_add", explicit_eviction=, loop=, line=}, ...} */
static int f_memops(lua_State *L) {
  IrFunc *f = check_func(L);
  int n = ir_func_memops(f, NULL, 0);
  IrMemOpInfo *m = lua_newuserdatauv(L, sizeof *m * (size_t)(n ? n : 1), 0);
  ir_func_memops(f, m, n);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_createtable(L, 0, 4);
    bind_ir_set_str(L, "kind", ir_op_info(m[i].kind)->name);
    bind_ir_set_bool(L, "explicit_eviction", m[i].explicit_eviction);
    if (m[i].loop >= 0) bind_ir_set_int(L, "loop", m[i].loop + 1);
    bind_ir_set_int(L, "line", m[i].op->loc.line);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int f_tostring(lua_State *L) {
  LFunc *lf = luaL_checkudata(L, 1, FUNC_MT);
  if (!lf->f) {
    lua_pushstring(L, "IrFunc(closed)");
    return 1;
  }
  return bind_ir_push_text(L, lf->f, 2);
}

static const luaL_Reg func_methods[] = {{"text", f_text},
                                        {"fingerprint", f_fingerprint},
                                        {"verify", f_verify},
                                        {"name", f_name},
                                        {"args", f_args},
                                        {"block_slots", f_block_slots},
                                        {"reduction_dims", f_reduction_dims},
                                        {"tunables", f_tunables},
                                        {"loops", f_loops},
                                        {"memops", f_memops},
                                        {"close", f_gc},
                                        {NULL, NULL}};

void bind_ir_func_register(lua_State *L) {
  bind_ir_new_class(L, FUNC_MT, func_methods, f_gc, f_tostring);
}
