/* Unit tests for torch-style printing: exact strings for small tensors (fixed, integer and
 * scientific modes, ints, bools, NaN/Inf, 0-d, empty), line wrapping, the suffix moving to its
 * own line, and the summarized form. Part of tests/unit (host tensors). */
#include "tensor_test_util.h"

static void expect(Tensor *t, const char *want) {
  Diag d;
  char *s;
  OK(tensor_to_string(t, &s, &d));
  if (strcmp(s, want) != 0) fail_msg("got:\n%s\nwant:\n%s", s, want);
  mem_free(s);
  tensor_free(t);
}

static Tensor *vals(const double *v, const int64_t *sizes, int nd, DType dt) {
  return tt_from(v, sizes, nd, dt);
}

static Tensor *iota(double start, int64_t n, DType dt, const int64_t *shape, int nd) {
  Diag d;
  Tensor *t, *r;
  OK(tensor_arange(start, start + (double)n - 1, 1, dt, &t, &d));
  OK(tensor_view(t, shape, nd, &r, &d));
  tensor_free(t);
  return r;
}

static void test_small(void **state) {
  expect(vals((double[]){1, -2.5, 3, 4}, SHAPE(2, 2), DT_FLOAT32),
         "tensor([[ 1.0000, -2.5000],\n        [ 3.0000,  4.0000]], dtype=float32)");
  expect(vals((double[]){3.5}, NULL, 0, DT_FLOAT32), "tensor(3.5000, dtype=float32)");
  expect(vals((double[]){1, 2, 3}, SHAPE(3), DT_INT64), "tensor([1, 2, 3], dtype=int64)");
  expect(vals((double[]){-1, 200, 3}, SHAPE(3), DT_INT8), "tensor([ -1, -56,   3], dtype=int8)");
  expect(vals((double[]){1, 0, 1}, SHAPE(3), DT_BOOL), "tensor([ true, false,  true], dtype=bool)");
  expect(vals((double[]){1, 2, 3}, SHAPE(3), DT_FLOAT16), "tensor([1., 2., 3.], dtype=float16)");
  expect(vals((double[]){0, 0}, SHAPE(2), DT_BFLOAT16), "tensor([0., 0.], dtype=bfloat16)");
  expect(vals((double[]){1e-5, 1}, SHAPE(2), DT_FLOAT64),
         "tensor([1.0000e-05, 1.0000e+00], dtype=float64)");
  expect(vals((double[]){NAN, INFINITY, 1.5}, SHAPE(3), DT_FLOAT32),
         "tensor([   nan,    inf, 1.5000], dtype=float32)");
  expect(vals((double[]){123456789.0, 1}, SHAPE(2), DT_FLOAT32),
         "tensor([1.2346e+08, 1.0000e+00], dtype=float32)");
  Diag d;
  Tensor *e;
  OK(tensor_zeros(SHAPE(2, 0, 3), DT_BOOL, &e, &d));
  expect(e, "tensor([], size=(2, 0, 3), dtype=bool)");
  OK(tensor_zeros(SHAPE(0), DT_FLOAT32, &e, &d));
  expect(e, "tensor([], dtype=float32)");
}

static void test_wrapping(void **state) {
  Diag d;
  Tensor *t;
  OK(tensor_full(SHAPE(9), 1.5, DT_FLOAT32, &t, &d));
  expect(t, "tensor([1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000],\n"
            "       dtype=float32)");
  expect(iota(1, 12, DT_FLOAT64, SHAPE(2, 3, 2)),
         "tensor([[[ 1.,  2.],\n"
         "         [ 3.,  4.],\n"
         "         [ 5.,  6.]],\n"
         "\n"
         "        [[ 7.,  8.],\n"
         "         [ 9., 10.],\n"
         "         [11., 12.]]], dtype=float64)");
  Tensor *x = iota(0, 20, DT_FLOAT32, SHAPE(20)), *three, *r;
  OK(tensor_scalar_f64(3.0, &three, &d));
  OK(tensor_binary(TENSOR_DIV, x, three, &r, &d));
  expect(r, "tensor([0.0000, 0.3333, 0.6667, 1.0000, 1.3333, 1.6667, 2.0000, 2.3333, 2.6667,\n"
            "        3.0000, 3.3333, 3.6667, 4.0000, 4.3333, 4.6667, 5.0000, 5.3333, 5.6667,\n"
            "        6.0000, 6.3333], dtype=float32)");
  tensor_free(x);
  tensor_free(three);
}

static void test_summarized(void **state) {
  expect(iota(1, 2000, DT_INT64, SHAPE(20, 100)),
         "tensor([[   1,    2,    3,  ...,   98,   99,  100],\n"
         "        [ 101,  102,  103,  ...,  198,  199,  200],\n"
         "        [ 201,  202,  203,  ...,  298,  299,  300],\n"
         "        ...,\n"
         "        [1701, 1702, 1703,  ..., 1798, 1799, 1800],\n"
         "        [1801, 1802, 1803,  ..., 1898, 1899, 1900],\n"
         "        [1901, 1902, 1903,  ..., 1998, 1999, 2000]], dtype=int64)");
  expect(iota(1, 1200, DT_FLOAT32, SHAPE(1200)),
         "tensor([1.0000e+00, 2.0000e+00, 3.0000e+00,  ..., 1.1980e+03, 1.1990e+03,\n"
         "        1.2000e+03], dtype=float32)");
  /* a transposed (strided) view prints its logical order */
  Diag d;
  Tensor *t = iota(1, 6, DT_INT32, SHAPE(2, 3)), *tr;
  OK(tensor_transpose(t, 0, 1, &tr, &d));
  expect(tr, "tensor([[1, 4],\n        [2, 5],\n        [3, 6]], dtype=int32)");
  tensor_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small),
      cmocka_unit_test(test_wrapping),
      cmocka_unit_test(test_summarized),
  };
  return cmocka_run_group_tests_name("tensor_print", tests, NULL, NULL);
}
