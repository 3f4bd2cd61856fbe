/* The Triton renderer's ops: elementwise math, casts, views, reductions (whole or looped in
 * chunks at their sinks), dot, and the tile fields. Part of src/lower (the "triton" stage). */
#include <stdio.h>
#include <string.h>

#include "lower/lower_triton_internal.h"

#define E 1024 /* room for one expression */

static bool has_looped(Tt *t, const IrShape *s, int *rdim) {
  for (int i = 0; i < s->rank; i++)
    if (s->dims[i].kind == IR_DIM_RDIM && t->rlooped[s->dims[i].v]) {
      if (rdim) *rdim = (int)s->dims[i].v;
      return true;
    }
  return false;
}

static bool has_rdim(const IrShape *s, int n) {
  for (int i = 0; i < s->rank; i++)
    if (s->dims[i].kind == IR_DIM_RDIM && s->dims[i].v == n) return true;
  return false;
}

static bool is_reduce(const IrOp *op) {
  return ir_op_info(op->kind)->cls == IR_CLASS_REDUCE;
}

/* ---- which reduction dims loop in chunks ------------------------------------------------------
 */

/* Whether every op touching rdim n is one the chunk loops can recompute, all in one region. */
static bool loopable(Tt *t, const IrRegion *r, int n, const IrRegion **home) {
  for (const IrOp *op = r->first; op; op = op->next) {
    bool touches = false;
    for (int i = 0; i < op->nargs; i++) {
      const IrValue *v = tt_val(t, op->args[i]);
      if (v->kind == IR_VAL_DATA && has_rdim(&v->shape, n)) touches = true;
    }
    for (int i = 0; i < op->nresults; i++)
      if (has_rdim(&tt_val(t, op->results[i])->shape, n)) touches = true;
    if ((op->kind == IR_OP_LOAD || op->kind == IR_OP_STORE || op->kind == IR_OP_ATOMIC_ADD) &&
        op->attrs)
      for (int k = 0; k < op->attrs->nidx; k++)
        if (op->attrs->idx[k] == IR_IDX_SLICE && op->attrs->rdim[k] == n) touches = true;
    if (op->body && !loopable(t, op->body, n, home)) return false;
    if (!touches) continue;
    if (*home && *home != r) return false;
    *home = r;
    IrOpClass cls = ir_op_info(op->kind)->cls;
    if (ir_class_is_elementwise(cls)) continue;
    switch (cls) {
    case IR_CLASS_LOAD:
    case IR_CLASS_UNSQUEEZE:
    case IR_CLASS_SQUEEZE:
    case IR_CLASS_EXPAND:
      break;
    case IR_CLASS_STORE:
      if (op->kind == IR_OP_ATOMIC_ADD) return false;
      break;
    case IR_CLASS_REDUCE:
      if (op->kind == IR_OP_ARGMAX || op->kind == IR_OP_ARGMIN) return false;
      break;
    default:
      return false; /* dot, softmax, reshape, permute, loops, yield */
    }
  }
  return true;
}

static void mark_deferred(Tt *t, const IrRegion *r) {
  for (const IrOp *op = r->first; op; op = op->next) {
    for (int i = 0; i < op->nresults; i++) {
      const IrValue *v = tt_val(t, op->results[i]);
      if (v->kind == IR_VAL_DATA && has_looped(t, &v->shape, NULL))
        t->deferred[op->results[i]] = true;
    }
    if (op->body) mark_deferred(t, op->body);
  }
}

int tt_analyze_rdims(Tt *t) {
  for (int n = 0; n < t->f->nrdims; n++) {
    int64_t ext = t->f->rdims[n].extent;
    int chunk = cfgspace_get(t->s, t->cfg, "reduction_loops", n, CFG_NONE);
    t->rlooped[n] = false;
    t->rsize[n] = tt_pow2(ext);
    if (chunk == CFG_NONE || chunk <= 0) continue;
    const IrRegion *home = NULL;
    if (!loopable(t, t->f->body, n, &home)) {
      t->rwhole[n] = true;
      continue;
    }
    t->rlooped[n] = true;
    t->rsize[n] = chunk;
  }
  mark_deferred(t, t->f->body);
  return HL_OK;
}

