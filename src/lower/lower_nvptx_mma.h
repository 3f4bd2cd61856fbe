/* Tensor-core dot tiles for the NVPTX back end: mma.sync m16n8k16 + ldmatrix + cp.async, emitted
 * into a caller's LLVM function. Part of src/lower (tile IR × Config → LLVM IR → PTX).
 *
 * A narrow API over LLVM-C and src/base only (no LEmit, no IR types), so the lowering's emitter
 * calls it with what it has: a builder positioned in a kernel, the thread index, a shared-memory
 * base pointer, and per-tile global base pointers / strides / valid extents as LLVM values.
 *
 * One CTA computes a BM×BN tile of C = A·B over K in slices of BK. A and B are bf16 or f16,
 * the accumulator float32 and lives in registers (an array of LLVM float values, the mma
 * fragment layout, carried by the caller or by nvmma_emit_mainloop's phis). Shared memory holds
 * num_stages A/B slices, each stored in its global layout (contiguous dim innermost) with a
 * 16-byte-chunk XOR swizzle so that cp.async writes and ldmatrix reads are free of bank
 * conflicts. share/doc/lowering.md ("Tensor cores (nvmma)") documents layouts and limits. */
#ifndef HELUA_LOWER_NVPTX_MMA_H
#define HELUA_LOWER_NVPTX_MMA_H

#include <llvm-c/Core.h>

#include "lower/lower_nvptx_mma_desc.h"

/* An operand's tile in global memory. Element (outer, inner) of the stored layout is at
 * ptr[outer*stride + inner]: A: outer = m, inner = k ([M, K]) or outer = k, inner = m (a_trans);
 * B: outer = k, inner = n ([K, N]) or outer = n, inner = k (b_trans). ptr points at this CTA's
 * tile origin with k = 0; mn_valid counts the valid M (or N) indices from that origin (may be
 * larger than the tile or <= 0), k_valid the valid K. Loads past them read zeros. */
typedef struct NvmmaGlobal {
  LLVMValueRef ptr;      /* ptr addrspace(1) */
  LLVMValueRef stride;   /* i64, elements */
  LLVMValueRef mn_valid; /* i32 */
  LLVMValueRef k_valid;  /* i32 */
} NvmmaGlobal;

/* State for emitting into one kernel. nvmma_ctx_init emits the per-thread index math at the
 * builder's position (do it once, in the entry block). */
typedef struct NvmmaCtx {
  NvmmaDesc desc;
  LLVMModuleRef mod;
  LLVMContextRef c;
  LLVMBuilderRef b;
  LLVMValueRef tid;  /* i32 thread index in the CTA (0 .. 32*num_warps-1); NULL: tid.x is read */
  LLVMValueRef smem; /* ptr addrspace(3): nvmma_smem_bytes bytes, 128-byte aligned */
  LLVMValueRef smem32;               /* i32: smem's shared-window address */
  LLVMValueRef lane, warp_m, warp_n; /* i32, derived */
  LLVMTypeRef i32, i64, f32;
} NvmmaCtx;

/* Fails (with a Diag) when the description is invalid or an intrinsic is missing from this
 * LLVM. */
int nvmma_ctx_init(NvmmaCtx *x, const NvmmaDesc *desc, LLVMModuleRef mod, LLVMBuilderRef b,
                   LLVMValueRef tid, LLVMValueRef smem, Diag *d);

/* Zeros for the accumulator: acc[nvmma_acc_count]. */
void nvmma_acc_zero(NvmmaCtx *x, LLVMValueRef *acc);

/* Copies the K-slice [k0, k0+bk) of A and B (k0: i32) into stage `stage` (i32, < num_stages):
 * 16-byte cp.async copies (vec16), past the edges zero-filled through cp.async's src-size; or
 * element loads and 16-byte shared stores. Does not commit, wait or sync. */
void nvmma_emit_load(NvmmaCtx *x, const NvmmaGlobal *a, const NvmmaGlobal *b, LLVMValueRef k0,
                     LLVMValueRef stage);
void nvmma_emit_commit(NvmmaCtx *x);              /* cp.async.commit_group */
void nvmma_emit_wait(NvmmaCtx *x, int pending);   /* cp.async.wait_group pending */
void nvmma_emit_barrier(NvmmaCtx *x);             /* bar.sync 0 */

/* acc += A_stage · B_stage over the whole slice: ldmatrix(.trans) x4 + mma.sync m16n8k16,
 * fully unrolled. acc is updated in place (new SSA values). */
void nvmma_emit_compute(NvmmaCtx *x, LLVMValueRef stage, LLVMValueRef *acc);

/* The pipelined K loop: acc (in: initial values, out: the loop's results) += A·B over
 * ceil(k_total / bk) slices. Prologue (num_stages-1 slices in flight), steady state (wait for
 * slice t, barrier, issue slice t+num_stages-1, compute slice t), drain; num_stages 1 loads,
 * waits, computes and syncs in turn. Leaves the builder in a new block after the loop; ends
 * with a barrier, so the caller may reuse the shared memory. k_total: i32. */
void nvmma_emit_mainloop(NvmmaCtx *x, const NvmmaGlobal *a, const NvmmaGlobal *b,
                         LLVMValueRef k_total, LLVMValueRef *acc);

/* Where accumulator element i of this thread lives in the BM×BN tile (i32 values). Elements
 * 2j and 2j+1 are in the same row at columns col and col+1 (col even): a pair can be stored
 * 2-wide. nvmma_acc_coord_const (lower_nvptx_mma_desc.h) is the constant part. */
void nvmma_emit_acc_coord(NvmmaCtx *x, int i, LLVMValueRef *row, LLVMValueRef *col);
/* Writes the accumulator to shared memory as float32, row-major with `ld` floats per row
 * (ld >= bn; pad it, e.g. bn+4, against bank conflicts). `dst`: ptr addrspace(3). No barrier. */
void nvmma_emit_acc_to_shared(NvmmaCtx *x, const LLVMValueRef *acc, LLVMValueRef dst, int ld);

#endif
