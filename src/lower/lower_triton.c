/* The Triton renderer: tile IR x a cuda Config -> one Python module (a @triton.jit kernel and a
 * host function that launches it). Part of src/lower (the "triton" stage; share/doc/triton.md).
 *
 * Shapes, strides and loop bounds are baked in (the IR is specialized on them); block sizes are
 * tl.constexpr parameters. This file holds the entry point, value names and loops;
 * lower_triton_program.c the program-id mapping and the module, lower_triton_ops.c the ops,
 * lower_triton_mem.c loads and stores, lower_triton_util.c the text helpers. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "lower/lower_triton_internal.h"

#define E 1024

/* ---- names ------------------------------------------------------------------------------------
 */

static const char *const reserved[] = {"False",     "None",     "True",
                                       "and",       "as",       "assert",
                                       "async",     "await",    "break",
                                       "class",     "continue", "def",
                                       "del",       "elif",     "else",
                                       "except",    "finally",  "for",
                                       "from",      "global",   "if",
                                       "import",    "in",       "is",
                                       "lambda",    "nonlocal", "not",
                                       "or",        "pass",     "raise",
                                       "return",    "try",      "while",
                                       "with",      "yield",    "tl",
                                       "triton",    "torch",    "libdevice",
                                       "float",     "int",      "min",
                                       "max",       "range",    "len",
                                       "abs",       "sum",      "print",
                                       "pid",       "total",    "tuple",
                                       "any",       "zip",      "ValueError",
                                       "grid",      "num_sms",  "num_per_program",
                                       "first_pid", NULL};
static const char *const generated[] = {
    "offset_", "indices_", "mask_",  "roffset_", "rindex_", "rmask_",      "pid_",      "v_",
    "num_",    "group_",   "first_", "inner_",   "flat_",   "group_size_", "pid_nest_", NULL};

static bool is_reserved(const char *s) {
  if (s[0] == '_') return true;
  for (int i = 0; reserved[i]; i++)
    if (strcmp(s, reserved[i]) == 0) return true;
  for (int i = 0; generated[i]; i++) {
    size_t n = strlen(generated[i]);
    if (strncmp(s, generated[i], n) == 0 && s[n] && strspn(s + n, "0123456789") == strlen(s + n))
      return true;
  }
  return false;
}

static bool taken(Tt *t, const char *s, int upto) {
  for (int i = 0; i < upto; i++)
    if (t->name[i] && strcmp(t->name[i], s) == 0) return true;
  return false;
}

static void literal_of(Tt *t, const IrValue *v, char *buf, size_t cap) {
  const IrOp *op = v->def;
  switch (op->kind) {
  case IR_OP_CONST:
  case IR_OP_SPECIALIZE: {
    const IrScalar *s = &op->attrs->value;
    if (v->dtype == DT_BOOL)
      snprintf(buf, cap, "%s", (s->is_float ? s->f != 0 : s->i != 0) ? "True" : "False");
    else if (ir_dtype_is_float(v->dtype))
      tt_double(s->is_float ? s->f : (double)s->i, buf, cap);
    else
      snprintf(buf, cap, "%lld", (long long)(s->is_float ? (int64_t)s->f : s->i));
    break;
  }
  case IR_OP_REGISTER_BLOCK_SIZE:
    snprintf(buf, cap, "_BLOCK_SIZE_%d", op->attrs->slot);
    break;
  case IR_OP_TUNABLE: {
    int64_t x = 0;
    tt_fold_int(t, op->results[0], &x);
    if (v->dtype == DT_BOOL)
      snprintf(buf, cap, "%s", x ? "True" : "False");
    else
      snprintf(buf, cap, "%lld", (long long)x);
    break;
  }
  default:
    snprintf(buf, cap, "0");
    break;
  }
}

