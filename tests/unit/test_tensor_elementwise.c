/* Unit tests for elementwise ops: every binary and unary op against a naive per-element double
 * loop over broadcast strided inputs, torch type promotion (incl. wrapped scalars), where, and
 * the integer error paths. Part of tests/unit (host tensors). */
#include "tensor_test_util.h"

static double ref_binary(TensorBinOp op, double a, double b) {
  switch (op) {
  case TENSOR_ADD: return a + b;
  case TENSOR_SUB: return a - b;
  case TENSOR_MUL: return a * b;
  case TENSOR_DIV: return a / b;
  case TENSOR_POW: return pow(a, b);
  case TENSOR_MOD: { double r = a - floor(a / b) * b; return r; }
  case TENSOR_FLOORDIV: return floor(a / b);
  case TENSOR_MAXIMUM: return a > b ? a : b;
  case TENSOR_MINIMUM: return a < b ? a : b;
  case TENSOR_LT: return a < b;
  case TENSOR_LE: return a <= b;
  case TENSOR_GT: return a > b;
  case TENSOR_GE: return a >= b;
  case TENSOR_EQ: return a == b;
  case TENSOR_NE: return a != b;
  case TENSOR_LOGICAL_AND: return a != 0 && b != 0;
  case TENSOR_LOGICAL_OR: return a != 0 || b != 0;
  default: return NAN;
  }
}

static double ref_unary(TensorUnOp op, double x) {
  switch (op) {
  case TENSOR_NEG: return -x;
  case TENSOR_EXP: return exp(x);
  case TENSOR_LOG: return log(x);
  case TENSOR_EXP2: return exp2(x);
  case TENSOR_LOG2: return log2(x);
  case TENSOR_SQRT: return sqrt(x);
  case TENSOR_RSQRT: return 1 / sqrt(x);
  case TENSOR_ABS: return fabs(x);
  case TENSOR_SIN: return sin(x);
  case TENSOR_COS: return cos(x);
  case TENSOR_TANH: return tanh(x);
  case TENSOR_SIGMOID: return 1 / (1 + exp(-x));
  case TENSOR_RELU: return x > 0 ? x : 0;
  case TENSOR_GELU: return x * 0.5 * (1 + erf(x / sqrt(2.0)));
  case TENSOR_SILU: return x / (1 + exp(-x));
  case TENSOR_FLOOR: return floor(x);
  case TENSOR_CEIL: return ceil(x);
  case TENSOR_LOGICAL_NOT: return x == 0;
  default: return NAN;
  }
}

/* a: [3, 1, 5] as a transposed view of [5, 1, 3]; b: [4, 5] sliced with step 2 from [4, 10]. */
static void make_operands(DType dt, Tensor **a, Tensor **b) {
  Diag d;
  Tensor *a0 = tt_randn(SHAPE(5, 1, 3), DT_FLOAT64, 11), *b0 = tt_randn(SHAPE(4, 10), DT_FLOAT64, 12);
  Tensor *a1, *b1, *ac, *bc;
  OK(tensor_transpose(a0, 0, 2, &a1, &d));
  OK(tensor_slice(b0, 1, 0, 10, 2, &b1, &d));
  if (dt != DT_FLOAT64) { /* integer operands: scale up so values spread over -6..6 */
    Tensor *s, *x;
    OK(tensor_scalar_f64(3.0, &s, &d));
    OK(tensor_binary(TENSOR_MUL, a1, s, &x, &d));
    OK(tensor_cast(x, dt, &ac, &d));
    tensor_free(x);
    OK(tensor_binary(TENSOR_MUL, b1, s, &x, &d));
    OK(tensor_cast(x, dt, &bc, &d));
    tensor_free(x);
    tensor_free(s);
    tensor_free(a1);
    tensor_free(b1);
    a1 = ac;
    b1 = bc;
  }
  tensor_free(a0);
  tensor_free(b0);
  *a = a1;
  *b = b1;
}

static void check_binary_all(DType dt) {
  Diag d;
  Tensor *a, *b;
  make_operands(dt, &a, &b);
  const int64_t shape[] = {3, 4, 5};
  for (int op = 0; op < TENSOR_BINOP_COUNT; op++) {
    bool intdiv = dt != DT_FLOAT64 && (op == TENSOR_MOD || op == TENSOR_FLOORDIV || op == TENSOR_POW);
    Tensor *r;
    if (intdiv) continue; /* checked separately (zeros in b) */
    OK(tensor_binary((TensorBinOp)op, a, b, &r, &d));
    tt_assert_shape(r, shape, 3);
    for (int64_t f = 0; f < 60; f++) {
      int64_t idx[3];
      tt_unflat(f, shape, 3, idx);
      double want = ref_binary((TensorBinOp)op, tt_at_bcast(a, idx, 3), tt_at_bcast(b, idx, 3));
      if (op == TENSOR_DIV && dt != DT_FLOAT64) want = (double)(float)want;
      tt_assert_close(tt_at(r, idx), want, 1e-15);
    }
    tensor_free(r);
  }
  tensor_free(a);
  tensor_free(b);
}

