/* Elementwise ops: torch type promotion, broadcasting over strided operands, binary/unary/where.
 * Operands are converted chunk by chunk into double (float math) or int64 (integer math) scratch
 * buffers, one switch per chunk rather than per element. Part of src/tensor (host tensors). */
#include <math.h>
#include <string.h>

#include "tensor/tensor_internal.h"

#define NAME_ITEM(e, name) name,
static const char *const binop_names[] = {TENSOR_BINOPS(NAME_ITEM)};
static const char *const unop_names[] = {TENSOR_UNOPS(NAME_ITEM)};
#undef NAME_ITEM

const char *tensor_binop_name(TensorBinOp op) {
  return (unsigned)op < TENSOR_BINOP_COUNT ? binop_names[op] : "?";
}

const char *tensor_unop_name(TensorUnOp op) {
  return (unsigned)op < TENSOR_UNOP_COUNT ? unop_names[op] : "?";
}

/* ---- promotion ------------------------------------------------------------------------------- */

static int combine_categories(int higher, int lower) {
  if (higher < 0) return lower;
  if (lower < 0) return higher;
  if (tensor_dtype_is_float((DType)higher)) return higher;
  if (higher == DT_BOOL || tensor_dtype_is_float((DType)lower))
    return tensor_dtype_promote((DType)higher, (DType)lower);
  return higher;
}

static int promote_opt(int acc, DType t) {
  return acc < 0 ? (int)t : (int)tensor_dtype_promote((DType)acc, t);
}

DType tensor_result_type(const Tensor *const *ops, int n) {
  int dim = -1, zero = -1, wrapped = -1;
  for (int i = 0; i < n; i++) {
    const Tensor *t = ops[i];
    if (t->wrapped_number)
      wrapped = promote_opt(wrapped, tensor_dtype_is_float(t->dtype) ? DT_FLOAT32 : t->dtype);
    else if (t->ndim == 0)
      zero = promote_opt(zero, t->dtype);
    else
      dim = promote_opt(dim, t->dtype);
  }
  int r = combine_categories(dim, combine_categories(zero, wrapped));
  return r < 0 ? DT_FLOAT32 : (DType)r;
}

/* ---- kernels --------------------------------------------------------------------------------- */

static double floored_mod(double a, double b) {
  double r = fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

/* Python's float floor division (exact where floor(a / b) would round wrongly). */
static double floored_div(double a, double b) {
  if (b == 0) return a / b;
  double mod = fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div == 0) return copysign(0.0, a / b);
  double fl = floor(div);
  if (div - fl > 0.5) fl += 1.0;
  return fl;
}

static double max_nan(double a, double b) { return (a != a || b != b) ? NAN : (a > b ? a : b); }
static double min_nan(double a, double b) { return (a != a || b != b) ? NAN : (a < b ? a : b); }

static void binop_f64(TensorBinOp op, double *x, const double *y, int64_t n) {
  switch (op) {
  case TENSOR_ADD: for (int64_t i = 0; i < n; i++) x[i] += y[i]; break;
  case TENSOR_SUB: for (int64_t i = 0; i < n; i++) x[i] -= y[i]; break;
  case TENSOR_MUL: for (int64_t i = 0; i < n; i++) x[i] *= y[i]; break;
  case TENSOR_DIV: for (int64_t i = 0; i < n; i++) x[i] /= y[i]; break;
  case TENSOR_POW: for (int64_t i = 0; i < n; i++) x[i] = pow(x[i], y[i]); break;
  case TENSOR_MOD: for (int64_t i = 0; i < n; i++) x[i] = floored_mod(x[i], y[i]); break;
  case TENSOR_FLOORDIV: for (int64_t i = 0; i < n; i++) x[i] = floored_div(x[i], y[i]); break;
  case TENSOR_MAXIMUM: for (int64_t i = 0; i < n; i++) x[i] = max_nan(x[i], y[i]); break;
  case TENSOR_MINIMUM: for (int64_t i = 0; i < n; i++) x[i] = min_nan(x[i], y[i]); break;
  case TENSOR_LT: for (int64_t i = 0; i < n; i++) x[i] = x[i] < y[i]; break;
  case TENSOR_LE: for (int64_t i = 0; i < n; i++) x[i] = x[i] <= y[i]; break;
  case TENSOR_GT: for (int64_t i = 0; i < n; i++) x[i] = x[i] > y[i]; break;
  case TENSOR_GE: for (int64_t i = 0; i < n; i++) x[i] = x[i] >= y[i]; break;
  case TENSOR_EQ: for (int64_t i = 0; i < n; i++) x[i] = x[i] == y[i]; break;
  case TENSOR_NE: for (int64_t i = 0; i < n; i++) x[i] = x[i] != y[i]; break;
  case TENSOR_LOGICAL_AND: for (int64_t i = 0; i < n; i++) x[i] = x[i] != 0 && y[i] != 0; break;
  case TENSOR_LOGICAL_OR: for (int64_t i = 0; i < n; i++) x[i] = x[i] != 0 || y[i] != 0; break;
  default: break;
  }
}

