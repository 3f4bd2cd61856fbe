/* Lua binding of the tile IR: core.ir_builder(name) and core.ir_ops(), the "helua.IrBuilder" and
 * "helua.IrFunc" userdata. Part of src/bind (the Lua boundary); the IR itself is src/ir. */
#ifndef HELUA_BIND_IR_H
#define HELUA_BIND_IR_H

#include <lua.h>

#include "ir/ir.h"

/* Adds ir_builder and ir_ops to the table on top of the stack (helua.core) and creates the
 * builder and function metatables. */
void bind_ir_register(lua_State *L);

/* The IrFunc of the "helua.IrFunc" userdata at idx (from b:finish()); raises when idx holds
 * something else or a closed function. The userdata owns it: keep it reachable while in use. */
IrFunc *bind_ir_check_func(lua_State *L, int idx);

/* Pushes an empty "helua.IrFunc" userdata and returns its slot: a function stored there is
 * owned by it (freed in __gc). Push first, then make the function, so an error never leaks it. */
IrFunc **bind_ir_push_func(lua_State *L);

#endif
