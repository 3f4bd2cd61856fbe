/* Tile IR verifier: arity, phase, placement, SSA dominance, dtype and shape rules, loop
 * structure and yields. Run after every pass in tests. Part of src/ir (tile IR).
 * A failure names the op, its result, its source line and what is wrong, e.g.
 *   traced IR is invalid at `%5 = add` (matmul.lua:9): operand dtypes differ: ... */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "ir/ir_internal.h"

#define NAMEBUF 96

typedef struct Verifier {
  const IrFunc *f;
  IrPhase phase;
  unsigned char *state; /* per value: 0 unseen, 1 visible, 2 defined and out of scope */
  Diag *d;
} Verifier;

/* Adds the op, its first result and its location in front of the detail already in d. */
static int op_fail(Verifier *v, const IrOp *op, Diag *d) {
  if (!d) return HL_ERR;
  const IrFunc *f = v->f;
  char what[160], where[300], n[NAMEBUF];
  const char *name = (unsigned)op->kind < IR_OP_COUNT ? ir_op_info(op->kind)->name : "?";
  if (op->nresults > 0 && op->results)
    snprintf(what, sizeof what, "%s = %s", ir_value_str(f, op->results[0], n, sizeof n), name);
  else
    snprintf(what, sizeof what, "%s", name);
  ir_loc_str(f, op->loc, where, sizeof where);
  diag_prefix(d, "%s IR is invalid at `%s` (%s): ", ir_phase_name(v->phase), what,
              where[0] ? where : "no source line");
  d->line = op->loc.line;
  d->file[0] = '\0';
  if (op->loc.file >= 0 && op->loc.file < f->nfiles)
    snprintf(d->file, sizeof d->file, "%s", f->files[op->loc.file]);
  return HL_ERR;
}

__attribute__((format(printf, 3, 4))) static int fail(Verifier *v, const IrOp *op, const char *fmt,
                                                      ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_vset(v->d, fmt, ap);
  va_end(ap);
  return op_fail(v, op, v->d);
}

static bool dims_concrete(const IrShape *s) {
  for (int i = 0; i < s->rank; i++)
    if (s->dims[i].kind != IR_DIM_CONST) return false;
  return true;
}

/* A value becomes visible where it is defined; defining it twice breaks SSA. */
static int define(Verifier *v, const IrOp *op, IrValueId id, IrDefKind kind, const IrOp *def,
                  int index) {
  const IrFunc *f = v->f;
  char n[NAMEBUF], t[300];
  const IrValue *val = ir_value(f, id);
  if (!val) return fail(v, op, "result %d is not a value (id %d)", index + 1, (int)id);
  if (v->state[id])
    return fail(v, op, "%s is defined twice (SSA)", ir_value_str(f, id, n, sizeof n));
  if (val->def_kind != kind || val->def != def || val->index != index)
    return fail(v, op, "%s does not record this op as its definition",
                ir_value_str(f, id, n, sizeof n));
  if (v->phase == IR_PHASE_LOWERED && !dims_concrete(&val->shape))
    return fail(v, op, "%s has type %s, but lowered IR has concrete dims only (bind the Config)",
                ir_value_str(f, id, n, sizeof n), ir_type_str(val, t, sizeof t));
  v->state[id] = 1;
  return HL_OK;
}

static int check_operands(Verifier *v, const IrOp *op) {
  const IrFunc *f = v->f;
  char n[NAMEBUF], where[300];
  for (int i = 0; i < op->nargs; i++) {
    IrValueId a = op->args[i];
    const IrValue *val = ir_value(f, a);
    if (!val) return fail(v, op, "operand %d is not a value (id %d)", i + 1, (int)a);
    if (v->state[a] == 1) continue;
    ir_loc_str(f, val->loc, where, sizeof where);
    if (v->state[a] == 2)
      return fail(v, op,
                  "operand %d %s (made at %s) is used outside the loop that defines it; "
                  "carry it through the loop instead",
                  i + 1, ir_value_str(f, a, n, sizeof n), where[0] ? where : "an unknown line");
    return fail(v, op,
                "operand %d %s is used before it is defined (SSA: a value must be defined "
                "earlier in this region or an enclosing one)",
                i + 1, ir_value_str(f, a, n, sizeof n));
  }
  return HL_OK;
}

