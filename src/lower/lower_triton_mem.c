/* The Triton renderer's memory ops: load / store / atomic_add of a tensor region as pointer
 * arithmetic over baked sizes and strides, with masks for ragged edges and out-of-range
 * indices. Part of src/lower (the "triton" stage). */
#include <stdio.h>
#include <string.h>

#include "lower/lower_triton_internal.h"

#define E 4096

typedef struct Region {
  char offs[E]; /* element offset expression */
  char mask[E]; /* "" when nothing can be out of range */
} Region;

/* Appends s to the expression e (E bytes), after sep unless e is empty. */
static void join(char *e, const char *sep, const char *s) {
  size_t n = strlen(e);
  snprintf(e + n, E - n, "%s%s", n ? sep : "", s);
}

static void and_mask(char *mask, const char *m) {
  join(mask, " & ", m);
}

static void add_term(char *offs, const char *term) {
  join(offs, " + ", term);
}

/* The offsets and mask of op's region: one term per tensor dim (index value x stride). */
static int region(Tt *t, const IrOp *op, Region *r, int *rank_out) {
  const IrValue *tv = tt_val(t, op->args[0]);
  const IrAttrs *a = op->attrs;
  int rank = 0;
  for (int k = 0; k < a->nidx; k++)
    if (a->idx[k] != IR_IDX_SCALAR) rank++;
  *rank_out = rank;
  int64_t numel = 1;
  for (int i = 0; i < tv->shape.rank; i++)
    numel += (tv->shape.dims[i].v - 1) * (tv->strides[i] < 0 ? -tv->strides[i] : tv->strides[i]);
  bool wide = numel >= ((int64_t)1 << 31);
  r->offs[0] = r->mask[0] = '\0';
  int argi = 1, dim = 0, pos = 0;
  bool vector = false;
  for (int k = 0; k < a->nidx; k++) {
    IrIndexKind kind = a->idx[k];
    char term[E], m[E], b[E];
    if (kind == IR_IDX_NEWAXIS) {
      pos++;
      continue;
    }
    int64_t size = tv->shape.dims[dim].v, stride = tv->strides[dim];
    if (kind == IR_IDX_TILE) {
      IrValueId v = op->args[argi++];
      int td = t->tdim[v];
      if (td < 0) return tt_fail(t, op, "internal: a tile index without its loop");
      char idx[64];
      snprintf(idx, sizeof idx, wide ? "indices_%d.to(tl.int64)" : "indices_%d", td);
      tt_bcast(idx, pos, rank, b, sizeof b);
      snprintf(term, sizeof term, stride == 1 ? "%s" : "%s * %lld", b, (long long)stride);
      if (t->tdims[td].pad) {
        snprintf(m, sizeof m, "mask_%d", td);
        tt_bcast(m, pos, rank, b, sizeof b);
        and_mask(r->mask, b);
      }
      /* a loop that may run past the tensor's dim: check the index too */
      int64_t end = -1;
      if (sscanf(t->tdims[td].end, "%lld", (long long *)&end) != 1 || end > size) {
        snprintf(m, sizeof m, "(indices_%d < %lld)", td, (long long)size);
        tt_bcast(m, pos, rank, b, sizeof b);
        and_mask(r->mask, b);
      }
      vector = true;
      pos++;
    } else if (kind == IR_IDX_SLICE) {
      int n = a->rdim[k];
      char idx[64];
      snprintf(idx, sizeof idx, wide ? "rindex_%d.to(tl.int64)" : "rindex_%d", n);
      tt_bcast(idx, pos, rank, b, sizeof b);
      snprintf(term, sizeof term, stride == 1 ? "%s" : "%s * %lld", b, (long long)stride);
      IrDim rd = {IR_DIM_RDIM, n};
      if (tt_dim_mask(t, rd, m, sizeof m)) {
        tt_bcast(m, pos, rank, b, sizeof b);
        and_mask(r->mask, b);
      }
      vector = true;
      pos++;
    } else if (kind == IR_IDX_SCALAR) {
      IrValueId v = op->args[argi++];
      int64_t c;
      const char *s = t->name[v];
      snprintf(term, sizeof term, stride == 1 ? "%s" : "%s * %lld", s, (long long)stride);
      if (tt_fold_int(t, v, &c)) {
        if (c < 0 || c >= size)
          return tt_fail(t, op, "index %lld is outside dim %d of %s (size %lld)", (long long)c,
                         dim + 1, t->name[op->args[0]], (long long)size);
      } else {
        snprintf(m, sizeof m, "(%s >= 0) & (%s < %lld)", s, s, (long long)size);
        and_mask(r->mask, m);
      }
    } else { /* gather: a 1-D integer value */
      IrValueId v = op->args[argi++];
      const IrValue *g = tt_val(t, v);
      char gb[E];
      tt_bcast(t->name[v], pos, rank, gb, sizeof gb);
      snprintf(term, sizeof term, stride == 1 ? "%s" : "%s * %lld", gb, (long long)stride);
      if (snprintf(m, sizeof m, "(%s >= 0) & (%s < %lld)", gb, gb, (long long)size) >= E)
        return tt_fail(t, op, "an index expression is too long to render");
      and_mask(r->mask, m);
      if (tt_dim_mask(t, g->shape.dims[0], m, sizeof m)) {
        tt_bcast(m, pos, rank, b, sizeof b);
        and_mask(r->mask, b);
      }
      vector = true;
      pos++;
    }
    add_term(r->offs, term);
    dim++;
  }
  if (!r->offs[0]) snprintf(r->offs, E, "0");
  if (rank > 0 && !vector) {
    /* only scalars and newaxis entries: a [1, ...] region */
    char ones[128] = "[", tmp[E];
    for (int i = 0; i < rank; i++)
      strcat(ones, i ? ", 1" : "1");
    strcat(ones, "]");
    if (snprintf(tmp, sizeof tmp, "tl.full(%s, 0, tl.int32) + %s", ones, r->offs) >= E)
      return tt_fail(t, op, "an index expression is too long to render");
    snprintf(r->offs, E, "%s", tmp);
  }
  if (op->attrs->has_mask) {
    char m[E];
    snprintf(m, sizeof m, "%s", t->name[op->args[op->nargs - 1]]);
    and_mask(r->mask, m);
  }
  return HL_OK;
}

