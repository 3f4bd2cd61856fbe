/* Tile IR typing: the dtype and symbolic shape of each op's result, with the rules that make an
 * op well-formed (dtypes agree, shapes broadcast, indices fit). Part of src/ir (tile IR).
 * The builder calls it to type new ops and the verifier to re-check stored types, so the two
 * can never disagree. Messages say what is wrong and name the operands; callers add the op. */
#include <stdio.h>
#include <string.h>

#include "ir/ir_internal.h"

#define NAMEBUF 96

bool ir_dim_eq(IrDim a, IrDim b) {
  return a.kind == b.kind && a.v == b.v;
}

bool ir_shape_eq(const IrShape *a, const IrShape *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (!ir_dim_eq(a->dims[i], b->dims[i])) return false;
  return true;
}

bool ir_type_eq(const IrType *t, const IrValue *v) {
  return t->kind == v->kind && t->dtype == v->dtype && ir_shape_eq(&t->shape, &v->shape);
}

bool ir_op_is_host(const IrFunc *f, IrOpClass cls, int nargs, const IrValueId *args) {
  if (cls != IR_CLASS_CONST && cls != IR_CLASS_DECL && cls != IR_CLASS_LOOP &&
      !ir_class_is_elementwise(cls))
    return false;
  for (int i = 0; i < nargs; i++) {
    const IrValue *v = ir_value(f, args[i]);
    if (v && v->shape.rank != 0) return false;
  }
  return true;
}

bool ir_const_int(const IrFunc *f, IrValueId v, int64_t *out) {
  const IrValue *val = ir_value(f, v);
  if (!val || val->def_kind != IR_DEF_RESULT || !val->def || !val->def->attrs) return false;
  IrOpKind k = val->def->kind;
  if ((k != IR_OP_CONST && k != IR_OP_SPECIALIZE) || val->def->attrs->value.is_float) return false;
  *out = val->def->attrs->value.i;
  return true;
}

/* ---- helpers --------------------------------------------------------------------------------- */

static const char *vn(const IrFunc *f, IrValueId v, char *buf) {
  return ir_value_str(f, v, buf, NAMEBUF);
}

static const char *sh(const IrShape *s, char *buf, size_t cap) {
  return ir_shape_str(s, buf, cap);
}

/* The operand must exist and be a data value (not a kernel tensor, not a tile). */
static int need_data(const IrFunc *f, IrValueId v, const char *what, Diag *d) {
  char n[NAMEBUF];
  const IrValue *val = ir_value(f, v);
  if (!val) return diag_set(d, "%s is not a value (id %d)", what, (int)v);
  if (val->kind == IR_VAL_TENSOR)
    return diag_set(d, "%s %s is a kernel tensor; index it (x[{...}]) to load a tile first", what,
                    vn(f, v, n));
  if (val->kind == IR_VAL_TILE)
    return diag_set(d,
                    "%s %s is a tile, not a number; use its fields (tile_index, tile_begin, ...)",
                    what, vn(f, v, n));
  return HL_OK;
}

static int need_dims_valid(const IrFunc *f, const IrShape *s, bool allow_minus1, Diag *d) {
  if (s->rank < 0 || s->rank > IR_MAX_RANK)
    return diag_set(d, "a shape has %d dims (at most %d)", s->rank, IR_MAX_RANK);
  for (int i = 0; i < s->rank; i++) {
    IrDim dim = s->dims[i];
    if (dim.kind == IR_DIM_CONST && (dim.v >= 0 || (allow_minus1 && dim.v == -1))) continue;
    if (dim.kind == IR_DIM_BLOCK && dim.v >= 0 && dim.v < f->nslots) continue;
    if (dim.kind == IR_DIM_RDIM && dim.v >= 0 && dim.v < f->nrdims) continue;
    char b[32];
    return diag_set(d, "shape dim %d (%s) is not a size, a block-size slot or a reduction dim", i,
                    ir_dim_str(dim, b, sizeof b));
  }
  return HL_OK;
}

/* NumPy broadcasting with symbols: dims agree when equal; a constant 1 stretches. */
static int broadcast(const IrShape *a, const IrShape *b, IrShape *out) {
  int r = a->rank > b->rank ? a->rank : b->rank;
  IrShape res = {.rank = r};
  for (int i = 0; i < r; i++) {
    int ia = a->rank - r + i, ib = b->rank - r + i;
    IrDim one = {IR_DIM_CONST, 1};
    IrDim da = ia >= 0 ? a->dims[ia] : one, db = ib >= 0 ? b->dims[ib] : one;
    if (ir_dim_eq(da, db) || ir_dim_eq(db, one))
      res.dims[i] = da;
    else if (ir_dim_eq(da, one))
      res.dims[i] = db;
    else
      return HL_ERR;
  }
  *out = res;
  return HL_OK;
}

