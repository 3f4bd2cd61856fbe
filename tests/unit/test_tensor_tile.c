/* Unit tests for the interpret-mode tile primitives: load_tile / store_tile / atomic_add_tile
 * with index, range and gather specs, masking at ragged edges, masks, casts and errors.
 * Part of tests/unit (host tensors). */
#include "tensor_test_util.h"

static Tensor *grid(DType dt) { /* 5 x 7, value 10*i + j (0-based) */
  Diag d;
  Tensor *t;
  OK(tensor_empty(SHAPE(5, 7), dt, &t, &d));
  for (int64_t i = 0; i < 5; i++)
    for (int64_t j = 0; j < 7; j++) OK(tensor_set_f64(t, (int64_t[]){i, j}, 10.0 * i + j, &d));
  return t;
}

static void test_load_ragged(void **state) {
  Diag d;
  Tensor *t = grid(DT_FLOAT32), *r;
  /* 1-based: rows 4..7 (6, 7 outside), cols 5..8 (8 outside) */
  TileSpec s[2] = {{TILE_RANGE, 4, 4, NULL}, {TILE_RANGE, 5, 4, NULL}};
  OK(tensor_load_tile(t, s, 2, 1, -1.0, &r, &d));
  tt_assert_shape(r, SHAPE(4, 4));
  for (int64_t i = 0; i < 4; i++) {
    for (int64_t j = 0; j < 4; j++) {
      int64_t gi = 3 + i, gj = 4 + j;
      double want = gi < 5 && gj < 7 ? 10.0 * gi + gj : -1.0;
      assert_true(tt_at(r, (int64_t[]){i, j}) == want);
    }
  }
  tensor_free(r);
  /* column tile of a transposed view (non-unit stride), negative start masked */
  Tensor *tr;
  OK(tensor_transpose(t, 0, 1, &tr, &d)); /* [7, 5] */
  TileSpec s2[2] = {{TILE_RANGE, -1, 4, NULL}, {TILE_INDEX, 2, 0, NULL}};
  OK(tensor_load_tile(tr, s2, 2, 0, 0.0, &r, &d));
  tt_assert_shape(r, SHAPE(4));
  assert_true(tt_flat(r, 0) == 0 && tt_flat(r, 1) == 20 && tt_flat(r, 3) == 22);
  tensor_free(r);
  /* an index out of range masks everything */
  TileSpec s3[2] = {{TILE_INDEX, 9, 0, NULL}, {TILE_RANGE, 1, 3, NULL}};
  OK(tensor_load_tile(t, s3, 2, 1, 7.0, &r, &d));
  for (int i = 0; i < 3; i++) assert_true(tt_flat(r, i) == 7);
  tensor_free(r);
  TileSpec s4[2] = {{TILE_INDEX, 2, 0, NULL}, {TILE_INDEX, 3, 0, NULL}};
  OK(tensor_load_tile(t, s4, 2, 1, 0.0, &r, &d));
  assert_int_equal(r->ndim, 0);
  assert_true(tt_flat(r, 0) == 12);
  tensor_free(r);
  tensor_free(tr);
  tensor_free(t);
}

