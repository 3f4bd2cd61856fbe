/* Tile IR builder: device loops (tile, grid, for) with carried values, and the pruning of
 * carried values a loop never changes. Part of src/ir (tile IR); the rest is ir_build.c. */
#include <string.h>

#include "ir/ir_internal.h"

#define NAMEBUF 96

/* ---- loops ----------------------------------------------------------------------------------- */

static int need_index_scalar(IrBuilder *b, IrValueId v, const char *what, Diag *d) {
  if (ir_build_need_visible(b, v, what, d)) return HL_ERR;
  const IrValue *val = ir_value(b->f, v);
  char n[NAMEBUF];
  if (val->kind != IR_VAL_DATA || val->shape.rank != 0 || !ir_dtype_is_int(val->dtype))
    return diag_set(d, "%s %s must be an integer scalar", what, ir_value_str(b->f, v, n, sizeof n));
  return HL_OK;
}

/* Checks the dims and picks each tile dim's block size, making new slots (undone on error). */
static int loop_dims(IrBuilder *b, IrOpKind kind, int ndims, const IrLoopDim *dims, IrAttrs *a,
                     IrValueId *args, int *nargs, Diag *d) {
  IrFunc *f = b->f;
  for (int i = 0; i < ndims; i++) {
    const IrLoopDim *ld = &dims[i];
    if (need_index_scalar(b, ld->begin, "the begin", d) ||
        need_index_scalar(b, ld->end, "the end", d))
      return HL_ERR;
    args[(*nargs)++] = ld->begin;
    args[(*nargs)++] = ld->end;
    if (kind == IR_OP_FOR) {
      if (need_index_scalar(b, ld->step, "the step", d)) return HL_ERR;
      args[(*nargs)++] = ld->step;
    }
    a->block[i] = (IrDim){IR_DIM_CONST, 1};
    if (kind != IR_OP_TILE) continue;
    if (ld->slot >= 0) {
      if (ld->slot >= f->nslots || f->slots[ld->slot].kind != IR_SLOT_REGISTERED)
        return diag_set(d, "dim %d: block size slot %d is not from register_block_size", i,
                        ld->slot);
      a->block[i] = (IrDim){IR_DIM_BLOCK, ld->slot};
    } else if (ld->block_size > 0) {
      a->block[i] = (IrDim){IR_DIM_CONST, ld->block_size};
    } else {
      int64_t lo, hi, extent = ld->size_hint > 0 ? ld->size_hint : -1;
      if (ir_const_int(f, ld->begin, &lo) && ir_const_int(f, ld->end, &hi))
        extent = hi > lo ? hi - lo : 0;
      IrBlockSlot s = {.kind = IR_SLOT_TILE,
                       .extent = extent,
                       .min = 1,
                       .max = extent > 0 ? ir_next_pow2(extent) : -1,
                       .loc = b->loc};
      int slot;
      if (ir_build_add_slot(f, s, &slot, d)) return HL_ERR;
      a->block[i] = (IrDim){IR_DIM_BLOCK, slot};
    }
  }
  return HL_OK;
}