static int broadcast_err(const IrFunc *f, IrValueId va, IrValueId vb, Diag *d) {
  char na[NAMEBUF], nb[NAMEBUF], sa[256], sb[256];
  return diag_set(d,
                  "shapes of %s %s and %s %s do not broadcast (dims must be equal or 1, "
                  "right-aligned; a block size B and a number never match)",
                  vn(f, va, na), sh(&ir_value(f, va)->shape, sa, sizeof sa), vn(f, vb, nb),
                  sh(&ir_value(f, vb)->shape, sb, sizeof sb));
}

/* `v` must broadcast to `target` without growing it. */
static int need_fits(const IrFunc *f, IrValueId v, const IrShape *target, const char *what,
                     Diag *d) {
  IrShape out;
  if (broadcast(target, &ir_value(f, v)->shape, &out) == HL_OK && ir_shape_eq(&out, target))
    return HL_OK;
  char n[NAMEBUF], s1[256], s2[256];
  return diag_set(d, "%s %s has shape %s, which does not broadcast to %s", what, vn(f, v, n),
                  sh(&ir_value(f, v)->shape, s1, sizeof s1), sh(target, s2, sizeof s2));
}

static int same_dtype(const IrFunc *f, IrValueId a, IrValueId b, Diag *d) {
  DType da = ir_value(f, a)->dtype, db = ir_value(f, b)->dtype;
  if (da == db) return HL_OK;
  char na[NAMEBUF], nb[NAMEBUF];
  return diag_set(d, "operand dtypes differ: %s is %s, %s is %s (the tracer must cast one first)",
                  vn(f, a, na), ir_dtype_name(da), vn(f, b, nb), ir_dtype_name(db));
}

static int norm_dim(int dim, int rank, Diag *d) {
  int lo = -rank, hi = rank - 1;
  if (rank == 0 || dim < lo || dim > hi) {
    diag_set(d, "dim %d is out of range for a value of %d dims (0-based: %d..%d)", dim, rank, lo,
             hi);
    return -1;
  }
  return dim < 0 ? dim + rank : dim;
}

static int need_count(int nargs, int want, Diag *d) {
  if (nargs == want) return HL_OK;
  return diag_set(d, "takes %d operand%s, got %d", want, want == 1 ? "" : "s", nargs);
}

static int norm_scalar(DType dt, IrScalar *v, Diag *d) {
  if (dt == IR_DTYPE_UNSET || dt < 0 || dt >= DT_COUNT) return diag_set(d, "needs a dtype");
  if (ir_dtype_is_float(dt)) {
    if (!v->is_float) v->f = (double)v->i;
    v->is_float = true;
    v->i = 0;
    return HL_OK;
  }
  if (v->is_float) {
    if (v->f != (double)(int64_t)v->f)
      return diag_set(d, "value %g is not an integer, but the dtype is %s", v->f,
                      ir_dtype_name(dt));
    v->i = (int64_t)v->f;
  }
  v->is_float = false;
  v->f = 0;
  if (dt == DT_BOOL) v->i = v->i != 0;
  return HL_OK;
}

static void scalar_type(IrType *t, DType dt) {
  t->kind = IR_VAL_DATA;
  t->dtype = dt;
  t->shape.rank = 0;
}

/* ---- loads and stores ------------------------------------------------------------------------ */

static bool idx_has_operand(IrIndexKind k) {
  return k == IR_IDX_TILE || k == IR_IDX_SCALAR || k == IR_IDX_GATHER;
}

