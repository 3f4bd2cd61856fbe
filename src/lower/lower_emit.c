/* Pass "emit_llvm": the bound tile IR to an LLVM module with two functions. Part of src/lower.
 *
 *   int64_t <k>_grid(void **args)   the number of programs (host code: scalar ops, loop bounds)
 *   void <k>_program(void **args, int64_t pid_begin, int64_t pid_end)
 *       runs programs pid_begin..pid_end-1; a program is one tile (or grid point) of one
 *       top-level loop nest, the nests' programs numbered one after another.
 * args[i] is kernel argument i: a tensor's data pointer, or a pointer to an 8-byte slot holding
 * a scalar (a double for float dtypes, an int64 otherwise).
 *
 * Statements are emitted in program order; values follow the plan (scalar / lazy / buffer).
 * Ops reading a looped reduction dim run inside a chunk loop that recomputes their inputs chunk
 * by chunk ("sinks": reductions over the dim, stores, dots over it); the values carrying the dim
 * are made per chunk (em_prepare). */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "lower/lower_internal.h"

bool lower_test_break_llvm;

#define FRAME_LIMIT ((size_t)48 << 20) /* stack of one program: the pool's threads have 64 MiB */
#define SHARED_LIMIT ((size_t)227 << 10) /* dynamic shared memory of one CTA on sm_90 */

static const IrValue *val(LEmit *E, IrValueId id) {
  return ir_value(E->f, id);
}

int em_loop_index(LEmit *E, const IrOp *op) {
  for (int i = 0; i < E->plan->nloops; i++)
    if (E->plan->loops[i] == op) return i;
  return 0;
}

static LLVMValueRef scalar_i64(LEmit *E, IrValueId id) {
  return em_cast(E, val(E, id)->dtype, DT_INT64, em_eval(E, id, NULL));
}

/* ---- values ---------------------------------------------------------------------------------- */

#define MAX_FUSED 8

static bool shape_eq(const IrShape *a, const IrShape *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i].kind != b->dims[i].kind || a->dims[i].v != b->dims[i].v) return false;
  return true;
}

/* Whether `id` can be evaluated inside the loop filling `v`'s buffer: v itself, values made
 * before it, or lazy ops over those (not the result of a reduction being fused). */
static bool available_in_fill(LEmit *E, IrValueId id, IrValueId v, int depth) {
  if (id == v) return true;
  const LVal *lv = &E->vals[id];
  if (lv->kind == LV_NONE || lv->kind == LV_DEFER || depth > 64) return false;
  if (lv->kind != LV_LAZY) return true;
  for (int i = 0; i < lv->op->nargs; i++)
    if (!available_in_fill(E, lv->op->args[i], v, depth + 1)) return false;
  return true;
}

/* Reductions right after `op` whose input has op's shape and reads only op's value and what
 * exists already: they run inside the loop that fills op's buffer (one pass over the tile
 * instead of two; softmax's amax and sum, rms_norm's sum of squares). The scan passes over lazy
 * ops (registering them early: they emit no code) and stops at anything else. */
static int fusible_reductions(LEmit *E, const IrOp *op, const IrOp **out) {
  IrValueId v = op->results[0];
  const IrShape *shape = &val(E, v)->shape;
  if (E->plan->rloop[v] >= 0) return 0;
  int n = 0;
  for (const IrOp *o = op->next; o && n < MAX_FUSED; o = o->next) {
    if (o->nresults != 1 || o->body || E->plan->rloop[o->results[0]] >= 0) break;
    if (ir_op_info(o->kind)->cls == IR_CLASS_REDUCE) {
      if (!shape_eq(&val(E, o->args[0])->shape, shape) || !available_in_fill(E, o->args[0], v, 0))
        break;
      out[n++] = o;
      continue;
    }
    if (E->plan->kind[o->results[0]] != PLAN_LAZY || !lower_op_fusible(o->kind)) break;
    E->vals[o->results[0]] = (LVal){.kind = LV_LAZY, .op = o};
  }
  return n;
}