bool tt_is_sink(Tt *t, const IrOp *op) {
  if (is_reduce(op)) {
    const IrValue *in = tt_val(t, op->args[0]);
    IrDim dim = in->shape.dims[op->attrs->dim];
    return dim.kind == IR_DIM_RDIM && t->rlooped[dim.v];
  }
  if (op->kind == IR_OP_STORE) {
    for (int k = 0; k < op->attrs->nidx; k++)
      if (op->attrs->idx[k] == IR_IDX_SLICE && t->rlooped[op->attrs->rdim[k]]) return true;
    for (int i = 0; i < op->nargs; i++)
      if (t->deferred[op->args[i]]) return true;
  }
  return false;
}

/* ---- elementwise ------------------------------------------------------------------------------
 */

/* fn(x) computed in float32 for float16 / bfloat16 (Triton's math takes fp32 / fp64). */
static void math1(const char *fn, const char *x, DType dt, char *buf, size_t cap) {
  if (tt_is_half(dt))
    snprintf(buf, cap, "%s(%s.to(tl.float32)).to(%s)", fn, x, tt_dtype(dt));
  else
    snprintf(buf, cap, "%s(%s)", fn, x);
}

static int unary(Tt *t, const IrOp *op, char *buf, size_t cap) {
  char tb[E];
  const char *x = tt_tensor(t, op->args[0], tb, sizeof tb);
  DType dt = tt_val(t, op->results[0])->dtype;
  bool half = tt_is_half(dt);
  char xf[E + 32];
  snprintf(xf, sizeof xf, half ? "%s.to(tl.float32)" : "%s", x);
  char body[3 * E];
  const char *fn = NULL;
  switch (op->kind) {
  case IR_OP_NEG:
    snprintf(buf, cap, "-%s", x);
    return HL_OK;
  case IR_OP_ABS:
    snprintf(buf, cap, "tl.abs(%s)", x);
    return HL_OK;
  case IR_OP_RELU:
    snprintf(buf, cap, "tl.maximum(%s, %s)", x, ir_dtype_is_float(dt) ? "0.0" : "0");
    return HL_OK;
  case IR_OP_NOT:
    snprintf(buf, cap, "(%s == 0)", x);
    return HL_OK;
  case IR_OP_EXP:
    fn = "tl.exp";
    break;
  case IR_OP_EXP2:
    fn = "tl.exp2";
    break;
  case IR_OP_LOG:
    fn = "tl.log";
    break;
  case IR_OP_LOG2:
    fn = "tl.log2";
    break;
  case IR_OP_SQRT:
    fn = "tl.sqrt";
    break;
  case IR_OP_RSQRT:
    fn = "tl.rsqrt";
    break;
  case IR_OP_SIN:
    fn = "tl.sin";
    break;
  case IR_OP_COS:
    fn = "tl.cos";
    break;
  case IR_OP_FLOOR:
    fn = "tl.floor";
    break;
  case IR_OP_CEIL:
    fn = "tl.ceil";
    break;
  case IR_OP_SIGMOID:
    fn = "tl.sigmoid";
    break;
  case IR_OP_TANH:
    t->libdevice = true;
    fn = "libdevice.tanh";
    break;
  case IR_OP_SILU:
    snprintf(body, sizeof body, "%s * tl.sigmoid(%s)", xf, xf);
    goto wrap;
  case IR_OP_GELU:
    snprintf(body, sizeof body, "0.5 * %s * (1.0 + tl.erf(%s * 0.7071067811865476))", xf, xf);
    goto wrap;
  default:
    return tt_fail(t, op, "op %s is not supported", ir_op_info(op->kind)->name);
  }
  math1(fn, x, dt, buf, cap);
  return HL_OK;
wrap:
  if (half)
    snprintf(buf, cap, "(%s).to(%s)", body, tt_dtype(dt));
  else
    snprintf(buf, cap, "%s", body);
  return HL_OK;
}