static void test_binary_f64(void **state) { check_binary_all(DT_FLOAT64); }
static void test_binary_i32(void **state) { check_binary_all(DT_INT32); }

static void test_int_mod_floordiv_pow(void **state) {
  Diag d;
  double av[] = {7, -7, 7, -7, 0, 5, 2, -3}, bv[] = {3, 3, -3, -3, 5, 1, 10, 3};
  double mod[] = {1, 2, -2, -1, 0, 0, 2, 0}, fdiv[] = {2, -3, -3, 2, 0, 5, 0, -1};
  double pw[] = {343, -343, 0, 0, 0, 5, 1024, -27};
  Tensor *a = tt_from(av, SHAPE(8), DT_INT64), *b = tt_from(bv, SHAPE(8), DT_INT16), *r;
  OK(tensor_binary(TENSOR_MOD, a, b, &r, &d));
  assert_int_equal(r->dtype, DT_INT64);
  for (int i = 0; i < 8; i++) assert_true(tt_flat(r, i) == mod[i]);
  tensor_free(r);
  OK(tensor_binary(TENSOR_FLOORDIV, a, b, &r, &d));
  for (int i = 0; i < 8; i++) assert_true(tt_flat(r, i) == fdiv[i]);
  tensor_free(r);
  OK(tensor_binary(TENSOR_POW, a, b, &r, &d));
  for (int i = 0; i < 8; i++) assert_true(tt_flat(r, i) == pw[i]);
  tensor_free(r);
  /* float floored mod keeps the divisor's sign, like Lua and Python */
  Tensor *af, *bf;
  OK(tensor_cast(a, DT_FLOAT32, &af, &d));
  OK(tensor_cast(b, DT_FLOAT32, &bf, &d));
  OK(tensor_binary(TENSOR_MOD, af, bf, &r, &d));
  for (int i = 0; i < 8; i++) assert_true(tt_flat(r, i) == mod[i]);
  tensor_free(r);
  OK(tensor_binary(TENSOR_FLOORDIV, af, bf, &r, &d));
  for (int i = 0; i < 8; i++) assert_true(tt_flat(r, i) == fdiv[i]);
  tensor_free(r);
  /* integer division by zero is an error, float gives inf/nan */
  Tensor *z;
  OK(tensor_scalar_i64(0, &z, &d));
  assert_int_equal(tensor_binary(TENSOR_MOD, a, z, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "division by zero");
  OK(tensor_binary(TENSOR_DIV, a, z, &r, &d));
  assert_int_equal(r->dtype, DT_FLOAT32);
  assert_true(isinf(tt_flat(r, 0)) && isnan(tt_flat(r, 4)));
  tensor_free(r);
  tensor_free(z);
  tensor_free(a);
  tensor_free(b);
  tensor_free(af);
  tensor_free(bf);
}

static DType result_of(Tensor *a, Tensor *b, TensorBinOp op) {
  Diag d;
  Tensor *r;
  OK(tensor_binary(op, a, b, &r, &d));
  DType dt = r->dtype;
  tensor_free(r);
  return dt;
}

static void test_promotion(void **state) {
  Diag d;
  Tensor *f16, *bf16, *i32, *i64, *u8, *i8, *bl, *f32, *z64, *s_f, *s_i, *s_b;
  OK(tensor_ones(SHAPE(2), DT_FLOAT16, &f16, &d));
  OK(tensor_ones(SHAPE(2), DT_BFLOAT16, &bf16, &d));
  OK(tensor_ones(SHAPE(2), DT_INT32, &i32, &d));
  OK(tensor_ones(SHAPE(2), DT_INT64, &i64, &d));
  OK(tensor_ones(SHAPE(2), DT_UINT8, &u8, &d));
  OK(tensor_ones(SHAPE(2), DT_INT8, &i8, &d));
  OK(tensor_ones(SHAPE(2), DT_BOOL, &bl, &d));
  OK(tensor_ones(SHAPE(2), DT_FLOAT32, &f32, &d));
  OK(tensor_ones(NULL, 0, DT_FLOAT64, &z64, &d));
  OK(tensor_scalar_f64(2.5, &s_f, &d));
  OK(tensor_scalar_i64(2, &s_i, &d));
  OK(tensor_scalar_bool(true, &s_b, &d));
  assert_int_equal(result_of(f16, s_f, TENSOR_MUL), DT_FLOAT16);
  assert_int_equal(result_of(s_f, f16, TENSOR_SUB), DT_FLOAT16);
  assert_int_equal(result_of(i32, s_f, TENSOR_MUL), DT_FLOAT32);
  assert_int_equal(result_of(i32, s_i, TENSOR_MUL), DT_INT32);
  assert_int_equal(result_of(bl, s_i, TENSOR_ADD), DT_INT64);
  assert_int_equal(result_of(bl, s_b, TENSOR_ADD), DT_BOOL);
  assert_int_equal(result_of(f16, bf16, TENSOR_ADD), DT_FLOAT32);
  assert_int_equal(result_of(u8, i8, TENSOR_ADD), DT_INT16);
  assert_int_equal(result_of(i32, i32, TENSOR_DIV), DT_FLOAT32);
  assert_int_equal(result_of(i64, z64, TENSOR_ADD), DT_FLOAT64); /* 0-d float beats dim int */
  assert_int_equal(result_of(f32, z64, TENSOR_ADD), DT_FLOAT32); /* but not a dim float */
  assert_int_equal(result_of(f16, f32, TENSOR_LT), DT_BOOL);
  assert_int_equal(result_of(i32, s_f, TENSOR_LOGICAL_AND), DT_BOOL);
  /* f16 * 2.5 rounds once to f16; the scalar is rounded to the compute dtype first */
  Tensor *x, *r, *tenth;
  OK(tensor_full(SHAPE(1), 0.1, DT_FLOAT16, &x, &d));
  OK(tensor_scalar_f64(0.1, &tenth, &d));
  OK(tensor_binary(TENSOR_EQ, x, tenth, &r, &d));
  assert_true(tt_flat(r, 0) == 1);
  tensor_free(r);
  assert_int_equal(tensor_binary(TENSOR_SUB, bl, bl, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "bool");
  Tensor *all[] = {f16, bf16, i32, i64, u8, i8, bl, f32, z64, s_f, s_i, s_b, x, tenth};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
}

static void test_unary(void **state) {
  Diag d;
  Tensor *x0 = tt_randn(SHAPE(6, 7), DT_FLOAT64, 5), *x, *r;
  OK(tensor_transpose(x0, 0, 1, &x, &d));
  for (int op = 0; op < TENSOR_UNOP_COUNT; op++) {
    OK(tensor_unary((TensorUnOp)op, x, &r, &d));
    assert_int_equal(r->dtype, op == TENSOR_LOGICAL_NOT ? DT_BOOL : DT_FLOAT64);
    for (int64_t f = 0; f < 42; f++) {
      int64_t idx[2];
      tt_unflat(f, x->sizes, 2, idx);
      tt_assert_close(tt_at(r, idx), ref_unary((TensorUnOp)op, tt_at(x, idx)), 1e-15);
    }
    tensor_free(r);
  }
  Tensor *xi;
  OK(tensor_cast(x, DT_INT16, &xi, &d));
  OK(tensor_unary(TENSOR_ABS, xi, &r, &d));
  assert_int_equal(r->dtype, DT_INT16);
  tensor_free(r);
  OK(tensor_unary(TENSOR_EXP, xi, &r, &d));
  assert_int_equal(r->dtype, DT_FLOAT32);
  tensor_free(r);
  OK(tensor_unary(TENSOR_NEG, xi, &r, &d));
  for (int64_t f = 0; f < 42; f++) assert_true(tt_flat(r, f) == -tt_flat(xi, f));
  tensor_free(r);
  Tensor *h;
  OK(tensor_cast(x, DT_FLOAT16, &h, &d));
  OK(tensor_unary(TENSOR_SIGMOID, h, &r, &d));
  assert_int_equal(r->dtype, DT_FLOAT16);
  for (int64_t f = 0; f < 42; f++) {
    double want = ref_unary(TENSOR_SIGMOID, tt_flat(h, f));
    assert_true(tt_flat(r, f) == (double)tensor_f16_to_f32(tensor_f64_to_f16(want)));
  }
  tensor_free(r);
  tensor_free(h);
  tensor_free(xi);
  tensor_free(x);
  tensor_free(x0);
}

static void test_where(void **state) {
  Diag d;
  double cv[] = {1, 0, 1};
  Tensor *c = tt_from(cv, SHAPE(3, 1), DT_BOOL), *a = tt_randn(SHAPE(3, 4), DT_FLOAT32, 1);
  Tensor *zero, *r;
  OK(tensor_scalar_f64(0.0, &zero, &d));
  OK(tensor_where(c, a, zero, &r, &d));
  assert_int_equal(r->dtype, DT_FLOAT32);
  for (int64_t f = 0; f < 12; f++) assert_true(tt_flat(r, f) == (cv[f / 4] ? tt_flat(a, f) : 0));
  tensor_free(r);
  Tensor *bad = tt_randn(SHAPE(2), DT_FLOAT32, 1);
  assert_int_equal(tensor_where(c, a, bad, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "[3, 4]");
  tt_assert_contains(d.msg, "[2]");
  tensor_free(bad);
  tensor_free(zero);
  tensor_free(c);
  tensor_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binary_f64), cmocka_unit_test(test_binary_i32),
      cmocka_unit_test(test_int_mod_floordiv_pow), cmocka_unit_test(test_promotion),
      cmocka_unit_test(test_unary), cmocka_unit_test(test_where),
  };
  return cmocka_run_group_tests_name("tensor_elementwise", tests, NULL, NULL);
}
