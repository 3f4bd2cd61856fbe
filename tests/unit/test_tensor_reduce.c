/* Unit tests for reductions (sum, mean, amax, amin, argmax, argmin; one dim or all; keepdim)
 * against naive loops, plus ties, NaN and empty dims. Part of tests/unit (host tensors). */
#include "tensor_test_util.h"

/* Naive reduction of x (3-D) along dim k at output position (i, j) of the other two dims. */
static double naive(TensorReduceOp op, const Tensor *x, int k, int64_t i, int64_t j) {
  int64_t n = x->sizes[k], idx[3];
  double acc = 0, best = 0;
  int64_t bi = 0;
  for (int64_t r = 0; r < n; r++) {
    int o = 0;
    for (int q = 0; q < 3; q++) idx[q] = q == k ? r : (o++ == 0 ? i : j);
    double v = tt_at(x, idx);
    acc += v;
    bool better = r == 0 || ((op == TENSOR_AMAX || op == TENSOR_ARGMAX) ? v > best : v < best);
    if (better) {
      best = v;
      bi = r;
    }
  }
  switch (op) {
  case TENSOR_SUM: return acc;
  case TENSOR_MEAN: return acc / (double)n;
  case TENSOR_AMAX: case TENSOR_AMIN: return best;
  default: return (double)bi;
  }
}

static void check_dims(DType dt) {
  Diag d;
  Tensor *x0 = tt_randn(SHAPE(4, 5, 6), DT_FLOAT64, 3), *xs, *x;
  OK(tensor_permute(x0, (int[]){2, 0, 1}, 3, &xs, &d)); /* [6, 4, 5], strided */
  if (dt == DT_FLOAT64) {
    OK(tensor_view_alias(xs, &x, &d));
  } else { /* spread values so integer casts keep distinct values */
    Tensor *s, *y;
    OK(tensor_scalar_f64(5.0, &s, &d));
    OK(tensor_binary(TENSOR_MUL, xs, s, &y, &d));
    OK(tensor_cast(y, dt, &x, &d));
    tensor_free(s);
    tensor_free(y);
  }
  for (int op = TENSOR_SUM; op <= TENSOR_ARGMIN; op++) {
    for (int k = 0; k < 3; k++) {
      for (int keep = 0; keep < 2; keep++) {
        Tensor *r;
        OK(tensor_reduce((TensorReduceOp)op, x, k - (keep ? 3 : 0), keep, 0, &r, &d));
        assert_int_equal(r->ndim, keep ? 3 : 2);
        int64_t o[2] = {0, 0}, n0 = 0, n1 = 0;
        int q = 0;
        for (int i = 0; i < 3; i++) {
          if (i == k) continue;
          if (q++ == 0) n0 = x->sizes[i];
          else n1 = x->sizes[i];
        }
        for (o[0] = 0; o[0] < n0; o[0]++) {
          for (o[1] = 0; o[1] < n1; o[1]++) {
            int64_t ridx[3];
            if (keep) {
              int p = 0;
              for (int i = 0; i < 3; i++) ridx[i] = i == k ? 0 : o[p++];
            } else {
              ridx[0] = o[0];
              ridx[1] = o[1];
            }
            double want = naive((TensorReduceOp)op, x, k, o[0], o[1]);
            if ((op == TENSOR_MEAN && dt != DT_FLOAT64) || (op == TENSOR_SUM && dt == DT_FLOAT32))
              want = (double)(float)want;
            tt_assert_close(tt_at(r, ridx), want, 1e-14);
          }
        }
        tensor_free(r);
      }
    }
  }
  tensor_free(x);
  tensor_free(xs);
  tensor_free(x0);
}

static void test_dims_f64(void **state) { check_dims(DT_FLOAT64); }
static void test_dims_f32(void **state) { check_dims(DT_FLOAT32); }
static void test_dims_i32(void **state) { check_dims(DT_INT32); }

static void test_all_and_dtypes(void **state) {
  Diag d;
  Tensor *x, *r;
  OK(tensor_arange(1, 100, 1, DT_INT8, &x, &d)); /* sum 5050 overflows int8: result is int64 */
  OK(tensor_reduce(TENSOR_SUM, x, TENSOR_ALL_DIMS, false, 0, &r, &d));
  assert_int_equal(r->ndim, 0);
  assert_int_equal(r->dtype, DT_INT64);
  assert_true(tt_flat(r, 0) == 5050);
  tensor_free(r);
  OK(tensor_reduce(TENSOR_MEAN, x, TENSOR_ALL_DIMS, true, 0, &r, &d));
  assert_int_equal(r->dtype, DT_FLOAT32);
  assert_int_equal(r->ndim, 1);
  assert_true(tt_flat(r, 0) == 50.5);
  tensor_free(r);
  OK(tensor_reduce(TENSOR_ARGMAX, x, TENSOR_ALL_DIMS, false, 1, &r, &d)); /* 1-based */
  assert_true(tt_flat(r, 0) == 100 && r->dtype == DT_INT64);
  tensor_free(r);
  tensor_free(x);
  /* f16 sum accumulates in double: 4096 ones + small values */
  OK(tensor_ones(SHAPE(4100), DT_FLOAT16, &x, &d));
  OK(tensor_reduce(TENSOR_SUM, x, 0, false, 0, &r, &d));
  assert_true(tt_flat(r, 0) == 4100);
  assert_int_equal(r->dtype, DT_FLOAT16);
  tensor_free(r);
  tensor_free(x);
}

static void test_ties_nan_empty(void **state) {
  Diag d;
  double v[] = {1, 3, 3, 0, 0, 2};
  Tensor *x = tt_from(v, SHAPE(6), DT_FLOAT32), *r;
  OK(tensor_reduce(TENSOR_ARGMAX, x, 0, false, 0, &r, &d));
  assert_true(tt_flat(r, 0) == 1); /* first of the ties */
  tensor_free(r);
  OK(tensor_reduce(TENSOR_ARGMIN, x, 0, false, 0, &r, &d));
  assert_true(tt_flat(r, 0) == 3);
  tensor_free(r);
  tensor_free(x);
  double w[] = {1, NAN, 5, NAN};
  x = tt_from(w, SHAPE(4), DT_FLOAT64);
  OK(tensor_reduce(TENSOR_AMAX, x, 0, false, 0, &r, &d));
  assert_true(isnan(tt_flat(r, 0)));
  tensor_free(r);
  OK(tensor_reduce(TENSOR_ARGMAX, x, 0, false, 0, &r, &d));
  assert_true(tt_flat(r, 0) == 1);
  tensor_free(r);
  tensor_free(x);
  OK(tensor_zeros(SHAPE(3, 0), DT_FLOAT32, &x, &d));
  OK(tensor_reduce(TENSOR_SUM, x, 1, false, 0, &r, &d));
  tt_assert_shape(r, SHAPE(3));
  assert_true(tt_flat(r, 2) == 0);
  tensor_free(r);
  assert_int_equal(tensor_reduce(TENSOR_AMAX, x, 1, false, 0, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "empty");
  assert_int_equal(tensor_reduce(TENSOR_SUM, x, 2, false, 0, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "dim 2 is out of range");
  tensor_free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dims_f64),       cmocka_unit_test(test_dims_f32),
      cmocka_unit_test(test_dims_i32),       cmocka_unit_test(test_all_and_dtypes),
      cmocka_unit_test(test_ties_nan_empty),
  };
  return cmocka_run_group_tests_name("tensor_reduce", tests, NULL, NULL);
}
