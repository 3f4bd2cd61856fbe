/* Element-by-element evaluation of tile values: what makes lazy values fuse into the loop nest
 * of whoever consumes them. Part of src/lower (emit_llvm).
 *
 * em_eval(v, idx) gives v's element at the multi-index idx (one i64 per dim of v's shape, each
 * within the full block): a scalar as is, a buffer's element, or, for a lazy value, its op
 * applied to its operands' elements (broadcast indices, permuted indices for views, ...). */
#include <string.h>

#include "lower/lower_internal.h"

const LVal *em_get(LEmit *E, IrValueId id) {
  LVal *v = &E->vals[id];
  if (v->kind == LV_DEFER && E->sgen[id] == E->gen) return &E->svals[id];
  return v;
}

void em_set(LEmit *E, IrValueId id, LVal v) {
  if (E->plan->rloop[id] >= 0) {
    E->svals[id] = v;
    E->sgen[id] = E->gen;
    return;
  }
  E->vals[id] = v;
}

static const IrValue *val(LEmit *E, IrValueId id) {
  return ir_value(E->f, id);
}

/* ---- loop nests over a shape ----------------------------------------------------------------- */

/* GPU: one flat loop over the full block distributed over the threads (consecutive threads take
 * consecutive elements of the innermost dim, so global accesses coalesce); with bounds, lanes
 * outside them skip the body. */
static void nest_begin_par(LEmit *E, LNest *n, const IrShape *s, LLVMValueRef *hi) {
  n->par = true;
  n->skip = NULL;
  int64_t sizes[IR_MAX_RANK];
  for (int i = 0; i < s->rank; i++)
    sizes[i] = em_dim(E, s->dims[i]);
  em_par_block_begin(E, &n->pl, &n->vl, &n->vec, sizes, s->rank, n->idx);
  LLVMValueRef cond = NULL;
  for (int i = s->rank - 1; i >= 0; i--) {
    n->looped[i] = sizes[i] != 1;
    if (hi && !(LLVMIsAConstantInt(hi[i]) && LLVMConstIntGetSExtValue(hi[i]) >= sizes[i])) {
      LLVMValueRef c = LLVMBuildICmp(E->b, LLVMIntSLT, n->idx[i], hi[i], "");
      cond = cond ? LLVMBuildAnd(E->b, cond, c, "") : c;
    }
  }
  if (cond) {
    LLVMBasicBlockRef go = em_block(E, "lane");
    n->skip = em_block(E, "lane.skip");
    LLVMBuildCondBr(E->b, cond, go, n->skip);
    LLVMPositionBuilderAtEnd(E->b, go);
  }
}

void em_nest_begin(LEmit *E, LNest *n, const IrShape *s, LLVMValueRef *hi) {
  n->rank = s->rank;
  n->par = false;
  if (E->gpu && E->par == 0) {
    nest_begin_par(E, n, s, hi);
    return;
  }
  for (int i = 0; i < s->rank; i++) {
    int64_t size = em_dim(E, s->dims[i]);
    n->looped[i] = hi || size != 1;
    if (!n->looped[i]) {
      n->idx[i] = em_i64(E, 0);
      continue;
    }
    em_loop_begin(E, &n->l[i], em_i64(E, 0), hi ? hi[i] : em_i64(E, size), NULL, "i");
    n->idx[i] = n->l[i].iv;
  }
}

void em_nest_end(LEmit *E, LNest *n) {
  if (n->par) {
    if (n->skip) {
      LLVMBuildBr(E->b, n->skip);
      LLVMPositionBuilderAtEnd(E->b, n->skip);
    }
    em_par_block_end(E, &n->pl, &n->vl, n->vec);
    return;
  }
  bool inner = true;
  for (int i = n->rank - 1; i >= 0; i--) {
    if (!n->looped[i]) continue;
    em_loop_end(E, &n->l[i], inner ? em_inner_md(E) : em_outer_md(E));
    inner = false;
  }
}

/* ---- views ----------------------------------------------------------------------------------- */

static LLVMValueRef eval_view(LEmit *E, const IrOp *op, LLVMValueRef *idx) {
  const IrValue *src = val(E, op->args[0]), *res = val(E, op->results[0]);
  const IrAttrs *a = op->attrs;
  LLVMValueRef s[IR_MAX_RANK];
  int r = src->shape.rank;
  switch (op->kind) {
  case IR_OP_PERMUTE:
    for (int i = 0; i < r; i++)
      s[a->perm[i]] = idx[i];
    break;
  case IR_OP_UNSQUEEZE:
    for (int i = 0, k = 0; i < r + 1; i++)
      if (i != a->dim) s[k++] = idx[i];
    break;
  case IR_OP_SQUEEZE:
    for (int i = 0, k = 0; i < r; i++)
      s[i] = i == a->dim ? em_i64(E, 0) : idx[k++];
    break;
  case IR_OP_EXPAND:
    em_bcast_idx(E, &src->shape, &res->shape, idx, s);
    break;
  default: { /* reshape: the same row-major order over the full blocks */
    LLVMValueRef lin = em_buf_index(E, &res->shape, idx);
    int64_t stride = 1;
    for (int i = r - 1; i >= 0; i--) {
      int64_t n = em_dim(E, src->shape.dims[i]);
      LLVMValueRef q = stride == 1 ? lin : LLVMBuildUDiv(E->b, lin, em_i64(E, stride), "");
      s[i] = n == 1 ? em_i64(E, 0) : LLVMBuildURem(E->b, q, em_i64(E, n), "");
      stride *= n;
    }
  }
  }
  return em_eval(E, op->args[0], s);
}

/* ---- elementwise ----------------------------------------------------------------------------- */

