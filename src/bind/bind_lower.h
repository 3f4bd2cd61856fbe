/* Lua binding of the compiler: core.compile and the "helua.CompiledKernel" userdata.
 * Part of src/bind (the Lua boundary); the lowering is src/lower, the CPU runtime src/rt. */
#ifndef HELUA_BIND_LOWER_H
#define HELUA_BIND_LOWER_H

#include <lua.h>

/* Adds compile to the table on top of the stack (helua.core) and creates the compiled kernel's
 * metatable. */
void bind_lower_register(lua_State *L);

#endif
