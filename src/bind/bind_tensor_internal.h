/* Helpers shared by the two halves of the tensor binding (bind_tensor.c, bind_tensor_ops.c).
 * Part of src/bind (the Lua boundary); not for other bindings, which use bind_tensor.h. */
#ifndef HELUA_BIND_TENSOR_INTERNAL_H
#define HELUA_BIND_TENSOR_INTERNAL_H

#include <lua.h>

#include "tensor/tensor.h"

#define TENSOR_MT "helua.Tensor"

/* Raises d's message as a Lua error (never returns). */
int bind_tensor_raise(lua_State *L, const Diag *d);
/* Pushes an empty tensor box (safe to collect) and returns its slot; see bind_tensor.c. */
Tensor **bind_tensor_box_new(lua_State *L);
DType bind_tensor_opt_dtype(lua_State *L, int idx, DType def);
/* A Lua dim (1..n or -n..-1) as a 0-based dim; raises when out of range. */
int bind_tensor_check_dim(lua_State *L, int idx, int n);
/* A tensor argument, or a number/boolean made into a wrapped scalar (pushed, so it is owned). */
Tensor *bind_tensor_check_operand(lua_State *L, int idx);
/* Adds the reference ops to core, the math/tile methods to methods and the arithmetic
 * metamethods to mt (absolute stack indices). */
void bind_tensor_ops_register(lua_State *L, int core, int methods, int mt);

#endif