static int binary(Tt *t, const IrOp *op, char *buf, size_t cap) {
  const char *a = t->name[op->args[0]], *b = t->name[op->args[1]];
  DType dt = tt_val(t, op->args[0])->dtype;
  bool fl = ir_dtype_is_float(dt);
  const char *sym = NULL;
  switch (op->kind) {
  case IR_OP_ADD:
    sym = "+";
    break;
  case IR_OP_SUB:
    sym = "-";
    break;
  case IR_OP_MUL:
    sym = "*";
    break;
  case IR_OP_DIV:
    sym = "/";
    break;
  case IR_OP_LT:
    sym = "<";
    break;
  case IR_OP_LE:
    sym = "<=";
    break;
  case IR_OP_GT:
    sym = ">";
    break;
  case IR_OP_GE:
    sym = ">=";
    break;
  case IR_OP_EQ:
    sym = "==";
    break;
  case IR_OP_NE:
    sym = "!=";
    break;
  case IR_OP_AND:
    sym = "&";
    break;
  case IR_OP_OR:
    sym = "|";
    break;
  case IR_OP_MAXIMUM:
  case IR_OP_MINIMUM:
    snprintf(buf, cap, "tl.%s(%s, %s%s)", op->kind == IR_OP_MAXIMUM ? "maximum" : "minimum", a, b,
             fl ? ", propagate_nan=tl.PropagateNan.ALL" : "");
    return HL_OK;
  case IR_OP_POW: {
    char ta[E], tb[E];
    t->libdevice = true;
    const char *x = tt_tensor(t, op->args[0], ta, sizeof ta);
    const char *y = tt_tensor(t, op->args[1], tb, sizeof tb);
    if (tt_is_half(dt))
      snprintf(buf, cap, "libdevice.pow(%s.to(tl.float32), %s.to(tl.float32)).to(%s)", x, y,
               tt_dtype(dt));
    else
      snprintf(buf, cap, "libdevice.pow(%s, %s)", x, y);
    return HL_OK;
  }
  case IR_OP_FLOORDIV:
    if (fl)
      snprintf(buf, cap, "tl.floor((%s / %s).to(tl.float32)).to(%s)", a, b, tt_dtype(dt));
    else
      snprintf(buf, cap, "(%s // %s) - ((%s %% %s != 0) & ((%s < 0) != (%s < 0))).to(%s)", a, b, a,
               b, a, b, tt_dtype(dt));
    return HL_OK;
  case IR_OP_MOD:
    if (fl)
      snprintf(buf, cap, "(%s - tl.floor((%s / %s).to(tl.float32)).to(%s) * %s)", a, a, b,
               tt_dtype(dt), b);
    else
      snprintf(buf, cap,
               "(%s %% %s) + tl.where((%s %% %s != 0) & ((%s %% %s < 0) != (%s < 0)), %s, 0)", a, b,
               a, b, a, b, b, b);
    return HL_OK;
  default:
    return tt_fail(t, op, "op %s is not supported", ir_op_info(op->kind)->name);
  }
  snprintf(buf, cap, "%s %s %s", a, sym, b);
  return HL_OK;
}

/* ---- reductions -------------------------------------------------------------------------------
 */

static const char *ident(const IrOp *op, DType dt) {
  bool fl = ir_dtype_is_float(dt);
  switch (op->kind) {
  case IR_OP_AMAX:
  case IR_OP_ARGMAX:
    if (fl) return "float(\"-inf\")";
    if (dt == DT_INT64) return "-9223372036854775808";
    if (dt == DT_INT32) return "-2147483648";
    if (dt == DT_INT16) return "-32768";
    if (dt == DT_INT8) return "-128";
    return "0";
  case IR_OP_AMIN:
  case IR_OP_ARGMIN:
    if (fl) return "float(\"inf\")";
    if (dt == DT_INT64) return "9223372036854775807";
    if (dt == DT_INT32) return "2147483647";
    if (dt == DT_INT16) return "32767";
    if (dt == DT_INT8) return "127";
    if (dt == DT_UINT8) return "255";
    return "1";
  default:
    return fl ? "0.0" : "0";
  }
}