int ir_build_loop_begin(IrBuilder *b, IrOpKind kind, int ndims, const IrLoopDim *dims, int ncarried,
                        const IrValueId *inits, IrValueId *iters, IrValueId *carried, Diag *d) {
  if (ir_build_need_open(b, d)) return HL_ERR;
  IrFunc *f = b->f;
  const char *op = (unsigned)kind < IR_OP_COUNT ? ir_op_info(kind)->name : "loop";
  if (kind != IR_OP_TILE && kind != IR_OP_GRID && kind != IR_OP_FOR) {
    diag_set(d, "is not a loop op");
    return ir_build_fail(b, d, op);
  }
  if (ndims < 1 || ndims > IR_MAX_RANK || (kind == IR_OP_FOR && ndims != 1) || ncarried < 0 ||
      ncarried > 256 || (ncarried > 0 && !inits)) {
    diag_set(d, "takes 1..%d dims (for: 1) and 0..256 carried values, got %d and %d", IR_MAX_RANK,
             ndims, ncarried);
    return ir_build_fail(b, d, op);
  }
  if (b->cur->depth + 1 >= IR_MAX_DEPTH) {
    diag_set(d, "loops are nested more than %d deep", IR_MAX_DEPTH - 1);
    return ir_build_fail(b, d, op);
  }
  if (ir_build_need_placement(b, kind, 0, NULL, d)) return ir_build_fail(b, d, op);
  for (int i = 0; i < ncarried; i++) {
    char n[NAMEBUF];
    if (ir_build_need_visible(b, inits[i], "a carried value", d)) return ir_build_fail(b, d, op);
    if (ir_value(f, inits[i])->kind != IR_VAL_DATA) {
      diag_set(d, "carried value %s is not a data value (tiles and tensors are not carried)",
               ir_value_str(f, inits[i], n, sizeof n));
      return ir_build_fail(b, d, op);
    }
  }
  int saved_slots = f->nslots, saved_values = f->nvalues, nargs = 0;
  IrAttrs a = IR_ATTRS_INIT;
  a.ndims = ndims;
  IrValueId *args = ir_alloc(f, (size_t)(3 * ndims + ncarried) * sizeof *args);
  IrRegion *body = ir_alloc(f, sizeof *body);
  IrValueId *bargs = ir_alloc(f, (size_t)(ndims + ncarried) * sizeof *bargs);
  if (!args || !body || !bargs) {
    ir_oom(d);
    return ir_build_fail(b, d, op);
  }
  if (loop_dims(b, kind, ndims, dims, &a, args, &nargs, d)) goto undo;
  for (int i = 0; i < ncarried; i++)
    args[nargs++] = inits[i];
  IrOp *lop = ir_build_new_op(b, kind, &a);
  if (!lop) {
    ir_oom(d);
    goto undo;
  }
  lop->args = args;
  lop->nargs = nargs;
  lop->body = body;
  body->owner = lop;
  body->parent = b->cur;
  body->depth = b->cur->depth + 1;
  body->args = bargs;
  for (int i = 0; i < ndims + ncarried; i++) {
    IrValue v = {
        .def_kind = IR_DEF_BLOCK_ARG, .def = lop, .region = body, .index = i, .loc = b->loc};
    if (i < ndims && kind == IR_OP_TILE) {
      v.kind = IR_VAL_TILE;
      v.dtype = DT_INT64;
      v.shape.rank = 1;
      v.shape.dims[0] = a.block[i];
    } else if (i < ndims) {
      v.kind = IR_VAL_DATA;
      v.dtype = DT_INT64;
    } else {
      const IrValue *init = ir_value(f, inits[i - ndims]);
      v.kind = IR_VAL_DATA;
      v.dtype = init->dtype;
      v.shape = init->shape;
    }
    if (ir_value_add(f, &v, &bargs[i], d)) goto undo;
  }
  body->nargs = ndims + ncarried;
  ir_build_link(b->cur, lop);
  body->open = true;
  b->cur = body;
  for (int i = 0; i < ndims; i++)
    iters[i] = bargs[i];
  for (int i = 0; i < ncarried; i++)
    if (carried) carried[i] = bargs[ndims + i];
  return HL_OK;
undo: /* nothing references the slots and block arguments made so far */
  f->nslots = saved_slots;
  f->nvalues = saved_values;
  return ir_build_fail(b, d, op);
}

static void replace_in_op(IrOp *op, IrValueId from, IrValueId to) {
  for (int i = 0; i < op->nargs; i++)
    if (op->args[i] == from) op->args[i] = to;
  if (op->body) ir_region_replace_uses(op->body, from, to);
}

void ir_region_replace_uses(IrRegion *r, IrValueId from, IrValueId to) {
  for (IrOp *op = r->first; op; op = op->next)
    replace_in_op(op, from, to);
}

static int loop_iters(const IrOp *lop) {
  return lop->attrs ? lop->attrs->ndims : 1;
}

