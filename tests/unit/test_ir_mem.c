/* Tile IR under allocation failure: building, printing and verifying with the N-th allocation
 * failing, for every N until the call succeeds, never crashes or leaks; and base's mem_grow.
 * Part of tests/unit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "ir/ir.h"
#include "ir/ir_internal.h" /* ir_arena_test_chunk */

/* from test_ir_kernels.c */
int ir_test_build_add(IrFunc **out, Diag *d);
int ir_test_build_softmax(IrFunc **out, Diag *d);
int ir_test_build_matmul(IrFunc **out, Diag *d);
int ir_test_build_sink(IrFunc **out, Diag *d);

extern bool ir_test_retry_oom;

typedef int (*BuildFn)(IrFunc **out, Diag *d);

/* A long unrolled chain (arena growth past several chunks, thousands of "acc" names) whose
 * loop also carries a value it never changes (pruned at loop_end). */
static int build_long(IrFunc **out, Diag *d) {
  IrBuilder *b = NULL;
  IrValueId c0, c8, one, keep, i, carried[2], acc, res[2];
  if (ir_builder_new("long", &b, d)) return HL_ERR;
  int file;
  if (ir_build_file(b, "long.lua", &file, d)) goto fail;
  ir_build_loc(b, file, 1);
  if (ir_build_const_int(b, DT_INT64, 0, &c0, d) || ir_build_const_int(b, DT_INT64, 8, &c8, d) ||
      ir_build_const_float(b, DT_FLOAT32, 1.0, &one, d) ||
      ir_build_const_float(b, DT_FLOAT32, 2.0, &keep, d))
    goto fail;
  IrLoopDim ld = IR_LOOP_DIM_INIT;
  ld.begin = c0;
  ld.end = c8;
  IrValueId inits[2] = {one, keep};
  if (ir_build_loop_begin(b, IR_OP_GRID, 1, &ld, 2, inits, &i, carried, d)) goto fail;
  acc = carried[0];
  for (int k = 0; k < 3000; k++) {
    IrValueId args[2] = {acc, carried[1]};
    ir_build_loc(b, file, 2 + k);
    if (ir_build_op(b, IR_OP_ADD, 2, args, NULL, &acc, d) || ir_build_name(b, acc, "acc", d))
      goto fail;
  }
  IrValueId ys[2] = {acc, carried[1]};
  if (ir_build_loop_end(b, 2, ys, res, d)) goto fail;
  if (ir_builder_finish(b, out, d)) goto fail;
  ir_builder_free(b);
  return HL_OK;
fail:
  ir_builder_free(b);
  return HL_ERR;
}

static const BuildFn builds[] = {ir_test_build_add, ir_test_build_softmax, ir_test_build_matmul,
                                 ir_test_build_sink, build_long};
static const char *const names[] = {"add", "softmax", "matmul", "sink", "long"};

static void test_build_sweep(void **state) {
  /* with small chunks the long kernel alone would take thousands of quadratic rounds */
  size_t nbuilds = ir_arena_test_chunk ? 4 : sizeof builds / sizeof builds[0];
  for (size_t k = 0; k < nbuilds; k++) {
    long base = mem_live_count(), n;
    for (n = 1; n < 100000; n++) {
      Diag d;
      diag_clear(&d);
      IrFunc *f = NULL;
      mem_fail_after(n);
      int rc = builds[k](&f, &d);
      mem_fail_after(0);
      if (rc == HL_OK) {
        assert_int_equal(ir_verify(f, IR_PHASE_TRACED, &d), HL_OK);
        ir_func_free(f);
        assert_int_equal(mem_live_count(), base);
        break;
      }
      if (!strstr(d.msg, "out of memory")) fail_msg("%s, n=%ld: %s", names[k], n, d.msg);
      assert_int_equal(mem_live_count(), base);
    }
    assert_true(n > 2); /* the sweep did inject failures */
    if (getenv("IR_TEST_VERBOSE")) printf("  %s: %ld allocation points\n", names[k], n - 1);
  }
}

/* Every builder call is all-or-nothing: with one allocation failing somewhere and that call
 * retried, the kernel comes out byte-identical (value numbers included). */
static void test_failed_call_changes_nothing(void **state) {
  for (size_t k = 0; k < 4; k++) {
    Diag d;
    IrFunc *ref;
    char *want, *got;
    size_t want_len, len;
    assert_int_equal(builds[k](&ref, &d), HL_OK);
    assert_int_equal(ir_print(ref, 0, &want, &want_len, &d), HL_OK);
    long base = mem_live_count(), n;
    ir_test_retry_oom = true;
    for (n = 2; n < 100000; n++) { /* n = 1 fails ir_builder_new, which has nothing to keep */
      IrFunc *f = NULL;
      mem_fail_after(n);
      int rc = builds[k](&f, &d);
      long left = 0;
      mem_fail_after(0);
      if (rc != HL_OK) fail_msg("%s, n=%ld: %s", names[k], n, d.msg);
      assert_int_equal(ir_print(f, 0, &got, &len, &d), HL_OK);
      if (len != want_len || memcmp(got, want, len) != 0)
        fail_msg("%s with allocation %ld failing and retried:\n%s", names[k], n, got);
      mem_free(got);
      ir_func_free(f);
      assert_int_equal(mem_live_count(), base);
      mem_fail_after(n); /* did allocation n happen at all? if not, the sweep is done */
      IrFunc *g = NULL;
      ir_test_retry_oom = false;
      rc = builds[k](&g, &d);
      ir_test_retry_oom = true;
      left = rc == HL_OK;
      mem_fail_after(0);
      ir_func_free(g);
      if (left) break;
    }
    ir_test_retry_oom = false;
    assert_true(n > 2);
    mem_free(want);
    ir_func_free(ref);
  }
}

