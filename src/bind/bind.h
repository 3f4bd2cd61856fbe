/* The Lua boundary: the helua.core module and the loader for helua's embedded Lua sources.
 * Part of src/bind — the only place that includes lua.h and turns a Diag into a Lua error. */
#ifndef HELUA_BIND_H
#define HELUA_BIND_H

#include <lua.h>

/* Makes `require "helua.core"` and `require "helua.*"` work in L (embedded sources, or the
 * folder named by HELUA_LUA_DIR when set). Call once after luaL_openlibs. */
void bind_install(lua_State *L);

int luaopen_helua_core(lua_State *L);
int luaopen_helua(lua_State *L);
int luaopen_helua_language(lua_State *L);

#endif
