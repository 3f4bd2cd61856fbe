/* Unit tests: config spaces derived from tile IR (add, softmax, matmul, the every-op kernel) for
 * cpu and cuda: fields, defaults, constraints, tunable fragments, allocation failures.
 * Part of src/config (config space) tests; the kernels come from test_ir_kernels.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "config/config.h"
#include "config/config_internal.h"
#include "ir/ir.h"

/* from test_ir_kernels.c */
int ir_test_build_add(IrFunc **out, Diag *d);
int ir_test_build_softmax(IrFunc **out, Diag *d);
int ir_test_build_matmul(IrFunc **out, Diag *d);
int ir_test_build_sink(IrFunc **out, Diag *d);

typedef int (*BuildFn)(IrFunc **out, Diag *d);

static const CfgDeriveOptions cores8 = {.cpu_cores = 8};

static ConfigSpace *derive(BuildFn build, const char *target) {
  Diag d = {0};
  IrFunc *f = NULL;
  assert_int_equal(build(&f, &d), HL_OK);
  ConfigSpace *s = NULL;
  int rc = cfgspace_derive_ex(f, target, &cores8, &s, &d);
  if (rc != HL_OK) fail_msg("derive: %s", d.msg);
  ir_func_free(f);
  return s;
}

/* out[i, j] = x[i, j] + 1 over float32 [m, n] (n = 0: one dim of m) */
static IrFunc *elementwise(int64_t m, int64_t n) {
  Diag d = {0};
  IrBuilder *b;
  IrFunc *f = NULL;
  int rank = n ? 2 : 1;
  int64_t sizes[2] = {m, n};
  IrValueId x, o, c0, ext[2], one, it[2], v, s;
  assert_int_equal(ir_builder_new("ew", &b, &d), HL_OK);
  assert_int_equal(ir_build_arg_tensor(b, "x", DT_FLOAT32, rank, sizes, NULL, &x, &d), HL_OK);
  assert_int_equal(ir_build_arg_tensor(b, "out", DT_FLOAT32, rank, sizes, NULL, &o, &d), HL_OK);
  assert_int_equal(ir_build_const_int(b, DT_INT64, 0, &c0, &d), HL_OK);
  IrLoopDim dims[2] = {IR_LOOP_DIM_INIT, IR_LOOP_DIM_INIT};
  IrIndex idx[2];
  for (int i = 0; i < rank; i++) {
    assert_int_equal(ir_build_const_int(b, DT_INT64, sizes[i], &ext[i], &d), HL_OK);
    dims[i].begin = c0;
    dims[i].end = ext[i];
  }
  assert_int_equal(ir_build_loop_begin(b, IR_OP_TILE, rank, dims, 0, NULL, it, NULL, &d), HL_OK);
  for (int i = 0; i < rank; i++)
    idx[i] = (IrIndex){IR_IDX_TILE, it[i]};
  assert_int_equal(ir_build_load(b, x, rank, idx, IR_NONE, IR_EVICT_NONE, &v, &d), HL_OK);
  assert_int_equal(ir_build_const_float(b, DT_FLOAT32, 1.0, &one, &d), HL_OK);
  IrValueId args[2] = {v, one};
  assert_int_equal(ir_build_op(b, IR_OP_ADD, 2, args, NULL, &s, &d), HL_OK);
  assert_int_equal(ir_build_store(b, o, rank, idx, s, IR_NONE, &d), HL_OK);
  assert_int_equal(ir_build_loop_end(b, 0, NULL, NULL, &d), HL_OK);
  if (ir_builder_finish(b, &f, &d)) fail_msg("finish: %s", d.msg);
  ir_builder_free(b);
  return f;
}

static void assert_default(const ConfigSpace *s, const char *want) {
  Diag d = {0};
  int cfg[256];
  char buf[2048];
  assert_int_equal(cfgspace_default(s, cfg, &d), HL_OK);
  cfgspace_to_lua(s, cfg, 0, buf, sizeof buf);
  assert_string_equal(buf, want);
}

/* ---- describe and defaults ---------------------------------------------------------------------
 */

