/* Memory ops: loads evaluated per element (masked: lanes outside the tensor read 0), stores and
 * atomic adds as loop nests over the valid part of their region. Part of src/lower (emit_llvm).
 *
 * A load's lane is checked against the tensor's size only where the check can fail: a tile dim
 * whose loop is statically inside the tensor and divides evenly, a ':' dim read whole, or a
 * scalar index of known range need no compare, which keeps interior loops free of masks.
 * A store runs each tile dim over [0, min(tile end, size) - begin) instead of masking. */
#include <stdint.h>
#include <string.h>

#include "lower/lower_internal.h"

static const IrValue *val(LEmit *E, IrValueId id) {
  return ir_value(E->f, id);
}

static bool has_operand(IrIndexKind k) {
  return k == IR_IDX_TILE || k == IR_IDX_SCALAR || k == IR_IDX_GATHER;
}

static LLVMValueRef to_i64(LEmit *E, DType dt, LLVMValueRef v) {
  if (dt == DT_INT64) return v;
  return dt == DT_UINT8 || dt == DT_BOOL ? LLVMBuildZExt(E->b, v, E->i64, "")
                                         : LLVMBuildSExt(E->b, v, E->i64, "");
}

/* Static range [lo, hi] of an integer scalar: a constant, or a grid loop's index. */
static bool scalar_range(LEmit *E, IrValueId id, int64_t *lo, int64_t *hi) {
  int64_t c;
  if (ir_const_int(E->f, id, &c)) {
    *lo = *hi = c;
    return true;
  }
  const IrValue *v = val(E, id);
  if (v->def_kind != IR_DEF_BLOCK_ARG || v->def->kind != IR_OP_GRID) return false;
  const IrOp *g = v->def;
  if (v->index >= g->attrs->ndims) return false;
  int64_t b, e;
  if (!ir_const_int(E->f, g->args[2 * v->index], &b) ||
      !ir_const_int(E->f, g->args[2 * v->index + 1], &e))
    return false;
  *lo = b;
  *hi = e - 1;
  return true;
}

static int64_t tensor_size(const IrValue *t, int d) {
  return t->shape.dims[d].v;
}

/* One index entry resolved for the element at region index `ri`: the tensor index and whether
 * it must be checked against the tensor's size. */
static LLVMValueRef entry_index(LEmit *E, const IrOp *op, int e, IrValueId operand, LLVMValueRef ri,
                                int64_t size, bool *check) {
  const IrAttrs *a = op->attrs;
  *check = false;
  switch (a->idx[e]) {
  case IR_IDX_TILE: {
    const LTile *t = em_get(E, operand)->tile;
    *check = !(t->nonneg && t->max_index < size);
    return LLVMBuildNSWAdd(E->b, t->begin, ri, "");
  }
  case IR_IDX_SLICE: {
    int rd = a->rdim[e];
    int64_t chunk = E->bind->rchunk[rd];
    if (chunk == 0 || !E->in_chunk[rd]) return ri;
    *check = size % chunk != 0;
    return LLVMBuildNSWAdd(E->b, E->roff[rd], ri, "");
  }
  case IR_IDX_SCALAR: {
    int64_t lo, hi;
    *check = !(scalar_range(E, operand, &lo, &hi) && lo >= 0 && hi < size);
    return to_i64(E, val(E, operand)->dtype, em_eval(E, operand, NULL));
  }
  default: { /* gather */
    *check = true;
    return to_i64(E, val(E, operand)->dtype, em_eval(E, operand, &ri));
  }
  }
}

static LLVMValueRef and_cond(LEmit *E, LLVMValueRef a, LLVMValueRef b) {
  return a ? LLVMBuildAnd(E->b, a, b, "") : b;
}

static LLVMValueRef in_range(LEmit *E, LLVMValueRef ti, int64_t size) {
  return LLVMBuildICmp(E->b, LLVMIntULT, ti, em_i64(E, size), "");
}

/* The element offset and the in-bounds condition (NULL: always) of region index idx. With
 * `bounded` (stores) the tile, ':' and scalar entries are known in range already. */
