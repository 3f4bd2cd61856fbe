/* Memory ops: loads evaluated per element (masked: lanes outside the tensor read 0), stores and
 * atomic adds as loop nests over the valid part of their region. Part of src/lower (emit_llvm).
 *
 * A load's lane is checked against the tensor's size only where the check can fail: a tile dim
 * whose loop is statically inside the tensor and divides evenly, a ':' dim read whole, or a
 * scalar index of known range need no compare, which keeps interior loops free of masks.
 * A store runs each tile dim over [0, min(tile end, size) - begin) instead of masking. */
#include <stdint.h>

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
  if (!cond) {
    LLVMValueRef p = LLVMBuildInBoundsGEP2(E->b, mt, base, &off, 1, "");
    return em_mem_to_val(E, t->dtype, LLVMBuildLoad2(E->b, mt, p, ""));
  }
  LLVMBasicBlockRef from = LLVMGetInsertBlock(E->b), ld = em_block(E, "ld"),
                    join = em_block(E, "ld.join");
  LLVMBuildCondBr(E->b, cond, ld, join);
  LLVMPositionBuilderAtEnd(E->b, ld);
  LLVMValueRef p = LLVMBuildGEP2(E->b, mt, base, &off, 1, "");
  LLVMValueRef v = LLVMBuildLoad2(E->b, mt, p, "");
  LLVMBuildBr(E->b, join);
  LLVMPositionBuilderAtEnd(E->b, join);
  LLVMValueRef phi = LLVMBuildPhi(E->b, mt, "");
  LLVMValueRef zero = LLVMConstNull(mt);
  LLVMValueRef vals[2] = {zero, v};
  LLVMBasicBlockRef blocks[2] = {from, ld};
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
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(b), loop = em_block(E, "cas"), done = em_block(E, "cas.done");
  LLVMBuildBr(b, loop);
  LLVMPositionBuilderAtEnd(b, loop);
  LLVMValueRef old = LLVMBuildPhi(b, E->i16, "old");
  LLVMValueRef oldv = dt == DT_FLOAT16 ? LLVMBuildBitCast(b, old, E->f16, "") : old;
  LLVMValueRef sum = em_from_comp(E, dt, LLVMBuildFAdd(b, em_to_comp(E, dt, oldv), addend, ""));
  LLVMValueRef newbits = dt == DT_FLOAT16 ? LLVMBuildBitCast(b, sum, E->i16, "") : sum;
  LLVMValueRef pair = LLVMBuildAtomicCmpXchg(b, p, old, newbits, ord == LLVMAtomicOrderingMonotonic
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
    *hi = t->loop_end <= size ? t->vlen
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

int em_store(LEmit *E, const IrOp *op) {
  const IrAttrs *a = op->attrs;
  const IrValue *t = val(E, op->args[0]);
  bool atomic = op->kind == IR_OP_ATOMIC_ADD;
  if (atomic && t->dtype == DT_BOOL) return em_fail(E, op, "atomic add into a bool tensor is not supported");
  IrShape region;
  region_shape(E, op, &region);
  int nidx_ops = 0;
  for (int e = 0; e < a->nidx; e++)
    nidx_ops += has_operand(a->idx[e]);
  IrValueId value = op->args[1 + nidx_ops];
  /* the old values of an atomic add, when used */
  IrValueId res = atomic ? op->results[0] : IR_NONE;
  bool want_old = atomic && E->plan->nuses[res] > 0;
  LLVMValueRef oldbuf = NULL;
  if (want_old) {
    oldbuf = em_buffer(E, t->dtype, &region, "old");
    LNest z;
    em_nest_begin(E, &z, &region, NULL);
    em_buf_store(E, t->dtype, oldbuf, em_buf_index(E, &region, z.idx), em_zero(E, t->dtype));
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
  /* the loop nest over the region's valid lanes */
  LLoop loops[IR_MAX_RANK];
  LLVMValueRef idx[IR_MAX_RANK];
  {
    int pos = 1, td = 0, r = 0;
    for (int e = 0; e < a->nidx; e++) {
      IrIndexKind k = a->idx[e];
      IrValueId operand = has_operand(k) ? op->args[pos++] : IR_NONE;
      if (k == IR_IDX_SCALAR) {
        td++;
        continue;
      }
      LLVMValueRef lo, hi;
      store_bounds(E, op, e, operand, k == IR_IDX_NEWAXIS ? 1 : tensor_size(t, td), &lo, &hi);
      em_loop_begin(E, &loops[r], lo, hi, NULL, "s");
      idx[r] = loops[r].iv;
      r++;
      if (k != IR_IDX_NEWAXIS) td++;
    }
  }
  LLVMValueRef cond;
  LLVMValueRef off = element_offset(E, op, idx, true, &cond);
  /* tile and slice entries are in range by the loop bounds; what remains is gathers */
  LLVMValueRef m = mask_at(E, op, &region, idx);
  if (m) cond = and_cond(E, cond, m);
  LLVMBasicBlockRef after = NULL;
  if (cond) {
    LLVMBasicBlockRef go = em_block(E, "st.lane");
    after = em_block(E, "st.next");
    LLVMBuildCondBr(E->b, cond, go, after);
    LLVMPositionBuilderAtEnd(E->b, go);
  }
  LLVMValueRef s[IR_MAX_RANK];
  em_bcast_idx(E, &val(E, value)->shape, &region, idx, s);
  LLVMValueRef v = em_eval(E, value, s);
  LLVMTypeRef mt = em_mem_type(E, t->dtype);
  LLVMValueRef p = LLVMBuildGEP2(E->b, mt, em_get(E, op->args[0])->v, &off, 1, "");
  if (atomic) {
    LLVMValueRef old = atomic_add(E, t->dtype, p, v, ordering(a->sem));
    if (want_old) em_buf_store(E, t->dtype, oldbuf, em_buf_index(E, &region, idx), old);
  } else {
    LLVMBuildStore(E->b, em_val_to_mem(E, t->dtype, v), p);
  }
  if (after) {
    LLVMBuildBr(E->b, after);
    LLVMPositionBuilderAtEnd(E->b, after);
  }
  for (int r = region.rank - 1; r >= 0; r--)
    em_loop_end(E, &loops[r], r == region.rank - 1 ? em_inner_md(E) : em_outer_md(E));
  if (skip) {
    LLVMBuildBr(E->b, skip);
    LLVMPositionBuilderAtEnd(E->b, skip);
  }
  if (want_old) {
    LVal lv = {.kind = LV_BUF, .v = oldbuf};
    if (E->plan->kind[res] == PLAN_SCALAR)
      lv = (LVal){.kind = LV_SCALAR, .v = em_buf_load(E, t->dtype, oldbuf, em_i64(E, 0))};
    em_set(E, res, lv);
  }
  return E->failed ? HL_ERR : HL_OK;
}
