/* Lua binding of the Triton renderer: core.triton(irfunc [, config]) renders the kernel for a
 * cuda config as Triton Python text. Part of src/bind (the Lua boundary).
 *
 * The config is a plain table with Helion's field names (or a helua.Config), read into the cuda
 * config space derived from the IR: fields left out take that space's defaults (the ones the
 * tuner starts from), fields of other targets are ignored, and the constraints are checked. */
#include "bind/bind_triton.h"

#include <lauxlib.h>
#include <string.h>

#include "base/mem.h"
#include "bind/bind_config.h"
#include "bind/bind_ir.h"
#include "config/config.h"
#include "lower/lower_triton.h"

#define BOX_MT "helua.TritonSpace"

typedef struct Box {
  ConfigSpace *s;
} Box;

static int box_gc(lua_State *L) {
  Box *b = luaL_checkudata(L, 1, BOX_MT);
  cfgspace_free(b->s);
  b->s = NULL;
  return 0;
}

static int raise(lua_State *L, const Diag *d) {
  if (d->file[0] && d->line > 0) return luaL_error(L, "%s:%d: %s", d->file, d->line, d->msg);
  return luaL_error(L, "%s", d->msg);
}

/* core.triton(irfunc [, config [, dot_precision]]) -> text ("tf32": float32 dots on TF32) */
static int core_triton(lua_State *L) {
  IrFunc *f = bind_ir_check_func(L, 1);
  bool tf32 = strcmp(luaL_optstring(L, 3, "ieee"), "tf32") == 0;
  lua_settop(L, 2);
  if (lua_isnoneornil(L, 2)) {
    lua_settop(L, 1);
    lua_newtable(L);
  }
  Box *b = lua_newuserdatauv(L, sizeof *b, 0); /* safe empty state before the space exists */
  b->s = NULL;
  luaL_setmetatable(L, BOX_MT);
  Diag d = {0};
  if (cfgspace_derive(f, "cuda", &b->s, &d)) return raise(L, &d);
  int *cfg = lua_newuserdatauv(L, sizeof(int) * (size_t)(cfgspace_slots(b->s) + 1), 0);
  bind_config_read(L, b->s, 2, cfg);
  char *text = NULL;
  size_t len = 0;
  if (lower_triton_render(f, b->s, cfg, tf32, &text, &len, &d)) return raise(L, &d);
  lua_pushlstring(L, text, len);
  mem_free(text);
  return 1;
}

void bind_triton_register(lua_State *L) {
  if (luaL_newmetatable(L, BOX_MT)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, core_triton);
  lua_setfield(L, -2, "triton");
}
