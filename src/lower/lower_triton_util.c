/* Text helpers of the Triton renderer: the output buffer, statements with their source line,
 * dtypes, dims, masks and literals as Python text. Part of src/lower (the "triton" stage). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "lower/lower_triton_internal.h"

static void buf_add(Tt *t, const char *s, size_t n) {
  textbuf_add(&t->out, s, n, 4096);
}

void tt_put(Tt *t, const char *s) {
  buf_add(t, s, strlen(s));
}

static void vput(Tt *t, const char *fmt, va_list ap) {
  char small[512];
  va_list cp;
  va_copy(cp, ap);
  int n = vsnprintf(small, sizeof small, fmt, cp);
  va_end(cp);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    buf_add(t, small, (size_t)n);
    return;
  }
  char *big = mem_alloc((size_t)n + 1);
  if (!big) {
    t->out.oom = true;
    return;
  }
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  buf_add(t, big, (size_t)n);
  mem_free(big);
}

void tt_printf(Tt *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vput(t, fmt, ap);
  va_end(ap);
}

void tt_stmt(Tt *t, IrLoc loc, const char *fmt, ...) {
  for (int i = 0; i < t->indent; i++)
    tt_put(t, "    ");
  va_list ap;
  va_start(ap, fmt);
  vput(t, fmt, ap);
  va_end(ap);
  char where[300];
  ir_loc_str(t->f, loc, where, sizeof where);
  if (where[0]) tt_printf(t, "  # %s", where);
  tt_put(t, "\n");
}

static int vfail(Tt *t, IrLoc loc, const char *fmt, va_list ap) {
  if (t->failed) return HL_ERR;
  t->failed = true;
  char msg[900];
  vsnprintf(msg, sizeof msg, fmt, ap);
  char where[300];
  ir_loc_str(t->f, loc, where, sizeof where);
  if (t->d) {
    if (where[0])
      diag_set(t->d, "triton stage: %s (%s)", msg, where);
    else
      diag_set(t->d, "triton stage: %s", msg);
    if (loc.file >= 0 && loc.file < t->f->nfiles && loc.line > 0) {
      snprintf(t->d->file, sizeof t->d->file, "%s", t->f->files[loc.file]);
      t->d->line = loc.line;
    }
  }
  return HL_ERR;
}

int tt_fail(Tt *t, const IrOp *op, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  IrLoc none = {-1, 0};
  int r = vfail(t, op ? op->loc : none, fmt, ap);
  va_end(ap);
  return r;
}

int tt_fail_loc(Tt *t, IrLoc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vfail(t, loc, fmt, ap);
  va_end(ap);
  return r;
}

char *tt_strdup(Tt *t, const char *s) {
  size_t n = strlen(s);
  char *p = mem_alloc(n + 1);
  if (!p) {
    t->out.oom = true;
    return NULL;
  }
  memcpy(p, s, n + 1);
  return p;
}

const char *tt_dtype(DType dt) {
  switch (dt) {
  case DT_FLOAT64:
    return "tl.float64";
  case DT_FLOAT32:
    return "tl.float32";
  case DT_FLOAT16:
    return "tl.float16";
  case DT_BFLOAT16:
    return "tl.bfloat16";
  case DT_INT64:
    return "tl.int64";
  case DT_INT32:
    return "tl.int32";
  case DT_INT16:
    return "tl.int16";
  case DT_INT8:
    return "tl.int8";
  case DT_UINT8:
    return "tl.uint8";
  case DT_BOOL:
    return "tl.int1";
  default:
    return "tl.float32";
  }
}

const char *tt_torch_dtype(DType dt) {
  switch (dt) {
  case DT_FLOAT64:
    return "torch.float64";
  case DT_FLOAT32:
    return "torch.float32";
  case DT_FLOAT16:
    return "torch.float16";
  case DT_BFLOAT16:
    return "torch.bfloat16";
  case DT_INT64:
    return "torch.int64";
  case DT_INT32:
    return "torch.int32";
  case DT_INT16:
    return "torch.int16";
  case DT_INT8:
    return "torch.int8";
  case DT_UINT8:
    return "torch.uint8";
  case DT_BOOL:
    return "torch.bool";
  default:
    return "torch.float32";
  }
}

bool tt_is_half(DType dt) {
  return dt == DT_FLOAT16 || dt == DT_BFLOAT16;
}

int64_t tt_pow2(int64_t n) {
  int64_t p = 1;
  while (p < n)
    p *= 2;
  return p;
}

void tt_double(double x, char *buf, size_t cap) {
  if (isnan(x)) {
    snprintf(buf, cap, "float(\"nan\")");
    return;
  }
  if (isinf(x)) {
    snprintf(buf, cap, x > 0 ? "float(\"inf\")" : "float(\"-inf\")");
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, cap, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) break;
  }
  if (!strpbrk(buf, ".eEn")) {
    size_t n = strlen(buf);
    if (n + 3 <= cap) memcpy(buf + n, ".0", 3);
  }
}

void tt_dim(Tt *t, IrDim dim, char *buf, size_t cap) {
  switch (dim.kind) {
  case IR_DIM_BLOCK:
    snprintf(buf, cap, "_BLOCK_SIZE_%d", (int)dim.v);
    break;
  case IR_DIM_RDIM:
    snprintf(buf, cap, t->rlooped[dim.v] ? "_REDUCTION_BLOCK_%d" : "_RDIM_SIZE_%d", (int)dim.v);
    break;
  default:
    snprintf(buf, cap, "%lld", (long long)tt_pow2(dim.v));
    break;
  }
}

void tt_shape(Tt *t, const IrShape *s, char *buf, size_t cap) {
  size_t n = 0;
  n += (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < s->rank && n < cap; i++) {
    char d[48];
    tt_dim(t, s->dims[i], d, sizeof d);
    n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", d);
  }
  if (n < cap) snprintf(buf + n, cap - n, "]");
}

bool tt_dim_mask(Tt *t, IrDim dim, char *buf, size_t cap) {
  switch (dim.kind) {
  case IR_DIM_BLOCK: {
    int td = t->slot_tdim[dim.v];
    if (td < 0 || !t->tdims[td].pad) return false;
    snprintf(buf, cap, "mask_%d", td);
    return true;
  }
  case IR_DIM_RDIM: {
    int64_t ext = t->f->rdims[dim.v].extent;
    if (!t->rlooped[dim.v] && t->rsize[dim.v] == ext) return false;
    if (t->rlooped[dim.v] && ext % t->rsize[dim.v] == 0) return false;
    snprintf(buf, cap, "rmask_%d", (int)dim.v);
    return true;
  }
  default:
    if (tt_pow2(dim.v) == dim.v) return false;
    snprintf(buf, cap, "(tl.arange(0, %lld) < %lld)", (long long)tt_pow2(dim.v), (long long)dim.v);
    return true;
  }
}

void tt_bcast(const char *expr, int pos, int rank, char *buf, size_t cap) {
  if (rank <= 1) {
    snprintf(buf, cap, "%s", expr);
    return;
  }
  size_t n = (size_t)snprintf(buf, cap, "%s[", expr);
  for (int i = 0; i < rank && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", i == pos ? ":" : "None");
  if (n < cap) snprintf(buf + n, cap - n, "]");
}

const IrValue *tt_val(Tt *t, IrValueId v) {
  return ir_value(t->f, v);
}

const char *tt_tensor(Tt *t, IrValueId v, char *buf, size_t cap) {
  const IrValue *val = tt_val(t, v);
  bool literal = val->def_kind == IR_DEF_RESULT &&
                 (val->def->kind == IR_OP_CONST || val->def->kind == IR_OP_SPECIALIZE ||
                  val->def->kind == IR_OP_TUNABLE || val->def->kind == IR_OP_REGISTER_BLOCK_SIZE);
  if (!literal) return t->name[v];
  snprintf(buf, cap, "tl.full([], %s, %s)", t->name[v], tt_dtype(val->dtype));
  return buf;
}

bool tt_fold_int(Tt *t, IrValueId v, int64_t *out) {
  const IrValue *val = tt_val(t, v);
  if (!val || val->def_kind != IR_DEF_RESULT || val->shape.rank != 0) return false;
  const IrOp *op = val->def;
  switch (op->kind) {
  case IR_OP_CONST:
  case IR_OP_SPECIALIZE:
    if (op->attrs->value.is_float) return false;
    *out = op->attrs->value.i;
    return true;
  case IR_OP_REGISTER_BLOCK_SIZE:
    *out = t->bs[op->attrs->slot];
    return true;
  case IR_OP_TUNABLE: {
    const IrTunable *tu = &t->f->tunables[op->attrs->slot];
    *out = cfgspace_get(t->s, t->cfg, tu->name, 0, 0);
    return true;
  }
  case IR_OP_ADD:
  case IR_OP_SUB:
  case IR_OP_MUL:
  case IR_OP_FLOORDIV: {
    int64_t a, b;
    if (!tt_fold_int(t, op->args[0], &a) || !tt_fold_int(t, op->args[1], &b)) return false;
    if (op->kind == IR_OP_ADD)
      *out = a + b;
    else if (op->kind == IR_OP_SUB)
      *out = a - b;
    else if (op->kind == IR_OP_MUL)
      *out = a * b;
    else {
      if (b == 0) return false;
      int64_t q = a / b;
      if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
      *out = q;
    }
    return true;
  }
  default:
    return false;
  }
}