static void test_add(void **state) {
  ConfigSpace *s = derive(ir_test_build_add, "cpu");
  char buf[4096];
  cfgspace_describe(s, buf, sizeof buf);
  assert_string_equal(buf, "config space for cpu: 4 fields, 5 units, 6 slots, 1.188e+04 configs\n"
                           "  block_sizes[1]: a power of two from 1 to 1024; default 16\n"
                           "  block_sizes[2]: a power of two from 1 to 512; default 256\n"
                           "  loop_orders[1]: a permutation of 1..2; default {1, 2}\n"
                           "  vector_width: a power of two from 1 to 32; default 16\n"
                           "  cpu_threads: an integer from 0 to 8; default 0\n"
                           "  constraint tile_numel(B0*B1, 65536)\n");
  /* 16 x 256 = 4096 elements, the contiguous dim the wide one; 63 x 2 programs */
  assert_default(s, "helua.Config{block_sizes = {16, 256}, loop_orders = {{1, 2}}, "
                    "vector_width = 16, cpu_threads = 0}");
  cfgspace_free(s);
  s = derive(ir_test_build_add, "cuda");
  assert_default(s,
                 "helua.Config{block_sizes = {8, 128}, loop_orders = {{1, 2}}, "
                 "l2_groupings = {1}, load_eviction_policies = {\"\", \"\"}, num_warps = 4, "
                 "num_stages = 1, pid_type = \"flat\", num_sm_multiplier = 1, maxnreg = helua.none}");
  assert_int_equal(cfgspace_field(s, cfgspace_find(s, "pid_type"))->elems[0].n, 4); /* xyz too */
  cfgspace_free(s);
}

static void test_softmax(void **state) {
  ConfigSpace *s = derive(ir_test_build_softmax, "cpu");
  char buf[4096];
  cfgspace_describe(s, buf, sizeof buf);
  assert_string_equal(buf, "config space for cpu: 4 fields, 4 units, 4 slots, 5616 configs\n"
                           "  block_sizes[1]: a power of two from 1 to 4096; default 4\n"
                           "  reduction_loops[1]: a power of two from 8 to 512, or none; default "
                           "helua.none\n"
                           "  vector_width: a power of two from 1 to 32; default 16\n"
                           "  cpu_threads: an integer from 0 to 8; default 0\n"
                           "  constraint tile_numel(B0*R0:1024, 65536)\n");
  /* the 1000-element row is held whole: 4 rows x 1024 = 4096 elements */
  assert_default(s, "helua.Config{block_sizes = {4}, reduction_loops = {helua.none}, "
                    "vector_width = 16, cpu_threads = 0}");
  cfgspace_free(s);
  s = derive(ir_test_build_softmax, "cuda");
  /* Helion's rule: a reduction over more than 256 elements gets a row per program */
  assert_default(s, "helua.Config{block_sizes = {1}, reduction_loops = {helua.none}, "
                    "load_eviction_policies = {\"\"}, num_warps = 4, num_stages = 1, "
                    "pid_type = \"flat\", num_sm_multiplier = 1, maxnreg = helua.none}");
  cfgspace_free(s);
}