/* x with the lanes of its dim `dim` past the valid ones set to the reduction's identity. */
static void masked_input(Tt *t, const IrOp *op, const char *x, char *buf, size_t cap) {
  const IrValue *in = tt_val(t, op->args[0]);
  char m[E], mb[E];
  if (!tt_dim_mask(t, in->shape.dims[op->attrs->dim], m, sizeof m)) {
    snprintf(buf, cap, "%s", x);
    return;
  }
  tt_bcast(m, op->attrs->dim, in->shape.rank, mb, sizeof mb);
  snprintf(buf, cap, "tl.where(%s, %s, %s)", mb, x, ident(op, in->dtype));
}

/* The number of valid lanes of a dim (mean's divisor) as text. */
static void count_of(Tt *t, IrDim dim, char *buf, size_t cap) {
  if (dim.kind == IR_DIM_RDIM) {
    snprintf(buf, cap, "%lld", (long long)t->f->rdims[dim.v].extent);
  } else if (dim.kind == IR_DIM_BLOCK && t->slot_tdim[dim.v] >= 0) {
    const TtTdim *td = &t->tdims[t->slot_tdim[dim.v]];
    int id = t->slot_tdim[dim.v];
    if (td->pad)
      snprintf(buf, cap, "(tl.minimum(offset_%d + %s, %s) - offset_%d)", id, td->block, td->end,
               id);
    else
      snprintf(buf, cap, "%s", td->block);
  } else {
    char d[48];
    tt_dim(t, dim, d, sizeof d);
    snprintf(buf, cap, "%s", dim.kind == IR_DIM_CONST ? d : d);
    if (dim.kind == IR_DIM_CONST) snprintf(buf, cap, "%lld", (long long)dim.v);
  }
}

static const char *reduce_fn(const IrOp *op) {
  switch (op->kind) {
  case IR_OP_AMAX:
    return "tl.max";
  case IR_OP_AMIN:
    return "tl.min";
  case IR_OP_ARGMAX:
    return "tl.argmax";
  case IR_OP_ARGMIN:
    return "tl.argmin";
  default:
    return "tl.sum";
  }
}

/* The reduction of x (already masked) as one expression of the result's dtype. */
static void reduce_expr(Tt *t, const IrOp *op, const char *x, char *buf, size_t cap) {
  const IrValue *in = tt_val(t, op->args[0]);
  DType rdt = tt_val(t, op->results[0])->dtype;
  bool sum = op->kind == IR_OP_SUM || op->kind == IR_OP_MEAN;
  char xin[2 * E];
  if (sum && tt_is_half(in->dtype))
    snprintf(xin, sizeof xin, "%s.to(tl.float32)", x);
  else if (sum && (in->dtype == DT_BOOL || in->dtype == DT_INT8 || in->dtype == DT_INT16 ||
                   in->dtype == DT_UINT8))
    snprintf(xin, sizeof xin, "%s.to(%s)", x, tt_dtype(rdt));
  else
    snprintf(xin, sizeof xin, "%s", x);
  snprintf(buf, cap, "%s(%s, axis=%d, keep_dims=%s)", reduce_fn(op), xin, op->attrs->dim,
           op->attrs->keepdim ? "True" : "False");
}

static int reduce(Tt *t, const IrOp *op) {
  const IrValue *in = tt_val(t, op->args[0]);
  const IrValue *res = tt_val(t, op->results[0]);
  const char *name = t->name[op->results[0]];
  char x[E], m[2 * E], r[3 * E];
  tt_tensor(t, op->args[0], x, sizeof x);
  snprintf(x, sizeof x, "%s", tt_tensor(t, op->args[0], r, sizeof r));
  masked_input(t, op, x, m, sizeof m);
  reduce_expr(t, op, m, r, sizeof r);
  if (op->kind == IR_OP_MEAN) {
    char c[E];
    count_of(t, in->shape.dims[op->attrs->dim], c, sizeof c);
    tt_stmt(t, op->loc, "%s = (%s / %s).to(%s)", name, r, c, tt_dtype(res->dtype));
  } else if (op->kind == IR_OP_ARGMAX || op->kind == IR_OP_ARGMIN || tt_is_half(res->dtype) ||
             res->dtype != in->dtype) {
    tt_stmt(t, op->loc, "%s = %s.to(%s)", name, r, tt_dtype(res->dtype));
  } else {
    tt_stmt(t, op->loc, "%s = %s", name, r);
  }
  return HL_OK;
}

