/* Tensor-core dots for the NVPTX emitter: a K loop `acc = dot(load, load, acc)` becomes nvmma's
 * pipelined main loop (mma.sync, cp.async, num_stages). Part of src/lower (emit_llvm, GPU).
 *
 * The pattern (matmul, matmul_bias(_relu), bmm): a 1-D tile loop over K carrying one float32
 * tile, whose body is two plain loads (bfloat16 or float16, every index a tile, no mask, each
 * read only by the dot) and `dot(a, b, carried)` yielded back. Instead of the loop nest, the
 * accumulator lives in registers in the mma fragment layout across the whole K loop (nvmma's
 * phis); the operands go global → swizzled shared memory (cp.async when rows are 16-byte
 * aligned, decided from the specialized strides and constant loop starts) → ldmatrix → mma.sync.
 * After the loop the fragments are written into the carried value's shared buffer once
 * (nvmma_emit_acc_to_shared), so the epilogue (bias, relu, casts, the store) is the emitter's
 * ordinary code over a whole tile. A batch dim (bmm) loops over the batch tile's lanes.
 *
 * Any other bfloat16 / float16 dot (attention's q@kᵀ, p@v) comes from em_dot: its operands are
 * evaluated into one swizzled stage, then ldmatrix + mma.sync without pipelining. A block shape
 * nvmma rejects falls back (K loop → the second path → the portable em_gpu_gemm), never fails. */
#include <math.h>

#include "lower/lower_internal.h"
#include "lower/lower_nvptx_mma.h"

static const IrValue *val(LEmit *E, IrValueId id) {
  return ir_value(E->f, id);
}

/* One operand: a load op read as [batch,] outer x inner in memory order. */
typedef struct DotOperand {
  const IrOp *load;
  const IrValue *t;  /* the tensor */
  IrValueId tile[3]; /* tile operand per tensor dim (batch, row dim, col dim) */
  int rank;
} DotOperand;

/* The load feeding a dot operand: a load of a tensor with only tile indices, one use. */
static bool operand_of(LEmit *E, IrValueId v, int rank, DotOperand *o) {
  const IrValue *lv = val(E, v);
  if (lv->def_kind != IR_DEF_RESULT || lv->def->kind != IR_OP_LOAD) return false;
  const IrOp *ld = lv->def;
  const IrAttrs *a = ld->attrs;
  if (a->has_mask || a->nidx != rank || E->plan->nuses[v] != 1) return false;
  if (lv->dtype != DT_BFLOAT16 && lv->dtype != DT_FLOAT16) return false;
  for (int e = 0; e < rank; e++)
    if (a->idx[e] != IR_IDX_TILE) return false;
  o->load = ld;
  o->t = val(E, ld->args[0]);
  o->rank = rank;
  for (int e = 0; e < rank; e++)
    o->tile[e] = ld->args[1 + e];
  return o->t->kind == IR_VAL_TENSOR && o->t->shape.rank == rank;
}

/* The dot of a matching K loop, or NULL. */
static const IrOp *match(LEmit *E, const IrOp *lop, DotOperand *A, DotOperand *B) {
  const IrRegion *body = lop->body;
  if (lop->kind != IR_OP_TILE || lop->attrs->ndims != 1 || body->nargs != 2 || lop->nresults != 1)
    return NULL;
  const IrOp *dot = NULL;
  int n = 0;
  for (const IrOp *o = body->first; o; o = o->next, n++) {
    if (ir_op_info(o->kind)->cls == IR_CLASS_DOT)
      dot = o;
    else if (o->kind != IR_OP_LOAD && ir_op_info(o->kind)->cls != IR_CLASS_YIELD)
      return NULL;
  }
  if (!dot || n != 4 || dot->nargs != 3 || dot->args[2] != body->args[1]) return NULL;
  const IrOp *y = body->last;
  if (y->nargs != 1 || y->args[0] != dot->results[0]) return NULL;
  const IrValue *rv = val(E, dot->results[0]);
  int r = rv->shape.rank;
  if (rv->dtype != DT_FLOAT32 || (r != 2 && r != 3)) return NULL;
  if (E->plan->kind[body->args[1]] != PLAN_BUFFER ||
      E->plan->kind[lop->results[0]] != PLAN_BUFFER || E->plan->rloop[dot->results[0]] >= 0)
    return NULL;
  if (!operand_of(E, dot->args[0], r, A) || !operand_of(E, dot->args[1], r, B)) return NULL;
  if (val(E, dot->args[0])->dtype != val(E, dot->args[1])->dtype) return NULL;
  IrValueId k = body->args[0];
  /* A[.., m, k], B[.., k, n]: the K entries are this loop's tile, the others outer tiles */
  if (A->tile[r - 1] != k || B->tile[r - 2] != k || A->tile[r - 2] == k || B->tile[r - 1] == k)
    return NULL;
  if (r == 3 && (A->tile[0] != B->tile[0] || A->tile[0] == k)) return NULL;
  return dot;
}