static void test_matmul(void **state) {
  ConfigSpace *s = derive(ir_test_build_matmul, "cuda");
  char buf[4096];
  cfgspace_describe(s, buf, sizeof buf);
  assert_string_equal(
      buf, "config space for cuda: 11 fields, 14 units, 15 slots, 9.677e+08 configs\n"
           "  block_sizes[1]: a power of two from 16 to 256; default 64\n"
           "  block_sizes[2]: a power of two from 16 to 256; default 64\n"
           "  block_sizes[3]: a power of two from 16 to 128; default 32\n"
           "  loop_orders[1]: a permutation of 1..2; default {1, 2}\n"
           "  l2_groupings[1]: a power of two from 1 to 64; default 1\n"
           "  range_unroll_factors[1]: an integer from 0 to 4; default 0\n"
           "  load_eviction_policies[1]: one of \"\", \"first\", \"last\"; default \"\"\n"
           "  load_eviction_policies[2]: one of \"\", \"first\", \"last\"; default \"\"\n"
           "  num_warps: a power of two from 1 to 32; default 4\n"
           "  num_stages: an integer from 1 to 8; default 3\n"
           "  pid_type: one of \"flat\", \"xyz\", \"persistent_blocked\", "
           "\"persistent_interleaved\"; default \"flat\"\n"
           "  num_sm_multiplier: a power of two from 1 to 128; default 1\n"
           "  maxnreg: a power of two from 32 to 256, or none; default helua.none\n"
           "  wgmma: true or false; default false\n"
           "  constraint tile_numel(B0*B1, 1048576)\n"
           "  constraint tile_numel(B0*B2, 1048576)\n"
           "  constraint tile_numel(B1*B2, 1048576)\n"
           "  constraint max_threads(num_warps, 1024)\n"
           "  constraint persistent_only(pid_type, 0)\n"
           "  constraint dot_warps(B0,B1, 0)\n"
           "  constraint dot_wgmma(B0,B1,B2, 0)\n");
  /* nvmma's caps: M, N blocks <= 256, K <= 128; the 128x128 matmul default halves to 64x64
   * for enough programs (1024x256 has 16 tiles of 128x128) */
  int cfg[64];
  Diag d = {0};
  assert_int_equal(cfgspace_default(s, cfg, &d), HL_OK);
  assert_int_equal(cfgspace_set_int(s, cfg, "num_warps", 16, &d), HL_OK);
  const CfgUnit *b0 = cfg_find_unit(s, "block_sizes", 0), *b1 = cfg_find_unit(s, "block_sizes", 1);
  cfg[b0->offset] = 16;
  cfg[b1->offset] = 32;
  /* 16 warps cannot split a 16x32 tile into 16x16 warp tiles: a user's config stays valid (the
   * lowering falls back to fewer warps for the mma) ... */
  int *warps = &cfg[cfg_find_unit(s, "num_warps", 0)->offset];
  assert_int_equal(cfgspace_normalize(s, cfg, false, &d), HL_OK);
  assert_int_equal(*warps, 16);
  /* ... and the repair (the tuner's candidates) halves num_warps to the 2 that do */
  assert_int_equal(cfgspace_normalize(s, cfg, true, &d), HL_OK);
  assert_int_equal(*warps, 2);
  /* 8 warps on a 32x64 tile split it (2x4 warp tiles of 16x16): left alone */
  cfg[b0->offset] = 32;
  cfg[b1->offset] = 64;
  *warps = 8;
  assert_int_equal(cfgspace_normalize(s, cfg, true, &d), HL_OK);
  assert_int_equal(*warps, 8);
  cfgspace_free(s);
  s = derive(ir_test_build_matmul, "cpu");
  /* a 32 x 64 accumulator, 64-deep operand tiles; range_unroll_factors for the k loop */
  assert_default(s, "helua.Config{block_sizes = {32, 64, 64}, loop_orders = {{1, 2}}, "
                    "range_unroll_factors = {0}, vector_width = 16, cpu_threads = 0}");
  cfgspace_free(s);
}

/* The every-op kernel: a registered block size shared by a loop, a grid loop around a tile loop,
 * loads with fixed eviction, an atomic, a user tunable. */
static void test_sink(void **state) {
  ConfigSpace *s = derive(ir_test_build_sink, "cuda");
  assert_default(s, "helua.Config{block_sizes = {32}, range_unroll_factors = {0}, "
                    "load_eviction_policies = {\"\", \"\", \"\"}, num_warps = 4, num_stages = 1, "
                    "pid_type = \"flat\", num_sm_multiplier = 1, maxnreg = helua.none, unroll = 2}");
  const CfgField *bs = cfgspace_field(s, cfgspace_find(s, "block_sizes"));
  assert_int_equal(bs->elems[0].lo, 16); /* register_block_size(16, 64) */
  assert_int_equal(bs->elems[0].hi, 64);
  /* a 1-D grid: no xyz */
  assert_int_equal(cfgspace_field(s, cfgspace_find(s, "pid_type"))->elems[0].n, 3);
  assert_int_equal(cfgspace_find(s, "loop_orders"), -1);
  cfgspace_free(s);
  s = derive(ir_test_build_sink, "cpu");
  assert_default(s, "helua.Config{block_sizes = {64}, range_unroll_factors = {0}, "
                    "vector_width = 16, cpu_threads = 0, unroll = 2}");
  cfgspace_free(s);
}

