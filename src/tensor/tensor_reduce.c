/* Reductions along one dim or all dims: sum, mean, amax, amin, argmax, argmin (keepdim).
 * Float inputs reduce in double, integer inputs in int64. Part of src/tensor (host tensors). */
#include <math.h>
#include <string.h>

#include "tensor/tensor_internal.h"

static const char *const reduce_names[] = {"sum", "mean", "amax", "amin", "argmax", "argmin"};

typedef struct ReduceCtx {
  TensorReduceOp op;
  DType idt, odt;
  int64_t len, rstride; /* reduced row: elements, byte stride */
  int64_t base;
} ReduceCtx;

static bool arg_better_f(double x, double best, bool max) {
  if (best != best) return false;
  if (x != x) return true;
  return max ? x > best : x < best;
}

static void reduce_float(const ReduceCtx *c, const char *p, char *o) {
  double buf[TENSOR_CHUNK];
  double acc = 0, best = 0;
  int64_t best_i = 0;
  bool max = c->op == TENSOR_AMAX || c->op == TENSOR_ARGMAX;
  for (int64_t i = 0; i < c->len; i += TENSOR_CHUNK) {
    int64_t m = c->len - i < TENSOR_CHUNK ? c->len - i : TENSOR_CHUNK;
    tensor_load_f64(buf, p + i * c->rstride, c->idt, c->rstride, m);
    if (c->op == TENSOR_SUM || c->op == TENSOR_MEAN) {
      for (int64_t j = 0; j < m; j++) acc += buf[j];
    } else if (c->op == TENSOR_AMAX || c->op == TENSOR_AMIN) {
      if (i == 0) best = buf[0];
      for (int64_t j = 0; j < m; j++) {
        double x = buf[j];
        if (x != x || best != best) best = NAN;
        else if (max ? x > best : x < best) best = x;
      }
    } else {
      if (i == 0) best = buf[0];
      for (int64_t j = 0; j < m; j++) {
        if (arg_better_f(buf[j], best, max)) {
          best = buf[j];
          best_i = i + j;
        }
      }
    }
  }
  switch (c->op) {
  case TENSOR_SUM: tensor_write_f64(o, c->odt, acc); break;
  case TENSOR_MEAN: tensor_write_f64(o, c->odt, c->len ? acc / (double)c->len : NAN); break;
  case TENSOR_AMAX: case TENSOR_AMIN: tensor_write_f64(o, c->odt, best); break;
  default: tensor_write_i64(o, c->odt, best_i + c->base); break;
  }
}

static void reduce_int(const ReduceCtx *c, const char *p, char *o) {
  int64_t buf[TENSOR_CHUNK];
  uint64_t acc = 0;
  int64_t best = 0, best_i = 0;
  bool max = c->op == TENSOR_AMAX || c->op == TENSOR_ARGMAX;
  for (int64_t i = 0; i < c->len; i += TENSOR_CHUNK) {
    int64_t m = c->len - i < TENSOR_CHUNK ? c->len - i : TENSOR_CHUNK;
    tensor_load_i64(buf, p + i * c->rstride, c->idt, c->rstride, m);
    if (i == 0) best = buf[0];
    for (int64_t j = 0; j < m; j++) {
      int64_t x = buf[j];
      acc += (uint64_t)x;
      if (max ? x > best : x < best) {
        best = x;
        best_i = i + j;
      }
    }
  }
  switch (c->op) {
  case TENSOR_SUM: tensor_write_i64(o, c->odt, (int64_t)acc); break;
  case TENSOR_MEAN: {
    /* exact enough: re-sum in double to avoid int64 wrap before dividing */
    double s = 0;
    for (int64_t i = 0; i < c->len; i += TENSOR_CHUNK) {
      int64_t m = c->len - i < TENSOR_CHUNK ? c->len - i : TENSOR_CHUNK;
      tensor_load_i64(buf, p + i * c->rstride, c->idt, c->rstride, m);
      for (int64_t j = 0; j < m; j++) s += (double)buf[j];
    }
    tensor_write_f64(o, c->odt, c->len ? s / (double)c->len : NAN);
    break;
  }
  case TENSOR_AMAX: case TENSOR_AMIN: tensor_write_i64(o, c->odt, best); break;
  default: tensor_write_i64(o, c->odt, best_i + c->base); break;
  }
}