/* The constant start of the loop defining tile value v (INT64_MIN: unknown). */
static int64_t tile_start(LEmit *E, IrValueId v) {
  const IrValue *tv = val(E, v);
  int64_t c;
  if (tv->def_kind != IR_DEF_BLOCK_ARG || !tv->def || tv->index >= tv->def->attrs->ndims)
    return INT64_MIN;
  return ir_const_int(E->f, tv->def->args[2 * tv->index], &c) ? c : INT64_MIN;
}

static bool aligned8(int64_t v) {
  return v != INT64_MIN && v % 8 == 0;
}

/* How an operand is laid out: `trans` when the dim nvmma wants contiguous (K for A, N for B)
 * is not the unit-stride one; false when neither dim has unit stride. */
static bool layout(const DotOperand *o, bool k_inner_wanted, int kdim, bool *trans) {
  int r = o->rank, other = kdim == r - 1 ? r - 2 : r - 1;
  int64_t sk = o->t->strides[kdim], so = o->t->strides[other];
  bool k_inner = sk == 1 && (so != 1 || o->t->shape.dims[kdim].v > 1);
  if (!k_inner && so != 1) return false;
  *trans = k_inner != k_inner_wanted;
  return true;
}

/* nvmma's description of the loop's dot; false when nvmma cannot take it (block sizes,
 * warps, layout), and the portable path runs. k0: the K loop's constant start or INT64_MIN. */
static bool describe(LEmit *E, const IrOp *lop, int64_t k0, const IrOp *dot, const DotOperand *Ap,
                     const DotOperand *Bp, NvmmaDesc *out) {
  (void)lop;
  const DotOperand A = *Ap, B = *Bp;
  const IrValue *rv = val(E, dot->results[0]);
  int r = rv->shape.rank;
  NvmmaDesc desc = {0};
  desc.bm = (int)em_dim(E, rv->shape.dims[r - 2]);
  desc.bn = (int)em_dim(E, rv->shape.dims[r - 1]);
  desc.bk = (int)em_dim(E, val(E, dot->args[0])->shape.dims[r - 1]);
  desc.dtype = val(E, dot->args[0])->dtype == DT_BFLOAT16 ? NVMMA_BF16 : NVMMA_F16;
  desc.num_warps = E->bind->num_warps;
  desc.num_stages = E->bind->num_stages;
  bool at, bt;
  if (!layout(&A, true, r - 1, &at) || !layout(&B, false, r - 2, &bt)) return false;
  desc.a_trans = at;
  desc.b_trans = bt;
  /* vec16: every row of every tile starts 16-byte aligned (the launch checks the bases) */
  bool v16 = true;
  const DotOperand *ops[2] = {&A, &B};
  for (int i = 0; i < 2; i++) {
    const DotOperand *o = ops[i];
    int kdim = i == 0 ? r - 1 : r - 2, mndim = i == 0 ? r - 2 : r - 1;
    bool k_inner = i == 0 ? !at : bt;
    int outer = k_inner ? mndim : kdim;
    v16 = v16 && o->t->strides[outer] % 8 == 0 && (r == 2 || o->t->strides[0] % 8 == 0);
    v16 = v16 && (k_inner ? aligned8(k0) : aligned8(tile_start(E, o->tile[mndim])));
  }
  desc.vec16 = v16;
  Diag scratch = {0};
  if (E->bind->wgmma) { /* the wgmma knob: where wgmma takes the tile, else mma.sync */
    NvmmaDesc wg = desc;
    wg.wgmma = true;
    /* the copies issued while the slice's wgmma run: +6..11% for the 128x256 / 256x128 tiles
     * of the proof GEMM on the H100, -1..2% for 128x128 (lowering.md) */
    wg.wg_overlap = (long)desc.bm * desc.bn >= 128 * 256;
    if (!nvmma_desc_check(&wg, &scratch)) {
      *out = wg;
      return true;
    }
  }
  if (nvmma_desc_check(&desc, &scratch)) return false;
  *out = desc;
  return true;
}