/* A fusible op's result in the form the plan says (scalar, lazy, or a filled buffer). */
static int make_value(LEmit *E, const IrOp *op) {
  IrValueId r = op->results[0];
  const IrValue *rv = val(E, r);
  switch (E->plan->kind[r]) {
  case PLAN_SCALAR: {
    LLVMValueRef zeros[IR_MAX_RANK];
    for (int i = 0; i < rv->shape.rank; i++)
      zeros[i] = em_i64(E, 0);
    LLVMValueRef v = em_eval_op(E, op, zeros);
    em_name(E, v, E->f, r, "");
    em_set(E, r, (LVal){.kind = LV_SCALAR, .v = v});
    break;
  }
  case PLAN_BUFFER: {
    const IrOp *fused[MAX_FUSED];
    SinkState st[MAX_FUSED] = {{0}};
    int nf = E->gpu ? 0 : fusible_reductions(E, op, fused); /* GPU reductions split threads */
    for (int i = 0; i < nf; i++)
      if (em_reduce(E, fused[i], SINK_INIT, &st[i])) return HL_ERR;
    LLVMValueRef buf = em_buffer(E, rv->dtype, &rv->shape, rv->name ? rv->name : "t");
    LNest n;
    E->vec_esize = (int)tensor_dtype_size(rv->dtype); /* GPU: 16-byte slots of this dtype */
    em_nest_begin(E, &n, &rv->shape, NULL);
    LLVMValueRef v = em_eval_op(E, op, n.idx);
    em_buf_store(E, rv->dtype, buf, em_buf_index(E, &rv->shape, n.idx), v);
    em_set(E, r, (LVal){.kind = LV_BUF, .v = buf}); /* the fused reductions read it back */
    for (int i = 0; i < nf; i++)
      em_reduce_element(E, fused[i], &st[i], n.idx, true);
    em_nest_end(E, &n);
    for (int i = 0; i < nf; i++) {
      if (em_reduce(E, fused[i], SINK_FINISH, &st[i])) return HL_ERR;
      E->done[fused[i]->results[0]] = true;
    }
    break;
  }
  case PLAN_REGS:
    return em_regs_fill(E, op);
  default:
    em_set(E, r, (LVal){.kind = LV_LAZY, .op = op});
  }
  return E->failed ? HL_ERR : HL_OK;
}

static int sink_phase(LEmit *E, const IrOp *op, SinkPhase ph, SinkState *st) {
  switch (ir_op_info(op->kind)->cls) {
  case IR_CLASS_REDUCE:
    return em_reduce(E, op, ph, st);
  case IR_CLASS_DOT:
    return em_dot(E, op, ph, st);
  default:
    return ph == SINK_BODY ? em_store(E, op) : HL_OK;
  }
}

static int run_sink(LEmit *E, const IrOp *op) {
  SinkState st = {0};
  if (sink_phase(E, op, SINK_INIT, &st) || sink_phase(E, op, SINK_BODY, &st) ||
      sink_phase(E, op, SINK_FINISH, &st))
    return HL_ERR;
  return HL_OK;
}

int em_prepare(LEmit *E, IrValueId id) {
  const LVal *v = &E->vals[id];
  if (v->kind != LV_DEFER || E->sgen[id] == E->gen) return HL_OK;
  const IrOp *op = v->op;
  for (int i = 0; i < op->nargs; i++)
    if (em_prepare(E, op->args[i])) return HL_ERR;
  LLVMMetadataRef prev = em_dbg_at(E, op);
  int rc = lower_op_fusible(op->kind) ? make_value(E, op) : run_sink(E, op);
  em_dbg_restore(E, prev);
  return rc;
}

/* The looped reduction dim a sink consumes, or -1. */
static int sink_rdim(LEmit *E, const IrOp *op) {
  for (int i = 0; i < op->nargs; i++) {
    const IrValue *a = val(E, op->args[i]);
    if (a->kind == IR_VAL_DATA && E->plan->rloop[op->args[i]] >= 0)
      return E->plan->rloop[op->args[i]];
  }
  const IrAttrs *a = op->attrs;
  if (op->kind == IR_OP_STORE || op->kind == IR_OP_ATOMIC_ADD)
    for (int e = 0; e < a->nidx; e++)
      if (a->idx[e] == IR_IDX_SLICE && E->bind->rchunk[a->rdim[e]] > 0) return a->rdim[e];
  return -1;
}

