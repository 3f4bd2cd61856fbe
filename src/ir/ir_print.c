/* Tile IR text form: the "ir" stage users see and golden tests snapshot, and the canonical
 * bytes the fingerprint hashes. Part of src/ir (tile IR). Deterministic: same IR, same bytes.
 *
 *   kernel matmul
 *     arg %x : tensor bfloat16[1024, 512] strides [512, 1]  # matmul.lua:4
 *     block B0 : tile extent 1024 range [1, 1024]  # matmul.lua:8
 *   {
 *     tile %tm = [%3, %4) block B0, %tn = [%3, %5) block B1 {  # matmul.lua:8
 *       %12 = load %x[%tm, %tk] : bfloat16[B0, B2]  # matmul.lua:11
 *       ...
 *   }
 * (share/doc/ir.md describes every line kind.) */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/textbuf.h"
#include "ir/ir_internal.h"

/* Where the text goes: a growing buffer, or (for the fingerprint) straight into a hash. */
typedef struct Out {
  const IrFunc *f;
  unsigned flags;
  bool hashing;
  uint64_t hash;
  TextBuf text;
} Out;

static void out_write(Out *o, const char *s, size_t n) {
  if (o->hashing) {
    for (size_t i = 0; i < n; i++)
      o->hash = (o->hash ^ (unsigned char)s[i]) * 1099511628211ull;
    return;
  }
  textbuf_add(&o->text, s, n, 4096);
}

