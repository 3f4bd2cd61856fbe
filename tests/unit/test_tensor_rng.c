/* Unit tests for seeded rand/randn: fixed known values for seed 0 (to catch drift), values that
 * depend only on (seed, element index), ranges and moments. Part of tests/unit (host tensors). */
#include "tensor_test_util.h"

typedef struct Known {
  DType dt;
  double rand[4], randn[4];
} Known;

/* Bit-exact values of elements 1..4 for seed 0. Changing the generator changes these. */
static const Known known[] = {
    {DT_FLOAT64,
     {0x1.989fa35785a7p-2, 0x1.f1c99948b964p-1, 0x1.3ea8ca5471ccp-6, 0x1.9321de52d488ep-1},
     {0x1.1eca266c35482p+0, 0x1.8a3a21b089691p-1, 0x1.370e610039e7fp-1, 0x1.d3591c93c90dp-2}},
    {DT_FLOAT32,
     {0x1.989fap-2, 0x1.f1c998p-1, 0x1.3ea8cp-6, 0x1.9321dep-1},
     {0x1.1eca26p+0, 0x1.8a3a22p-1, 0x1.370e62p-1, 0x1.d3591cp-2}},
    {DT_FLOAT16,
     {0x1.988p-2, 0x1.f1cp-1, 0x1.38p-6, 0x1.93p-1},
     {0x1.1ecp+0, 0x1.8a4p-1, 0x1.37p-1, 0x1.d34p-2}},
    {DT_BFLOAT16,
     {0x1.98p-2, 0x1.fp-1, 0x1p-6, 0x1.92p-1},
     {0x1.1ep+0, 0x1.8ap-1, 0x1.38p-1, 0x1.d4p-2}},
};

static void test_known_values(void **state) {
  Diag d;
  for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
    Tensor *u, *n;
    OK(tensor_rand(SHAPE(2, 2), known[k].dt, 0, &u, &d));
    OK(tensor_randn(SHAPE(2, 2), known[k].dt, 0, &n, &d));
    for (int i = 0; i < 4; i++) {
      if (tt_flat(u, i) != known[k].rand[i] || tt_flat(n, i) != known[k].randn[i])
        fail_msg("%s element %d: rand %a randn %a", tensor_dtype_name(known[k].dt), i,
                 tt_flat(u, i), tt_flat(n, i));
    }
    tensor_free(u);
    tensor_free(n);
  }
}

static void test_index_only(void **state) {
  Diag d;
  Tensor *a, *b, *c;
  OK(tensor_randn(SHAPE(100), DT_FLOAT32, 42, &a, &d));
  OK(tensor_randn(SHAPE(10, 20), DT_FLOAT32, 42, &b, &d));
  OK(tensor_randn(SHAPE(100), DT_FLOAT32, 43, &c, &d));
  int same = 0;
  for (int i = 0; i < 100; i++) {
    assert_true(tt_flat(a, i) == tt_flat(b, i));
    same += tt_flat(a, i) == tt_flat(c, i);
  }
  assert_true(same < 3);
  tensor_free(a);
  tensor_free(b);
  tensor_free(c);
  assert_int_equal(tensor_rand(SHAPE(3), DT_INT32, 0, &a, &d), HL_ERR);
  tt_assert_contains(d.msg, "floating dtype");
}

static void test_moments(void **state) {
  Diag d;
  const int64_t n = 200000;
  Tensor *u, *g, *h;
  OK(tensor_rand(&n, 1, DT_FLOAT64, 7, &u, &d));
  OK(tensor_randn(&n, 1, DT_FLOAT64, 7, &g, &d));
  OK(tensor_rand(&n, 1, DT_FLOAT16, 7, &h, &d));
  double su = 0, sg = 0, sg2 = 0, mn = 1, mx = 0;
  const double *uv = tensor_data(u), *gv = tensor_data(g);
  for (int64_t i = 0; i < n; i++) {
    su += uv[i];
    sg += gv[i];
    sg2 += gv[i] * gv[i];
    assert_true(uv[i] >= 0 && uv[i] < 1);
    double hv = tt_flat(h, i);
    assert_true(hv >= 0 && hv < 1);
    mn = fmin(mn, uv[i]);
    mx = fmax(mx, uv[i]);
  }
  assert_true(fabs(su / n - 0.5) < 0.005);
  assert_true(fabs(sg / n) < 0.01);
  assert_true(fabs(sg2 / n - 1) < 0.01);
  assert_true(mn < 1e-4 && mx > 1 - 1e-4);
  tensor_free(u);
  tensor_free(g);
  tensor_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_values),
      cmocka_unit_test(test_index_only),
      cmocka_unit_test(test_moments),
  };
  return cmocka_run_group_tests_name("tensor_rng", tests, NULL, NULL);
}
