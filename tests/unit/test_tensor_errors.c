/* Unit tests for tensor error paths: messages that name both shapes, bad dims and indices, a
 * diagnosis's anchor, and allocation failure injected at every allocation of several operations
 * (no crash, no leak).
 * Part of tests/unit (host tensors). */
#include <stdio.h>

#include "tensor_test_util.h"

static void test_messages(void **state) {
  Diag d;
  Tensor *a = tt_randn(SHAPE(2, 3), DT_FLOAT32, 1), *b = tt_randn(SHAPE(4, 1, 2), DT_FLOAT32, 2), *r;
  assert_int_equal(tensor_binary(TENSOR_ADD, a, b, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "add: shapes [2, 3] and [4, 1, 2] cannot be broadcast");
  assert_int_equal(tensor_get_f64(a, (int64_t[]){1, 3}, &(double){0}, &d), HL_ERR);
  tt_assert_contains(d.msg, "index 3 is out of range");
  assert_int_equal(tensor_reduce(TENSOR_SUM, a, -3, false, 0, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "dim -3 is out of range for a 2-d tensor");
  assert_int_equal(tensor_empty(SHAPE(1, 1, 1, 1, 1, 1, 1, 1, 1), DT_FLOAT32, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "at most 8 dims");
  assert_int_equal(tensor_reshape(a, SHAPE(-1, -1), &r, &d), HL_ERR);
  assert_int_equal(tensor_reshape(a, SHAPE(4, -1), &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "[2, 3]");
  assert_int_equal(tensor_unsqueeze(a, 3, &r, &d), HL_ERR);
  assert_int_equal(tensor_matmul(a, a, &r, &d), HL_ERR);
  tt_assert_contains(d.msg, "inner sizes 3 and 2");
  tensor_free(a);
  tensor_free(b);
}

typedef int (*OpFn)(Tensor **out, Diag *d);

static Tensor *g_a, *g_b, *g_i;

static int op_randn(Tensor **o, Diag *d) { return tensor_randn(SHAPE(7, 9), DT_FLOAT16, 1, o, d); }
static int op_binary(Tensor **o, Diag *d) { return tensor_binary(TENSOR_MUL, g_a, g_b, o, d); }
static int op_reshape(Tensor **o, Diag *d) {
  Tensor *t;
  if (tensor_transpose(g_a, 0, 1, &t, d)) return HL_ERR;
  int rc = tensor_reshape(t, SHAPE(-1), o, d);
  tensor_free(t);
  return rc;
}
static int op_matmul(Tensor **o, Diag *d) { return tensor_matmul(g_a, g_b, o, d); }
static int op_matmul_f16(Tensor **o, Diag *d) { return tensor_matmul(g_b, g_i, o, d); }
static int op_softmax(Tensor **o, Diag *d) { return tensor_log_softmax(g_a, 0, o, d); }
static int op_layer_norm(Tensor **o, Diag *d) { return tensor_layer_norm(g_a, g_i, g_i, 1e-5, o, d); }
static int op_attention(Tensor **o, Diag *d) { return tensor_attention(g_a, g_a, g_a, true, 0, o, d); }
static int op_reduce(Tensor **o, Diag *d) {
  Tensor *t;
  if (tensor_transpose(g_a, 0, 1, &t, d)) return HL_ERR;
  int rc = tensor_reduce(TENSOR_ARGMAX, t, TENSOR_ALL_DIMS, false, 0, o, d);
  tensor_free(t);
  return rc;
}
static int op_print(Tensor **o, Diag *d) {
  char *s;
  if (tensor_to_string(g_a, &s, d)) return HL_ERR;
  mem_free(s);
  return tensor_zeros(NULL, 0, DT_BOOL, o, d);
}
static int op_tiles(Tensor **o, Diag *d) {
  Tensor *ix;
  if (tensor_arange(0, 3, 1, DT_INT64, &ix, d)) return HL_ERR;
  TileSpec s[2] = {{TILE_GATHER, 0, 0, ix}, {TILE_RANGE, 1, 20, NULL}};
  int rc = tensor_store_tile(g_b, s, 2, 0, g_i, NULL, d);
  if (!rc) rc = tensor_atomic_add_tile(g_b, s, 2, 0, g_i, g_i, d);
  if (!rc) rc = tensor_load_tile(g_b, s, 2, 0, 0, o, d);
  tensor_free(ix);
  return rc;
}

/* diag_set starts a new diagnosis: no anchor survives from whatever the Diag held before (a Diag
 * on the stack is often not cleared), and diag_prefix keeps one set after the message. */
static void test_diag_anchor(void **state) {
  (void)state;
  Diag d;
  memset(&d, 'x', sizeof d); /* garbage, no NUL anywhere */
  d.line = 77;
  diag_set(&d, "cuda: unavailable (%s)", "why");
  assert_string_equal(d.msg, "cuda: unavailable (why)");
  assert_string_equal(d.file, "");
  assert_int_equal(d.line, 0);
  snprintf(d.file, sizeof d.file, "%s", "add.lua");
  d.line = 11;
  diag_prefix(&d, "%s: ", "launch");
  assert_string_equal(d.msg, "launch: cuda: unavailable (why)");
  assert_string_equal(d.file, "add.lua");
  assert_int_equal(d.line, 11);
}

static void test_alloc_failures(void **state) {
  Diag d;
  g_a = tt_randn(SHAPE(20, 20), DT_FLOAT32, 1);
  g_b = tt_randn(SHAPE(20, 20), DT_FLOAT32, 2);
  g_i = tt_randn(SHAPE(20), DT_FLOAT16, 3);
  OpFn ops[] = {op_randn,   op_binary,  op_reshape,   op_matmul, op_matmul_f16, op_softmax,
                op_layer_norm, op_attention, op_reduce, op_print, op_tiles};
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
    long live = mem_live_count();
    bool succeeded = false;
    for (long n = 1; n < 200 && !succeeded; n++) {
      Tensor *out = NULL;
      mem_fail_after(n);
      int rc = ops[k](&out, &d);
      mem_fail_after(0);
      if (rc == HL_OK) {
        succeeded = true;
        tensor_free(out);
      } else {
        assert_true(d.msg[0] != '\0');
      }
      if (mem_live_count() != live) fail_msg("op %zu leaked at failure %ld", k, n);
    }
    if (!succeeded) fail_msg("op %zu never succeeded", k);
  }
  tensor_free(g_a);
  tensor_free(g_b);
  tensor_free(g_i);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_messages),
      cmocka_unit_test(test_diag_anchor),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests_name("tensor_errors", tests, NULL, NULL);
}
