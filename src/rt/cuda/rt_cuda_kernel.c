/* A compiled kernel on the GPU: PTX text + entry name → a loaded module and function, launched
 * with the dims and dynamic shared memory the compiler chose. Part of src/rt/cuda (runtime); the
 * tuner's worker processes use it without Lua. */
#include <string.h>

#include "base/mem.h"
#include "rt/cuda/rt_cuda.h"

struct RtCudaKernel {
  RtCudaModule *mod;
  RtCudaFunc *fn;
  RtCudaJitLog log;
};

int rt_cuda_kernel_load(const char *ptx, const char *entry, RtCudaKernel **out, Diag *d) {
  RtCudaKernel *k = mem_calloc(1, sizeof *k);
  if (!k) return diag_set(d, "out of memory while loading a kernel");
  if (rt_cuda_module_load_ptx(ptx, ptx ? strlen(ptx) : 0, &k->mod, &k->log, d) ||
      rt_cuda_module_function(k->mod, entry, &k->fn, d)) {
    rt_cuda_kernel_free(k);
    return HL_ERR;
  }
  *out = k;
  return HL_OK;
}

int rt_cuda_kernel_launch(RtCudaKernel *k, const unsigned grid[3], const unsigned block[3],
                          unsigned shared_bytes, void **params, Diag *d) {
  RtCudaLaunch dims = {.shared_bytes = shared_bytes};
  memcpy(dims.grid, grid, sizeof dims.grid);
  memcpy(dims.block, block, sizeof dims.block);
  return rt_cuda_launch(k->fn, &dims, params, d);
}

const RtCudaJitLog *rt_cuda_kernel_log(const RtCudaKernel *k) {
  return &k->log;
}

int rt_cuda_kernel_attrs(RtCudaKernel *k, RtCudaFuncAttrs *out, Diag *d) {
  return rt_cuda_func_attrs(k->fn, out, d);
}

void rt_cuda_kernel_free(RtCudaKernel *k) {
  if (!k) return;
  Diag ignored;
  rt_cuda_module_unload(k->mod, &ignored);
  mem_free(k);
}
