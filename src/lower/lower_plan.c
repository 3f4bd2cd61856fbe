/* Pass "plan": how the emitter holds each tile value, decided once for the bound IR.
 * Part of src/lower.
 *
 *   scalar  one element (under the binding): an LLVM value, no loops.
 *   lazy    an elementwise op, load, view or constant used once, in the same region, with no
 *           store between: its consumer evaluates it element by element inside its own loop
 *           nest, so chains like `out = x * y + z` become one loop (fusion). Constants, aranges
 *           and tile indices are always lazy (recomputing them costs nothing), and so are loads
 *           (and casts / views of them) used several times (reading the tile again from cache
 *           costs what reading a copy would). On the GPU also short elementwise chains used a
 *           few times (gpu_redo_cheap: recomputing beats a shared-memory buffer).
 *   buffer  everything else: reductions, dots, loop-carried values, computed values used twice,
 *           values used inside a nested loop. A stack buffer of the full block.
 *   regs    cuda only: a row kept in each thread's registers (lower_plan_regs.c).
 * Also: which values carry a looped reduction dim (reduction_loops[n] != none), checking the
 * forms the chunked emission supports, and which dots may accumulate straight into a carried
 * buffer (acc = hl.dot(a, b, acc): no copy per iteration). */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "lower/lower_internal.h"

int64_t lower_dim_size(const LowerBinding *bind, const IrFunc *f, IrDim dim) {
  switch (dim.kind) {
  case IR_DIM_BLOCK:
    return bind->block[dim.v];
  case IR_DIM_RDIM:
    return bind->rchunk[dim.v] > 0 ? bind->rchunk[dim.v] : f->rdims[dim.v].extent;
  default:
    return dim.v;
  }
}

int64_t lower_numel(const LowerBinding *bind, const IrFunc *f, const IrShape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++)
    n *= lower_dim_size(bind, f, s->dims[i]);
  return n;
}

bool lower_op_fusible(IrOpKind k) {
  IrOpClass cls = ir_op_info(k)->cls;
  if (ir_class_is_elementwise(cls)) return true;
  switch (cls) {
  case IR_CLASS_LOAD:
  case IR_CLASS_RESHAPE:
  case IR_CLASS_PERMUTE:
  case IR_CLASS_UNSQUEEZE:
  case IR_CLASS_SQUEEZE:
  case IR_CLASS_EXPAND:
  case IR_CLASS_FULL:
  case IR_CLASS_ARANGE:
    return true;
  default:
    return k == IR_OP_TILE_INDEX;
  }
}

static bool cheap(IrOpKind k) {
  return k == IR_OP_FULL || k == IR_OP_ARANGE || k == IR_OP_TILE_INDEX;
}

void lower_plan_free(LowerPlan *p) {
  if (!p) return;
  mem_free(p->kind);
  mem_free(p->nuses);
  mem_free(p->rloop);
  mem_free(p->inplace);
  mem_free(p->regv);
  mem_free(p->loops);
  mem_free(p);
}

/* Per value: the op that uses it last (program order), and whether some use is in another
 * region than the value's own. */
typedef struct Use {
  const IrOp *user;
  bool elsewhere;
} Use;

typedef struct PlanWalk {
  LowerCtx *c;
  const IrFunc *f;
  LowerPlan *p;
  Use *use;
  Diag *d;
} PlanWalk;

static bool op_writes(const IrOp *op) {
  if (op->kind == IR_OP_STORE || op->kind == IR_OP_ATOMIC_ADD) return true;
  if (!op->body) return false;
  for (const IrOp *o = op->body->first; o; o = o->next)
    if (op_writes(o)) return true;
  return false;
}

