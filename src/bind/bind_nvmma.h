/* Lua binding of the tensor-core proof GEMM (src/lower/lower_nvptx_mma_gemm.h): core.nvmma_gemm.
 * Part of src/bind (the Lua boundary). */
#ifndef HELUA_BIND_NVMMA_H
#define HELUA_BIND_NVMMA_H

#include <lua.h>

/* Registers core.nvmma_gemm into the table on top of the stack (helua.core). */
void bind_nvmma_register(lua_State *L);

#endif