static LLVMValueRef element_offset(LEmit *E, const IrOp *op, LLVMValueRef *idx, bool bounded,
                                   LLVMValueRef *cond) {
  const IrAttrs *a = op->attrs;
  const IrValue *t = val(E, op->args[0]);
  LLVMValueRef off = NULL;
  int pos = 1, r = 0, td = 0;
  *cond = NULL;
  for (int e = 0; e < a->nidx; e++) {
    IrIndexKind k = a->idx[e];
    IrValueId operand = has_operand(k) ? op->args[pos++] : IR_NONE;
    if (k == IR_IDX_NEWAXIS) {
      r++;
      continue;
    }
    LLVMValueRef ri = k == IR_IDX_SCALAR ? NULL : idx[r++];
    bool check;
    int64_t size = tensor_size(t, td);
    LLVMValueRef ti = entry_index(E, op, e, operand, ri, size, &check);
    if (bounded && k != IR_IDX_GATHER) check = false;
    if (check) *cond = and_cond(E, *cond, in_range(E, ti, size));
    int64_t stride = t->strides[td++];
    if (stride == 0) continue;
    LLVMValueRef term = stride == 1 ? ti : LLVMBuildNSWMul(E->b, ti, em_i64(E, stride), "");
    off = off ? LLVMBuildNSWAdd(E->b, off, term, "") : term;
  }
  return off ? off : em_i64(E, 0);
}

/* The region shape of a load / store / atomic add (its result shape). */
static void region_shape(LEmit *E, const IrOp *op, IrShape *out) {
  const IrAttrs *a = op->attrs;
  const IrValue *t = val(E, op->args[0]);
  int pos = 1, td = 0;
  out->rank = 0;
  for (int e = 0; e < a->nidx; e++) {
    IrIndexKind k = a->idx[e];
    IrValueId operand = has_operand(k) ? op->args[pos++] : IR_NONE;
    switch (k) {
    case IR_IDX_TILE:
    case IR_IDX_GATHER:
      out->dims[out->rank++] = val(E, operand)->shape.dims[0];
      break;
    case IR_IDX_SLICE:
      out->dims[out->rank++] = (IrDim){IR_DIM_RDIM, a->rdim[e]};
      break;
    case IR_IDX_NEWAXIS:
      out->dims[out->rank++] = (IrDim){IR_DIM_CONST, 1};
      break;
    default:
      break;
    }
    if (k != IR_IDX_NEWAXIS) td++;
  }
  (void)t;
}

static IrValueId mask_operand(const IrOp *op) {
  return op->attrs->has_mask ? op->args[op->nargs - 1] : IR_NONE;
}

static LLVMValueRef mask_at(LEmit *E, const IrOp *op, const IrShape *region, LLVMValueRef *idx) {
  IrValueId m = mask_operand(op);
  if (m == IR_NONE) return NULL;
  LLVMValueRef s[IR_MAX_RANK];
  em_bcast_idx(E, &val(E, m)->shape, region, idx, s);
  return em_eval(E, m, s);
}

LLVMValueRef em_eval_load(LEmit *E, const IrOp *op, LLVMValueRef *idx) {
  const IrValue *t = val(E, op->args[0]);
  IrShape region;
  region_shape(E, op, &region);
  LLVMValueRef cond;
  LLVMValueRef off = element_offset(E, op, idx, false, &cond);
  LLVMValueRef m = mask_at(E, op, &region, idx);
  if (m) cond = and_cond(E, cond, m);
  LLVMTypeRef mt = em_mem_type(E, t->dtype);
  LLVMValueRef base = em_get(E, op->args[0])->v;
  int policy = E->gpu ? em_load_policy(E, op) : IR_EVICT_NONE;
  if (!cond) {
    LLVMValueRef p = LLVMBuildInBoundsGEP2(E->b, mt, base, &off, 1, "");
    if (policy != IR_EVICT_NONE)
      return em_mem_to_val(E, t->dtype, em_nvptx_load_hint(E, mt, p, policy));
    return em_mem_to_val(E, t->dtype, LLVMBuildLoad2(E->b, mt, p, ""));
  }
  LLVMBasicBlockRef from = LLVMGetInsertBlock(E->b), ld = em_block(E, "ld"),
                    join = em_block(E, "ld.join");
  LLVMBuildCondBr(E->b, cond, ld, join);
  LLVMPositionBuilderAtEnd(E->b, ld);
  LLVMValueRef p = LLVMBuildGEP2(E->b, mt, base, &off, 1, "");
  LLVMValueRef v = policy != IR_EVICT_NONE ? em_nvptx_load_hint(E, mt, p, policy)
                                           : LLVMBuildLoad2(E->b, mt, p, "");
  LLVMBasicBlockRef ld_end = LLVMGetInsertBlock(E->b);
  LLVMBuildBr(E->b, join);
  LLVMPositionBuilderAtEnd(E->b, join);
  LLVMValueRef phi = LLVMBuildPhi(E->b, mt, "");
  LLVMValueRef zero = LLVMConstNull(mt);
  LLVMValueRef vals[2] = {zero, v};
  LLVMBasicBlockRef blocks[2] = {from, ld_end};
  LLVMAddIncoming(phi, vals, blocks, 2);
  return em_mem_to_val(E, t->dtype, phi);
}