static void count_uses(PlanWalk *w, const IrRegion *r) {
  for (const IrOp *op = r->first; op; op = op->next) {
    for (int i = 0; i < op->nargs; i++) {
      IrValueId v = op->args[i];
      bool dup = false;
      for (int j = 0; j < i; j++)
        dup |= op->args[j] == v;
      if (dup) continue;
      w->p->nuses[v]++;
      w->use[v].user = op;
      if (ir_value(w->f, v)->region != r) w->use[v].elsewhere = true;
    }
    if (op->body) count_uses(w, op->body);
  }
}

/* Loads (and casts and views of them) cost about as much to read again as a buffer does: the
 * tile is in cache from its first use. Reading them again saves the copy into a buffer. */
#define RELOAD_MAX_BYTES ((int64_t)256 << 10)

static bool reload_cheap(PlanWalk *w, const IrOp *def, IrValueId v) {
  const IrValue *val = ir_value(w->f, v);
  int64_t bytes =
      lower_numel(&w->c->bind, w->f, &val->shape) * (int64_t)tensor_dtype_size(val->dtype);
  if (bytes > RELOAD_MAX_BYTES) return false;
  for (int depth = 0; def && depth < 4; depth++) {
    IrOpClass cls = ir_op_info(def->kind)->cls;
    if (cls == IR_CLASS_LOAD) return true;
    if (cls != IR_CLASS_CAST && cls != IR_CLASS_PERMUTE && cls != IR_CLASS_UNSQUEEZE &&
        cls != IR_CLASS_EXPAND && cls != IR_CLASS_SQUEEZE)
      return false;
    const IrValue *a = ir_value(w->f, def->args[0]);
    if (a->def_kind != IR_DEF_RESULT || w->p->nuses[def->args[0]] != 1) return false;
    def = a->def;
  }
  return false;
}

/* Ops a consumer evaluates per element for a lazy value (its own and the lazy ones under it);
 * past `cap` the exact count does not matter. */
static int lazy_cost(PlanWalk *w, IrValueId v, int cap) {
  const IrValue *val = ir_value(w->f, v);
  if (val->def_kind != IR_DEF_RESULT || w->p->kind[v] != PLAN_LAZY) return 0;
  int n = 1;
  for (int i = 0; i < val->def->nargs && n <= cap; i++)
    n += lazy_cost(w, val->def->args[i], cap);
  return n;
}

/* GPU: an elementwise chain used a few times is evaluated again by each consumer (its loads read
 * again from L1 / L2) rather than kept in a shared-memory buffer: a buffer of a whole tile (a
 * softmax row's exp) costs shared memory, so occupancy, plus a store, a load and two barriers
 * per element. Chains of at most GPU_REDO_OPS ops, at most GPU_REDO_USES uses. */
#define GPU_REDO_OPS 12
#define GPU_REDO_USES 3

static bool gpu_redo_cheap(PlanWalk *w, const IrOp *def, IrValueId v) {
  if (w->c->target != LOWER_TARGET_CUDA || w->p->nuses[v] > GPU_REDO_USES) return false;
  int n = 1;
  for (int i = 0; i < def->nargs && n <= GPU_REDO_OPS; i++)
    n += lazy_cost(w, def->args[i], GPU_REDO_OPS);
  return n <= GPU_REDO_OPS;
}

/* Whether v (defined by def) may be evaluated in its consumers' loops: every use in def's
 * region with no store between def and the last use, and either one use or cheap to redo. */
static bool lazy_ok(PlanWalk *w, const IrOp *def, IrValueId v) {
  const IrOp *user = w->use[v].user;
  if (!user || user->parent != def->parent || w->use[v].elsewhere) return false;
  if (w->p->nuses[v] != 1 && !reload_cheap(w, def, v) && !gpu_redo_cheap(w, def, v)) return false;
  for (const IrOp *o = def->next; o && o != user; o = o->next)
    if (op_writes(o)) return false;
  return true;
}

