/* Reductions on the GPU (sum, amax, amin, argmax, argmin over one dim): threads split the
 * reduced dim, partials in shared memory, a combine per output. Part of src/lower (emit_llvm).
 *
 * Layout: the input viewed as [outer, L, inner] with n = outer * inner outputs; each output gets
 * G threads (a power of two: T / n, at most L rounded up; 1 when n >= T). Thread slot s holds
 * one partial: when the reduced dim is innermost (inner = 1) the G threads of one output are
 * consecutive (s = o * G + g), so they read consecutive elements of a row; otherwise consecutive
 * threads take consecutive outputs (s = g * n + o), which are consecutive in memory. A thread
 * combines elements g, g + G, ... of its output's dim in order (the position order argmax needs);
 * partials live in shared memory across the chunks of a looped reduction; FINISH combines the G
 * partials of each output by warp shuffles when they are consecutive threads (shuffle_finish),
 * else as a tree (log2 G distributed steps); argmax breaks ties by position, so the order does
 * not matter. amax / amin propagate NaN directly (max.NaN / min.NaN), as torch does. */
#include "lower/lower_internal.h"

static const IrValue *val(LEmit *E, IrValueId id) {
  return ir_value(E->f, id);
}

static bool is_arg(IrOpKind k) {
  return k == IR_OP_ARGMAX || k == IR_OP_ARGMIN;
}

typedef struct RLayout {
  int64_t n, G;
  bool gfast; /* the G threads of one output are consecutive */
} RLayout;

static RLayout layout(LEmit *E, const IrOp *op) {
  const IrValue *sv = val(E, op->args[0]), *rv = val(E, op->results[0]);
  int dim = op->attrs->dim;
  RLayout L = {.n = em_numel(E, &rv->shape), .G = 1};
  int64_t len = em_dim(E, sv->shape.dims[dim]), inner = 1;
  for (int i = dim + 1; i < sv->shape.rank; i++)
    inner *= em_dim(E, sv->shape.dims[i]);
  L.gfast = inner == 1;
  if (L.n < E->nthreads) {
    while (L.G * 2 * L.n <= E->nthreads && L.G < len)
      L.G *= 2;
  }
  return L;
}

static LLVMValueRef slot_of(LEmit *E, const RLayout *L, LLVMValueRef o, LLVMValueRef g) {
  if (L->gfast) return LLVMBuildNSWAdd(E->b, LLVMBuildNSWMul(E->b, o, em_i64(E, L->G), ""), g, "");
  return LLVMBuildNSWAdd(E->b, LLVMBuildNSWMul(E->b, g, em_i64(E, L->n), ""), o, "");
}

LLVMValueRef em_gpu_combine(LEmit *E, IrOpKind k, DType dt, LLVMValueRef a, LLVMValueRef v) {
  LLVMBuilderRef b = E->b;
  if (k == IR_OP_SUM) {
    if (!ir_dtype_is_float(dt)) return LLVMBuildAdd(b, a, v, "");
    LLVMValueRef s = LLVMBuildFAdd(b, a, v, "");
    LLVMSetFastMathFlags(s, LLVMFastMathAllowReassoc);
    return s;
  }
  if (!ir_dtype_is_float(dt))
    return em_binary(E, k == IR_OP_AMAX ? IR_OP_MAXIMUM : IR_OP_MINIMUM, dt, a, v);
  /* NaN-propagating: llvm.maximum / minimum, one max.NaN.f32 / min.NaN.f32 on sm_80+ (it also
   * orders -0 below +0, which no comparison can tell apart) */
  LLVMValueRef args[2] = {a, v};
  return em_call_intr(E, k == IR_OP_AMAX ? "llvm.maximum" : "llvm.minimum", LLVMTypeOf(a), args, 2);
}

