/* The Triton renderer: tile IR x a cuda Config -> one Python module (a @triton.jit kernel and a
 * host function that launches it). Part of src/lower (the "triton" stage; share/doc/triton.md).
 *
 * Shapes, strides and loop bounds are baked in (the IR is specialized on them); block sizes are
 * tl.constexpr parameters. This file holds the driver, value names, the program-id mapping
 * (flat, l2-grouped, xyz, persistent) and loops; lower_triton_ops.c the ops, lower_triton_mem.c
 * loads and stores, lower_triton_util.c the text helpers. */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "lower/lower_triton_internal.h"

#define E 1024

/* ---- names ------------------------------------------------------------------------------------ */

static const char *const reserved[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in",
    "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while", "with",
    "yield", "tl", "triton", "torch", "libdevice", "float", "int", "min", "max", "range", "len",
    "abs", "sum", "print", "pid", "total", "tuple", "any", "zip", "ValueError", "grid",
    "num_sms", "num_per_program", "first_pid", NULL};
static const char *const generated[] = {"offset_", "indices_", "mask_", "roffset_", "rindex_",
                                        "rmask_",  "pid_",     "v_",    "num_",     "group_",
                                        "first_",  "inner_",   "flat_", "group_size_", "pid_nest_", NULL};

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
  case IR_OP_REGISTER_BLOCK_SIZE: snprintf(buf, cap, "_BLOCK_SIZE_%d", op->attrs->slot); break;
  case IR_OP_TUNABLE: {
    int64_t x = 0;
    tt_fold_int(t, op->results[0], &x);
    if (v->dtype == DT_BOOL)
      snprintf(buf, cap, "%s", x ? "True" : "False");
    else
      snprintf(buf, cap, "%lld", (long long)x);
    break;
  }
  default: snprintf(buf, cap, "0"); break;
  }
}

