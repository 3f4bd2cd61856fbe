/* Tensor views: transpose, permute, slice, narrow, expand, (un)squeeze, view/reshape, and the
 * broadcast-shape rule. Views share storage and only rewrite sizes/strides/offset.
 * Part of src/tensor (host tensors). */
#include <string.h>

#include "tensor/tensor_internal.h"

int tensor_transpose(const Tensor *t, int d0, int d1, Tensor **out, Diag *d) {
  int a, b;
  if (tensor_dim_check(t->ndim, d0, &a, d) || tensor_dim_check(t->ndim, d1, &b, d))
    return HL_ERR;
  Tensor *r;
  if (tensor_alloc_header(t, &r, d)) return HL_ERR;
  r->sizes[a] = t->sizes[b];
  r->sizes[b] = t->sizes[a];
  r->strides[a] = t->strides[b];
  r->strides[b] = t->strides[a];
  *out = r;
  return HL_OK;
}

int tensor_permute(const Tensor *t, const int *dims, int n, Tensor **out, Diag *d) {
  if (n != t->ndim)
    return diag_set(d, "permute needs %d dims for a %d-d tensor, got %d", t->ndim, t->ndim, n);
  int seen[TENSOR_MAX_DIMS] = {0}, norm[TENSOR_MAX_DIMS];
  for (int i = 0; i < n; i++) {
    if (tensor_dim_check(t->ndim, dims[i], &norm[i], d)) return HL_ERR;
    if (seen[norm[i]]++) return diag_set(d, "permute: dim %d appears twice", dims[i]);
  }
  Tensor *r;
  if (tensor_alloc_header(t, &r, d)) return HL_ERR;
  for (int i = 0; i < n; i++) {
    r->sizes[i] = t->sizes[norm[i]];
    r->strides[i] = t->strides[norm[i]];
  }
  *out = r;
  return HL_OK;
}

int tensor_slice(const Tensor *t, int dim, int64_t first, int64_t end, int64_t step,
                 Tensor **out, Diag *d) {
  int k;
  if (tensor_dim_check(t->ndim, dim, &k, d)) return HL_ERR;
  if (step <= 0) return diag_set(d, "slice step must be positive, got %lld", (long long)step);
  int64_t size = t->sizes[k];
  if (first < 0) first += size;
  if (end < 0) end += size;
  if (first < 0) first = 0;
  if (first > size) first = size;
  if (end > size) end = size;
  if (end < first) end = first;
  Tensor *r;
  if (tensor_alloc_header(t, &r, d)) return HL_ERR;
  r->sizes[k] = (end - first + step - 1) / step;
  r->offset += first * t->strides[k];
  r->strides[k] = t->strides[k] * step;
  *out = r;
  return HL_OK;
}

int tensor_narrow(const Tensor *t, int dim, int64_t start, int64_t len, Tensor **out, Diag *d) {
  int k;
  if (tensor_dim_check(t->ndim, dim, &k, d)) return HL_ERR;
  int64_t size = t->sizes[k];
  if (start < 0) start += size;
  if (start < 0 || start > size || len < 0 || start + len > size)
    return diag_set(d, "narrow: start %lld with length %lld is out of range for dim %d (size %lld)",
                    (long long)start, (long long)len, k, (long long)size);
  Tensor *r;
  if (tensor_alloc_header(t, &r, d)) return HL_ERR;
  r->sizes[k] = len;
  r->offset += start * t->strides[k];
  *out = r;
  return HL_OK;
}