/* The shape of the region an index selects; *pos advances over the index operands. */
static int index_region(const IrFunc *f, const IrValueId *args, int nargs, int *pos,
                        const IrAttrs *a, IrShape *out, Diag *d) {
  char n[NAMEBUF], b1[32];
  const IrValue *t = ir_value(f, args[0]);
  if (!t || t->kind != IR_VAL_TENSOR)
    return diag_set(d, "operand 1 %s is not a kernel tensor",
                    args[0] >= 0 ? vn(f, args[0], n) : "(none)");
  if (a->nidx < 0 || a->nidx > IR_MAX_INDEX)
    return diag_set(d, "an index has %d entries (at most %d)", a->nidx, IR_MAX_INDEX);
  int tdim = 0;
  IrShape r = {.rank = 0};
  for (int i = 0; i < a->nidx; i++) {
    IrIndexKind k = a->idx[i];
    if (k != IR_IDX_NEWAXIS && tdim >= t->shape.rank)
      return diag_set(d, "%s has %d dims but the index has more entries", vn(f, args[0], n),
                      t->shape.rank);
    if (r.rank >= IR_MAX_RANK && k != IR_IDX_SCALAR)
      return diag_set(d, "the indexed region would have more than %d dims", IR_MAX_RANK);
    IrValueId v = IR_NONE;
    if (idx_has_operand(k)) {
      if (*pos >= nargs) return diag_set(d, "index entry %d has no operand", i + 1);
      v = args[(*pos)++];
      if (!ir_value(f, v)) return diag_set(d, "index entry %d is not a value", i + 1);
    }
    const IrValue *iv = ir_value(f, v);
    switch (k) {
    case IR_IDX_TILE:
      if (iv->kind != IR_VAL_TILE)
        return diag_set(d, "index entry %d %s is not a tile", i + 1, vn(f, v, n));
      r.dims[r.rank++] = iv->shape.dims[0];
      tdim++;
      break;
    case IR_IDX_SLICE: {
      int rd = a->rdim[i];
      if (rd < 0 || rd >= f->nrdims)
        return diag_set(d, "index entry %d (':') has no reduction dim", i + 1);
      IrDim td = t->shape.dims[tdim];
      if (td.kind != IR_DIM_CONST || f->rdims[rd].extent != td.v)
        return diag_set(d, "index entry %d (':') uses R%d of extent %lld for a dim of size %s",
                        i + 1, rd, (long long)f->rdims[rd].extent, ir_dim_str(td, b1, sizeof b1));
      r.dims[r.rank++] = (IrDim){IR_DIM_RDIM, rd};
      tdim++;
      break;
    }
    case IR_IDX_SCALAR:
      if (need_data(f, v, "a scalar index", d)) return HL_ERR;
      if (iv->shape.rank != 0 || !ir_dtype_is_int(iv->dtype))
        return diag_set(d, "index entry %d %s must be an integer scalar", i + 1, vn(f, v, n));
      tdim++;
      break;
    case IR_IDX_NEWAXIS:
      r.dims[r.rank++] = (IrDim){IR_DIM_CONST, 1};
      break;
    case IR_IDX_GATHER:
      if (need_data(f, v, "a gather index", d)) return HL_ERR;
      if (iv->shape.rank != 1 || !ir_dtype_is_int(iv->dtype))
        return diag_set(d, "index entry %d %s must be a 1-D integer value to gather with", i + 1,
                        vn(f, v, n));
      r.dims[r.rank++] = iv->shape.dims[0];
      tdim++;
      break;
    default:
      return diag_set(d, "index entry %d has an unknown kind %d", i + 1, (int)k);
    }
  }
  if (tdim != t->shape.rank)
    return diag_set(d,
                    "%s has %d dims but the index covers %d (give one entry per dim; ':' "
                    "for a whole dim)",
                    vn(f, args[0], n), t->shape.rank, tdim);
  *out = r;
  return HL_OK;
}

static int need_mask(const IrFunc *f, IrValueId m, const IrShape *target, Diag *d) {
  char n[NAMEBUF];
  if (need_data(f, m, "the mask", d)) return HL_ERR;
  if (ir_value(f, m)->dtype != DT_BOOL)
    return diag_set(d, "the mask %s is %s, not bool", vn(f, m, n),
                    ir_dtype_name(ir_value(f, m)->dtype));
  return need_fits(f, m, target, "the mask", d);
}