/* Small grids shrink their blocks for parallelism; big 1-D kernels keep wide tiles. */
static void test_grid_and_budget(void **state) {
  Diag d = {0};
  struct {
    int64_t m, n;
    const char *target, *want;
  } cases[] = {
      {64, 64, "cpu", "{16, 64}"},      /* 4 programs of 1024 elements */
      {1 << 20, 0, "cpu", "{1024}"},    /* 1024 programs */
      {3000, 0, "cpu", "{1024}"},       /* 3 programs: no smaller than 1024 elements */
      {1, 1 << 20, "cpu", "{1, 1024}"}, /* a 1-element dim stays 1 */
      {1 << 12, 7, "cpu", "{128, 8}"},  /* the short contiguous dim is whole; 32 programs */
      {1 << 20, 0, "cuda", "{1024}"},   /* Triton's pointwise 1024 */
      {256, 256, "cuda", "{4, 64}"},    /* 256 programs of 256 elements */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    IrFunc *f = elementwise(cases[i].m, cases[i].n);
    ConfigSpace *s = NULL;
    assert_int_equal(cfgspace_derive_ex(f, cases[i].target, &cores8, &s, &d), HL_OK);
    int cfg[64];
    char buf[1024], want[256];
    assert_int_equal(cfgspace_default(s, cfg, &d), HL_OK);
    cfgspace_to_lua(s, cfg, 0, buf, sizeof buf);
    snprintf(want, sizeof want, "block_sizes = %s", cases[i].want);
    if (!strstr(buf, want)) fail_msg("case %zu: want %s in %s", i, want, buf);
    cfgspace_free(s);
    ir_func_free(f);
  }
}

/* ---- targets and constraints -------------------------------------------------------------------
 */

static void test_target_knobs(void **state) {
  BuildFn builds[] = {ir_test_build_add, ir_test_build_softmax, ir_test_build_matmul,
                      ir_test_build_sink};
  const char *cuda_only[] = {
      "l2_groupings",           "num_warps",        "num_stages",        "indexing",
      "atomic_indexing",        "pid_type",         "num_sm_multiplier", "maxnreg",
      "load_eviction_policies", "range_num_stages", "range_flattens",    "range_multi_buffers",
      "range_warp_specializes"};
  for (size_t k = 0; k < sizeof builds / sizeof builds[0]; k++) {
    ConfigSpace *cpu = derive(builds[k], "cpu"), *cuda = derive(builds[k], "cuda");
    for (size_t i = 0; i < sizeof cuda_only / sizeof cuda_only[0]; i++)
      assert_int_equal(cfgspace_find(cpu, cuda_only[i]), -1);
    /* knobs the CPU lowering does not read are left out */
    assert_int_equal(cfgspace_find(cpu, "flatten_loops"), -1);
    assert_int_equal(cfgspace_find(cpu, "static_ranges"), -1);
    assert_true(cfgspace_find(cpu, "vector_width") >= 0);
    assert_true(cfgspace_find(cpu, "cpu_threads") >= 0);
    assert_int_equal(cfgspace_find(cuda, "vector_width"), -1);
    assert_int_equal(cfgspace_find(cuda, "cpu_threads"), -1);
    assert_int_equal(cfgspace_find(cuda, "range_warp_specializes"), -1); /* sm_90 */
    for (int i = 0; i < cfgspace_field_count(cpu); i++) {
      const CfgField *f = cfgspace_field(cpu, i);
      assert_true(cfg_field_applies(f->name, CFG_TARGET_CPU));
    }
    for (int i = 0; i < cfgspace_field_count(cuda); i++)
      assert_true(cfg_field_applies(cfgspace_field(cuda, i)->name, CFG_TARGET_CUDA));
    cfgspace_free(cpu);
    cfgspace_free(cuda);
  }
}

/* Every tile value of every random config stays within the target's cap, and no default tile
 * of a big kernel is a single element. */