/* argmax / argmin across partials: the better value, or the earlier position on a tie. */
static LLVMValueRef arg_wins(LEmit *E, IrOpKind k, DType dt, LLVMValueRef v, LLVMValueRef p,
                             LLVMValueRef bv, LLVMValueRef bp) {
  LLVMBuilderRef b = E->b;
  LLVMValueRef win = em_reduce_beats(E, k, dt, v, bv), eq;
  if (ir_dtype_is_float(dt)) {
    LLVMValueRef both_nan = LLVMBuildAnd(b, LLVMBuildFCmp(b, LLVMRealUNO, v, v, ""),
                                         LLVMBuildFCmp(b, LLVMRealUNO, bv, bv, ""), "");
    eq = LLVMBuildOr(b, LLVMBuildFCmp(b, LLVMRealOEQ, v, bv, ""), both_nan, "");
  } else {
    eq = LLVMBuildICmp(b, LLVMIntEQ, v, bv, "");
  }
  LLVMValueRef earlier = LLVMBuildAnd(b, eq, LLVMBuildICmp(b, LLVMIntSLT, p, bp, ""), "");
  return LLVMBuildOr(b, win, earlier, "");
}

static void set_slot(LEmit *E, LLVMValueRef slot, LLVMTypeRef t, LLVMValueRef v) {
  (void)t;
  LLVMBuildStore(E->b, v, slot);
}

/* Elements per vector step of a thread: 16 bytes of the input when the reduced dim is the
 * contiguous innermost one of a plain load (coalesced and alignable), else 1. */
static int64_t vec_elems(LEmit *E, const IrOp *op, const RLayout *L) {
  const IrValue *sv = val(E, op->args[0]);
  if (!L->gfast || op->attrs->dim != sv->shape.rank - 1) return 1;
  int64_t V = 16 / (int64_t)tensor_dtype_size(sv->dtype);
  int64_t len = em_dim(E, sv->shape.dims[op->attrs->dim]);
  while (V > 1 && len < V * L->G)
    V /= 2;
  return V < 1 ? 1 : V;
}

typedef struct RStep {
  const IrOp *op;
  LLVMValueRef acc, best;
  LLVMValueRef *idx;
} RStep;

/* Combines the input's element at position l of the reduced dim into the thread's partial. */
static void reduce_step(LEmit *E, const RStep *rs, LLVMValueRef l) {
  LLVMBuilderRef b = E->b;
  const IrOp *op = rs->op;
  IrOpKind k = op->kind;
  const IrValue *sv = val(E, op->args[0]);
  int dim = op->attrs->dim;
  DType adt = em_reduce_acc_dtype(k, sv->dtype), pdt = is_arg(k) ? DT_INT64 : adt;
  LLVMTypeRef at = em_val_type(E, adt), pt = em_val_type(E, pdt);
  rs->idx[dim] = l;
  LLVMValueRef v = em_cast(E, sv->dtype, adt, em_eval(E, op->args[0], rs->idx));
  if (!is_arg(k)) {
    set_slot(E, rs->acc, pt, em_gpu_combine(E, k, adt, LLVMBuildLoad2(b, pt, rs->acc, ""), v));
    return;
  }
  LLVMValueRef pos = l;
  IrDim rd = sv->shape.dims[dim];
  if (rd.kind == IR_DIM_RDIM && E->in_chunk[rd.v]) pos = LLVMBuildNSWAdd(b, pos, E->roff[rd.v], "");
  LLVMValueRef bv = LLVMBuildLoad2(b, at, rs->best, "");
  LLVMValueRef win = em_reduce_beats(E, k, adt, v, bv);
  set_slot(E, rs->best, at, LLVMBuildSelect(b, win, v, bv, ""));
  set_slot(E, rs->acc, pt, LLVMBuildSelect(b, win, pos, LLVMBuildLoad2(b, pt, rs->acc, ""), ""));
}

/* ---- the combine by warp shuffles ------------------------------------------------------------ */

/* v from the lane whose id is this lane's xor m (shfl.sync.bfly over the full warp). Values of
 * up to 32 bits travel in one shuffle, 64-bit ones in two. */
