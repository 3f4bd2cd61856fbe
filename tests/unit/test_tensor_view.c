/* Unit tests for tensor views and copies: transpose, permute, slice, narrow, expand,
 * (un)squeeze, view vs reshape, contiguous/clone/copy_ with broadcast and cast.
 * Part of tests/unit (host tensors). */
#include "tensor_test_util.h"

static Tensor *iota(const int64_t *sizes, int ndim, DType dt) {
  Tensor *t = NULL;
  Diag d;
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= sizes[i];
  if (tensor_arange(0, (double)n - 1, 1, dt, &t, &d)) fail_msg("%s", d.msg);
  Tensor *r;
  if (tensor_view(t, sizes, ndim, &r, &d)) fail_msg("%s", d.msg);
  tensor_free(t);
  return r;
}

static void test_create(void **state) {
  Diag d;
  Tensor *t;
  OK(tensor_full(SHAPE(2, 3), 2.5, DT_FLOAT16, &t, &d));
  assert_true(tensor_is_contiguous(t));
  assert_int_equal(t->strides[0], 3);
  for (int i = 0; i < 6; i++) assert_true(tt_flat(t, i) == 2.5);
  tensor_free(t);
  OK(tensor_arange(1, 5, 1, DT_INT64, &t, &d)); /* inclusive stop */
  assert_int_equal(t->sizes[0], 5);
  assert_true(tt_flat(t, 4) == 5);
  tensor_free(t);
  OK(tensor_arange(0, 1, 0.1, DT_FLOAT64, &t, &d));
  assert_int_equal(t->sizes[0], 11);
  tensor_free(t);
  OK(tensor_arange(5, 1, -2, DT_INT32, &t, &d));
  assert_int_equal(t->sizes[0], 3);
  assert_true(tt_flat(t, 2) == 1);
  tensor_free(t);
  OK(tensor_arange(5, 1, 1, DT_INT32, &t, &d));
  assert_int_equal(t->sizes[0], 0);
  tensor_free(t);
  assert_int_equal(tensor_arange(0, 1, 0, DT_INT32, &t, &d), HL_ERR);
  OK(tensor_zeros(NULL, 0, DT_FLOAT32, &t, &d));
  assert_int_equal(tensor_numel(t), 1);
  tensor_free(t);
  assert_int_equal(tensor_empty(SHAPE(2, -1), DT_FLOAT32, &t, &d), HL_ERR);
  tt_assert_contains(d.msg, "[2, -1]");
}

static void test_transpose_permute(void **state) {
  Diag d;
  Tensor *t = iota(SHAPE(2, 3, 4), DT_FLOAT32), *tr, *p, *c;
  OK(tensor_transpose(t, 0, -1, &tr, &d));
  tt_assert_shape(tr, SHAPE(4, 3, 2));
  assert_false(tensor_is_contiguous(tr));
  assert_true(tr->storage == t->storage);
  assert_true(tt_at(tr, (int64_t[]){3, 1, 1}) == tt_at(t, (int64_t[]){1, 1, 3}));
  OK(tensor_permute(t, (int[]){2, 0, 1}, 3, &p, &d));
  tt_assert_shape(p, SHAPE(4, 2, 3));
  OK(tensor_contiguous(p, &c, &d));
  assert_true(tensor_is_contiguous(c));
  for (int64_t i = 0; i < 24; i++) assert_true(tt_flat(c, i) == tt_flat(p, i));
  tensor_free(p);
  assert_int_equal(tensor_permute(t, (int[]){0, 0, 1}, 3, &p, &d), HL_ERR);
  tt_assert_contains(d.msg, "twice");
  assert_int_equal(tensor_transpose(t, 0, 3, &p, &d), HL_ERR);
  tt_assert_contains(d.msg, "dim 3 is out of range");
  tensor_free(t);
  tensor_free(tr);
  tensor_free(c);
}

static void test_permute_free(void **state) {
  Diag d;
  Tensor *t = iota(SHAPE(2, 3), DT_FLOAT32), *p;
  long live = mem_live_count();
  OK(tensor_permute(t, (int[]){1, 0}, 2, &p, &d));
  tensor_free(p);
  assert_int_equal(mem_live_count(), live);
  tensor_free(t);
}

static void test_slice_narrow(void **state) {
  Diag d;
  Tensor *t = iota(SHAPE(10), DT_INT64), *s, *n;
  OK(tensor_slice(t, 0, 1, 9, 3, &s, &d)); /* 1, 4, 7 */
  tt_assert_shape(s, SHAPE(3));
  assert_true(tt_flat(s, 0) == 1 && tt_flat(s, 1) == 4 && tt_flat(s, 2) == 7);
  tensor_free(s);
  OK(tensor_slice(t, 0, -3, 100, 1, &s, &d)); /* clamped: 7, 8, 9 */
  tt_assert_shape(s, SHAPE(3));
  assert_true(tt_flat(s, 0) == 7);
  tensor_free(s);
  OK(tensor_slice(t, 0, 5, 2, 1, &s, &d));
  assert_int_equal(s->sizes[0], 0);
  tensor_free(s);
  assert_int_equal(tensor_slice(t, 0, 0, 5, 0, &s, &d), HL_ERR);
  OK(tensor_narrow(t, 0, 2, 3, &n, &d));
  assert_true(tt_flat(n, 0) == 2 && n->sizes[0] == 3);
  tensor_free(n);
  assert_int_equal(tensor_narrow(t, 0, 8, 3, &n, &d), HL_ERR);
  tt_assert_contains(d.msg, "size 10");
  tensor_free(t);
}