static void test_random_within_caps(void **state) {
  BuildFn builds[] = {ir_test_build_add, ir_test_build_softmax, ir_test_build_matmul,
                      ir_test_build_sink};
  const char *targets[] = {"cpu", "cuda"};
  long long caps[] = {65536, 1 << 20};
  for (size_t k = 0; k < sizeof builds / sizeof builds[0]; k++)
    for (int t = 0; t < 2; t++) {
      ConfigSpace *s = derive(builds[k], targets[t]);
      Diag d = {0};
      int cfg[256];
      CfgRng r;
      cfg_rng_seed(&r, 1234 + k);
      assert_int_equal(cfgspace_default(s, cfg, &d), HL_OK);
      long long numel = 1; /* of all blocks and persistent rows: the largest tile or more */
      for (int e = 0; e < cfgspace_field(s, cfgspace_find(s, "block_sizes"))->count; e++)
        numel *= cfgspace_get(s, cfg, "block_sizes", e, 1);
      if (cfgspace_get(s, cfg, "reduction_loops", 0, 1) == CFG_NONE) numel *= 1024;
      assert_true(numel >= (k == 3 ? 16 : 1024)); /* the every-op kernel is small */
      for (int i = 0; i < 200; i++) {
        assert_int_equal(cfgspace_random(s, &r, cfg, &d), HL_OK);
        assert_int_equal(cfgspace_normalize(s, cfg, false, &d), HL_OK);
        if (k == 2) { /* matmul: the three tiles */
          long long m = cfgspace_get(s, cfg, "block_sizes", 0, 0),
                    n = cfgspace_get(s, cfg, "block_sizes", 1, 0),
                    kk = cfgspace_get(s, cfg, "block_sizes", 2, 0);
          assert_true(m * n <= caps[t] && m * kk <= caps[t] && kk * n <= caps[t]);
        }
        if (k == 1) { /* softmax: rows x (chunk or the whole 1024) */
          int r0 = cfgspace_get(s, cfg, "reduction_loops", 0, 0);
          long long rows = cfgspace_get(s, cfg, "block_sizes", 0, 0);
          assert_true(rows * (r0 == CFG_NONE ? 1024 : r0) <= caps[t]);
        }
      }
      cfgspace_free(s);
    }
}

static void test_tile_numel_constraint(void **state) {
  Diag d = {0};
  ConfigSpace *s = cfgspace_new(CFG_TARGET_CPU, &d);
  assert_int_equal(cfgspace_add_block_size(s, NULL, 0, 1, 4096, 64, &d), HL_OK);
  assert_int_equal(cfgspace_add_reduction_loop(s, 0, 1000, 4096, &d), HL_OK);
  assert_int_equal(cfgspace_constrain_tile_numel(s, "2*B0*R0:1024", 8192, &d), HL_OK);
  int cfg[2] = {64, CFG_NONE};
  /* check: 2 x 64 x 1024 is too many, the message names the fields */
  assert_int_equal(cfgspace_normalize(s, cfg, false, &d), HL_ERR);
  assert_string_equal(d.msg, "block_sizes: a tile of this config has 131072 elements (2 x "
                             "block_sizes[1] = 64 x reduction_loops[1] = none (1024)), more than "
                             "the 8192 allowed on cpu; use smaller block_sizes or reduction_loops");
  /* fix: blocks first (down to 4), the persistent row stays */
  assert_int_equal(cfgspace_normalize(s, cfg, true, &d), HL_OK);
  assert_int_equal(cfg[0], 4);
  assert_int_equal(cfg[1], CFG_NONE);
  /* with the block at its minimum, a persistent row becomes chunks */
  ConfigSpace *t = cfgspace_new(CFG_TARGET_CPU, &d);
  assert_int_equal(cfgspace_add_block_size(t, NULL, 0, 8, 64, 8, &d), HL_OK);
  assert_int_equal(cfgspace_add_reduction_loop(t, 0, 1000, 4096, &d), HL_OK);
  assert_int_equal(cfgspace_constrain_tile_numel(t, "B0*R0:1024", 1024, &d), HL_OK);
  int c2[2] = {8, CFG_NONE};
  assert_int_equal(cfgspace_normalize(t, c2, true, &d), HL_OK);
  assert_int_equal(c2[0], 8);
  assert_int_equal(c2[1], 128);
  /* bad specs */
  assert_int_equal(cfgspace_constrain_tile_numel(s, "B0*Q1", 10, &d), HL_ERR);
  assert_non_null(strstr(d.msg, "is not factors like"));
  assert_int_equal(cfgspace_constrain_tile_numel(s, "R0", 10, &d), HL_ERR);
  assert_int_equal(cfgspace_constrain_tile_numel(s, "B0", 0, &d), HL_ERR);
  cfgspace_free(s);
  cfgspace_free(t);
}

