/* Pass "decompose": composite ops into the ops the emitter knows. Part of src/lower.
 *   softmax(x, d) → e = exp(x - amax(x, d, keepdim)); e / sum(e, d, keepdim)
 *   mean(x, d)    → sum(x, d) / count, where count is the dim's length: a constant, a ':' dim's
 *                   extent, or for a tile dim the clipped tile length (tile_end - tile_begin), so
 *                   the last tile of a ragged dim averages only its real elements. */
#include "lower/lower_internal.h"

static int op1(IrBuilder *b, IrOpKind k, IrValueId x, const IrAttrs *a, IrValueId *out, Diag *d) {
  return ir_build_op(b, k, 1, &x, a, out, d);
}

static int op2(IrBuilder *b, IrOpKind k, IrValueId x, IrValueId y, IrValueId *out, Diag *d) {
  IrValueId args[2] = {x, y};
  return ir_build_op(b, k, 2, args, NULL, out, d);
}

static int softmax(LowerRewrite *rw, const IrOp *op, IrValueId x, Diag *d) {
  IrAttrs red = IR_ATTRS_INIT;
  red.dim = op->attrs->dim;
  red.keepdim = true;
  IrValueId mx, sh, e, s, q;
  if (op1(rw->b, IR_OP_AMAX, x, &red, &mx, d) || op2(rw->b, IR_OP_SUB, x, mx, &sh, d) ||
      op1(rw->b, IR_OP_EXP, sh, NULL, &e, d) || op1(rw->b, IR_OP_SUM, e, &red, &s, d) ||
      op2(rw->b, IR_OP_DIV, e, s, &q, d))
    return HL_ERR;
  rw->map[op->results[0]] = q;
  return HL_OK;
}

/* The new IR's value holding the valid length of block dim `slot` here (int64), or IR_NONE. */
static int block_count(LowerRewrite *rw, int slot, IrValueId *out, Diag *d) {
  for (int k = rw->depth - 1; k >= 0; k--) {
    const IrOp *lop = rw->loops[k];
    if (lop->kind != IR_OP_TILE) continue;
    for (int i = 0; i < lop->attrs->ndims; i++) {
      IrDim bd = lop->attrs->block[i];
      if (bd.kind != IR_DIM_BLOCK || bd.v != slot) continue;
      IrValueId t = rw->map[lop->body->args[i]], b, e;
      if (op1(rw->b, IR_OP_TILE_BEGIN, t, NULL, &b, d) ||
          op1(rw->b, IR_OP_TILE_END, t, NULL, &e, d))
        return HL_ERR;
      return op2(rw->b, IR_OP_SUB, e, b, out, d);
    }
  }
  /* a registered block size used outside its loops: the whole block counts */
  for (const IrOp *o = rw->src->body->first; o; o = o->next) {
    if (o->kind == IR_OP_REGISTER_BLOCK_SIZE && o->attrs->slot == slot) {
      *out = rw->map[o->results[0]];
      return HL_OK;
    }
  }
  *out = IR_NONE;
  return HL_OK;
}

static int mean(LowerRewrite *rw, const IrOp *op, IrValueId x, Diag *d) {
  const IrValue *src = ir_value(rw->src, op->args[0]);
  DType dt = src->dtype;
  IrDim dim = src->shape.dims[op->attrs->dim];
  IrValueId count = IR_NONE, s, q;
  if (dim.kind == IR_DIM_BLOCK) {
    IrValueId n;
    if (block_count(rw, (int)dim.v, &n, d)) return HL_ERR;
    if (n != IR_NONE) {
      IrAttrs cast = IR_ATTRS_INIT;
      cast.dtype = dt;
      if (op1(rw->b, IR_OP_CAST, n, &cast, &count, d)) return HL_ERR;
    }
  }
  if (count == IR_NONE) {
    int64_t n = dim.kind == IR_DIM_CONST  ? dim.v
                : dim.kind == IR_DIM_RDIM ? rw->src->rdims[dim.v].extent
                                          : rw->src->slots[dim.v].extent;
    if (ir_build_const_float(rw->b, dt, (double)n, &count, d)) return HL_ERR;
  }
  IrAttrs red = *op->attrs;
  if (op1(rw->b, IR_OP_SUM, x, &red, &s, d) || op2(rw->b, IR_OP_DIV, s, count, &q, d))
    return HL_ERR;
  rw->map[op->results[0]] = q;
  return HL_OK;
}

static int decompose_op(LowerRewrite *rw, const IrOp *op, bool *done, Diag *d) {
  if (op->kind != IR_OP_SOFTMAX && op->kind != IR_OP_MEAN) return HL_OK;
  *done = true;
  IrValueId x = rw->map[op->args[0]];
  return op->kind == IR_OP_SOFTMAX ? softmax(rw, op, x, d) : mean(rw, op, x, d);
}

int lower_pass_decompose(LowerCtx *c, Diag *d) {
  return lower_rewrite(c->input, decompose_op, NULL, &c->ir, d);
}
