/* Tensor copies and fills: the strided row iterator, copy_/fill_/clone/contiguous/cast, and the
 * constant creators (zeros, ones, full, arange, from_buffer) built on them.
 * Part of src/tensor (host tensors). */
#include <math.h>
#include <string.h>

#include "tensor/tensor_internal.h"

/* ---- iterator -------------------------------------------------------------------------------- */

void tensor_iter_init(TensorIter *it, const int64_t *sizes, int ndim, const Tensor *const *ops,
                      int nops) {
  memset(it, 0, sizeof *it);
  it->nops = nops;
  int m = 0;
  for (int i = 0; i < ndim; i++) {
    if (sizes[i] == 1) continue;
    it->sizes[m] = sizes[i];
    for (int k = 0; k < nops; k++) {
      const Tensor *t = ops[k];
      int j = i - (ndim - t->ndim);
      int64_t es = (int64_t)tensor_dtype_size(t->dtype);
      it->strides[k][m] = (j >= 0 && t->sizes[j] != 1) ? t->strides[j] * es : 0;
    }
    m++;
  }
  for (int k = 0; k < nops; k++) {
    it->base[k] = tensor_data(ops[k]);
    it->dtypes[k] = ops[k]->dtype;
  }
  if (m == 0) {
    it->sizes[0] = 1;
    m = 1;
  }
  /* merge an outer dim into its inner neighbour when every operand is contiguous across them */
  int out = 0;
  for (int i = 1; i < m; i++) {
    bool ok = true;
    for (int k = 0; k < nops; k++)
      if (it->strides[k][out] != it->strides[k][i] * it->sizes[i]) ok = false;
    if (ok) {
      it->sizes[out] *= it->sizes[i];
      for (int k = 0; k < nops; k++) it->strides[k][out] = it->strides[k][i];
    } else {
      out++;
      it->sizes[out] = it->sizes[i];
      for (int k = 0; k < nops; k++) it->strides[k][out] = it->strides[k][i];
    }
  }
  it->ndim = out + 1;
}

int tensor_iter_rows(const TensorIter *it, TensorRowFn row, void *ctx) {
  int nd = it->ndim, nops = it->nops;
  for (int i = 0; i < nd; i++)
    if (it->sizes[i] == 0) return 0;
  int64_t idx[TENSOR_MAX_DIMS] = {0};
  char *ptrs[TITER_MAX_OPS];
  int64_t inner[TITER_MAX_OPS];
  for (int k = 0; k < nops; k++) inner[k] = it->strides[k][nd - 1];
  for (;;) {
    for (int k = 0; k < nops; k++) {
      char *p = it->base[k];
      for (int i = 0; i < nd - 1; i++) p += idx[i] * it->strides[k][i];
      ptrs[k] = p;
    }
    int rc = row(ptrs, inner, it->sizes[nd - 1], ctx);
    if (rc) return rc;
    int i = nd - 2;
    for (; i >= 0; i--) {
      if (++idx[i] < it->sizes[i]) break;
      idx[i] = 0;
    }
    if (i < 0) return 0;
  }
}

/* ---- copy ------------------------------------------------------------------------------------ */