/* ---- stores and atomic adds ------------------------------------------------------------------ */

static LLVMAtomicOrdering ordering(IrAtomicSem s) {
  switch (s) {
  case IR_SEM_ACQUIRE:
    return LLVMAtomicOrderingAcquire;
  case IR_SEM_RELEASE:
    return LLVMAtomicOrderingRelease;
  case IR_SEM_ACQ_REL:
    return LLVMAtomicOrderingAcquireRelease;
  default:
    return LLVMAtomicOrderingMonotonic;
  }
}

/* *p += v atomically; returns the old value (SSA type). float16 / bfloat16 add in float32 and
 * round, through a compare-exchange loop. */
static LLVMValueRef atomic_add(LEmit *E, DType dt, LLVMValueRef p, LLVMValueRef v,
                               LLVMAtomicOrdering ord) {
  LLVMBuilderRef b = E->b;
  if (dt != DT_FLOAT16 && dt != DT_BFLOAT16) {
    LLVMAtomicRMWBinOp rop = ir_dtype_is_float(dt) ? LLVMAtomicRMWBinOpFAdd : LLVMAtomicRMWBinOpAdd;
    return LLVMBuildAtomicRMW(b, rop, p, v, ord, false);
  }
  LLVMValueRef addend = em_to_comp(E, dt, v);
  LLVMValueRef first = LLVMBuildLoad2(b, E->i16, p, "");
  LLVMSetOrdering(first, LLVMAtomicOrderingMonotonic);
  LLVMSetAlignment(first, 2);
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(b), loop = em_block(E, "cas"),
                    done = em_block(E, "cas.done");
  LLVMBuildBr(b, loop);
  LLVMPositionBuilderAtEnd(b, loop);
  LLVMValueRef old = LLVMBuildPhi(b, E->i16, "old");
  LLVMValueRef oldv = dt == DT_FLOAT16 ? LLVMBuildBitCast(b, old, E->f16, "") : old;
  LLVMValueRef sum = em_from_comp(E, dt, LLVMBuildFAdd(b, em_to_comp(E, dt, oldv), addend, ""));
  LLVMValueRef newbits = dt == DT_FLOAT16 ? LLVMBuildBitCast(b, sum, E->i16, "") : sum;
  LLVMValueRef pair = LLVMBuildAtomicCmpXchg(b, p, old, newbits,
                                             ord == LLVMAtomicOrderingMonotonic
                                                 ? LLVMAtomicOrderingMonotonic
                                                 : LLVMAtomicOrderingSequentiallyConsistent,
                                             LLVMAtomicOrderingMonotonic, false);
  LLVMValueRef seen = LLVMBuildExtractValue(b, pair, 0, "");
  LLVMValueRef ok = LLVMBuildExtractValue(b, pair, 1, "");
  LLVMBasicBlockRef here = LLVMGetInsertBlock(b);
  LLVMAddIncoming(old, &first, &pre, 1);
  LLVMAddIncoming(old, &seen, &here, 1);
  LLVMBuildCondBr(b, ok, done, loop);
  LLVMPositionBuilderAtEnd(b, done);
  return dt == DT_FLOAT16 ? LLVMBuildBitCast(b, old, E->f16, "") : old;
}