static int reduce_row(char **p, const int64_t *st, int64_t n, void *vctx) {
  const ReduceCtx *c = vctx;
  bool fl = tensor_dtype_is_float(c->idt);
  for (int64_t j = 0; j < n; j++) {
    if (fl) reduce_float(c, p[1] + j * st[1], p[0] + j * st[0]);
    else reduce_int(c, p[1] + j * st[1], p[0] + j * st[0]);
  }
  return 0;
}

static DType reduce_dtype(TensorReduceOp op, DType in) {
  switch (op) {
  case TENSOR_SUM: return tensor_dtype_is_float(in) ? in : DT_INT64;
  case TENSOR_MEAN: return tensor_dtype_is_float(in) ? in : DT_FLOAT32;
  case TENSOR_AMAX: case TENSOR_AMIN: return in;
  default: return DT_INT64;
  }
}

int tensor_reduce(TensorReduceOp op, const Tensor *t, int dim, bool keepdim, int64_t index_base,
                  Tensor **out, Diag *d) {
  if ((unsigned)op > TENSOR_ARGMIN) return diag_set(d, "unknown reduction %d", (int)op);
  const char *name = reduce_names[op];
  bool all = dim == TENSOR_ALL_DIMS;
  int k = 0;
  if (!all && tensor_dim_check(t->ndim, dim, &k, d)) return diag_prefix(d, "%s: ", name);
  Tensor *src = NULL; /* the input as [outer..., R]: a flat contiguous copy for `all` */
  ReduceCtx c = {.op = op, .idt = t->dtype, .odt = reduce_dtype(op, t->dtype), .base = index_base};
  int64_t esz = (int64_t)tensor_dtype_size(t->dtype);
  Tensor outer; /* the input with the reduced dim removed (rows start there) */
  if (all) {
    if (tensor_contiguous(t, &src, d)) return HL_ERR;
    outer = *src;
    outer.ndim = 0;
    c.len = tensor_numel(t);
    c.rstride = esz;
  } else {
    outer = *t;
    outer.ndim = t->ndim - 1;
    for (int i = k; i < t->ndim - 1; i++) {
      outer.sizes[i] = t->sizes[i + 1];
      outer.strides[i] = t->strides[i + 1];
    }
    c.len = t->sizes[k];
    c.rstride = t->strides[k] * esz;
  }
  if (c.len == 0 && op != TENSOR_SUM && op != TENSOR_MEAN) {
    tensor_free(src);
    return diag_set(d, "%s: cannot reduce over an empty dim (size 0)", name);
  }
  int64_t oshape[TENSOR_MAX_DIMS];
  int on = 0;
  for (int i = 0; i < t->ndim; i++) {
    if (all || i == k) {
      if (keepdim) oshape[on++] = 1;
    } else {
      oshape[on++] = t->sizes[i];
    }
  }
  Tensor *r;
  if (tensor_empty(oshape, on, c.odt, &r, d)) {
    tensor_free(src);
    return HL_ERR;
  }
  Tensor rview = *r; /* output viewed with the outer shape (drops the kept 1) */
  rview.ndim = outer.ndim;
  int64_t s = 1;
  for (int i = outer.ndim - 1; i >= 0; i--) {
    rview.sizes[i] = outer.sizes[i];
    rview.strides[i] = s;
    s *= outer.sizes[i];
  }
  const Tensor *ops[2] = {&rview, &outer};
  TensorIter it;
  tensor_iter_init(&it, outer.sizes, outer.ndim, ops, 2);
  tensor_iter_rows(&it, reduce_row, &c);
  tensor_free(src);
  *out = r;
  return HL_OK;
}