/* softmax over dim d, whole: max, exp of the shifted values, sum, divide (float32 inside). */
static int softmax(Tt *t, const IrOp *op) {
  const IrValue *in = tt_val(t, op->args[0]);
  int d = op->attrs->dim, id = op->results[0];
  const char *name = t->name[id];
  char xb[E], x[2 * E], m[E], mb[E];
  const char *xs = tt_tensor(t, op->args[0], xb, sizeof xb);
  snprintf(x, sizeof x, tt_is_half(in->dtype) ? "%s.to(tl.float32)" : "%s", xs);
  bool masked = tt_dim_mask(t, in->shape.dims[d], m, sizeof m);
  if (masked) tt_bcast(m, d, in->shape.rank, mb, sizeof mb);
  if (masked)
    tt_stmt(t, op->loc,
            "_max_%d = tl.max(tl.where(%s, %s, float(\"-inf\")), axis=%d, keep_dims=True)", id, mb,
            x, d);
  else
    tt_stmt(t, op->loc, "_max_%d = tl.max(%s, axis=%d, keep_dims=True)", id, x, d);
  if (masked)
    tt_stmt(t, op->loc, "_exp_%d = tl.where(%s, tl.exp(%s - _max_%d), 0.0)", id, mb, x, id);
  else
    tt_stmt(t, op->loc, "_exp_%d = tl.exp(%s - _max_%d)", id, x, id);
  tt_stmt(t, op->loc, "%s = (_exp_%d / tl.sum(_exp_%d, axis=%d, keep_dims=True)).to(%s)", name, id,
          id, d, tt_dtype(tt_val(t, id)->dtype));
  return HL_OK;
}

/* ---- looped reductions: a chunk loop at each sink ------------------------------------------- */

static void need_value(Tt *t, IrValueId v) {
  if (!t->deferred[v] || t->need[v]) return;
  t->need[v] = true;
  const IrValue *val = tt_val(t, v);
  if (val->def_kind != IR_DEF_RESULT) return;
  for (int i = 0; i < val->def->nargs; i++)
    need_value(t, val->def->args[i]);
}