static int emit_sink(LEmit *E, const IrOp *op) {
  bool pure = op->kind != IR_OP_STORE && op->kind != IR_OP_ATOMIC_ADD;
  if (pure && op->nresults && E->plan->rloop[op->results[0]] >= 0) {
    E->vals[op->results[0]] = (LVal){.kind = LV_DEFER, .op = op};
    return HL_OK;
  }
  int n = sink_rdim(E, op);
  if (n < 0) return run_sink(E, op);
  SinkState st = {0};
  if (sink_phase(E, op, SINK_INIT, &st)) return HL_ERR;
  int64_t ext = E->f->rdims[n].extent, chunk = E->bind->rchunk[n];
  LLoop l;
  em_loop_begin(E, &l, em_i64(E, 0), em_i64(E, ext), em_i64(E, chunk), "chunk");
  E->roff[n] = l.iv;
  E->rlen[n] = em_smin(E, em_i64(E, chunk), LLVMBuildSub(E->b, em_i64(E, ext), l.iv, ""));
  E->in_chunk[n] = true;
  E->gen++;
  for (int i = 0; i < op->nargs; i++)
    if (em_prepare(E, op->args[i])) return HL_ERR;
  if (sink_phase(E, op, SINK_BODY, &st)) return HL_ERR;
  em_loop_end(E, &l, NULL);
  E->in_chunk[n] = false;
  E->gen++;
  return sink_phase(E, op, SINK_FINISH, &st);
}

/* ---- loops ----------------------------------------------------------------------------------- */

void em_loop_dims(LEmit *E, const IrOp *op, LoopDims *ld) {
  const IrAttrs *a = op->attrs;
  ld->ndims = a->ndims;
  for (int d = 0; d < a->ndims; d++) {
    IrValueId b = op->args[2 * d], e = op->args[2 * d + 1];
    ld->lb[d] = scalar_i64(E, b);
    ld->ub[d] = scalar_i64(E, e);
    ld->block[d] = op->kind == IR_OP_TILE ? em_dim(E, a->block[d]) : 1;
    if (!ir_const_int(E->f, b, &ld->clb[d])) ld->clb[d] = INT64_MIN;
    if (!ir_const_int(E->f, e, &ld->cub[d])) ld->cub[d] = INT64_MAX;
    LLVMValueRef ext = em_smax(E, LLVMBuildSub(E->b, ld->ub[d], ld->lb[d], ""), em_i64(E, 0));
    if (ld->block[d] > 1)
      ext = LLVMBuildUDiv(E->b, LLVMBuildAdd(E->b, ext, em_i64(E, ld->block[d] - 1), ""),
                          em_i64(E, ld->block[d]), "");
    ld->count[d] = ext;
  }
}

/* Makes the iteration value of dim d whose tile / index begins at `begin`. */
static void bind_iter(LEmit *E, const IrOp *op, const LoopDims *ld, int d, LLVMValueRef begin,
                      LTile *tile, LTile **saved) {
  IrValueId it = op->body->args[d];
  if (op->kind != IR_OP_TILE) {
    E->vals[it] = (LVal){.kind = LV_SCALAR, .v = begin};
    em_name(E, begin, E->f, it, "");
    return;
  }
  int64_t B = ld->block[d];
  tile->block = B;
  tile->begin = begin;
  /* constant bounds that B divides: every tile is whole, its valid length a constant */
  bool whole = ld->clb[d] != INT64_MIN && ld->cub[d] != INT64_MAX && ld->cub[d] > ld->clb[d] &&
               (ld->cub[d] - ld->clb[d]) % B == 0;
  tile->end = whole ? LLVMBuildNSWAdd(E->b, begin, em_i64(E, B), "")
                    : em_smin(E, LLVMBuildNSWAdd(E->b, begin, em_i64(E, B), ""), ld->ub[d]);
  tile->vlen = whole ? em_i64(E, B) : LLVMBuildSub(E->b, tile->end, begin, "");
  tile->id = LLVMBuildSDiv(E->b, begin, em_i64(E, B), "");
  tile->count = ld->count[d];
  tile->nonneg = ld->clb[d] != INT64_MIN && ld->clb[d] >= 0;
  tile->loop_end = ld->cub[d];
  tile->max_index = INT64_MAX;
  if (ld->clb[d] != INT64_MIN && ld->cub[d] != INT64_MAX) {
    int64_t ext = ld->cub[d] > ld->clb[d] ? ld->cub[d] - ld->clb[d] : 0;
    tile->max_index = ld->clb[d] + (ext + B - 1) / B * B - 1;
  }
  em_name(E, begin, E->f, it, ".begin");
  E->vals[it] = (LVal){.kind = LV_TILE, .tile = tile};
  IrDim bd = op->attrs->block[d];
  *saved = NULL;
  if (bd.kind == IR_DIM_BLOCK) {
    *saved = E->active[bd.v];
    E->active[bd.v] = tile;
  }
}