LLVMValueRef em_shfl_xor(LEmit *E, LLVMValueRef v, int m) {
  LLVMBuilderRef b = E->b;
  LLVMTypeRef t = LLVMTypeOf(v);
  LLVMTypeKind tk = LLVMGetTypeKind(t);
  unsigned bits = tk == LLVMIntegerTypeKind ? LLVMGetIntTypeWidth(t)
                  : tk == LLVMDoubleTypeKind ? 64
                  : tk == LLVMFloatTypeKind  ? 32
                                             : 16;
  LLVMTypeRef it = LLVMIntTypeInContext(E->ctx, bits);
  LLVMValueRef x = tk == LLVMIntegerTypeKind ? v : LLVMBuildBitCast(b, v, it, "");
  int nparts = bits > 32 ? 2 : 1;
  LLVMValueRef out = NULL;
  for (int i = 0; i < nparts; i++) {
    LLVMValueRef part = x;
    if (nparts == 2) {
      part = LLVMBuildLShr(b, x, LLVMConstInt(it, 32u * (unsigned)i, false), "");
      part = LLVMBuildTrunc(b, part, E->i32, "");
    } else if (bits < 32) {
      part = LLVMBuildZExt(b, x, E->i32, "");
    }
    LLVMValueRef args[4] = {LLVMConstInt(E->i32, 0xffffffffu, false), part,
                            LLVMConstInt(E->i32, (unsigned)m, false),
                            LLVMConstInt(E->i32, 0x1f, false)};
    LLVMValueRef r = em_call_intr(E, "llvm.nvvm.shfl.sync.bfly.i32", NULL, args, 4);
    if (nparts == 2) {
      r = LLVMBuildShl(b, LLVMBuildZExt(b, r, it, ""), LLVMConstInt(it, 32u * (unsigned)i, false),
                       "");
      out = out ? LLVMBuildOr(b, out, r, "") : r;
    } else {
      out = bits < 32 ? LLVMBuildTrunc(b, r, it, "") : r;
    }
  }
  return tk == LLVMIntegerTypeKind ? out : LLVMBuildBitCast(b, out, t, "");
}

/* Combines each lane's partial (*p, and *bv for argmax / argmin) with those of the lanes whose
 * ids differ in the bits below w (a power of two <= 32): log2 w butterfly steps, after which
 * every lane of the group holds the group's combination. */
static void shfl_combine(LEmit *E, IrOpKind k, DType adt, int64_t w, LLVMValueRef *p,
                         LLVMValueRef *bv) {
  for (int m = (int)w / 2; m >= 1; m /= 2) {
    LLVMValueRef q = em_shfl_xor(E, *p, m);
    if (!is_arg(k)) {
      *p = em_gpu_combine(E, k, adt, *p, q);
      continue;
    }
    LLVMValueRef qv = em_shfl_xor(E, *bv, m);
    LLVMValueRef win = arg_wins(E, k, adt, qv, q, *bv, *p);
    *bv = LLVMBuildSelect(E->b, win, qv, *bv, "");
    *p = LLVMBuildSelect(E->b, win, q, *p, "");
  }
}

/* Lane s (s < nslots) reads partial slot s (slot `stride` * s when stride > 1); lanes past the
 * slots read slot 0, a value no lane of a real output ever combines with theirs. */
static void shfl_load(LEmit *E, const IrOp *op, SinkState *st, int64_t nslots, int64_t stride,
                      LLVMValueRef *p, LLVMValueRef *bv) {
  LLVMBuilderRef b = E->b;
  DType adt = em_reduce_acc_dtype(op->kind, val(E, op->args[0])->dtype);
  DType pdt = is_arg(op->kind) ? DT_INT64 : adt;
  LLVMValueRef in = LLVMBuildICmp(b, LLVMIntSLT, E->tid, em_i64(E, nslots), "");
  LLVMValueRef s = LLVMBuildSelect(b, in, E->tid, em_i64(E, 0), "");
  if (stride > 1) s = LLVMBuildNSWMul(b, s, em_i64(E, stride), "");
  *p = em_buf_load(E, pdt, st->acc, s);
  *bv = is_arg(op->kind) ? em_buf_load(E, adt, st->best, s) : NULL;
}