static int sink(Tt *t, const IrOp *op) {
  int n = -1;
  if (is_reduce(op)) {
    n = (int)tt_val(t, op->args[0])->shape.dims[op->attrs->dim].v;
  } else {
    for (int k = 0; k < op->attrs->nidx && n < 0; k++)
      if (op->attrs->idx[k] == IR_IDX_SLICE && t->rlooped[op->attrs->rdim[k]])
        n = op->attrs->rdim[k];
    for (int i = 0; i < op->nargs && n < 0; i++)
      if (t->deferred[op->args[i]]) has_looped(t, &tt_val(t, op->args[i])->shape, &n);
  }
  if (n < 0) return tt_fail(t, op, "internal: a looped reduction without its dim");
  for (int i = 0; i < t->f->nvalues; i++)
    t->need[i] = false;
  for (int i = 0; i < op->nargs; i++)
    need_value(t, op->args[i]);
  int64_t ext = t->f->rdims[n].extent;
  const IrValue *res = op->nresults ? tt_val(t, op->results[0]) : NULL;
  const char *name = op->nresults ? t->name[op->results[0]] : NULL;
  int id = op->nresults ? op->results[0] : 0;
  DType acc_dt = DT_FLOAT32;
  if (res) {
    acc_dt = res->dtype;
    if (tt_is_half(acc_dt)) acc_dt = DT_FLOAT32;
    char shape[E];
    tt_shape(t, &res->shape, shape, sizeof shape);
    tt_stmt(t, op->loc, "_acc_%d = tl.full(%s, %s, %s)", id, shape,
            ident(op, tt_val(t, op->args[0])->dtype), tt_dtype(acc_dt));
  }
  tt_stmt(t, op->loc, "for roffset_%d in tl.range(0, %lld, _REDUCTION_BLOCK_%d):", n,
          (long long)ext, n);
  t->indent++;
  tt_stmt(t, op->loc, "rindex_%d = roffset_%d + tl.arange(0, _REDUCTION_BLOCK_%d)", n, n, n);
  if (ext % t->rsize[n]) tt_stmt(t, op->loc, "rmask_%d = rindex_%d < %lld", n, n, (long long)ext);
  for (const IrOp *o = op->parent->first; o && o != op; o = o->next) {
    if (o->nresults && t->need[o->results[0]]) {
      t->deferred[o->results[0]] = false; /* emit it here */
      int r = o->kind == IR_OP_LOAD ? tt_emit_load(t, o) : tt_emit_op(t, o);
      t->deferred[o->results[0]] = true;
      if (r) return HL_ERR;
    }
  }
  if (!res) {
    int r = tt_emit_store(t, op);
    t->indent--;
    return r;
  }
  char x[E], m[2 * E], r[3 * E];
  snprintf(x, sizeof x, "%s", t->name[op->args[0]]);
  masked_input(t, op, x, m, sizeof m);
  reduce_expr(t, op, m, r, sizeof r);
  if (op->kind == IR_OP_AMAX || op->kind == IR_OP_AMIN)
    tt_stmt(t, op->loc, "_acc_%d = tl.%s(_acc_%d, %s)", id,
            op->kind == IR_OP_AMAX ? "maximum" : "minimum", id, r);
  else
    tt_stmt(t, op->loc, "_acc_%d = _acc_%d + %s", id, id, r);
  t->indent--;
  if (op->kind == IR_OP_MEAN)
    tt_stmt(t, op->loc, "%s = (_acc_%d / %lld).to(%s)", name, id, (long long)ext,
            tt_dtype(res->dtype));
  else
    tt_stmt(t, op->loc, "%s = _acc_%d.to(%s)", name, id, tt_dtype(res->dtype));
  return HL_OK;
}

/* ---- views, dot, tile fields, creation --------------------------------------------------------
 */

static int dot(Tt *t, const IrOp *op) {
  const IrValue *a = tt_val(t, op->args[0]), *b = tt_val(t, op->args[1]);
  const IrValue *res = tt_val(t, op->results[0]);
  int ra = a->shape.rank, rb = b->shape.rank;
  char xa[E], xb[E], m[E], mb[E];
  snprintf(xa, sizeof xa, "%s", t->name[op->args[0]]);
  snprintf(xb, sizeof xb, "%s", t->name[op->args[1]]);
  if (tt_dim_mask(t, a->shape.dims[ra - 1], m, sizeof m)) {
    char tmp[E];
    tt_bcast(m, ra - 1, ra, mb, sizeof mb);
    if (snprintf(tmp, sizeof tmp, "tl.where(%s, %s, 0)", mb, xa) >= E)
      return tt_fail(t, op, "a dot operand is too long to render");
    snprintf(xa, sizeof xa, "%s", tmp);
    tt_bcast(m, rb - 2, rb, mb, sizeof mb);
    if (snprintf(tmp, sizeof tmp, "tl.where(%s, %s, 0)", mb, xb) >= E)
      return tt_fail(t, op, "a dot operand is too long to render");
    snprintf(xb, sizeof xb, "%s", tmp);
  }
  const char *prec = a->dtype == DT_FLOAT32 && t->tf32                 ? ", input_precision=\"tf32\""
                     : a->dtype == DT_FLOAT32 || a->dtype == DT_FLOAT64 ? ", input_precision=\"ieee\""
                                                                        : "";
  const char *name = t->name[op->results[0]];
  if (op->nargs == 3) {
    const IrValue *acc = tt_val(t, op->args[2]);
    if (acc->dtype == DT_FLOAT32 || acc->dtype == DT_INT32 || acc->dtype == DT_FLOAT64) {
      tt_stmt(t, op->loc, "%s = tl.dot(%s, %s, acc=%s%s)", name, xa, xb, t->name[op->args[2]],
              prec);
      return HL_OK;
    }
    tt_stmt(t, op->loc, "%s = (%s.to(tl.float32) + tl.dot(%s, %s, out_dtype=tl.float32%s)).to(%s)",
            name, t->name[op->args[2]], xa, xb, prec, tt_dtype(res->dtype));
    return HL_OK;
  }
  DType out = a->dtype == DT_INT8 ? DT_INT32 : a->dtype == DT_FLOAT64 ? DT_FLOAT64 : DT_FLOAT32;
  if (out == res->dtype)
    tt_stmt(t, op->loc, "%s = tl.dot(%s, %s, out_dtype=%s%s)", name, xa, xb, tt_dtype(out), prec);
  else
    tt_stmt(t, op->loc, "%s = tl.dot(%s, %s, out_dtype=%s%s).to(%s)", name, xa, xb, tt_dtype(out),
            prec, tt_dtype(res->dtype));
  return HL_OK;
}