bool em_nvptx_dot_loop_match(LEmit *E, const IrOp *lop) {
  DotOperand A, B;
  if (!E->gpu) return false;
  const IrOp *dot = match(E, lop, &A, &B);
  if (!dot) return false;
  int64_t k0;
  if (!ir_const_int(E->f, lop->args[0], &k0)) k0 = INT64_MIN;
  NvmmaDesc desc;
  return describe(E, lop, k0, dot, &A, &B, &desc);
}

static LLVMValueRef i32v(LEmit *E, LLVMValueRef v64) {
  return LLVMBuildTrunc(E->b, v64, E->i32, "");
}

/* base + off elements (2 bytes each) */
static LLVMValueRef elem_ptr(LEmit *E, LLVMValueRef base, LLVMValueRef off) {
  return LLVMBuildInBoundsGEP2(E->b, E->i16, base, &off, 1, "");
}

/* The operand's NvmmaGlobal at batch lane bi (i64, NULL: none) with K starting at k_lb and
 * valid up to k_ub (i64); kdim / mndim: the tensor dims of K and of M (or N). */
static NvmmaGlobal global_of(LEmit *E, const DotOperand *o, int kdim, int mndim, bool trans_k_outer,
                             LLVMValueRef bi, LLVMValueRef k_lb, LLVMValueRef k_ub) {
  const LTile *mt = em_get(E, o->tile[mndim])->tile;
  LLVMValueRef off =
      LLVMBuildNSWAdd(E->b, LLVMBuildNSWMul(E->b, mt->begin, em_i64(E, o->t->strides[mndim]), ""),
                      LLVMBuildNSWMul(E->b, k_lb, em_i64(E, o->t->strides[kdim]), ""), "");
  if (bi) {
    const LTile *bt = em_get(E, o->tile[0])->tile;
    LLVMValueRef b = LLVMBuildNSWAdd(E->b, bt->begin, bi, "");
    off = LLVMBuildNSWAdd(E->b, off, LLVMBuildNSWMul(E->b, b, em_i64(E, o->t->strides[0]), ""), "");
  }
  NvmmaGlobal g;
  g.ptr = elem_ptr(E, em_get(E, o->load->args[0])->v, off);
  /* row stride: of the outer dim in memory (K when trans_k_outer, else M / N) */
  g.stride = em_i64(E, o->t->strides[trans_k_outer ? kdim : mndim]);
  g.mn_valid = i32v(E, LLVMBuildSub(E->b, em_i64(E, o->t->shape.dims[mndim].v), mt->begin, ""));
  LLVMValueRef kend = em_smin(E, k_ub, em_i64(E, o->t->shape.dims[kdim].v));
  g.k_valid = i32v(E, LLVMBuildSub(E->b, kend, k_lb, ""));
  return g;
}

static bool is_zero_fill(LEmit *E, IrValueId v) {
  const IrValue *iv = val(E, v);
  if (iv->def_kind != IR_DEF_RESULT || iv->def->kind != IR_OP_FULL) return false;
  IrScalar s = iv->def->attrs->value;
  return s.is_float ? s.f == 0.0 && !signbit(s.f) : s.i == 0;
}