static int64_t ipow(int64_t b, int64_t e) {
  if (e < 0) return b == 1 ? 1 : b == -1 ? ((e & 1) ? -1 : 1) : 0;
  uint64_t r = 1, x = (uint64_t)b;
  while (e) {
    if (e & 1) r *= x;
    x *= x;
    e >>= 1;
  }
  return (int64_t)r;
}

/* Integer math wraps like two's complement (done in unsigned to stay defined). Returns nonzero
 * on an integer division by zero. */
static int binop_i64(TensorBinOp op, int64_t *x, const int64_t *y, int64_t n) {
  switch (op) {
  case TENSOR_ADD: for (int64_t i = 0; i < n; i++) x[i] = (int64_t)((uint64_t)x[i] + (uint64_t)y[i]); break;
  case TENSOR_SUB: for (int64_t i = 0; i < n; i++) x[i] = (int64_t)((uint64_t)x[i] - (uint64_t)y[i]); break;
  case TENSOR_MUL: for (int64_t i = 0; i < n; i++) x[i] = (int64_t)((uint64_t)x[i] * (uint64_t)y[i]); break;
  case TENSOR_POW: for (int64_t i = 0; i < n; i++) x[i] = ipow(x[i], y[i]); break;
  case TENSOR_MOD:
  case TENSOR_FLOORDIV:
    for (int64_t i = 0; i < n; i++) {
      if (y[i] == 0) return 1;
      int64_t q, r;
      if (y[i] == -1) {
        q = (int64_t)(0 - (uint64_t)x[i]);
        r = 0;
      } else {
        q = x[i] / y[i];
        r = x[i] % y[i];
        if (r != 0 && ((r < 0) != (y[i] < 0))) {
          q -= 1;
          r += y[i];
        }
      }
      x[i] = op == TENSOR_MOD ? r : q;
    }
    break;
  case TENSOR_MAXIMUM: for (int64_t i = 0; i < n; i++) x[i] = x[i] > y[i] ? x[i] : y[i]; break;
  case TENSOR_MINIMUM: for (int64_t i = 0; i < n; i++) x[i] = x[i] < y[i] ? x[i] : y[i]; break;
  case TENSOR_LT: for (int64_t i = 0; i < n; i++) x[i] = x[i] < y[i]; break;
  case TENSOR_LE: for (int64_t i = 0; i < n; i++) x[i] = x[i] <= y[i]; break;
  case TENSOR_GT: for (int64_t i = 0; i < n; i++) x[i] = x[i] > y[i]; break;
  case TENSOR_GE: for (int64_t i = 0; i < n; i++) x[i] = x[i] >= y[i]; break;
  case TENSOR_EQ: for (int64_t i = 0; i < n; i++) x[i] = x[i] == y[i]; break;
  case TENSOR_NE: for (int64_t i = 0; i < n; i++) x[i] = x[i] != y[i]; break;
  case TENSOR_LOGICAL_AND: for (int64_t i = 0; i < n; i++) x[i] = x[i] != 0 && y[i] != 0; break;
  case TENSOR_LOGICAL_OR: for (int64_t i = 0; i < n; i++) x[i] = x[i] != 0 || y[i] != 0; break;
  default: break;
  }
  return 0;
}