static int tile_field(Tt *t, const IrOp *op) {
  int td = t->tdim[op->args[0]];
  if (td < 0) return tt_fail(t, op, "%s of a value that is not a tile", ir_op_info(op->kind)->name);
  const TtTdim *x = &t->tdims[td];
  const char *name = t->name[op->results[0]];
  switch (op->kind) {
  case IR_OP_TILE_INDEX:
    tt_stmt(t, op->loc, "%s = indices_%d.to(tl.int64)", name, td);
    break;
  case IR_OP_TILE_BEGIN:
    tt_stmt(t, op->loc, "%s = offset_%d", name, td);
    break;
  case IR_OP_TILE_END:
    tt_stmt(t, op->loc, "%s = tl.minimum(offset_%d + %s, %s)", name, td, x->block, x->end);
    break;
  case IR_OP_TILE_ID:
    tt_stmt(t, op->loc, "%s = (offset_%d - %s) // %s", name, td, x->begin, x->block);
    break;
  case IR_OP_TILE_COUNT:
    tt_stmt(t, op->loc, "%s = tl.cdiv(%s - %s, %s)", name, x->end, x->begin, x->block);
    break;
  default:
    tt_stmt(t, op->loc, "%s = %s", name, x->block);
    break;
  }
  return HL_OK;
}

static int view(Tt *t, const IrOp *op) {
  const IrValue *res = tt_val(t, op->results[0]);
  const char *name = t->name[op->results[0]];
  char xb[E], shape[E];
  const char *x = tt_tensor(t, op->args[0], xb, sizeof xb);
  tt_shape(t, &res->shape, shape, sizeof shape);
  switch (op->kind) {
  case IR_OP_RESHAPE:
    tt_stmt(t, op->loc, "%s = tl.reshape(%s, %s)", name, x, shape);
    break;
  case IR_OP_PERMUTE: {
    char p[128];
    size_t n = 0;
    for (int i = 0; i < res->shape.rank; i++)
      n += (size_t)snprintf(p + n, sizeof p - n, "%s%d", i ? ", " : "", op->attrs->perm[i]);
    tt_stmt(t, op->loc, "%s = tl.permute(%s, (%s%s))", name, x, p, res->shape.rank == 1 ? "," : "");
    break;
  }
  case IR_OP_UNSQUEEZE:
    tt_stmt(t, op->loc, "%s = tl.expand_dims(%s, %d)", name, x, op->attrs->dim);
    break;
  case IR_OP_SQUEEZE:
    if (res->shape.rank == 0)
      tt_stmt(t, op->loc, "%s = tl.sum(%s, axis=0).to(%s)", name, x, tt_dtype(res->dtype));
    else
      tt_stmt(t, op->loc, "%s = tl.reshape(%s, %s)", name, x, shape);
    break;
  default:
    tt_stmt(t, op->loc, "%s = tl.broadcast_to(%s, %s)", name, x, shape);
    break;
  }
  return HL_OK;
}

static void literal(Tt *t, const IrOp *op, const IrScalar *v, DType dt, char *buf, size_t cap) {
  (void)t;
  (void)op;
  if (dt == DT_BOOL)
    snprintf(buf, cap, "%s", (v->is_float ? v->f != 0 : v->i != 0) ? "True" : "False");
  else if (ir_dtype_is_float(dt))
    tt_double(v->is_float ? v->f : (double)v->i, buf, cap);
  else
    snprintf(buf, cap, "%lld", (long long)(v->is_float ? (int64_t)v->f : v->i));
}