/* An aligned piece of the dynamic shared memory: 128 bytes (the swizzle is bank-conflict free
 * relative to 128-byte lines), 1024 for wgmma (its 128-byte swizzle atoms: 8 rows). */
static LLVMValueRef shared_aligned(LEmit *E, int64_t bytes, unsigned align) {
  E->shared = (E->shared + align - 1) & ~(size_t)(align - 1);
  if (LLVMGetAlignment(E->smem) < align) LLVMSetAlignment(E->smem, align);
  return em_shared_buffer(E, E->i8, bytes);
}

static LLVMValueRef shared128(LEmit *E, int64_t bytes) {
  return shared_aligned(E, bytes, 128);
}

/* acc[i] = buf[row * ld + col] for this thread's fragment elements. */
static void acc_from_shared(LEmit *E, NvmmaCtx *x, LLVMValueRef buf, int ld, LLVMValueRef *acc) {
  for (int i = 0; i < nvmma_acc_count(&x->desc); i++) {
    LLVMValueRef row, col;
    nvmma_emit_acc_coord(x, i, &row, &col);
    LLVMValueRef lin = LLVMBuildAdd(
        E->b, LLVMBuildMul(E->b, row, LLVMConstInt(E->i32, (unsigned)ld, false), ""), col, "");
    lin = LLVMBuildZExt(E->b, lin, E->i64, "");
    LLVMValueRef p = LLVMBuildInBoundsGEP2(E->b, E->f32, buf, &lin, 1, "");
    acc[i] = LLVMBuildLoad2(E->b, E->f32, p, "acc.in");
  }
}

int em_nvptx_dot_loop(LEmit *E, const IrOp *lop, const LoopDims *ld) {
  DotOperand A, B;
  const IrOp *dot = match(E, lop, &A, &B);
  NvmmaDesc desc;
  if (!dot || !describe(E, lop, ld->clb[0], dot, &A, &B, &desc))
    return em_fail(E, lop, "internal: not a tensor-core dot loop");
  const IrValue *rv = val(E, dot->results[0]);
  int r = rv->shape.rank;
  bool at = desc.a_trans, bt = desc.b_trans;
  IrValueId init = lop->args[2];
  bool zero = is_zero_fill(E, init);
  int64_t tile_elems = (int64_t)desc.bm * desc.bn, nelem = em_numel(E, &rv->shape);
  int64_t stage_bytes = nvmma_smem_bytes(&desc);
  /* The carried value's buffer. With a zero start and one tile (no batch lanes) nothing reads
   * it before the loop's end, so the stages share its memory (the main loop ends with wait 0
   * and a barrier). */
  LLVMValueRef slot, stages;
  unsigned align = desc.wgmma ? 1024 : 128;
  if (zero && nelem == tile_elems) {
    slot = stages = shared_aligned(E, nelem * 4 > stage_bytes ? nelem * 4 : stage_bytes, align);
  } else {
    slot = shared128(E, nelem * 4);
    em_fill(E, slot, DT_FLOAT32, &rv->shape, init);
    stages = shared_aligned(E, stage_bytes, align);
  }
  NvmmaCtx x;
  if (nvmma_ctx_init(&x, &desc, E->mod, E->b, NULL, stages, E->d)) {
    E->failed = true;
    return HL_ERR;
  }
  LLVMValueRef k_lb = ld->lb[0], k_ub = ld->ub[0];
  LLVMValueRef k_total = i32v(E, em_smax(E, LLVMBuildSub(E->b, k_ub, k_lb, ""), em_i64(E, 0)));
  LLoop bl;
  LLVMValueRef bi = NULL, cbase = slot;
  if (r == 3) { /* batch lanes inside both tensors, one after another */
    const LTile *btile = em_get(E, A.tile[0])->tile;
    LLVMValueRef n = em_smin(E, btile->vlen,
                             LLVMBuildSub(E->b, em_i64(E, A.t->shape.dims[0].v), btile->begin, ""));
    n = em_smin(E, n, LLVMBuildSub(E->b, em_i64(E, B.t->shape.dims[0].v), btile->begin, ""));
    em_loop_begin(E, &bl, em_i64(E, 0), n, NULL, "dot.b");
    bi = bl.iv;
    LLVMValueRef off = LLVMBuildNSWMul(E->b, bi, em_i64(E, tile_elems), "");
    cbase = LLVMBuildInBoundsGEP2(E->b, E->f32, slot, &off, 1, "");
  }
  NvmmaGlobal ga = global_of(E, &A, r - 1, r - 2, at, bi, k_lb, k_ub);
  NvmmaGlobal gb = global_of(E, &B, r - 2, r - 1, !bt, bi, k_lb, k_ub);
  LLVMValueRef acc[256];
  if (zero)
    nvmma_acc_zero(&x, acc);
  else
    acc_from_shared(E, &x, cbase, desc.bn, acc);
  nvmma_emit_mainloop(&x, &ga, &gb, k_total, acc);
  nvmma_emit_acc_to_shared(&x, acc, cbase, desc.bn);
  if (r == 3) {
    nvmma_emit_barrier(&x); /* the next lane's loads reuse the stages (slot memory) */
    em_loop_end(E, &bl, NULL);
  }
  em_barrier(E);
  E->vals[lop->results[0]] = (LVal){.kind = LV_BUF, .v = slot};
  em_name(E, slot, E->f, lop->results[0], "");
  return E->failed ? HL_ERR : HL_OK;
}