/* Loop bounds of region dim r (for entry e with operand). */
static void store_bounds(LEmit *E, const IrOp *op, int e, IrValueId operand, int64_t size,
                         LLVMValueRef *lo, LLVMValueRef *hi) {
  const IrAttrs *a = op->attrs;
  *lo = em_i64(E, 0);
  switch (a->idx[e]) {
  case IR_IDX_TILE: {
    const LTile *t = em_get(E, operand)->tile;
    if (!t->nonneg) *lo = em_smax(E, *lo, LLVMBuildNeg(E->b, t->begin, ""));
    *hi = t->loop_end <= size
              ? t->vlen
              : LLVMBuildSub(E->b, em_smin(E, t->end, em_i64(E, size)), t->begin, "");
    break;
  }
  case IR_IDX_SLICE:
    *hi = em_vlen(E, (IrDim){IR_DIM_RDIM, a->rdim[e]});
    break;
  case IR_IDX_GATHER:
    *hi = em_vlen(E, val(E, operand)->shape.dims[0]);
    break;
  default: /* newaxis */
    *hi = em_i64(E, 1);
  }
}

/* What one store's loops share. */
typedef struct StoreCtx {
  const IrOp *op;
  const IrValue *t;
  IrShape region;
  IrValueId value;
  bool atomic;
  LLVMValueRef oldbuf; /* atomic add's old values, when used */
} StoreCtx;

/* The body for one lane: the gather / mask check, the value, the store or atomic add. With
 * `stage` the value goes to stage[lane - lo] instead (see stream_row). */
static void store_lane(LEmit *E, const StoreCtx *c, LLVMValueRef *idx, LLVMValueRef stage,
                       LLVMValueRef lo) {
  LLVMValueRef cond;
  LLVMValueRef off = element_offset(E, c->op, idx, true, &cond);
  /* tile and slice entries are in range by the loop bounds; what remains is gathers */
  LLVMValueRef m = mask_at(E, c->op, &c->region, idx);
  if (m) cond = and_cond(E, cond, m);
  LLVMBasicBlockRef after = NULL;
  if (cond) {
    LLVMBasicBlockRef go = em_block(E, "st.lane");
    after = em_block(E, "st.next");
    LLVMBuildCondBr(E->b, cond, go, after);
    LLVMPositionBuilderAtEnd(E->b, go);
  }
  LLVMValueRef s[IR_MAX_RANK];
  em_bcast_idx(E, &val(E, c->value)->shape, &c->region, idx, s);
  LLVMValueRef v = em_eval(E, c->value, s);
  LLVMTypeRef mt = em_mem_type(E, c->t->dtype);
  if (stage) {
    LLVMValueRef k = LLVMBuildSub(E->b, idx[c->region.rank - 1], lo, "");
    em_buf_store(E, c->t->dtype, stage, k, v);
  } else {
    LLVMValueRef p = LLVMBuildGEP2(E->b, mt, em_get(E, c->op->args[0])->v, &off, 1, "");
    if (c->atomic) {
      LLVMValueRef old = atomic_add(E, c->t->dtype, p, v, ordering(c->op->attrs->sem));
      if (c->oldbuf) em_buf_store(E, c->t->dtype, c->oldbuf, em_buf_index(E, &c->region, idx), old);
    } else {
      LLVMBuildStore(E->b, em_val_to_mem(E, c->t->dtype, v), p);
    }
  }
  if (after) {
    LLVMBuildBr(E->b, after);
    LLVMPositionBuilderAtEnd(E->b, after);
  }
}

/* One row [lo, hi) of a streaming store whose first element p0 is 64-byte aligned: the values go
 * to a staging buffer (a normal vectorized loop), then 64-byte vectors of it to the row with
 * non-temporal stores, the last partial vector with plain ones. */
