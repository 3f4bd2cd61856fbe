/* The Triton renderer (src/lower/lower_triton*.c) on kernels built with the C builder: the module's
 * shape, source-line anchors, determinism, config knobs, errors and an allocation-failure sweep.
 * Part of tests/unit (the Lua side and every kernel in kernels/ are tests/lua/test_triton.lua). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "config/config.h"
#include "ir/ir.h"
#include "lower/lower_triton.h"

/* Kernels built with the C builder in test_ir_kernels.c. */
int ir_test_build_add(IrFunc **out, Diag *d);
int ir_test_build_softmax(IrFunc **out, Diag *d);
int ir_test_build_matmul(IrFunc **out, Diag *d);
int ir_test_build_sink(IrFunc **out, Diag *d);
typedef int (*BuildFn)(IrFunc **out, Diag *d);

static char *render(const IrFunc *f, ConfigSpace *s, const int *cfg) {
  Diag d = {0};
  char *text = NULL;
  size_t len = 0;
  if (lower_triton_render(f, s, cfg, false, &text, &len, &d) != HL_OK) fail_msg("render: %s", d.msg);
  assert_int_equal(strlen(text), len);
  return text;
}

static ConfigSpace *cuda_space(const IrFunc *f, int *cfg) {
  Diag d = {0};
  ConfigSpace *s = NULL;
  if (cfgspace_derive(f, "cuda", &s, &d) || cfgspace_default(s, cfg, &d))
    fail_msg("space: %s", d.msg);
  return s;
}

/* Every line of the jit kernel's body ends with a "# test.lua:N" style anchor. */
static void check_anchors(const char *text) {
  const char *k = strstr(text, "@triton.jit\ndef _helua_");
  assert_non_null(k);
  const char *line = strchr(strchr(k, '\n') + 1, '\n') + 1; /* after the def line */
  int n = 0;
  while (*line == ' ') {
    const char *end = strchr(line, '\n');
    assert_non_null(end);
    const char *hash = NULL;
    for (const char *p = line; p < end; p++)
      if (p[0] == ' ' && p[1] == ' ' && p[2] == '#') hash = p;
    if (!hash) fail_msg("a statement without its source line: %.*s", (int)(end - line), line);
    assert_non_null(strstr(hash, ".lua:"));
    n++;
    line = end + 1;
  }
  assert_true(n > 3);
}

static void test_kernels_render(void **state) {
  (void)state;
  BuildFn builds[] = {ir_test_build_add, ir_test_build_softmax, ir_test_build_matmul,
                      ir_test_build_sink};
  for (size_t i = 0; i < sizeof builds / sizeof *builds; i++) {
    Diag d = {0};
    IrFunc *f;
    assert_int_equal(builds[i](&f, &d), HL_OK);
    int cfg[512];
    ConfigSpace *s = cuda_space(f, cfg);
    char *a = render(f, s, cfg), *b = render(f, s, cfg);
    assert_string_equal(a, b); /* deterministic */
    assert_non_null(strstr(a, "import triton.language as tl\n"));
    check_anchors(a);
    /* random configs render too */
    CfgRng r;
    cfg_rng_seed(&r, 7);
    for (int k = 0; k < 8; k++) {
      assert_int_equal(cfgspace_random(s, &r, cfg, &d), HL_OK);
      char *c = render(f, s, cfg);
      check_anchors(c);
      mem_free(c);
    }
    mem_free(a);
    mem_free(b);
    cfgspace_free(s);
    ir_func_free(f);
  }
}

static void test_knobs(void **state) {
  (void)state;
  Diag d = {0};
  IrFunc *f;
  assert_int_equal(ir_test_build_matmul(&f, &d), HL_OK);
  int cfg[512];
  ConfigSpace *s = cuda_space(f, cfg);
  assert_int_equal(cfgspace_set_int(s, cfg, "num_warps", 8, &d), HL_OK);
  assert_int_equal(cfgspace_set_enum(s, cfg, "pid_type", "persistent_interleaved", &d), HL_OK);
  char *t = render(f, s, cfg);
  assert_non_null(strstr(t, "num_warps=8"));
  assert_non_null(strstr(t, "tl.range(tl.program_id(0), "));
  assert_non_null(strstr(t, "multi_processor_count"));
  assert_non_null(strstr(t, "tl.dot("));
  mem_free(t);
  cfgspace_free(s);
  ir_func_free(f);
}

static void test_errors(void **state) {
  (void)state;
  Diag d = {0};
  IrFunc *f;
  assert_int_equal(ir_test_build_add(&f, &d), HL_OK);
  ConfigSpace *cpu;
  int cfg[512];
  assert_int_equal(cfgspace_derive(f, "cpu", &cpu, &d), HL_OK);
  assert_int_equal(cfgspace_default(cpu, cfg, &d), HL_OK);
  char *text = (char *)1;
  size_t len = 1;
  assert_int_equal(lower_triton_render(f, cpu, cfg, false, &text, &len, &d), HL_ERR);
  assert_null(text);
  assert_non_null(strstr(d.msg, "cuda"));
  cfgspace_free(cpu);
  ir_func_free(f);
}

static bool render_with_failure(const IrFunc *f, const ConfigSpace *s, const int *cfg, long n) {
  Diag d = {0};
  char *text = NULL;
  size_t len = 0;
  long before = mem_live_count();
  mem_fail_after(n);
  int rc = lower_triton_render(f, s, cfg, false, &text, &len, &d);
  mem_fail_after(0);
  if (rc != HL_OK) {
    assert_null(text);
    assert_non_null(strstr(d.msg, "out of memory"));
  }
  mem_free(text);
  assert_int_equal(mem_live_count(), before);
  return rc == HL_OK;
}

static void test_allocation_failures(void **state) {
  (void)state;
  BuildFn builds[] = {ir_test_build_softmax, ir_test_build_matmul};
  for (size_t i = 0; i < 2; i++) {
    Diag d = {0};
    IrFunc *f;
    assert_int_equal(builds[i](&f, &d), HL_OK);
    int cfg[512];
    ConfigSpace *s = cuda_space(f, cfg);
    long n = 1;
    while (!render_with_failure(f, s, cfg, n))
      n++;
    assert_true(n > 10);
    cfgspace_free(s);
    ir_func_free(f);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kernels_render),
      cmocka_unit_test(test_knobs),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_allocation_failures),
  };
  return cmocka_run_group_tests_name("lower_triton", tests, NULL, NULL);
}