/* ---- any other dot: operands evaluated into one stage, then ldmatrix + mma.sync ------------- */

/* The description of a bfloat16 / float16 dot outside the pattern: one stage holding all of K,
 * the most warps (up to the CTA's) that split the tile; false when nvmma cannot take it. */
static bool describe_tc(LEmit *E, const IrOp *dot, NvmmaDesc *out) {
  const IrValue *av = val(E, dot->args[0]), *bv = val(E, dot->args[1]);
  const IrValue *rv = val(E, dot->results[0]);
  int r = av->shape.rank;
  if (av->dtype != bv->dtype || (av->dtype != DT_BFLOAT16 && av->dtype != DT_FLOAT16)) return false;
  if (E->plan->kind[dot->results[0]] == PLAN_SCALAR || (rv->shape.rank != 2 && rv->shape.rank != 3))
    return false;
  NvmmaDesc desc = {0};
  desc.bm = (int)em_dim(E, av->shape.dims[r - 2]);
  desc.bk = (int)em_dim(E, av->shape.dims[r - 1]);
  desc.bn = (int)em_dim(E, bv->shape.dims[r - 1]);
  desc.dtype = av->dtype == DT_BFLOAT16 ? NVMMA_BF16 : NVMMA_F16;
  desc.num_stages = 1;
  for (int nw = E->bind->num_warps < 16 ? E->bind->num_warps : 16; nw >= 1; nw /= 2) {
    Diag scratch = {0};
    desc.num_warps = nw;
    desc.warps_m = desc.warps_n = 0;
    if (!nvmma_desc_check(&desc, &scratch)) {
      *out = desc;
      return true;
    }
  }
  return false;
}

bool em_nvptx_dot_tc_ok(LEmit *E, const IrOp *dot) {
  NvmmaDesc desc;
  return E->gpu && describe_tc(E, dot, &desc);
}

/* Byte offset of element (row, col) in a swizzled slice of `inner` elements per row
 * (nvmma_swizzle_offset as LLVM i64 arithmetic). */
static LLVMValueRef swizzle(LEmit *E, int inner, LLVMValueRef row, LLVMValueRef col) {
  int64_t rowbytes = 2 * (int64_t)inner;
  LLVMValueRef o = LLVMBuildAdd(E->b, LLVMBuildMul(E->b, row, em_i64(E, rowbytes), ""),
                                LLVMBuildMul(E->b, col, em_i64(E, 2), ""), "");
  LLVMValueRef key = rowbytes >= 128 ? row : LLVMBuildLShr(E->b, o, em_i64(E, 7), "");
  key = LLVMBuildShl(E->b, LLVMBuildAnd(E->b, key, em_i64(E, 7), ""), em_i64(E, 4), "");
  return LLVMBuildXor(E->b, o, key, "");
}

