/* Helpers shared by the host-tensor unit tests: building tensors from literals, reading any
 * element by multi-index, and checking that an operation fails cleanly. Part of tests/unit. */
#ifndef HELUA_TESTS_TENSOR_TEST_UTIL_H
#define HELUA_TESTS_TENSOR_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "tensor/tensor.h"

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__}), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* Asserts HL_OK, printing the diagnostic (the caller's `Diag d`) otherwise. */
#define OK(call)                                                                              \
  do {                                                                                        \
    if ((call) != HL_OK) fail_msg("%s failed: %s", #call, d.msg);                            \
  } while (0)

static inline Tensor *tt_from(const double *vals, const int64_t *sizes, int ndim, DType dt) {
  Tensor *t = NULL;
  Diag d;
  if (tensor_from_buffer(vals, DT_FLOAT64, sizes, ndim, dt, &t, &d)) fail_msg("%s", d.msg);
  return t;
}

static inline Tensor *tt_randn(const int64_t *sizes, int ndim, DType dt, uint64_t seed) {
  Tensor *t = NULL;
  Diag d;
  if (tensor_randn(sizes, ndim, dt, seed, &t, &d)) fail_msg("%s", d.msg);
  return t;
}

/* Element at a multi-index, computed from sizes/strides directly (the naive way). */
static inline double tt_at(const Tensor *t, const int64_t *idx) {
  double v;
  Diag d;
  if (tensor_get_f64(t, idx, &v, &d)) fail_msg("%s", d.msg);
  return v;
}

/* Flat (row-major) index -> multi-index for the given shape. */
static inline void tt_unflat(int64_t flat, const int64_t *sizes, int ndim, int64_t *idx) {
  for (int i = ndim - 1; i >= 0; i--) {
    idx[i] = sizes[i] ? flat % sizes[i] : 0;
    flat = sizes[i] ? flat / sizes[i] : 0;
  }
}

/* Element of t broadcast to (sizes, ndim) at the multi-index idx. */
static inline double tt_at_bcast(const Tensor *t, const int64_t *idx, int ndim) {
  int64_t j[TENSOR_MAX_DIMS];
  for (int i = 0; i < t->ndim; i++) {
    int k = i + (ndim - t->ndim);
    j[i] = t->sizes[i] == 1 ? 0 : idx[k];
  }
  return tt_at(t, j);
}

static inline double tt_flat(const Tensor *t, int64_t flat) {
  int64_t idx[TENSOR_MAX_DIMS];
  tt_unflat(flat, t->sizes, t->ndim, idx);
  return tt_at(t, idx);
}

static inline void tt_assert_shape(const Tensor *t, const int64_t *sizes, int ndim) {
  assert_int_equal(t->ndim, ndim);
  for (int i = 0; i < ndim; i++) assert_int_equal(t->sizes[i], sizes[i]);
}

/* Both NaN, or equal within tol (relative to max(1, |b|)). */
static inline void tt_assert_close(double a, double b, double tol) {
  if (a != a && b != b) return;
  if (a == b) return;
  if (!(fabs(a - b) <= tol * fmax(1.0, fabs(b)))) fail_msg("got %.17g, expected %.17g", a, b);
}

static inline void tt_assert_contains(const char *msg, const char *needle) {
  if (!strstr(msg, needle)) fail_msg("message '%s' lacks '%s'", msg, needle);
}

#endif
