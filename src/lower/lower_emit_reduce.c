/* Reductions (sum, amax, amin, argmax, argmin) as loop nests over their input, combining into an
 * accumulator laid out like the result. Part of src/lower (emit_llvm).
 *
 * Only the valid lanes of the reduced dim count (the clipped tile, the ':' dim's extent or the
 * current chunk), so a ragged last tile reduces exactly. Float sums accumulate in float32 (or
 * float64) with reassociation allowed, so the vectorizer keeps partial sums in SIMD lanes;
 * float amax/amin use the machine's max/min (several accumulators, one instruction each) and a
 * separate "saw a NaN" flag that turns the result into NaN at the end, so NaN propagates as in
 * torch; argmax/argmin keep the first position and treat NaN as the extreme, as torch does.
 * A chunked reduction runs INIT once, BODY per chunk, FINISH once. */
#include "lower/lower_internal.h"

static const IrValue *val(LEmit *E, IrValueId id) {
  return ir_value(E->f, id);
}

static bool is_arg(IrOpKind k) {
  return k == IR_OP_ARGMAX || k == IR_OP_ARGMIN;
}

/* The identity of the combine, in the accumulator's (compute) dtype. */
LLVMValueRef em_reduce_identity(LEmit *E, IrOpKind k, DType dt) {
  LLVMTypeRef t = em_val_type(E, dt);
  bool mx = k == IR_OP_AMAX || k == IR_OP_ARGMAX;
  if (k == IR_OP_SUM) return em_zero(E, dt);
  if (ir_dtype_is_float(dt)) return LLVMConstReal(t, mx ? -__builtin_inf() : __builtin_inf());
  unsigned bits = LLVMGetIntTypeWidth(t);
  bool u = dt == DT_UINT8 || dt == DT_BOOL;
  if (u) return mx ? LLVMConstInt(t, 0, false) : LLVMConstAllOnes(t);
  unsigned long long smin = 1ull << (bits - 1);
  return mx ? LLVMConstInt(t, smin, false) : LLVMConstInt(t, smin - 1, false);
}

static bool nan_flag(IrOpKind k, DType adt) {
  return (k == IR_OP_AMAX || k == IR_OP_AMIN) && ir_dtype_is_float(adt);
}

static LLVMValueRef combine(LEmit *E, IrOpKind k, DType dt, LLVMValueRef a, LLVMValueRef v) {
  if (k == IR_OP_SUM) {
    if (!ir_dtype_is_float(dt)) return LLVMBuildAdd(E->b, a, v, "");
    LLVMValueRef s = LLVMBuildFAdd(E->b, a, v, "");
    LLVMSetFastMathFlags(s, LLVMFastMathAllowReassoc);
    return s;
  }
  if (!ir_dtype_is_float(dt))
    return em_binary(E, k == IR_OP_AMAX ? IR_OP_MAXIMUM : IR_OP_MINIMUM, dt, a, v);
  /* no NaN reaches here as far as the result goes: the flag overrides it (see nan_flag) */
  LLVMValueRef args[2] = {a, v};
  LLVMValueRef m =
      em_call_intr(E, k == IR_OP_AMAX ? "llvm.maxnum" : "llvm.minnum", LLVMTypeOf(a), args, 2);
  LLVMSetFastMathFlags(m, LLVMFastMathNoNaNs | LLVMFastMathNoSignedZeros);
  return m;
}

/* argmax: v beats best when greater, or NaN over a number (first wins ties). */
LLVMValueRef em_reduce_beats(LEmit *E, IrOpKind k, DType dt, LLVMValueRef v, LLVMValueRef best) {
  LLVMValueRef c = em_compare(E, k == IR_OP_ARGMAX ? IR_OP_GT : IR_OP_LT, dt, v, best);
  if (!ir_dtype_is_float(dt)) return c;
  LLVMValueRef vnan = LLVMBuildFCmp(E->b, LLVMRealUNO, v, v, "");
  LLVMValueRef bnum = LLVMBuildFCmp(E->b, LLVMRealORD, best, best, "");
  return LLVMBuildOr(E->b, c, LLVMBuildAnd(E->b, vnan, bnum, ""), "");
}