static int infer_memory(const IrFunc *f, IrOpKind kind, int nargs, const IrValueId *args,
                        const IrAttrs *a, int *nres, IrType *res, Diag *d) {
  IrOpClass cls = ir_op_info(kind)->cls;
  bool store = cls == IR_CLASS_STORE;
  int want = 1 + store + (a->has_mask ? 1 : 0);
  for (int i = 0; i < a->nidx && i < IR_MAX_INDEX; i++)
    want += idx_has_operand(a->idx[i]);
  if (nargs != want)
    return diag_set(d, "has %d operands, but its index and options call for %d", nargs, want);
  if ((unsigned)a->eviction > IR_EVICT_LAST || (unsigned)a->sem > IR_SEM_ACQ_REL)
    return diag_set(d, "has an unknown eviction policy or memory order");
  int pos = 1;
  IrShape region;
  if (index_region(f, args, nargs, &pos, a, &region, d)) return HL_ERR;
  const IrValue *t = ir_value(f, args[0]);
  if (store) {
    IrValueId v = args[pos++];
    char n[NAMEBUF], tn[NAMEBUF];
    if (need_data(f, v, "the stored value", d)) return HL_ERR;
    if (ir_value(f, v)->dtype != t->dtype)
      return diag_set(d,
                      "the value %s is %s but %s is %s (the tracer casts stored values to "
                      "the tensor's dtype)",
                      vn(f, v, n), ir_dtype_name(ir_value(f, v)->dtype), vn(f, args[0], tn),
                      ir_dtype_name(t->dtype));
    if (need_fits(f, v, &region, "the stored value", d)) return HL_ERR;
  }
  if (a->has_mask && need_mask(f, args[pos], &region, d)) return HL_ERR;
  *nres = kind == IR_OP_STORE ? 0 : 1;
  res->kind = IR_VAL_DATA;
  res->dtype = t->dtype;
  res->shape = region;
  return HL_OK;
}

static int infer_ptr(const IrFunc *f, IrOpKind kind, int nargs, const IrValueId *args,
                     const IrAttrs *a, int *nres, IrType *res, Diag *d) {
  bool store = ir_op_info(kind)->cls == IR_CLASS_PTR_STORE;
  int want = 2 + store + (a->has_mask ? 1 : 0);
  char n[NAMEBUF];
  if (nargs != want) return diag_set(d, "has %d operands, expected %d", nargs, want);
  const IrValue *t = ir_value(f, args[0]);
  if (!t || t->kind != IR_VAL_TENSOR) return diag_set(d, "operand 1 is not a kernel tensor");
  if (need_data(f, args[1], "the offsets", d)) return HL_ERR;
  const IrValue *off = ir_value(f, args[1]);
  if (!ir_dtype_is_int(off->dtype))
    return diag_set(d, "the offsets %s are %s, not an integer dtype", vn(f, args[1], n),
                    ir_dtype_name(off->dtype));
  if (store) {
    if (need_data(f, args[2], "the stored value", d)) return HL_ERR;
    if (ir_value(f, args[2])->dtype != t->dtype)
      return diag_set(d, "the value %s is %s but the tensor is %s", vn(f, args[2], n),
                      ir_dtype_name(ir_value(f, args[2])->dtype), ir_dtype_name(t->dtype));
    if (need_fits(f, args[2], &off->shape, "the stored value", d)) return HL_ERR;
  }
  if (a->has_mask && need_mask(f, args[nargs - 1], &off->shape, d)) return HL_ERR;
  *nres = kind == IR_OP_PTR_STORE ? 0 : 1;
  res->kind = IR_VAL_DATA;
  res->dtype = t->dtype;
  res->shape = off->shape;
  return HL_OK;
}

/* ---- shapes of views ------------------------------------------------------------------------- */

/* Product of the constant dims and the symbols of a shape, for reshape's numel check. */
typedef struct Factors {
  int64_t konst;
  int nsym;
  IrDim sym[IR_MAX_RANK];
} Factors;

static void factors_of(const IrShape *s, Factors *fa) {
  fa->konst = 1;
  fa->nsym = 0;
  for (int i = 0; i < s->rank; i++) {
    if (s->dims[i].kind == IR_DIM_CONST) {
      if (s->dims[i].v >= 0) fa->konst *= s->dims[i].v;
    } else {
      fa->sym[fa->nsym++] = s->dims[i];
    }
  }
}

/* Removes b's symbols from a's (multiset difference); false if b has one a lacks. */
static bool factors_sub(Factors *a, const Factors *b) {
  for (int i = 0; i < b->nsym; i++) {
    int j = 0;
    while (j < a->nsym && !ir_dim_eq(a->sym[j], b->sym[i]))
      j++;
    if (j == a->nsym) return false;
    a->sym[j] = a->sym[--a->nsym];
  }
  return true;
}