int tt_name_values(Tt *t) {
  for (int i = 0; i < t->f->nvalues; i++) {
    const IrValue *v = tt_val(t, i);
    char buf[256];
    bool lit = v->def_kind == IR_DEF_RESULT &&
               (v->def->kind == IR_OP_CONST || v->def->kind == IR_OP_SPECIALIZE ||
                v->def->kind == IR_OP_TUNABLE || v->def->kind == IR_OP_REGISTER_BLOCK_SIZE);
    if (lit) {
      literal_of(t, v, buf, sizeof buf);
    } else if (v->def_kind == IR_DEF_RESULT && v->def->kind == IR_OP_TILE_BLOCK_SIZE) {
      buf[0] = '\0'; /* filled when the tile is opened */
      snprintf(buf, sizeof buf, "v_%d", i);
    } else if (v->name) {
      snprintf(buf, sizeof buf, "%s", v->name);
      for (char *p = buf; *p; p++)
        if (*p == '.') *p = '_';
      if (is_reserved(buf) || taken(t, buf, i)) {
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, "_%d", i);
        if (taken(t, buf, i)) snprintf(buf, sizeof buf, "v_%d", i);
      }
    } else {
      snprintf(buf, sizeof buf, "v_%d", i);
    }
    t->name[i] = tt_strdup(t, buf);
    if (!t->name[i]) return HL_ERR;
  }
  return HL_OK;
}

/* ---- loops ------------------------------------------------------------------------------------
 */

Knobs tt_knobs_of(Tt *t, const IrOp *op) {
  Knobs k = {-1, -1, -1, -1};
  int nm = 0, nl2 = 0, ni = 0, ns = 0;
  for (int i = 0; i < t->nloops; i++) {
    const IrLoopInfo *l = &t->loops[i];
    bool multi = l->kind == IR_OP_TILE && l->ndims >= 2;
    bool l2 = multi && l->depth == 0;
    bool stat = l->depth > 0;
    for (int j = 0; j < l->ndims && stat; j++)
      stat = l->extent[j] >= 0;
    if (l->op == op) {
      if (multi) k.multi = nm;
      if (l2) k.l2 = nl2;
      if (l->depth > 0) k.inner = ni;
      if (stat) k.stat = ns;
      return k;
    }
    nm += multi;
    nl2 += l2;
    ni += l->depth > 0;
    ns += stat;
  }
  return k;
}

/* The loop order of a loop: perm[0] outermost ... perm[nd - 1] innermost / fastest. */
void tt_order_of(Tt *t, const IrOp *op, Knobs k, int *perm) {
  int nd = op->attrs->ndims;
  for (int i = 0; i < nd; i++)
    perm[i] = i;
  if (k.multi < 0) return;
  const CfgField *fd = NULL;
  int fi = cfgspace_find(t->s, "loop_orders");
  if (fi >= 0) fd = cfgspace_field(t->s, fi);
  if (!fd || k.multi >= fd->count || fd->elems[k.multi].n != nd) return;
  int off = fd->offset;
  for (int e = 0; e < k.multi; e++)
    off += cfg_frag_width(&fd->elems[e]);
  for (int i = 0; i < nd; i++)
    perm[i] = t->cfg[off + i];
}

void tt_block_text(Tt *t, IrDim b, char *buf, size_t cap) {
  if (b.kind == IR_DIM_BLOCK)
    snprintf(buf, cap, "_BLOCK_SIZE_%d", (int)b.v);
  else
    snprintf(buf, cap, "%lld", (long long)b.v);
}

int64_t tt_block_value(Tt *t, IrDim b) {
  return b.kind == IR_DIM_BLOCK ? t->bs[b.v] : b.v;
}

/* Registers tile dim k of loop op (iteration value `tile`), returns its number. */
int tt_open_tdim(Tt *t, const IrOp *op, int k, int *saved_slot) {
  if (!mem_grow((void **)&t->tdims, &t->tdims_cap, t->ntdims + 1, sizeof *t->tdims, 16)) {
    t->out.oom = true;
    return -1;
  }
  int id = t->ntdims++;
  TtTdim *x = &t->tdims[id];
  IrValueId b = op->args[2 * k], e = op->args[2 * k + 1];
  snprintf(x->begin, sizeof x->begin, "%s", t->name[b]);
  snprintf(x->end, sizeof x->end, "%s", t->name[e]);
  IrDim blk = op->attrs->block[k];
  tt_block_text(t, blk, x->block, sizeof x->block);
  int64_t lo, hi, bv = tt_block_value(t, blk);
  x->pad = !(tt_fold_int(t, b, &lo) && tt_fold_int(t, e, &hi) && (hi - lo) % bv == 0);
  IrValueId tile = op->body->args[k];
  t->tdim[tile] = id;
  *saved_slot = -2;
  if (blk.kind == IR_DIM_BLOCK) {
    *saved_slot = t->slot_tdim[blk.v];
    t->slot_tdim[blk.v] = id;
  }
  return id;
}

