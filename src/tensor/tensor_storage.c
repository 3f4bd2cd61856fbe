/* Tensor storage and handles: refcounted device storage (CPU ops table), tensor creation,
 * element access, and the small helpers every phase uses (numel, dim checks, shape strings).
 * Part of src/tensor (host tensors). */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "tensor/tensor_internal.h"

/* ---- CPU storage ----------------------------------------------------------------------------- */

static void *cpu_alloc(size_t nbytes, void *ctx, Diag *d) {
  void *p = mem_alloc_aligned(nbytes);
  if (!p) diag_set(d, "out of memory allocating %zu bytes of cpu tensor storage", nbytes);
  return p;
}
static void cpu_free(void *p, void *ctx) { mem_free_aligned(p); }

static int cpu_copy(void *dst, const void *src, size_t nbytes, void *ctx, Diag *d) {
  if (nbytes) memcpy(dst, src, nbytes);
  return HL_OK;
}

const StorageOps tensor_cpu_storage_ops = {
    .name = "cpu",
    .device = TENSOR_DEVICE_CPU,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy_to_host = cpu_copy,
    .copy_from_host = cpu_copy,
};

int tensor_storage_new(const StorageOps *ops, void *ctx, size_t nbytes, Storage **out, Diag *d) {
  Storage *s = mem_alloc(sizeof *s);
  if (!s) return diag_set(d, "out of memory allocating tensor storage");
  s->data = ops->alloc(nbytes ? nbytes : 1, ctx, d);
  if (!s->data) {
    mem_free(s);
    return HL_ERR;
  }
  s->refcount = 1;
  s->ops = ops;
  s->ctx = ctx;
  s->nbytes = nbytes;
  *out = s;
  return HL_OK;
}

void tensor_storage_retain(Storage *s) {
  if (s) __atomic_add_fetch(&s->refcount, 1, __ATOMIC_RELAXED);
}

void tensor_storage_release(Storage *s) {
  if (!s) return;
  if (__atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
  s->ops->free(s->data, s->ctx);
  mem_free(s);
}

/* ---- handles --------------------------------------------------------------------------------- */

void tensor_free(Tensor *t) {
  if (!t) return;
  tensor_storage_release(t->storage);
  mem_free(t);
}

int64_t tensor_numel(const Tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++) n *= t->sizes[i];
  return n;
}

bool tensor_is_contiguous(const Tensor *t) {
  int64_t expect = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->sizes[i] == 1) continue;
    if (t->sizes[i] == 0) return true;
    if (t->strides[i] != expect) return false;
    expect *= t->sizes[i];
  }
  return true;
}

void *tensor_data(const Tensor *t) {
  return (char *)t->storage->data + t->offset * (int64_t)tensor_dtype_size(t->dtype);
}

int tensor_dim_check(int ndim, int dim, int *out, Diag *d) {
  int lo = ndim > 0 ? -ndim : -1, hi = ndim > 0 ? ndim - 1 : 0;
  if (dim < lo || dim > hi || ndim == 0) {
    if (ndim == 0) return diag_set(d, "dim %d is out of range for a 0-d tensor (it has no dims)", dim);
    return diag_set(d, "dim %d is out of range for a %d-d tensor (valid: %d..%d)", dim, ndim, lo,
                    hi);
  }
  *out = dim < 0 ? dim + ndim : dim;
  return HL_OK;
}

const char *tensor_shape_str(const int64_t *sizes, int ndim, char *buf, size_t cap) {
  size_t n = 0;
  n += (size_t)snprintf(buf + n, cap - n, "[");
  for (int i = 0; i < ndim && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)sizes[i]);
  if (n < cap) snprintf(buf + n, cap - n, "]");
  return buf;
}

int tensor_alloc_header(const Tensor *t, Tensor **out, Diag *d) {
  Tensor *h = mem_alloc(sizeof *h);
  if (!h) return diag_set(d, "out of memory allocating a tensor");
  *h = *t;
  h->wrapped_number = false;
  tensor_storage_retain(h->storage);
  *out = h;
  return HL_OK;
}

int tensor_view_alias(const Tensor *t, Tensor **out, Diag *d) {
  return tensor_alloc_header(t, out, d);
}

int tensor_empty(const int64_t *sizes, int ndim, DType dt, Tensor **out, Diag *d) {
  return tensor_empty_on(&tensor_cpu_storage_ops, NULL, sizes, ndim, dt, out, d);
}