static void stream_row(LEmit *E, const StoreCtx *c, LLVMValueRef *idx, LLVMValueRef lo,
                       LLVMValueRef hi, LLVMValueRef p0) {
  int last = c->region.rank - 1;
  DType dt = c->t->dtype;
  LLVMTypeRef mt = em_mem_type(E, dt);
  int64_t esize = (int64_t)tensor_dtype_size(dt), lanes = 64 / esize;
  LLVMValueRef stage = em_alloca(E, mt, em_dim(E, c->region.dims[last]), "stage");
  LLoop l;
  em_loop_begin(E, &l, lo, hi, NULL, "s");
  idx[last] = l.iv;
  store_lane(E, c, idx, stage, lo);
  em_loop_end(E, &l, em_inner_md(E));
  LLVMValueRef len = LLVMBuildSub(E->b, hi, lo, "");
  LLVMValueRef nvec = LLVMBuildSDiv(E->b, len, em_i64(E, lanes), "");
  LLVMTypeRef vt = LLVMVectorType(mt, (unsigned)lanes);
  LLVMValueRef one = LLVMConstInt(E->i32, 1, false);
  LLVMMetadataRef nt =
      LLVMMDNodeInContext2(E->ctx, (LLVMMetadataRef[]){LLVMValueAsMetadata(one)}, 1);
  LLoop q;
  em_loop_begin(E, &q, em_i64(E, 0), nvec, NULL, "stream");
  LLVMValueRef k = LLVMBuildNSWMul(E->b, q.iv, em_i64(E, lanes), "");
  LLVMValueRef v = LLVMBuildLoad2(E->b, vt, LLVMBuildInBoundsGEP2(E->b, mt, stage, &k, 1, ""), "");
  LLVMSetAlignment(v, 64);
  LLVMValueRef st = LLVMBuildStore(E->b, v, LLVMBuildInBoundsGEP2(E->b, mt, p0, &k, 1, ""));
  LLVMSetAlignment(st, 64);
  LLVMSetMetadata(st, LLVMGetMDKindIDInContext(E->ctx, "nontemporal", 11),
                  LLVMMetadataAsValue(E->ctx, nt));
  em_loop_end(E, &q, em_loop_md_ex(E, 1, 0, MD_NO_UNROLL));
  LLoop r;
  em_loop_begin(E, &r, LLVMBuildNSWMul(E->b, nvec, em_i64(E, lanes), ""), len, NULL, "tail");
  LLVMValueRef tv =
      LLVMBuildLoad2(E->b, mt, LLVMBuildInBoundsGEP2(E->b, mt, stage, &r.iv, 1, ""), "");
  LLVMBuildStore(E->b, tv, LLVMBuildInBoundsGEP2(E->b, mt, p0, &r.iv, 1, ""));
  em_loop_end(E, &r, em_loop_md_ex(E, 1, 0, MD_NO_UNROLL));
}

/* Streaming (non-temporal) stores for big outputs written once: the CPU skips reading each line
 * before writing it, and the output does not push the inputs out of cache. Only on x86, for a
 * plain store whose innermost loop runs along the tensor's contiguous last dim, into a tensor of
 * STREAM_MIN_BYTES or more; each row takes this path only when it starts 64-byte aligned. */
#define STREAM_MIN_BYTES ((int64_t)8 << 20)

static bool stream_eligible(LEmit *E, const StoreCtx *c) {
  const IrAttrs *a = c->op->attrs;
  const IrValue *t = c->t;
  if (c->atomic || a->has_mask || c->region.rank == 0 || t->shape.rank == 0) return false;
  if (strncmp(LLVMGetTarget(E->mod), "x86_64", 6) != 0) return false;
  int64_t bytes = (int64_t)tensor_dtype_size(t->dtype);
  for (int i = 0; i < t->shape.rank; i++)
    bytes *= t->shape.dims[i].v;
  if (bytes < STREAM_MIN_BYTES || t->strides[t->shape.rank - 1] != 1) return false;
  for (int e = 0; e < a->nidx; e++)
    if (a->idx[e] == IR_IDX_GATHER) return false;
  IrIndexKind last = a->idx[a->nidx - 1];
  return last == IR_IDX_TILE || last == IR_IDX_SLICE;
}

/* GPU: the region's full block as one flat loop distributed over the threads (consecutive
 * threads write consecutive elements), lanes outside [lo, hi) masked. A rank-0 store is one
 * lane, so an atomic add happens once. */
