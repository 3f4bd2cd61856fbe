/* The Lua boundary: assembles helua.core from the per-stage bindings and installs the
 * package searcher for the Lua sources embedded in the binary. Part of src/bind. */
#include "bind/bind.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/flags.h"
#include "bind/bind_config.h"
#include "bind/bind_cuda.h"
#include "bind/bind_ir.h"
#include "bind/bind_tune.h"
#include "bind/bind_lower.h"
#include "bind/bind_nvmma.h"
#include "bind/bind_tensor.h"
#include "bind/bind_triton.h"
#include "bind/embedded.h"
#include "lower/lower_version.h"

#define HELUA_VERSION "0.1.0"

static int core_versions(lua_State *L) {
  lua_createtable(L, 0, 3);
  lua_pushstring(L, HELUA_VERSION);
  lua_setfield(L, -2, "helua");
  lua_pushstring(L, LUA_RELEASE);
  lua_setfield(L, -2, "lua");
  lua_pushstring(L, lower_llvm_version());
  lua_setfield(L, -2, "llvm");
  return 1;
}

/* core.flags() -> array of {name=, type=, default=, doc=, value=} */
static int core_flags(lua_State *L) {
  lua_createtable(L, flags_count, 0);
  for (int i = 0; i < flags_count; i++) {
    const FlagInfo *f = &flags_table[i];
    lua_createtable(L, 0, 5);
    lua_pushstring(L, f->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, f->type);
    lua_setfield(L, -2, "type");
    lua_pushstring(L, f->def);
    lua_setfield(L, -2, "default");
    lua_pushstring(L, f->doc);
    lua_setfield(L, -2, "doc");
    const char *v = flags_get(f->name);
    if (v) {
      lua_pushstring(L, v);
      lua_setfield(L, -2, "value");
    }
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* core.flag(name) -> the variable's value or nil; an undeclared name is an error. */
static int core_flag(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  for (int i = 0; i < flags_count; i++) {
    if (strcmp(flags_table[i].name, name) == 0) {
      const char *v = flags_get(name);
      if (v) lua_pushstring(L, v);
      else lua_pushnil(L);
      return 1;
    }
  }
  return luaL_error(L, "internal: flag %s is not declared in src/base/flags.def", name);
}

/* core.clock() -> monotonic seconds as a float, for timing tables. */
static int core_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

static const luaL_Reg core_funcs[] = {
  {"versions", core_versions},
  {"flags", core_flags},
  {"flag", core_flag},
  {"clock", core_clock},
  {NULL, NULL},
};

int luaopen_helua_core(lua_State *L) {
  luaL_newlib(L, core_funcs);
  bind_tensor_register(L);
  bind_ir_register(L);
  bind_lower_register(L);
  bind_config_register(L);
  bind_tune_register(L);
  bind_triton_register(L);
  bind_nvmma_register(L);
  bind_cuda_register(L); /* last: it guards the tensor functions registered before it */
  return 1;
}

static const EmbeddedLua *embedded_find(const char *module) {
  for (const EmbeddedLua *e = bind_embedded_lua; e->module; e++)
    if (strcmp(e->module, module) == 0) return e;
  return NULL;
}

/* Loads a helua.* module from HELUA_LUA_DIR (if set and the file exists), else from the
 * embedded copy. Pushes the loader and its extra value, as a package searcher does. */
static int searcher_load(lua_State *L, const char *name) {
  const char *dir = flags_get("HELUA_LUA_DIR");
  if (dir) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, dir);
    luaL_addchar(&b, '/');
    for (const char *c = name; *c; c++) luaL_addchar(&b, *c == '.' ? '/' : *c);
    luaL_pushresult(&b);
    const char *stem = lua_tostring(L, -1);
    const char *tries[2] = {lua_pushfstring(L, "%s.lua", stem), lua_pushfstring(L, "%s/init.lua", stem)};
    for (int i = 0; i < 2; i++) {
      FILE *f = fopen(tries[i], "r");
      if (!f) continue;
      fclose(f);
      if (luaL_loadfilex(L, tries[i], "t") != LUA_OK)
        return luaL_error(L, "error loading module '%s' from '%s':\n\t%s", name, tries[i],
                          lua_tostring(L, -1));
      lua_pushstring(L, tries[i]);
      return 2;
    }
    lua_pop(L, 3);
  }
  const EmbeddedLua *e = embedded_find(name);
  if (!e) {
    lua_pushfstring(L, "no embedded helua module '%s'", name);
    return 1;
  }
  if (luaL_loadbufferx(L, e->source, e->len, e->chunkname, "t") != LUA_OK)
    return luaL_error(L, "error loading embedded module '%s':\n\t%s", name, lua_tostring(L, -1));
  lua_pushstring(L, e->chunkname + 1);
  return 2;
}

static int searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  if (strcmp(name, "helua") != 0 && strncmp(name, "helua.", 6) != 0) {
    lua_pushfstring(L, "not a helua module '%s'", name);
    return 1;
  }
  return searcher_load(L, name);
}

void bind_install(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_helua_core);
  lua_setfield(L, -2, "helua.core");
  lua_pop(L, 1);
  /* insert our searcher right after the preload searcher */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  lua_Integer n = (lua_Integer)luaL_len(L, -1);
  for (lua_Integer i = n; i >= 2; i--) {
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushcfunction(L, searcher);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
}

/* Entry points for a stock lua5.4 loading helua.so: install the searcher once, then run
 * the embedded module as `require` would. */
static int open_embedded(lua_State *L, const char *module) {
  lua_getfield(L, LUA_REGISTRYINDEX, "helua.installed");
  int installed = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (!installed) {
    bind_install(L);
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "helua.installed");
  }
  if (searcher_load(L, module) != 2) return luaL_error(L, "%s", lua_tostring(L, -1));
  lua_pushstring(L, module);
  lua_insert(L, -2);
  lua_call(L, 2, 1);
  return 1;
}

int luaopen_helua(lua_State *L) { return open_embedded(L, "helua"); }
int luaopen_helua_language(lua_State *L) { return open_embedded(L, "helua.language"); }
