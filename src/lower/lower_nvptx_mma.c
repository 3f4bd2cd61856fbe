/* Tensor-core dot tiles for the NVPTX back end: shared-memory layout, cp.async slice loads,
 * ldmatrix + mma.sync m16n8k16 compute, the pipelined K loop and the accumulator layout.
 * Part of src/lower (tile IR × Config → LLVM IR → PTX); the API is in lower_nvptx_mma.h.
 *
 * Thread mapping. Warp w of the CTA owns the warp tile (w / warps_n, w % warps_n) of size
 * wm×wn = (bm/warps_m)×(bn/warps_n), i.e. mt×nt = (wm/16)×(wn/8) mma tiles. Accumulator element
 * i = (mi*nt + ni)*4 + e is C[row, col] of mma tile (mi, ni) with row = lane/4 + 8*(e/2),
 * col = 2*(lane%4) + e%2 (the PTX fragment layout of m16n8k16's C/D).
 *
 * Shared memory. A slice is stored as in global memory: `outer` rows of `inner` contiguous
 * 2-byte elements, cut into 16-byte chunks. The chunk index is XORed with the row (rows of 128
 * bytes or more) or with the 128-byte line (shorter rows), so the 8 row addresses of one
 * ldmatrix 8x8 matrix, and 8 consecutive chunks written by cp.async, hit 8 different 16-byte
 * bank groups. ldmatrix without .trans serves a slice whose contiguous dim is the mma's K
 * (A [M,K], B [N,K]); .trans serves the others (A [K,M], B [K,N]). */
#include "lower/lower_nvptx_mma.h"

#include <stdio.h>
#include <string.h>

static bool pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }

int nvmma_desc_check(NvmmaDesc *desc, Diag *d) {
  NvmmaDesc *s = desc;
  if (!pow2(s->bm) || !pow2(s->bn) || !pow2(s->bk) || s->bm < 16 || s->bn < 16 || s->bk < 16)
    return diag_set(d, "nvmma: block %dx%dx%d must be powers of two, each at least 16", s->bm,
                    s->bn, s->bk);
  if (s->bm > 256 || s->bn > 256 || s->bk > 128)
    return diag_set(d, "nvmma: block %dx%dx%d is larger than 256x256x128", s->bm, s->bn, s->bk);
  if (s->num_warps < 1 || s->num_warps > 16 || !pow2(s->num_warps))
    return diag_set(d, "nvmma: num_warps %d is not 1, 2, 4, 8 or 16", s->num_warps);
  if (s->num_stages < 1 || s->num_stages > 8)
    return diag_set(d, "nvmma: num_stages %d is not in 1..8", s->num_stages);
  if (s->dtype != NVMMA_BF16 && s->dtype != NVMMA_F16)
    return diag_set(d, "nvmma: the operand dtype must be bfloat16 or float16");
  if (s->wgmma) {
    if (s->num_warps % 4 || s->bm % (16 * s->num_warps))
      return diag_set(d, "nvmma: wgmma needs 4 warps (a warpgroup) per 64 rows or a multiple of "
                         "them: block_m %d with %d warps", s->bm, s->num_warps);
    if (s->bk != 64 || s->a_trans)
      return diag_set(d, "nvmma: wgmma takes block_k 64 and A as [M,K]");
    if (!s->b_trans && s->bn % 64)
      return diag_set(d, "nvmma: wgmma with B as [K,N] needs block_n a multiple of 64 (the "
                         "128-byte swizzle atom), not %d", s->bn);
    if ((s->bm / (16 * s->num_warps)) * s->bn / 2 > 128)
      return diag_set(d, "nvmma: wgmma %dx%d with %d warps holds %d accumulators per thread "
                         "(more than 128)", s->bm, s->bn, s->num_warps,
                      (s->bm / (16 * s->num_warps)) * s->bn / 2);
    s->warps_m = s->num_warps, s->warps_n = 1;
  }
  if (s->warps_m == 0 && s->warps_n == 0) {
    /* the most square warp tile that fits (ties: more warps along M) */
    int best = -1;
    for (int wmw = 1; wmw <= s->num_warps; wmw *= 2) {
      int wnw = s->num_warps / wmw, wm = s->bm / wmw, wn = s->bn / wnw;
      if (wm < 16 || wn < 16 || s->bm % wmw || s->bn % wnw) continue;
      int score = wm > wn ? wn * 1000 / wm : wm * 1000 / wn;
      if (score >= best) best = score, s->warps_m = wmw, s->warps_n = wnw;
    }
    if (best < 0)
      return diag_set(d, "nvmma: %d warps cannot split a %dx%d tile into warp tiles of at least "
                         "16x16", s->num_warps, s->bm, s->bn);
  }
  if (s->warps_m < 1 || s->warps_n < 1 || s->warps_m * s->warps_n != s->num_warps)
    return diag_set(d, "nvmma: warps %dx%d do not make num_warps %d", s->warps_m, s->warps_n,
                    s->num_warps);
  if (s->bm % (16 * s->warps_m) || s->bn % (16 * s->warps_n))
    return diag_set(d, "nvmma: warp tile %dx%d is not a multiple of 16x16", s->bm / s->warps_m,
                    s->bn / s->warps_n);
  if (s->bm / s->warps_m > 256 || s->bn / s->warps_n > 256 || nvmma_acc_count(s) > 256)
    return diag_set(d, "nvmma: %d accumulators per thread (more than 256): use more warps or a "
                       "smaller tile", nvmma_acc_count(s));
  return HL_OK;
}

static int a_bytes(const NvmmaDesc *s) { return s->bm * s->bk * 2; }
static int b_bytes(const NvmmaDesc *s) { return s->bk * s->bn * 2; }
int nvmma_stage_bytes(const NvmmaDesc *s) { return a_bytes(s) + b_bytes(s); }
int nvmma_smem_bytes(const NvmmaDesc *s) { return s->num_stages * nvmma_stage_bytes(s); }
static int wm_of(const NvmmaDesc *s) { return s->bm / s->warps_m; }
static int wn_of(const NvmmaDesc *s) { return s->bn / s->warps_n; }
int nvmma_acc_count(const NvmmaDesc *s) { return (wm_of(s) / 16) * (wn_of(s) / 8) * 4; }