int tensor_expand(const Tensor *t, const int64_t *sizes, int n, Tensor **out, Diag *d) {
  char a[160], b[160];
  if (n < t->ndim || n > TENSOR_MAX_DIMS)
    return diag_set(d, "cannot expand shape %s to %s: the target needs at least %d dims",
                    tensor_shape_str(t->sizes, t->ndim, a, sizeof a),
                    tensor_shape_str(sizes, n, b, sizeof b), t->ndim);
  Tensor tmp = *t;
  tmp.ndim = n;
  for (int i = 0; i < n; i++) {
    int j = i - (n - t->ndim);
    if (j < 0) {
      if (sizes[i] < 0) goto bad;
      tmp.sizes[i] = sizes[i];
      tmp.strides[i] = 0;
    } else if (sizes[i] == -1 || sizes[i] == t->sizes[j]) {
      tmp.sizes[i] = t->sizes[j];
      tmp.strides[i] = t->strides[j];
    } else if (t->sizes[j] == 1 && sizes[i] >= 0) {
      tmp.sizes[i] = sizes[i];
      tmp.strides[i] = 0;
    } else {
      goto bad;
    }
  }
  return tensor_alloc_header(&tmp, out, d);
bad:
  return diag_set(d, "cannot expand shape %s to %s",
                  tensor_shape_str(t->sizes, t->ndim, a, sizeof a),
                  tensor_shape_str(sizes, n, b, sizeof b));
}

int tensor_unsqueeze(const Tensor *t, int dim, Tensor **out, Diag *d) {
  int n = t->ndim;
  if (n >= TENSOR_MAX_DIMS) return diag_set(d, "tensors have at most %d dims", TENSOR_MAX_DIMS);
  if (dim < -n - 1 || dim > n)
    return diag_set(d, "unsqueeze: dim %d is out of range for a %d-d tensor (valid: %d..%d)", dim,
                    n, -n - 1, n);
  if (dim < 0) dim += n + 1;
  Tensor tmp = *t;
  tmp.ndim = n + 1;
  for (int i = n; i > dim; i--) {
    tmp.sizes[i] = t->sizes[i - 1];
    tmp.strides[i] = t->strides[i - 1];
  }
  tmp.sizes[dim] = 1;
  tmp.strides[dim] = dim < n ? t->sizes[dim] * t->strides[dim] : 1;
  return tensor_alloc_header(&tmp, out, d);
}

int tensor_squeeze(const Tensor *t, int dim, bool all, Tensor **out, Diag *d) {
  int k = -1;
  if (!all && tensor_dim_check(t->ndim, dim, &k, d)) return HL_ERR;
  Tensor tmp = *t;
  int m = 0;
  for (int i = 0; i < t->ndim; i++) {
    bool drop = t->sizes[i] == 1 && (all || i == k);
    if (drop) continue;
    tmp.sizes[m] = t->sizes[i];
    tmp.strides[m] = t->strides[i];
    m++;
  }
  tmp.ndim = m;
  return tensor_alloc_header(&tmp, out, d);
}

/* Resolves one -1 and checks the element count. */
static int infer_shape(const Tensor *t, const int64_t *sizes, int n, int64_t *res, Diag *d) {
  char a[160], b[160];
  if (n < 0 || n > TENSOR_MAX_DIMS)
    return diag_set(d, "tensors have at most %d dims, got %d", TENSOR_MAX_DIMS, n);
  int infer = -1;
  int64_t prod = 1, numel = tensor_numel(t);
  for (int i = 0; i < n; i++) {
    res[i] = sizes[i];
    if (sizes[i] == -1) {
      if (infer >= 0) return diag_set(d, "only one size may be -1 (inferred)");
      infer = i;
    } else if (sizes[i] < 0) {
      return diag_set(d, "invalid size %lld in shape %s", (long long)sizes[i],
                      tensor_shape_str(sizes, n, b, sizeof b));
    } else {
      prod *= sizes[i];
    }
  }
  if (infer >= 0) {
    if (prod == 0 || numel % prod != 0)
      return diag_set(d, "shape %s is invalid for a tensor of shape %s (%lld elements)",
                      tensor_shape_str(sizes, n, b, sizeof b),
                      tensor_shape_str(t->sizes, t->ndim, a, sizeof a), (long long)numel);
    res[infer] = numel / prod;
    prod *= res[infer];
  }
  if (prod != numel)
    return diag_set(d, "shape %s is invalid for a tensor of shape %s (%lld elements)",
                    tensor_shape_str(sizes, n, b, sizeof b),
                    tensor_shape_str(t->sizes, t->ndim, a, sizeof a), (long long)numel);
  return HL_OK;
}