DType em_reduce_acc_dtype(IrOpKind k, DType src) {
  if (k == IR_OP_SUM && !ir_dtype_is_float(src)) return src;
  return em_comp_dtype(src);
}

/* Result indices (keepdim: 0 at dim; else dim dropped) from the input's. */
static void result_idx(const IrOp *op, int rank, LLVMValueRef *idx, LLVMValueRef zero,
                       LLVMValueRef *out) {
  int dim = op->attrs->dim;
  for (int i = 0, k = 0; i < rank; i++) {
    if (i != dim)
      out[k++] = idx[i];
    else if (op->attrs->keepdim)
      out[k++] = zero;
  }
}

static void fill_const(LEmit *E, LLVMValueRef buf, DType dt, int64_t n, LLVMValueRef c) {
  if (n == 1) {
    em_buf_store(E, dt, buf, em_i64(E, 0), c);
    return;
  }
  LLoop l;
  em_loop_begin(E, &l, em_i64(E, 0), em_i64(E, n), NULL, "init");
  em_buf_store(E, dt, buf, l.iv, c);
  em_loop_end(E, &l, NULL);
}

/* Combines the input's element at idx into the accumulator. With `full` the loops run over the
 * whole block (a reduction fused into the loop that fills its input): lanes past the valid
 * length of the reduced dim are masked out here. */
void em_reduce_element(LEmit *E, const IrOp *op, SinkState *st, LLVMValueRef *idx, bool full) {
  IrOpKind k = op->kind;
  IrValueId src = op->args[0];
  const IrValue *sv = val(E, src), *rv = val(E, op->results[0]);
  DType adt = em_reduce_acc_dtype(k, sv->dtype);
  int dim = op->attrs->dim, r = sv->shape.rank;
  LLVMValueRef ridx[IR_MAX_RANK];
  result_idx(op, r, idx, em_i64(E, 0), ridx);
  LLVMValueRef key = em_buf_index(E, &rv->shape, ridx);
  LLVMValueRef v = em_cast(E, sv->dtype, adt, em_eval(E, src, idx));
  LLVMValueRef valid = NULL;
  if (full) {
    LLVMValueRef vl = em_vlen(E, sv->shape.dims[dim]);
    if (!LLVMIsAConstantInt(vl) || LLVMConstIntGetSExtValue(vl) < em_dim(E, sv->shape.dims[dim]))
      valid = LLVMBuildICmp(E->b, LLVMIntSLT, idx[dim], vl, "");
  }
  if (!is_arg(k)) {
    LLVMValueRef a = em_buf_load(E, adt, st->acc, key);
    LLVMValueRef c = combine(E, k, adt, a, v);
    if (valid) c = LLVMBuildSelect(E->b, valid, c, a, "");
    em_buf_store(E, adt, st->acc, key, c);
    if (nan_flag(k, adt)) {
      LLVMValueRef isnan = LLVMBuildFCmp(E->b, LLVMRealUNO, v, v, "");
      if (valid) isnan = LLVMBuildAnd(E->b, isnan, valid, "");
      LLVMValueRef f = em_buf_load(E, DT_INT8, st->best, key);
      em_buf_store(E, DT_INT8, st->best, key,
                   LLVMBuildOr(E->b, f, LLVMBuildZExt(E->b, isnan, E->i8, ""), ""));
    }
  } else {
    LLVMValueRef best = em_buf_load(E, adt, st->best, key);
    LLVMValueRef pos = idx[dim];
    IrDim rd = sv->shape.dims[dim];
    if (rd.kind == IR_DIM_RDIM && E->in_chunk[rd.v])
      pos = LLVMBuildNSWAdd(E->b, pos, E->roff[rd.v], "");
    LLVMValueRef win = em_reduce_beats(E, k, adt, v, best);
    if (valid) win = LLVMBuildAnd(E->b, win, valid, "");
    em_buf_store(E, adt, st->best, key, LLVMBuildSelect(E->b, win, v, best, ""));
    LLVMValueRef old = em_buf_load(E, DT_INT64, st->acc, key);
    em_buf_store(E, DT_INT64, st->acc, key, LLVMBuildSelect(E->b, win, pos, old, ""));
  }
}