int nvmma_swizzle_offset(int inner, int outer_i, int inner_i) {
  int rowbytes = inner * 2, o = outer_i * rowbytes + inner_i * 2;
  int key = rowbytes >= 128 ? outer_i & 7 : (o >> 7) & 7;
  return o ^ (key << 4);
}

/* ---- small emit helpers ---------------------------------------------------------------------- */

static LLVMValueRef ci(NvmmaCtx *x, long long v) { return LLVMConstInt(x->i32, (unsigned long long)v, true); }
static LLVMValueRef add(NvmmaCtx *x, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(x->b, a, b, ""); }
static LLVMValueRef mul(NvmmaCtx *x, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildMul(x->b, a, b, ""); }
static LLVMValueRef and_(NvmmaCtx *x, LLVMValueRef a, int m) { return LLVMBuildAnd(x->b, a, ci(x, m), ""); }
static LLVMValueRef shr(NvmmaCtx *x, LLVMValueRef a, int s) { return LLVMBuildLShr(x->b, a, ci(x, s), ""); }
static LLVMValueRef shl(NvmmaCtx *x, LLVMValueRef a, int s) { return LLVMBuildShl(x->b, a, ci(x, s), ""); }
static LLVMValueRef slt(NvmmaCtx *x, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildICmp(x->b, LLVMIntSLT, a, b, ""); }
static LLVMValueRef sel(NvmmaCtx *x, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildSelect(x->b, c, a, b, ""); }
static int log2i(int v) { int l = 0; while ((1 << l) < v) l++; return l; }

static const char *const intr_names[] = {
    "llvm.nvvm.cp.async.commit.group", "llvm.nvvm.cp.async.wait.group", "llvm.nvvm.barrier0",
    "llvm.nvvm.mma.m16n8k16.row.col.bf16", "llvm.nvvm.mma.m16n8k16.row.col.f32.f32"};

/* Inline PTX (sideeffect, memory clobber): for ldmatrix and cp.async, whose intrinsics take
 * 64-bit shared pointers; with 32-bit shared-window addresses every address is one register
 * plus an immediate (LLVM 19 has 32-bit shared pointers only under a global option). */
static LLVMValueRef call_asm(NvmmaCtx *x, LLVMTypeRef ret, const char *text, const char *cons,
                             LLVMValueRef *args, int nargs) {
  LLVMTypeRef at[272];
  for (int i = 0; i < nargs; i++) at[i] = LLVMTypeOf(args[i]);
  LLVMTypeRef ft = LLVMFunctionType(ret, at, (unsigned)nargs, 0);
  LLVMValueRef fn = LLVMGetInlineAsm(ft, (char *)text, strlen(text), (char *)cons, strlen(cons),
                                     1, 0, LLVMInlineAsmDialectATT, 0);
  return LLVMBuildCall2(x->b, ft, fn, args, (unsigned)nargs, "");
}

static LLVMValueRef call_intr(NvmmaCtx *x, const char *name, LLVMTypeRef *ovl, int novl,
                              LLVMValueRef *args, int nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMTypeRef ft = LLVMIntrinsicGetType(x->c, id, ovl, (size_t)novl);
  LLVMValueRef fn = LLVMGetIntrinsicDeclaration(x->mod, id, ovl, (size_t)novl);
  return LLVMBuildCall2(x->b, ft, fn, args, (unsigned)nargs, "");
}

static LLVMValueRef tid_reg(NvmmaCtx *x, const char *which) {
  char name[64];
  snprintf(name, sizeof name, "llvm.nvvm.read.ptx.sreg.%s", which);
  return call_intr(x, name, NULL, 0, NULL, 0);
}

int nvmma_ctx_init(NvmmaCtx *x, const NvmmaDesc *desc, LLVMModuleRef mod, LLVMBuilderRef b,
                   LLVMValueRef tid, LLVMValueRef smem, Diag *d) {
  memset(x, 0, sizeof *x);
  x->desc = *desc;
  if (nvmma_desc_check(&x->desc, d)) return HL_ERR;
  for (size_t i = 0; i < sizeof intr_names / sizeof *intr_names; i++)
    if (!LLVMLookupIntrinsicID(intr_names[i], strlen(intr_names[i])))
      return diag_set(d, "nvmma: the linked LLVM has no intrinsic %s", intr_names[i]);
  x->mod = mod;
  x->c = LLVMGetModuleContext(mod);
  x->b = b;
  x->i32 = LLVMInt32TypeInContext(x->c);
  x->i64 = LLVMInt64TypeInContext(x->c);
  x->f32 = LLVMFloatTypeInContext(x->c);
  x->tid = tid ? tid : tid_reg(x, "tid.x");
  x->smem = smem;
  x->smem32 = LLVMBuildPtrToInt(b, smem, x->i32, "smem32");
  x->lane = and_(x, x->tid, 31);
  LLVMValueRef warp = shr(x, x->tid, 5);
  x->warp_m = shr(x, warp, log2i(x->desc.warps_n));
  x->warp_n = and_(x, warp, x->desc.warps_n - 1);
  return HL_OK;
}

void nvmma_acc_zero(NvmmaCtx *x, LLVMValueRef *acc) {
  for (int i = 0; i < nvmma_acc_count(&x->desc); i++) acc[i] = LLVMConstReal(x->f32, 0.0);
}

/* Byte offset in a swizzled slice of `inner` elements per row: (outer, chunk) -> bytes. */
static LLVMValueRef swz(NvmmaCtx *x, int inner, LLVMValueRef outer, LLVMValueRef chunk) {
  int rowbytes = inner * 2;
  LLVMValueRef o = add(x, shl(x, outer, log2i(rowbytes)), shl(x, chunk, 4));
  LLVMValueRef key = rowbytes >= 128 ? and_(x, outer, 7) : and_(x, shr(x, o, 7), 7);
  return LLVMBuildXor(x->b, o, shl(x, key, 4), "");
}

