/* Tensors on the GPU: the device and page-locked StorageOps tables, and moving, filling and
 * copying tensors between host and device. Part of src/rt/cuda (the CUDA runtime).
 *
 * A device tensor is an ordinary Tensor whose Storage comes from rt_cuda_storage_ops: its views
 * (transpose, slice, ...) are the host code's, since they only rewrite sizes, strides and
 * offset; reading or writing its elements goes through the functions here. */
#include <string.h>

#include "rt/cuda/rt_cuda_internal.h"

/* ---- storage tables ----------------------------------------------------------------------- */

static void *device_alloc(size_t nbytes, void *ctx, Diag *d) {
  RtCudaPtr p = 0;
  if (rt_cuda_alloc(nbytes, &p, d)) return NULL;
  return (void *)(uintptr_t)p;
}

static void device_free(void *p, void *ctx) {
  Diag ignored; /* a free that fails has no one to tell; the context is then broken anyway */
  rt_cuda_free((RtCudaPtr)(uintptr_t)p, &ignored);
}

static int device_to_host(void *host, const void *dev, size_t n, void *ctx, Diag *d) {
  return rt_cuda_copy_dtoh(host, (RtCudaPtr)(uintptr_t)dev, n, d);
}

static int device_from_host(void *dev, const void *host, size_t n, void *ctx, Diag *d) {
  return rt_cuda_copy_htod((RtCudaPtr)(uintptr_t)dev, host, n, d);
}

const StorageOps rt_cuda_storage_ops = {
    .name = "cuda",
    .device = TENSOR_DEVICE_CUDA,
    .alloc = device_alloc,
    .free = device_free,
    .copy_to_host = device_to_host,
    .copy_from_host = device_from_host,
};

static void *pinned_alloc(size_t nbytes, void *ctx, Diag *d) {
  void *p = NULL;
  if (rt_cuda_host_alloc(nbytes, &p, d)) return NULL;
  return p;
}

static void pinned_free(void *p, void *ctx) {
  Diag ignored;
  rt_cuda_host_free(p, &ignored);
}

static int pinned_copy(void *dst, const void *src, size_t n, void *ctx, Diag *d) {
  if (n) memcpy(dst, src, n);
  return HL_OK;
}

const StorageOps rt_cuda_pinned_storage_ops = {
    .name = "cpu",
    .device = TENSOR_DEVICE_CPU,
    .alloc = pinned_alloc,
    .free = pinned_free,
    .copy_to_host = pinned_copy,
    .copy_from_host = pinned_copy,
};

/* ---- helpers ------------------------------------------------------------------------------ */

bool rt_cuda_tensor_is_device(const Tensor *t) {
  return t->storage && t->storage->ops->device == TENSOR_DEVICE_CUDA;
}

RtCudaPtr rt_cuda_tensor_ptr(const Tensor *t) {
  return (RtCudaPtr)(uintptr_t)t->storage->data +
         (RtCudaPtr)(t->offset * (int64_t)tensor_dtype_size(t->dtype));
}

static size_t nbytes_of(const Tensor *t) {
  return (size_t)tensor_numel(t) * tensor_dtype_size(t->dtype);
}

static int need_device(const Tensor *t, const char *what, Diag *d) {
  if (rt_cuda_tensor_is_device(t)) return HL_OK;
  return diag_set(d, "%s needs a cuda tensor, got a %s tensor", what, t->storage->ops->name);
}

int rt_cuda_tensor_empty(const int64_t *sizes, int ndim, DType dt, Tensor **out, Diag *d) {
  return tensor_empty_on(&rt_cuda_storage_ops, NULL, sizes, ndim, dt, out, d);
}

/* ---- moving ------------------------------------------------------------------------------- */

int rt_cuda_tensor_to_device(const Tensor *host, Tensor **out, Diag *d) {
  if (rt_cuda_tensor_is_device(host)) return diag_set(d, "the tensor is on cuda already");
  Tensor *c = NULL, *dev = NULL;
  if (tensor_contiguous(host, &c, d)) return HL_ERR;
  if (rt_cuda_tensor_empty(c->sizes, c->ndim, c->dtype, &dev, d) ||
      rt_cuda_copy_htod(rt_cuda_tensor_ptr(dev), tensor_data(c), nbytes_of(c), d)) {
    tensor_free(c);
    tensor_free(dev);
    return HL_ERR;
  }
  tensor_free(c);
  *out = dev;
  return HL_OK;
}

int rt_cuda_tensor_to_host(const Tensor *dev, Tensor **out, Diag *d) {
  if (need_device(dev, "copying to the host", d)) return HL_ERR;
  Tensor *host = NULL;
  if (tensor_is_contiguous(dev) || tensor_numel(dev) == 0) {
    if (tensor_empty(dev->sizes, dev->ndim, dev->dtype, &host, d)) return HL_ERR;
    if (rt_cuda_copy_dtoh(tensor_data(host), rt_cuda_tensor_ptr(dev), nbytes_of(dev), d)) {
      tensor_free(host);
      return HL_ERR;
    }
    *out = host;
    return HL_OK;
  }
  /* A strided view: copy the span of storage it covers, view it the same way, then compact. */
  int64_t span = 1;
  for (int i = 0; i < dev->ndim; i++) {
    if (dev->strides[i] < 0) return diag_set(d, "copying to the host: negative strides are not supported");
    span += (dev->sizes[i] - 1) * dev->strides[i];
  }
  Tensor *staging = NULL;
  if (tensor_empty(&span, 1, dev->dtype, &staging, d)) return HL_ERR;
  int rc = rt_cuda_copy_dtoh(tensor_data(staging), rt_cuda_tensor_ptr(dev),
                             (size_t)span * tensor_dtype_size(dev->dtype), d);
  if (rc == HL_OK) {
    Tensor view = *staging;
    view.ndim = dev->ndim;
    memcpy(view.sizes, dev->sizes, sizeof view.sizes);
    memcpy(view.strides, dev->strides, sizeof view.strides);
    rc = tensor_clone(&view, &host, d);
  }
  tensor_free(staging);
  if (rc) return HL_ERR;
  *out = host;
  return HL_OK;
}