int em_reduce(LEmit *E, const IrOp *op, SinkPhase ph, SinkState *st) {
  if (E->gpu) return em_gpu_reduce(E, op, ph, st); /* threads split the reduced dim */
  IrOpKind k = op->kind;
  IrValueId src = op->args[0], res = op->results[0];
  const IrValue *sv = val(E, src), *rv = val(E, res);
  DType adt = em_reduce_acc_dtype(k, sv->dtype);
  int64_t n = em_numel(E, &rv->shape);
  if (ph == SINK_INIT) {
    /* argmax's positions are the result itself (int64); sums of float32 / float64 and every
     * amax / amin of those accumulate in the result buffer too */
    bool direct = is_arg(k) ? true : adt == rv->dtype;
    bool buffer = E->plan->kind[res] == PLAN_BUFFER;
    st->acc_is_result = direct && buffer;
    st->acc = em_alloca(E, em_mem_type(E, is_arg(k) ? DT_INT64 : adt), n, "acc");
    fill_const(E, st->acc, is_arg(k) ? DT_INT64 : adt, n,
               is_arg(k) ? em_i64(E, 0) : em_reduce_identity(E, k, adt));
    if (is_arg(k)) {
      st->best = em_alloca(E, em_mem_type(E, adt), n, "best");
      fill_const(E, st->best, adt, n, em_reduce_identity(E, k, adt));
    }
    if (nan_flag(k, adt)) {
      st->best = em_alloca(E, E->i8, n, "sawnan");
      fill_const(E, st->best, DT_INT8, n, LLVMConstInt(E->i8, 0, false));
    }
    return HL_OK;
  }
  if (ph == SINK_BODY) {
    int dim = op->attrs->dim, r = sv->shape.rank;
    LLVMValueRef hi[IR_MAX_RANK];
    for (int i = 0; i < r; i++)
      hi[i] = i == dim ? em_vlen(E, sv->shape.dims[i]) : em_i64(E, em_dim(E, sv->shape.dims[i]));
    LNest nest;
    em_nest_begin(E, &nest, &sv->shape, hi);
    em_reduce_element(E, op, st, nest.idx, false);
    em_nest_end(E, &nest);
    return E->failed ? HL_ERR : HL_OK;
  }
  /* finish: the accumulator becomes the result */
  DType from = is_arg(k) ? DT_INT64 : adt;
  if (nan_flag(k, adt)) { /* NaN where a NaN was seen */
    LLoop l;
    LLVMValueRef i = em_i64(E, 0);
    if (n > 1) {
      em_loop_begin(E, &l, em_i64(E, 0), em_i64(E, n), NULL, "nan");
      i = l.iv;
    }
    LLVMValueRef saw = LLVMBuildICmp(E->b, LLVMIntNE, em_buf_load(E, DT_INT8, st->best, i),
                                     LLVMConstInt(E->i8, 0, false), "");
    LLVMValueRef a = em_buf_load(E, adt, st->acc, i);
    em_buf_store(
        E, adt, st->acc, i,
        LLVMBuildSelect(E->b, saw, LLVMConstReal(LLVMTypeOf(a), __builtin_nan("")), a, ""));
    if (n > 1) em_loop_end(E, &l, NULL);
  }
  LVal out;
  if (E->plan->kind[res] == PLAN_SCALAR) {
    LLVMValueRef v = em_buf_load(E, from, st->acc, em_i64(E, 0));
    out = (LVal){.kind = LV_SCALAR, .v = em_cast(E, from, rv->dtype, v)};
  } else if (st->acc_is_result) {
    out = (LVal){.kind = LV_BUF, .v = st->acc};
  } else {
    LLVMValueRef buf = em_buffer(E, rv->dtype, &rv->shape, "red");
    LLoop l;
    em_loop_begin(E, &l, em_i64(E, 0), em_i64(E, n), NULL, "cvt");
    LLVMValueRef v = em_buf_load(E, from, st->acc, l.iv);
    em_buf_store(E, rv->dtype, buf, l.iv, em_cast(E, from, rv->dtype, v));
    em_loop_end(E, &l, em_inner_md(E));
    out = (LVal){.kind = LV_BUF, .v = buf};
  }
  em_name(E, out.v, E->f, res, "");
  em_set(E, res, out);
  return HL_OK;
}