/* ops[0] = dst, ops[1] = src */
static int copy_row(char **p, const int64_t *st, int64_t n, void *ctx) {
  const TensorIter *it = ctx;
  DType dt = it->dtypes[0], sdt = it->dtypes[1];
  char *dst = p[0];
  const char *src = p[1];
  if (dt == sdt) {
    size_t es = tensor_dtype_size(dt);
    if (st[0] == (int64_t)es && st[1] == (int64_t)es) {
      memcpy(dst, src, (size_t)n * es);
      return 0;
    }
    for (int64_t i = 0; i < n; i++) memcpy(dst + i * st[0], src + i * st[1], es);
    return 0;
  }
  if (!tensor_dtype_is_float(sdt)) {
    int64_t buf[TENSOR_CHUNK];
    for (int64_t i = 0; i < n; i += TENSOR_CHUNK) {
      int64_t m = n - i < TENSOR_CHUNK ? n - i : TENSOR_CHUNK;
      tensor_load_i64(buf, src + i * st[1], sdt, st[1], m);
      tensor_store_i64(dst + i * st[0], dt, st[0], buf, m);
    }
    return 0;
  }
  double buf[TENSOR_CHUNK];
  for (int64_t i = 0; i < n; i += TENSOR_CHUNK) {
    int64_t m = n - i < TENSOR_CHUNK ? n - i : TENSOR_CHUNK;
    tensor_load_f64(buf, src + i * st[1], sdt, st[1], m);
    tensor_store_f64(dst + i * st[0], dt, st[0], buf, m);
  }
  return 0;
}

static bool same_view(const Tensor *a, const Tensor *b) {
  if (a->dtype != b->dtype || a->ndim != b->ndim || a->offset != b->offset) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->sizes[i] != b->sizes[i] || a->strides[i] != b->strides[i]) return false;
  return true;
}

int tensor_copy_(Tensor *dst, const Tensor *src, Diag *d) {
  char a[160], b[160];
  int64_t shape[TENSOR_MAX_DIMS];
  int n;
  if (tensor_broadcast_shape(dst->sizes, dst->ndim, src->sizes, src->ndim, shape, &n, d))
    return HL_ERR;
  bool fits = n == dst->ndim;
  for (int i = 0; fits && i < n; i++) fits = shape[i] == dst->sizes[i];
  if (!fits)
    return diag_set(d, "cannot copy a tensor of shape %s into one of shape %s",
                    tensor_shape_str(src->sizes, src->ndim, a, sizeof a),
                    tensor_shape_str(dst->sizes, dst->ndim, b, sizeof b));
  if (dst->storage == src->storage && !same_view(dst, src)) {
    Tensor *tmp; /* overlapping views: copy through a temporary */
    if (tensor_clone(src, &tmp, d)) return HL_ERR;
    int rc = tensor_copy_(dst, tmp, d);
    tensor_free(tmp);
    return rc;
  }
  const Tensor *ops[2] = {dst, src};
  TensorIter it;
  tensor_iter_init(&it, dst->sizes, dst->ndim, ops, 2);
  tensor_iter_rows(&it, copy_row, &it);
  return HL_OK;
}

int tensor_clone(const Tensor *t, Tensor **out, Diag *d) {
  Tensor *r;
  if (tensor_empty(t->sizes, t->ndim, t->dtype, &r, d)) return HL_ERR;
  if (tensor_copy_(r, t, d)) {
    tensor_free(r);
    return HL_ERR;
  }
  *out = r;
  return HL_OK;
}

int tensor_contiguous(const Tensor *t, Tensor **out, Diag *d) {
  if (tensor_is_contiguous(t)) return tensor_alloc_header(t, out, d);
  return tensor_clone(t, out, d);
}

int tensor_cast(const Tensor *t, DType dt, Tensor **out, Diag *d) {
  Tensor *r;
  if (tensor_empty(t->sizes, t->ndim, dt, &r, d)) return HL_ERR;
  if (tensor_copy_(r, t, d)) {
    tensor_free(r);
    return HL_ERR;
  }
  *out = r;
  return HL_OK;
}

int tensor_as_contig(const Tensor *t, DType dt, Tensor **out, Diag *d) {
  if (t->dtype == dt && tensor_is_contiguous(t)) return tensor_alloc_header(t, out, d);
  return tensor_cast(t, dt, out, d);
}

/* ---- fills and creators ---------------------------------------------------------------------- */

static int fill_row(char **p, const int64_t *st, int64_t n, void *ctx) {
  const char *val = ctx; /* val[0] = element size, then the element bytes */
  size_t es = (size_t)val[0];
  for (int64_t i = 0; i < n; i++) memcpy(p[0] + i * st[0], val + 1, es);
  return 0;
}

