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
 * ordinary code over a whole tile. A batch dim (bmm) loops over the batch tile's lanes. Anything
 * else, or a block shape nvmma rejects, takes the portable path (em_dot / em_gpu_gemm). */
#include <math.h>

#include "lower/lower_internal.h"
#include "lower/lower_nvptx_mma.h"

static const IrValue *val(LEmit *E, IrValueId id) {
  return ir_value(E->f, id);
}

/* One operand: a load op read as [batch,] outer x inner in memory order. */
typedef struct DotOperand {
  const IrOp *load;
  const IrValue *t;             /* the tensor */
  IrValueId tile[3];            /* tile operand per tensor dim (batch, row dim, col dim) */
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
  if (lop->kind != IR_OP_TILE || lop->attrs->ndims != 1 || body->nargs != 2 ||
      lop->nresults != 1)
    return NULL;
  const IrOp *dot = NULL;
  int n = 0;
  for (const IrOp *o = body->first; o; o = o->next, n++) {
    if (ir_op_info(o->kind)->cls == IR_CLASS_DOT) dot = o;
    else if (o->kind != IR_OP_LOAD && ir_op_info(o->kind)->cls != IR_CLASS_YIELD) return NULL;
  }
  if (!dot || n != 4 || dot->nargs != 3 || dot->args[2] != body->args[1]) return NULL;
  const IrOp *y = body->last;
  if (y->nargs != 1 || y->args[0] != dot->results[0]) return NULL;
  const IrValue *rv = val(E, dot->results[0]);
  int r = rv->shape.rank;
  if (rv->dtype != DT_FLOAT32 || (r != 2 && r != 3)) return NULL;
  if (E->plan->kind[body->args[1]] != PLAN_BUFFER || E->plan->rloop[dot->results[0]] >= 0)
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
  LLVMValueRef off = LLVMBuildNSWAdd(
      E->b, LLVMBuildNSWMul(E->b, mt->begin, em_i64(E, o->t->strides[mndim]), ""),
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

int em_nvptx_dot_loop(LEmit *E, const IrOp *lop, const LoopDims *ld, LLVMValueRef slot) {
  DotOperand A, B;
  const IrOp *dot = match(E, lop, &A, &B);
  if (!dot) return em_fail(E, lop, "internal: not a tensor-core dot loop");
  const IrValue *rv = val(E, dot->results[0]);
  int r = rv->shape.rank;
  NvmmaDesc desc;
  if (!describe(E, lop, ld->clb[0], dot, &A, &B, &desc))
    return em_fail(E, dot, "internal: not a tensor-core dot loop");
  bool at = desc.a_trans, bt = desc.b_trans;

  /* the stages: 128-byte aligned in the dynamic shared memory */
  E->shared = (E->shared + 127) & ~(size_t)127;
  LLVMSetAlignment(E->smem, 128);
  LLVMValueRef stages = em_shared_buffer(E, E->i8, nvmma_smem_bytes(&desc));
  NvmmaCtx x;
  if (nvmma_ctx_init(&x, &desc, E->mod, E->b, NULL, stages, E->d)) {
    E->failed = true;
    return HL_ERR;
  }
  int nacc = nvmma_acc_count(&desc);
  bool zero = is_zero_fill(E, lop->args[2]);
  LLVMValueRef k_lb = ld->lb[0], k_ub = ld->ub[0];
  LLVMValueRef k_total = i32v(E, em_smax(E, LLVMBuildSub(E->b, k_ub, k_lb, ""), em_i64(E, 0)));

  LLoop bl;
  LLVMValueRef bi = NULL, cbase = slot;
  int64_t tile_elems = (int64_t)desc.bm * desc.bn;
  if (r == 3) {
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
  if (zero) {
    nvmma_acc_zero(&x, acc);
  } else {
    for (int i = 0; i < nacc; i++) {
      LLVMValueRef row, col;
      nvmma_emit_acc_coord(&x, i, &row, &col);
      LLVMValueRef lin = LLVMBuildAdd(E->b, LLVMBuildMul(E->b, row, LLVMConstInt(E->i32, (unsigned)desc.bn, 0), ""), col, "");
      LLVMValueRef p = LLVMBuildInBoundsGEP2(E->b, E->f32, cbase,
                                             (LLVMValueRef[]){LLVMBuildZExt(E->b, lin, E->i64, "")}, 1, "");
      acc[i] = LLVMBuildLoad2(E->b, E->f32, p, "acc.in");
    }
  }
  nvmma_emit_mainloop(&x, &ga, &gb, k_total, acc);
  nvmma_emit_acc_to_shared(&x, acc, cbase, desc.bn);
  if (r == 3) em_loop_end(E, &bl, NULL);
  em_barrier(E);
  return E->failed ? HL_ERR : HL_OK;
}
