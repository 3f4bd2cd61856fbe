/* IR rewriting for the lowering passes: rebuilds a function op by op through the IR builder,
 * letting a pass replace ops as they go. Part of src/lower.
 *
 * Rebuilding (rather than editing in place) means a pass's output is typed and verified by the
 * builder's own rules, and the block-size slots, reduction dims and tunables come out in the
 * same order as the source's, so the Config's lists still line up. */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "lower/lower_internal.h"

static int copy_region(LowerRewrite *rw, const IrRegion *r, Diag *d);

static IrValueId map(LowerRewrite *rw, IrValueId v) {
  return v >= 0 && v < rw->src->nvalues ? rw->map[v] : IR_NONE;
}

/* "acc.2" was made unique from "acc": the name to give the builder again. */
static const char *base_name(const char *name, char *buf, size_t cap) {
  if (!name) return NULL;
  snprintf(buf, cap, "%s", name);
  char *dot = strchr(buf, '.');
  if (dot) *dot = '\0';
  return buf;
}

static int name_like(LowerRewrite *rw, IrValueId old, IrValueId nw, Diag *d) {
  const IrValue *v = ir_value(rw->src, old);
  char buf[100];
  if (!v || !v->name || nw == IR_NONE) return HL_OK;
  return ir_build_name(rw->b, nw, base_name(v->name, buf, sizeof buf), d);
}

static void set_loc(LowerRewrite *rw, IrLoc loc) {
  ir_build_loc(rw->b, loc.file, loc.line);
}

static int copy_args(LowerRewrite *rw, Diag *d) {
  const IrFunc *f = rw->src;
  for (int i = 0; i < f->nfiles; i++) {
    int file;
    if (ir_build_file(rw->b, f->files[i], &file, d)) return HL_ERR;
  }
  for (int i = 0; i < f->nargs; i++) {
    const IrValue *v = ir_value(f, f->args[i]);
    IrValueId nv;
    char buf[100];
    const char *name = base_name(v->name, buf, sizeof buf);
    set_loc(rw, v->loc);
    if (v->kind == IR_VAL_TENSOR) {
      int64_t sizes[IR_MAX_RANK];
      for (int k = 0; k < v->shape.rank; k++)
        sizes[k] = v->shape.dims[k].v;
      if (ir_build_arg_tensor(rw->b, name, v->dtype, v->shape.rank, sizes, v->strides, &nv, d))
        return HL_ERR;
    } else if (ir_build_arg_scalar(rw->b, name, v->dtype, &nv, d)) {
      return HL_ERR;
    }
    rw->map[f->args[i]] = nv;
  }
  return HL_OK;
}

static int copy_loop(LowerRewrite *rw, const IrOp *op, Diag *d) {
  const IrAttrs *a = op->attrs;
  int ndims = a->ndims, per = op->kind == IR_OP_FOR ? 3 : 2;
  int ncar = op->nargs - per * ndims;
  IrLoopDim dims[IR_MAX_RANK];
  for (int i = 0; i < ndims; i++) {
    IrLoopDim ld = IR_LOOP_DIM_INIT;
    ld.begin = map(rw, op->args[per * i]);
    ld.end = map(rw, op->args[per * i + 1]);
    if (per == 3) ld.step = map(rw, op->args[per * i + 2]);
    if (op->kind == IR_OP_TILE) {
      IrDim bd = a->block[i];
      if (bd.kind == IR_DIM_CONST)
        ld.block_size = bd.v;
      else if (rw->src->slots[bd.v].kind == IR_SLOT_REGISTERED)
        ld.slot = (int)bd.v;
      else
        ld.size_hint = rw->src->slots[bd.v].extent;
    }
    dims[i] = ld;
  }
  IrValueId inits[256], iters[IR_MAX_RANK], carried[256], yields[256], results[256];
  for (int i = 0; i < ncar; i++)
    inits[i] = map(rw, op->args[per * ndims + i]);
  int nslots_before = ir_builder_func(rw->b)->nslots;
  if (ir_build_loop_begin(rw->b, op->kind, ndims, dims, ncar, inits, iters, carried, d))
    return HL_ERR;
  /* a loop dim with its own slot must get the same slot number it had */
  for (int i = 0, s = nslots_before; op->kind == IR_OP_TILE && i < ndims; i++) {
    IrDim bd = a->block[i];
    if (bd.kind != IR_DIM_BLOCK || rw->src->slots[bd.v].kind == IR_SLOT_REGISTERED) continue;
    if (bd.v != s++) return diag_set(d, "internal: block-size slots were renumbered by a pass");
  }
  const IrRegion *body = op->body;
  for (int i = 0; i < ndims; i++) {
    rw->map[body->args[i]] = iters[i];
    if (name_like(rw, body->args[i], iters[i], d)) return HL_ERR;
  }
  for (int i = 0; i < ncar; i++) {
    rw->map[body->args[ndims + i]] = carried[i];
    if (name_like(rw, body->args[ndims + i], carried[i], d)) return HL_ERR;
  }
  if (rw->depth >= IR_MAX_DEPTH) return diag_set(d, "internal: loops nested too deep");
  rw->loops[rw->depth++] = op;
  if (copy_region(rw, body, d)) return HL_ERR;
  rw->depth--;
  const IrOp *y = body->last;
  if (!y || y->kind != IR_OP_YIELD || y->nargs != ncar)
    return diag_set(d, "internal: a loop body does not end with its yield");
  for (int i = 0; i < ncar; i++)
    yields[i] = map(rw, y->args[i]);
  set_loc(rw, y->loc);
  if (ir_build_loop_end(rw->b, ncar, yields, results, d)) return HL_ERR;
  for (int i = 0; i < op->nresults; i++) {
    rw->map[op->results[i]] = results[i];
    if (name_like(rw, op->results[i], results[i], d)) return HL_ERR;
  }
  return HL_OK;
}