/* The eviction policy of a load: its own, else load_eviction_policies[i] of the config. */
static const char *eviction(Tt *t, const IrOp *op) {
  if (op->attrs->eviction == IR_EVICT_FIRST) return "evict_first";
  if (op->attrs->eviction == IR_EVICT_LAST) return "evict_last";
  int n = 0;
  for (int i = 0; i < t->nmems; i++) {
    if (t->mems[i].op == op) {
      const char *p = cfgspace_get_enum(t->s, t->cfg, "load_eviction_policies", n, "");
      if (p && strcmp(p, "first") == 0) return "evict_first";
      if (p && strcmp(p, "last") == 0) return "evict_last";
      return NULL;
    }
    if (t->mems[i].kind == IR_OP_LOAD && !t->mems[i].explicit_eviction) n++;
  }
  return NULL;
}

int tt_emit_load(Tt *t, const IrOp *op) {
  IrValueId rid = op->results[0];
  if (t->deferred[rid]) return HL_OK;
  Region r;
  int rank;
  if (region(t, op, &r, &rank)) return HL_ERR;
  const char *ev = eviction(t, op);
  char extra[64] = "";
  if (ev) snprintf(extra, sizeof extra, ", eviction_policy=\"%s\"", ev);
  if (r.mask[0])
    tt_stmt(t, op->loc, "%s = tl.load(%s + (%s), %s, other=0%s)", t->name[rid],
            t->name[op->args[0]], r.offs, r.mask, extra);
  else
    tt_stmt(t, op->loc, "%s = tl.load(%s + (%s)%s)", t->name[rid], t->name[op->args[0]], r.offs,
            extra);
  return HL_OK;
}

int tt_emit_store(Tt *t, const IrOp *op) {
  Region r;
  int rank;
  if (region(t, op, &r, &rank)) return HL_ERR;
  IrValueId v = op->args[op->nargs - 1 - (op->attrs->has_mask ? 1 : 0)];
  const char *val = t->name[v];
  const IrValue *tv = tt_val(t, op->args[0]);
  const IrValue *vv = tt_val(t, v);
  char vb[E];
  if (vv->shape.rank > rank)
    return tt_fail(t, op, "the stored value has more dims than the region");
  if (vv->shape.rank == 0 && rank > 0) {
    /* a scalar: splat it over the region */
    snprintf(vb, sizeof vb, "tl.full([], %s, %s)", val, tt_dtype(tv->dtype));
    val = vb;
  }
  if (op->kind == IR_OP_ATOMIC_ADD) {
    const char *sem = op->attrs->sem == IR_SEM_ACQUIRE   ? "acquire"
                      : op->attrs->sem == IR_SEM_RELEASE ? "release"
                      : op->attrs->sem == IR_SEM_ACQ_REL ? "acq_rel"
                                                         : "relaxed";
    char mk[E + 16] = "";
    if (r.mask[0]) snprintf(mk, sizeof mk, ", mask=%s", r.mask);
    tt_stmt(t, op->loc, "%s = tl.atomic_add(%s + (%s), %s%s, sem=\"%s\")", t->name[op->results[0]],
            t->name[op->args[0]], r.offs, val, mk, sem);
    return HL_OK;
  }
  if (r.mask[0])
    tt_stmt(t, op->loc, "tl.store(%s + (%s), %s, %s)", t->name[op->args[0]], r.offs, val, r.mask);
  else
    tt_stmt(t, op->loc, "tl.store(%s + (%s), %s)", t->name[op->args[0]], r.offs, val);
  return HL_OK;
}