static void unbind_iters(LEmit *E, const IrOp *op, LTile **saved) {
  for (int d = 0; op->kind == IR_OP_TILE && d < op->attrs->ndims; d++) {
    IrDim bd = op->attrs->block[d];
    if (bd.kind == IR_DIM_BLOCK) E->active[bd.v] = saved[d];
  }
}

/* End of a loop body: the yielded values become the carried slots' contents. Values that read
 * slots are copied out first, so `yield b, a` swaps correctly. */
static int emit_yield(LEmit *E, const IrOp *lop, LLVMValueRef *slots, int ncar) {
  const IrRegion *body = lop->body;
  const IrOp *y = body->last;
  int niter = body->nargs - ncar;
  LLVMValueRef src[256];
  for (int i = 0; i < ncar; i++) {
    IrValueId yv = y->args[i], ba = body->args[niter + i];
    const IrValue *iv = val(E, yv);
    src[i] = NULL;
    if (E->plan->inplace[yv] == ba) continue;
    if (E->plan->kind[ba] == PLAN_SCALAR) {
      LLVMValueRef zeros[IR_MAX_RANK];
      for (int k = 0; k < iv->shape.rank; k++)
        zeros[k] = em_i64(E, 0);
      src[i] = em_eval(E, yv, zeros);
      continue;
    }
    src[i] = em_materialize(E, yv);
    for (int j = 0; j < ncar; j++) {
      if (j == i || src[i] != slots[j]) continue;
      LLVMValueRef tmp = em_buffer(E, iv->dtype, &iv->shape, "swap");
      em_copy_buf(E, tmp, src[i], iv->dtype, em_numel(E, &iv->shape));
      src[i] = tmp;
    }
  }
  for (int i = 0; i < ncar; i++) {
    IrValueId yv = y->args[i], ba = body->args[niter + i];
    if (!src[i]) continue;
    if (E->plan->kind[ba] == PLAN_SCALAR)
      em_buf_store(E, val(E, ba)->dtype, slots[i], em_i64(E, 0), src[i]);
    else if (src[i] != slots[i])
      em_copy_buf(E, slots[i], src[i], val(E, yv)->dtype, em_numel(E, &val(E, yv)->shape));
  }
  return E->failed ? HL_ERR : HL_OK;
}

/* A carried value's form inside the body / after the loop, from its slot. */
static LVal slot_value(LEmit *E, IrValueId v, LLVMValueRef slot) {
  if (E->plan->kind[v] == PLAN_SCALAR)
    return (LVal){.kind = LV_SCALAR, .v = em_buf_load(E, val(E, v)->dtype, slot, em_i64(E, 0))};
  return (LVal){.kind = LV_BUF, .v = slot};
}

/* A device loop inside a program: loops over the dims in the configured order, carried values
 * in stack slots. */