static int check_placement(Verifier *v, const IrOp *op, const IrRegion *r) {
  const IrOpInfo *info = ir_op_info(op->kind);
  if (!(info->phases & v->phase))
    return fail(v, op, "`%s` may not appear in %s IR (it is a %s op)", info->name,
                ir_phase_name(v->phase), info->phases & IR_PHASE_TRACED ? "traced" : "lowered");
  if (info->cls == IR_CLASS_YIELD && (!r->owner || op->next))
    return fail(v, op, "yield may only end a loop body");
  if (v->phase != IR_PHASE_TRACED) return HL_OK;
  bool top = r->depth == 0;
  if (info->cls == IR_CLASS_DECL && !top)
    return fail(v, op, "`%s` is host code and must come before the device loops", info->name);
  if (!top) return HL_OK;
  if (!ir_op_is_host(v->f, info->cls, op->nargs, op->args))
    return fail(v, op, "`%s` is device code outside a device loop (hl.tile / hl.grid)", info->name);
  return HL_OK;
}

static int verify_region(Verifier *v, const IrRegion *r);

static int check_scalar_int(Verifier *v, const IrOp *op, IrValueId id, const char *what) {
  const IrValue *val = ir_value(v->f, id);
  char n[NAMEBUF];
  if (val->kind != IR_VAL_DATA || val->shape.rank != 0 || !ir_dtype_is_int(val->dtype))
    return fail(v, op, "%s %s must be an integer scalar", what,
                ir_value_str(v->f, id, n, sizeof n));
  return HL_OK;
}

