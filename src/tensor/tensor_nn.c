/* NN reference ops for checking kernels: softmax, log_softmax, layer_norm, rms_norm,
 * cross_entropy, attention. Inputs of any dtype are computed in double and returned in their
 * (float) dtype; integer inputs give float32. Part of src/tensor (host tensors). */
#include <math.h>
#include <string.h>

#include "base/mem.h"
#include "tensor/tensor_internal.h"

static DType float_out(DType dt) { return tensor_dtype_is_float(dt) ? dt : DT_FLOAT32; }

/* Finishes an op computed into the float64 tensor *r: casts to dt and hands it out. */
static int finish(Tensor *r, DType dt, Tensor **out, Diag *d) {
  if (r->dtype == dt) {
    *out = r;
    return HL_OK;
  }
  int rc = tensor_cast(r, dt, out, d);
  tensor_free(r);
  return rc;
}

static int softmax_common(const Tensor *x, int dim, bool logsm, Tensor **out, Diag *d) {
  int k;
  if (tensor_dim_check(x->ndim, dim, &k, d))
    return diag_prefix(d, "%s: ", logsm ? "log_softmax" : "softmax");
  Tensor *r;
  if (tensor_cast(x, DT_FLOAT64, &r, d)) return HL_ERR;
  int64_t outer = 1, len = x->sizes[k], inner = 1;
  for (int i = 0; i < k; i++) outer *= x->sizes[i];
  for (int i = k + 1; i < x->ndim; i++) inner *= x->sizes[i];
  double *v = tensor_data(r);
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t in = 0; in < inner; in++) {
      double *row = v + o * len * inner + in;
      double mx = -INFINITY, s = 0;
      for (int64_t j = 0; j < len; j++) mx = row[j * inner] > mx ? row[j * inner] : mx;
      if (mx == -INFINITY) mx = 0; /* all -inf: softmax is nan, like torch */
      for (int64_t j = 0; j < len; j++) s += exp(row[j * inner] - mx);
      double ls = log(s);
      for (int64_t j = 0; j < len; j++) {
        double z = row[j * inner] - mx;
        row[j * inner] = logsm ? z - ls : exp(z) / s;
      }
    }
  }
  return finish(r, float_out(x->dtype), out, d);
}

int tensor_softmax(const Tensor *x, int dim, Tensor **out, Diag *d) {
  return softmax_common(x, dim, false, out, d);
}

int tensor_log_softmax(const Tensor *x, int dim, Tensor **out, Diag *d) {
  return softmax_common(x, dim, true, out, d);
}

/* w (may be NULL) must be [D]; returns a float64 contiguous copy or NULL. */
static int norm_param(const Tensor *w, int64_t dsz, const Tensor *x, const char *what,
                      const char *role, Tensor **out, Diag *d) {
  char a[160], b[160];
  *out = NULL;
  if (!w) return HL_OK;
  if (w->ndim != 1 || w->sizes[0] != dsz)
    return diag_set(d, "%s: %s of shape %s doesn't match the last dim of input %s (want [%lld])",
                    what, role, tensor_shape_str(w->sizes, w->ndim, a, sizeof a),
                    tensor_shape_str(x->sizes, x->ndim, b, sizeof b), (long long)dsz);
  return tensor_as_contig(w, DT_FLOAT64, out, d);
}

static int norm_common(const Tensor *x, const Tensor *w, const Tensor *bias, double eps, bool rms,
                       Tensor **out, Diag *d) {
  const char *what = rms ? "rms_norm" : "layer_norm";
  if (x->ndim == 0) return diag_set(d, "%s: input must have at least 1 dim", what);
  int64_t dsz = x->sizes[x->ndim - 1];
  Tensor *wt = NULL, *bt = NULL, *r = NULL;
  int rc = HL_ERR;
  if (norm_param(w, dsz, x, what, "weight", &wt, d) ||
      norm_param(bias, dsz, x, what, "bias", &bt, d) || tensor_cast(x, DT_FLOAT64, &r, d))
    goto done;
  double *v = tensor_data(r);
  const double *wv = wt ? tensor_data(wt) : NULL, *bv = bt ? tensor_data(bt) : NULL;
  int64_t rows = dsz ? tensor_numel(x) / dsz : 0;
  for (int64_t i = 0; i < rows; i++) {
    double *row = v + i * dsz, mean = 0, var = 0;
    if (!rms) {
      for (int64_t j = 0; j < dsz; j++) mean += row[j];
      mean /= (double)dsz;
    }
    for (int64_t j = 0; j < dsz; j++) var += (row[j] - mean) * (row[j] - mean);
    double inv = 1.0 / sqrt(var / (double)dsz + eps);
    for (int64_t j = 0; j < dsz; j++) {
      double y = (row[j] - mean) * inv;
      if (wv) y *= wv[j];
      if (bv) y += bv[j];
      row[j] = y;
    }
  }
  rc = finish(r, float_out(x->dtype), out, d);
  r = NULL;
done:
  tensor_free(wt);
  tensor_free(bt);
  tensor_free(r);
  return rc;
}

int tensor_layer_norm(const Tensor *x, const Tensor *w, const Tensor *b, double eps,
                      Tensor **out, Diag *d) {
  return norm_common(x, w, b, eps, false, out, d);
}

int tensor_rms_norm(const Tensor *x, const Tensor *w, double eps, Tensor **out, Diag *d) {
  return norm_common(x, w, NULL, eps, true, out, d);
}