int rt_cuda_tensor_pin(const Tensor *host, Tensor **out, Diag *d) {
  if (rt_cuda_tensor_is_device(host)) return diag_set(d, "pinning needs a cpu tensor, got a cuda one");
  Tensor *p = NULL;
  if (tensor_empty_on(&rt_cuda_pinned_storage_ops, NULL, host->sizes, host->ndim, host->dtype, &p,
                      d))
    return HL_ERR;
  if (tensor_copy_(p, host, d)) {
    tensor_free(p);
    return HL_ERR;
  }
  *out = p;
  return HL_OK;
}

/* ---- filling and copying ------------------------------------------------------------------ */

static int need_contiguous(const Tensor *t, const char *what, Diag *d) {
  if (tensor_is_contiguous(t)) return HL_OK;
  return diag_set(d, "%s needs a contiguous cuda tensor; this one is a strided view "
                     "(make it contiguous first: t:contiguous())", what);
}

int rt_cuda_tensor_fill(Tensor *dev, double v, bool is_int, int64_t iv, Diag *d) {
  if (need_device(dev, "fill_", d) || need_contiguous(dev, "fill_ on the GPU", d)) return HL_ERR;
  size_t es = tensor_dtype_size(dev->dtype), n = (size_t)tensor_numel(dev);
  Tensor *one = NULL;
  int rc = is_int ? tensor_full_i64(NULL, 0, iv, dev->dtype, &one, d)
                  : tensor_full(NULL, 0, v, dev->dtype, &one, d);
  if (rc) return HL_ERR;
  uint32_t lo = 0, hi = 0;
  memcpy(&lo, tensor_data(one), es < 4 ? es : 4);
  if (es == 8) memcpy(&hi, (char *)tensor_data(one) + 4, 4);
  tensor_free(one);
  if (es < 8) return rt_cuda_memset(rt_cuda_tensor_ptr(dev), (int)es, lo, n, d);
  if (lo == hi) return rt_cuda_memset(rt_cuda_tensor_ptr(dev), 4, lo, 2 * n, d);
  Tensor *host = NULL; /* 8-byte values with unequal halves: fill on the host, copy over */
  rc = is_int ? tensor_full_i64(dev->sizes, dev->ndim, iv, dev->dtype, &host, d)
              : tensor_full(dev->sizes, dev->ndim, v, dev->dtype, &host, d);
  if (rc == HL_OK) rc = rt_cuda_copy_htod(rt_cuda_tensor_ptr(dev), tensor_data(host), es * n, d);
  tensor_free(host);
  return rc;
}

static bool same_layout(const Tensor *a, const Tensor *b) {
  if (a->dtype != b->dtype || a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->sizes[i] != b->sizes[i]) return false;
  return tensor_is_contiguous(a) && tensor_is_contiguous(b);
}

int rt_cuda_tensor_copy(Tensor *dst, const Tensor *src, Diag *d) {
  bool dd = rt_cuda_tensor_is_device(dst), sd = rt_cuda_tensor_is_device(src);
  if (!dd && !sd) return tensor_copy_(dst, src, d);
  if (!dd) { /* device → host: bring src over, then the host copy broadcasts and casts */
    if (same_layout(dst, src)) return rt_cuda_copy_dtoh(tensor_data(dst), rt_cuda_tensor_ptr(src), nbytes_of(src), d);
    Tensor *h = NULL;
    if (rt_cuda_tensor_to_host(src, &h, d)) return HL_ERR;
    int rc = tensor_copy_(dst, h, d);
    tensor_free(h);
    return rc;
  }
  if (need_contiguous(dst, "copy_ into a cuda tensor", d)) return HL_ERR;
  if (same_layout(dst, src))
    return sd ? rt_cuda_copy_dtod(rt_cuda_tensor_ptr(dst), rt_cuda_tensor_ptr(src), nbytes_of(src), d)
              : rt_cuda_copy_htod(rt_cuda_tensor_ptr(dst), tensor_data(src), nbytes_of(src), d);
  /* Different dtype or shape: broadcast and cast on the host, then copy over. */
  Tensor *hsrc = NULL, *tmp = NULL;
  int rc = HL_OK;
  if (sd) rc = rt_cuda_tensor_to_host(src, &hsrc, d);
  if (rc == HL_OK) rc = tensor_empty(dst->sizes, dst->ndim, dst->dtype, &tmp, d);
  if (rc == HL_OK) rc = tensor_copy_(tmp, hsrc ? hsrc : src, d);
  if (rc == HL_OK) rc = rt_cuda_copy_htod(rt_cuda_tensor_ptr(dst), tensor_data(tmp), nbytes_of(tmp), d);
  tensor_free(hsrc);
  tensor_free(tmp);
  return rc;
}