static int emit_loop(LEmit *E, const IrOp *op) {
  if (op->kind == IR_OP_FOR)
    return em_fail(E, op, "is a lowered-phase op; the CPU emitter takes traced IR");
  const IrRegion *body = op->body;
  LoopDims ld;
  em_loop_dims(E, op, &ld);
  int nd = ld.ndims, ncar = body->nargs - nd, li = em_loop_index(E, op);
  if (E->gpu && em_nvptx_dot_loop_match(E, op)) /* tensor cores (lower_nvptx_dot.c) */
    return em_nvptx_dot_loop(E, op, &ld);
  const int *order = E->bind->order[li];
  LLVMValueRef slots[256];
  for (int i = 0; i < ncar; i++) {
    IrValueId init = op->args[2 * nd + i], ba = body->args[nd + i];
    const IrValue *bv = val(E, ba);
    if (E->gpu && E->plan->kind[ba] == PLAN_SCALAR) { /* every thread keeps its own copy */
      slots[i] = em_alloca(E, em_mem_type(E, bv->dtype), 1, "carry");
      LLVMValueRef zeros[IR_MAX_RANK];
      for (int k = 0; k < IR_MAX_RANK; k++)
        zeros[k] = em_i64(E, 0);
      em_buf_store(E, bv->dtype, slots[i], em_i64(E, 0),
                   em_cast(E, val(E, init)->dtype, bv->dtype, em_eval(E, init, zeros)));
      continue;
    }
    slots[i] = em_buffer(E, bv->dtype, &bv->shape, bv->name ? bv->name : "carry");
    em_fill(E, slots[i], bv->dtype, &bv->shape, init);
  }
  LLoop loops[IR_MAX_RANK];
  LTile tiles[IR_MAX_RANK], *saved[IR_MAX_RANK] = {NULL};
  for (int k = 0; k < nd; k++) {
    int d = order[k];
    em_loop_begin(E, &loops[k], ld.lb[d], ld.ub[d], em_i64(E, ld.block[d]), "loop");
  }
  for (int k = 0; k < nd; k++) {
    int d = order[k];
    bind_iter(E, op, &ld, d, loops[k].iv, &tiles[d], &saved[d]);
  }
  for (int i = 0; i < ncar; i++)
    E->vals[body->args[nd + i]] = slot_value(E, body->args[nd + i], slots[i]);
  if (em_region(E, body) || emit_yield(E, op, slots, ncar)) return HL_ERR;
  unbind_iters(E, op, saved);
  for (int k = nd - 1; k >= 0; k--)
    em_loop_end(E, &loops[k], k == nd - 1 ? em_loop_md(E, 0, E->bind->unroll[li]) : NULL);
  for (int i = 0; i < op->nresults; i++)
    E->vals[op->results[i]] = slot_value(E, op->results[i], slots[i]);
  return HL_OK;
}

/* ---- statements ------------------------------------------------------------------------------ */

static int emit_decl(LEmit *E, const IrOp *op) {
  IrValueId r = op->results[0];
  DType dt = val(E, r)->dtype;
  IrScalar s = {0};
  if (op->kind == IR_OP_REGISTER_BLOCK_SIZE) {
    s.i = E->bind->block[op->attrs->slot];
  } else if (op->kind == IR_OP_TUNABLE) {
    s.is_float = true;
    s.f = E->bind->tunable[op->attrs->slot];
  } else {
    s = op->attrs->value;
  }
  E->vals[r] = (LVal){.kind = LV_SCALAR, .v = em_const(E, dt, s)};
  return HL_OK;
}

static int emit_tile_field(LEmit *E, const IrOp *op) {
  if (op->kind == IR_OP_TILE_INDEX) return make_value(E, op);
  const LTile *t = em_get(E, op->args[0])->tile;
  LLVMValueRef v = op->kind == IR_OP_TILE_BEGIN        ? t->begin
                   : op->kind == IR_OP_TILE_END        ? t->end
                   : op->kind == IR_OP_TILE_BLOCK_SIZE ? em_i64(E, t->block)
                   : op->kind == IR_OP_TILE_ID         ? t->id
                                                       : t->count;
  E->vals[op->results[0]] = (LVal){.kind = LV_SCALAR, .v = v};
  return HL_OK;
}

static int emit_op_at(LEmit *E, const IrOp *op);

static int emit_op(LEmit *E, const IrOp *op) {
  LLVMMetadataRef prev = em_dbg_at(E, op);
  int rc = emit_op_at(E, op);
  em_dbg_restore(E, prev);
  return rc;
}

static int emit_op_at(LEmit *E, const IrOp *op) {
  switch (ir_op_info(op->kind)->cls) {
  case IR_CLASS_CONST:
    E->vals[op->results[0]] = (LVal){
        .kind = LV_SCALAR, .v = em_const(E, val(E, op->results[0])->dtype, op->attrs->value)};
    return HL_OK;
  case IR_CLASS_DECL:
    return emit_decl(E, op);
  case IR_CLASS_LOOP:
    return emit_loop(E, op);
  case IR_CLASS_YIELD:
    return HL_OK;
  case IR_CLASS_TILE_FIELD:
    return emit_tile_field(E, op);
  case IR_CLASS_REDUCE:
    if (E->done[op->results[0]]) return HL_OK; /* fused into the loop filling its input */
    return emit_sink(E, op);
  case IR_CLASS_STORE:
  case IR_CLASS_DOT:
    return emit_sink(E, op);
  case IR_CLASS_PROGRAM:
  case IR_CLASS_PTR_LOAD:
  case IR_CLASS_PTR_STORE:
  case IR_CLASS_SOFTMAX:
    return em_fail(E, op, "is not supported by the CPU emitter");
  default:
    if (E->plan->rloop[op->results[0]] >= 0) {
      E->vals[op->results[0]] = (LVal){.kind = LV_DEFER, .op = op};
      return HL_OK;
    }
    return make_value(E, op);
  }
}