int tensor_empty_on(const StorageOps *ops, void *ctx, const int64_t *sizes, int ndim, DType dt,
                    Tensor **out, Diag *d) {
  char buf[160];
  if ((unsigned)dt >= DT_COUNT) return diag_set(d, "unknown dtype number %d", (int)dt);
  if (ndim < 0 || ndim > TENSOR_MAX_DIMS)
    return diag_set(d, "tensors have at most %d dims, got %d", TENSOR_MAX_DIMS, ndim);
  int64_t numel = 1;
  for (int i = 0; i < ndim; i++) {
    if (sizes[i] < 0)
      return diag_set(d, "negative size %lld in dim %d of shape %s", (long long)sizes[i], i + 1,
                      tensor_shape_str(sizes, ndim, buf, sizeof buf));
    if (sizes[i] && numel > ((int64_t)1 << 48) / sizes[i])
      return diag_set(d, "shape %s is too large", tensor_shape_str(sizes, ndim, buf, sizeof buf));
    numel *= sizes[i];
  }
  Tensor *t = mem_alloc(sizeof *t);
  if (!t) return diag_set(d, "out of memory allocating a tensor");
  memset(t, 0, sizeof *t);
  if (tensor_storage_new(ops, ctx, (size_t)numel * tensor_dtype_size(dt), &t->storage, d)) {
    mem_free(t);
    return HL_ERR;
  }
  t->dtype = dt;
  t->ndim = ndim;
  int64_t stride = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    t->sizes[i] = sizes[i];
    t->strides[i] = stride;
    stride *= sizes[i] ? sizes[i] : 1;
  }
  *out = t;
  return HL_OK;
}

static int scalar_new(DType dt, Tensor **out, Diag *d) {
  if (tensor_empty(NULL, 0, dt, out, d)) return HL_ERR;
  (*out)->wrapped_number = true;
  return HL_OK;
}

int tensor_scalar_f64(double v, Tensor **out, Diag *d) {
  if (scalar_new(DT_FLOAT64, out, d)) return HL_ERR;
  memcpy(tensor_data(*out), &v, sizeof v);
  return HL_OK;
}

int tensor_scalar_i64(int64_t v, Tensor **out, Diag *d) {
  if (scalar_new(DT_INT64, out, d)) return HL_ERR;
  memcpy(tensor_data(*out), &v, sizeof v);
  return HL_OK;
}

int tensor_scalar_bool(bool v, Tensor **out, Diag *d) {
  if (scalar_new(DT_BOOL, out, d)) return HL_ERR;
  *(uint8_t *)tensor_data(*out) = v;
  return HL_OK;
}

/* ---- element access -------------------------------------------------------------------------- */

static int element_ptr(const Tensor *t, const int64_t *idx, char **out, Diag *d) {
  int64_t off = t->offset;
  for (int i = 0; i < t->ndim; i++) {
    if (idx[i] < 0 || idx[i] >= t->sizes[i])
      return diag_set(d, "index %lld is out of range for dim %d (size %lld)", (long long)idx[i],
                      i, (long long)t->sizes[i]);
    off += idx[i] * t->strides[i];
  }
  *out = (char *)t->storage->data + off * (int64_t)tensor_dtype_size(t->dtype);
  return HL_OK;
}

int tensor_get_f64(const Tensor *t, const int64_t *idx, double *out, Diag *d) {
  char *p = NULL;
  if (element_ptr(t, idx, &p, d)) return HL_ERR;
  *out = tensor_read_f64(p, t->dtype);
  return HL_OK;
}

int tensor_get_i64(const Tensor *t, const int64_t *idx, int64_t *out, Diag *d) {
  char *p = NULL;
  if (element_ptr(t, idx, &p, d)) return HL_ERR;
  *out = tensor_read_i64(p, t->dtype);
  return HL_OK;
}

int tensor_set_f64(Tensor *t, const int64_t *idx, double v, Diag *d) {
  char *p = NULL;
  if (element_ptr(t, idx, &p, d)) return HL_ERR;
  tensor_write_f64(p, t->dtype, v);
  return HL_OK;
}

int tensor_set_i64(Tensor *t, const int64_t *idx, int64_t v, Diag *d) {
  char *p = NULL;
  if (element_ptr(t, idx, &p, d)) return HL_ERR;
  tensor_write_i64(p, t->dtype, v);
  return HL_OK;
}
