/* Lua binding of host tensors: the Tensor userdata ("helua.Tensor") and core.* tensor functions.
 * Part of src/bind (the Lua boundary); the tensor library itself is src/tensor. */
#ifndef HELUA_BIND_TENSOR_H
#define HELUA_BIND_TENSOR_H

#include <lua.h>

#include "tensor/tensor.h"

/* Registers the tensor functions into the table on top of the stack (helua.core) and creates
 * the "helua.Tensor" metatable. */
void bind_tensor_register(lua_State *L);
/* The Tensor at idx, or raises a Lua error naming the argument. */
Tensor *bind_tensor_check(lua_State *L, int idx);
/* The Tensor at idx, or NULL when the value is not a (live) tensor. */
Tensor *bind_tensor_test(lua_State *L, int idx);
/* Pushes t as a new userdata; takes ownership (t is freed by __gc / __close). */
void bind_tensor_push(lua_State *L, Tensor *t);

#endif