int em_region(LEmit *E, const IrRegion *r) {
  for (const IrOp *op = r->first; op; op = op->next)
    if (emit_op(E, op) || E->failed) return HL_ERR;
  return HL_OK;
}

/* ---- the two functions ----------------------------------------------------------------------- */

void em_function_begin(LEmit *E, LLVMValueRef fn) {
  unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                          LLVMCreateEnumAttribute(E->ctx, nounwind, 0));
  E->fn = fn;
  E->alloca_bb = LLVMAppendBasicBlockInContext(E->ctx, fn, "entry");
  LLVMBasicBlockRef start = LLVMAppendBasicBlockInContext(E->ctx, fn, "start");
  LLVMPositionBuilderAtEnd(E->b, start);
  em_dbg_function(E, fn);
  memset(E->vals, 0, sizeof *E->vals * (size_t)(E->f->nvalues > 0 ? E->f->nvalues : 1));
  memset(E->done, 0, sizeof *E->done * (size_t)(E->f->nvalues > 0 ? E->f->nvalues : 1));
  memset(E->active, 0, sizeof E->active);
}

static LLVMValueRef new_function(LEmit *E, const char *name, LLVMTypeRef ret, LLVMTypeRef *params,
                                 int n) {
  LLVMValueRef fn =
      LLVMAddFunction(E->mod, name, LLVMFunctionType(ret, params, (unsigned)n, false));
  em_function_begin(E, fn);
  E->args = LLVMGetParam(fn, 0);
  LLVMSetValueName2(E->args, "args", 4);
  return fn;
}

void em_function_close(LEmit *E) {
  LLVMBasicBlockRef start = LLVMGetNextBasicBlock(E->alloca_bb);
  LLVMBuilderRef ab = LLVMCreateBuilderInContext(E->ctx);
  LLVMPositionBuilderAtEnd(ab, E->alloca_bb);
  LLVMBuildBr(ab, start);
  LLVMDisposeBuilder(ab);
}

/* Kernel arguments and host code: the ops outside device loops. */
static int emit_host(LEmit *E) {
  const IrFunc *f = E->f;
  for (int i = 0; i < f->nargs; i++) {
    IrValueId a = f->args[i];
    const IrValue *av = val(E, a);
    LLVMValueRef idx = em_i64(E, i);
    LLVMValueRef slot =
        LLVMBuildLoad2(E->b, E->ptr, LLVMBuildInBoundsGEP2(E->b, E->ptr, E->args, &idx, 1, ""), "");
    if (av->kind == IR_VAL_TENSOR) {
      em_name(E, slot, f, a, "");
      E->vals[a] = (LVal){.kind = LV_TENSOR, .v = slot};
      continue;
    }
    bool fl = ir_dtype_is_float(av->dtype);
    LLVMValueRef raw = LLVMBuildLoad2(E->b, fl ? E->f64 : E->i64, slot, "");
    LLVMValueRef v = em_cast(E, fl ? DT_FLOAT64 : DT_INT64, av->dtype, raw);
    em_name(E, v, f, a, "");
    E->vals[a] = (LVal){.kind = LV_SCALAR, .v = v};
  }
  return em_host_ops(E);
}

int em_host_ops(LEmit *E) {
  for (const IrOp *op = E->f->body->first; op; op = op->next)
    if (!op->body && emit_op(E, op)) return HL_ERR;
  return HL_OK;
}

static LLVMValueRef nest_total(LEmit *E, const LoopDims *ld) {
  LLVMValueRef t = ld->count[0];
  for (int d = 1; d < ld->ndims; d++)
    t = LLVMBuildNSWMul(E->b, t, ld->count[d], "");
  return t;
}

