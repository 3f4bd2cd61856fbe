/* Lua binding of config spaces: core.config_space(irfunc, target [, opts]) and the
 * "helua.ConfigSpace" userdata. Part of src/bind (the Lua boundary); the spaces are src/config. */
#ifndef HELUA_BIND_CONFIG_H
#define HELUA_BIND_CONFIG_H

#include <lua.h>

/* Adds config_space to the table on top of the stack (helua.core) and creates the space's
 * metatable. */
void bind_config_register(lua_State *L);

#endif
