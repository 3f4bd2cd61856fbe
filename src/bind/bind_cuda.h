/* Lua binding of the CUDA runtime: core.cuda_* functions, device tensors (core.to_device) and the
 * CudaModule / CudaFunc / CudaEvent userdata (bind_cuda.c, bind_cuda_launch.c). Part of src/bind
 * (the Lua boundary). */
#ifndef HELUA_BIND_CUDA_H
#define HELUA_BIND_CUDA_H

#include <lua.h>

/* Registers into the table on top of the stack (helua.core). Call after bind_tensor_register
 * and the other bindings: it also installs the device guard around the tensor functions already
 * there (see bind_cuda.c). */
void bind_cuda_register(lua_State *L);
/* bind_cuda_launch.c: core.cuda_module, core.cuda_event and their userdata (bind_cuda_register
 * calls it). */
void bind_cuda_launch_register(lua_State *L);

#endif