static void test_expand_squeeze(void **state) {
  Diag d;
  Tensor *t = iota(SHAPE(3, 1), DT_FLOAT64), *e, *u, *s, *c;
  OK(tensor_expand(t, SHAPE(2, -1, 4), &e, &d));
  tt_assert_shape(e, SHAPE(2, 3, 4));
  assert_int_equal(e->strides[0], 0);
  assert_int_equal(e->strides[2], 0);
  assert_true(tt_at(e, (int64_t[]){1, 2, 3}) == 2);
  OK(tensor_contiguous(e, &c, &d));
  assert_true(tt_flat(c, 23) == 2 && tt_flat(c, 4) == 1);
  assert_int_equal(tensor_expand(t, SHAPE(4, 4), &u, &d), HL_ERR);
  tt_assert_contains(d.msg, "[3, 1]");
  tt_assert_contains(d.msg, "[4, 4]");
  OK(tensor_unsqueeze(t, 0, &u, &d));
  tt_assert_shape(u, SHAPE(1, 3, 1));
  tensor_free(u);
  OK(tensor_unsqueeze(t, -1, &u, &d));
  tt_assert_shape(u, SHAPE(3, 1, 1));
  OK(tensor_squeeze(u, 0, true, &s, &d));
  tt_assert_shape(s, SHAPE(3));
  tensor_free(s);
  OK(tensor_squeeze(u, 0, false, &s, &d)); /* size 3: nothing to drop */
  tt_assert_shape(s, SHAPE(3, 1, 1));
  tensor_free(s);
  tensor_free(u);
  tensor_free(t);
  tensor_free(e);
  tensor_free(c);
}

static void test_view_reshape(void **state) {
  Diag d;
  Tensor *t = iota(SHAPE(2, 3, 4), DT_FLOAT32), *v, *tr, *r;
  OK(tensor_view(t, SHAPE(6, -1), &v, &d));
  tt_assert_shape(v, SHAPE(6, 4));
  assert_true(v->storage == t->storage);
  tensor_free(v);
  assert_int_equal(tensor_view(t, SHAPE(5, -1), &v, &d), HL_ERR);
  tt_assert_contains(d.msg, "[2, 3, 4]");
  OK(tensor_transpose(t, 1, 2, &tr, &d)); /* [2, 4, 3] */
  assert_int_equal(tensor_view(tr, SHAPE(2, 12), &v, &d), HL_ERR);
  tt_assert_contains(d.msg, "reshape");
  OK(tensor_view(tr, SHAPE(2, 1, 4, 3), &v, &d)); /* inserting a 1 is fine */
  tensor_free(v);
  OK(tensor_reshape(tr, SHAPE(2, 12), &r, &d));
  assert_true(r->storage != t->storage);
  for (int64_t i = 0; i < 24; i++) assert_true(tt_flat(r, i) == tt_flat(tr, i));
  tensor_free(r);
  Tensor *z;
  OK(tensor_zeros(NULL, 0, DT_FLOAT32, &z, &d));
  OK(tensor_view(z, SHAPE(1, 1), &v, &d));
  tensor_free(v);
  tensor_free(z);
  tensor_free(tr);
  tensor_free(t);
}

static void test_copy_broadcast_cast(void **state) {
  Diag d;
  Tensor *dst, *row = iota(SHAPE(4), DT_INT32), *tr;
  OK(tensor_zeros(SHAPE(3, 4), DT_FLOAT16, &dst, &d));
  OK(tensor_copy_(dst, row, &d));
  for (int64_t i = 0; i < 12; i++) assert_true(tt_flat(dst, i) == (double)(i % 4));
  Tensor *big = iota(SHAPE(5, 4), DT_INT32);
  assert_int_equal(tensor_copy_(dst, big, &d), HL_ERR);
  tt_assert_contains(d.msg, "[5, 4]");
  tt_assert_contains(d.msg, "[3, 4]");
  /* overlapping copy: t <- t^T */
  Tensor *sq = iota(SHAPE(3, 3), DT_FLOAT64);
  OK(tensor_transpose(sq, 0, 1, &tr, &d));
  OK(tensor_copy_(sq, tr, &d));
  assert_true(tt_at(sq, (int64_t[]){0, 1}) == 3 && tt_at(sq, (int64_t[]){1, 0}) == 1);
  OK(tensor_fill_(dst, -1.5, &d));
  assert_true(tt_flat(dst, 11) == -1.5);
  tensor_free(dst);
  tensor_free(row);
  tensor_free(big);
  tensor_free(tr);
  tensor_free(sq);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create),         cmocka_unit_test(test_transpose_permute),
      cmocka_unit_test(test_permute_free),   cmocka_unit_test(test_slice_narrow),
      cmocka_unit_test(test_expand_squeeze), cmocka_unit_test(test_view_reshape),
      cmocka_unit_test(test_copy_broadcast_cast),
  };
  return cmocka_run_group_tests_name("tensor_view", tests, NULL, NULL);
}