/* swz of (outer + outer_c, chunk + chunk_c) with the constants split off where the swizzle is
 * periodic (8 rows of >= 128 bytes, else 1024 bytes of rows; chunk multiples of 8), so that
 * loops over tiles share one base register and add immediates. */
static LLVMValueRef swz_c(NvmmaCtx *x, int inner, LLVMValueRef outer, int outer_c,
                          LLVMValueRef chunk, int chunk_c) {
  int rowbytes = inner * 2, period = rowbytes >= 128 ? 8 : 1024 / rowbytes;
  int o_hi = outer_c - outer_c % period, c_hi = chunk_c & ~7;
  LLVMValueRef o = swz(x, inner, add(x, outer, ci(x, outer_c - o_hi)), add(x, chunk, ci(x, chunk_c - c_hi)));
  return add(x, o, ci(x, o_hi * rowbytes + c_hi * 16));
}

static LLVMValueRef smem_at(NvmmaCtx *x, LLVMValueRef stage, int op_off, LLVMValueRef off) {
  LLVMValueRef byte = add(x, add(x, mul(x, stage, ci(x, nvmma_stage_bytes(&x->desc))),
                                 ci(x, op_off)), off);
  LLVMValueRef idx = LLVMBuildZExt(x->b, byte, x->i64, "");
  return LLVMBuildInBoundsGEP2(x->b, LLVMInt8TypeInContext(x->c), x->smem, &idx, 1, "");
}

/* The same as a 32-bit shared-window address. */
static LLVMValueRef smem32_at(NvmmaCtx *x, LLVMValueRef stage, int op_off, LLVMValueRef off) {
  LLVMValueRef base = add(x, x->smem32, mul(x, stage, ci(x, nvmma_stage_bytes(&x->desc))));
  return add(x, base, add(x, off, ci(x, op_off)));
}

/* ---- global -> shared ------------------------------------------------------------------------ */

/* One operand's slice: outer rows × inner elements; k_outer says K runs along the rows. */
static void load_operand(NvmmaCtx *x, const NvmmaGlobal *g, int outer, int inner, bool k_outer,
                         int op_off, LLVMValueRef k0, LLVMValueRef stage, bool full, bool atoms) {
  int chunks = inner / 8, total = outer * chunks, threads = 32 * x->desc.num_warps;
  LLVMTypeRef i16 = LLVMInt16TypeInContext(x->c);
  /* The row stride as an opaque copy made here (a side-effecting asm is not hoisted): LLVM's
   * LICM would otherwise keep each copy's row offset (row_c * stride) in its own 64-bit
   * register pair across the K loop, which pushed the 64-deep tiles into spills. */
  LLVMValueRef stride_o = g->stride;
  if (x->desc.vec16) {
    LLVMValueRef sv = g->stride;
    stride_o = call_asm(x, x->i64, "mov.b64 $0, $1;", "=l,l", &sv, 1);
  }
  for (int it = 0; it * threads < total; it++) {
    LLVMBasicBlockRef skip = NULL;
    /* threads is a multiple of chunks (<= 32): chunk column tid % chunks, rows tid / chunks +
     * it * threads / chunks */
    int row_c = it * (threads / chunks);
    LLVMValueRef row_l = shr(x, x->tid, log2i(chunks)), ch = and_(x, x->tid, chunks - 1);
    LLVMValueRef row = add(x, row_l, ci(x, row_c));
    if ((it + 1) * threads > total) { /* only part of the threads have a chunk */
      LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(x->b));
      LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(x->c, fn, "nvmma.ld");
      skip = LLVMAppendBasicBlockInContext(x->c, fn, "nvmma.ld.end");
      LLVMBuildCondBr(x->b, slt(x, row, ci(x, outer)), body, skip);
      LLVMPositionBuilderAtEnd(x->b, body);
    }
    LLVMValueRef in0 = shl(x, ch, 3), outer_g, inner_g, outer_ok, inner_rem;
    if (k_outer) {
      outer_g = add(x, k0, row), inner_g = in0;
      outer_ok = slt(x, outer_g, g->k_valid), inner_rem = LLVMBuildSub(x->b, g->mn_valid, in0, "");
    } else {
      outer_g = row, inner_g = add(x, k0, in0);
      outer_ok = slt(x, row, g->mn_valid), inner_rem = LLVMBuildSub(x->b, g->k_valid, inner_g, "");
    }
    /* row_c * stride through the opaque copy: one pointer per operand stays live across the
     * K loop instead of one per copy */
    LLVMValueRef lane_outer = LLVMBuildSub(x->b, outer_g, ci(x, row_c), "");
    LLVMValueRef off = add(x, LLVMBuildMul(x->b, LLVMBuildSExt(x->b, lane_outer, x->i64, ""), g->stride, ""),
                           LLVMBuildSExt(x->b, inner_g, x->i64, ""));
    if (row_c) off = add(x, off, LLVMBuildMul(x->b, stride_o, LLVMConstInt(x->i64, (unsigned)row_c, 0), ""));
    /* atoms: the slice as inner/64 column blocks of outer rows x 128 bytes (wgmma's MN-major
     * B: 64-element swizzle atoms along N, 1024-byte 8-row groups along K) */
    LLVMValueRef sw = atoms ? add(x, swz_c(x, 64, row_l, row_c, and_(x, ch, 7), 0),
                                  shl(x, shr(x, ch, 3), log2i(outer * 128)))
                            : swz_c(x, inner, row_l, row_c, ch, 0);
    if (x->desc.vec16) {
      LLVMValueRef src = LLVMBuildInBoundsGEP2(x->b, i16, g->ptr, &off, 1, "");
      LLVMValueRef dst = smem32_at(x, stage, op_off, sw);
      LLVMTypeRef vt = LLVMVoidTypeInContext(x->c);
      if (full) { /* the whole slice is inside the tensor: no masks */
        LLVMValueRef args[2] = {dst, src};
        call_asm(x, vt, "cp.async.cg.shared.global [$0], [$1], 16;", "r,l,~{memory}", args, 2);
      } else {    /* src-size: 16 inside, fewer at a ragged edge, 0 past it; zero-filled */
        LLVMValueRef n = sel(x, slt(x, inner_rem, ci(x, 8)), inner_rem, ci(x, 8));
        n = sel(x, slt(x, n, ci(x, 0)), ci(x, 0), n);
        n = sel(x, outer_ok, shl(x, n, 1), ci(x, 0));
        src = sel(x, LLVMBuildICmp(x->b, LLVMIntNE, n, ci(x, 0), ""), src, g->ptr);
        LLVMValueRef args[3] = {dst, src, n};
        call_asm(x, vt, "cp.async.cg.shared.global [$0], [$1], 16, $2;", "r,l,r,~{memory}", args, 3);
      }
    } else {
      LLVMValueRef dst = smem_at(x, stage, op_off, sw);
      LLVMValueRef v = LLVMGetUndef(LLVMVectorType(i16, 8));
      for (int e = 0; e < 8; e++) {
        LLVMValueRef ok = LLVMBuildAnd(x->b, outer_ok, slt(x, ci(x, e), inner_rem), "");
        LLVMValueRef o = sel(x, ok, LLVMBuildAdd(x->b, off, LLVMConstInt(x->i64, (unsigned)e, 0), ""),
                             LLVMConstInt(x->i64, 0, 0));
        LLVMValueRef p = LLVMBuildInBoundsGEP2(x->b, i16, g->ptr, &o, 1, "");
        LLVMValueRef ld = LLVMBuildLoad2(x->b, i16, p, "");
        LLVMSetAlignment(ld, 2);
        ld = sel(x, ok, ld, LLVMConstInt(i16, 0, 0));
        v = LLVMBuildInsertElement(x->b, v, ld, ci(x, e), "");
      }
      LLVMSetAlignment(LLVMBuildStore(x->b, v, dst), 16);
    }
    if (skip) {
      LLVMBuildBr(x->b, skip);
      LLVMPositionBuilderAtEnd(x->b, skip);
    }
  }
}

