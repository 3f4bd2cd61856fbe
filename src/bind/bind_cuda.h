/* Lua binding of the CUDA runtime: core.cuda_* functions, device tensors (core.to_device) and the
 * CudaModule / CudaFunc / CudaEvent userdata (bind_cuda.c, bind_cuda_launch.c). Part of src/bind
 * (the Lua boundary). */
#ifndef HELUA_BIND_CUDA_H
#define HELUA_BIND_CUDA_H

#include <lua.h>

#include "tensor/tensor.h"

/* Registers into the table on top of the stack (helua.core). Call after bind_tensor_register
 * and the other bindings: it also installs the device guard around the tensor functions already
 * there (see bind_cuda.c). */
void bind_cuda_register(lua_State *L);
/* bind_cuda_launch.c: core.cuda_module, core.cuda_event and their userdata (bind_cuda_register
 * calls it). */
void bind_cuda_launch_register(lua_State *L);
/* bind_fast.c: core.fast_empty and core.tensor_index (bind_cuda_register calls it, after the
 * guard: they are not wrapped). */
void bind_fast_register(lua_State *L);

/* Pushes a new tensor (a device one adds its bytes to the collector's debt, see bind_cuda.c). */
void bind_cuda_push_new(lua_State *L, Tensor *t);

#endif