/* torch's computeStride: strides for viewing (osz, ost) as nsz, or false when impossible. */
static bool view_strides(const int64_t *osz, const int64_t *ost, int on, const int64_t *nsz,
                         int nn, int64_t *nst) {
  int64_t one_sz = 1, one_st = 1;
  if (on == 0) {
    osz = &one_sz;
    ost = &one_st;
    on = 1;
  }
  int64_t numel = 1;
  for (int i = 0; i < on; i++) numel *= osz[i];
  if (numel == 0) {
    int64_t s = 1;
    for (int i = nn - 1; i >= 0; i--) {
      nst[i] = s;
      s *= nsz[i] ? nsz[i] : 1;
    }
    return true;
  }
  int view_d = nn - 1;
  int64_t chunk = ost[on - 1], tnumel = 1, vnumel = 1;
  for (int td = on - 1; td >= 0; td--) {
    tnumel *= osz[td];
    if (td == 0 || (osz[td - 1] != 1 && ost[td - 1] != tnumel * chunk)) {
      while (view_d >= 0 && (vnumel < tnumel || nsz[view_d] == 1)) {
        nst[view_d] = vnumel * chunk;
        vnumel *= nsz[view_d];
        view_d--;
      }
      if (vnumel != tnumel) return false;
      if (td > 0) {
        chunk = ost[td - 1];
        tnumel = 1;
        vnumel = 1;
      }
    }
  }
  return view_d == -1;
}

int tensor_view(const Tensor *t, const int64_t *sizes, int n, Tensor **out, Diag *d) {
  int64_t res[TENSOR_MAX_DIMS], st[TENSOR_MAX_DIMS];
  char a[160], b[160];
  if (infer_shape(t, sizes, n, res, d)) return HL_ERR;
  if (!view_strides(t->sizes, t->strides, t->ndim, res, n, st))
    return diag_set(d,
                    "view: cannot view a tensor of shape %s with strides %s as %s without a "
                    "copy; use reshape (which copies) or contiguous() first",
                    tensor_shape_str(t->sizes, t->ndim, a, sizeof a),
                    tensor_shape_str(t->strides, t->ndim, b, sizeof b),
                    tensor_shape_str(res, n, b + 80, sizeof b - 80));
  Tensor tmp = *t;
  tmp.ndim = n;
  for (int i = 0; i < n; i++) {
    tmp.sizes[i] = res[i];
    tmp.strides[i] = st[i];
  }
  return tensor_alloc_header(&tmp, out, d);
}

int tensor_reshape(const Tensor *t, const int64_t *sizes, int n, Tensor **out, Diag *d) {
  int64_t res[TENSOR_MAX_DIMS], st[TENSOR_MAX_DIMS];
  if (infer_shape(t, sizes, n, res, d)) return HL_ERR;
  if (view_strides(t->sizes, t->strides, t->ndim, res, n, st)) return tensor_view(t, res, n, out, d);
  Tensor *c;
  if (tensor_clone(t, &c, d)) return HL_ERR;
  int rc = tensor_view(c, res, n, out, d);
  tensor_free(c);
  return rc;
}

int tensor_broadcast_shape(const int64_t *a, int na, const int64_t *b, int nb, int64_t *out,
                           int *nout, Diag *d) {
  char sa[160], sb[160];
  int n = na > nb ? na : nb;
  int64_t res[TENSOR_MAX_DIMS];
  for (int i = 0; i < n; i++) {
    int ia = i - (n - na), ib = i - (n - nb);
    int64_t x = ia >= 0 ? a[ia] : 1, y = ib >= 0 ? b[ib] : 1;
    if (x != y && x != 1 && y != 1)
      return diag_set(d, "shapes %s and %s cannot be broadcast together (%lld vs %lld)",
                      tensor_shape_str(a, na, sa, sizeof sa), tensor_shape_str(b, nb, sb, sizeof sb),
                      (long long)x, (long long)y);
    res[i] = x == 1 ? y : x;
  }
  memcpy(out, res, sizeof(int64_t) * (size_t)n);
  *nout = n;
  return HL_OK;
}