static void test_print_verify_sweep(void **state) {
  size_t nbuilds = ir_arena_test_chunk ? 4 : sizeof builds / sizeof builds[0];
  for (size_t k = 0; k < nbuilds; k++) {
    Diag d;
    IrFunc *f = NULL;
    assert_int_equal(builds[k](&f, &d), HL_OK);
    char *want;
    size_t want_len;
    assert_int_equal(ir_print(f, 0, &want, &want_len, &d), HL_OK);
    long base = mem_live_count();
    for (long n = 1;; n++) {
      char *text = NULL;
      size_t len;
      mem_fail_after(n);
      int rc = ir_print(f, 0, &text, &len, &d);
      mem_fail_after(0);
      if (rc == HL_OK) {
        assert_int_equal(len, want_len);
        assert_memory_equal(text, want, len);
        mem_free(text);
        break;
      }
      assert_non_null(strstr(d.msg, "out of memory"));
      assert_int_equal(mem_live_count(), base);
    }
    mem_fail_after(1);
    int rc = ir_verify(f, IR_PHASE_TRACED, &d);
    mem_fail_after(0);
    assert_int_equal(rc, HL_ERR);
    assert_non_null(strstr(d.msg, "out of memory"));
    uint64_t h1, h2;
    mem_fail_after(1); /* the fingerprint allocates nothing */
    assert_int_equal(ir_fingerprint(f, &h1, &d), HL_OK);
    mem_fail_after(0);
    assert_int_equal(ir_fingerprint(f, &h2, &d), HL_OK);
    assert_true(h1 == h2);
    assert_int_equal(mem_live_count(), base);
    mem_free(want);
    ir_func_free(f);
  }
}

static void test_long_names(void **state) {
  Diag d;
  IrFunc *f;
  assert_int_equal(build_long(&f, &d), HL_OK);
  char *text;
  size_t len;
  assert_int_equal(ir_print(f, IR_PRINT_NO_LOC, &text, &len, &d), HL_OK);
  assert_non_null(strstr(text, "  %3007 = grid %4 = [%0, %1) carry (%5 = %2 : float32) {\n"
                               "    %acc = add %5, %3 : float32\n"
                               "    %acc.1 = add %acc, %3 : float32\n"));
  assert_non_null(strstr(text, "    %acc.2999 = add %acc.2998, %3 : float32\n"
                               "    yield %acc.2999\n  }\n}\n"));
  mem_free(text);
  ir_func_free(f);
}

/* mem_grow / mem_reserve (the growth of every realloc'ed array and text buffer):
 * doubles from `first`, keeps the contents, and a failed grow leaves array and capacity alone. */
static void test_mem_grow(void **state) {
  (void)state;
  long live = mem_live_count();
  int *a = NULL, cap = 0;
  assert_true(mem_grow((void **)&a, &cap, 1, sizeof *a, 4));
  assert_int_equal(cap, 4);
  for (int i = 0; i < 4; i++) a[i] = i * 7;
  assert_true(mem_grow((void **)&a, &cap, 4, sizeof *a, 4)); /* room already */
  assert_int_equal(cap, 4);
  assert_true(mem_grow((void **)&a, &cap, 19, sizeof *a, 4)); /* 8, 16, 32 */
  assert_int_equal(cap, 32);
  for (int i = 0; i < 4; i++) assert_int_equal(a[i], i * 7);
  int *before = a;
  mem_fail_after(1);
  assert_false(mem_grow((void **)&a, &cap, 33, sizeof *a, 4));
  mem_fail_after(0);
  assert_ptr_equal(a, before);
  assert_int_equal(cap, 32);
  assert_int_equal(a[3], 21);
  mem_free(a);
  char *b = NULL;
  size_t bcap = 0;
  assert_true(mem_reserve((void **)&b, &bcap, 300, 256)); /* 256, 512 */
  assert_int_equal(bcap, 512);
  mem_free(b);
  assert_int_equal(mem_live_count(), live);
}

/* Small chunks: nearly every arena allocation is its own mem_alloc, a failure point to visit. */
static int small_chunks(void **state) {
  ir_arena_test_chunk = 64;
  return 0;
}

static int normal_chunks(void **state) {
  ir_arena_test_chunk = 0;
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_build_sweep),
      cmocka_unit_test(test_failed_call_changes_nothing),
      cmocka_unit_test(test_print_verify_sweep),
      cmocka_unit_test(test_long_names),
      cmocka_unit_test(test_mem_grow),
  };
  int failed = cmocka_run_group_tests_name("ir_mem", tests, NULL, NULL);
  failed += cmocka_run_group_tests_name("ir_mem_small_chunks", tests, small_chunks, normal_chunks);
  return failed;
}