static void load_both(NvmmaCtx *x, const NvmmaGlobal *a, const NvmmaGlobal *b, LLVMValueRef k0,
                      LLVMValueRef stage, bool full) {
  const NvmmaDesc *s = &x->desc;
  if (s->a_trans) load_operand(x, a, s->bk, s->bm, true, 0, k0, stage, full, false);
  else load_operand(x, a, s->bm, s->bk, false, 0, k0, stage, full, false);
  if (s->b_trans) load_operand(x, b, s->bn, s->bk, false, a_bytes(s), k0, stage, full, false);
  else load_operand(x, b, s->bk, s->bn, true, a_bytes(s), k0, stage, full, s->wgmma);
}

void nvmma_emit_load(NvmmaCtx *x, const NvmmaGlobal *a, const NvmmaGlobal *b, LLVMValueRef k0,
                     LLVMValueRef stage) {
  const NvmmaDesc *s = &x->desc;
  if (!s->vec16) {
    load_both(x, a, b, k0, stage, false);
    return;
  }
  /* slices wholly inside both tensors (all but the edges) copy without masks */
  LLVMValueRef full = LLVMBuildAnd(x->b, LLVMBuildICmp(x->b, LLVMIntSLE, add(x, k0, ci(x, s->bk)), a->k_valid, ""),
      LLVMBuildAnd(x->b, LLVMBuildICmp(x->b, LLVMIntSGE, a->mn_valid, ci(x, s->bm), ""),
                   LLVMBuildICmp(x->b, LLVMIntSGE, b->mn_valid, ci(x, s->bn), ""), ""), "");
  full = LLVMBuildAnd(x->b, full, LLVMBuildICmp(x->b, LLVMIntSLE, add(x, k0, ci(x, s->bk)), b->k_valid, ""), "");
  LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(x->b));
  LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(x->c, fn, "nvmma.full"),
                    no = LLVMAppendBasicBlockInContext(x->c, fn, "nvmma.edge"),
                    done = LLVMAppendBasicBlockInContext(x->c, fn, "nvmma.loaded");
  LLVMBuildCondBr(x->b, full, yes, no);
  LLVMPositionBuilderAtEnd(x->b, yes);
  load_both(x, a, b, k0, stage, true);
  LLVMBuildBr(x->b, done);
  LLVMPositionBuilderAtEnd(x->b, no);
  load_both(x, a, b, k0, stage, false);
  LLVMBuildBr(x->b, done);
  LLVMPositionBuilderAtEnd(x->b, done);
}

void nvmma_emit_commit(NvmmaCtx *x) { call_intr(x, "llvm.nvvm.cp.async.commit.group", NULL, 0, NULL, 0); }

void nvmma_emit_wait(NvmmaCtx *x, int pending) {
  LLVMValueRef n = ci(x, pending);
  call_intr(x, "llvm.nvvm.cp.async.wait.group", NULL, 0, &n, 1);
  /* cp.async writes through the generic proxy; wgmma reads through the async proxy */
  if (x->desc.wgmma)
    call_asm(x, LLVMVoidTypeInContext(x->c), "fence.proxy.async.shared::cta;", "~{memory}", NULL, 0);
}

void nvmma_emit_barrier(NvmmaCtx *x) { call_intr(x, "llvm.nvvm.barrier0", NULL, 0, NULL, 0); }

/* ---- shared -> tensor cores ------------------------------------------------------------------ */

static void ldmatrix(NvmmaCtx *x, bool trans, LLVMValueRef addr32, LLVMValueRef out[4]) {
  LLVMTypeRef el[4] = {x->i32, x->i32, x->i32, x->i32};
  LLVMValueRef r = call_asm(x, LLVMStructTypeInContext(x->c, el, 4, 0),
                            trans ? "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {$0, $1, $2, $3}, [$4];"
                                  : "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {$0, $1, $2, $3}, [$4];",
                            "=r,=r,=r,=r,r,~{memory}", &addr32, 1);
  for (unsigned i = 0; i < 4; i++) out[i] = LLVMBuildExtractValue(x->b, r, i, "");
}