static void test_gather(void **state) {
  Diag d;
  Tensor *t = grid(DT_INT64), *r;
  Tensor *ix = tt_from((double[]){3, 0, 5, 1}, SHAPE(4), DT_INT32);
  TileSpec s[2] = {{TILE_GATHER, 0, 0, ix}, {TILE_RANGE, 7, 2, NULL}};
  OK(tensor_load_tile(t, s, 2, 1, 0.0, &r, &d));
  tt_assert_shape(r, SHAPE(4, 2));
  double want[] = {26, 0, 0, 0, 46, 0, 6, 0};
  for (int i = 0; i < 8; i++) assert_true(tt_flat(r, i) == want[i]);
  tensor_free(r);
  Tensor *bad = tt_from((double[]){1, 2}, SHAPE(2), DT_FLOAT32);
  s[0].index = bad;
  assert_int_equal(tensor_load_tile(t, s, 2, 1, 0.0, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "integer");
  assert_int_equal(tensor_load_tile(t, s, 1, 1, 0.0, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "expected 2 indices for a 2-d tensor, got 1");
  tensor_free(bad);
  tensor_free(ix);
  tensor_free(t);
}

static void test_store(void **state) {
  Diag d;
  Tensor *t, *v = tt_from((double[]){1.9, -2.7, 3.5}, SHAPE(3), DT_FLOAT64), *r;
  OK(tensor_zeros(SHAPE(4, 5), DT_INT32, &t, &d));
  TileSpec s[2] = {{TILE_RANGE, 3, 3, NULL}, {TILE_RANGE, 4, 3, NULL}}; /* rows 3..5, cols 4..6 */
  OK(tensor_store_tile(t, s, 2, 1, v, NULL, &d)); /* broadcast over rows, truncating casts */
  for (int64_t i = 0; i < 4; i++)
    for (int64_t j = 0; j < 5; j++) {
      double want = 0;
      if (i >= 2 && j >= 3) want = j == 3 ? 1 : -2;
      assert_true(tt_at(t, (int64_t[]){i, j}) == want);
    }
  Tensor *mask = tt_from((double[]){1, 0}, SHAPE(2, 1), DT_BOOL), *seven;
  OK(tensor_scalar_i64(7, &seven, &d));
  TileSpec s2[2] = {{TILE_RANGE, 1, 2, NULL}, {TILE_RANGE, 1, 5, NULL}};
  OK(tensor_store_tile(t, s2, 2, 1, seven, mask, &d));
  assert_true(tt_at(t, (int64_t[]){0, 4}) == 7 && tt_at(t, (int64_t[]){1, 0}) == 0);
  OK(tensor_atomic_add_tile(t, s2, 2, 1, seven, NULL, &d));
  assert_true(tt_at(t, (int64_t[]){0, 4}) == 14 && tt_at(t, (int64_t[]){1, 0}) == 7);
  /* duplicate gather indices accumulate */
  Tensor *ix = tt_from((double[]){2, 2, 2}, SHAPE(3), DT_INT64);
  TileSpec s3[2] = {{TILE_INDEX, 4, 0, NULL}, {TILE_GATHER, 0, 0, ix}};
  OK(tensor_atomic_add_tile(t, s3, 2, 1, seven, NULL, &d));
  assert_true(tt_at(t, (int64_t[]){3, 1}) == 21);
  /* value that doesn't fit the region: both shapes named */
  Tensor *v4 = tt_from((double[]){1, 2, 3, 4}, SHAPE(4), DT_FLOAT32);
  assert_int_equal(tensor_store_tile(t, s, 2, 1, v4, NULL, &d), HL_ERR);
  tt_assert_contains(d.msg, "[4]");
  tt_assert_contains(d.msg, "[3, 3]");
  /* float -> bool is x != 0 */
  Tensor *b;
  OK(tensor_zeros(SHAPE(3), DT_BOOL, &b, &d));
  Tensor *fv = tt_from((double[]){0.0, 0.25, -3}, SHAPE(3), DT_FLOAT32);
  TileSpec s4[1] = {{TILE_RANGE, 1, 3, NULL}};
  OK(tensor_store_tile(b, s4, 1, 1, fv, NULL, &d));
  assert_true(tt_flat(b, 0) == 0 && tt_flat(b, 1) == 1 && tt_flat(b, 2) == 1);
  OK(tensor_load_tile(b, s4, 1, 1, 0, &r, &d));
  assert_int_equal(r->dtype, DT_BOOL);
  tensor_free(r);
  Tensor *all[] = {t, v, mask, seven, ix, v4, b, fv};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
}

static void test_store_f16_unit_stride(void **state) {
  Diag d;
  Tensor *t, *v = tt_randn(SHAPE(2, 8), DT_FLOAT16, 3), *r;
  OK(tensor_zeros(SHAPE(3, 6), DT_FLOAT16, &t, &d));
  TileSpec s[2] = {{TILE_RANGE, 2, 2, NULL}, {TILE_RANGE, 0, 8, NULL}}; /* cols 0..7: 0, 7 masked */
  OK(tensor_store_tile(t, s, 2, 1, v, NULL, &d));
  OK(tensor_load_tile(t, s, 2, 1, 0.0, &r, &d));
  for (int64_t i = 0; i < 2; i++)
    for (int64_t j = 0; j < 8; j++) {
      double want = j >= 1 && j <= 6 ? tt_at(v, (int64_t[]){i, j}) : 0.0;
      assert_true(tt_at(r, (int64_t[]){i, j}) == want);
    }
  assert_true(tt_at(t, (int64_t[]){0, 0}) == 0);
  tensor_free(r);
  tensor_free(t);
  tensor_free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_load_ragged), cmocka_unit_test(test_gather),
      cmocka_unit_test(test_store), cmocka_unit_test(test_store_f16_unit_stride),
  };
  return cmocka_run_group_tests_name("tensor_tile", tests, NULL, NULL);
}