static int infer_reshape(const IrFunc *f, const IrValue *src, IrAttrs *a, IrType *res, Diag *d) {
  if (need_dims_valid(f, &a->shape, true, d)) return HL_ERR;
  int infer_at = -1;
  for (int i = 0; i < a->shape.rank; i++) {
    if (a->shape.dims[i].kind == IR_DIM_CONST && a->shape.dims[i].v == -1) {
      if (infer_at >= 0) return diag_set(d, "the new shape has more than one -1");
      infer_at = i;
    }
  }
  Factors fs, ft;
  factors_of(&src->shape, &fs);
  factors_of(&a->shape, &ft);
  char s1[256], s2[256];
  bool ok = factors_sub(&fs, &ft);
  if (ok && infer_at >= 0) {
    /* what is left of the source must be one symbol, or a whole multiple of the constants */
    if (fs.nsym == 1 && fs.konst == ft.konst)
      a->shape.dims[infer_at] = fs.sym[0];
    else if (fs.nsym == 0 && ft.konst > 0 && fs.konst % ft.konst == 0)
      a->shape.dims[infer_at] = (IrDim){IR_DIM_CONST, fs.konst / ft.konst};
    else
      ok = false;
  } else if (ok) {
    ok = fs.nsym == 0 && fs.konst == ft.konst;
  }
  if (!ok)
    return diag_set(d,
                    "cannot reshape %s to %s: the element counts differ (block-size symbols "
                    "must appear on both sides)",
                    sh(&src->shape, s1, sizeof s1), sh(&a->shape, s2, sizeof s2));
  res->shape = a->shape;
  return HL_OK;
}

static int infer_expand(const IrFunc *f, const IrValue *src, IrAttrs *a, IrType *res, Diag *d) {
  if (need_dims_valid(f, &a->shape, true, d)) return HL_ERR;
  int r = a->shape.rank, lead = r - src->shape.rank;
  char s1[256], s2[256];
  if (lead < 0)
    return diag_set(d, "cannot expand %s to fewer dims %s", sh(&src->shape, s1, sizeof s1),
                    sh(&a->shape, s2, sizeof s2));
  for (int i = 0; i < r; i++) {
    IrDim *t = &a->shape.dims[i];
    bool keep = t->kind == IR_DIM_CONST && t->v == -1;
    if (i < lead) {
      if (keep) return diag_set(d, "-1 is not allowed for a new leading dim (dim %d)", i);
      continue;
    }
    IrDim s = src->shape.dims[i - lead];
    if (keep)
      *t = s;
    else if (!ir_dim_eq(s, *t) && !(s.kind == IR_DIM_CONST && s.v == 1))
      return diag_set(d, "cannot expand %s to %s: dim %d is neither equal nor 1",
                      sh(&src->shape, s1, sizeof s1), sh(&a->shape, s2, sizeof s2), i - lead);
  }
  res->shape = a->shape;
  return HL_OK;
}

static int infer_dot(const IrFunc *f, int nargs, const IrValueId *args, IrAttrs *a, IrType *res,
                     Diag *d) {
  char na[NAMEBUF], nb[NAMEBUF], s1[256], s2[256];
  if (nargs != 2 && nargs != 3)
    return diag_set(d, "takes 2 or 3 operands (a, b, acc), got %d", nargs);
  for (int i = 0; i < nargs; i++)
    if (need_data(f, args[i], i == 2 ? "the accumulator" : "an operand", d)) return HL_ERR;
  const IrValue *va = ir_value(f, args[0]), *vb = ir_value(f, args[1]);
  int r = va->shape.rank;
  if ((r != 2 && r != 3) || vb->shape.rank != r)
    return diag_set(d, "needs two 2-D or two 3-D operands, got %s %s and %s %s", vn(f, args[0], na),
                    sh(&va->shape, s1, sizeof s1), vn(f, args[1], nb),
                    sh(&vb->shape, s2, sizeof s2));
  if (same_dtype(f, args[0], args[1], d)) return HL_ERR;
  DType in = va->dtype;
  if (!ir_dtype_is_float(in) && in != DT_INT8)
    return diag_set(d, "operands are %s; dot takes float or int8 operands", ir_dtype_name(in));
  IrDim k1 = va->shape.dims[r - 1], k2 = vb->shape.dims[r - 2];
  if (!ir_dim_eq(k1, k2))
    return diag_set(d,
                    "inner dims differ: %s %s and %s %s (a's last dim must equal b's "
                    "second-to-last)",
                    vn(f, args[0], na), sh(&va->shape, s1, sizeof s1), vn(f, args[1], nb),
                    sh(&vb->shape, s2, sizeof s2));
  if (r == 3 && !ir_dim_eq(va->shape.dims[0], vb->shape.dims[0]))
    return diag_set(d, "batch dims differ: %s and %s", sh(&va->shape, s1, sizeof s1),
                    sh(&vb->shape, s2, sizeof s2));
  res->shape = va->shape;
  res->shape.dims[r - 1] = vb->shape.dims[r - 1];
  if (nargs == 3) {
    const IrValue *acc = ir_value(f, args[2]);
    if (!ir_shape_eq(&acc->shape, &res->shape))
      return diag_set(d, "the accumulator %s has shape %s, but a @ b is %s", vn(f, args[2], na),
                      sh(&acc->shape, s1, sizeof s1), sh(&res->shape, s2, sizeof s2));
    if (ir_dtype_is_float(in) != ir_dtype_is_float(acc->dtype) || acc->dtype == DT_BOOL)
      return diag_set(d, "the accumulator %s is %s, which cannot accumulate %s products",
                      vn(f, args[2], na), ir_dtype_name(acc->dtype), ir_dtype_name(in));
    a->dtype = acc->dtype;
  } else if (a->dtype == IR_DTYPE_UNSET) {
    a->dtype = in == DT_FLOAT64 ? DT_FLOAT64 : in == DT_INT8 ? DT_INT32 : DT_FLOAT32;
  } else if (a->dtype < 0 || a->dtype >= DT_COUNT || a->dtype == DT_BOOL) {
    return diag_set(d, "has an invalid out dtype");
  }
  res->dtype = a->dtype;
  return HL_OK;
}