void tt_close_tdim(Tt *t, const IrOp *op, int k, int saved) {
  IrDim blk = op->attrs->block[k];
  if (blk.kind == IR_DIM_BLOCK && saved != -2) t->slot_tdim[blk.v] = saved;
}

void tt_tdim_lanes(Tt *t, IrLoc loc, int id) {
  const TtTdim *x = &t->tdims[id];
  tt_stmt(t, loc, "indices_%d = offset_%d + tl.arange(0, %s)", id, id, x->block);
  if (x->pad) tt_stmt(t, loc, "mask_%d = indices_%d < %s", id, id, x->end);
}

int tt_check_block(Tt *t, const IrOp *op, int k) {
  int64_t b = tt_block_value(t, op->attrs->block[k]);
  if (b < 1 || tt_pow2(b) != b)
    return tt_fail(t, op, "tile block size %lld is not a power of two (Triton's tiles must be)",
                   (long long)b);
  return HL_OK;
}

static void range_kwargs(Tt *t, Knobs k, char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = '\0';
  if (k.inner < 0) return;
  int unroll = cfgspace_get(t->s, t->cfg, "range_unroll_factors", k.inner, 0);
  int stages = cfgspace_get(t->s, t->cfg, "range_num_stages", k.inner, 0);
  int mb = cfgspace_get(t->s, t->cfg, "range_multi_buffers", k.inner, CFG_NONE);
  int fl = cfgspace_get(t->s, t->cfg, "range_flattens", k.inner, CFG_NONE);
  if (unroll > 0) n += (size_t)snprintf(buf + n, cap - n, ", loop_unroll_factor=%d", unroll);
  if (stages > 0) n += (size_t)snprintf(buf + n, cap - n, ", num_stages=%d", stages);
  if (mb != CFG_NONE)
    n +=
        (size_t)snprintf(buf + n, cap - n, ", disallow_acc_multi_buffer=%s", mb ? "False" : "True");
  if (fl != CFG_NONE) snprintf(buf + n, cap - n, ", flatten=%s", fl ? "True" : "False");
}