static void mma(NvmmaCtx *x, LLVMValueRef a[4], LLVMValueRef b[2], LLVMValueRef *c) {
  LLVMValueRef args[10];
  if (x->desc.dtype == NVMMA_BF16) {
    for (int i = 0; i < 4; i++) args[i] = a[i];
    args[4] = b[0], args[5] = b[1];
  } else {
    LLVMTypeRef h2 = LLVMVectorType(LLVMHalfTypeInContext(x->c), 2);
    for (int i = 0; i < 4; i++) args[i] = LLVMBuildBitCast(x->b, a[i], h2, "");
    for (int i = 0; i < 2; i++) args[4 + i] = LLVMBuildBitCast(x->b, b[i], h2, "");
  }
  for (int i = 0; i < 4; i++) args[6 + i] = c[i];
  LLVMValueRef r = call_intr(x, x->desc.dtype == NVMMA_BF16 ? "llvm.nvvm.mma.m16n8k16.row.col.bf16"
                                                             : "llvm.nvvm.mma.m16n8k16.row.col.f32.f32",
                             NULL, 0, args, 10);
  for (unsigned i = 0; i < 4; i++) c[i] = LLVMBuildExtractValue(x->b, r, i, "");
}

/* Fragments of one 16-wide k step: A for mi < mt at fr[4*mi..], then B for ni < nt at
 * fr[4*mt + 2*ni..]; nfrags of them. */
static int nfrags(const NvmmaDesc *s) { return (wm_of(s) / 16) * 4 + (wn_of(s) / 8) * 2; }

static void load_frags(NvmmaCtx *x, LLVMValueRef stage, int kk, LLVMValueRef *fr) {
  const NvmmaDesc *s = &x->desc;
  int wm = wm_of(s), wn = wn_of(s), mt = wm / 16, nt = wn / 8;
  LLVMValueRef j = shr(x, x->lane, 3), r8 = and_(x, x->lane, 7);
  LLVMValueRef j_lo = and_(x, j, 1), j_hi = shr(x, j, 1);
  LLVMValueRef m0 = mul(x, x->warp_m, ci(x, wm)), n0 = mul(x, x->warp_n, ci(x, wn));
  for (int mi = 0; mi < mt; mi++) {
    LLVMValueRef outer, chunk;
    int oc, cc;
    if (!s->a_trans) { /* [M][K]: rows m, + 8 for odd matrices; chunk k/8 */
      outer = add(x, m0, add(x, shl(x, j_lo, 3), r8)), oc = mi * 16;
      chunk = j_hi, cc = kk * 2;
    } else {           /* [K][M]: rows k, +8 for matrices 2,3; chunk m/8 (+1 for odd) */
      outer = add(x, shl(x, j_hi, 3), r8), oc = kk * 16;
      chunk = add(x, shr(x, m0, 3), j_lo), cc = mi * 2;
    }
    int inner = s->a_trans ? s->bm : s->bk;
    ldmatrix(x, s->a_trans, smem32_at(x, stage, 0, swz_c(x, inner, outer, oc, chunk, cc)), fr + 4 * mi);
  }
  for (int np = 0; np < nt / 2; np++) {
    LLVMValueRef outer, chunk, r[4];
    int oc, cc;
    if (!s->b_trans) { /* [K][N]: rows k (+8 for odd matrices), chunk n/8 (+1 for 2,3) */
      outer = add(x, shl(x, j_lo, 3), r8), oc = kk * 16;
      chunk = add(x, shr(x, n0, 3), j_hi), cc = np * 2;
    } else {           /* [N][K]: rows n (+8 for 2,3), chunk k/8 (+1 for odd) */
      outer = add(x, n0, add(x, shl(x, j_hi, 3), r8)), oc = np * 16;
      chunk = j_lo, cc = kk * 2;
    }
    int inner = s->b_trans ? s->bk : s->bn;
    ldmatrix(x, !s->b_trans, smem32_at(x, stage, a_bytes(s), swz_c(x, inner, outer, oc, chunk, cc)), r);
    LLVMValueRef *b = fr + 4 * mt + 4 * np; /* (b0, b1) of n tile 2np, then of 2np+1 */
    for (int i = 0; i < 4; i++) b[i] = r[i];
  }
}

static void mma_frags(NvmmaCtx *x, LLVMValueRef *fr, LLVMValueRef *acc) {
  int mt = wm_of(&x->desc) / 16, nt = wn_of(&x->desc) / 8;
  /* serpentine over n so that consecutive mma share an operand */
  for (int mi = 0; mi < mt; mi++)
    for (int q = 0; q < nt; q++) {
      int ni = mi % 2 ? nt - 1 - q : q;
      mma(x, fr + 4 * mi, fr + 4 * mt + 2 * ni, acc + (mi * nt + ni) * 4);
    }
}

/* A shared-memory matrix descriptor with the 128-byte swizzle: start address >> 4, leading
 * byte offset (bits 16-29) and stride byte offset (bits 32-45), both >> 4. K-major (A, and B
 * as [N,K]): the rows are exactly one 128-byte atom wide (bk = 64), LBO unused (1), SBO 1024
 * between 8-row groups. MN-major (B as [K,N], imm-trans-b 1): LBO = the distance between
 * 64-element atoms along N (bk * 128 bytes), SBO = 1024 between 8-row groups along K. */
static LLVMValueRef wg_desc(NvmmaCtx *x, LLVMValueRef addr32, int lbo) {
  LLVMValueRef a = LLVMBuildZExt(x->b, LLVMBuildLShr(x->b, and_(x, addr32, 0x3ffff), ci(x, 4), ""), x->i64, "");
  unsigned long long hi = ((unsigned long long)(lbo >> 4) << 16) | ((1024ull >> 4) << 32) | (1ull << 62);
  return LLVMBuildOr(x->b, a, LLVMConstInt(x->i64, hi, 0), "");
}

/* acc += A_stage · B_stage with wgmma m64nBNk16: warpgroup g owns R = bm / (16·num_warps) row
 * blocks of 64 (rows 64·(R·g + r)), 4 k steps each; all 4·R are issued, committed and waited
 * for inside one asm (so LLVM never sees accumulators in flight). A k step adds 32 bytes to a
 * K-major descriptor (inside the 128-byte atom) and 16 rows (2048 bytes) to an MN-major one. */