/* ---- elementwise, reductions, everything else ------------------------------------------------ */

static int infer_elementwise(const IrFunc *f, IrOpKind kind, IrOpClass cls, int nargs,
                             const IrValueId *args, IrType *res, Diag *d) {
  char n[NAMEBUF];
  for (int i = 0; i < nargs; i++)
    if (need_data(f, args[i], "operand", d)) return HL_ERR;
  IrShape s = ir_value(f, args[0])->shape;
  for (int i = 1; i < nargs; i++)
    if (broadcast(&s, &ir_value(f, args[i])->shape, &s))
      return broadcast_err(f, args[i - 1], args[i], d);
  DType dt = ir_value(f, args[nargs - 1])->dtype;
  switch (cls) {
  case IR_CLASS_UNARY:
  case IR_CLASS_BINARY:
    if (nargs == 2 && same_dtype(f, args[0], args[1], d)) return HL_ERR;
    if (dt == DT_BOOL)
      return diag_set(d, "operand %s is bool; cast it to a number first", vn(f, args[0], n));
    break;
  case IR_CLASS_UNARY_FLOAT:
  case IR_CLASS_BINARY_FLOAT:
    if (nargs == 2 && same_dtype(f, args[0], args[1], d)) return HL_ERR;
    if (!ir_dtype_is_float(dt))
      return diag_set(d, "operand %s is %s; this op needs a float (the tracer casts integers)",
                      vn(f, args[0], n), ir_dtype_name(dt));
    break;
  case IR_CLASS_COMPARE:
    if (same_dtype(f, args[0], args[1], d)) return HL_ERR;
    dt = DT_BOOL;
    break;
  case IR_CLASS_LOGICAL:
    for (int i = 0; i < nargs; i++)
      if (ir_value(f, args[i])->dtype != DT_BOOL)
        return diag_set(d, "operand %s is %s, not bool", vn(f, args[i], n),
                        ir_dtype_name(ir_value(f, args[i])->dtype));
    break;
  case IR_CLASS_WHERE:
    if (ir_value(f, args[0])->dtype != DT_BOOL)
      return diag_set(d, "the condition %s is %s, not bool", vn(f, args[0], n),
                      ir_dtype_name(ir_value(f, args[0])->dtype));
    if (same_dtype(f, args[1], args[2], d)) return HL_ERR;
    break;
  default:
    break;
  }
  (void)kind;
  res->kind = IR_VAL_DATA;
  res->dtype = dt;
  res->shape = s;
  return HL_OK;
}