int tensor_cross_entropy(const Tensor *logits, const Tensor *labels, int64_t label_base,
                         Tensor **out, Diag *d) {
  char a[160], b[160];
  if (logits->ndim != 2 || labels->ndim != 1 || labels->sizes[0] != logits->sizes[0])
    return diag_set(d, "cross_entropy: expected logits [N, C] and labels [N], got %s and %s",
                    tensor_shape_str(logits->sizes, logits->ndim, a, sizeof a),
                    tensor_shape_str(labels->sizes, labels->ndim, b, sizeof b));
  if (!tensor_dtype_is_int(labels->dtype))
    return diag_set(d, "cross_entropy: labels must be an integer tensor, got %s",
                    tensor_dtype_name(labels->dtype));
  int64_t n = logits->sizes[0], c = logits->sizes[1];
  Tensor *lg = NULL, *lb = NULL, *r = NULL;
  int rc = HL_ERR;
  if (tensor_as_contig(logits, DT_FLOAT64, &lg, d) || tensor_as_contig(labels, DT_INT64, &lb, d))
    goto done;
  const double *v = tensor_data(lg);
  const int64_t *lab = tensor_data(lb);
  double total = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t y = lab[i] - label_base;
    if (y < 0 || y >= c) {
      diag_set(d, "cross_entropy: label %lld at position %lld is out of range (classes are "
                  "%lld..%lld)",
               (long long)lab[i], (long long)(i + label_base), (long long)label_base,
               (long long)(c - 1 + label_base));
      goto done;
    }
    const double *row = v + i * c;
    double mx = -INFINITY, s = 0;
    for (int64_t j = 0; j < c; j++) mx = row[j] > mx ? row[j] : mx;
    for (int64_t j = 0; j < c; j++) s += exp(row[j] - mx);
    total += mx + log(s) - row[y];
  }
  if (tensor_full(NULL, 0, n ? total / (double)n : NAN, float_out(logits->dtype), &r, d)) goto done;
  *out = r;
  rc = HL_OK;
done:
  tensor_free(lg);
  tensor_free(lb);
  return rc;
}

int tensor_attention(const Tensor *q, const Tensor *k, const Tensor *v, bool causal, double scale,
                     Tensor **out, Diag *d) {
  char a[160], b[160], c[160];
  int nd = q->ndim;
  bool ok = nd >= 2 && k->ndim == nd && v->ndim == nd;
  for (int i = 0; ok && i < nd - 2; i++) ok = q->sizes[i] == k->sizes[i] && q->sizes[i] == v->sizes[i];
  if (ok) ok = q->sizes[nd - 1] == k->sizes[nd - 1] && k->sizes[nd - 2] == v->sizes[nd - 2];
  if (!ok)
    return diag_set(d, "attention: expected q [..., Sq, D], k [..., Sk, D], v [..., Sk, Dv] with "
                       "equal batch dims, got %s, %s and %s",
                    tensor_shape_str(q->sizes, q->ndim, a, sizeof a),
                    tensor_shape_str(k->sizes, k->ndim, b, sizeof b),
                    tensor_shape_str(v->sizes, v->ndim, c, sizeof c));
  int64_t sq = q->sizes[nd - 2], dd = q->sizes[nd - 1], sk = k->sizes[nd - 2], dv = v->sizes[nd - 1];
  int64_t batch = 1;
  for (int i = 0; i < nd - 2; i++) batch *= q->sizes[i];
  if (scale <= 0) scale = dd ? 1.0 / sqrt((double)dd) : 1.0;
  DType odt = float_out(tensor_dtype_promote(q->dtype, tensor_dtype_promote(k->dtype, v->dtype)));
  Tensor *qc = NULL, *kc = NULL, *vc = NULL, *r = NULL;
  double *p = NULL;
  int rc = HL_ERR;
  int64_t oshape[TENSOR_MAX_DIMS];
  memcpy(oshape, q->sizes, sizeof(int64_t) * (size_t)nd);
  oshape[nd - 1] = dv;
  if (tensor_as_contig(q, DT_FLOAT64, &qc, d) || tensor_as_contig(k, DT_FLOAT64, &kc, d) ||
      tensor_as_contig(v, DT_FLOAT64, &vc, d) || tensor_zeros(oshape, nd, DT_FLOAT64, &r, d))
    goto done;
  p = mem_alloc(sizeof(double) * (size_t)(sk ? sk : 1));
  if (!p) {
    diag_set(d, "attention: out of memory");
    goto done;
  }
  const double *Q = tensor_data(qc), *K = tensor_data(kc), *V = tensor_data(vc);
  double *O = tensor_data(r);
  for (int64_t bi = 0; bi < batch; bi++) {
    const double *qb = Q + bi * sq * dd, *kb = K + bi * sk * dd, *vb = V + bi * sk * dv;
    double *ob = O + bi * sq * dv;
    for (int64_t i = 0; i < sq; i++) {
      double mx = -INFINITY, s = 0;
      for (int64_t j = 0; j < sk; j++) {
        double dot = 0;
        for (int64_t e = 0; e < dd; e++) dot += qb[i * dd + e] * kb[j * dd + e];
        p[j] = (causal && j > i) ? -INFINITY : dot * scale;
        if (p[j] > mx) mx = p[j];
      }
      for (int64_t j = 0; j < sk; j++) {
        p[j] = p[j] == -INFINITY ? 0.0 : exp(p[j] - mx);
        s += p[j];
      }
      for (int64_t j = 0; j < sk; j++) {
        double w = p[j] / s;
        if (w == 0) continue;
        for (int64_t e = 0; e < dv; e++) ob[i * dv + e] += w * vb[j * dv + e];
      }
    }
  }
  rc = finish(r, odt, out, d);
  r = NULL;
done:
  mem_free(p);
  tensor_free(qc);
  tensor_free(kc);
  tensor_free(vc);
  tensor_free(r);
  return rc;
}
