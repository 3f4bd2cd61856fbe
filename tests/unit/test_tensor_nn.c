/* Unit tests for the NN reference ops (softmax, log_softmax, layer_norm, rms_norm,
 * cross_entropy, attention) against naive implementations. Part of tests/unit (host tensors). */
#include "tensor_test_util.h"

static void test_softmax(void **state) {
  Diag d;
  Tensor *x = tt_randn(SHAPE(3, 4, 5), DT_FLOAT64, 1), *s, *ls;
  for (int dim = 0; dim < 3; dim++) {
    OK(tensor_softmax(x, dim, &s, &d));
    OK(tensor_log_softmax(x, dim - 3, &ls, &d));
    for (int64_t f = 0; f < 60; f++) {
      int64_t idx[3], j[3];
      tt_unflat(f, x->sizes, 3, idx);
      double mx = -INFINITY, sum = 0;
      memcpy(j, idx, sizeof j);
      for (j[dim] = 0; j[dim] < x->sizes[dim]; j[dim]++) mx = fmax(mx, tt_at(x, j));
      for (j[dim] = 0; j[dim] < x->sizes[dim]; j[dim]++) sum += exp(tt_at(x, j) - mx);
      double want = exp(tt_at(x, idx) - mx) / sum;
      tt_assert_close(tt_at(s, idx), want, 1e-14);
      tt_assert_close(tt_at(ls, idx), log(want), 1e-13);
    }
    tensor_free(s);
    tensor_free(ls);
  }
  Tensor *h;
  OK(tensor_cast(x, DT_FLOAT16, &h, &d));
  OK(tensor_softmax(h, -1, &s, &d));
  assert_int_equal(s->dtype, DT_FLOAT16);
  tensor_free(s);
  assert_int_equal(tensor_softmax(x, 3, &s, &d), HL_ERR);
  tt_assert_contains(d.msg, "softmax");
  tensor_free(h);
  tensor_free(x);
}

static void check_norm(bool rms, bool with_w, bool with_b) {
  Diag d;
  Tensor *x = tt_randn(SHAPE(4, 6), DT_FLOAT32, 2), *w = tt_randn(SHAPE(6), DT_FLOAT32, 3);
  Tensor *b = tt_randn(SHAPE(6), DT_FLOAT32, 4), *r;
  double eps = 1e-5;
  if (rms) OK(tensor_rms_norm(x, with_w ? w : NULL, eps, &r, &d));
  else OK(tensor_layer_norm(x, with_w ? w : NULL, with_b ? b : NULL, eps, &r, &d));
  assert_int_equal(r->dtype, DT_FLOAT32);
  for (int64_t i = 0; i < 4; i++) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < 6; j++) mean += tt_at(x, (int64_t[]){i, j}) / 6;
    if (rms) mean = 0;
    for (int64_t j = 0; j < 6; j++) var += pow(tt_at(x, (int64_t[]){i, j}) - mean, 2) / 6;
    for (int64_t j = 0; j < 6; j++) {
      double y = (tt_at(x, (int64_t[]){i, j}) - mean) / sqrt(var + eps);
      if (with_w) y *= tt_flat(w, j);
      if (with_b && !rms) y += tt_flat(b, j);
      tt_assert_close(tt_at(r, (int64_t[]){i, j}), y, 1e-6);
    }
  }
  tensor_free(r);
  Tensor *bad = tt_randn(SHAPE(5), DT_FLOAT32, 1);
  assert_int_equal(rms ? tensor_rms_norm(x, bad, eps, &r, &d)
                       : tensor_layer_norm(x, bad, NULL, eps, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "[5]");
  tt_assert_contains(d.msg, "[4, 6]");
  tensor_free(bad);
  tensor_free(x);
  tensor_free(w);
  tensor_free(b);
}

static void test_norms(void **state) {
  check_norm(false, true, true);
  check_norm(false, false, false);
  check_norm(false, true, false);
  check_norm(true, true, false);
  check_norm(true, false, false);
}

static void test_cross_entropy(void **state) {
  Diag d;
  Tensor *x = tt_randn(SHAPE(5, 7), DT_FLOAT64, 5), *r;
  double lv[] = {1, 7, 3, 3, 5};
  Tensor *labels = tt_from(lv, SHAPE(5), DT_INT64);
  OK(tensor_cross_entropy(x, labels, 1, &r, &d));
  assert_int_equal(r->ndim, 0);
  assert_int_equal(tensor_numel(r), 1);
  double total = 0;
  for (int64_t i = 0; i < 5; i++) {
    double s = 0;
    for (int64_t j = 0; j < 7; j++) s += exp(tt_at(x, (int64_t[]){i, j}));
    total += log(s) - tt_at(x, (int64_t[]){i, (int64_t)lv[i] - 1});
  }
  tt_assert_close(tt_flat(r, 0), total / 5, 1e-14);
  tensor_free(r);
  lv[2] = 8;
  Tensor *bad = tt_from(lv, SHAPE(5), DT_INT32);
  assert_int_equal(tensor_cross_entropy(x, bad, 1, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "label 8 at position 3");
  tt_assert_contains(d.msg, "1..7");
  tensor_free(bad);
  tensor_free(labels);
  tensor_free(x);
}

static void check_attention(bool causal, int64_t sq, int64_t sk) {
  Diag d;
  Tensor *q = tt_randn(SHAPE(2, sq, 4), DT_FLOAT64, 6), *k = tt_randn(SHAPE(2, sk, 4), DT_FLOAT64, 7);
  Tensor *v = tt_randn(SHAPE(2, sk, 3), DT_FLOAT64, 8), *o;
  double scale = 0.37;
  OK(tensor_attention(q, k, v, causal, scale, &o, &d));
  tt_assert_shape(o, SHAPE(2, sq, 3));
  for (int64_t b = 0; b < 2; b++) {
    for (int64_t i = 0; i < sq; i++) {
      double p[16], mx = -INFINITY, s = 0;
      for (int64_t j = 0; j < sk; j++) {
        double dot = 0;
        for (int64_t e = 0; e < 4; e++)
          dot += tt_at(q, (int64_t[]){b, i, e}) * tt_at(k, (int64_t[]){b, j, e});
        p[j] = causal && j > i ? -INFINITY : dot * scale;
        mx = fmax(mx, p[j]);
      }
      for (int64_t j = 0; j < sk; j++) s += (p[j] = exp(p[j] - mx));
      for (int64_t e = 0; e < 3; e++) {
        double want = 0;
        for (int64_t j = 0; j < sk; j++) want += p[j] / s * tt_at(v, (int64_t[]){b, j, e});
        tt_assert_close(tt_at(o, (int64_t[]){b, i, e}), want, 1e-13);
      }
    }
  }
  tensor_free(o);
  assert_int_equal(tensor_attention(q, v, v, causal, scale, &o, &d), HL_ERR);
  tt_assert_contains(d.msg, "attention");
  tensor_free(q);
  tensor_free(k);
  tensor_free(v);
}

static void test_attention(void **state) {
  check_attention(false, 5, 6);
  check_attention(true, 6, 6);
  check_attention(true, 3, 7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_softmax),       cmocka_unit_test(test_norms),
      cmocka_unit_test(test_cross_entropy), cmocka_unit_test(test_attention),
  };
  return cmocka_run_group_tests_name("tensor_nn", tests, NULL, NULL);
}