static int verify_loop(Verifier *v, const IrOp *op, const IrRegion *r) {
  const IrFunc *f = v->f;
  char n1[NAMEBUF], n2[NAMEBUF], t1[300], t2[300];
  const IrAttrs *a = op->attrs;
  int per = op->kind == IR_OP_FOR ? 3 : 2;
  int ndims = a ? a->ndims : 0;
  if (!a || ndims < 1 || ndims > IR_MAX_RANK || (op->kind == IR_OP_FOR && ndims != 1))
    return fail(v, op, "a loop needs 1..%d dims (for: 1)", IR_MAX_RANK);
  if (op->nargs < per * ndims)
    return fail(v, op, "%d operands cannot hold the bounds of %d dims", op->nargs, ndims);
  int ncar = op->nargs - per * ndims;
  for (int i = 0; i < ndims; i++) {
    if (check_scalar_int(v, op, op->args[per * i], "the begin") ||
        check_scalar_int(v, op, op->args[per * i + 1], "the end") ||
        (per == 3 && check_scalar_int(v, op, op->args[per * i + 2], "the step")))
      return HL_ERR;
    IrDim blk = a->block[i];
    if (op->kind == IR_OP_TILE && !((blk.kind == IR_DIM_CONST && blk.v > 0) ||
                                    (blk.kind == IR_DIM_BLOCK && blk.v >= 0 && blk.v < f->nslots)))
      return fail(v, op, "dim %d's block size is neither a slot nor a positive constant", i);
  }
  const IrRegion *body = op->body;
  if (!body || body->owner != op || body->parent != r || body->depth != r->depth + 1)
    return fail(v, op, "the loop's body region is missing or not linked to it");
  if (body->nargs != ndims + ncar || op->nresults != ncar)
    return fail(v, op, "the loop has %d carried inits, %d carried block arguments and %d results",
                ncar, body->nargs - ndims, op->nresults);
  for (int i = 0; i < body->nargs; i++) {
    IrValueId id = body->args[i];
    if (define(v, op, id, IR_DEF_BLOCK_ARG, op, i)) return HL_ERR;
    const IrValue *val = ir_value(f, id);
    bool ok;
    if (i < ndims && op->kind == IR_OP_TILE)
      ok = val->kind == IR_VAL_TILE && val->shape.rank == 1 &&
           ir_dim_eq(val->shape.dims[0], a->block[i]);
    else if (i < ndims)
      ok = val->kind == IR_VAL_DATA && val->dtype == DT_INT64 && val->shape.rank == 0;
    else {
      IrType t = {.kind = IR_VAL_DATA,
                  .dtype = ir_value(f, op->args[per * ndims + i - ndims])->dtype,
                  .shape = ir_value(f, op->args[per * ndims + i - ndims])->shape};
      ok = ir_type_eq(&t, val);
    }
    if (!ok)
      return fail(v, op, "block argument %d %s has type %s, which does not match the loop", i + 1,
                  ir_value_str(f, id, n1, sizeof n1), ir_type_str(val, t1, sizeof t1));
  }
  if (verify_region(v, body)) return HL_ERR;
  const IrOp *y = body->last;
  if (!y || y->kind != IR_OP_YIELD) return fail(v, op, "the loop body does not end with a yield");
  if (y->nargs != ncar)
    return fail(v, y, "yields %d values but the loop carries %d", y->nargs, ncar);
  for (int i = 0; i < ncar; i++) {
    const IrValue *c = ir_value(f, body->args[ndims + i]), *yv = ir_value(f, y->args[i]);
    IrType ct = {.kind = c->kind, .dtype = c->dtype, .shape = c->shape};
    if (!ir_type_eq(&ct, yv))
      return fail(v, y, "yielded %s is %s but carried %s is %s",
                  ir_value_str(f, y->args[i], n1, sizeof n1), ir_type_str(yv, t1, sizeof t1),
                  ir_value_str(f, body->args[ndims + i], n2, sizeof n2),
                  ir_type_str(c, t2, sizeof t2));
  }
  for (int i = 0; i < ncar; i++) {
    if (define(v, op, op->results[i], IR_DEF_RESULT, op, i)) return HL_ERR;
    const IrValue *c = ir_value(f, body->args[ndims + i]);
    IrType ct = {.kind = c->kind, .dtype = c->dtype, .shape = c->shape};
    if (!ir_type_eq(&ct, ir_value(f, op->results[i])))
      return fail(v, op, "result %d's type differs from carried value %d's", i + 1, i + 1);
  }
  return HL_OK;
}

/* Stored attributes must be in the form the builder writes (dims non-negative, -1 resolved,
 * dtypes filled in): the text and the fingerprint print them as they are. */
static bool attrs_canonical(const IrAttrs *a, const IrAttrs *norm) {
  return a->dim == norm->dim && a->keepdim == norm->keepdim && a->dtype == norm->dtype &&
         a->value.is_float == norm->value.is_float && a->value.i == norm->value.i &&
         memcmp(&a->value.f, &norm->value.f, sizeof a->value.f) == 0 &&
         ir_shape_eq(&a->shape, &norm->shape) && memcmp(a->perm, norm->perm, sizeof a->perm) == 0;
}