static void wgmma_slice(NvmmaCtx *x, LLVMValueRef stage, LLVMValueRef *acc, bool wait) {
  const NvmmaDesc *s = &x->desc;
  int n = nvmma_acc_count(s), R = s->bm / (16 * s->num_warps), per = n / R, nd = 4 * R + 4;
  bool bmn = !s->b_trans; /* B as [K,N]: MN-major, imm-trans-b 1 */
  LLVMValueRef wg = shr(x, x->warp_m, 2);
  LLVMValueRef b0 = wg_desc(x, smem32_at(x, stage, a_bytes(s), ci(x, 0)), bmn ? s->bk * 128 : 16);
  LLVMValueRef args[128 * 2 + 21];
  for (int r = 0; r < R; r++) { /* 64 rows x 128 B per row block */
    LLVMValueRef a0 = wg_desc(x, smem32_at(x, stage, 0, shl(x, add(x, mul(x, wg, ci(x, R)), ci(x, r)), 13)), 16);
    for (int kk = 0; kk < 4; kk++)
      args[n + 4 * r + kk] = LLVMBuildAdd(x->b, a0, LLVMConstInt(x->i64, (unsigned)(2 * kk), 0), "");
  }
  for (int kk = 0; kk < 4; kk++)
    args[n + 4 * R + kk] = LLVMBuildAdd(x->b, b0, LLVMConstInt(x->i64, (unsigned)(bmn ? 128 * kk : 2 * kk), 0), "");
  args[n + nd] = ci(x, 1);
  for (int i = 0; i < n; i++) args[n + nd + 1 + i] = acc[i];
  /* the asm's operands: n outputs, nd descriptors, the scale-d flag, n tied inputs */
  char text[16384], cons[4096], regs[2048];
  const char *ty = s->dtype == NVMMA_BF16 ? "bf16" : "f16";
  int p = snprintf(text, sizeof text, "{\n.reg .pred p;\nsetp.ne.b32 p, $%d, 0;\nwgmma.fence.sync.aligned;\n",
                   n + nd);
  for (int r = 0; r < R; r++) {
    int q = 0;
    for (int i = 0; i < per; i++)
      q += snprintf(regs + q, sizeof regs - (size_t)q, "%s$%d", i ? ", " : "", r * per + i);
    for (int kk = 0; kk < 4; kk++)
      p += snprintf(text + p, sizeof text - (size_t)p,
                    "wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s.%s {%s}, $%d, $%d, p, 1, 1, 0, %d;\n",
                    s->bn, ty, ty, regs, n + 4 * r + kk, n + 4 * R + kk, bmn ? 1 : 0);
  }
  snprintf(text + p, sizeof text - (size_t)p, "wgmma.commit_group.sync.aligned;\n%s}",
           wait ? "wgmma.wait_group.sync.aligned 0;\n" : "");
  p = 0;
  for (int i = 0; i < n; i++) p += snprintf(cons + p, sizeof cons - (size_t)p, "=f,");
  for (int i = 0; i < nd; i++) p += snprintf(cons + p, sizeof cons - (size_t)p, "l,");
  p += snprintf(cons + p, sizeof cons - (size_t)p, "r");
  for (int i = 0; i < n; i++) p += snprintf(cons + p, sizeof cons - (size_t)p, ",%d", i);
  snprintf(cons + p, sizeof cons - (size_t)p, ",~{memory}");
  LLVMTypeRef el[128];
  for (int i = 0; i < n; i++) el[i] = x->f32;
  LLVMValueRef r = call_asm(x, LLVMStructTypeInContext(x->c, el, (unsigned)n, 0), text, cons,
                            args + n, nd + 1 + n);
  for (int i = 0; i < n; i++) acc[i] = LLVMBuildExtractValue(x->b, r, (unsigned)i, "");
}

/* Waits for the wgmma group in flight: the accumulators go in and come out of the asm (tied),
 * so nothing reads them in between (wg_overlap). */
static void wgmma_wait(NvmmaCtx *x, LLVMValueRef *acc) {
  int n = nvmma_acc_count(&x->desc);
  char cons[2048];
  int p = 0;
  for (int i = 0; i < n; i++) p += snprintf(cons + p, sizeof cons - (size_t)p, "=f,");
  for (int i = 0; i < n; i++) p += snprintf(cons + p, sizeof cons - (size_t)p, "%d,", i);
  snprintf(cons + p, sizeof cons - (size_t)p, "~{memory}");
  LLVMTypeRef el[128];
  for (int i = 0; i < n; i++) el[i] = x->f32;
  LLVMValueRef r = call_asm(x, LLVMStructTypeInContext(x->c, el, (unsigned)n, 0),
                            "wgmma.wait_group.sync.aligned 0;", cons, acc, n);
  for (int i = 0; i < n; i++) acc[i] = LLVMBuildExtractValue(x->b, r, (unsigned)i, "");
}

void nvmma_emit_compute(NvmmaCtx *x, LLVMValueRef stage, LLVMValueRef *acc) {
  if (x->desc.wgmma) {
    wgmma_slice(x, stage, acc, true);
    return;
  }
  LLVMValueRef fr[128];
  for (int kk = 0; kk < x->desc.bk / 16; kk++) {
    load_frags(x, stage, kk, fr);
    mma_frags(x, fr, acc);
  }
}

/* ---- the pipelined K loop -------------------------------------------------------------------- */

static LLVMBasicBlockRef block(NvmmaCtx *x, const char *name) {
  LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(x->b));
  return LLVMAppendBasicBlockInContext(x->c, fn, name);
}

/* if (t < kt) load slice t into stage; then commit (always: the group count stays uniform). */
static void load_if(NvmmaCtx *x, const NvmmaGlobal *a, const NvmmaGlobal *b, LLVMValueRef t,
                    LLVMValueRef kt, LLVMValueRef stage) {
  LLVMBasicBlockRef yes = block(x, "nvmma.issue"), done = block(x, "nvmma.issued");
  LLVMBuildCondBr(x->b, slt(x, t, kt), yes, done);
  LLVMPositionBuilderAtEnd(x->b, yes);
  nvmma_emit_load(x, a, b, shl(x, t, log2i(x->desc.bk)), stage);
  LLVMBuildBr(x->b, done);
  LLVMPositionBuilderAtEnd(x->b, done);
  nvmma_emit_commit(x);
}

