/* Lua binding of config spaces: core.config_space(irfunc, target [, opts]) and the
 * "helua.ConfigSpace" userdata. Part of src/bind (the Lua boundary); the spaces are src/config. */
#ifndef HELUA_BIND_CONFIG_H
#define HELUA_BIND_CONFIG_H

#include <lua.h>

#include "config/config.h"

/* Adds config_space to the table on top of the stack (helua.core) and creates the space's
 * metatable. */
void bind_config_register(lua_State *L);

/* For the other bind files. The space userdata at idx (raises when it was closed). */
ConfigSpace *bind_config_space(lua_State *L, int idx);
/* Pushes cfg as a Lua table; the space's userdata must be at stack index 1 (the literal choices
 * of enum tunables live there). */
void bind_config_push(lua_State *L, const ConfigSpace *s, const int *cfg);

/* space:search(opts) -> a search strategy (bind_search.c); registers its metatable. */
int bind_search_new(lua_State *L);
void bind_search_register(lua_State *L);

/* Reads the config table (or helua.Config) at idx into cfg (cfgspace_slots(s) ints): the
 * space's default, then each field set, then the constraints checked. Raises naming the field. */
void bind_config_read(lua_State *L, const ConfigSpace *s, int idx, int *cfg);

#endif