static void store_par(LEmit *E, const StoreCtx *c, LLVMValueRef *lo, LLVMValueRef *hi) {
  int rank = c->region.rank;
  LLoop l, vl;
  int vec;
  E->vec_esize = (int)tensor_dtype_size(c->t->dtype);
  E->reg_form = E->plan->regv[c->value]; /* a register row: its layout (lower_plan_regs.c) */
  int64_t sizes[IR_MAX_RANK];
  for (int r = 0; r < rank; r++)
    sizes[r] = em_dim(E, c->region.dims[r]);
  LLVMValueRef idx[IR_MAX_RANK], cond = NULL;
  em_par_block_begin(E, &l, &vl, &vec, sizes, rank, idx);
  for (int r = rank - 1; r >= 0; r--) {
    int64_t size = sizes[r];
    if (!(LLVMIsAConstantInt(hi[r]) && LLVMConstIntGetSExtValue(hi[r]) >= size)) {
      LLVMValueRef k = LLVMBuildICmp(E->b, LLVMIntSLT, idx[r], hi[r], "");
      cond = and_cond(E, cond, k);
    }
    if (!(LLVMIsAConstantInt(lo[r]) && LLVMConstIntGetSExtValue(lo[r]) <= 0)) {
      LLVMValueRef k = LLVMBuildICmp(E->b, LLVMIntSGE, idx[r], lo[r], "");
      cond = and_cond(E, cond, k);
    }
  }
  LLVMBasicBlockRef skip = NULL;
  if (cond) {
    LLVMBasicBlockRef go = em_block(E, "st.lane");
    skip = em_block(E, "st.skip");
    LLVMBuildCondBr(E->b, cond, go, skip);
    LLVMPositionBuilderAtEnd(E->b, go);
  }
  store_lane(E, c, idx, NULL, NULL);
  if (skip) {
    LLVMBuildBr(E->b, skip);
    LLVMPositionBuilderAtEnd(E->b, skip);
  }
  em_par_block_end(E, &l, &vl, vec);
}

/* CPU: loops over each dim's valid range [lo, hi) (no masks), the innermost vectorized; big
 * outputs written once go out through streaming stores (stream_row). */
static void store_loops(LEmit *E, const StoreCtx *c, LLVMValueRef *lo, LLVMValueRef *hi) {
  int rank = c->region.rank;
  LLoop loops[IR_MAX_RANK];
  LLVMValueRef idx[IR_MAX_RANK];
  for (int r = 0; r + 1 < rank; r++) {
    em_loop_begin(E, &loops[r], lo[r], hi[r], NULL, "s");
    idx[r] = loops[r].iv;
  }
  if (rank == 0) {
    store_lane(E, c, idx, NULL, NULL);
  } else if (!stream_eligible(E, c)) {
    em_loop_begin(E, &loops[rank - 1], lo[rank - 1], hi[rank - 1], NULL, "s");
    idx[rank - 1] = loops[rank - 1].iv;
    store_lane(E, c, idx, NULL, NULL);
    em_loop_end(E, &loops[rank - 1], em_inner_md(E));
  } else {
    /* the row's first lane 64-byte aligned: streaming stores, else plain ones */
    idx[rank - 1] = lo[rank - 1];
    LLVMValueRef cond;
    LLVMValueRef off = element_offset(E, c->op, idx, true, &cond);
    LLVMValueRef p0 =
        LLVMBuildGEP2(E->b, em_mem_type(E, c->t->dtype), em_get(E, c->op->args[0])->v, &off, 1, "row");
    LLVMValueRef bits =
        LLVMBuildAnd(E->b, LLVMBuildPtrToInt(E->b, p0, E->i64, ""), em_i64(E, 63), "");
    LLVMValueRef aligned = LLVMBuildICmp(E->b, LLVMIntEQ, bits, em_i64(E, 0), "aligned");
    LLVMBasicBlockRef sb = em_block(E, "st.stream"), pb = em_block(E, "st.plain"),
                      jb = em_block(E, "st.row");
    LLVMBuildCondBr(E->b, aligned, sb, pb);
    LLVMPositionBuilderAtEnd(E->b, sb);
    stream_row(E, c, idx, lo[rank - 1], hi[rank - 1], p0);
    LLVMBuildBr(E->b, jb);
    LLVMPositionBuilderAtEnd(E->b, pb);
    LLoop l;
    em_loop_begin(E, &l, lo[rank - 1], hi[rank - 1], NULL, "s");
    idx[rank - 1] = l.iv;
    store_lane(E, c, idx, NULL, NULL);
    em_loop_end(E, &l, em_inner_md(E));
    LLVMBuildBr(E->b, jb);
    LLVMPositionBuilderAtEnd(E->b, jb);
    E->streamed = true;
  }
  for (int r = rank - 2; r >= 0; r--)
    em_loop_end(E, &loops[r], em_outer_md(E));
}

