/* Pass "plan", cuda target: the register-resident rows — which tile values each thread keeps in
 * its own registers instead of reading them again. Part of src/lower.
 *
 * A program that works on one row (every dim of a value's shape 1 but the last: softmax, the
 * norms at one row per program) can hold the row in registers when every consumer reads it in
 * one fixed layout: thread t owns slots t, t + T, ... of V consecutive elements (16-byte loads
 * and stores), K slots per thread, so element V * (t + k * T) + v sits at index k * V + v of the
 * thread's array. The layout is only shared by loops this lowering emits in "register form"
 * (lower_nvptx_regs.c): fills of such values, reductions over the last dim, stores. So a group
 * (values of one row shape connected by elementwise ops in one region) qualifies only when every
 * use of a member is another member, a sum / amax / amin over the last dim, or the value of a
 * store of the same shape. Its members used more than once become PLAN_REGS (loads first, then
 * computed values) within REGS_BUDGET elements per thread; the others are lazy, evaluated from
 * the registers in their consumer's loop. Rows longer than REGS_MAX_PER_VALUE elements per
 * thread, values in a looped reduction (chunks) and every other shape keep the shared-memory
 * path; the CPU plan never sees this. */
#include <string.h>

#include "base/mem.h"
#include "lower/lower_internal.h"

/* per thread: at most 64 elements of one row, 64 elements of register rows in all (with 16 warps
 * a bfloat16 row of 16384 is 32 per thread: softmax keeps the row and its exp) */
#define REGS_MAX_PER_VALUE 64
#define REGS_BUDGET        64

int64_t lower_regs_slots(int64_t len, int V, int64_t T) {
  int64_t slots = (len + V - 1) / V;
  return (slots + T - 1) / T;
}

typedef struct RegWalk {
  LowerCtx *c;
  const IrFunc *f;
  LowerPlan *p;
  int *parent;  /* union-find over candidate values; -1: not a candidate */
  bool *bad;    /* per group root: some use is not in register form */
  bool *chosen; /* per value: kept in registers (PLAN_REGS) if its group qualifies */
} RegWalk;

static int find(RegWalk *w, int v) {
  while (w->parent[v] != v) {
    w->parent[v] = w->parent[w->parent[v]];
    v = w->parent[v];
  }
  return v;
}

static void unite(RegWalk *w, int a, int b) {
  a = find(w, a);
  b = find(w, b);
  if (a != b) w->parent[b] = a;
}

static bool shape_eq(const IrShape *a, const IrShape *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i].kind != b->dims[i].kind || a->dims[i].v != b->dims[i].v) return false;
  return true;
}

/* A row: every dim of size 1 under the binding but the last, which is longer. */
static int64_t row_len(RegWalk *w, const IrShape *s) {
  if (s->rank < 1) return 0;
  for (int i = 0; i + 1 < s->rank; i++)
    if (lower_dim_size(&w->c->bind, w->f, s->dims[i]) != 1) return 0;
  int64_t n = lower_dim_size(&w->c->bind, w->f, s->dims[s->rank - 1]);
  return n > 1 ? n : 0;
}

static bool member_op(IrOpKind k) {
  switch (ir_op_info(k)->cls) {
  case IR_CLASS_LOAD:
  case IR_CLASS_CAST:
  case IR_CLASS_UNARY:
  case IR_CLASS_UNARY_FLOAT:
  case IR_CLASS_LOGICAL:
  case IR_CLASS_BINARY:
  case IR_CLASS_BINARY_FLOAT:
  case IR_CLASS_COMPARE:
  case IR_CLASS_WHERE:
    return true;
  default:
    return false;
  }
}

static bool candidate(RegWalk *w, IrValueId v) {
  const IrValue *val = ir_value(w->f, v);
  if (val->kind != IR_VAL_DATA || val->def_kind != IR_DEF_RESULT || !member_op(val->def->kind))
    return false;
  PlanKind k = (PlanKind)w->p->kind[v];
  return (k == PLAN_LAZY || k == PLAN_BUFFER) && w->p->rloop[v] < 0 && row_len(w, &val->shape) > 0;
}