static LLVMValueRef operand(LEmit *E, const IrOp *op, int i, LLVMValueRef *idx) {
  LLVMValueRef s[IR_MAX_RANK];
  em_bcast_idx(E, &val(E, op->args[i])->shape, &val(E, op->results[0])->shape, idx, s);
  return em_eval(E, op->args[i], s);
}

static LLVMValueRef eval_elementwise(LEmit *E, const IrOp *op, LLVMValueRef *idx) {
  IrOpClass cls = ir_op_info(op->kind)->cls;
  DType dt = val(E, op->args[0])->dtype;
  LLVMValueRef x = operand(E, op, 0, idx);
  switch (cls) {
  case IR_CLASS_LOGICAL:
    if (op->kind == IR_OP_NOT) return LLVMBuildNot(E->b, x, "");
    if (op->kind == IR_OP_AND) return LLVMBuildAnd(E->b, x, operand(E, op, 1, idx), "");
    return LLVMBuildOr(E->b, x, operand(E, op, 1, idx), "");
  case IR_CLASS_UNARY:
  case IR_CLASS_UNARY_FLOAT:
    return em_from_comp(E, dt, em_unary(E, op->kind, dt, em_to_comp(E, dt, x)));
  case IR_CLASS_BINARY:
  case IR_CLASS_BINARY_FLOAT: {
    LLVMValueRef y = operand(E, op, 1, idx);
    return em_from_comp(E, dt,
                        em_binary(E, op->kind, dt, em_to_comp(E, dt, x), em_to_comp(E, dt, y)));
  }
  case IR_CLASS_COMPARE: {
    LLVMValueRef y = operand(E, op, 1, idx);
    return em_compare(E, op->kind, dt, em_to_comp(E, dt, x), em_to_comp(E, dt, y));
  }
  case IR_CLASS_WHERE: {
    LLVMValueRef a = operand(E, op, 1, idx), b = operand(E, op, 2, idx);
    return LLVMBuildSelect(E->b, x, a, b, "");
  }
  default: /* cast */
    return em_cast(E, dt, val(E, op->results[0])->dtype, x);
  }
}

static LLVMValueRef eval_op_at(LEmit *E, const IrOp *op, LLVMValueRef *idx);

/* The element of op's result at idx, its instructions carrying op's source line. */
LLVMValueRef em_eval_op(LEmit *E, const IrOp *op, LLVMValueRef *idx) {
  LLVMMetadataRef prev = em_dbg_at(E, op);
  LLVMValueRef v = eval_op_at(E, op, idx);
  em_dbg_restore(E, prev);
  return v;
}

static LLVMValueRef eval_op_at(LEmit *E, const IrOp *op, LLVMValueRef *idx) {
  const IrValue *res = val(E, op->results[0]);
  switch (ir_op_info(op->kind)->cls) {
  case IR_CLASS_FULL:
    return em_const(E, res->dtype, op->attrs->value);
  case IR_CLASS_ARANGE: {
    LLVMValueRef v = LLVMBuildNSWAdd(E->b, idx[0], em_i64(E, op->attrs->start), "");
    return res->dtype == DT_INT64 ? v : LLVMBuildTrunc(E->b, v, em_val_type(E, res->dtype), "");
  }
  case IR_CLASS_TILE_FIELD: /* tile_index */
    return LLVMBuildNSWAdd(E->b, em_get(E, op->args[0])->tile->begin, idx[0], "");
  case IR_CLASS_LOAD:
    return em_eval_load(E, op, idx);
  case IR_CLASS_RESHAPE:
  case IR_CLASS_PERMUTE:
  case IR_CLASS_UNSQUEEZE:
  case IR_CLASS_SQUEEZE:
  case IR_CLASS_EXPAND:
    return eval_view(E, op, idx);
  default:
    return eval_elementwise(E, op, idx);
  }
}

LLVMValueRef em_eval(LEmit *E, IrValueId id, LLVMValueRef *idx) {
  const LVal *v = em_get(E, id);
  const IrValue *iv = val(E, id);
  switch (v->kind) {
  case LV_SCALAR:
    return v->v;
  case LV_BUF:
    return em_buf_load(E, iv->dtype, v->v, em_buf_index(E, &iv->shape, idx));
  case LV_LAZY:
    return em_eval_op(E, v->op, idx);
  case LV_REGS:
    return em_regs_elem(E, id, v);
  default: {
    char n[96];
    em_fail(E, iv->def_kind == IR_DEF_RESULT ? iv->def : NULL,
            "internal: %s is used before the emitter made it", ir_value_str(E->f, id, n, sizeof n));
    return LLVMGetUndef(em_val_type(E, iv->dtype));
  }
  }
}

/* ---- materializing ----------------------------------------------------------------------- */

void em_fill(LEmit *E, LLVMValueRef buf, DType dt, const IrShape *shape, IrValueId src) {
  LNest n;
  E->vec_esize = (int)tensor_dtype_size(dt);
  em_nest_begin(E, &n, shape, NULL);
  LLVMValueRef s[IR_MAX_RANK];
  em_bcast_idx(E, &val(E, src)->shape, shape, n.idx, s);
  LLVMValueRef v = em_eval(E, src, s);
  if (val(E, src)->dtype != dt) v = em_cast(E, val(E, src)->dtype, dt, v);
  em_buf_store(E, dt, buf, em_buf_index(E, shape, n.idx), v);
  em_nest_end(E, &n);
}

LLVMValueRef em_materialize(LEmit *E, IrValueId id) {
  const LVal *v = em_get(E, id);
  if (v->kind == LV_BUF) return v->v;
  const IrValue *iv = val(E, id);
  LLVMValueRef buf = em_buffer(E, iv->dtype, &iv->shape, "tmp");
  em_fill(E, buf, iv->dtype, &iv->shape, id);
  return buf;
}
