/* Unit tests for matmul (odd sizes, transposed/strided inputs, batched with broadcast, 1-D,
 * float16/int through float64, threaded sizes) against a naive triple loop, and for the
 * kernel-checking comparisons allclose / max_abs_err / rel_err. Part of tests/unit. */
#include "tensor_test_util.h"

/* c[b, i, j] = sum_p a[b, i, p] * b[b, p, j], operands broadcast over the batch dims. */
static void check_matmul(const Tensor *a, const Tensor *b, const Tensor *c, double tol) {
  int nd = c->ndim;
  int64_t m = a->sizes[a->ndim - 2], k = a->sizes[a->ndim - 1], n = b->sizes[b->ndim - 1];
  int64_t nb = 1;
  for (int i = 0; i < nd - 2; i++) nb *= c->sizes[i];
  for (int64_t bi = 0; bi < nb; bi++) {
    int64_t cidx[TENSOR_MAX_DIMS], aidx[TENSOR_MAX_DIMS], bidx[TENSOR_MAX_DIMS];
    tt_unflat(bi, c->sizes, nd - 2, cidx);
    for (int i = 0; i < a->ndim - 2; i++) {
      int k2 = i + (nd - a->ndim);
      aidx[i] = a->sizes[i] == 1 ? 0 : cidx[k2];
    }
    for (int i = 0; i < b->ndim - 2; i++) {
      int k2 = i + (nd - b->ndim);
      bidx[i] = b->sizes[i] == 1 ? 0 : cidx[k2];
    }
    for (int64_t i = 0; i < m; i++) {
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t p = 0; p < k; p++) {
          aidx[a->ndim - 2] = i, aidx[a->ndim - 1] = p;
          bidx[b->ndim - 2] = p, bidx[b->ndim - 1] = j;
          s += tt_at(a, aidx) * tt_at(b, bidx);
        }
        cidx[nd - 2] = i, cidx[nd - 1] = j;
        tt_assert_close(tt_at(c, cidx), s, tol);
      }
    }
  }
}

static void odd_sizes(DType dt, double tol) {
  Diag d;
  Tensor *a = tt_randn(SHAPE(37, 53), dt, 1), *b = tt_randn(SHAPE(53, 29), dt, 2), *c;
  OK(tensor_matmul(a, b, &c, &d));
  tt_assert_shape(c, SHAPE(37, 29));
  assert_int_equal(c->dtype, dt);
  check_matmul(a, b, c, tol);
  tensor_free(c);
  tensor_free(a);
  tensor_free(b);
}

static void test_odd_f32(void **state) { odd_sizes(DT_FLOAT32, 1e-5); }
static void test_odd_f64(void **state) { odd_sizes(DT_FLOAT64, 1e-13); }

static void test_transposed_strided(void **state) {
  Diag d;
  Tensor *a0 = tt_randn(SHAPE(41, 19), DT_FLOAT64, 3), *b0 = tt_randn(SHAPE(41, 61), DT_FLOAT64, 4);
  Tensor *a, *b, *c;
  OK(tensor_transpose(a0, 0, 1, &a, &d));    /* [19, 41], column-major */
  OK(tensor_slice(b0, 1, 1, 61, 2, &b, &d)); /* [41, 30], column stride 2 */
  OK(tensor_matmul(a, b, &c, &d));
  tt_assert_shape(c, SHAPE(19, 30));
  check_matmul(a, b, c, 1e-13);
  tensor_free(c);
  /* both column-major, float32 */
  Tensor *af, *aft, *bf, *bft, *bfc, *bcm, *cf;
  OK(tensor_cast(a0, DT_FLOAT32, &af, &d));
  OK(tensor_transpose(af, 0, 1, &aft, &d)); /* [19, 41] */
  OK(tensor_cast(b, DT_FLOAT32, &bf, &d));  /* [41, 30] */
  OK(tensor_transpose(bf, 0, 1, &bft, &d));
  OK(tensor_contiguous(bft, &bfc, &d));     /* [30, 41] row-major */
  OK(tensor_transpose(bfc, 0, 1, &bcm, &d)); /* [41, 30] column-major */
  OK(tensor_matmul(aft, bcm, &cf, &d));
  check_matmul(aft, bcm, cf, 1e-5);
  Tensor *all[] = {a0, b0, a, b, af, aft, bf, bft, bfc, bcm, cf};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
}

static void test_batched(void **state) {
  Diag d;
  Tensor *a = tt_randn(SHAPE(2, 3, 7, 5), DT_FLOAT32, 6), *b = tt_randn(SHAPE(3, 5, 9), DT_FLOAT32, 7);
  Tensor *c;
  OK(tensor_matmul(a, b, &c, &d));
  tt_assert_shape(c, SHAPE(2, 3, 7, 9));
  check_matmul(a, b, c, 1e-5);
  tensor_free(c);
  Tensor *w = tt_randn(SHAPE(5, 4), DT_FLOAT64, 8), *a64;
  OK(tensor_cast(a, DT_FLOAT64, &a64, &d));
  OK(tensor_matmul(a64, w, &c, &d)); /* 2-D operand broadcast over the batch */
  tt_assert_shape(c, SHAPE(2, 3, 7, 4));
  check_matmul(a64, w, c, 1e-13);
  tensor_free(c);
  Tensor *bad = tt_randn(SHAPE(2, 5, 9), DT_FLOAT32, 9);
  assert_int_equal(tensor_matmul(a, bad, &c, &d), HL_ERR);
  tt_assert_contains(d.msg, "[2, 3, 7, 5]");
  tt_assert_contains(d.msg, "[2, 5, 9]");
  Tensor *bad2 = tt_randn(SHAPE(6, 9), DT_FLOAT32, 9);
  assert_int_equal(tensor_matmul(a, bad2, &c, &d), HL_ERR);
  tt_assert_contains(d.msg, "[6, 9]");
  Tensor *all[] = {a, b, w, a64, bad, bad2};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
}