/* Evaluates operand src (batch lane bi, or NULL) into its slice at `dst` as [rows][cols], cols
 * contiguous and swizzled; lanes whose K index (the col when k_is_col, else the row) is at or
 * past klen are 0. One distributed loop (it ends with a barrier). */
static void pack_slice(LEmit *E, IrValueId src, LLVMValueRef bi, LLVMValueRef dst, int rows,
                       int cols, bool k_is_col, LLVMValueRef klen) {
  const IrValue *sv = val(E, src);
  LLoop l;
  em_par_begin(E, &l, em_i64(E, (int64_t)rows * cols), "tc.pack");
  LLVMValueRef row = LLVMBuildUDiv(E->b, l.iv, em_i64(E, cols), "");
  LLVMValueRef col = LLVMBuildURem(E->b, l.iv, em_i64(E, cols), "");
  LLVMValueRef idx[3];
  int n = 0;
  if (bi) idx[n++] = bi;
  idx[n++] = row;
  idx[n++] = col;
  LLVMValueRef v = em_eval(E, src, idx);
  LLVMValueRef ok = LLVMBuildICmp(E->b, LLVMIntSLT, k_is_col ? col : row, klen, "");
  v = LLVMBuildSelect(E->b, ok, v, em_zero(E, sv->dtype), "");
  LLVMValueRef off = swizzle(E, cols, row, col);
  LLVMValueRef p = LLVMBuildInBoundsGEP2(E->b, E->i8, dst, &off, 1, "");
  LLVMBuildStore(E->b, em_val_to_mem(E, sv->dtype, v), p);
  em_par_end(E, &l, NULL);
}

int em_nvptx_dot_tc(LEmit *E, const IrOp *dot, LLVMValueRef accbuf, LLVMValueRef klen) {
  NvmmaDesc desc;
  if (!describe_tc(E, dot, &desc)) return em_fail(E, dot, "internal: not a tensor-core dot");
  const IrValue *av = val(E, dot->args[0]);
  int r = av->shape.rank;
  int64_t batch = r == 3 ? em_dim(E, av->shape.dims[0]) : 1;
  LLVMValueRef stage = shared128(E, nvmma_smem_bytes(&desc));
  NvmmaCtx x;
  if (nvmma_ctx_init(&x, &desc, E->mod, E->b, NULL, stage, E->d)) {
    E->failed = true;
    return HL_ERR;
  }
  LLVMValueRef bslice = LLVMBuildInBoundsGEP2(
      E->b, E->i8, stage, (LLVMValueRef[]){em_i64(E, (int64_t)desc.bm * desc.bk * 2)}, 1, "");
  LLoop bl;
  LLVMValueRef bi = NULL, cbase = accbuf;
  if (r == 3) {
    em_loop_begin(E, &bl, em_i64(E, 0), em_i64(E, batch), NULL, "tc.b");
    bi = bl.iv;
    LLVMValueRef off = LLVMBuildNSWMul(E->b, bi, em_i64(E, (int64_t)desc.bm * desc.bn), "");
    cbase = LLVMBuildInBoundsGEP2(E->b, E->f32, accbuf, &off, 1, "");
  }
  pack_slice(E, dot->args[0], bi, stage, desc.bm, desc.bk, true, klen);
  pack_slice(E, dot->args[1], bi, bslice, desc.bk, desc.bn, false, klen);
  /* warps past the ones nvmma splits the tile into skip the mma (no barrier inside) */
  LLVMBasicBlockRef join = NULL;
  if (32 * (int64_t)desc.num_warps < E->nthreads) {
    LLVMBasicBlockRef work = em_block(E, "tc.warp");
    join = em_block(E, "tc.warp.end");
    LLVMBuildCondBr(E->b,
                    LLVMBuildICmp(E->b, LLVMIntULT, E->tid, em_i64(E, 32 * desc.num_warps), ""),
                    work, join);
    LLVMPositionBuilderAtEnd(E->b, work);
  }
  LLVMValueRef acc[256];
  acc_from_shared(E, &x, cbase, desc.bn, acc);
  nvmma_emit_compute(&x, LLVMConstInt(E->i32, 0, false), acc);
  nvmma_emit_acc_to_shared(&x, acc, cbase, desc.bn);
  if (join) {
    LLVMBuildBr(E->b, join);
    LLVMPositionBuilderAtEnd(E->b, join);
  }
  em_barrier(E); /* the accumulator is written; the next packing may overwrite the stage */
  if (r == 3) em_loop_end(E, &bl, NULL);
  return E->failed ? HL_ERR : HL_OK;
}