static void out_str(Out *o, const char *s) {
  out_write(o, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void out_fmt(Out *o, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) out_write(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void out_value(Out *o, IrValueId v) {
  const IrValue *val = ir_value(o->f, v);
  if (val && val->name && !(o->flags & IR_PRINT_NO_NAMES))
    out_fmt(o, "%%%s", val->name);
  else
    out_fmt(o, "%%%d", (int)v);
}

static void out_values(Out *o, const IrValueId *vs, int n) {
  for (int i = 0; i < n; i++) {
    if (i) out_str(o, ", ");
    out_value(o, vs[i]);
  }
}

static void out_type(Out *o, const IrValue *v) {
  char t[400];
  out_str(o, ir_type_str(v, t, sizeof t));
}

static void out_loc(Out *o, IrLoc loc) {
  char where[300];
  if (o->flags & IR_PRINT_NO_LOC) return;
  ir_loc_str(o->f, loc, where, sizeof where);
  if (where[0]) out_fmt(o, "  # %s", where);
}

static void out_indent(Out *o, int depth) {
  for (int i = 0; i < depth; i++)
    out_str(o, "  ");
}

/* Shortest text that reads back as the same double; always looks like a float. */
static void out_double(Out *o, double x) {
  char buf[48];
  if (isnan(x)) {
    out_str(o, "nan");
    return;
  }
  if (isinf(x)) {
    out_str(o, x < 0 ? "-inf" : "inf");
    return;
  }
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*g", p, x);
    if (strtod(buf, NULL) == x) break;
  }
  if (!strpbrk(buf, ".e")) strcat(buf, ".0");
  out_str(o, buf);
}

/* A string in double quotes with '"', '\\' and control characters escaped. */
static void out_quoted(Out *o, const char *s) {
  out_str(o, "\"");
  for (const char *c = s; *c; c++) {
    if (*c == '"' || *c == '\\')
      out_fmt(o, "\\%c", *c);
    else if ((unsigned char)*c < 0x20)
      out_fmt(o, "\\x%02x", (unsigned char)*c);
    else
      out_write(o, c, 1);
  }
  out_str(o, "\"");
}

static void out_scalar(Out *o, DType dt, IrScalar v) {
  if (v.is_float)
    out_double(o, v.f);
  else if (dt == DT_BOOL)
    out_str(o, v.i ? "true" : "false");
  else
    out_fmt(o, "%lld", (long long)v.i);
}

static void out_dim(Out *o, IrDim dim) {
  char b[32];
  out_str(o, ir_dim_str(dim, b, sizeof b));
}

/* ---- ops ------------------------------------------------------------------------------------- */

static const char *const eviction_names[] = {"", "first", "last"};
static const char *const sem_names[] = {"relaxed", "acquire", "release", "acq_rel"};

/* "%x[%tm, :, newaxis, %i]"; returns the position after the index operands. */
static int out_index(Out *o, const IrOp *op) {
  const IrAttrs *a = op->attrs;
  int pos = 1;
  out_value(o, op->args[0]);
  out_str(o, "[");
  for (int i = 0; a && i < a->nidx && i < IR_MAX_INDEX; i++) {
    if (i) out_str(o, ", ");
    switch (a->idx[i]) {
    case IR_IDX_SLICE:
      out_str(o, ":");
      break;
    case IR_IDX_NEWAXIS:
      out_str(o, "newaxis");
      break;
    default:
      if (pos < op->nargs) out_value(o, op->args[pos++]);
      break;
    }
  }
  out_str(o, "]");
  return pos;
}

static void out_mem_options(Out *o, const IrOp *op) {
  const IrAttrs *a = op->attrs;
  if (!a) return;
  if (a->has_mask) {
    out_str(o, " mask ");
    out_value(o, op->args[op->nargs - 1]);
  }
  if (a->eviction > IR_EVICT_NONE && a->eviction <= IR_EVICT_LAST)
    out_fmt(o, " evict %s", eviction_names[a->eviction]);
  if ((op->kind == IR_OP_ATOMIC_ADD || op->kind == IR_OP_PTR_ATOMIC_ADD) &&
      a->sem > IR_SEM_RELAXED && a->sem <= IR_SEM_ACQ_REL)
    out_fmt(o, " sem %s", sem_names[a->sem]);
}

static void out_operands(Out *o, const IrOp *op) {
  const IrAttrs *a = op->attrs;
  IrAttrs none = IR_ATTRS_INIT;
  if (!a) a = &none;
  switch (ir_op_info(op->kind)->cls) {
  case IR_CLASS_CONST:
  case IR_CLASS_FULL:
    out_str(o, " ");
    out_scalar(o, a->dtype, a->value);
    break;
  case IR_CLASS_ARANGE:
    out_fmt(o, " %lld", (long long)a->start);
    break;
  case IR_CLASS_DECL:
    if (op->kind == IR_OP_REGISTER_BLOCK_SIZE)
      out_fmt(o, " B%d", a->slot);
    else if (op->kind == IR_OP_TUNABLE)
      out_fmt(o, " T%d", a->slot);
    else {
      out_str(o, " ");
      out_value(o, op->args[0]);
      out_str(o, " = ");
      const IrValue *v = ir_value(o->f, op->args[0]);
      out_scalar(o, v ? v->dtype : DT_INT64, a->value);
    }
    break;
  case IR_CLASS_PROGRAM:
    out_fmt(o, " %d", a->dim);
    break;
  case IR_CLASS_LOAD:
    out_str(o, " ");
    out_index(o, op);
    out_mem_options(o, op);
    break;
  case IR_CLASS_STORE: {
    out_str(o, " ");
    int pos = out_index(o, op);
    out_str(o, ", ");
    if (pos < op->nargs) out_value(o, op->args[pos]);
    out_mem_options(o, op);
    break;
  }
  case IR_CLASS_PTR_LOAD:
  case IR_CLASS_PTR_STORE:
    out_str(o, " ");
    out_value(o, op->args[0]);
    out_str(o, " + ");
    out_value(o, op->args[1]);
    if (ir_op_info(op->kind)->cls == IR_CLASS_PTR_STORE && op->nargs > 2) {
      out_str(o, ", ");
      out_value(o, op->args[2]);
    }
    out_mem_options(o, op);
    break;
  case IR_CLASS_REDUCE:
  case IR_CLASS_SOFTMAX:
  case IR_CLASS_SQUEEZE:
  case IR_CLASS_UNSQUEEZE:
    out_str(o, " ");
    out_value(o, op->args[0]);
    out_fmt(o, " dim %d%s", a->dim, a->keepdim ? " keepdim" : "");
    break;
  case IR_CLASS_PERMUTE:
    out_str(o, " ");
    out_value(o, op->args[0]);
    out_str(o, " [");
    for (int i = 0; i < a->shape.rank; i++)
      out_fmt(o, "%s%d", i ? ", " : "", a->perm[i]);
    out_str(o, "]");
    break;
  default:
    if (op->nargs) out_str(o, " ");
    out_values(o, op->args, op->nargs);
    break;
  }
}

static void out_region(Out *o, const IrRegion *r, int depth);

static void out_loop(Out *o, const IrOp *op, int depth) {
  const IrAttrs *a = op->attrs;
  const IrRegion *body = op->body;
  int per = op->kind == IR_OP_FOR ? 3 : 2, ndims = a ? a->ndims : 0;
  out_str(o, " ");
  for (int i = 0; i < ndims && body && i < body->nargs; i++) {
    if (i) out_str(o, ", ");
    out_value(o, body->args[i]);
    out_str(o, " = [");
    out_value(o, op->args[per * i]);
    out_str(o, ", ");
    out_value(o, op->args[per * i + 1]);
    out_str(o, ")");
    if (op->kind == IR_OP_TILE) {
      out_str(o, " block ");
      out_dim(o, a->block[i]);
    } else if (op->kind == IR_OP_FOR) {
      out_str(o, " step ");
      out_value(o, op->args[per * i + 2]);
    }
  }
  int ncar = op->nargs - per * ndims;
  if (ncar > 0 && body) {
    out_str(o, " carry (");
    for (int i = 0; i < ncar && ndims + i < body->nargs; i++) {
      if (i) out_str(o, ", ");
      out_value(o, body->args[ndims + i]);
      out_str(o, " = ");
      out_value(o, op->args[per * ndims + i]);
      out_str(o, " : ");
      out_type(o, ir_value(o->f, body->args[ndims + i]));
    }
    out_str(o, ")");
  }
  out_str(o, " {");
  out_loc(o, op->loc);
  out_str(o, "\n");
  if (body) out_region(o, body, depth + 1);
  out_indent(o, depth);
  out_str(o, "}\n");
}

static void out_op(Out *o, const IrOp *op, int depth) {
  if (op->kind == IR_OP_YIELD && op->nargs == 0) return; /* implied by the closing brace */
  out_indent(o, depth);
  if (op->nresults > 0) {
    out_values(o, op->results, op->nresults);
    out_str(o, " = ");
  }
  out_str(o, ir_op_info(op->kind)->name);
  if (ir_op_info(op->kind)->cls == IR_CLASS_LOOP) {
    out_loop(o, op, depth);
    return;
  }
  out_operands(o, op);
  if (op->nresults == 1) {
    out_str(o, " : ");
    out_type(o, ir_value(o->f, op->results[0]));
  }
  out_loc(o, op->loc);
  out_str(o, "\n");
}

static void out_region(Out *o, const IrRegion *r, int depth) {
  for (const IrOp *op = r->first; op; op = op->next)
    out_op(o, op, depth);
}

/* ---- the header: arguments and config-space records ------------------------------------------ */

static void out_header(Out *o) {
  const IrFunc *f = o->f;
  out_str(o, "kernel");
  if (!(o->flags & IR_PRINT_NO_NAMES)) out_fmt(o, " %s", f->name);
  out_str(o, "\n");
  for (int i = 0; i < f->nargs; i++) {
    const IrValue *v = ir_value(f, f->args[i]);
    out_str(o, "  arg ");
    out_value(o, f->args[i]);
    out_str(o, " : ");
    out_type(o, v);
    if (v->kind == IR_VAL_TENSOR) {
      out_str(o, " strides [");
      for (int k = 0; k < v->shape.rank; k++)
        out_fmt(o, "%s%lld", k ? ", " : "", (long long)(v->strides ? v->strides[k] : 0));
      out_str(o, "]");
    }
    out_loc(o, v->loc);
    out_str(o, "\n");
  }
  for (int i = 0; i < f->nslots; i++) {
    const IrBlockSlot *s = &f->slots[i];
    out_fmt(o, "  block B%d : %s extent ", i, s->kind == IR_SLOT_TILE ? "tile" : "registered");
    if (s->extent >= 0)
      out_fmt(o, "%lld", (long long)s->extent);
    else
      out_str(o, "?");
    out_fmt(o, " range [%lld, ", (long long)s->min);
    if (s->max >= 0)
      out_fmt(o, "%lld]", (long long)s->max);
    else
      out_str(o, "?]");
    out_loc(o, s->loc);
    out_str(o, "\n");
  }
  for (int i = 0; i < f->nrdims; i++) {
    out_fmt(o, "  rdim R%d : extent %lld", i, (long long)f->rdims[i].extent);
    out_loc(o, f->rdims[i].loc);
    out_str(o, "\n");
  }
  for (int i = 0; i < f->ntunables; i++) {
    const IrTunable *t = &f->tunables[i];
    out_fmt(o, "  tunable T%d ", i);
    out_quoted(o, t->name);
    out_fmt(o, " : %s fragment ", ir_dtype_name(t->dtype));
    out_quoted(o, t->fragment);
    out_loc(o, t->loc);
    out_str(o, "\n");
  }
}

static void out_func(Out *o) {
  out_header(o);
  out_str(o, "{\n");
  out_region(o, o->f->body, 1);
  out_str(o, "}\n");
}

int ir_print(const IrFunc *f, unsigned flags, char **out, size_t *len, Diag *d) {
  Out o = {.f = f, .flags = flags};
  out_func(&o);
  if (o.text.oom || !o.text.p) {
    mem_free(o.text.p);
    return diag_set(d, "out of memory while printing the IR");
  }
  *out = o.text.p;
  if (len) *len = o.text.len;
  return HL_OK;
}

int ir_fingerprint(const IrFunc *f, uint64_t *out, Diag *d) {
  if (!f) return diag_set(d, "ir_fingerprint: no function");
  Out o = {.f = f,
           .flags = IR_PRINT_NO_LOC | IR_PRINT_NO_NAMES,
           .hashing = true,
           .hash = 14695981039346656037ull};
  out_func(&o);
  *out = o.hash;
  return HL_OK;
}