static int rloop_of(PlanWalk *w, const IrShape *s, const IrOp *where, int8_t *out) {
  int n = -1;
  for (int i = 0; i < s->rank; i++) {
    IrDim dm = s->dims[i];
    if (dm.kind != IR_DIM_RDIM || w->c->bind.rchunk[dm.v] == 0) continue;
    if (n >= 0 && n != dm.v) {
      char where_s[300];
      return diag_set(w->d,
                      "config field reduction_loops: a value at %s has two looped reduction "
                      "dims (R%d and R%lld); loop at most one of them (set the other to none)",
                      ir_loc_str(w->f, where->loc, where_s, sizeof where_s), n, (long long)dm.v);
    }
    n = (int)dm.v;
  }
  *out = (int8_t)n;
  return HL_OK;
}

static int rloop_unsupported(PlanWalk *w, int n, const IrOp *op, const char *why) {
  char where[300];
  int base = w->c->cfg->base;
  return diag_set(w->d,
                  "config field reduction_loops[%d]: R%d cannot be looped in chunks here (%s at "
                  "%s); use none (the whole dim at once) for it",
                  n + base, n, why, ir_loc_str(w->f, op->loc, where, sizeof where));
}

static void set_kind(PlanWalk *w, IrValueId v, PlanKind k) {
  w->p->kind[v] = (uint8_t)k;
}

static PlanKind by_size(PlanWalk *w, IrValueId v) {
  const IrValue *val = ir_value(w->f, v);
  return lower_numel(&w->c->bind, w->f, &val->shape) == 1 ? PLAN_SCALAR : PLAN_BUFFER;
}

static int plan_region(PlanWalk *w, const IrRegion *r) {
  LowerPlan *p = w->p;
  for (int i = 0; i < r->nargs; i++) {
    const IrValue *a = ir_value(w->f, r->args[i]);
    if (a->kind == IR_VAL_TILE) continue;
    set_kind(w, r->args[i], a->shape.rank == 0 ? PLAN_SCALAR : by_size(w, r->args[i]));
    if (rloop_of(w, &a->shape, r->owner, &p->rloop[r->args[i]])) return HL_ERR;
    if (p->rloop[r->args[i]] >= 0)
      return rloop_unsupported(w, p->rloop[r->args[i]], r->owner, "a loop carries a value with it");
  }
  for (const IrOp *op = r->first; op; op = op->next) {
    if (op->kind == IR_OP_SOFTMAX || op->kind == IR_OP_MEAN)
      return diag_set(w->d, "internal: %s reached the emitter undecomposed",
                      ir_op_info(op->kind)->name);
    if (op->body) {
      if (r->depth == 0 && op->nresults > 0) {
        char where[300];
        return diag_set(w->d,
                        "a top-level device loop at %s carries values out of the loop; its "
                        "programs run in parallel, so nothing can be carried across them",
                        ir_loc_str(w->f, op->loc, where, sizeof where));
      }
      if (plan_region(w, op->body)) return HL_ERR;
      for (int i = 0; i < op->nresults; i++)
        set_kind(w, op->results[i], by_size(w, op->results[i]));
      continue;
    }
    for (int i = 0; i < op->nresults; i++) {
      IrValueId v = op->results[i];
      const IrValue *val = ir_value(w->f, v);
      if (rloop_of(w, &val->shape, op, &p->rloop[v])) return HL_ERR;
      PlanKind k = by_size(w, v);
      if (k != PLAN_SCALAR && lower_op_fusible(op->kind) &&
          (cheap(op->kind) || p->nuses[v] == 0 || lazy_ok(w, op, v)))
        k = PLAN_LAZY;
      set_kind(w, v, k);
      if (p->rloop[v] >= 0 && p->nuses[v] > 0 && op->kind == IR_OP_ATOMIC_ADD)
        return rloop_unsupported(w, p->rloop[v], op, "the old values of an atomic add are used");
    }
  }
  return HL_OK;
}

/* Values with a looped reduction dim are made chunk by chunk right before their consumer: every
 * use must be in the defining region, by a plain op (not a yield or a loop's init). */
