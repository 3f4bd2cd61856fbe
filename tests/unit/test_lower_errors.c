/* Lowering errors: a bad value in each config field gives a message naming it; the CUDA target,
 * oversized tile buffers, unsupported looped reductions and an LLVM verifier failure are
 * reported, never aborted on; every allocation failing in turn leaks nothing. Part of tests/unit.
 */
#include "lower_test_util.h"

static IrFunc *must(int (*build)(IrFunc **, Diag *)) {
  IrFunc *f = NULL;
  TKCHECK(build(&f, D_));
  return f;
}

static void test_config_fields(void **state) {
  (void)state;
  IrFunc *mm = must(ir_test_build_matmul), *sm = must(ir_test_build_softmax),
         *sink = must(ir_test_build_sink);
  LowerConfig c;

  c = CFG_BS(64, 48, 32);
  tk_compile_error(mm, &c, "block_sizes[1] = 48 must be a power of two");
  c = CFG_BS(64, 64, 0);
  tk_compile_error(mm, &c, "block_sizes[2] = 0 must be a power of two");
  c = CFG_BS(16, 16, 16, 16);
  tk_compile_error(mm, &c, "block_sizes has 4 entries, but the kernel has 3 block sizes");
  c = CFG_BS(1 << 22, 16, 16);
  tk_compile_error(mm, &c, "block_sizes[0] = 4194304 is larger");
  c = CFG_BS(128); /* sink: the registered block size asks for 16..64 */
  tk_compile_error(sink, &c, "outside [16, 64]");

  c = CFG_BS(4);
  c.nreduction_loops = 1, c.reduction_loops[0] = 24;
  tk_compile_error(sm, &c, "reduction_loops[0] = 24 must be a power of two");
  c.nreduction_loops = 2, c.reduction_loops[0] = 0;
  tk_compile_error(sm, &c, "reduction_loops has 2 entries, but the kernel has 1 reduction dims");

  lower_config_init(&c);
  c.base = 1; /* messages as Lua users write them */
  c.nloop_orders = 1, c.loop_order_len[0] = 2, c.loop_orders[0][0] = 0, c.loop_orders[0][1] = 0;
  tk_compile_error(mm, &c, "loop_orders[1] = {1, 1} is not a permutation of 1..2");
  c.loop_order_len[0] = 3, c.loop_orders[0][1] = 1, c.loop_orders[0][2] = 2;
  tk_compile_error(mm, &c, "loop_orders[1] = {1, 2, 3} is not a permutation of 1..2");
  c.nloop_orders = 2, c.loop_order_len[0] = 2;
  tk_compile_error(mm, &c, "loop_orders has 2 entries, but the kernel has 1 tile loops");

  lower_config_init(&c);
  c.nrange_unroll_factors = 1, c.range_unroll_factors[0] = 99;
  tk_compile_error(mm, &c, "range_unroll_factors[0] = 99 must be 0");
  c.nrange_unroll_factors = 2, c.range_unroll_factors[0] = 2;
  tk_compile_error(mm, &c,
                   "range_unroll_factors has 2 entries, but the kernel has 1 inner device loops");

  lower_config_init(&c);
  c.vector_width = 12;
  tk_compile_error(mm, &c, "vector_width = 12 must be a power of two");
  lower_config_init(&c);
  c.cpu_threads = -2;
  tk_compile_error(mm, &c, "cpu_threads = -2");
  lower_config_init(&c);
  c.ntunables = 1;
  snprintf(c.tunables[0].name, sizeof c.tunables[0].name, "num_wrps");
  tk_compile_error(mm, &c, "num_wrps is neither a CPU knob nor a tunable");
  snprintf(c.tunables[0].name, sizeof c.tunables[0].name, "unroll");
  c.tunables[0].value = 2.5;
  tk_compile_error(sink, &c, "unroll = 2.5 must be an integer");

  ir_func_free(mm);
  ir_func_free(sm);
  ir_func_free(sink);
}