static double gelu(double x) { return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440)); }
static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double relu(double x) { return x > 0 ? x : (x != x ? x : 0.0); }

static void unop_f64(TensorUnOp op, double *x, int64_t n) {
  switch (op) {
  case TENSOR_NEG: for (int64_t i = 0; i < n; i++) x[i] = -x[i]; break;
  case TENSOR_EXP: for (int64_t i = 0; i < n; i++) x[i] = exp(x[i]); break;
  case TENSOR_LOG: for (int64_t i = 0; i < n; i++) x[i] = log(x[i]); break;
  case TENSOR_EXP2: for (int64_t i = 0; i < n; i++) x[i] = exp2(x[i]); break;
  case TENSOR_LOG2: for (int64_t i = 0; i < n; i++) x[i] = log2(x[i]); break;
  case TENSOR_SQRT: for (int64_t i = 0; i < n; i++) x[i] = sqrt(x[i]); break;
  case TENSOR_RSQRT: for (int64_t i = 0; i < n; i++) x[i] = 1.0 / sqrt(x[i]); break;
  case TENSOR_ABS: for (int64_t i = 0; i < n; i++) x[i] = fabs(x[i]); break;
  case TENSOR_SIN: for (int64_t i = 0; i < n; i++) x[i] = sin(x[i]); break;
  case TENSOR_COS: for (int64_t i = 0; i < n; i++) x[i] = cos(x[i]); break;
  case TENSOR_TANH: for (int64_t i = 0; i < n; i++) x[i] = tanh(x[i]); break;
  case TENSOR_SIGMOID: for (int64_t i = 0; i < n; i++) x[i] = sigmoid(x[i]); break;
  case TENSOR_RELU: for (int64_t i = 0; i < n; i++) x[i] = relu(x[i]); break;
  case TENSOR_GELU: for (int64_t i = 0; i < n; i++) x[i] = gelu(x[i]); break;
  case TENSOR_SILU: for (int64_t i = 0; i < n; i++) x[i] = x[i] * sigmoid(x[i]); break;
  case TENSOR_FLOOR: for (int64_t i = 0; i < n; i++) x[i] = floor(x[i]); break;
  case TENSOR_CEIL: for (int64_t i = 0; i < n; i++) x[i] = ceil(x[i]); break;
  case TENSOR_LOGICAL_NOT: for (int64_t i = 0; i < n; i++) x[i] = x[i] == 0; break;
  default: break;
  }
}

static void unop_i64(TensorUnOp op, int64_t *x, int64_t n) {
  switch (op) {
  case TENSOR_NEG: for (int64_t i = 0; i < n; i++) x[i] = (int64_t)(0 - (uint64_t)x[i]); break;
  case TENSOR_ABS: for (int64_t i = 0; i < n; i++) x[i] = x[i] < 0 ? (int64_t)(0 - (uint64_t)x[i]) : x[i]; break;
  case TENSOR_RELU: for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0; break;
  case TENSOR_LOGICAL_NOT: for (int64_t i = 0; i < n; i++) x[i] = x[i] == 0; break;
  default: break; /* floor, ceil: identity on integers */
  }
}

/* ---- row drivers ----------------------------------------------------------------------------- */

typedef struct EwCtx {
  int op;
  bool fdom;          /* compute in double (else int64) */
  DType cdt;          /* compute dtype: operands are rounded to it first */
  DType odt;          /* output dtype */
  DType in[3];        /* operand dtypes (after the output) */
} EwCtx;

/* Loads one operand chunk as double, rounded to the compute dtype when it differs. */
static void load_operand(double *buf, const char *p, DType dt, int64_t st, int64_t m, DType cdt) {
  tensor_load_f64(buf, p, dt, st, m);
  if (dt == cdt || cdt == DT_FLOAT64 || !tensor_dtype_is_float(cdt)) return;
  if (cdt == DT_FLOAT32) {
    for (int64_t i = 0; i < m; i++) buf[i] = (double)(float)buf[i];
  } else {
    char tmp[2 * TENSOR_CHUNK];
    tensor_store_f64(tmp, cdt, 2, buf, m);
    tensor_load_f64(buf, tmp, cdt, 2, m);
  }
}

