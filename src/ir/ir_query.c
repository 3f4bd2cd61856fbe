/* Tile IR queries for the config space: loop nests (loop_orders, l2_groupings, flatten_loops,
 * range_* knobs) and memory ops (indexing, eviction policies). Part of src/ir (tile IR).
 * Block slots, reduction dims and tunables are IrFunc fields (slots, rdims, tunables). */
#include <string.h>

#include "ir/ir_internal.h"

typedef struct Walk {
  const IrFunc *f;
  IrLoopInfo *loops;
  int nloops, loops_cap;
  IrMemOpInfo *mems;
  int nmems, mems_cap;
  int nest; /* top-level loop nests seen so far */
} Walk;

static void walk_region(Walk *w, const IrRegion *r, int loop, int nest);

static void walk_loop(Walk *w, const IrOp *op, int parent, int nest) {
  const IrAttrs *a = op->attrs;
  int idx = w->nloops++;
  if (idx < w->loops_cap && a) {
    IrLoopInfo *li = &w->loops[idx];
    int per = op->kind == IR_OP_FOR ? 3 : 2;
    memset(li, 0, sizeof *li);
    li->op = op;
    li->kind = op->kind;
    li->ndims = a->ndims;
    li->depth = op->parent ? op->parent->depth : 0;
    li->parent = parent;
    li->nest = nest;
    for (int i = 0; i < a->ndims && i < IR_MAX_RANK; i++) {
      int64_t lo, hi;
      li->block[i] = a->block[i];
      li->extent[i] = -1;
      if (per * i + 1 < op->nargs && ir_const_int(w->f, op->args[per * i], &lo) &&
          ir_const_int(w->f, op->args[per * i + 1], &hi))
        li->extent[i] = hi > lo ? hi - lo : 0;
    }
  }
  if (op->body) walk_region(w, op->body, idx, nest);
}

static void walk_region(Walk *w, const IrRegion *r, int loop, int nest) {
  for (const IrOp *op = r->first; op; op = op->next) {
    IrOpClass cls = ir_op_info(op->kind)->cls;
    if (cls == IR_CLASS_LOOP) {
      walk_loop(w, op, loop, r->depth == 0 ? w->nest++ : nest);
    } else if (cls == IR_CLASS_LOAD || cls == IR_CLASS_STORE || cls == IR_CLASS_PTR_LOAD ||
               cls == IR_CLASS_PTR_STORE) {
      int idx = w->nmems++;
      if (idx < w->mems_cap) {
        IrMemOpInfo *m = &w->mems[idx];
        m->op = op;
        m->kind = op->kind;
        m->explicit_eviction = op->attrs && op->attrs->eviction != IR_EVICT_NONE;
        m->loop = loop;
      }
    }
  }
}

int ir_func_loops(const IrFunc *f, IrLoopInfo *out, int cap) {
  Walk w = {.f = f, .loops = out, .loops_cap = out ? cap : 0};
  walk_region(&w, f->body, -1, -1);
  return w.nloops;
}

int ir_func_memops(const IrFunc *f, IrMemOpInfo *out, int cap) {
  /* loop indices in the records refer to ir_func_loops' order, so walk the loops too */
  Walk w = {.f = f, .mems = out, .mems_cap = out ? cap : 0};
  walk_region(&w, f->body, -1, -1);
  return w.nmems;
}