/* ---- float32 dots on tensor cores: TF32 (the dot_precision setting) -------------------------- */

bool em_nvptx_dot_tf32_ok(LEmit *E, DType in, int64_t M, int64_t N, int64_t K) {
  return E->gpu && E->bind->dot_precision == LOWER_DOT_TF32 && in == DT_FLOAT32 && M % 16 == 0 &&
         N % 8 == 0 && K % 8 == 0 && E->nthreads % 32 == 0;
}

/* One operand element of the packed float32 buffer, rounded to TF32 (cvt.rna: to nearest, ties
 * away from zero): the 32-bit register mma.sync .tf32 takes. */
static LLVMValueRef tf32_at(LEmit *E, LLVMValueRef buf, LLVMValueRef lin) {
  LLVMValueRef v = em_buf_load(E, DT_FLOAT32, buf, lin);
  return em_call_intr(E, "llvm.nvvm.f2tf32.rna", NULL, &v, 1);
}

/* C[b] += A[b]·B[b] from the packed float32 operands (A [batch][M][K], B [batch][K][N], C
 * [batch][M][N], all in shared memory) with mma.sync m16n8k8 .tf32 and float32 accumulation.
 * The output is cut into units of 16 rows × 8·NB columns; warp w takes units w, w + warps, ...
 * (the loop is uniform across each warp, as mma.sync needs). Fragments follow the PTX layout
 * of m16n8k8 (g = lane/4, t = lane%4): a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4);
 * b0 (k t, n g), b1 (k t+4, n g); c as m16n8k16's. Ends with a barrier. */
