/* Unit tests for tensor dtypes: names, promotion, and half/bfloat16 conversion (exhaustive
 * round trips, round-to-nearest-even ties, NaN/Inf/subnormals, no double rounding).
 * Part of tests/unit (host tensors). */
#include "tensor_test_util.h"

static float f32_of_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static uint32_t bits_of_f32(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

static void test_names(void **state) {
  Diag d;
  DType dt;
  for (int i = 0; i < DT_COUNT; i++) {
    assert_int_equal(tensor_dtype_from_name(tensor_dtype_name((DType)i), &dt, &d), HL_OK);
    assert_int_equal(dt, i);
  }
  assert_string_equal(tensor_dtype_name(DT_BFLOAT16), "bfloat16");
  assert_int_equal(tensor_dtype_from_name("float33", &dt, &d), HL_ERR);
  assert_string_equal(d.msg, "unknown dtype 'float33' (known: float64, float32, float16, bfloat16, "
                             "int64, int32, int16, int8, uint8, bool)");
  assert_int_equal(tensor_dtype_size(DT_BFLOAT16), 2);
  assert_int_equal(tensor_dtype_size(DT_BOOL), 1);
}

static void test_promotion(void **state) {
  assert_int_equal(tensor_dtype_promote(DT_FLOAT16, DT_BFLOAT16), DT_FLOAT32);
  assert_int_equal(tensor_dtype_promote(DT_FLOAT16, DT_FLOAT32), DT_FLOAT32);
  assert_int_equal(tensor_dtype_promote(DT_FLOAT64, DT_FLOAT16), DT_FLOAT64);
  assert_int_equal(tensor_dtype_promote(DT_INT64, DT_FLOAT16), DT_FLOAT16);
  assert_int_equal(tensor_dtype_promote(DT_UINT8, DT_INT8), DT_INT16);
  assert_int_equal(tensor_dtype_promote(DT_UINT8, DT_INT32), DT_INT32);
  assert_int_equal(tensor_dtype_promote(DT_INT16, DT_INT32), DT_INT32);
  assert_int_equal(tensor_dtype_promote(DT_BOOL, DT_INT8), DT_INT8);
  assert_int_equal(tensor_dtype_promote(DT_BOOL, DT_BOOL), DT_BOOL);
  for (int a = 0; a < DT_COUNT; a++)
    for (int b = 0; b < DT_COUNT; b++)
      assert_int_equal(tensor_dtype_promote((DType)a, (DType)b),
                       tensor_dtype_promote((DType)b, (DType)a));
}

static void test_f16_exhaustive(void **state) {
  for (uint32_t h = 0; h < 65536; h++) {
    float f = tensor_f16_to_f32((uint16_t)h);
    bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    if (nan) {
      assert_true(f != f);
      assert_true((tensor_f32_to_f16(f) & 0x7fff) > 0x7c00);
      continue;
    }
    assert_int_equal(tensor_f32_to_f16(f), h);
    assert_int_equal(tensor_f64_to_f16((double)f), h);
  }
}

static void test_bf16_exhaustive(void **state) {
  for (uint32_t h = 0; h < 65536; h++) {
    float f = tensor_bf16_to_f32((uint16_t)h);
    assert_int_equal(bits_of_f32(f), h << 16);
    bool nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
    if (nan) {
      assert_true((tensor_f32_to_bf16(f) & 0x7fff) > 0x7f80);
      assert_true((tensor_f64_to_bf16(f) & 0x7fff) > 0x7f80);
      continue;
    }
    assert_int_equal(tensor_f32_to_bf16(f), h);
    assert_int_equal(tensor_f64_to_bf16((double)f), h);
  }
}

static void test_f16_known(void **state) {
  assert_int_equal(tensor_f32_to_f16(1.0f), 0x3c00);
  assert_int_equal(tensor_f32_to_f16(-2.0f), 0xc000);
  assert_int_equal(tensor_f32_to_f16(65504.0f), 0x7bff);
  assert_int_equal(tensor_f32_to_f16(65519.0f), 0x7bff);
  assert_int_equal(tensor_f32_to_f16(65520.0f), 0x7c00); /* ties to even -> overflow */
  assert_int_equal(tensor_f32_to_f16(1e10f), 0x7c00);
  assert_int_equal(tensor_f32_to_f16(-INFINITY), 0xfc00);
  assert_int_equal(tensor_f32_to_f16(0x1p-14f), 0x0400); /* min normal */
  assert_int_equal(tensor_f32_to_f16(0x1p-24f), 0x0001); /* min subnormal */
  assert_int_equal(tensor_f32_to_f16(0x1p-25f), 0x0000); /* tie -> even (0) */
  assert_int_equal(tensor_f32_to_f16(0x1.8p-25f), 0x0001);
  assert_int_equal(tensor_f32_to_f16(0x3p-25f), 0x0002); /* 1.5 ulp tie -> even (2) */
  assert_int_equal(tensor_f32_to_f16(-0.0f), 0x8000);
  assert_int_equal(tensor_f32_to_f16(0x1.ffcp-15f), 0x0400); /* subnormal rounds up to normal */
  /* ties between normal neighbours: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 */
  assert_int_equal(tensor_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
  assert_int_equal(tensor_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
  assert_int_equal(tensor_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
  /* from double: no double rounding through float */
  assert_int_equal(tensor_f64_to_f16(1.0 + 0x1p-11 + 0x1p-40), 0x3c01);
  assert_int_equal(tensor_f32_to_f16((float)(1.0 + 0x1p-11 + 0x1p-40)), 0x3c00);
  assert_true(tensor_f16_to_f32(0x7c00) == INFINITY);
  assert_true(tensor_f16_to_f32(0x0001) == 0x1p-24f);
  assert_true(tensor_f16_to_f32(0x3555) == 0x1.554p-2f);
  assert_true(tensor_f32_to_f16(NAN) != tensor_f32_to_f16(INFINITY));
}

static void test_bf16_known(void **state) {
  assert_int_equal(tensor_f32_to_bf16(1.0f), 0x3f80);
  assert_int_equal(tensor_f32_to_bf16(f32_of_bits(0x3f808000)), 0x3f80); /* tie -> even */
  assert_int_equal(tensor_f32_to_bf16(f32_of_bits(0x3f818000)), 0x3f82); /* tie -> even */
  assert_int_equal(tensor_f32_to_bf16(f32_of_bits(0x3f808001)), 0x3f81);
  assert_int_equal(tensor_f32_to_bf16(f32_of_bits(0x7f7fffff)), 0x7f80); /* overflow -> inf */
  assert_int_equal(tensor_f32_to_bf16(f32_of_bits(0x00010000)), 0x0001); /* subnormal */
  assert_int_equal(tensor_f64_to_bf16(1.0 + 0x1p-8 + 0x1p-40), 0x3f81);
  /* the fast f32 path agrees with the generic one on a sweep of patterns */
  for (uint64_t b = 0; b < 0x100000000ULL; b += 0x10001ULL) {
    float f = f32_of_bits((uint32_t)b);
    if (f != f) continue;
    assert_int_equal(tensor_f32_to_bf16(f), tensor_f64_to_bf16((double)f));
    assert_int_equal(tensor_f32_to_f16(f), tensor_f64_to_f16((double)f));
  }
}

static void test_cast_tensor(void **state) {
  Diag d;
  double vals[] = {1.5, -2.7, 300.9, NAN, INFINITY, 0.0, -0.4};
  Tensor *t = tt_from(vals, SHAPE(7), DT_FLOAT64);
  Tensor *i8, *u8, *b, *i64;
  OK(tensor_cast(t, DT_INT8, &i8, &d));
  OK(tensor_cast(t, DT_UINT8, &u8, &d));
  OK(tensor_cast(t, DT_BOOL, &b, &d));
  OK(tensor_cast(t, DT_INT64, &i64, &d));
  /* toward zero like a C cast, then wrapped to the width; NaN -> 0 */
  assert_true(tt_flat(i64, 0) == 1 && tt_flat(i64, 1) == -2 && tt_flat(i64, 2) == 300);
  assert_true(tt_flat(i64, 3) == 0 && tt_flat(i64, 4) == (double)INT64_MAX && tt_flat(i64, 6) == 0);
  assert_true(tt_flat(i8, 2) == 44 && tt_flat(u8, 2) == 44 && tt_flat(u8, 1) == 254);
  double want_b[] = {1, 1, 1, 1, 1, 0, 1};
  for (int i = 0; i < 7; i++) assert_true(tt_flat(b, i) == want_b[i]);
  tensor_free(t);
  tensor_free(i8);
  tensor_free(u8);
  tensor_free(b);
  tensor_free(i64);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),          cmocka_unit_test(test_promotion),
      cmocka_unit_test(test_f16_exhaustive), cmocka_unit_test(test_bf16_exhaustive),
      cmocka_unit_test(test_f16_known),      cmocka_unit_test(test_bf16_known),
      cmocka_unit_test(test_cast_tensor),
  };
  return cmocka_run_group_tests_name("tensor_dtype", tests, NULL, NULL);
}