static void fill_bytes(Tensor *t, const char *elem) {
  char val[9];
  val[0] = (char)tensor_dtype_size(t->dtype);
  memcpy(val + 1, elem, (size_t)val[0]);
  const Tensor *ops[1] = {t};
  TensorIter it;
  tensor_iter_init(&it, t->sizes, t->ndim, ops, 1);
  tensor_iter_rows(&it, fill_row, val);
}

int tensor_fill_(Tensor *t, double v, Diag *d) {
  char elem[8];
  tensor_write_f64(elem, t->dtype, v);
  fill_bytes(t, elem);
  return HL_OK;
}

int tensor_fill_i64_(Tensor *t, int64_t v, Diag *d) {
  char elem[8];
  tensor_write_i64(elem, t->dtype, v);
  fill_bytes(t, elem);
  return HL_OK;
}

int tensor_full(const int64_t *sizes, int ndim, double value, DType dt, Tensor **out, Diag *d) {
  if (tensor_empty(sizes, ndim, dt, out, d)) return HL_ERR;
  return tensor_fill_(*out, value, d);
}

int tensor_full_i64(const int64_t *sizes, int ndim, int64_t value, DType dt, Tensor **out,
                    Diag *d) {
  if (tensor_empty(sizes, ndim, dt, out, d)) return HL_ERR;
  return tensor_fill_i64_(*out, value, d);
}

int tensor_zeros(const int64_t *sizes, int ndim, DType dt, Tensor **out, Diag *d) {
  if (tensor_empty(sizes, ndim, dt, out, d)) return HL_ERR;
  memset((*out)->storage->data, 0, (*out)->storage->nbytes);
  return HL_OK;
}

int tensor_ones(const int64_t *sizes, int ndim, DType dt, Tensor **out, Diag *d) {
  return tensor_full_i64(sizes, ndim, 1, dt, out, d);
}

int tensor_arange(double start, double stop, double step, DType dt, Tensor **out, Diag *d) {
  if (step == 0 || step != step || start != start || stop != stop)
    return diag_set(d, "arange: step must be a nonzero number (got start %g, stop %g, step %g)",
                    start, stop, step);
  double q = (stop - start) / step;
  int64_t n = 0;
  if (q >= 0) {
    bool integral = start == floor(start) && step == floor(step);
    double count = integral ? floor(q) : floor(q * (1 + 1e-12) + 1e-12);
    if (count > 1e12) return diag_set(d, "arange: %g elements is too many", count + 1);
    n = (int64_t)count + 1;
  }
  if (tensor_empty(&n, 1, dt, out, d)) return HL_ERR;
  double buf[TENSOR_CHUNK];
  char *base = tensor_data(*out);
  size_t es = tensor_dtype_size(dt);
  for (int64_t i = 0; i < n; i += TENSOR_CHUNK) {
    int64_t m = n - i < TENSOR_CHUNK ? n - i : TENSOR_CHUNK;
    for (int64_t j = 0; j < m; j++) buf[j] = start + (double)(i + j) * step;
    tensor_store_f64(base + i * (int64_t)es, dt, (int64_t)es, buf, m);
  }
  return HL_OK;
}

int tensor_from_buffer(const void *buf, DType src_dt, const int64_t *sizes, int ndim, DType dt,
                       Tensor **out, Diag *d) {
  Tensor *r;
  if (tensor_empty(sizes, ndim, dt, &r, d)) return HL_ERR;
  Tensor src = *r;
  src.dtype = src_dt;
  src.offset = 0;
  Storage view = {.data = (void *)buf};
  src.storage = &view;
  const Tensor *ops[2] = {r, &src};
  TensorIter it;
  tensor_iter_init(&it, r->sizes, r->ndim, ops, 2);
  tensor_iter_rows(&it, copy_row, &it);
  *out = r;
  return HL_OK;
}