static LLVMValueRef wrap_inc(NvmmaCtx *x, LLVMValueRef s) {
  LLVMValueRef n = add(x, s, ci(x, 1));
  return sel(x, LLVMBuildICmp(x->b, LLVMIntEQ, n, ci(x, x->desc.num_stages), ""), ci(x, 0), n);
}

/* The frame all three K loops share: entered at head when kt > 0 (else straight to exit), the
 * slice counter t, the accumulator phis, and the blocks that reach head (the entry, the latch). */
typedef struct KLoop {
  LLVMValueRef kt, t;
  LLVMBasicBlockRef head, exit, from[2];
} KLoop;

/* Branches into the loop and opens head with the phi t; the caller adds its own phis next. */
static void kloop_begin(NvmmaCtx *x, LLVMValueRef kt, KLoop *l) {
  l->kt = kt;
  l->from[0] = LLVMGetInsertBlock(x->b);
  l->head = block(x, "nvmma.k");
  l->exit = block(x, "nvmma.k.end");
  LLVMBuildCondBr(x->b, slt(x, ci(x, 0), kt), l->head, l->exit);
  LLVMPositionBuilderAtEnd(x->b, l->head);
  l->t = LLVMBuildPhi(x->b, x->i32, "t");
}

/* phi gets init from the entry and next from the latch (after kloop_latch). */
static void kloop_carry(KLoop *l, LLVMValueRef phi, LLVMValueRef init, LLVMValueRef next) {
  LLVMValueRef v[2] = {init, next};
  LLVMAddIncoming(phi, v, l->from, 2);
}

/* Ends the body: loops back to head while t1 = t + 1 < kt. */
static void kloop_latch(NvmmaCtx *x, KLoop *l, LLVMValueRef t1) {
  l->from[1] = LLVMGetInsertBlock(x->b);
  LLVMBuildCondBr(x->b, slt(x, t1, l->kt), l->head, l->exit);
  kloop_carry(l, l->t, ci(x, 0), t1);
}

/* Closes the n accumulator phis (acc on entry, cur from the latch) and continues at exit, where
 * acc[i] becomes acc[i] when the loop was skipped, else its last cur[i]. */
static void kloop_end(NvmmaCtx *x, KLoop *l, int n, const LLVMValueRef *phis,
                      const LLVMValueRef *cur, LLVMValueRef *acc) {
  LLVMPositionBuilderAtEnd(x->b, l->exit);
  for (int i = 0; i < n; i++) {
    LLVMValueRef p = LLVMBuildPhi(x->b, x->f32, "acc.out");
    kloop_carry(l, phis[i], acc[i], cur[i]);
    kloop_carry(l, p, acc[i], cur[i]);
    acc[i] = p;
  }
}

/* num_stages 1: load, wait, sync, compute, sync. */
static void mainloop_1(NvmmaCtx *x, const NvmmaGlobal *a, const NvmmaGlobal *b, LLVMValueRef kt,
                       LLVMValueRef *acc) {
  int n = nvmma_acc_count(&x->desc);
  KLoop l;
  kloop_begin(x, kt, &l);
  LLVMValueRef phis[256], cur[256];
  for (int i = 0; i < n; i++) cur[i] = phis[i] = LLVMBuildPhi(x->b, x->f32, "acc");
  load_if(x, a, b, l.t, kt, ci(x, 0));
  nvmma_emit_wait(x, 0);
  nvmma_emit_barrier(x);
  nvmma_emit_compute(x, ci(x, 0), cur);
  nvmma_emit_barrier(x);
  kloop_latch(x, &l, add(x, l.t, ci(x, 1)));
  kloop_end(x, &l, n, phis, cur, acc);
}

/* wgmma, num_stages >= 2: per slice t wait for it, sync (everyone is also done with slice
 * t-1: its wgmma were waited for), issue slice t+S-1 into t-1's stage, run the wgmma. With
 * wg_overlap the wgmma of slice t are issued first and waited for after the loads, so the
 * copies' issue overlaps the tensor cores (the stages differ: t%S is read, (t-1)%S written). */
static void mainloop_wg(NvmmaCtx *x, const NvmmaGlobal *a, const NvmmaGlobal *b, LLVMValueRef kt,
                        LLVMValueRef *acc) {
  int S = x->desc.num_stages, n = nvmma_acc_count(&x->desc);
  for (int s = 0; s < S - 1; s++) load_if(x, a, b, ci(x, s), kt, ci(x, s));
  KLoop l;
  kloop_begin(x, kt, &l);
  LLVMValueRef rs = LLVMBuildPhi(x->b, x->i32, "rs"), ws = LLVMBuildPhi(x->b, x->i32, "ws");
  LLVMValueRef phis[256], cur[256];
  for (int i = 0; i < n; i++) cur[i] = phis[i] = LLVMBuildPhi(x->b, x->f32, "acc");
  nvmma_emit_wait(x, S - 2);
  nvmma_emit_barrier(x);
  if (x->desc.wg_overlap) {
    wgmma_slice(x, rs, cur, false);
    load_if(x, a, b, add(x, l.t, ci(x, S - 1)), kt, ws);
    wgmma_wait(x, cur);
  } else {
    load_if(x, a, b, add(x, l.t, ci(x, S - 1)), kt, ws);
    nvmma_emit_compute(x, rs, cur);
  }
  LLVMValueRef t1 = add(x, l.t, ci(x, 1)), rs1 = wrap_inc(x, rs), ws1 = wrap_inc(x, ws);
  kloop_latch(x, &l, t1);
  kloop_carry(&l, rs, ci(x, 0), rs1);
  kloop_carry(&l, ws, ci(x, S - 1), ws1);
  kloop_end(x, &l, n, phis, cur, acc);
}