/* A loop inside the program: tl.range / tl.static_range over blocks (tile) or indices (grid). */
static int inner_loop(Tt *t, const IrOp *op) {
  int nd = op->attrs->ndims;
  const IrRegion *body = op->body;
  int ncarried = body->nargs - nd;
  for (int i = 0; i < ncarried; i++) {
    char b[E];
    tt_stmt(t, op->loc, "%s = %s", t->name[body->args[nd + i]],
            tt_tensor(t, op->args[2 * nd + i], b, sizeof b));
  }
  Knobs k = tt_knobs_of(t, op);
  int perm[IR_MAX_RANK], ids[IR_MAX_RANK], saved[IR_MAX_RANK];
  tt_order_of(t, op, k, perm);
  bool flat = k.multi >= 0 && cfgspace_get(t->s, t->cfg, "flatten_loops", k.multi, 0);
  bool tile = op->kind == IR_OP_TILE;
  bool stat = !flat && k.stat >= 0 && cfgspace_get(t->s, t->cfg, "static_ranges", k.stat, 0);
  if (stat) {
    int64_t trips = 1;
    for (int j = 0; j < op->attrs->ndims; j++) {
      int64_t b = 0, e = 0, bs = tile ? tt_block_value(t, op->attrs->block[j]) : 1;
      if (!tt_fold_int(t, op->args[2 * j], &b) || !tt_fold_int(t, op->args[2 * j + 1], &e) ||
          bs < 1)
        trips = INT64_MAX / 2;
      else
        trips *= (e - b + bs - 1) / bs;
    }
    if (trips > TT_STATIC_MAX) {
      stat = false;
      size_t n = strlen(t->notes);
      snprintf(t->notes + n, sizeof t->notes - n,
               "# static_ranges[%d] = true: a loop of %lld iterations stays tl.range (full "
               "unrolls stop at %d).\n",
               k.stat + 1, (long long)trips, TT_STATIC_MAX);
    }
  }
  char kw[256];
  range_kwargs(t, k, kw, sizeof kw);
  int depth0 = t->indent;
  for (int j = 0; j < nd; j++)
    if (tile && tt_check_block(t, op, j)) return HL_ERR;
  if (flat) {
    /* one loop over every block of the nest, the last dim of the order fastest */
    char count[E] = "", part[E];
    for (int j = 0; j < nd; j++) {
      int d = perm[j];
      char blk[48];
      tt_block_text(t, op->attrs->block[d], blk, sizeof blk);
      snprintf(part, sizeof part, "%s%stl.cdiv(%s - %s, %s)", count, j ? " * " : "",
               t->name[op->args[2 * d + 1]], t->name[op->args[2 * d]], blk);
      snprintf(count, sizeof count, "%s", part);
    }
    int fid = t->tmp++;
    tt_stmt(t, op->loc, "for flat_%d in tl.range(0, %s%s):", fid, count, kw);
    t->indent++;
    char stride[E] = "1";
    for (int j = nd - 1; j >= 0; j--) {
      int d = perm[j];
      ids[d] = tt_open_tdim(t, op, d, &saved[d]);
      if (ids[d] < 0) return HL_ERR;
      const TtTdim *x = &t->tdims[ids[d]];
      tt_stmt(t, op->loc, "offset_%d = %s + ((flat_%d // (%s)) %% tl.cdiv(%s - %s, %s)) * %s",
              ids[d], x->begin, fid, stride, x->end, x->begin, x->block, x->block);
      tt_tdim_lanes(t, op->loc, ids[d]);
      snprintf(part, sizeof part, "%s * tl.cdiv(%s - %s, %s)", stride, x->end, x->begin, x->block);
      snprintf(stride, sizeof stride, "%s", part);
    }
  } else {
    for (int j = 0; j < nd; j++) {
      int d = perm[j];
      const char *b = t->name[op->args[2 * d]], *e = t->name[op->args[2 * d + 1]];
      const char *kws = j == 0 ? kw : "";
      if (tile) {
        ids[d] = tt_open_tdim(t, op, d, &saved[d]);
        if (ids[d] < 0) return HL_ERR;
        if (stat)
          tt_stmt(t, op->loc, "for offset_%d in tl.static_range(%s, %s, %s):", ids[d], b, e,
                  t->tdims[ids[d]].block);
        else
          tt_stmt(t, op->loc, "for offset_%d in tl.range(%s, %s, %s%s):", ids[d], b, e,
                  t->tdims[ids[d]].block, kws);
        t->indent++;
        tt_tdim_lanes(t, op->loc, ids[d]);
      } else {
        if (stat)
          tt_stmt(t, op->loc, "for %s in tl.static_range(%s, %s):", t->name[body->args[d]], b, e);
        else
          tt_stmt(t, op->loc, "for %s in tl.range(%s, %s%s):", t->name[body->args[d]], b, e, kws);
        t->indent++;
      }
    }
  }
  if (tt_emit_region(t, body)) return HL_ERR;
  t->indent = depth0;
  if (tile)
    for (int j = nd - 1; j >= 0; j--)
      tt_close_tdim(t, op, perm[j], saved[perm[j]]);
  for (int i = 0; i < op->nresults; i++) {
    mem_free(t->name[op->results[i]]);
    t->name[op->results[i]] = tt_strdup(t, t->name[body->args[nd + i]]);
    if (!t->name[op->results[i]]) return HL_ERR;
  }
  return HL_OK;
}