static int emit_grid_fn(LEmit *E, const char *name) {
  LLVMTypeRef params[1] = {E->ptr};
  new_function(E, name, E->i64, params, 1);
  if (emit_host(E)) return HL_ERR;
  LLVMValueRef total = em_i64(E, 0);
  for (const IrOp *op = E->f->body->first; op; op = op->next) {
    if (!op->body) continue;
    LoopDims ld;
    em_loop_dims(E, op, &ld);
    total = LLVMBuildNSWAdd(E->b, total, nest_total(E, &ld), "");
  }
  LLVMBuildRet(E->b, total);
  em_function_close(E);
  return HL_OK;
}

/* One program of a top-level nest: its tile per dim from `local` (the last dim of the loop
 * order varies fastest), then the body. */
int em_nest_program(LEmit *E, const IrOp *op, const LoopDims *ld, LLVMValueRef local) {
  const int *order = E->bind->order[em_loop_index(E, op)];
  LTile tiles[IR_MAX_RANK], *saved[IR_MAX_RANK] = {NULL};
  LLVMValueRef id[IR_MAX_RANK];
  for (int k = ld->ndims - 1; k >= 0; k--) {
    int d = order[k];
    if (k == 0) {
      id[d] = local;
    } else {
      id[d] = LLVMBuildURem(E->b, local, ld->count[d], "");
      local = LLVMBuildUDiv(E->b, local, ld->count[d], "");
    }
  }
  for (int d = 0; d < ld->ndims; d++) {
    LLVMValueRef begin = LLVMBuildNSWAdd(
        E->b, ld->lb[d], LLVMBuildNSWMul(E->b, id[d], em_i64(E, ld->block[d]), ""), "");
    bind_iter(E, op, ld, d, begin, &tiles[d], &saved[d]);
  }
  if (em_region(E, op->body)) return HL_ERR;
  unbind_iters(E, op, saved);
  return HL_OK;
}

static int emit_program_fn(LEmit *E, const char *name) {
  LLVMTypeRef params[3] = {E->ptr, E->i64, E->i64};
  LLVMValueRef fn = new_function(E, name, E->vd, params, 3);
  LLVMValueRef pb = LLVMGetParam(fn, 1), pe = LLVMGetParam(fn, 2);
  LLVMSetValueName2(pb, "pid_begin", 9);
  LLVMSetValueName2(pe, "pid_end", 7);
  if (emit_host(E)) return HL_ERR;
  const IrOp *nests[LOWER_MAX_LIST];
  LoopDims dims[LOWER_MAX_LIST];
  LLVMValueRef totals[LOWER_MAX_LIST];
  int nn = 0;
  for (const IrOp *op = E->f->body->first; op; op = op->next) {
    if (!op->body) continue;
    if (nn == LOWER_MAX_LIST)
      return em_fail(E, op, "too many top-level loop nests (at most %d)", LOWER_MAX_LIST);
    nests[nn] = op;
    em_loop_dims(E, op, &dims[nn]);
    totals[nn] = nest_total(E, &dims[nn]);
    nn++;
  }
  LLoop pid;
  em_loop_begin(E, &pid, pb, pe, NULL, "pid");
  LLVMValueRef local = pid.iv;
  LLVMBasicBlockRef done = nn > 1 ? em_block(E, "program.done") : NULL;
  for (int k = 0; k < nn; k++) {
    if (k + 1 < nn) {
      LLVMBasicBlockRef here = em_block(E, "nest"), next = em_block(E, "nest.next");
      LLVMValueRef in = LLVMBuildICmp(E->b, LLVMIntSLT, local, totals[k], "");
      LLVMBuildCondBr(E->b, in, here, next);
      LLVMPositionBuilderAtEnd(E->b, here);
      if (em_nest_program(E, nests[k], &dims[k], local)) return HL_ERR;
      LLVMBuildBr(E->b, done);
      LLVMPositionBuilderAtEnd(E->b, next);
      local = LLVMBuildNSWSub(E->b, local, totals[k], "");
    } else {
      if (em_nest_program(E, nests[k], &dims[k], local)) return HL_ERR;
      if (done) {
        LLVMBuildBr(E->b, done);
        LLVMPositionBuilderAtEnd(E->b, done);
      }
    }
  }
  int unroll = nn == 1 ? E->bind->unroll[em_loop_index(E, nests[0])] : 0;
  em_loop_end(E, &pid, em_loop_md(E, 0, unroll));
  if (E->streamed) em_call_intr(E, "llvm.x86.sse.sfence", NULL, NULL, 0); /* before others read */
  LLVMBuildRetVoid(E->b);
  em_function_close(E);
  return HL_OK;
}