int ir_build_loop_end(IrBuilder *b, int n, const IrValueId *yields, IrValueId *results, Diag *d) {
  if (ir_build_need_open(b, d)) return HL_ERR;
  IrFunc *f = b->f;
  IrRegion *body = b->cur;
  IrOp *lop = body->owner;
  if (!lop) {
    diag_set(d, "no device loop is open");
    return ir_build_fail(b, d, "loop_end");
  }
  const char *op = ir_op_info(lop->kind)->name;
  int niter = loop_iters(lop), ncar = body->nargs - niter, ninit0 = lop->nargs - ncar;
  if (n != ncar || (n > 0 && !yields)) {
    diag_set(d, "the loop carries %d value%s but %d were yielded", ncar, ncar == 1 ? "" : "s", n);
    return ir_build_fail(b, d, op);
  }
  char n1[NAMEBUF], n2[NAMEBUF], t1[300], t2[300];
  bool keep[256];
  IrValueId next[256];
  int nkeep = 0;
  for (int i = 0; i < n; i++) {
    IrValueId arg = body->args[niter + i];
    if (ir_build_need_visible(b, yields[i], "a yielded value", d)) return ir_build_fail(b, d, op);
    const IrValue *y = ir_value(f, yields[i]), *c = ir_value(f, arg);
    if (y->kind != IR_VAL_DATA || y->dtype != c->dtype || !ir_shape_eq(&y->shape, &c->shape)) {
      diag_set(d,
               "carried value %s is %s, but the body ends with %s of type %s; a carried local "
               "must keep its dtype and shape (cast it back, e.g. acc = v:to(...))",
               ir_value_str(f, arg, n1, sizeof n1), ir_type_str(c, t1, sizeof t1),
               ir_value_str(f, yields[i], n2, sizeof n2), ir_type_str(y, t2, sizeof t2));
      return ir_build_fail(b, d, op);
    }
    keep[i] = yields[i] != arg;
    nkeep += keep[i];
  }
  /* A yield that is a pruned block argument becomes that argument's init. */
  for (int i = 0; i < n; i++) {
    next[i] = yields[i];
    for (int j = 0; j < n; j++)
      if (!keep[j] && yields[i] == body->args[niter + j]) next[i] = lop->args[ninit0 + j];
  }
  IrValueId ys[256], res_ids[256];
  int k = 0;
  for (int i = 0; i < n; i++)
    if (keep[i]) ys[k++] = next[i];
  /* allocate everything before changing anything */
  IrOp *yop = ir_alloc(f, sizeof *yop);
  IrValueId *yargs = nkeep ? ir_alloc(f, (size_t)nkeep * sizeof *yargs) : NULL;
  IrValueId *lres = nkeep ? ir_alloc(f, (size_t)nkeep * sizeof *lres) : NULL;
  if (!yop || (nkeep && (!yargs || !lres))) {
    ir_oom(d);
    return ir_build_fail(b, d, op);
  }
  int saved_values = f->nvalues;
  for (int i = 0, r = 0; i < n; i++) {
    if (!keep[i]) continue;
    const IrValue *c = ir_value(f, body->args[niter + i]);
    IrValue v = {.kind = IR_VAL_DATA,
                 .dtype = c->dtype,
                 .shape = c->shape,
                 .def_kind = IR_DEF_RESULT,
                 .def = lop,
                 .region = body->parent,
                 .index = r,
                 .loc = lop->loc};
    if (ir_value_add(f, &v, &res_ids[r], d)) {
      f->nvalues = saved_values;
      return ir_build_fail(b, d, op);
    }
    r++;
  }
  /* commit: prune invariant carried values, then yield, then close the region */
  for (int i = 0; i < n; i++)
    if (!keep[i]) ir_region_replace_uses(body, body->args[niter + i], lop->args[ninit0 + i]);
  int w = 0;
  for (int i = 0; i < n; i++) {
    if (!keep[i]) continue;
    lop->args[ninit0 + w] = lop->args[ninit0 + i];
    body->args[niter + w] = body->args[niter + i];
    f->values[body->args[niter + w]].index = niter + w;
    w++;
  }
  lop->nargs = ninit0 + nkeep;
  body->nargs = niter + nkeep;
  if (nkeep) memcpy(yargs, ys, (size_t)nkeep * sizeof *ys);
  yop->kind = IR_OP_YIELD;
  yop->nargs = nkeep;
  yop->args = yargs;
  yop->loc = b->loc;
  ir_build_link(body, yop);
  if (nkeep) memcpy(lres, res_ids, (size_t)nkeep * sizeof *lres);
  lop->results = lres;
  lop->nresults = nkeep;
  for (int i = 0, r = 0; results && i < n; i++)
    results[i] = keep[i] ? res_ids[r++] : next[i];
  body->open = false;
  b->cur = body->parent;
  return HL_OK;
}