static int binary_row(char **p, const int64_t *st, int64_t n, void *vctx) {
  const EwCtx *c = vctx;
  for (int64_t i = 0; i < n; i += TENSOR_CHUNK) {
    int64_t m = n - i < TENSOR_CHUNK ? n - i : TENSOR_CHUNK;
    if (c->fdom) {
      double x[TENSOR_CHUNK], y[TENSOR_CHUNK];
      load_operand(x, p[1] + i * st[1], c->in[0], st[1], m, c->cdt);
      load_operand(y, p[2] + i * st[2], c->in[1], st[2], m, c->cdt);
      binop_f64((TensorBinOp)c->op, x, y, m);
      tensor_store_f64(p[0] + i * st[0], c->odt, st[0], x, m);
    } else {
      int64_t x[TENSOR_CHUNK], y[TENSOR_CHUNK];
      tensor_load_i64(x, p[1] + i * st[1], c->in[0], st[1], m);
      tensor_load_i64(y, p[2] + i * st[2], c->in[1], st[2], m);
      if (binop_i64((TensorBinOp)c->op, x, y, m)) return 1;
      tensor_store_i64(p[0] + i * st[0], c->odt, st[0], x, m);
    }
  }
  return 0;
}

static int unary_row(char **p, const int64_t *st, int64_t n, void *vctx) {
  const EwCtx *c = vctx;
  for (int64_t i = 0; i < n; i += TENSOR_CHUNK) {
    int64_t m = n - i < TENSOR_CHUNK ? n - i : TENSOR_CHUNK;
    if (c->fdom) {
      double x[TENSOR_CHUNK];
      tensor_load_f64(x, p[1] + i * st[1], c->in[0], st[1], m);
      unop_f64((TensorUnOp)c->op, x, m);
      tensor_store_f64(p[0] + i * st[0], c->odt, st[0], x, m);
    } else {
      int64_t x[TENSOR_CHUNK];
      tensor_load_i64(x, p[1] + i * st[1], c->in[0], st[1], m);
      unop_i64((TensorUnOp)c->op, x, m);
      tensor_store_i64(p[0] + i * st[0], c->odt, st[0], x, m);
    }
  }
  return 0;
}

static int where_row(char **p, const int64_t *st, int64_t n, void *vctx) {
  const EwCtx *c = vctx;
  for (int64_t i = 0; i < n; i += TENSOR_CHUNK) {
    int64_t m = n - i < TENSOR_CHUNK ? n - i : TENSOR_CHUNK;
    double cond[TENSOR_CHUNK];
    tensor_load_f64(cond, p[1] + i * st[1], c->in[0], st[1], m);
    if (c->fdom) {
      double x[TENSOR_CHUNK], y[TENSOR_CHUNK];
      load_operand(x, p[2] + i * st[2], c->in[1], st[2], m, c->cdt);
      load_operand(y, p[3] + i * st[3], c->in[2], st[3], m, c->cdt);
      for (int64_t j = 0; j < m; j++) x[j] = cond[j] != 0 ? x[j] : y[j];
      tensor_store_f64(p[0] + i * st[0], c->odt, st[0], x, m);
    } else {
      int64_t x[TENSOR_CHUNK], y[TENSOR_CHUNK];
      tensor_load_i64(x, p[2] + i * st[2], c->in[1], st[2], m);
      tensor_load_i64(y, p[3] + i * st[3], c->in[2], st[3], m);
      for (int64_t j = 0; j < m; j++) x[j] = cond[j] != 0 ? x[j] : y[j];
      tensor_store_i64(p[0] + i * st[0], c->odt, st[0], x, m);
    }
  }
  return 0;
}

/* ---- entry points ---------------------------------------------------------------------------- */

static bool is_comparison(TensorBinOp op) {
  return op >= TENSOR_LT && op <= TENSOR_LOGICAL_OR;
}

