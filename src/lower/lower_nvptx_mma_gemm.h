/* A complete GEMM kernel built only from the nvmma API (lower_nvptx_mma.h), compiled to PTX:
 * the proof kernel of the tensor-core path. Part of src/lower (LLVM IR → PTX).
 *
 * Kernel "nvmma_gemm"(A, B, C: global pointers; M, N, K, lda, ldb, ldc: i32) computes
 * C[M,N] = A·B with A [M,K] (or [K,M] when a_trans), B [K,N] (or [N,K] when b_trans), row
 * strides lda/ldb/ldc in elements; one CTA per BM×BN tile of C in grouped order (group_m tiles
 * of M per group, as Triton's matmul), 32*num_warps threads, nvmma_smem_bytes dynamic shared
 * memory. Used by tests/unit/test_nvptx_mma.c and the Lua binding (core.nvmma_gemm) that runs
 * it on the GPU. The NVPTX target machine here is a small private one until the lowering's
 * own (lower_nvptx.c) is merged. */
#ifndef HELUA_LOWER_NVPTX_MMA_GEMM_H
#define HELUA_LOWER_NVPTX_MMA_GEMM_H

#include "lower/lower_nvptx_mma_desc.h"

typedef struct NvmmaGemm {
  NvmmaDesc desc;
  bool out_bf16; /* C as bfloat16 (round to nearest even); else float32 */
  int group_m;   /* grouped program order (>= 1; 8 is Triton's) */
} NvmmaGemm;

/* Builds, verifies, optimizes (O3) and emits PTX for sm_90a. *ptx (malloc'd, NUL-terminated,
 * free with free()) and, when llvm_ir is not NULL, the optimized LLVM IR text. g->desc gets
 * the warp split nvmma_desc_check chose. */
int nvmma_gemm_ptx(NvmmaGemm *g, char **ptx, char **llvm_ir, Diag *d);

/* Launch dims for an M×N output: grid.x = tiles, block.x = 32*num_warps. */
void nvmma_gemm_dims(const NvmmaGemm *g, int m, int n, unsigned grid[3], unsigned block[3]);

#endif