static void test_compile_errors(void **state) {
  (void)state;
  IrFunc *mm = must(ir_test_build_matmul);
  LowerConfig c;
  lower_config_init(&c);
  LowerArtifact *a = NULL;
  Diag d;
  /* the cuda target: PTX without a GPU; its knobs are checked; shared memory is bounded */
  assert_int_equal(lower_compile(mm, &c, LOWER_TARGET_CUDA, &a, &d), HL_OK);
  assert_non_null(strstr(a->ptx, ".visible .entry"));
  assert_true(a->block[0] >= 32 && a->grid3[0] >= 1);
  lower_artifact_free(a);
  a = NULL;
  c.num_warps = 3;
  assert_int_equal(lower_compile(mm, &c, LOWER_TARGET_CUDA, &a, &d), HL_ERR);
  assert_non_null(strstr(d.msg, "num_warps = 3 must be a power of two"));
  c = CFG_BS(256, 256, 256);
  assert_int_equal(lower_compile(mm, &c, LOWER_TARGET_CUDA, &a, &d), HL_ERR);
  assert_non_null(strstr(d.msg, "KiB of shared memory"));

  /* a tile of 2^20 x 2^6 float32 values does not fit a program's stack */
  c = CFG_BS(1 << 20, 64, 16);
  tk_compile_error(mm, &c, "MiB of stack");

  /* the verifier's complaint comes back as a Diag */
  lower_config_init(&c);
  lower_test_break_llvm = true;
  tk_compile_error(mm, &c, "does not verify");
  lower_test_break_llvm = false;
  ir_func_free(mm);

  /* a looped reduction dim whose values flow into a nested loop */
  Tensor *x = tk_zeros(SIZES(16, 64), DT_FLOAT32);
  TK k = tk_new("nested");
  IrValueId tx = tk_tensor(&k, "x", x), t, i;
  tk_tile(&k, 1, x->sizes, &t);
  IrValueId v = tk_load(&k, tx, 2, (IrIndex[]){TI(t), SL}, IR_NONE);
  IrValueId b = tk_i(&k, 0), e = tk_i(&k, 2);
  tk_loop(&k, IR_OP_GRID, 1, &b, &e, NULL, 0, NULL, &i, NULL);
  tk_store(&k, tx, 2, (IrIndex[]){TI(t), SL}, tk_2(&k, IR_OP_ADD, v, v), IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  tk_end(&k, 0, NULL, NULL);
  IrFunc *f = tk_finish(&k);
  c = CFG_BS(4);
  c.nreduction_loops = 1, c.reduction_loops[0] = 16;
  tk_compile_error(f, &c, "reduction_loops[0]: R0 cannot be looped in chunks here");
  c.reduction_loops[0] = 0;
  tk_run(f, &c, (Tensor *[]){x}, NULL); /* persistent is fine */
  ir_func_free(f);
  tensor_free(x);
}

/* Every allocation of a compile failing in turn: an error (out of memory) or success, no leak. */
static void test_alloc_failures(void **state) {
  (void)state;
  IrFunc *f = must(ir_test_build_softmax);
  LowerConfig c = CFG_BS(8);
  bool done = false;
  long before = mem_live_count();
  for (long n = 1; !done && n < 5000; n++) {
    LowerArtifact *a = NULL;
    Diag d;
    diag_clear(&d);
    mem_fail_after(n);
    int rc = lower_compile(f, &c, LOWER_TARGET_CPU, &a, &d);
    mem_fail_after(0);
    if (rc == HL_OK) {
      lower_artifact_free(a);
      done = true;
    } else if (!strstr(d.msg, "out of memory")) {
      fail_msg("allocation %ld failing gave: %s", n, d.msg);
    }
    if (mem_live_count() != before)
      fail_msg("allocation %ld failing leaked %ld blocks", n, mem_live_count() - before);
  }
  assert_true(done);
  ir_func_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_config_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_compile_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
  };
  return cmocka_run_group_tests_name("lower_errors", tests, NULL, NULL);
}
