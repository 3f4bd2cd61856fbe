/* Device memory: memset and synchronous copies between host and device, and
 * page-locked host buffers (allocation and free are rt_cuda_cache.c's). Part of src/rt/cuda (the CUDA runtime). */
#include <string.h>

#include "rt/cuda/rt_cuda_internal.h"

int rt_cuda_memset(RtCudaPtr p, int elem_bytes, uint32_t pattern, size_t count, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  if (count == 0) return HL_OK;
  switch (elem_bytes) {
  case 1: return RT_CU(d, cuMemsetD8_v2, ((CUdeviceptr)p, (unsigned char)pattern, count));
  case 2: return RT_CU(d, cuMemsetD16_v2, ((CUdeviceptr)p, (unsigned short)pattern, count));
  case 4: return RT_CU(d, cuMemsetD32_v2, ((CUdeviceptr)p, pattern, count));
  default: return diag_set(d, "rt_cuda_memset: elements are 1, 2 or 4 bytes, not %d", elem_bytes);
  }
}

int rt_cuda_copy_htod(RtCudaPtr dst, const void *src, size_t nbytes, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  if (nbytes == 0) return HL_OK;
  if (RT_CU(d, cuMemcpyHtoD_v2, ((CUdeviceptr)dst, src, nbytes)))
    return diag_prefix(d, "copying %zu bytes to the device: ", nbytes);
  return HL_OK;
}

int rt_cuda_copy_dtoh(void *dst, RtCudaPtr src, size_t nbytes, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  if (nbytes == 0) return HL_OK;
  if (RT_CU(d, cuMemcpyDtoH_v2, (dst, (CUdeviceptr)src, nbytes)))
    return diag_prefix(d, "copying %zu bytes from the device: ", nbytes);
  return HL_OK;
}

int rt_cuda_copy_dtod(RtCudaPtr dst, RtCudaPtr src, size_t nbytes, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  if (nbytes == 0) return HL_OK;
  if (RT_CU(d, cuMemcpyDtoD_v2, ((CUdeviceptr)dst, (CUdeviceptr)src, nbytes)))
    return diag_prefix(d, "copying %zu bytes on the device: ", nbytes);
  return HL_OK;
}

int rt_cuda_host_alloc(size_t nbytes, void **out, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  void *p = NULL;
  if (RT_CU(d, cuMemAllocHost_v2, (&p, nbytes ? nbytes : 1)))
    return diag_prefix(d, "allocating %zu bytes of page-locked host memory: ", nbytes);
  *out = p;
  return HL_OK;
}

int rt_cuda_host_free(void *p, Diag *d) {
  if (!p || rt_cuda_state.phase != RT_CUDA_READY) return HL_OK;
  if (rt_cuda_enter(d)) return HL_ERR;
  return RT_CU(d, cuMemFreeHost, (p));
}

int rt_cuda_mem_info(size_t *free_bytes, size_t *total_bytes, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  return RT_CU(d, cuMemGetInfo_v2, (free_bytes, total_bytes));
}