static int infer_reduce(const IrFunc *f, IrOpKind kind, const IrValue *src, IrAttrs *a, IrType *res,
                        Diag *d) {
  int dim = norm_dim(a->dim, src->shape.rank, d);
  if (dim < 0) return HL_ERR;
  a->dim = dim;
  DType dt = src->dtype;
  if (kind == IR_OP_SOFTMAX || kind == IR_OP_MEAN) {
    if (!ir_dtype_is_float(dt))
      return diag_set(d, "input is %s; this reduction needs a float (the tracer casts)",
                      ir_dtype_name(dt));
  } else if (dt == DT_BOOL && kind != IR_OP_ARGMAX && kind != IR_OP_ARGMIN) {
    return diag_set(d, "input is bool; cast it to a number first");
  }
  res->shape = src->shape;
  if (kind == IR_OP_SOFTMAX) {
    a->keepdim = false;
  } else if (a->keepdim) {
    res->shape.dims[dim] = (IrDim){IR_DIM_CONST, 1};
  } else {
    for (int i = dim; i + 1 < res->shape.rank; i++)
      res->shape.dims[i] = res->shape.dims[i + 1];
    res->shape.rank--;
  }
  res->dtype = kind == IR_OP_ARGMAX || kind == IR_OP_ARGMIN ? DT_INT64 : dt;
  return HL_OK;
}

static int infer_view(const IrFunc *f, IrOpClass cls, const IrValue *src, IrAttrs *a, IrType *res,
                      Diag *d) {
  int r = src->shape.rank;
  res->dtype = src->dtype;
  res->shape = src->shape;
  switch (cls) {
  case IR_CLASS_RESHAPE:
    return infer_reshape(f, src, a, res, d);
  case IR_CLASS_EXPAND:
    return infer_expand(f, src, a, res, d);
  case IR_CLASS_PERMUTE: {
    if (a->shape.rank != r)
      return diag_set(d, "the permutation has %d entries for a value of %d dims", a->shape.rank, r);
    bool seen[IR_MAX_RANK] = {false};
    for (int i = 0; i < r; i++) {
      int p = norm_dim(a->perm[i], r, d);
      if (p < 0) return HL_ERR;
      if (seen[p]) return diag_set(d, "dim %d appears twice in the permutation", p);
      seen[p] = true;
      a->perm[i] = p;
      res->shape.dims[i] = src->shape.dims[p];
    }
    memset(a->shape.dims, 0, sizeof a->shape.dims);
    return HL_OK;
  }
  case IR_CLASS_UNSQUEEZE: {
    if (r >= IR_MAX_RANK)
      return diag_set(d, "the result would have more than %d dims", IR_MAX_RANK);
    if (a->dim < -(r + 1) || a->dim > r)
      return diag_set(d, "dim %d is out of range for unsqueezing a value of %d dims (0..%d)",
                      a->dim, r, r);
    int dim = a->dim < 0 ? a->dim + r + 1 : a->dim;
    a->dim = dim;
    for (int i = r; i > dim; i--)
      res->shape.dims[i] = res->shape.dims[i - 1];
    res->shape.dims[dim] = (IrDim){IR_DIM_CONST, 1};
    res->shape.rank = r + 1;
    return HL_OK;
  }
  case IR_CLASS_SQUEEZE: {
    int dim = norm_dim(a->dim, r, d);
    if (dim < 0) return HL_ERR;
    a->dim = dim;
    IrDim one = {IR_DIM_CONST, 1};
    char b[32];
    if (!ir_dim_eq(src->shape.dims[dim], one))
      return diag_set(d, "dim %d has size %s, not 1", dim,
                      ir_dim_str(src->shape.dims[dim], b, sizeof b));
    for (int i = dim; i + 1 < r; i++)
      res->shape.dims[i] = res->shape.dims[i + 1];
    res->shape.rank = r - 1;
    return HL_OK;
  }
  default:
    return diag_set(d, "is not a view");
  }
}