int tensor_binary(TensorBinOp op, const Tensor *a, const Tensor *b, Tensor **out, Diag *d) {
  if ((unsigned)op >= TENSOR_BINOP_COUNT) return diag_set(d, "unknown binary op %d", (int)op);
  int64_t shape[TENSOR_MAX_DIMS];
  int n;
  if (tensor_broadcast_shape(a->sizes, a->ndim, b->sizes, b->ndim, shape, &n, d))
    return diag_prefix(d, "%s: ", binop_names[op]);
  const Tensor *ins[2] = {a, b};
  EwCtx c = {.op = op, .cdt = tensor_result_type(ins, 2), .in = {a->dtype, b->dtype}};
  c.fdom = tensor_dtype_is_float(c.cdt) || op == TENSOR_DIV;
  c.odt = c.cdt;
  if (is_comparison(op)) {
    c.odt = DT_BOOL;
  } else if (op == TENSOR_DIV && !tensor_dtype_is_float(c.cdt)) {
    c.odt = c.cdt = DT_FLOAT32;
  } else if (c.cdt == DT_BOOL) {
    if (op == TENSOR_SUB)
      return diag_set(d, "sub: subtracting bool tensors is not supported; use logical_xor-style "
                         "ops (ne) or convert with to('int64') first");
    if (op == TENSOR_POW || op == TENSOR_MOD || op == TENSOR_FLOORDIV) c.odt = DT_INT64;
  }
  Tensor *r;
  if (tensor_empty(shape, n, c.odt, &r, d)) return HL_ERR;
  const Tensor *ops[3] = {r, a, b};
  TensorIter it;
  tensor_iter_init(&it, shape, n, ops, 3);
  if (tensor_iter_rows(&it, binary_row, &c)) {
    tensor_free(r);
    return diag_set(d, "%s: integer division by zero", binop_names[op]);
  }
  *out = r;
  return HL_OK;
}

static bool unop_keeps_ints(TensorUnOp op) {
  return op == TENSOR_NEG || op == TENSOR_ABS || op == TENSOR_RELU || op == TENSOR_FLOOR ||
         op == TENSOR_CEIL;
}

int tensor_unary(TensorUnOp op, const Tensor *a, Tensor **out, Diag *d) {
  if ((unsigned)op >= TENSOR_UNOP_COUNT) return diag_set(d, "unknown unary op %d", (int)op);
  EwCtx c = {.op = op, .in = {a->dtype}};
  bool isf = tensor_dtype_is_float(a->dtype);
  if (op == TENSOR_LOGICAL_NOT) {
    c.fdom = isf;
    c.odt = DT_BOOL;
  } else if (isf) {
    c.fdom = true;
    c.odt = a->dtype;
  } else if (unop_keeps_ints(op)) {
    if (a->dtype == DT_BOOL && op == TENSOR_NEG)
      return diag_set(d, "neg: negating a bool tensor is not supported; use logical_not");
    c.odt = a->dtype;
  } else {
    c.fdom = true;
    c.odt = DT_FLOAT32;
  }
  Tensor *r;
  if (tensor_empty(a->sizes, a->ndim, c.odt, &r, d)) return HL_ERR;
  const Tensor *ops[2] = {r, a};
  TensorIter it;
  tensor_iter_init(&it, a->sizes, a->ndim, ops, 2);
  tensor_iter_rows(&it, unary_row, &c);
  *out = r;
  return HL_OK;
}

int tensor_where(const Tensor *cond, const Tensor *a, const Tensor *b, Tensor **out, Diag *d) {
  int64_t s1[TENSOR_MAX_DIMS], shape[TENSOR_MAX_DIMS];
  int n1, n;
  if (tensor_broadcast_shape(cond->sizes, cond->ndim, a->sizes, a->ndim, s1, &n1, d) ||
      tensor_broadcast_shape(s1, n1, b->sizes, b->ndim, shape, &n, d))
    return diag_prefix(d, "where: ");
  const Tensor *ins[2] = {a, b};
  EwCtx c = {.cdt = tensor_result_type(ins, 2), .in = {cond->dtype, a->dtype, b->dtype}};
  c.odt = c.cdt;
  c.fdom = tensor_dtype_is_float(c.cdt);
  Tensor *r;
  if (tensor_empty(shape, n, c.odt, &r, d)) return HL_ERR;
  const Tensor *ops[4] = {r, cond, a, b};
  TensorIter it;
  tensor_iter_init(&it, shape, n, ops, 4);
  tensor_iter_rows(&it, where_row, &c);
  *out = r;
  return HL_OK;
}