static int verify_op(Verifier *v, const IrOp *op, const IrRegion *r) {
  const IrFunc *f = v->f;
  if ((unsigned)op->kind >= IR_OP_COUNT) return fail(v, op, "op kind %d is unknown", (int)op->kind);
  const IrOpInfo *info = ir_op_info(op->kind);
  if (op->parent != r) return fail(v, op, "the op is not linked to the region that holds it");
  if (op->nargs < 0 || (op->nargs > 0 && !op->args))
    return fail(v, op, "the operand list is broken");
  if (info->arity >= 0 && op->nargs != info->arity)
    return fail(v, op, "`%s` takes %d operand%s, got %d", info->name, info->arity,
                info->arity == 1 ? "" : "s", op->nargs);
  if (check_placement(v, op, r) || check_operands(v, op)) return HL_ERR;
  if (info->cls == IR_CLASS_LOOP) return verify_loop(v, op, r);
  if (info->cls == IR_CLASS_YIELD) return HL_OK; /* checked by its loop */
  IrAttrs norm;
  IrType res;
  int nres;
  if (ir_infer(f, op->kind, op->nargs, op->args, op->attrs, &norm, &nres, &res, v->d))
    return op_fail(v, op, v->d);
  if (op->attrs && !attrs_canonical(op->attrs, &norm))
    return fail(v, op,
                "the attributes are not in canonical form (a negative dim, an unresolved "
                "-1 or dtype); build ops with ir_build_* or store normalized attributes");
  char n[NAMEBUF], t1[300], t2[300];
  if (op->nresults != nres)
    return fail(v, op, "`%s` has %d result%s, expected %d", info->name, op->nresults,
                op->nresults == 1 ? "" : "s", nres);
  if (op->body) return fail(v, op, "`%s` may not hold a region", info->name);
  for (int i = 0; i < nres; i++) {
    if (define(v, op, op->results[i], IR_DEF_RESULT, op, i)) return HL_ERR;
    const IrValue *val = ir_value(f, op->results[i]);
    if (!ir_type_eq(&res, val)) {
      IrValue want = {.kind = res.kind, .dtype = res.dtype, .shape = res.shape};
      return fail(v, op, "result %s has type %s, but its operands make it %s",
                  ir_value_str(f, op->results[i], n, sizeof n), ir_type_str(val, t1, sizeof t1),
                  ir_type_str(&want, t2, sizeof t2));
    }
  }
  return HL_OK;
}

static int verify_region(Verifier *v, const IrRegion *r) {
  int rc = HL_OK;
  for (const IrOp *op = r->first; op && rc == HL_OK; op = op->next)
    rc = verify_op(v, op, r);
  /* leaving the region: what it defined goes out of scope */
  for (int i = 0; i < r->nargs; i++)
    if (r->args[i] >= 0 && r->args[i] < v->f->nvalues) v->state[r->args[i]] = 2;
  for (const IrOp *op = r->first; op; op = op->next)
    for (int i = 0; i < op->nresults; i++)
      if (op->results[i] >= 0 && op->results[i] < v->f->nvalues && r->depth > 0)
        v->state[op->results[i]] = 2;
  return rc;
}

int ir_verify(const IrFunc *f, IrPhase phase, Diag *d) {
  if (!f) return diag_set(d, "ir_verify: no function");
  if (phase != IR_PHASE_TRACED && phase != IR_PHASE_LOWERED)
    return diag_set(d, "ir_verify: unknown phase %d", (int)phase);
  Verifier v = {.f = f, .phase = phase, .d = d};
  v.state = mem_calloc((size_t)f->nvalues + 1, 1);
  if (!v.state) return diag_set(d, "out of memory while verifying the IR");
  int rc = HL_OK;
  char n[NAMEBUF];
  for (int i = 0; i < f->nargs && rc == HL_OK; i++) {
    IrValueId a = f->args[i];
    const IrValue *val = ir_value(f, a);
    if (!val || val->def_kind != IR_DEF_ARG || val->index != i || v.state[a])
      rc = diag_set(d, "%s IR is invalid: kernel argument %d (%s) is not recorded as argument %d",
                    ir_phase_name(phase), i + 1, ir_value_str(f, a, n, sizeof n), i + 1);
    else
      v.state[a] = 1;
  }
  if (rc == HL_OK && (f->body->owner || f->body->depth != 0))
    rc = diag_set(d, "%s IR is invalid: the function body is not a top-level region",
                  ir_phase_name(phase));
  if (rc == HL_OK) rc = verify_region(&v, f->body);
  mem_free(v.state);
  return rc;
}