static void test_derive_errors(void **state) {
  Diag d = {0};
  ConfigSpace *s = (ConfigSpace *)1;
  IrFunc *f;
  assert_int_equal(cfgspace_derive(NULL, "cpu", &s, &d), HL_ERR);
  assert_null(s);
  assert_int_equal(ir_test_build_add(&f, &d), HL_OK);
  assert_int_equal(cfgspace_derive(f, "tpu", &s, &d), HL_ERR);
  assert_non_null(strstr(d.msg, "tpu"));
  assert_int_equal(cfgspace_derive(f, "cpu", &s, &d), HL_OK); /* cores unknown: 0..64 */
  assert_int_equal(cfgspace_field(s, cfgspace_find(s, "cpu_threads"))->elems[0].hi,
                   CFG_DERIVE_CORES);
  cfgspace_free(s);
  ir_func_free(f);
}

/* ---- user tunables ------------------------------------------------------------------------------
 */

static void test_tunable_parse(void **state) {
  Diag d = {0};
  CfgTunableFragment tf;
  assert_int_equal(cfg_tunable_parse("PowerOfTwoFragment(1, 256, 16)", &tf, &d), HL_OK);
  assert_int_equal(tf.frag.kind, CFG_POW2);
  assert_int_equal(tf.frag.lo, 1);
  assert_int_equal(tf.frag.hi, 256);
  assert_int_equal(tf.frag.def, 16);
  assert_int_equal(cfg_tunable_parse(" IntegerFragment( -2 , 4 ) ", &tf, &d), HL_OK);
  assert_int_equal(tf.frag.kind, CFG_INT);
  assert_int_equal(tf.frag.def, -2); /* the default defaults to lo */
  assert_int_equal(cfg_tunable_parse("helua.Config.BooleanFragment(true)", &tf, &d), HL_OK);
  assert_int_equal(tf.frag.kind, CFG_BOOL);
  assert_int_equal(tf.frag.def, 1);
  assert_int_equal(cfg_tunable_parse("BooleanFragment()", &tf, &d), HL_OK);
  assert_int_equal(tf.frag.def, 0);
  assert_int_equal(
      cfg_tunable_parse("EnumFragment({\"a\\\"b\", 'c', 4, 0.5, false}, 0.5)", &tf, &d), HL_OK);
  assert_int_equal(tf.frag.kind, CFG_ENUM);
  assert_int_equal(tf.frag.n, 5);
  assert_int_equal(tf.frag.def, 3);
  assert_string_equal(tf.frag.choices[0], "a\"b");
  assert_string_equal(tf.frag.choices[1], "c");
  assert_string_equal(tf.frag.choices[3], "0.5");
  assert_string_equal(tf.frag.choices[4], "false");
  assert_memory_equal(tf.choice_kind, "ssnnb", 5);
  assert_int_equal(cfg_tunable_parse("EnumFragment({1, 2}, 2.0)", &tf, &d), HL_OK);
  assert_int_equal(tf.frag.def, 1); /* 2.0 == 2, as in Lua */
  assert_int_equal(cfg_tunable_parse("EnumFragment({\"x\\065\\x42\\\\\"})", &tf, &d), HL_OK);
  assert_string_equal(tf.frag.choices[0], "xAB\\");
  assert_int_equal(cfg_tunable_parse("EnumFragment({\"a\\nb\"})", &tf, &d), HL_ERR);
  assert_non_null(strstr(d.msg, "control character"));
  struct {
    const char *text, *msg;
  } bad[] = {
      {"IntegerFragment(4, 2)", "lo <= hi"},
      {"PowerOfTwoFragment(1, 48)", "powers of two"},
      {"PowerOfTwoFragment(1, 8, 3)", "the default 3 is not in its range"},
      {"IntegerFragment(1.5, 4)", "lo must be an integer, got 1.5"},
      {"IntegerFragment(1)", "takes (lo, hi[, default]), got 1 values"},
      {"EnumFragment({})", "EnumFragment takes"},
      {"EnumFragment({1, 1.0})", "the choice 1.0 is listed twice"},
      {"EnumFragment({\"a\"}, \"b\")", "the default is not one of the choices"},
      {"EnumFragment({{1}})", "a list inside a list"},
      {"BooleanFragment(1)", "true or false"},
      {"Fragment(1)", "unknown fragment Fragment"},
      {"IntegerFragment(1, 2", "expected ',' or ')'"},
      {"IntegerFragment(1, 2) x", "unexpected text"},
      {"EnumFragment({\"a})", "an unfinished string"},
      {"EnumFragment({\"\\q\"})", "an unknown escape"},
      {"", "expected e.g. IntegerFragment(1, 8, 4)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(cfg_tunable_parse(bad[i].text, &tf, &d), HL_ERR);
    if (!strstr(d.msg, bad[i].msg))
      fail_msg("%s: want \"%s\" in \"%s\"", bad[i].text, bad[i].msg, d.msg);
  }
}

/* A bad fragment fails the derivation with the tunable's kernel line. */
static void test_tunable_error_anchor(void **state) {
  Diag d = {0};
  IrBuilder *b;
  IrFunc *f = NULL;
  IrValueId v;
  int file;
  assert_int_equal(ir_builder_new("k", &b, &d), HL_OK);
  assert_int_equal(ir_build_file(b, "k.lua", &file, &d), HL_OK);
  ir_build_loc(b, file, 7);
  assert_int_equal(ir_build_tunable(b, "split", "IntegerFragment(8, 1)", DT_INT64, &v, &d), HL_OK);
  assert_int_equal(ir_builder_finish(b, &f, &d), HL_OK);
  ir_builder_free(b);
  ConfigSpace *s;
  assert_int_equal(cfgspace_derive(f, "cpu", &s, &d), HL_ERR);
  assert_string_equal(d.file, "k.lua");
  assert_int_equal(d.line, 7);
  assert_non_null(strstr(d.msg, "hl.register_tunable(\"split\", IntegerFragment(8, 1)): "));
  ir_func_free(f);
}

/* ---- allocation failures ------------------------------------------------------------------------
 */

static int derive_with_failure(const IrFunc *f, const char *target, long fail_at) {
  Diag d;
  long before = mem_live_count();
  ConfigSpace *s = NULL;
  int cfg[256];
  mem_fail_after(fail_at);
  int rc = cfgspace_derive(f, target, &s, &d);
  if (rc == HL_OK) rc = cfgspace_default(s, cfg, &d);
  mem_fail_after(0);
  if (rc != HL_OK) assert_non_null(strstr(d.msg, "out of memory"));
  cfgspace_free(s);
  assert_int_equal(mem_live_count(), before);
  return rc == HL_OK;
}

static void test_allocation_failures(void **state) {
  BuildFn builds[] = {ir_test_build_matmul, ir_test_build_sink};
  for (size_t k = 0; k < 2; k++)
    for (int t = 0; t < 2; t++) {
      Diag d;
      IrFunc *f;
      assert_int_equal(builds[k](&f, &d), HL_OK);
      long n = 1;
      while (!derive_with_failure(f, t ? "cuda" : "cpu", n))
        n++;
      assert_true(n > 10);
      ir_func_free(f);
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add),
      cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_matmul),
      cmocka_unit_test(test_sink),
      cmocka_unit_test(test_grid_and_budget),
      cmocka_unit_test(test_target_knobs),
      cmocka_unit_test(test_random_within_caps),
      cmocka_unit_test(test_tile_numel_constraint),
      cmocka_unit_test(test_derive_errors),
      cmocka_unit_test(test_tunable_parse),
      cmocka_unit_test(test_tunable_error_anchor),
      cmocka_unit_test(test_allocation_failures),
  };
  return cmocka_run_group_tests_name("config_derive", tests, NULL, NULL);
}