/* LLVM's remarks and warnings ("loop not vectorized" where a loop asked for a vector width but
 * cannot have it, e.g. argmax) are not the user's business; errors come back through the API. */
static void quiet_diagnostics(LLVMDiagnosticInfoRef info, void *ctx) {
  (void)info;
  (void)ctx;
}

int lower_pass_emit_llvm(LowerCtx *c, Diag *d) {
  const IrFunc *f = c->ir;
  LEmit E = {.c = c, .f = f, .bind = &c->bind, .plan = c->plan, .d = d};
  c->llctx = LLVMContextCreate();
  LLVMContextSetDiagnosticHandler(c->llctx, quiet_diagnostics, NULL);
  c->mod = LLVMModuleCreateWithNameInContext(f->name, c->llctx);
  char *triple = LLVMGetTargetMachineTriple(c->tm);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(c->tm);
  char *dls = LLVMCopyStringRepOfTargetData(dl);
  LLVMSetTarget(c->mod, triple);
  LLVMSetDataLayout(c->mod, dls);
  LLVMDisposeMessage(triple);
  LLVMDisposeMessage(dls);
  LLVMDisposeTargetData(dl);
  E.ctx = c->llctx;
  E.mod = c->mod;
  E.b = LLVMCreateBuilderInContext(E.ctx);
  E.gpu = c->target == LOWER_TARGET_CUDA;
  em_dbg_init(&E);
  em_init_types(&E);
  size_t n = (size_t)(f->nvalues > 0 ? f->nvalues : 1);
  E.vals = mem_calloc(n, sizeof *E.vals);
  E.svals = mem_calloc(n, sizeof *E.svals);
  E.sgen = mem_calloc(n, sizeof *E.sgen);
  E.done = mem_calloc(n, sizeof *E.done);
  E.gen = 1;
  int rc = HL_ERR;
  if (!E.vals || !E.svals || !E.sgen || !E.done) {
    diag_set(d, "out of memory while emitting LLVM IR");
    goto out;
  }
  char name[160];
  if (c->target == LOWER_TARGET_CUDA) {
    E.gpu = true;
    if (lower_nvptx_emit_kernel(&E, c->sym)) goto out;
    snprintf(c->art->entry, sizeof c->art->entry, "%s", c->sym);
    c->art->shared_bytes = (unsigned)E.shared;
    if (E.shared > SHARED_LIMIT) {
      diag_set(d,
               "the tile buffers of one program need %zu KiB of shared memory (at most %zu on "
               "sm_90): choose smaller block_sizes or loop the reductions (reduction_loops)",
               E.shared >> 10, SHARED_LIMIT >> 10);
      goto out;
    }
  } else {
    snprintf(name, sizeof name, "%s_grid", c->sym);
    if (emit_grid_fn(&E, name)) goto out;
    snprintf(name, sizeof name, "%s_program", c->sym);
    if (emit_program_fn(&E, name)) goto out;
  }
  c->art->frame_bytes = E.frame;
  if (E.frame > FRAME_LIMIT) {
    diag_set(d,
             "the tile buffers of one program need %zu MiB of stack (at most %zu): choose "
             "smaller block_sizes or loop the reductions (reduction_loops)",
             E.frame >> 20, FRAME_LIMIT >> 20);
    goto out;
  }
  if (lower_test_break_llvm) LLVMAppendBasicBlockInContext(E.ctx, E.fn, "unterminated");
  em_dbg_finish(&E);
  char *msg = NULL;
  if (LLVMVerifyModule(c->mod, LLVMReturnStatusAction, &msg)) {
    diag_set(d, "internal: the generated LLVM IR does not verify: %.800s", msg ? msg : "");
    LLVMDisposeMessage(msg);
    goto out;
  }
  LLVMDisposeMessage(msg);
  rc = HL_OK;
out:
  if (E.failed) rc = HL_ERR;
  em_dbg_dispose(&E);
  LLVMDisposeBuilder(E.b);
  mem_free(E.vals);
  mem_free(E.svals);
  mem_free(E.sgen);
  mem_free(E.done);
  return rc;
}
