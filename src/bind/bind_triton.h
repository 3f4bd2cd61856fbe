/* Lua binding of the Triton renderer: core.triton(irfunc [, config]) -> Python text.
 * Part of src/bind (the Lua boundary); the renderer is src/lower/lower_triton.c. */
#ifndef HELUA_BIND_BIND_TRITON_H
#define HELUA_BIND_BIND_TRITON_H

#include <lua.h>

/* Adds triton to the table on top of the stack (helua.core). */
void bind_triton_register(lua_State *L);

#endif