/* if (tid < n * per && tid % per == 0): the block where that lane stores, and where all meet */
static LLVMBasicBlockRef lead_lane(LEmit *E, int64_t n, int64_t per, LLVMBasicBlockRef *join) {
  LLVMBuilderRef b = E->b;
  LLVMValueRef in = LLVMBuildICmp(b, LLVMIntSLT, E->tid, em_i64(E, n * per), "");
  LLVMValueRef first = LLVMBuildICmp(
      b, LLVMIntEQ, LLVMBuildURem(b, E->tid, em_i64(E, per), ""), em_i64(E, 0), "");
  LLVMBasicBlockRef then = em_block(E, "rlead");
  *join = em_block(E, "rjoin");
  LLVMBuildCondBr(b, LLVMBuildAnd(b, in, first, ""), then, *join);
  LLVMPositionBuilderAtEnd(b, then);
  return then;
}

/* The reduction's result res, written to its shared buffer out: held as that buffer, or as one
 * loaded element when the plan makes it a scalar. */
static int publish(LEmit *E, IrValueId res, DType dt, LLVMValueRef out) {
  LVal lv = {.kind = LV_BUF, .v = out};
  if (E->plan->kind[res] == PLAN_SCALAR)
    lv = (LVal){.kind = LV_SCALAR, .v = em_buf_load(E, dt, out, em_i64(E, 0))};
  em_name(E, lv.v, E->f, res, "");
  em_set(E, res, lv);
  return E->failed ? HL_ERR : HL_OK;
}

/* FINISH with the G threads of an output consecutive (gfast) and every slot held by its own
 * thread (n * G <= T): one warp-shuffle butterfly over the min(G, 32) lanes of a warp; when an
 * output spans several warps, each warp's first lane parks its combination in its own slot and,
 * after one barrier, the first G / 32 threads of each output combine those by shuffles again
 * (G <= 1024, so they fit one warp). Straight-line code run by every thread of the CTA, so the
 * full-warp mask is right; 1 or 2 barriers where the tree took log2 G + 1. */
static int shuffle_finish(LEmit *E, const IrOp *op, SinkState *st, const RLayout *L) {
  IrOpKind k = op->kind;
  IrValueId res = op->results[0];
  const IrValue *sv = val(E, op->args[0]), *rv = val(E, res);
  DType adt = em_reduce_acc_dtype(k, sv->dtype), pdt = is_arg(k) ? DT_INT64 : adt;
  LLVMBuilderRef b = E->b;
  int64_t w = L->G < 32 ? L->G : 32, nslots = L->n * L->G;
  if (E->sread) em_barrier(E);
  LLVMValueRef p, bv, out = em_buffer(E, rv->dtype, &rv->shape, "red");
  shfl_load(E, op, st, nslots, 1, &p, &bv);
  shfl_combine(E, k, adt, w, &p, &bv);
  LLVMBasicBlockRef join;
  if (L->G > 32) {
    /* the warp's first lane writes the slot it read itself: no other thread reads it yet */
    lead_lane(E, nslots / 32, 32, &join);
    em_buf_store(E, pdt, st->acc, E->tid, p);
    if (bv) em_buf_store(E, adt, st->best, E->tid, bv);
    LLVMBuildBr(b, join);
    LLVMPositionBuilderAtEnd(b, join);
    em_barrier(E);
    w = L->G / 32;
    shfl_load(E, op, st, L->n * w, 32, &p, &bv);
    shfl_combine(E, k, adt, w, &p, &bv);
  }
  lead_lane(E, L->n, w, &join);
  LLVMValueRef o = LLVMBuildUDiv(b, E->tid, em_i64(E, w), "o");
  em_buf_store(E, rv->dtype, out, o, em_cast(E, pdt, rv->dtype, p));
  LLVMBuildBr(b, join);
  LLVMPositionBuilderAtEnd(b, join);
  em_barrier(E);
  return publish(E, res, rv->dtype, out);
}