static int check_rloops(PlanWalk *w, const IrRegion *r) {
  for (const IrOp *op = r->first; op; op = op->next) {
    for (int i = 0; i < op->nargs; i++) {
      IrValueId v = op->args[i];
      int n = w->p->rloop[v];
      if (n < 0) continue;
      if (ir_value(w->f, v)->region != r || op->kind == IR_OP_YIELD || op->body)
        return rloop_unsupported(w, n, op, "a value with the dim is used in a nested loop");
    }
    if (op->body && check_rloops(w, op->body)) return HL_ERR;
  }
  return HL_OK;
}

/* acc = dot(a, b, acc) yielded back into acc's carried slot: the dot may accumulate in place. */
static void plan_inplace(PlanWalk *w, const IrRegion *r) {
  for (const IrOp *op = r->first; op; op = op->next) {
    if (!op->body) continue;
    plan_inplace(w, op->body);
    const IrRegion *body = op->body;
    const IrOp *y = body->last;
    int niter = body->nargs - (y ? y->nargs : 0);
    for (int i = 0; y && i < y->nargs; i++) {
      IrValueId carried = body->args[niter + i], yv = y->args[i];
      const IrValue *val = ir_value(w->f, yv);
      const IrOp *def = val->def_kind == IR_DEF_RESULT ? val->def : NULL;
      if (def && def->kind == IR_OP_DOT && def->parent == body && def->nargs == 3 &&
          def->args[2] == carried && w->p->nuses[carried] == 1 && w->p->kind[yv] == PLAN_BUFFER &&
          w->p->rloop[yv] < 0)
        w->p->inplace[yv] = carried;
    }
  }
}

int lower_pass_plan(LowerCtx *c, Diag *d) {
  const IrFunc *f = c->ir;
  LowerPlan *p = mem_calloc(1, sizeof *p);
  int n = f->nvalues > 0 ? f->nvalues : 1;
  PlanWalk w = {.c = c, .f = f, .p = p, .d = d};
  if (p) {
    p->nvalues = f->nvalues;
    p->kind = mem_calloc((size_t)n, sizeof *p->kind);
    p->nuses = mem_calloc((size_t)n, sizeof *p->nuses);
    p->rloop = mem_alloc((size_t)n * sizeof *p->rloop);
    p->inplace = mem_alloc((size_t)n * sizeof *p->inplace);
    p->nloops = ir_func_loops(f, NULL, 0);
    p->loops = mem_calloc((size_t)(p->nloops + 1), sizeof *p->loops);
    w.use = mem_calloc((size_t)n, sizeof *w.use);
  }
  if (!p || !p->kind || !p->nuses || !p->rloop || !p->inplace || !p->loops || !w.use) {
    lower_plan_free(p);
    mem_free(w.use);
    return diag_set(d, "out of memory while planning the lowering");
  }
  c->plan = p;
  IrLoopInfo *infos = mem_alloc((size_t)(p->nloops + 1) * sizeof *infos);
  if (!infos) {
    mem_free(w.use);
    return diag_set(d, "out of memory while planning the lowering");
  }
  ir_func_loops(f, infos, p->nloops);
  for (int i = 0; i < p->nloops; i++)
    p->loops[i] = infos[i].op;
  mem_free(infos);
  for (int i = 0; i < f->nvalues; i++) {
    p->rloop[i] = -1;
    p->inplace[i] = IR_NONE;
  }
  count_uses(&w, f->body);
  for (int i = 0; i < f->nargs; i++) {
    const IrValue *a = ir_value(f, f->args[i]);
    set_kind(&w, f->args[i], a->kind == IR_VAL_TENSOR ? PLAN_NONE : PLAN_SCALAR);
  }
  int rc = plan_region(&w, f->body);
  if (rc == HL_OK) rc = check_rloops(&w, f->body);
  if (rc == HL_OK) plan_inplace(&w, f->body);
  mem_free(w.use);
  if (rc == HL_OK) rc = lower_plan_regs(c, p, d); /* cuda: register-resident rows */
  return rc;
}