static int copy_memory(LowerRewrite *rw, const IrOp *op, Diag *d) {
  const IrAttrs *a = op->attrs;
  IrIndex idx[IR_MAX_INDEX];
  int pos = 1;
  for (int i = 0; i < a->nidx; i++) {
    idx[i].kind = a->idx[i];
    idx[i].value = IR_NONE;
    if (a->idx[i] == IR_IDX_TILE || a->idx[i] == IR_IDX_SCALAR || a->idx[i] == IR_IDX_GATHER)
      idx[i].value = map(rw, op->args[pos++]);
  }
  IrValueId t = map(rw, op->args[0]), value = IR_NONE, mask = IR_NONE, out = IR_NONE;
  if (op->kind != IR_OP_LOAD) value = map(rw, op->args[pos++]);
  if (a->has_mask) mask = map(rw, op->args[pos++]);
  int rc;
  if (op->kind == IR_OP_LOAD)
    rc = ir_build_load(rw->b, t, a->nidx, idx, mask, a->eviction, &out, d);
  else if (op->kind == IR_OP_STORE)
    rc = ir_build_store(rw->b, t, a->nidx, idx, value, mask, d);
  else
    rc = ir_build_atomic_add(rw->b, t, a->nidx, idx, value, mask, a->sem, &out, d);
  if (rc) return HL_ERR;
  if (op->nresults) rw->map[op->results[0]] = out;
  return HL_OK;
}

static int copy_op(LowerRewrite *rw, const IrOp *op, Diag *d) {
  const IrFunc *f = rw->src;
  IrValueId out = IR_NONE;
  IrAttrs a = IR_ATTRS_INIT;
  if (op->attrs) a = *op->attrs;
  switch (op->kind) {
  case IR_OP_REGISTER_BLOCK_SIZE: {
    const IrBlockSlot *s = &f->slots[a.slot];
    int slot;
    if (ir_build_register_block_size(rw->b, s->min, s->max, &slot, &out, d)) return HL_ERR;
    if (slot != a.slot) return diag_set(d, "internal: block-size slots were renumbered by a pass");
    break;
  }
  case IR_OP_TUNABLE: {
    const IrTunable *t = &f->tunables[a.slot];
    if (ir_build_tunable(rw->b, t->name, t->fragment, t->dtype, &out, d)) return HL_ERR;
    break;
  }
  case IR_OP_SPECIALIZE:
    if (ir_build_specialize(rw->b, map(rw, op->args[0]), a.value, &out, d)) return HL_ERR;
    break;
  case IR_OP_LOAD:
  case IR_OP_STORE:
  case IR_OP_ATOMIC_ADD:
    return copy_memory(rw, op, d);
  default: {
    IrValueId args[8];
    if (op->nargs > 8)
      return diag_set(d, "internal: %s has too many operands", ir_op_info(op->kind)->name);
    for (int i = 0; i < op->nargs; i++)
      args[i] = map(rw, op->args[i]);
    if (ir_build_op(rw->b, op->kind, op->nargs, args, op->attrs ? &a : NULL, &out, d))
      return HL_ERR;
  }
  }
  if (op->nresults) rw->map[op->results[0]] = out;
  return HL_OK;
}

static int copy_region(LowerRewrite *rw, const IrRegion *r, Diag *d) {
  for (const IrOp *op = r->first; op; op = op->next) {
    if (op->kind == IR_OP_YIELD) continue; /* the loop copies it */
    set_loc(rw, op->loc);
    bool done = false, loop = ir_op_info(op->kind)->cls == IR_CLASS_LOOP;
    if (rw->fn && rw->fn(rw, op, &done, d)) return HL_ERR;
    if (!done && (loop ? copy_loop(rw, op, d) : copy_op(rw, op, d))) return HL_ERR;
    for (int i = 0; i < op->nresults && !loop; i++)
      if (name_like(rw, op->results[i], rw->map[op->results[i]], d)) return HL_ERR;
  }
  return HL_OK;
}

int lower_rewrite(const IrFunc *src, LowerRewriteFn fn, void *ud, IrFunc **out, Diag *d) {
  LowerRewrite rw = {.src = src, .fn = fn, .ud = ud};
  rw.map = mem_alloc((size_t)(src->nvalues > 0 ? src->nvalues : 1) * sizeof *rw.map);
  if (!rw.map) return diag_set(d, "out of memory while lowering");
  for (int i = 0; i < src->nvalues; i++)
    rw.map[i] = IR_NONE;
  int rc = ir_builder_new(src->name, &rw.b, d);
  if (rc == HL_OK) rc = copy_args(&rw, d);
  if (rc == HL_OK) rc = copy_region(&rw, src->body, d);
  if (rc == HL_OK) rc = ir_builder_finish(rw.b, out, d);
  if (rc == HL_OK) {
    /* slot records keep the source's hints (extents the tracer knew) */
    for (int i = 0; i < src->nslots && i < (*out)->nslots; i++)
      (*out)->slots[i] = src->slots[i];
  }
  ir_builder_free(rw.b);
  mem_free(rw.map);
  return rc;
}
