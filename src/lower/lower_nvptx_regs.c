/* Register rows on the GPU: a row's values kept in each thread's registers (filled once, read by
 * every consumer in the same layout) and reductions over them. Part of src/lower (emit_llvm).
 *
 * The plan (lower_plan_regs.c) picks the values; the layout is the register form of a
 * distributed block (em_par_block_begin with E->reg_form = V): thread t holds slots t + k * T of
 * V consecutive elements, k < K, as a private array indexed k * V + v. The loops over k and v
 * have constant trip counts and unroll fully, so every index is a constant and LLVM's SROA turns
 * the arrays into registers: the row is loaded once (16-byte loads, all issued before the first
 * use), each exp computed once, and the output written with 16-byte stores.
 *
 * A reduction over a register row: V per-thread partials (independent chains) combined, then a
 * shfl.sync butterfly over the warp, the warps' results exchanged through nwarps slots of shared
 * memory (one barrier) and combined again by every thread: the result is a register value in
 * every thread, no second barrier. */
#include "lower/lower_internal.h"

static const IrValue *val(LEmit *E, IrValueId id) {
  return ir_value(E->f, id);
}

static int64_t row_of(LEmit *E, const IrShape *s) {
  return s->rank > 0 ? em_dim(E, s->dims[s->rank - 1]) : 1;
}

LLVMValueRef em_regs_elem(LEmit *E, IrValueId id, const LVal *v) {
  const IrValue *iv = val(E, id);
  int V = E->plan->regv[id];
  if (!E->reg.on || E->reg.V != V ||
      E->reg.K != lower_regs_slots(row_of(E, &iv->shape), V, E->nthreads)) {
    char n[96];
    em_fail(E, iv->def, "internal: register row %s read outside its layout",
            ir_value_str(E->f, id, n, sizeof n));
    return LLVMGetUndef(em_val_type(E, iv->dtype));
  }
  LLVMTypeRef t = em_val_type(E, iv->dtype);
  LLVMValueRef lin =
      LLVMBuildNSWAdd(E->b, LLVMBuildNSWMul(E->b, E->reg.k, em_i64(E, V), ""), E->reg.v, "");
  LLVMValueRef p = LLVMBuildInBoundsGEP2(E->b, t, v->v, &lin, 1, "");
  return LLVMBuildLoad2(E->b, t, p, "");
}

int em_regs_fill(LEmit *E, const IrOp *op) {
  IrValueId r = op->results[0];
  const IrValue *rv = val(E, r);
  int V = E->plan->regv[r];
  int64_t K = lower_regs_slots(row_of(E, &rv->shape), V, E->nthreads);
  if (E->par != 0) return em_fail(E, op, "internal: a register row made inside a distributed loop");
  LLVMTypeRef t = em_val_type(E, rv->dtype);
  LLVMValueRef arr = em_alloca(E, t, K * V, "row");
  LNest n;
  E->reg_form = V;
  em_nest_begin(E, &n, &rv->shape, NULL);
  LLVMValueRef x = em_eval_op(E, op, n.idx);
  LLVMValueRef lin =
      LLVMBuildNSWAdd(E->b, LLVMBuildNSWMul(E->b, E->reg.k, em_i64(E, V), ""), E->reg.v, "");
  LLVMBuildStore(E->b, x, LLVMBuildInBoundsGEP2(E->b, t, arr, &lin, 1, ""));
  em_nest_end(E, &n);
  em_name(E, arr, E->f, r, ".regs");
  em_set(E, r, (LVal){.kind = LV_REGS, .v = arr});
  return E->failed ? HL_ERR : HL_OK;
}

/* Lanes whose ids differ in the bits below w combine their partials: afterwards each holds the
 * combination of its group of w. */
static LLVMValueRef butterfly(LEmit *E, IrOpKind k, DType adt, int64_t w, LLVMValueRef p) {
  for (int m = (int)w / 2; m >= 1; m /= 2)
    p = em_gpu_combine(E, k, adt, p, em_shfl_xor(E, p, m));
  return p;
}

