/* Helpers shared by the two halves of the IR binding (bind_ir.c: the builder; bind_ir_func.c:
 * the finished function). Part of src/bind (the Lua boundary); other bindings use bind_ir.h. */
#ifndef HELUA_BIND_IR_INTERNAL_H
#define HELUA_BIND_IR_INTERNAL_H

#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>

#include "ir/ir.h"

#define FUNC_MT "helua.IrFunc"

/* Raises d's message as a Lua error, "file:line: message" when d has a location. */
int bind_ir_raise(lua_State *L, const Diag *d);
/* t[k] = v for the table on top of the stack. */
void bind_ir_set_int(lua_State *L, const char *k, lua_Integer v);
void bind_ir_set_bool(lua_State *L, const char *k, bool v);
void bind_ir_set_str(lua_State *L, const char *k, const char *v);
/* Pushes a shape as a list of integers and "B<n>"/"R<n>" strings (the text form's dims). */
void bind_ir_push_shape(lua_State *L, const IrShape *s);
/* Pushes {kind=, dtype=, shape=, name=, line=, strides=} of value id of f. */
void bind_ir_push_value_info(lua_State *L, const IrFunc *f, IrValueId id);
/* Pushes f's text; opts (a stack index, may be none) is {locations=, names=}. */
int bind_ir_push_text(lua_State *L, const IrFunc *f, int opts);
/* Creates metatable mt with __gc/__close = gc, __tostring and __index = methods. */
void bind_ir_new_class(lua_State *L, const char *mt, const luaL_Reg *methods, lua_CFunction gc,
                       lua_CFunction tostring);
/* Creates the "helua.IrFunc" metatable (bind_ir_func.c). */
void bind_ir_func_register(lua_State *L);

#endif