int ir_infer(const IrFunc *f, IrOpKind kind, int nargs, const IrValueId *args, const IrAttrs *attrs,
             IrAttrs *norm, int *nres, IrType *res, Diag *d) {
  if ((unsigned)kind >= IR_OP_COUNT) return diag_set(d, "op kind %d is unknown", (int)kind);
  const IrOpInfo *info = ir_op_info(kind);
  IrAttrs a = IR_ATTRS_INIT;
  if (attrs) a = *attrs;
  *nres = 1;
  memset(res, 0, sizeof *res);
  res->kind = IR_VAL_DATA;
  if (info->arity >= 0 && need_count(nargs, info->arity, d)) return HL_ERR;
  for (int i = 0; i < nargs; i++)
    if (!ir_value(f, args[i]))
      return diag_set(d, "operand %d is not a value (id %d)", i + 1, (int)args[i]);
  const IrValue *src = nargs > 0 ? ir_value(f, args[0]) : NULL;
  char n[NAMEBUF];
  int rc = HL_OK;
  switch (info->cls) {
  case IR_CLASS_CONST:
    if (norm_scalar(a.dtype, &a.value, d)) return HL_ERR;
    scalar_type(res, a.dtype);
    break;
  case IR_CLASS_DECL:
    if (kind == IR_OP_REGISTER_BLOCK_SIZE) {
      if (a.slot < 0 || a.slot >= f->nslots || f->slots[a.slot].kind != IR_SLOT_REGISTERED)
        return diag_set(d, "slot %d is not a registered block size", a.slot);
      scalar_type(res, DT_INT64);
    } else if (kind == IR_OP_TUNABLE) {
      if (a.slot < 0 || a.slot >= f->ntunables)
        return diag_set(d, "tunable %d does not exist", a.slot);
      scalar_type(res, f->tunables[a.slot].dtype);
    } else {
      if (src->def_kind != IR_DEF_ARG || src->kind != IR_VAL_DATA || src->shape.rank != 0)
        return diag_set(d, "%s is not a scalar kernel argument", vn(f, args[0], n));
      if (norm_scalar(src->dtype, &a.value, d)) return HL_ERR;
      scalar_type(res, src->dtype);
    }
    break;
  case IR_CLASS_PROGRAM:
    if (a.dim < 0 || a.dim > 2) return diag_set(d, "axis %d is not 0, 1 or 2", a.dim);
    scalar_type(res, DT_INT64);
    break;
  case IR_CLASS_TILE_FIELD:
    if (src->kind != IR_VAL_TILE)
      return diag_set(d, "operand %s is not a tile (a tile loop's iteration value)",
                      vn(f, args[0], n));
    scalar_type(res, DT_INT64);
    if (kind == IR_OP_TILE_INDEX) res->shape = src->shape;
    break;
  case IR_CLASS_LOAD:
  case IR_CLASS_STORE:
    rc = infer_memory(f, kind, nargs, args, &a, nres, res, d);
    break;
  case IR_CLASS_PTR_LOAD:
  case IR_CLASS_PTR_STORE:
    rc = infer_ptr(f, kind, nargs, args, &a, nres, res, d);
    break;
  case IR_CLASS_FULL:
    if (norm_scalar(a.dtype, &a.value, d) || need_dims_valid(f, &a.shape, false, d)) return HL_ERR;
    res->dtype = a.dtype;
    res->shape = a.shape;
    break;
  case IR_CLASS_ARANGE:
    if (a.dtype != DT_INT32 && a.dtype != DT_INT64)
      return diag_set(d, "dtype must be int32 or int64, got %s", ir_dtype_name(a.dtype));
    if (a.shape.rank != 1) return diag_set(d, "needs a length (a shape of one dim)");
    if (need_dims_valid(f, &a.shape, false, d)) return HL_ERR;
    res->dtype = a.dtype;
    res->shape = a.shape;
    break;
  case IR_CLASS_UNARY:
  case IR_CLASS_UNARY_FLOAT:
  case IR_CLASS_LOGICAL:
  case IR_CLASS_BINARY:
  case IR_CLASS_BINARY_FLOAT:
  case IR_CLASS_COMPARE:
  case IR_CLASS_WHERE:
    rc = infer_elementwise(f, kind, info->cls, nargs, args, res, d);
    break;
  case IR_CLASS_CAST:
    if (need_data(f, args[0], "operand", d)) return HL_ERR;
    if (a.dtype < 0 || a.dtype >= DT_COUNT) return diag_set(d, "needs a target dtype");
    res->dtype = a.dtype;
    res->shape = src->shape;
    break;
  case IR_CLASS_REDUCE:
  case IR_CLASS_SOFTMAX:
    if (need_data(f, args[0], "operand", d)) return HL_ERR;
    rc = infer_reduce(f, kind, src, &a, res, d);
    break;
  case IR_CLASS_RESHAPE:
  case IR_CLASS_PERMUTE:
  case IR_CLASS_UNSQUEEZE:
  case IR_CLASS_SQUEEZE:
  case IR_CLASS_EXPAND:
    if (need_data(f, args[0], "operand", d)) return HL_ERR;
    rc = infer_view(f, info->cls, src, &a, res, d);
    break;
  case IR_CLASS_DOT:
    rc = infer_dot(f, nargs, args, &a, res, d);
    break;
  case IR_CLASS_LOOP:
  case IR_CLASS_YIELD:
    return diag_set(d, "is typed by its loop, not by ir_infer");
  }
  if (rc) return HL_ERR;
  if (*nres == 0) res->shape.rank = 0;
  *norm = a;
  return HL_OK;
}