/* num_stages >= 2, with the fragments of the next k step loaded while the current one's mma
 * run, also across slices: step kk of slice t issues slice t+S-1 (kk = 0), loads the
 * fragments of step kk+1 (or of slice t+1's step 0), runs step kk's mma; after step KK-2 (or
 * before the fragment load when KK = 1) it waits for slice t+1 and syncs. Every read of slice t
 * precedes that sync, so slice t+S issued in the next iteration may overwrite its stage. */
static void mainloop_mma(NvmmaCtx *x, const NvmmaGlobal *a, const NvmmaGlobal *b, LLVMValueRef kt,
                         LLVMValueRef *acc) {
  int S = x->desc.num_stages, n = nvmma_acc_count(&x->desc), nf = nfrags(&x->desc);
  int KK = x->desc.bk / 16;
  for (int s = 0; s < S - 1; s++) load_if(x, a, b, ci(x, s), kt, ci(x, s));
  nvmma_emit_wait(x, S - 2);
  nvmma_emit_barrier(x);
  LLVMValueRef fr0[128];
  load_frags(x, ci(x, 0), 0, fr0);
  KLoop l;
  kloop_begin(x, kt, &l);
  LLVMValueRef rs = LLVMBuildPhi(x->b, x->i32, "rs"), ws = LLVMBuildPhi(x->b, x->i32, "ws");
  LLVMValueRef phis[256], cur[256], fphis[128], f[128], next[128];
  for (int i = 0; i < n; i++) cur[i] = phis[i] = LLVMBuildPhi(x->b, x->f32, "acc");
  for (int i = 0; i < nf; i++) f[i] = fphis[i] = LLVMBuildPhi(x->b, x->i32, "frag");
  LLVMValueRef rs1 = wrap_inc(x, rs);
  for (int kk = 0; kk < KK; kk++) {
    if (kk == 0) load_if(x, a, b, add(x, l.t, ci(x, S - 1)), kt, ws);
    if (KK == 1) {
      nvmma_emit_wait(x, S - 2);
      nvmma_emit_barrier(x);
    }
    if (kk + 1 < KK) load_frags(x, rs, kk + 1, next);
    else load_frags(x, rs1, 0, next);
    mma_frags(x, f, cur);
    memcpy(f, next, sizeof(LLVMValueRef) * (size_t)nf);
    if (kk == KK - 2) {
      nvmma_emit_wait(x, S - 2); /* slice t+1 landed (for this thread) */
      nvmma_emit_barrier(x);     /* ... for all; and all are done reading slice t */
    }
  }
  LLVMValueRef t1 = add(x, l.t, ci(x, 1)), ws1 = wrap_inc(x, ws);
  kloop_latch(x, &l, t1);
  kloop_carry(&l, rs, ci(x, 0), rs1);
  kloop_carry(&l, ws, ci(x, S - 1), ws1);
  for (int i = 0; i < nf; i++) kloop_carry(&l, fphis[i], fr0[i], f[i]);
  kloop_end(x, &l, n, phis, cur, acc);
}

void nvmma_emit_mainloop(NvmmaCtx *x, const NvmmaGlobal *a, const NvmmaGlobal *b,
                         LLVMValueRef k_total, LLVMValueRef *acc) {
  LLVMValueRef kt = shr(x, add(x, k_total, ci(x, x->desc.bk - 1)), log2i(x->desc.bk));
  if (x->desc.num_stages == 1) mainloop_1(x, a, b, kt, acc);
  else if (x->desc.wgmma) mainloop_wg(x, a, b, kt, acc);
  else mainloop_mma(x, a, b, kt, acc);
  nvmma_emit_wait(x, 0); /* the (empty) groups still open */
  nvmma_emit_barrier(x);
}

/* ---- epilogue -------------------------------------------------------------------------------- */

void nvmma_acc_coord_const(const NvmmaDesc *s, int i, int *row_c, int *col_c) {
  int nt = wn_of(s) / 8, tile = i / 4, e = i % 4;
  *row_c = (tile / nt) * (s->wgmma ? 64 : 16) + (e / 2) * 8;
  *col_c = (tile % nt) * 8 + (e % 2);
}

void nvmma_emit_acc_coord(NvmmaCtx *x, int i, LLVMValueRef *row, LLVMValueRef *col) {
  int rc, cc;
  nvmma_acc_coord_const(&x->desc, i, &rc, &cc);
  LLVMValueRef wrow = mul(x, x->warp_m, ci(x, wm_of(&x->desc)));
  if (x->desc.wgmma) /* warp w: row block w/4 of its warpgroup's R, 16 rows per warp inside */
    wrow = add(x, mul(x, shr(x, x->warp_m, 2), ci(x, 4 * wm_of(&x->desc))), shl(x, and_(x, x->warp_m, 3), 4));
  *row = add(x, add(x, wrow, shr(x, x->lane, 2)), ci(x, rc));
  *col = add(x, add(x, mul(x, x->warp_n, ci(x, wn_of(&x->desc))), shl(x, and_(x, x->lane, 3), 1)),
             ci(x, cc));
}

void nvmma_emit_acc_to_shared(NvmmaCtx *x, const LLVMValueRef *acc, LLVMValueRef dst, int ld) {
  LLVMTypeRef v2 = LLVMVectorType(x->f32, 2);
  for (int i = 0; i < nvmma_acc_count(&x->desc); i += 2) {
    LLVMValueRef row, col;
    nvmma_emit_acc_coord(x, i, &row, &col);
    LLVMValueRef idx = LLVMBuildZExt(x->b, add(x, mul(x, row, ci(x, ld)), col), x->i64, "");
    LLVMValueRef p = LLVMBuildInBoundsGEP2(x->b, x->f32, dst, &idx, 1, "");
    LLVMValueRef v = LLVMGetUndef(v2);
    v = LLVMBuildInsertElement(x->b, v, acc[i], ci(x, 0), "");
    v = LLVMBuildInsertElement(x->b, v, acc[i + 1], ci(x, 1), "");
    LLVMSetAlignment(LLVMBuildStore(x->b, v, p), ld % 2 ? 4 : 8);
  }
}