void em_nvptx_dot_tf32(LEmit *E, LLVMValueRef A, LLVMValueRef B, LLVMValueRef C, int64_t batch,
                       int64_t M, int64_t N, int64_t K) {
  LLVMBuilderRef b = E->b;
  int NB = (N / 8) % 4 == 0 ? 4 : (N / 8) % 2 == 0 ? 2 : 1;
  int64_t nu = N / (8 * NB), mu = M / 16, units = batch * mu * nu, warps = E->nthreads / 32;
  LLVMValueRef lane = LLVMBuildURem(b, E->tid, em_i64(E, 32), "lane");
  LLVMValueRef g = LLVMBuildUDiv(b, lane, em_i64(E, 4), "g");
  LLVMValueRef t = LLVMBuildURem(b, lane, em_i64(E, 4), "t");
  LLVMValueRef slot[4][4];
  for (int q = 0; q < NB; q++)
    for (int e = 0; e < 4; e++) slot[q][e] = em_alloca(E, E->f32, 1, "tf32.c");
  LLoop lu, lk;
  E->par++; /* warp-uniform, not CTA-uniform loops: no barrier may go inside them */
  em_loop_begin(E, &lu, LLVMBuildUDiv(b, E->tid, em_i64(E, 32), ""), em_i64(E, units),
                em_i64(E, warps), "tf32.u");
  LLVMValueRef u = lu.iv;
  LLVMValueRef bt = LLVMBuildUDiv(b, u, em_i64(E, mu * nu), "");
  LLVMValueRef rest = LLVMBuildURem(b, u, em_i64(E, mu * nu), "");
  LLVMValueRef m0 = LLVMBuildMul(b, LLVMBuildUDiv(b, rest, em_i64(E, nu), ""), em_i64(E, 16), "");
  LLVMValueRef n0 = LLVMBuildMul(b, LLVMBuildURem(b, rest, em_i64(E, nu), ""), em_i64(E, 8 * NB), "");
  LLVMValueRef row[2], abase[2], cidx[4][4];
  for (int h = 0; h < 2; h++) { /* rows g and g + 8 of the unit */
    row[h] = LLVMBuildAdd(b, LLVMBuildAdd(b, m0, g, ""), em_i64(E, 8 * h), "");
    LLVMValueRef r = LLVMBuildAdd(b, LLVMBuildMul(b, bt, em_i64(E, M), ""), row[h], "");
    abase[h] = LLVMBuildMul(b, r, em_i64(E, K), "");
  }
  for (int q = 0; q < NB; q++)
    for (int e = 0; e < 4; e++) {
      LLVMValueRef col = LLVMBuildAdd(
          b, n0, LLVMBuildAdd(b, LLVMBuildMul(b, t, em_i64(E, 2), ""), em_i64(E, 8 * q + e % 2), ""),
          "");
      LLVMValueRef r = LLVMBuildAdd(b, LLVMBuildMul(b, bt, em_i64(E, M), ""), row[e / 2], "");
      cidx[q][e] = LLVMBuildAdd(b, LLVMBuildMul(b, r, em_i64(E, N), ""), col, "");
      LLVMBuildStore(b, em_buf_load(E, DT_FLOAT32, C, cidx[q][e]), slot[q][e]);
    }
  LLVMValueRef bbase = LLVMBuildMul(b, bt, em_i64(E, K * N), "");
  em_loop_begin(E, &lk, em_i64(E, 0), em_i64(E, K), em_i64(E, 8), "tf32.k");
  LLVMValueRef k0 = LLVMBuildAdd(b, lk.iv, t, ""), k4 = LLVMBuildAdd(b, k0, em_i64(E, 4), "");
  LLVMValueRef args[10];
  args[0] = tf32_at(E, A, LLVMBuildAdd(b, abase[0], k0, ""));
  args[1] = tf32_at(E, A, LLVMBuildAdd(b, abase[1], k0, ""));
  args[2] = tf32_at(E, A, LLVMBuildAdd(b, abase[0], k4, ""));
  args[3] = tf32_at(E, A, LLVMBuildAdd(b, abase[1], k4, ""));
  LLVMValueRef brow0 = LLVMBuildAdd(b, bbase, LLVMBuildMul(b, k0, em_i64(E, N), ""), "");
  LLVMValueRef brow4 = LLVMBuildAdd(b, bbase, LLVMBuildMul(b, k4, em_i64(E, N), ""), "");
  for (int q = 0; q < NB; q++) {
    LLVMValueRef col = LLVMBuildAdd(b, LLVMBuildAdd(b, n0, g, ""), em_i64(E, 8 * q), "");
    args[4] = tf32_at(E, B, LLVMBuildAdd(b, brow0, col, ""));
    args[5] = tf32_at(E, B, LLVMBuildAdd(b, brow4, col, ""));
    for (int e = 0; e < 4; e++) args[6 + e] = LLVMBuildLoad2(b, E->f32, slot[q][e], "");
    LLVMValueRef r = em_call_intr(E, "llvm.nvvm.mma.m16n8k8.row.col.tf32", NULL, args, 10);
    for (int e = 0; e < 4; e++)
      LLVMBuildStore(b, LLVMBuildExtractValue(b, r, (unsigned)e, ""), slot[q][e]);
  }
  em_loop_end(E, &lk, NULL);
  for (int q = 0; q < NB; q++)
    for (int e = 0; e < 4; e++)
      em_buf_store(E, DT_FLOAT32, C, cidx[q][e], LLVMBuildLoad2(b, E->f32, slot[q][e], ""));
  em_loop_end(E, &lu, NULL);
  E->par--;
  em_barrier(E); /* C is written for everyone; the next packing may overwrite A and B */
}