static void mark_candidates(RegWalk *w, const IrRegion *r) {
  for (const IrOp *op = r->first; op; op = op->next) {
    if (op->body) {
      mark_candidates(w, op->body);
      continue;
    }
    if (op->nresults != 1 || !candidate(w, op->results[0])) continue;
    IrValueId res = op->results[0];
    w->parent[res] = res;
    const IrValue *rv = ir_value(w->f, res);
    for (int i = 0; i < op->nargs; i++) {
      IrValueId a = op->args[i];
      const IrValue *av = ir_value(w->f, a);
      if (w->parent[a] >= 0 && av->region == rv->region && shape_eq(&av->shape, &rv->shape))
        unite(w, a, res);
    }
  }
}

static bool has_operand(IrIndexKind k) {
  return k == IR_IDX_TILE || k == IR_IDX_SCALAR || k == IR_IDX_GATHER;
}

/* A store whose value is `a` (and no index or mask is), over a region of a's row shape. */
static bool store_ok(RegWalk *w, const IrOp *op, IrValueId a) {
  if (op->kind != IR_OP_STORE) return false;
  const IrAttrs *at = op->attrs;
  int pos = 1;
  IrShape region = {.rank = 0};
  for (int e = 0; e < at->nidx; e++) {
    IrIndexKind k = at->idx[e];
    IrValueId operand = has_operand(k) ? op->args[pos++] : IR_NONE;
    if (operand == a) return false;
    if (k == IR_IDX_TILE || k == IR_IDX_GATHER)
      region.dims[region.rank++] = ir_value(w->f, operand)->shape.dims[0];
    else if (k == IR_IDX_SLICE)
      region.dims[region.rank++] = (IrDim){IR_DIM_RDIM, at->rdim[e]};
    else if (k == IR_IDX_NEWAXIS)
      region.dims[region.rank++] = (IrDim){IR_DIM_CONST, 1};
    if (k == IR_IDX_GATHER) return false;
  }
  if (pos >= op->nargs || op->args[pos] != a) return false;
  for (int i = pos + 1; i < op->nargs; i++)
    if (op->args[i] == a) return false;
  const IrValue *av = ir_value(w->f, a);
  return row_len(w, &region) == row_len(w, &av->shape) &&
         lower_numel(&w->c->bind, w->f, &region) == lower_numel(&w->c->bind, w->f, &av->shape);
}

static bool use_ok(RegWalk *w, const IrOp *op, IrValueId a) {
  const IrValue *av = ir_value(w->f, a);
  if (op->parent != av->region || op->body) return false;
  if (op->nresults == 1 && w->parent[op->results[0]] >= 0 && find(w, op->results[0]) == find(w, a))
    return true;
  if (ir_op_info(op->kind)->cls == IR_CLASS_REDUCE)
    return (op->kind == IR_OP_SUM || op->kind == IR_OP_AMAX || op->kind == IR_OP_AMIN) &&
           op->args[0] == a && op->attrs->dim == av->shape.rank - 1 &&
           w->p->rloop[op->results[0]] < 0 &&
           lower_numel(&w->c->bind, w->f, &ir_value(w->f, op->results[0])->shape) == 1;
  return store_ok(w, op, a);
}

static void check_uses(RegWalk *w, const IrRegion *r) {
  for (const IrOp *op = r->first; op; op = op->next) {
    for (int i = 0; i < op->nargs; i++) {
      IrValueId a = op->args[i];
      if (w->parent[a] >= 0 && !use_ok(w, op, a)) w->bad[find(w, a)] = true;
    }
    if (op->body) check_uses(w, op->body);
  }
}

static bool op_writes(const IrOp *op) {
  if (op->kind == IR_OP_STORE || op->kind == IR_OP_ATOMIC_ADD) return true;
  for (const IrOp *o = op->body ? op->body->first : NULL; o; o = o->next)
    if (op_writes(o)) return true;
  return false;
}