static void test_vectors_and_dtypes(void **state) {
  Diag d;
  Tensor *v = tt_randn(SHAPE(5), DT_FLOAT64, 1), *m = tt_randn(SHAPE(5, 3), DT_FLOAT64, 2), *c;
  OK(tensor_matmul(v, m, &c, &d));
  tt_assert_shape(c, SHAPE(3));
  for (int64_t j = 0; j < 3; j++) {
    double s = 0;
    for (int64_t p = 0; p < 5; p++) s += tt_flat(v, p) * tt_at(m, (int64_t[]){p, j});
    tt_assert_close(tt_flat(c, j), s, 1e-14);
  }
  tensor_free(c);
  OK(tensor_matmul(v, v, &c, &d));
  assert_int_equal(c->ndim, 0);
  tensor_free(c);
  Tensor *h, *hc, *mh;
  OK(tensor_cast(m, DT_FLOAT16, &mh, &d));
  OK(tensor_cast(v, DT_FLOAT16, &h, &d));
  OK(tensor_matmul(h, mh, &hc, &d));
  assert_int_equal(hc->dtype, DT_FLOAT16);
  tensor_free(hc);
  double iv[] = {1, 2, 3, 4};
  Tensor *ia = tt_from(iv, SHAPE(2, 2), DT_INT32);
  OK(tensor_matmul(ia, ia, &hc, &d));
  assert_int_equal(hc->dtype, DT_INT32);
  assert_true(tt_flat(hc, 0) == 7 && tt_flat(hc, 3) == 22);
  tensor_free(hc);
  Tensor *all[] = {v, m, h, mh, ia};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
}

static void test_threaded_size(void **state) {
  Diag d; /* big enough for the threaded path and several KC/NC blocks */
  Tensor *a = tt_randn(SHAPE(130, 600), DT_FLOAT32, 1), *b = tt_randn(SHAPE(600, 1100), DT_FLOAT32, 2);
  Tensor *c, *a64, *b64, *c64;
  OK(tensor_matmul(a, b, &c, &d));
  OK(tensor_cast(a, DT_FLOAT64, &a64, &d));
  OK(tensor_cast(b, DT_FLOAT64, &b64, &d));
  OK(tensor_matmul(a64, b64, &c64, &d));
  double err;
  OK(tensor_rel_err(c, c64, &err, &d));
  assert_true(err < 1e-6);
  for (int64_t f = 0; f < 130 * 1100; f += 997) { /* spot-check f64 against the naive sum */
    int64_t i = f / 1100, j = f % 1100;
    double s = 0;
    for (int64_t p = 0; p < 600; p++) s += tt_at(a64, (int64_t[]){i, p}) * tt_at(b64, (int64_t[]){p, j});
    tt_assert_close(tt_flat(c64, f), s, 1e-12);
  }
  Tensor *all[] = {a, b, c, a64, b64, c64};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
}

static void test_compare(void **state) {
  Diag d;
  double av[] = {1.0, 2.0, NAN, INFINITY, 0.0}, bv[] = {1.0, 2.00001, NAN, INFINITY, 0.0};
  Tensor *a = tt_from(av, SHAPE(5), DT_FLOAT64), *b = tt_from(bv, SHAPE(5), DT_FLOAT64);
  Tensor *a2, *b2;
  OK(tensor_narrow(a, 0, 0, 2, &a2, &d));
  OK(tensor_narrow(b, 0, 0, 2, &b2, &d));
  bool ok;
  OK(tensor_allclose(a2, b2, 1e-5, 1e-8, &ok, &d));
  assert_true(ok);
  OK(tensor_allclose(a2, b2, 1e-7, 1e-8, &ok, &d));
  assert_false(ok);
  OK(tensor_allclose(a, b, 1e-3, 1e-3, &ok, &d)); /* NaN != NaN */
  assert_false(ok);
  double e;
  OK(tensor_max_abs_err(a2, b2, &e, &d));
  tt_assert_close(e, 1e-5, 1e-9);
  OK(tensor_rel_err(a2, b2, &e, &d));
  tt_assert_close(e, 1e-5 / sqrt(1 + 2.00001 * 2.00001), 1e-9);
  Tensor *z;
  OK(tensor_zeros(SHAPE(3), DT_FLOAT32, &z, &d));
  OK(tensor_rel_err(z, z, &e, &d));
  assert_true(e == 0);
  Tensor *row;
  OK(tensor_zeros(SHAPE(2, 3), DT_FLOAT16, &row, &d));
  OK(tensor_allclose(row, z, 0, 0, &ok, &d)); /* broadcast */
  assert_true(ok);
  assert_int_equal(tensor_allclose(a, z, 0, 0, &ok, &d), HL_ERR);
  tt_assert_contains(d.msg, "[5]");
  tt_assert_contains(d.msg, "[3]");
  Tensor *all[] = {a, b, a2, b2, z, row};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_odd_f32),          cmocka_unit_test(test_odd_f64),
      cmocka_unit_test(test_transposed_strided), cmocka_unit_test(test_batched),
      cmocka_unit_test(test_vectors_and_dtypes), cmocka_unit_test(test_threaded_size),
      cmocka_unit_test(test_compare),
  };
  return cmocka_run_group_tests_name("tensor_matmul", tests, NULL, NULL);
}
