/* Blocked GEMM kernels (float32/float64, strided operands, batched, threaded).
 * Part of src/tensor (host tensors); internal to src/tensor. */
#ifndef HELUA_TENSOR_GEMM_H
#define HELUA_TENSOR_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/tensor.h"

/* C[b] (contiguous [batch..., m, n]) = A[b] (m x k) * B[b] (k x n); strides in elements. */
typedef struct GemmArgs {
  bool f64; /* else float32 */
  int64_t m, n, k;
  const void *a, *b;
  void *c;
  int64_t rsa, csa, rsb, csb;
  int nbatch_dims;
  int64_t batch_sizes[TENSOR_MAX_DIMS];
  int64_t a_bstride[TENSOR_MAX_DIMS], b_bstride[TENSOR_MAX_DIMS]; /* 0 where broadcast */
} GemmArgs;

int tensor_gemm_run(const GemmArgs *g, Diag *d);

#endif