static int name_values(Tt *t) {
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

/* ---- loops ------------------------------------------------------------------------------------ */

typedef struct Knobs {
  int multi, l2, inner, stat; /* this loop's element of each list, -1 when it has none */
} Knobs;

static Knobs knobs_of(Tt *t, const IrOp *op) {
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
static void order_of(Tt *t, const IrOp *op, Knobs k, int *perm) {
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

static void block_text(Tt *t, IrDim b, char *buf, size_t cap) {
  if (b.kind == IR_DIM_BLOCK)
    snprintf(buf, cap, "_BLOCK_SIZE_%d", (int)b.v);
  else
    snprintf(buf, cap, "%lld", (long long)b.v);
}

static int64_t block_value(Tt *t, IrDim b) { return b.kind == IR_DIM_BLOCK ? t->bs[b.v] : b.v; }

/* Registers tile dim k of loop op (iteration value `tile`), returns its number. */
static int open_tdim(Tt *t, const IrOp *op, int k, int *saved_slot) {
  if (t->ntdims == t->tdims_cap) {
    int cap = t->tdims_cap ? 2 * t->tdims_cap : 16;
    TtTdim *p = mem_realloc(t->tdims, sizeof *p * (size_t)cap);
    if (!p) {
      t->out.oom = true;
      return -1;
    }
    t->tdims = p;
    t->tdims_cap = cap;
  }
  int id = t->ntdims++;
  TtTdim *x = &t->tdims[id];
  IrValueId b = op->args[2 * k], e = op->args[2 * k + 1];
  snprintf(x->begin, sizeof x->begin, "%s", t->name[b]);
  snprintf(x->end, sizeof x->end, "%s", t->name[e]);
  IrDim blk = op->attrs->block[k];
  block_text(t, blk, x->block, sizeof x->block);
  int64_t lo, hi, bv = block_value(t, blk);
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

static void close_tdim(Tt *t, const IrOp *op, int k, int saved) {
  IrDim blk = op->attrs->block[k];
  if (blk.kind == IR_DIM_BLOCK && saved != -2) t->slot_tdim[blk.v] = saved;
}

static void tdim_lanes(Tt *t, IrLoc loc, int id) {
  const TtTdim *x = &t->tdims[id];
  tt_stmt(t, loc, "indices_%d = offset_%d + tl.arange(0, %s)", id, id, x->block);
  if (x->pad) tt_stmt(t, loc, "mask_%d = indices_%d < %s", id, id, x->end);
}

static int check_block(Tt *t, const IrOp *op, int k) {
  int64_t b = block_value(t, op->attrs->block[k]);
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
    n += (size_t)snprintf(buf + n, cap - n, ", disallow_acc_multi_buffer=%s", mb ? "False" : "True");
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
  Knobs k = knobs_of(t, op);
  int perm[IR_MAX_RANK], ids[IR_MAX_RANK], saved[IR_MAX_RANK];
  order_of(t, op, k, perm);
  bool flat = k.multi >= 0 && cfgspace_get(t->s, t->cfg, "flatten_loops", k.multi, 0);
  bool stat = !flat && k.stat >= 0 && cfgspace_get(t->s, t->cfg, "static_ranges", k.stat, 0);
  char kw[256];
  range_kwargs(t, k, kw, sizeof kw);
  int depth0 = t->indent;
  bool tile = op->kind == IR_OP_TILE;
  for (int j = 0; j < nd; j++)
    if (tile && check_block(t, op, j)) return HL_ERR;
  if (flat) {
    /* one loop over every block of the nest, the last dim of the order fastest */
    char count[E] = "", part[E];
    for (int j = 0; j < nd; j++) {
      int d = perm[j];
      char blk[48];
      block_text(t, op->attrs->block[d], blk, sizeof blk);
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
      ids[d] = open_tdim(t, op, d, &saved[d]);
      if (ids[d] < 0) return HL_ERR;
      const TtTdim *x = &t->tdims[ids[d]];
      tt_stmt(t, op->loc, "offset_%d = %s + ((flat_%d // (%s)) %% tl.cdiv(%s - %s, %s)) * %s", ids[d],
              x->begin, fid, stride, x->end, x->begin, x->block, x->block);
      tdim_lanes(t, op->loc, ids[d]);
      snprintf(part, sizeof part, "%s * tl.cdiv(%s - %s, %s)", stride, x->end, x->begin, x->block);
      snprintf(stride, sizeof stride, "%s", part);
    }
  } else {
    for (int j = 0; j < nd; j++) {
      int d = perm[j];
      const char *b = t->name[op->args[2 * d]], *e = t->name[op->args[2 * d + 1]];
      const char *kws = j == 0 ? kw : "";
      if (tile) {
        ids[d] = open_tdim(t, op, d, &saved[d]);
        if (ids[d] < 0) return HL_ERR;
        if (stat)
          tt_stmt(t, op->loc, "for offset_%d in tl.static_range(%s, %s, %s):", ids[d], b, e,
                  t->tdims[ids[d]].block);
        else
          tt_stmt(t, op->loc, "for offset_%d in tl.range(%s, %s, %s%s):", ids[d], b, e,
                  t->tdims[ids[d]].block, kws);
        t->indent++;
        tdim_lanes(t, op->loc, ids[d]);
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
      close_tdim(t, op, perm[j], saved[perm[j]]);
  for (int i = 0; i < op->nresults; i++) {
    mem_free(t->name[op->results[i]]);
    t->name[op->results[i]] = tt_strdup(t, t->name[body->args[nd + i]]);
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

/* ---- the program grid ------------------------------------------------------------------------- */

typedef struct Nest {
  const IrOp *op;
  int64_t count[IR_MAX_RANK]; /* programs along each dim */
  int64_t programs;
} Nest;

static int nest_counts(Tt *t, Nest *n) {
  const IrOp *op = n->op;
  n->programs = 1;
  if (op->body->nargs > op->attrs->ndims)
    return tt_fail(t, op, "a top-level loop carries values (give it its own nest)");
  for (int k = 0; k < op->attrs->ndims; k++) {
    int64_t b, e;
    if (!tt_fold_int(t, op->args[2 * k], &b) || !tt_fold_int(t, op->args[2 * k + 1], &e))
      return tt_fail(t, op, "the bounds of a top-level loop depend on scalar arguments; the "
                            "triton stage needs them fixed (hl.specialize the scalar)");
    int64_t ext = e > b ? e - b : 0;
    if (op->kind == IR_OP_TILE) {
      if (check_block(t, op, k)) return HL_ERR;
      int64_t bs = block_value(t, op->attrs->block[k]);
      n->count[k] = (ext + bs - 1) / bs;
    } else {
      n->count[k] = ext;
    }
    n->programs *= n->count[k];
  }
  return HL_OK;
}

/* pid_<id> for every dim of nest n from the program number `pid` (a Python expression). */
static int nest_program(Tt *t, const Nest *n, const char *pid, bool xyz) {
  const IrOp *op = n->op;
  int nd = op->attrs->ndims;
  Knobs k = knobs_of(t, op);
  int perm[IR_MAX_RANK], ids[IR_MAX_RANK], saved[IR_MAX_RANK];
  order_of(t, op, k, perm);
  bool tile = op->kind == IR_OP_TILE;
  bool flat = k.multi >= 0 && cfgspace_get(t->s, t->cfg, "flatten_loops", k.multi, 0);
  int l2 = k.l2 >= 0 && !flat ? cfgspace_get(t->s, t->cfg, "l2_groupings", k.l2, 1) : 1;
  char pids[IR_MAX_RANK][E];
  int base = t->tmp++;
  if (xyz && !flat) {
    for (int j = nd - 1; j >= 0; j--)
      snprintf(pids[perm[j]], E, "tl.program_id(%d)", nd - 1 - j);
  } else if (l2 > 1 && nd >= 2) {
    int a = perm[nd - 2], b = perm[nd - 1];
    long long ca = (long long)n->count[a], cb = (long long)n->count[b];
    const char *inner = pid;
    char ib[E];
    if (nd > 2) {
      tt_stmt(t, op->loc, "inner_%d = %s %% %lld", base, pid, ca * cb);
      snprintf(ib, sizeof ib, "inner_%d", base);
      inner = ib;
    }
    tt_stmt(t, op->loc, "group_%d = %s // %lld", base, inner, (long long)l2 * cb);
    tt_stmt(t, op->loc, "first_%d = group_%d * %d", base, base, l2);
    tt_stmt(t, op->loc, "group_size_%d = tl.minimum(%lld - first_%d, %d)", base, ca, base, l2);
    if (snprintf(pids[a], E, "first_%d + (%s %% %lld) %% group_size_%d", base, inner,
                 (long long)l2 * cb, base) >= E ||
        snprintf(pids[b], E, "(%s %% %lld) // group_size_%d", inner, (long long)l2 * cb, base) >= E)
      return tt_fail(t, op, "a program id expression is too long to render");
    long long stride = ca * cb;
    for (int j = nd - 3; j >= 0; j--) {
      int d = perm[j];
      snprintf(pids[d], E, "(%s // %lld) %% %lld", pid, stride, (long long)n->count[d]);
      stride *= n->count[d];
    }
  } else {
    long long stride = 1;
    for (int j = nd - 1; j >= 0; j--) {
      int d = perm[j];
      if (nd == 1)
        snprintf(pids[d], E, "%s", pid);
      else if (n->count[d] == 1)
        snprintf(pids[d], E, "0");
      else if (j == 0 && stride == 1)
        snprintf(pids[d], E, "%s", pid);
      else if (j == 0)
        snprintf(pids[d], E, "%s // %lld", pid, stride);
      else if (stride == 1)
        snprintf(pids[d], E, "%s %% %lld", pid, (long long)n->count[d]);
      else
        snprintf(pids[d], E, "(%s // %lld) %% %lld", pid, stride, (long long)n->count[d]);
      stride *= n->count[d];
    }
  }
  for (int d = 0; d < nd; d++) {
    if (tile) {
      ids[d] = open_tdim(t, op, d, &saved[d]);
      if (ids[d] < 0) return HL_ERR;
      const TtTdim *x = &t->tdims[ids[d]];
      tt_stmt(t, op->loc, "pid_%d = %s", ids[d], pids[d]);
      if (strcmp(x->begin, "0") == 0)
        tt_stmt(t, op->loc, "offset_%d = pid_%d * %s", ids[d], ids[d], x->block);
      else
        tt_stmt(t, op->loc, "offset_%d = %s + pid_%d * %s", ids[d], x->begin, ids[d], x->block);
      tdim_lanes(t, op->loc, ids[d]);
    } else {
      tt_stmt(t, op->loc, "%s = %s + %s", t->name[op->body->args[d]], t->name[op->args[2 * d]],
              pids[d]);
    }
  }
  if (tt_emit_region(t, op->body)) return HL_ERR;
  if (tile)
    for (int d = nd - 1; d >= 0; d--)
      close_tdim(t, op, d, saved[d]);
  return HL_OK;
}

static int count_nests(const IrFunc *f) {
  int n = 0;
  for (const IrOp *op = f->body->first; op; op = op->next)
    n += op->kind == IR_OP_TILE || op->kind == IR_OP_GRID;
  return n;
}

/* The kernel body: host scalars, whole reduction dims' lanes, then the program dispatch. */
static int emit_programs(Tt *t, Nest *nests, int nn, const char *pid_type, bool xyz,
                         int64_t total) {
  const IrFunc *f = t->f;
  for (const IrOp *op = f->body->first; op; op = op->next)
    if (op->kind != IR_OP_TILE && op->kind != IR_OP_GRID && tt_emit_op(t, op)) return HL_ERR;
  for (int n = 0; n < f->nrdims; n++) {
    if (t->rlooped[n]) continue;
    tt_stmt(t, f->rdims[n].loc, "rindex_%d = tl.arange(0, _RDIM_SIZE_%d)", n, n);
    if (t->rsize[n] != f->rdims[n].extent)
      tt_stmt(t, f->rdims[n].loc, "rmask_%d = rindex_%d < %lld", n, n,
              (long long)f->rdims[n].extent);
  }
  IrLoc loc = nests[0].op->loc;
  const char *pid = "pid";
  if (strncmp(pid_type, "persistent", 10) == 0) {
    if (strcmp(pid_type, "persistent_blocked") == 0) {
      tt_stmt(t, loc, "num_per_program = tl.cdiv(%lld, tl.num_programs(0))", (long long)total);
      tt_stmt(t, loc, "first_pid = tl.program_id(0) * num_per_program");
      tt_stmt(t, loc, "for pid in tl.range(first_pid, tl.minimum(first_pid + num_per_program, %lld)):",
              (long long)total);
    } else {
      tt_stmt(t, loc, "for pid in tl.range(tl.program_id(0), %lld, tl.num_programs(0)):",
              (long long)total);
    }
    t->indent++;
  } else if (!xyz) {
    tt_stmt(t, loc, "pid = tl.program_id(0)");
  }
  int64_t first = 0;
  for (int i = 0; i < nn; i++) {
    const Nest *n = &nests[i];
    char local[64];
    if (nn > 1) {
      if (i == 0)
        tt_stmt(t, n->op->loc, "if pid < %lld:", (long long)n->programs);
      else if (i < nn - 1)
        tt_stmt(t, n->op->loc, "elif pid < %lld:", (long long)(first + n->programs));
      else
        tt_stmt(t, n->op->loc, "else:");
      t->indent++;
      snprintf(local, sizeof local, "pid_nest_%d", i);
      tt_stmt(t, n->op->loc, "pid_nest_%d = pid - %lld", i, (long long)first);
    } else {
      snprintf(local, sizeof local, "%s", pid);
    }
    if (nest_program(t, n, local, xyz)) return HL_ERR;
    if (nn > 1) t->indent--;
    first += n->programs;
  }
  return HL_OK;
}

/* ---- the module ------------------------------------------------------------------------------- */

/* maxnreg as launched: an SM has 65536 registers, so num_warps * 32 threads get at most
 * 65536 / threads each (a larger cap cannot launch: H100, num_warps = 32 with maxnreg = 128). */
static int tt_maxnreg(Tt *t) {
  int nreg = cfgspace_get(t->s, t->cfg, "maxnreg", 0, CFG_NONE);
  int warps = cfgspace_get(t->s, t->cfg, "num_warps", 0, 4);
  if (nreg == CFG_NONE || warps < 1) return nreg;
  int most = 65536 / (warps * 32);
  return nreg > most ? most : nreg;
}

static void header(Tt *t) {
  const IrFunc *f = t->f;
  char cfgtext[4096];
  cfgspace_to_lua(t->s, t->cfg, 0, cfgtext, sizeof cfgtext);
  tt_printf(t, "# Triton code for kernel %s (helua's \"triton\" stage) with\n# %s\n", f->name,
            cfgtext);
  tt_printf(t, "# %s(...) takes the kernel's arguments in order, outputs included (the caller "
               "allocates them),\n# as CUDA tensors of the shapes, strides and dtypes below, and "
               "launches _helua_%s.\n",
            f->name, f->name);
  bool td = false;
  for (int i = 0; i < 64 && !td; i++) {
    const char *p = cfgspace_get_enum(t->s, t->cfg, "indexing", i, NULL);
    const char *q = cfgspace_get_enum(t->s, t->cfg, "atomic_indexing", i, NULL);
    if (!p && !q) break;
    td = (p && strcmp(p, "tensor_descriptor") == 0) || (q && strcmp(q, "tensor_descriptor") == 0);
  }
  if (td)
    tt_put(t, "# indexing = \"tensor_descriptor\" is rendered as pointer indexing (tl.load / "
              "tl.store with offsets).\n");
  for (int n = 0; n < f->nrdims; n++)
    if (t->rwhole[n])
      tt_printf(t, "# reduction_loops[%d] = %d: R%d is held whole (its values reach a dot, a "
                   "loop, a view or an arg-reduction, which the chunk loops do not recompute).\n",
                n + 1, cfgspace_get(t->s, t->cfg, "reduction_loops", n, 0), n);
  int nreg = cfgspace_get(t->s, t->cfg, "maxnreg", 0, CFG_NONE);
  if (nreg != CFG_NONE && tt_maxnreg(t) != nreg)
    tt_printf(t, "# maxnreg = %d is launched as %d: %d warps of 32 threads share an SM's 65536 "
                 "registers.\n", nreg, tt_maxnreg(t), cfgspace_get(t->s, t->cfg, "num_warps", 0, 4));
  tt_put(t, "import torch\nimport triton\nimport triton.language as tl\n");
  if (t->libdevice) tt_put(t, "from triton.language.extra import libdevice\n");
  tt_put(t, "\n\n");
}

static void params(Tt *t, bool constexprs, char *buf, size_t cap) {
  const IrFunc *f = t->f;
  size_t n = 0;
  buf[0] = '\0';
  for (int i = 0; i < f->nargs; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", t->name[f->args[i]]);
  for (int i = 0; i < f->nslots; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s_BLOCK_SIZE_%d%s", n ? ", " : "", i,
                          constexprs ? ": tl.constexpr" : "");
  for (int i = 0; i < f->nrdims; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%s_%d%s", n ? ", " : "",
                          t->rlooped[i] ? "_REDUCTION_BLOCK" : "_RDIM_SIZE", i,
                          constexprs ? ": tl.constexpr" : "");
}

static void host(Tt *t, const Nest *nests, int nn, const char *pid_type, bool xyz, int64_t total) {
  const IrFunc *f = t->f;
  char ps[4096];
  IrLoc loc = nests[0].op->loc;
  tt_put(t, "\n\ndef _helua_check(name, t, shape, strides, dtype):\n"
            "    if tuple(t.shape) != shape or t.dtype != dtype or any(\n"
            "            s != w for s, w, n in zip(t.stride(), strides, shape) if n != 1):\n"
            "        raise ValueError(f\"{name}: expected a {dtype} tensor of shape {shape}, "
            "strides {strides}; got {t.dtype} {tuple(t.shape)} strides {t.stride()}\")\n\n\n");
  params(t, false, ps, sizeof ps);
  size_t n = 0;
  char args[2048] = "";
  for (int i = 0; i < f->nargs; i++)
    n += (size_t)snprintf(args + n, sizeof args - n, "%s%s", n ? ", " : "", t->name[f->args[i]]);
  tt_printf(t, "def %s(%s):\n", f->name, args);
  t->indent = 1;
  const char *first_tensor = NULL;
  for (int i = 0; i < f->nargs; i++) {
    const IrValue *v = tt_val(t, f->args[i]);
    if (v->kind != IR_VAL_TENSOR) continue;
    if (!first_tensor) first_tensor = t->name[f->args[i]];
    char shape[512] = "(", strides[512] = "(";
    for (int k = 0; k < v->shape.rank; k++) {
      size_t a = strlen(shape), b = strlen(strides);
      snprintf(shape + a, sizeof shape - a, "%lld%s", (long long)v->shape.dims[k].v,
               v->shape.rank == 1 ? ",)" : k + 1 < v->shape.rank ? ", " : ")");
      snprintf(strides + b, sizeof strides - b, "%lld%s", (long long)v->strides[k],
               v->shape.rank == 1 ? ",)" : k + 1 < v->shape.rank ? ", " : ")");
    }
    if (v->shape.rank == 0) strcat(shape, ")"), strcat(strides, ")");
    tt_stmt(t, v->loc, "_helua_check(\"%s\", %s, %s, %s, %s)", t->name[f->args[i]],
            t->name[f->args[i]], shape, strides, tt_torch_dtype(v->dtype));
  }
  for (int i = 0; i < f->nslots; i++)
    tt_stmt(t, f->slots[i].loc, "_BLOCK_SIZE_%d = %lld", i, (long long)t->bs[i]);
  for (int i = 0; i < f->nrdims; i++)
    tt_stmt(t, f->rdims[i].loc, "%s_%d = %lld", t->rlooped[i] ? "_REDUCTION_BLOCK" : "_RDIM_SIZE",
            i, (long long)t->rsize[i]);
  if (strncmp(pid_type, "persistent", 10) == 0) {
    tt_stmt(t, loc, "num_sms = torch.cuda.get_device_properties(%s.device).multi_processor_count",
            first_tensor ? first_tensor : "torch.cuda.current_device()");
    tt_stmt(t, loc, "grid = (max(1, min(%lld, num_sms * %d)),)", (long long)total,
            cfgspace_get(t->s, t->cfg, "num_sm_multiplier", 0, 1));
  } else if (xyz) {
    const Nest *x = &nests[0];
    int nd = x->op->attrs->ndims, perm[IR_MAX_RANK];
    order_of(t, x->op, knobs_of(t, x->op), perm);
    char g[256] = "(";
    for (int a = 0; a < nd; a++) {
      size_t m = strlen(g);
      snprintf(g + m, sizeof g - m, "%lld%s", (long long)x->count[perm[nd - 1 - a]],
               a + 1 < nd ? ", " : ")");
    }
    tt_stmt(t, loc, "grid = %s", g);
  } else {
    tt_stmt(t, loc, "grid = (%lld,)", (long long)(total > 0 ? total : 1));
  }
  char launch[256];
  int nreg = tt_maxnreg(t), warps = cfgspace_get(t->s, t->cfg, "num_warps", 0, 4);
  snprintf(launch, sizeof launch, "num_warps=%d, num_stages=%d", warps,
           cfgspace_get(t->s, t->cfg, "num_stages", 0, 1));
  if (nreg != CFG_NONE) {
    size_t m = strlen(launch);
    snprintf(launch + m, sizeof launch - m, ", maxnreg=%d", nreg);
  }
  tt_stmt(t, loc, "_helua_%s[grid](%s, %s)", f->name, ps, launch);
  t->indent = 0;
}

static int render(Tt *t) {
  const IrFunc *f = t->f;
  for (int i = 0; i < f->nslots; i++)
    t->bs[i] = cfgspace_get(t->s, t->cfg, "block_sizes", i, 16);
  for (int i = 0; i < f->nslots; i++)
    t->slot_tdim[i] = -1;
  for (int i = 0; i < f->nvalues; i++)
    t->tdim[i] = -1;
  if (tt_analyze_rdims(t) || name_values(t)) return HL_ERR;
  int nn = count_nests(f);
  if (nn == 0) return tt_fail(t, NULL, "kernel %s has no device loops", f->name);
  Nest *nests = mem_calloc((size_t)nn, sizeof *nests);
  if (!nests) return tt_fail(t, NULL, "out of memory");
  int k = 0;
  int64_t total = 0;
  int rc = HL_OK;
  for (const IrOp *op = f->body->first; op && !rc; op = op->next)
    if (op->kind == IR_OP_TILE || op->kind == IR_OP_GRID) {
      nests[k].op = op;
      rc = nest_counts(t, &nests[k]);
      total += nests[k++].programs;
    }
  const char *pid_type = cfgspace_get_enum(t->s, t->cfg, "pid_type", 0, "flat");
  bool xyz = strcmp(pid_type, "xyz") == 0 && nn == 1 && nests[0].op->attrs->ndims >= 2;
  if (xyz) {
    Knobs kn = knobs_of(t, nests[0].op);
    if (kn.multi >= 0 && cfgspace_get(t->s, t->cfg, "flatten_loops", kn.multi, 0)) xyz = false;
  }
  /* the kernel body first: emitting it tells whether libdevice is needed for the imports */
  TtBuf head = t->out;
  t->out = (TtBuf){0};
  char ps[4096];
  if (!rc) {
    params(t, true, ps, sizeof ps);
    tt_printf(t, "@triton.jit\ndef _helua_%s(%s):\n", f->name, ps);
    t->indent = 1;
    rc = emit_programs(t, nests, nn, pid_type, xyz, total);
    t->indent = 0;
  }
  if (!rc) host(t, nests, nn, pid_type, xyz, total);
  TtBuf body = t->out;
  t->out = head;
  if (!rc) {
    header(t);
    if (body.p) tt_put(t, body.p);
  }
  mem_free(body.p);
  mem_free(nests);
  return rc || t->failed ? HL_ERR : HL_OK;
}

int lower_triton_render(const IrFunc *f, const ConfigSpace *s, const int *cfg, char **out,
                        size_t *len, Diag *d) {
  *out = NULL;
  *len = 0;
  if (cfgspace_target(s) != CFG_TARGET_CUDA)
    return diag_set(d, "triton stage: the config space must be the cuda target's");
  Tt t = {.f = f, .s = s, .cfg = cfg, .d = d};
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
    rc = render(&t);
    if (!rc && t.out.oom) rc = diag_set(d, "triton stage: out of memory");
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
