/* matmul on tensors (1-D, 2-D, batched with broadcast batch dims) over the blocked GEMM, and the
 * comparisons used to check kernels (allclose, max_abs_err, rel_err).
 * Part of src/tensor (host tensors). */
#include <math.h>
#include <string.h>

#include "tensor/tensor_gemm.h"
#include "tensor/tensor_internal.h"

int tensor_matmul(const Tensor *a, const Tensor *b, Tensor **out, Diag *d) {
  char sa[160], sb[160];
  if (a->ndim == 0 || b->ndim == 0)
    return diag_set(d, "matmul: both operands need at least 1 dim, got shapes %s and %s",
                    tensor_shape_str(a->sizes, a->ndim, sa, sizeof sa),
                    tensor_shape_str(b->sizes, b->ndim, sb, sizeof sb));
  DType cdt = tensor_dtype_promote(a->dtype, b->dtype);
  DType kdt = cdt == DT_FLOAT32 ? DT_FLOAT32 : DT_FLOAT64;
  Tensor *ca = NULL, *cb = NULL, *r = NULL;
  int rc = HL_ERR;
  if (a->dtype != kdt) {
    if (tensor_cast(a, kdt, &ca, d)) goto done;
    a = ca;
  }
  if (b->dtype != kdt) {
    if (tensor_cast(b, kdt, &cb, d)) goto done;
    b = cb;
  }
  Tensor A = *a, B = *b;
  if (A.ndim == 1) { /* [K] -> [1, K] */
    A.ndim = 2;
    A.sizes[1] = a->sizes[0];
    A.strides[1] = a->strides[0];
    A.sizes[0] = 1;
    A.strides[0] = 0;
  }
  if (B.ndim == 1) { /* [K] -> [K, 1] */
    B.ndim = 2;
    B.sizes[1] = 1;
    B.strides[1] = 0;
  }
  int64_t m = A.sizes[A.ndim - 2], k = A.sizes[A.ndim - 1];
  int64_t k2 = B.sizes[B.ndim - 2], n = B.sizes[B.ndim - 1];
  if (k != k2) {
    diag_set(d, "matmul: shapes %s and %s don't match (inner sizes %lld and %lld differ)",
             tensor_shape_str(a->sizes, a->ndim, sa, sizeof sa),
             tensor_shape_str(b->sizes, b->ndim, sb, sizeof sb), (long long)k, (long long)k2);
    goto done;
  }
  GemmArgs g = {.f64 = kdt == DT_FLOAT64, .m = m, .n = n, .k = k,
                .rsa = A.strides[A.ndim - 2], .csa = A.strides[A.ndim - 1],
                .rsb = B.strides[B.ndim - 2], .csb = B.strides[B.ndim - 1]};
  if (tensor_broadcast_shape(A.sizes, A.ndim - 2, B.sizes, B.ndim - 2, g.batch_sizes,
                             &g.nbatch_dims, d)) {
    diag_prefix(d, "matmul: batch dims of %s and %s: ",
                tensor_shape_str(a->sizes, a->ndim, sa, sizeof sa),
                tensor_shape_str(b->sizes, b->ndim, sb, sizeof sb));
    goto done;
  }
  int nb = g.nbatch_dims;
  for (int i = 0; i < nb; i++) {
    int ja = i - (nb - (A.ndim - 2)), jb = i - (nb - (B.ndim - 2));
    g.a_bstride[i] = (ja >= 0 && A.sizes[ja] != 1) ? A.strides[ja] : 0;
    g.b_bstride[i] = (jb >= 0 && B.sizes[jb] != 1) ? B.strides[jb] : 0;
  }
  int64_t oshape[TENSOR_MAX_DIMS];
  int on = nb;
  memcpy(oshape, g.batch_sizes, sizeof(int64_t) * (size_t)nb);
  if (a->ndim > 1) oshape[on++] = m;
  if (b->ndim > 1) oshape[on++] = n;
  if (tensor_empty(oshape, on, kdt, &r, d)) goto done;
  g.a = tensor_data(&A);
  g.b = tensor_data(&B);
  g.c = tensor_data(r);
  if (tensor_gemm_run(&g, d)) goto done;
  if (cdt != kdt) {
    Tensor *x;
    if (tensor_cast(r, cdt, &x, d)) goto done;
    tensor_free(r);
    r = x;
  }
  *out = r;
  r = NULL;
  rc = HL_OK;
done:
  tensor_free(ca);
  tensor_free(cb);
  tensor_free(r);
  return rc;
}

/* ---- comparisons ----------------------------------------------------------------------------- */

typedef struct CmpCtx {
  DType da, db;
  double rtol, atol;
  bool close;
  double max_err, sum_d2, sum_b2;
} CmpCtx;

static int cmp_row(char **p, const int64_t *st, int64_t n, void *vctx) {
  CmpCtx *c = vctx;
  double x[TENSOR_CHUNK], y[TENSOR_CHUNK];
  for (int64_t i = 0; i < n; i += TENSOR_CHUNK) {
    int64_t m = n - i < TENSOR_CHUNK ? n - i : TENSOR_CHUNK;
    tensor_load_f64(x, p[0] + i * st[0], c->da, st[0], m);
    tensor_load_f64(y, p[1] + i * st[1], c->db, st[1], m);
    for (int64_t j = 0; j < m; j++) {
      double a = x[j], b = y[j];
      bool eq = a == b;
      bool ok = eq || (isfinite(a) && isfinite(b) && fabs(a - b) <= c->atol + c->rtol * fabs(b));
      if (!ok) c->close = false;
      double e = eq ? 0.0 : fabs(a - b);
      if (e != e || c->max_err != c->max_err) c->max_err = NAN;
      else if (e > c->max_err) c->max_err = e;
      if (!eq) c->sum_d2 += (a - b) * (a - b);
      c->sum_b2 += b * b;
    }
  }
  return 0;
}

static int compare(const Tensor *a, const Tensor *b, CmpCtx *c, const char *what, Diag *d) {
  int64_t shape[TENSOR_MAX_DIMS];
  int n;
  if (tensor_broadcast_shape(a->sizes, a->ndim, b->sizes, b->ndim, shape, &n, d))
    return diag_prefix(d, "%s: ", what);
  c->da = a->dtype;
  c->db = b->dtype;
  c->close = true;
  const Tensor *ops[2] = {a, b};
  TensorIter it;
  tensor_iter_init(&it, shape, n, ops, 2);
  tensor_iter_rows(&it, cmp_row, c);
  return HL_OK;
}

int tensor_allclose(const Tensor *a, const Tensor *b, double rtol, double atol, bool *out,
                    Diag *d) {
  CmpCtx c = {.rtol = rtol, .atol = atol};
  if (compare(a, b, &c, "allclose", d)) return HL_ERR;
  *out = c.close;
  return HL_OK;
}

int tensor_max_abs_err(const Tensor *a, const Tensor *b, double *out, Diag *d) {
  CmpCtx c = {0};
  if (compare(a, b, &c, "max_abs_err", d)) return HL_ERR;
  *out = c.max_err;
  return HL_OK;
}

int tensor_rel_err(const Tensor *a, const Tensor *b, double *out, Diag *d) {
  CmpCtx c = {0};
  if (compare(a, b, &c, "rel_err", d)) return HL_ERR;
  if (c.sum_d2 == 0) *out = 0.0;
  else *out = sqrt(c.sum_d2) / sqrt(c.sum_b2);
  return HL_OK;
}