int em_regs_reduce(LEmit *E, const IrOp *op, SinkPhase ph, SinkState *st) {
  IrOpKind k = op->kind;
  IrValueId src = op->args[0], res = op->results[0];
  const IrValue *sv = val(E, src), *rv = val(E, res);
  DType adt = em_reduce_acc_dtype(k, sv->dtype);
  LLVMTypeRef at = em_val_type(E, adt);
  int V = E->plan->regv[src], dim = op->attrs->dim;
  LLVMBuilderRef b = E->b;
  if (E->par != 0)
    return em_fail(E, op, "internal: a register row reduced inside a distributed loop");
  if (ph == SINK_INIT) {
    /* V partials: the unrolled loop combines V independent chains */
    st->acc = em_alloca(E, at, V, "racc");
    for (int i = 0; i < V; i++)
      LLVMBuildStore(b, em_reduce_identity(E, k, adt),
                     LLVMBuildInBoundsGEP2(b, at, st->acc, (LLVMValueRef[]){em_i64(E, i)}, 1, ""));
    return HL_OK;
  }
  if (ph == SINK_BODY) {
    LNest n;
    E->reg_form = V;
    em_nest_begin(E, &n, &sv->shape, NULL);
    LLVMValueRef x = em_cast(E, sv->dtype, adt, em_eval(E, src, n.idx));
    LLVMValueRef slot = LLVMBuildInBoundsGEP2(b, at, st->acc, &E->reg.v, 1, "");
    LLVMValueRef a = LLVMBuildLoad2(b, at, slot, "");
    LLVMValueRef c = em_gpu_combine(E, k, adt, a, x);
    LLVMValueRef vlen = em_vlen(E, sv->shape.dims[dim]);
    if (!LLVMIsAConstantInt(vlen) || LLVMConstIntGetSExtValue(vlen) < row_of(E, &sv->shape))
      c = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, n.idx[dim], vlen, ""), c, a, "");
    LLVMBuildStore(b, c, slot);
    em_nest_end(E, &n);
    return E->failed ? HL_ERR : HL_OK;
  }
  /* finish: the V partials, the warp, the warps */
  LLVMValueRef p = NULL;
  for (int i = 0; i < V; i++) {
    LLVMValueRef q = LLVMBuildLoad2(
        b, at, LLVMBuildInBoundsGEP2(b, at, st->acc, (LLVMValueRef[]){em_i64(E, i)}, 1, ""), "");
    p = p ? em_gpu_combine(E, k, adt, p, q) : q;
  }
  p = butterfly(E, k, adt, 32, p);
  int64_t nw = E->nthreads / 32;
  if (nw > 1) {
    LLVMValueRef part = em_shared_buffer(E, em_mem_type(E, adt), nw);
    /* fresh slots: no earlier access to wait for (a later program of the same CTA rewrites
     * them only after the barrier ending its iteration: em_loop_end) */
    LLVMValueRef lane = LLVMBuildAnd(b, E->tid, em_i64(E, 31), "lane");
    LLVMBasicBlockRef then = em_block(E, "rw.lead"), join = em_block(E, "rw.join");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, lane, em_i64(E, 0), ""), then, join);
    LLVMPositionBuilderAtEnd(b, then);
    LLVMValueRef warp = LLVMBuildLShr(b, E->tid, em_i64(E, 5), "warp");
    LLVMBuildStore(b, em_val_to_mem(E, adt, p),
                   LLVMBuildInBoundsGEP2(b, em_mem_type(E, adt), part, &warp, 1, ""));
    LLVMBuildBr(b, join);
    LLVMPositionBuilderAtEnd(b, join);
    em_barrier(E);
    /* every group of nw lanes reads all nw slots: each thread ends with the whole result */
    LLVMValueRef s = LLVMBuildAnd(b, lane, em_i64(E, nw - 1), "");
    p = butterfly(E, k, adt, nw, em_buf_load(E, adt, part, s));
  }
  if (E->plan->kind[res] != PLAN_SCALAR)
    return em_fail(E, op, "internal: a register row's reduction is not one element");
  LLVMValueRef out = em_cast(E, adt, rv->dtype, p);
  em_name(E, out, E->f, res, "");
  em_set(E, res, (LVal){.kind = LV_SCALAR, .v = out});
  return E->failed ? HL_ERR : HL_OK;
}