int em_gpu_reduce(LEmit *E, const IrOp *op, SinkPhase ph, SinkState *st) {
  if (E->plan->regv[op->args[0]] > 0) return em_regs_reduce(E, op, ph, st); /* a register row */
  IrOpKind k = op->kind;
  IrValueId src = op->args[0], res = op->results[0];
  const IrValue *sv = val(E, src), *rv = val(E, res);
  DType adt = em_reduce_acc_dtype(k, sv->dtype);
  DType pdt = is_arg(k) ? DT_INT64 : adt; /* what st->acc holds */
  LLVMTypeRef at = em_val_type(E, adt), pt = em_val_type(E, pdt);
  RLayout L = layout(E, op);
  int64_t nslots = L.n * L.G;
  LLVMBuilderRef b = E->b;
  if (ph == SINK_INIT) {
    st->groups = L.G;
    st->acc = em_shared_buffer(E, em_mem_type(E, pdt), nslots);
    st->best = is_arg(k) ? em_shared_buffer(E, em_mem_type(E, adt), nslots) : NULL;
    LLoop l;
    em_par_begin(E, &l, em_i64(E, nslots), "rinit");
    em_buf_store(E, pdt, st->acc, l.iv, is_arg(k) ? em_i64(E, 0) : em_reduce_identity(E, k, adt));
    if (is_arg(k)) em_buf_store(E, adt, st->best, l.iv, em_reduce_identity(E, k, adt));
    em_par_end(E, &l, NULL);
    return E->failed ? HL_ERR : HL_OK;
  }
  int dim = op->attrs->dim, rank = sv->shape.rank;
  if (ph == SINK_BODY) {
    LLoop l;
    em_par_begin(E, &l, em_i64(E, nslots), "rslot");
    LLVMValueRef o, g;
    if (L.gfast) {
      g = LLVMBuildURem(b, l.iv, em_i64(E, L.G), "g");
      o = LLVMBuildUDiv(b, l.iv, em_i64(E, L.G), "o");
    } else {
      o = LLVMBuildURem(b, l.iv, em_i64(E, L.n), "o");
      g = LLVMBuildUDiv(b, l.iv, em_i64(E, L.n), "g");
    }
    LLVMValueRef idx[IR_MAX_RANK], rest = o;
    for (int i = rank - 1; i >= 0; i--) {
      if (i == dim) continue;
      int64_t size = em_dim(E, sv->shape.dims[i]);
      idx[i] = size == 1 ? em_i64(E, 0) : LLVMBuildURem(b, rest, em_i64(E, size), "");
      if (size != 1) rest = LLVMBuildUDiv(b, rest, em_i64(E, size), "");
    }
    LLVMValueRef acc = em_alloca(E, pt, 1, "racc"), best = NULL;
    set_slot(E, acc, pt, em_buf_load(E, pdt, st->acc, l.iv));
    if (is_arg(k)) {
      best = em_alloca(E, at, 1, "rbest");
      set_slot(E, best, at, em_buf_load(E, adt, st->best, l.iv));
    }
    LLVMValueRef vlen = em_vlen(E, sv->shape.dims[dim]);
    RStep rs = {.op = op, .acc = acc, .best = best, .idx = idx};
    int64_t V = vec_elems(E, op, &L);
    LLVMValueRef scalar_from = g;
    if (V > 1) {
      /* slots of V consecutive elements (one vector load each), then the remainder below */
      LLoop r, vv;
      LLVMValueRef gv = LLVMBuildNSWMul(b, g, em_i64(E, V), "");
      LLVMValueRef stop = LLVMBuildNSWSub(b, vlen, em_i64(E, V - 1), "");
      em_loop_begin(E, &r, gv, stop, em_i64(E, L.G * V), "rv");
      em_loop_begin(E, &vv, em_i64(E, 0), em_i64(E, V), NULL, "v");
      reduce_step(E, &rs, LLVMBuildNSWAdd(b, r.iv, vv.iv, ""));
      em_loop_end(E, &vv, em_loop_md(E, 0, (int)V));
      em_loop_end(E, &r, em_loop_md(E, 0, 2));
      LLVMValueRef whole = LLVMBuildMul(b, LLVMBuildSDiv(b, vlen, em_i64(E, V), ""),
                                        em_i64(E, V), "");
      scalar_from = LLVMBuildNSWAdd(b, whole, g, "");
    }
    LLoop r;
    em_loop_begin(E, &r, scalar_from, vlen, em_i64(E, L.G), "r");
    reduce_step(E, &rs, r.iv);
    em_loop_end(E, &r, V > 1 ? NULL : em_loop_md(E, 0, 8)); /* 8 loads in flight per thread */
    em_buf_store(E, pdt, st->acc, l.iv, LLVMBuildLoad2(b, pt, acc, ""));
    if (best) em_buf_store(E, adt, st->best, l.iv, LLVMBuildLoad2(b, at, best, ""));
    em_par_end(E, &l, NULL);
    return E->failed ? HL_ERR : HL_OK;
  }
  if (L.gfast && L.G > 1 && E->par == 0) return shuffle_finish(E, op, st, &L);
  /* finish: a tree over each output's G partials (log2 G steps, each a distributed loop and a
   * barrier), then the result buffer */
  for (int64_t stride = L.G / 2; stride >= 1; stride /= 2) {
    LLoop t;
    em_par_begin(E, &t, em_i64(E, L.n * stride), "rtree");
    LLVMValueRef o, g;
    if (L.gfast) {
      g = LLVMBuildURem(b, t.iv, em_i64(E, stride), "g");
      o = LLVMBuildUDiv(b, t.iv, em_i64(E, stride), "o");
    } else {
      o = LLVMBuildURem(b, t.iv, em_i64(E, L.n), "o");
      g = LLVMBuildUDiv(b, t.iv, em_i64(E, L.n), "g");
    }
    LLVMValueRef sa = slot_of(E, &L, o, g);
    LLVMValueRef sb = slot_of(E, &L, o, LLVMBuildNSWAdd(b, g, em_i64(E, stride), ""));
    LLVMValueRef pa = em_buf_load(E, pdt, st->acc, sa), pb = em_buf_load(E, pdt, st->acc, sb);
    if (!is_arg(k)) {
      em_buf_store(E, pdt, st->acc, sa, em_gpu_combine(E, k, adt, pa, pb));
    } else {
      LLVMValueRef va = em_buf_load(E, adt, st->best, sa), vb = em_buf_load(E, adt, st->best, sb);
      LLVMValueRef win = arg_wins(E, k, adt, vb, pb, va, pa);
      em_buf_store(E, adt, st->best, sa, LLVMBuildSelect(b, win, vb, va, ""));
      em_buf_store(E, pdt, st->acc, sa, LLVMBuildSelect(b, win, pb, pa, ""));
    }
    em_par_end(E, &t, NULL);
  }
  LLVMValueRef out = em_buffer(E, rv->dtype, &rv->shape, "red");
  LLoop l;
  em_par_begin(E, &l, em_i64(E, L.n), "rout");
  LLVMValueRef s0 = slot_of(E, &L, l.iv, em_i64(E, 0));
  em_buf_store(E, rv->dtype, out, l.iv, em_cast(E, pdt, rv->dtype, em_buf_load(E, pdt, st->acc, s0)));
  em_par_end(E, &l, NULL);
  return publish(E, res, rv->dtype, out);
}