int em_store(LEmit *E, const IrOp *op) {
  const IrAttrs *a = op->attrs;
  StoreCtx c = {.op = op, .t = val(E, op->args[0]), .atomic = op->kind == IR_OP_ATOMIC_ADD};
  const IrValue *t = c.t;
  if (c.atomic && t->dtype == DT_BOOL)
    return em_fail(E, op, "atomic add into a bool tensor is not supported");
  region_shape(E, op, &c.region);
  int nidx_ops = 0;
  for (int e = 0; e < a->nidx; e++)
    nidx_ops += has_operand(a->idx[e]);
  c.value = op->args[1 + nidx_ops];
  /* the old values of an atomic add, when used */
  IrValueId res = c.atomic ? op->results[0] : IR_NONE;
  if (c.atomic && E->plan->nuses[res] > 0) {
    c.oldbuf = em_buffer(E, t->dtype, &c.region, "old");
    LNest z;
    em_nest_begin(E, &z, &c.region, NULL);
    em_buf_store(E, t->dtype, c.oldbuf, em_buf_index(E, &c.region, z.idx), em_zero(E, t->dtype));
    em_nest_end(E, &z);
  }
  /* scalar entries: one check for the whole store */
  LLVMValueRef guard = NULL;
  {
    int pos = 1, td = 0;
    for (int e = 0; e < a->nidx; e++) {
      IrIndexKind k = a->idx[e];
      IrValueId operand = has_operand(k) ? op->args[pos++] : IR_NONE;
      if (k == IR_IDX_SCALAR) {
        bool check;
        LLVMValueRef ti = entry_index(E, op, e, operand, NULL, tensor_size(t, td), &check);
        if (check) guard = and_cond(E, guard, in_range(E, ti, tensor_size(t, td)));
      }
      if (k != IR_IDX_NEWAXIS) td++;
    }
  }
  LLVMBasicBlockRef skip = NULL;
  if (guard) {
    LLVMBasicBlockRef go = em_block(E, "st.go");
    skip = em_block(E, "st.skip");
    LLVMBuildCondBr(E->b, guard, go, skip);
    LLVMPositionBuilderAtEnd(E->b, go);
  }
  /* the loop nest over the region's valid lanes: bounds first, then the outer loops */
  LLVMValueRef lo[IR_MAX_RANK], hi[IR_MAX_RANK];
  {
    int pos = 1, td = 0, r = 0;
    for (int e = 0; e < a->nidx; e++) {
      IrIndexKind k = a->idx[e];
      IrValueId operand = has_operand(k) ? op->args[pos++] : IR_NONE;
      if (k == IR_IDX_SCALAR) {
        td++;
        continue;
      }
      store_bounds(E, op, e, operand, k == IR_IDX_NEWAXIS ? 1 : tensor_size(t, td), &lo[r], &hi[r]);
      r++;
      if (k != IR_IDX_NEWAXIS) td++;
    }
  }
  if (E->gpu)
    store_par(E, &c, lo, hi);
  else
    store_loops(E, &c, lo, hi);
  if (skip) {
    LLVMBuildBr(E->b, skip);
    LLVMPositionBuilderAtEnd(E->b, skip);
  }
  if (c.oldbuf) {
    LVal lv = {.kind = LV_BUF, .v = c.oldbuf};
    if (E->plan->kind[res] == PLAN_SCALAR)
      lv = (LVal){.kind = LV_SCALAR, .v = em_buf_load(E, t->dtype, c.oldbuf, em_i64(E, 0))};
    em_set(E, res, lv);
  }
  return E->failed ? HL_ERR : HL_OK;
}