/* Whether a store comes between v's definition and its last use (v would be read again after
 * it, were it lazy). */
static bool store_before_last_use(const IrOp *def, IrValueId v) {
  bool wrote = false;
  for (const IrOp *o = def->next; o; o = o->next) {
    for (int i = 0; i < o->nargs; i++)
      if (o->args[i] == v && wrote) return true;
    wrote |= op_writes(o);
  }
  return false;
}

/* The group of root g: V from its loads' element size, the slots per thread, then which
 * members are kept in registers. */
static void plan_group(RegWalk *w, int g) {
  const IrFunc *f = w->f;
  LowerPlan *p = w->p;
  int64_t len = row_len(w, &ir_value(f, g)->shape);
  size_t esize = 4;
  for (int v = 0; v < f->nvalues; v++) {
    if (w->parent[v] < 0 || find(w, v) != g) continue;
    const IrValue *val = ir_value(f, v);
    if (val->def->kind == IR_OP_LOAD && tensor_dtype_size(val->dtype) < esize)
      esize = tensor_dtype_size(val->dtype);
  }
  int V = (int)(16 / esize);
  if (V > 8) V = 8;
  while (V > 1 && len % V != 0)
    V /= 2;
  int64_t T = 32 * (int64_t)(w->c->bind.num_warps > 0 ? w->c->bind.num_warps : 4);
  int64_t per = lower_regs_slots(len, V, T) * V;
  if (per > REGS_MAX_PER_VALUE) return;
  int64_t used = 0;
  bool any = false;
  /* two rounds: loads (the row is read once), then computed values used twice or more */
  for (int round = 0; round < 2; round++) {
    for (int v = 0; v < f->nvalues; v++) {
      if (w->parent[v] < 0 || find(w, v) != g || w->chosen[v]) continue;
      bool load = ir_value(f, v)->def->kind == IR_OP_LOAD;
      if (load != (round == 0) || p->nuses[v] < 2 || used + per > REGS_BUDGET) continue;
      w->chosen[v] = true;
      used += per;
      any = true;
    }
  }
  /* a buffer that becomes lazy is read again at its last use: no store may come between */
  for (int v = 0; v < f->nvalues; v++) {
    if (w->parent[v] < 0 || find(w, v) != g || w->chosen[v]) continue;
    if (p->kind[v] == PLAN_BUFFER && store_before_last_use(ir_value(f, v)->def, v)) any = false;
  }
  for (int v = 0; any && v < f->nvalues; v++) {
    if (w->parent[v] < 0 || find(w, v) != g) continue;
    p->kind[v] = w->chosen[v] ? PLAN_REGS : PLAN_LAZY;
    p->regv[v] = (uint8_t)V;
  }
}

int lower_plan_regs(LowerCtx *c, LowerPlan *p, Diag *d) {
  const IrFunc *f = c->ir;
  int n = f->nvalues > 0 ? f->nvalues : 1;
  p->regv = mem_calloc((size_t)n, sizeof *p->regv);
  if (!p->regv) return diag_set(d, "out of memory while planning the lowering");
  if (c->target != LOWER_TARGET_CUDA) return HL_OK;
  RegWalk w = {.c = c, .f = f, .p = p};
  w.parent = mem_alloc((size_t)n * sizeof *w.parent);
  w.bad = mem_calloc((size_t)n, sizeof *w.bad);
  w.chosen = mem_calloc((size_t)n, sizeof *w.chosen);
  if (!w.parent || !w.bad || !w.chosen) {
    mem_free(w.parent);
    mem_free(w.bad);
    mem_free(w.chosen);
    return diag_set(d, "out of memory while planning the lowering");
  }
  for (int i = 0; i < n; i++)
    w.parent[i] = -1;
  mark_candidates(&w, f->body);
  check_uses(&w, f->body);
  for (int v = 0; v < f->nvalues; v++)
    if (w.parent[v] == v && !w.bad[v]) plan_group(&w, v);
  mem_free(w.parent);
  mem_free(w.bad);
  mem_free(w.chosen);
  return HL_OK;
}