static int yield(Tt *t, const IrOp *op, const IrRegion *r) {
  const IrOp *loop = r->owner;
  if (!loop) return HL_OK;
  int nd = loop->attrs->ndims;
  bool swap = false;
  for (int i = 0; i < op->nargs; i++)
    for (int j = 0; j < op->nargs; j++)
      if (i != j && op->args[i] == r->args[nd + j]) swap = true;
  if (!swap) {
    for (int i = 0; i < op->nargs; i++)
      if (op->args[i] != r->args[nd + i])
        tt_stmt(t, op->loc, "%s = %s", t->name[r->args[nd + i]], t->name[op->args[i]]);
    return HL_OK;
  }
  char lhs[E] = "", rhs[E] = "", tmp[E];
  for (int i = 0; i < op->nargs; i++) {
    snprintf(tmp, sizeof tmp, "%s%s%s", lhs, i ? ", " : "", t->name[r->args[nd + i]]);
    snprintf(lhs, sizeof lhs, "%s", tmp);
    snprintf(tmp, sizeof tmp, "%s%s%s", rhs, i ? ", " : "", t->name[op->args[i]]);
    snprintf(rhs, sizeof rhs, "%s", tmp);
  }
  tt_stmt(t, op->loc, "%s = %s", lhs, rhs);
  return HL_OK;
}

int tt_emit_region(Tt *t, const IrRegion *r) {
  for (const IrOp *op = r->first; op; op = op->next) {
    int rc;
    if (op->kind == IR_OP_TILE || op->kind == IR_OP_GRID)
      rc = inner_loop(t, op);
    else if (op->kind == IR_OP_YIELD)
      rc = yield(t, op, r);
    else
      rc = tt_emit_op(t, op);
    if (rc || t->failed) return HL_ERR;
  }
  return HL_OK;
}

int lower_triton_render(const IrFunc *f, const ConfigSpace *s, const int *cfg, bool tf32, char **out,
                        size_t *len, Diag *d) {
  *out = NULL;
  *len = 0;
  if (cfgspace_target(s) != CFG_TARGET_CUDA)
    return diag_set(d, "triton stage: the config space must be the cuda target's");
  Tt t = {.f = f, .s = s, .cfg = cfg, .tf32 = tf32, .d = d};
  size_t nv = (size_t)(f->nvalues > 0 ? f->nvalues : 1);
  size_t ns = (size_t)(f->nslots > 0 ? f->nslots : 1), nr = (size_t)(f->nrdims > 0 ? f->nrdims : 1);
  t.name = mem_calloc(nv, sizeof *t.name);
  t.tdim = mem_calloc(nv, sizeof *t.tdim);
  t.deferred = mem_calloc(nv, sizeof *t.deferred);
  t.need = mem_calloc(nv, sizeof *t.need);
  t.bs = mem_calloc(ns, sizeof *t.bs);
  t.slot_tdim = mem_calloc(ns, sizeof *t.slot_tdim);
  t.rsize = mem_calloc(nr, sizeof *t.rsize);
  t.rlooped = mem_calloc(nr, sizeof *t.rlooped);
  t.rwhole = mem_calloc(nr, sizeof *t.rwhole);
  int nl = ir_func_loops(f, NULL, 0), nm = ir_func_memops(f, NULL, 0);
  t.loops = mem_calloc((size_t)(nl > 0 ? nl : 1), sizeof *t.loops);
  t.mems = mem_calloc((size_t)(nm > 0 ? nm : 1), sizeof *t.mems);
  int rc = HL_ERR;
  if (t.name && t.tdim && t.deferred && t.need && t.bs && t.slot_tdim && t.rsize && t.rlooped &&
      t.rwhole && t.loops && t.mems) {
    t.nloops = ir_func_loops(f, t.loops, nl);
    t.nmems = ir_func_memops(f, t.mems, nm);
    rc = tt_render(&t);
    if (t.out.oom && (!rc || !t.failed)) rc = diag_set(d, "triton stage: out of memory");
  } else {
    diag_set(d, "triton stage: out of memory");
  }
  if (t.name)
    for (int i = 0; i < f->nvalues; i++)
      mem_free(t.name[i]);
  mem_free(t.name);
  mem_free(t.tdim);
  mem_free(t.deferred);
  mem_free(t.need);
  mem_free(t.bs);
  mem_free(t.slot_tdim);
  mem_free(t.rsize);
  mem_free(t.rlooped);
  mem_free(t.rwhole);
  mem_free(t.loops);
  mem_free(t.mems);
  mem_free(t.tdims);
  if (rc) {
    mem_free(t.out.p);
    return HL_ERR;
  }
  if (!t.out.p) return diag_set(d, "triton stage: nothing was rendered");
  *out = t.out.p;
  *len = t.out.len;
  return HL_OK;
}
