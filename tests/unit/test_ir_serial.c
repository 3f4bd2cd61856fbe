/* Unit tests: the tile IR's serialized form (src/ir/ir_serial.c): round trips keep the text and
 * the fingerprint; truncated, corrupted and foreign bytes are errors, never crashes; allocation
 * failures neither crash nor leak. Part of tests/unit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "ir/ir.h"

/* from test_ir_kernels.c */
int ir_test_build_add(IrFunc **out, Diag *d);
int ir_test_build_softmax(IrFunc **out, Diag *d);
int ir_test_build_matmul(IrFunc **out, Diag *d);
int ir_test_build_sink(IrFunc **out, Diag *d);

typedef int (*BuildFn)(IrFunc **out, Diag *d);
static const BuildFn kernels[] = {ir_test_build_add, ir_test_build_softmax, ir_test_build_matmul,
                                  ir_test_build_sink};
#define NKERNELS (int)(sizeof kernels / sizeof *kernels)

static char *text_of(const IrFunc *f) {
  char *t = NULL;
  size_t n = 0;
  Diag d = {0};
  assert_int_equal(ir_print(f, 0, &t, &n, &d), HL_OK);
  return t;
}

static void test_round_trip(void **state) {
  for (int k = 0; k < NKERNELS; k++) {
    Diag d = {0};
    IrFunc *f = NULL, *g = NULL;
    assert_int_equal(kernels[k](&f, &d), HL_OK);
    unsigned char *bytes = NULL;
    size_t len = 0;
    assert_int_equal(ir_serialize(f, &bytes, &len, &d), HL_OK);
    assert_true(len > 8 && memcmp(bytes, "HLIR", 4) == 0);
    assert_int_equal(ir_deserialize(bytes, len, IR_PHASE_TRACED, &g, &d), HL_OK);
    uint64_t a = 0, b = 0;
    assert_int_equal(ir_fingerprint(f, &a, &d), HL_OK);
    assert_int_equal(ir_fingerprint(g, &b, &d), HL_OK);
    assert_true(a == b);
    char *ta = text_of(f), *tb = text_of(g); /* with names and source locations */
    assert_string_equal(ta, tb);
    assert_string_equal(f->name, g->name);
    assert_int_equal(f->nslots, g->nslots);
    assert_int_equal(f->ntunables, g->ntunables);
    /* serializing the copy gives the same bytes */
    unsigned char *again = NULL;
    size_t len2 = 0;
    assert_int_equal(ir_serialize(g, &again, &len2, &d), HL_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(bytes, again, len);
    mem_free(ta);
    mem_free(tb);
    mem_free(bytes);
    mem_free(again);
    ir_func_free(f);
    ir_func_free(g);
  }
}

/* Every prefix is an error; flipped bytes are an error or a function that verifies. */
static void test_malformed(void **state) {
  Diag d = {0};
  IrFunc *f = NULL, *g = NULL;
  assert_int_equal(ir_test_build_sink(&f, &d), HL_OK);
  unsigned char *bytes = NULL;
  size_t len = 0;
  assert_int_equal(ir_serialize(f, &bytes, &len, &d), HL_OK);
  long before = mem_live_count();
  for (size_t n = 0; n < len; n++) {
    assert_int_equal(ir_deserialize(bytes, n, IR_PHASE_TRACED, &g, &d), HL_ERR);
    assert_null(g);
  }
  assert_int_equal(mem_live_count(), before);
  assert_non_null(strstr(d.msg, "truncated"));
  unsigned char *copy = mem_alloc(len);
  before = mem_live_count();
  for (size_t i = 4; i < len; i++) {
    for (int bit = 0; bit < 8; bit += 3) {
      memcpy(copy, bytes, len);
      copy[i] ^= (unsigned char)(1u << bit);
      if (ir_deserialize(copy, len, IR_PHASE_TRACED, &g, &d) == HL_OK) ir_func_free(g);
      g = NULL;
    }
  }
  assert_int_equal(mem_live_count(), before);
  memcpy(copy, bytes, len);
  copy[4] = 9; /* another version */
  assert_int_equal(ir_deserialize(copy, len, IR_PHASE_TRACED, &g, &d), HL_ERR);
  assert_non_null(strstr(d.msg, "version 9"));
  assert_int_equal(ir_deserialize((const unsigned char *)"hello", 5, IR_PHASE_TRACED, &g, &d),
                   HL_ERR);
  assert_non_null(strstr(d.msg, "not serialized tile IR"));
  assert_int_equal(ir_deserialize(NULL, 0, IR_PHASE_TRACED, &g, &d), HL_ERR);
  mem_free(copy);
  mem_free(bytes);
  ir_func_free(f);
}

static void test_allocation_failures(void **state) {
  Diag d = {0};
  IrFunc *f = NULL;
  assert_int_equal(ir_test_build_matmul(&f, &d), HL_OK);
  long before = mem_live_count();
  bool wrote = false, read = false;
  for (long n = 1; n < 200 && !(wrote && read); n++) {
    unsigned char *bytes = NULL;
    size_t len = 0;
    IrFunc *g = NULL;
    mem_fail_after(n);
    int rc = ir_serialize(f, &bytes, &len, &d);
    if (rc == HL_OK) {
      wrote = true;
      if (ir_deserialize(bytes, len, IR_PHASE_TRACED, &g, &d) == HL_OK) read = true;
    }
    mem_fail_after(0);
    mem_free(bytes);
    ir_func_free(g);
    assert_int_equal(mem_live_count(), before);
  }
  assert_true(wrote && read);
  ir_func_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_allocation_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