int tt_emit_op(Tt *t, const IrOp *op) {
  if (op->nresults == 1 && t->deferred[op->results[0]]) return HL_OK;
  if (tt_is_sink(t, op)) return sink(t, op);
  const IrOpInfo *info = ir_op_info(op->kind);
  IrValueId rid = op->nresults ? op->results[0] : IR_NONE;
  const char *name = rid != IR_NONE ? t->name[rid] : NULL;
  const IrValue *res = rid != IR_NONE ? tt_val(t, rid) : NULL;
  char buf[4 * E], shape[E];
  switch (info->cls) {
  case IR_CLASS_CONST:
  case IR_CLASS_DECL:
    return HL_OK; /* literals */
  case IR_CLASS_TILE_FIELD:
    return tile_field(t, op);
  case IR_CLASS_LOAD:
    return tt_emit_load(t, op);
  case IR_CLASS_STORE:
    return tt_emit_store(t, op);
  case IR_CLASS_FULL: {
    char v[128];
    literal(t, op, &op->attrs->value, res->dtype, v, sizeof v);
    tt_shape(t, &res->shape, shape, sizeof shape);
    tt_stmt(t, op->loc, "%s = tl.full(%s, %s, %s)", name, shape, v, tt_dtype(res->dtype));
    return HL_OK;
  }
  case IR_CLASS_ARANGE: {
    char d[48];
    tt_dim(t, res->shape.dims[0], d, sizeof d);
    tt_stmt(t, op->loc, "%s = (%lld + tl.arange(0, %s)).to(%s)", name, (long long)op->attrs->start,
            d, tt_dtype(res->dtype));
    return HL_OK;
  }
  case IR_CLASS_UNARY:
  case IR_CLASS_UNARY_FLOAT:
    if (unary(t, op, buf, sizeof buf)) return HL_ERR;
    tt_stmt(t, op->loc, "%s = %s", name, buf);
    return HL_OK;
  case IR_CLASS_LOGICAL:
    if (op->kind == IR_OP_NOT) {
      if (unary(t, op, buf, sizeof buf)) return HL_ERR;
    } else if (binary(t, op, buf, sizeof buf)) {
      return HL_ERR;
    }
    tt_stmt(t, op->loc, "%s = %s", name, buf);
    return HL_OK;
  case IR_CLASS_BINARY:
  case IR_CLASS_BINARY_FLOAT:
  case IR_CLASS_COMPARE:
    if (binary(t, op, buf, sizeof buf)) return HL_ERR;
    tt_stmt(t, op->loc, "%s = %s", name, buf);
    return HL_OK;
  case IR_CLASS_WHERE:
    tt_stmt(t, op->loc, "%s = tl.where(%s, %s, %s)", name, t->name[op->args[0]],
            t->name[op->args[1]], t->name[op->args[2]]);
    return HL_OK;
  case IR_CLASS_CAST: {
    char xb[E];
    const char *x = tt_tensor(t, op->args[0], xb, sizeof xb);
    if (res->dtype == DT_BOOL)
      tt_stmt(t, op->loc, "%s = %s != 0", name, x);
    else
      tt_stmt(t, op->loc, "%s = %s.to(%s)", name, x, tt_dtype(res->dtype));
    return HL_OK;
  }
  case IR_CLASS_REDUCE:
    return reduce(t, op);
  case IR_CLASS_SOFTMAX:
    return softmax(t, op);
  case IR_CLASS_RESHAPE:
  case IR_CLASS_PERMUTE:
  case IR_CLASS_UNSQUEEZE:
  case IR_CLASS_SQUEEZE:
  case IR_CLASS_EXPAND:
    return view(t, op);
  case IR_CLASS_DOT:
    return dot(t, op);
  default:
    return tt_fail(t, op, "op %s is not supported by the Triton renderer (only traced IR is)",
                   info->name);
  }
}
