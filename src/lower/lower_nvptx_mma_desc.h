/* The tensor-core dot tile's description and its layouts as plain numbers (no LLVM): what
 * src/bind and the tests may include. Part of src/lower (tile IR × Config → LLVM IR → PTX);
 * the emitters are in lower_nvptx_mma.h. */
#ifndef HELUA_LOWER_NVPTX_MMA_DESC_H
#define HELUA_LOWER_NVPTX_MMA_DESC_H

#include <stdbool.h>

#include "base/diag.h"

typedef enum NvmmaDtype { NVMMA_BF16, NVMMA_F16 } NvmmaDtype;

/* One CTA's dot tile. */
typedef struct NvmmaDesc {
  int bm, bn, bk;         /* block tile: powers of two; bm, bn in 16..256, bk in 16..128 */
  NvmmaDtype dtype;       /* A and B; the accumulator is float32 */
  int num_warps;          /* 32*num_warps threads in the CTA */
  int warps_m, warps_n;   /* warps_m*warps_n == num_warps; warp tile (bm/warps_m)x(bn/warps_n)
                             must be a multiple of 16x16. 0, 0: chosen by nvmma_desc_check */
  bool a_trans;           /* A given as [K, M] (M contiguous) instead of [M, K] */
  bool b_trans;           /* B given as [N, K] (K contiguous; q@kᵀ) instead of [K, N] */
  int num_stages;         /* shared-memory slices in flight, >= 1 (1: no pipelining) */
  bool vec16;             /* the caller promises 16-byte aligned rows (base and row stride a
                             multiple of 8 elements): loads are cp.async 16-byte copies with
                             zero fill; false: synchronous element loads, any stride */
  bool wgmma;             /* Hopper's warpgroup MMA (inline PTX, sm_90a) instead of mma.sync:
                             a warpgroup (4 warps) per R blocks of 64 rows (bm = 16*num_warps*R),
                             bk = 64 (one 128-byte swizzle atom per row), A as [M,K], B either
                             way (as [K,N]: bn a multiple of 64), at most 128 accumulators per
                             thread; the accumulator layout: nvmma_acc_coord_const */
  bool wg_overlap;        /* wgmma, num_stages >= 2: issue a slice's wgmma, then the next
                             slice's loads, then wait (else loads first, wgmma waited at once) */
} NvmmaDesc;

/* Checks the description (fills warps_m/warps_n when both are 0). */
int nvmma_desc_check(NvmmaDesc *desc, Diag *d);
/* Shared-memory bytes for one stage (A slice + B slice) and for all num_stages stages. */
int nvmma_stage_bytes(const NvmmaDesc *desc);
int nvmma_smem_bytes(const NvmmaDesc *desc);
/* Float accumulators per thread: (bm/warps_m/16) * (bn/warps_n/8) * 4. */
int nvmma_acc_count(const NvmmaDesc *desc);

/* Where accumulator element i sits in the tile, as the constant part of row = warp_m*wm +
 * lane/4 + row_c, col = warp_n*wn + 2*(lane%4) + col_c (warp w: warp_m = w / warps_n,
 * warp_n = w % warps_n; wm = bm/warps_m, wn = bn/warps_n). */
void nvmma_acc_coord_const(const NvmmaDesc *desc, int i, int *row_c, int *col_c);

/* Byte offset of element (outer, inner) in a swizzled slice of `inner` elements per row (a
 * power of two >= 16), for tests and for callers that read the slices themselves. */
int nvmma_swizzle_offset(int inner, int outer_i, int inner_i);

#endif
