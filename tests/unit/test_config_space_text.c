/* Unit tests: configs as text (Lua, Helion JSON), describe, set_* and their messages, JSON import.
 * Part of src/config (config space) tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

/* The CUDA matmul space of test_config_space.c: 3 block sizes, a 2-D loop order, the scalars. */
static ConfigSpace *cuda_space(void) {
  Diag d;
  ConfigSpace *s = cfgspace_new(CFG_TARGET_CUDA, &d);
  assert_non_null(s);
  assert_int_equal(cfgspace_add_block_size(s, NULL, 0, 16, 256, 64, &d), HL_OK);
  assert_int_equal(cfgspace_add_block_size(s, NULL, 1, 16, 256, 64, &d), HL_OK);
  assert_int_equal(cfgspace_add_block_size(s, NULL, 2, 16, 128, 32, &d), HL_OK);
  assert_int_equal(cfgspace_add_loop_order(s, 0, 2, &d), HL_OK);
  const char *scalars[] = {"num_warps", "num_stages", "pid_type"};
  for (int i = 0; i < 3; i++)
    assert_int_equal(cfgspace_add_known(s, scalars[i], 0, &d), HL_OK);
  for (int i = 0; i < 3; i++)
    assert_int_equal(cfgspace_add_known(s, "indexing", i, &d), HL_OK);
  assert_int_equal(cfgspace_constrain_max_threads(s, 1024, &d), HL_OK);
  return s;
}

#define ASSERT_ERR(call, want)                                                                     \
  do {                                                                                             \
    assert_int_equal((call), HL_ERR);                                                              \
    assert_string_equal(d.msg, (want));                                                            \
  } while (0)

static const char *const odd_choices[] = {"plain", "x\"y"};

/* A CPU softmax-like space: one block size, a 3-D loop order, a reduction loop, CPU knobs and
 * two user tunables, one named like a Lua keyword. */
static ConfigSpace *cpu_space(void) {
  Diag d;
  ConfigSpace *s = cfgspace_new(CFG_TARGET_CPU, &d);
  assert_non_null(s);
  CfgFragment flag = cfg_bool(true), odd = cfg_enum(odd_choices, 2, 0);
  assert_int_equal(cfgspace_add_tunable(s, "end", &odd, &d), HL_OK);
  assert_int_equal(cfgspace_add_tunable(s, "my_flag", &flag, &d), HL_OK);
  assert_int_equal(cfgspace_add_block_size(s, NULL, 0, 1, 32, 32, &d), HL_OK);
  assert_int_equal(cfgspace_add_loop_order(s, 0, 3, &d), HL_OK);
  assert_int_equal(cfgspace_add_reduction_loop(s, 0, 1000, 4096, &d), HL_OK);
  assert_int_equal(cfgspace_add_known(s, "vector_width", 0, &d), HL_OK);
  return s;
}

static void test_default_text(void **state) {
  ConfigSpace *s = cuda_space();
  Diag d;
  int cfg[12];
  char buf[1024];
  assert_int_equal(cfgspace_default(s, cfg, &d), HL_OK);
  const char *lua =
      "helua.Config{block_sizes = {64, 64, 32}, loop_orders = {{1, 2}}, num_warps = 4, "
      "num_stages = 1, indexing = {\"pointer\", \"pointer\", \"pointer\"}, "
      "pid_type = \"flat\"}";
  assert_int_equal(cfgspace_to_lua(s, cfg, 0, buf, sizeof buf), (int)strlen(lua));
  assert_string_equal(buf, lua);
  cfgspace_to_json(s, cfg, 0, buf, sizeof buf);
  assert_string_equal(buf, "{\"block_sizes\": [64, 64, 32], \"loop_orders\": [[0, 1]], "
                           "\"num_warps\": 4, \"num_stages\": 1, \"indexing\": [\"pointer\", "
                           "\"pointer\", \"pointer\"], \"pid_type\": \"flat\"}");
  cfgspace_to_lua(s, cfg, CFG_TEXT_MINIMAL, buf, sizeof buf);
  assert_string_equal(buf, "helua.Config{}");
  cfgspace_to_json(s, cfg, CFG_TEXT_MINIMAL, buf, sizeof buf);
  assert_string_equal(buf, "{}");
  assert_int_equal(cfgspace_set_int(s, cfg, "num_warps", 8, &d), HL_OK);
  int lo[2] = {1, 0};
  memcpy(cfg + 3, lo, sizeof lo);
  cfgspace_to_lua(s, cfg, CFG_TEXT_MINIMAL, buf, sizeof buf);
  assert_string_equal(buf, "helua.Config{loop_orders = {{2, 1}}, num_warps = 8}");
  cfgspace_to_json(s, cfg, CFG_TEXT_MINIMAL, buf, sizeof buf);
  assert_string_equal(buf, "{\"loop_orders\": [[1, 0]], \"num_warps\": 8}");
  /* a short buffer: snprintf semantics */
  char small[10];
  int full = cfgspace_to_lua(s, cfg, 0, small, sizeof small);
  assert_true(full > 100);
  assert_string_equal(small, "helua.Con");
  assert_int_equal(cfgspace_to_lua(s, cfg, 0, NULL, 0), full);
  cfgspace_free(s);
}

static void test_none_perm_tunables_text(void **state) {
  ConfigSpace *s = cpu_space();
  Diag d;
  int cfg[12];
  char buf[512];
  assert_int_equal(cfgspace_slots(s), 8);
  assert_int_equal(cfgspace_default(s, cfg, &d), HL_OK);
  int perm[3] = {2, 0, 1};
  memcpy(cfg + 1, perm, sizeof perm);
  assert_int_equal(cfgspace_set_enum(s, cfg, "end", "x\"y", &d), HL_OK);
  cfgspace_to_lua(s, cfg, 0, buf, sizeof buf);
  assert_string_equal(buf, "helua.Config{block_sizes = {32}, loop_orders = {{3, 1, 2}}, "
                           "reduction_loops = {helua.none}, vector_width = 8, "
                           "[\"end\"] = \"x\\\"y\", my_flag = true}");
  cfgspace_to_json(s, cfg, 0, buf, sizeof buf);
  assert_string_equal(buf, "{\"block_sizes\": [32], \"loop_orders\": [[2, 0, 1]], "
                           "\"reduction_loops\": [null], \"vector_width\": 8, "
                           "\"end\": \"x\\\"y\", \"my_flag\": true}");
  assert_int_equal(cfgspace_set_int(s, cfg, "reduction_loops", 64, &d), HL_OK);
  cfgspace_to_lua(s, cfg, CFG_TEXT_MINIMAL, buf, sizeof buf);
  assert_string_equal(buf, "helua.Config{loop_orders = {{3, 1, 2}}, reduction_loops = {64}, "
                           "[\"end\"] = \"x\\\"y\"}");
  cfgspace_free(s);
}

static void test_describe(void **state) {
  ConfigSpace *s = cpu_space();
  Diag d;
  char buf[2048];
  assert_int_equal(cfgspace_constrain_numel(s, NULL, 4096, &d), HL_OK);
  cfgspace_describe(s, buf, sizeof buf);
  assert_string_equal(buf, "config space for cpu: 6 fields, 6 units, 8 slots, 6912 configs\n"
                           "  block_sizes[1]: a power of two from 1 to 32; default 32\n"
                           "  loop_orders[1]: a permutation of 1..3; default {1, 2, 3}\n"
                           "  reduction_loops[1]: a power of two from 8 to 512, or none; default "
                           "helua.none\n"
                           "  vector_width: a power of two from 1 to 32; default 8\n"
                           "  end (tunable): one of \"plain\", \"x\\\"y\"; default \"plain\"\n"
                           "  my_flag (tunable): true or false; default true\n"
                           "  constraint numel(block_sizes, 4096)\n");
  cfgspace_free(s);
}

/* ---- set_* ------------------------------------------------------------------------------------
 */

static void test_set_scalars(void **state) {
  ConfigSpace *s = cuda_space();
  Diag d;
  int cfg[12], before[12];
  cfgspace_default(s, cfg, &d);
  assert_int_equal(cfgspace_set_int(s, cfg, "num_warps", 8, &d), HL_OK);
  assert_int_equal(cfgspace_get(s, cfg, "num_warps", 0, 0), 8);
  memcpy(before, cfg, sizeof cfg);
  ASSERT_ERR(cfgspace_set_int(s, cfg, "num_warps", 48, &d),
             "num_warps = 48 is not allowed: it must be a power of two from 1 to 32");
  ASSERT_ERR(cfgspace_set_int(s, cfg, "num_warps", 1LL << 40, &d),
             "num_warps = 1099511627776 is not allowed: it must be a power of two from 1 to 32");
  ASSERT_ERR(cfgspace_set_enum(s, cfg, "num_warps", "four", &d),
             "num_warps takes a power of two from 1 to 32; got a string (\"four\")");
  ASSERT_ERR(cfgspace_set_bool(s, cfg, "num_warps", true, &d),
             "num_warps takes a power of two from 1 to 32; got a boolean (true)");
  ASSERT_ERR(cfgspace_set_none(s, cfg, "num_warps", &d),
             "num_warps = none is not allowed: it must be a power of two from 1 to 32");
  ASSERT_ERR(cfgspace_set_int(s, cfg, "pid_type", 3, &d),
             "pid_type takes one of \"flat\", \"xyz\", \"persistent_blocked\", "
             "\"persistent_interleaved\"; got a number (3)");
  ASSERT_ERR(cfgspace_set_enum(s, cfg, "pid_type", "persistant_blocked", &d),
             "pid_type = \"persistant_blocked\" is not allowed: it must be one of \"flat\", "
             "\"xyz\", \"persistent_blocked\", \"persistent_interleaved\"; did you mean "
             "\"persistent_blocked\"?");
  ASSERT_ERR(cfgspace_set_int(s, cfg, "num_warp", 4, &d),
             "unknown config field \"num_warp\"; did you mean \"num_warps\"?");
  ASSERT_ERR(cfgspace_set_int(s, cfg, "frobnicate", 4, &d),
             "unknown config field \"frobnicate\"; this kernel's fields on cuda are: "
             "block_sizes, loop_orders, num_warps, num_stages, indexing, pid_type");
  ASSERT_ERR(cfgspace_set_int(s, cfg, "maxnreg", 64, &d),
             "this kernel has no maxnreg knob; drop it from the config");
  ASSERT_ERR(cfgspace_set_int(s, cfg, NULL, 1, &d), "config: a field name is missing");
  assert_int_equal(cfgspace_set_int(s, cfg, "epilogue_subtile", 2, &d), CFG_IGNORED);
  assert_string_equal(d.msg, "epilogue_subtile is a Helion knob for other backends; ignored");
  assert_memory_equal(cfg, before, sizeof cfg); /* no failed set wrote anything */
  assert_int_equal(cfgspace_set_enum(s, cfg, "pid_type", "persistent_blocked", &d), HL_OK);
  assert_string_equal(cfgspace_get_enum(s, cfg, "pid_type", 0, "?"), "persistent_blocked");
  /* a known field of the other target is ignored, not an error */
  ConfigSpace *c = cpu_space();
  assert_int_equal(cfgspace_set_int(c, cfg, "num_warps", 4, &d), CFG_IGNORED);
  assert_string_equal(d.msg, "num_warps does not apply to target cpu; ignored");
  assert_int_equal(cfgspace_set_enum(c, cfg, "end", "plan", &d), HL_ERR);
  assert_string_equal(d.msg, "end = \"plan\" is not allowed: it must be one of \"plain\", "
                             "\"x\\\"y\"; did you mean \"plain\"?");
  cfgspace_free(c);
  cfgspace_free(s);
}

static void test_set_lists(void **state) {
  ConfigSpace *s = cuda_space();
  Diag d;
  int cfg[12], before[12];
  cfgspace_default(s, cfg, &d);
  CfgItem bs[3] = {{.kind = CFG_ITEM_INT, .i = 128},
                   {.kind = CFG_ITEM_INT, .i = 16},
                   {.kind = CFG_ITEM_INT, .i = 64}};
  assert_int_equal(cfgspace_set_list(s, cfg, "block_sizes", bs, 3, 1, &d), HL_OK);
  assert_int_equal(cfg[0], 128);
  assert_int_equal(cfg[2], 64);
  memcpy(before, cfg, sizeof cfg);
  assert_int_equal(cfgspace_set_list(s, cfg, "block_sizes", bs, 2, 1, &d), HL_ERR);
  assert_string_equal(d.msg, "block_sizes has 3 elements in this kernel; got a list of 2");
  bs[2].i = 256;
  assert_int_equal(cfgspace_set_list(s, cfg, "block_sizes", bs, 3, 1, &d), HL_ERR);
  assert_string_equal(d.msg, "block_sizes[3] = 256 is not allowed: it must be a power of two from "
                             "16 to 128");
  assert_memory_equal(cfg, before, sizeof cfg);
  /* one value sets every element; Helion's singular alias */
  assert_int_equal(cfgspace_set_int(s, cfg, "block_size", 32, &d), HL_OK);
  assert_int_equal(cfg[0] + cfg[1] + cfg[2], 96);
  assert_int_equal(cfgspace_set_enum(s, cfg, "indexing", "tensor_descriptor", &d), HL_OK);
  assert_string_equal(cfgspace_get_enum(s, cfg, "indexing", 2, "?"), "tensor_descriptor");
  /* permutations: 1-based from Lua, 0-based from JSON; nested or bare */
  CfgItem p21[2] = {{.kind = CFG_ITEM_INT, .i = 2}, {.kind = CFG_ITEM_INT, .i = 1}};
  CfgItem nested = {.kind = CFG_ITEM_LIST, .items = p21, .n = 2};
  assert_int_equal(cfgspace_set_list(s, cfg, "loop_orders", &nested, 1, 1, &d), HL_OK);
  assert_int_equal(cfg[3], 1);
  assert_int_equal(cfg[4], 0);
  assert_int_equal(cfgspace_set_list(s, cfg, "loop_orders", p21, 2, 1, &d), HL_OK);
  assert_int_equal(cfgspace_set_list(s, cfg, "loop_orders", p21, 2, 0, &d), HL_ERR);
  assert_string_equal(d.msg, "loop_orders[0] = {2, 1} is not allowed: it must be a permutation of "
                             "0..1");
  p21[0].i = 1;
  assert_int_equal(cfgspace_set_list(s, cfg, "loop_orders", &nested, 1, 1, &d), HL_ERR);
  assert_string_equal(d.msg, "loop_orders[1] = {1, 1} is not allowed: it must be a permutation of "
                             "1..2");
  CfgItem three[3] = {{.kind = CFG_ITEM_INT, .i = 1},
                      {.kind = CFG_ITEM_INT, .i = 2},
                      {.kind = CFG_ITEM_INT, .i = 3}};
  assert_int_equal(cfgspace_set_list(s, cfg, "loop_orders", three, 3, 1, &d), HL_ERR);
  assert_string_equal(d.msg, "loop_orders[1] = {1, 2, 3} is not allowed: it must be a permutation "
                             "of 1..2");
  CfgItem words[1] = {{.kind = CFG_ITEM_STR, .s = "a"}};
  CfgItem bad = {.kind = CFG_ITEM_LIST, .items = words, .n = 1};
  assert_int_equal(cfgspace_set_list(s, cfg, "loop_orders", &bad, 1, 1, &d), HL_ERR);
  assert_string_equal(d.msg, "loop_orders[1] takes a permutation of 1..2; got a list of 1");
  /* none in a nullable list */
  ConfigSpace *c = cpu_space();
  int ccfg[8];
  cfgspace_default(c, ccfg, &d);
  assert_int_equal(cfgspace_set_int(c, ccfg, "reduction_loops", 16, &d), HL_OK);
  assert_int_equal(cfgspace_set_none(c, ccfg, "reduction_loops", &d), HL_OK);
  assert_int_equal(ccfg[4], CFG_NONE);
  assert_int_equal(cfgspace_set_int(c, ccfg, "reduction_loops", 1024, &d), HL_ERR);
  assert_string_equal(d.msg, "reduction_loops[1] = 1024 is not allowed: it must be a power of two "
                             "from 8 to 512, or none");
  cfgspace_free(c);
  cfgspace_free(s);
}

/* ---- JSON ---------------------------------------------------------------------------------------
 */

static void test_json_round_trip(void **state) {
  ConfigSpace *spaces[2] = {cuda_space(), cpu_space()};
  Diag d;
  CfgRng r;
  cfg_rng_seed(&r, 11);
  for (int k = 0; k < 2; k++) {
    ConfigSpace *s = spaces[k];
    for (int i = 0; i < 50; i++) {
      int a[12], b[12];
      char json[1024];
      assert_int_equal(cfgspace_random(s, &r, a, &d), HL_OK);
      assert_true(cfgspace_to_json(s, a, i % 2 ? CFG_TEXT_MINIMAL : 0, json, sizeof json) <
                  (int)sizeof json);
      assert_int_equal(cfgspace_from_json(s, json, b, &d), HL_OK);
      assert_true(cfgspace_equal(s, a, b));
    }
    cfgspace_free(s);
  }
}

static void test_json_import(void **state) {
  ConfigSpace *s = cuda_space();
  Diag d;
  int cfg[12];
  char buf[512];
  /* Helion's own output: a bare string for a list, an empty list and a null for knobs this kernel
   * lacks, a knob of no kind, escapes and white space */
  const char *helion =
      "{\n  \"block_sizes\": [128, 64, 32],\n  \"loop_orders\": [[1, 0]],\n"
      "  \"num_warps\": 8, \"num_stages\": 3,\n  \"indexing\": \"tensor_\\u0064escriptor\",\n"
      "  \"range_warp_specializes\": [], \"maxnreg\": null, \"epilogue_subtile\": 2,\n"
      "  \"pid_type\": \"flat\", \"vector_width\": 16\n}\n";
  assert_int_equal(cfgspace_from_json(s, helion, cfg, &d), HL_OK);
  cfgspace_to_lua(s, cfg, 0, buf, sizeof buf);
  assert_string_equal(buf, "helua.Config{block_sizes = {128, 64, 32}, loop_orders = {{2, 1}}, "
                           "num_warps = 8, num_stages = 3, indexing = {\"tensor_descriptor\", "
                           "\"tensor_descriptor\", \"tensor_descriptor\"}, pid_type = \"flat\"}");
  assert_int_equal(cfgspace_from_json(s, "{}", cfg, &d), HL_OK);
  assert_int_equal(cfgspace_get(s, cfg, "num_warps", 0, 0), 4);
  struct {
    const char *json, *msg;
  } bad[] = {
      {"{\"num_warps\": 4.5}", "JSON config: config values are integers at offset 14"},
      {"{\"num_warps\": 4} x", "JSON config: trailing text after the config at offset 17"},
      {"{\"num_warps\" 4}", "JSON config: expected ':' at offset 13"},
      {"[1]", "JSON config: expected '{' at offset 0"},
      {"{\"num_warps\": 48}",
       "JSON config: num_warps = 48 is not allowed: it must be a power of two from 1 to 32"},
      {"{\"block_sizes\": [64, 64]}",
       "JSON config: block_sizes has 3 elements in this kernel; got a list of 2"},
      {"{\"loop_orders\": [[1, 2]]}",
       "JSON config: loop_orders[0] = {1, 2} is not allowed: it must be a permutation of 0..1"},
      {"{\"num_warp\": 4}",
       "JSON config: unknown config field \"num_warp\"; did you mean \"num_warps\"?"},
      {"{\"indexing\": [\"pointer\", nul]}", "JSON config: expected a value at offset 25"},
      {"{\"pid_type\": \"fl", "JSON config: unterminated string at offset 16"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(cfgspace_from_json(s, bad[i].json, cfg, &d), HL_ERR);
    assert_string_equal(d.msg, bad[i].msg);
  }
  assert_int_equal(cfgspace_from_json(s, "{\"num_warps\": 32}", cfg, &d), HL_OK); /* 1024 threads */
  ConfigSpace *t = cuda_space();
  assert_int_equal(cfgspace_constrain_max_threads(t, 512, &d), HL_OK);
  ASSERT_ERR(cfgspace_from_json(t, "{\"num_warps\": 32}", cfg, &d),
             "num_warps = 32 asks for 1024 threads per program, more than the 512 the device "
             "allows; use num_warps <= 16");
  cfgspace_free(t);
  /* a config from another shape: clamped into this space's ranges */
  const char *other = "{\"block_sizes\": [512, 8, 100], \"num_warps\": 64}";
  ASSERT_ERR(cfgspace_from_json(s, other, cfg, &d),
             "JSON config: block_sizes[0] = 512 is not allowed: it must be a power of two from 16 "
             "to 256");
  assert_int_equal(cfgspace_from_json_clamped(s, other, cfg, &d), HL_OK);
  cfgspace_to_lua(s, cfg, CFG_TEXT_MINIMAL, buf, sizeof buf);
  assert_string_equal(buf, "helua.Config{block_sizes = {256, 16, 64}, num_warps = 32}");
  /* every prefix of a valid config fails cleanly (the sanitizers watch for overruns) */
  size_t n = strlen(helion);
  for (size_t k = 0; k + 1 < n; k++) { /* helion ends in "}\n" */
    char prefix[512];
    memcpy(prefix, helion, k);
    prefix[k] = '\0';
    assert_int_equal(cfgspace_from_json(s, prefix, cfg, &d), HL_ERR);
  }
  cfgspace_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_text), cmocka_unit_test(test_none_perm_tunables_text),
      cmocka_unit_test(test_describe),     cmocka_unit_test(test_set_scalars),
      cmocka_unit_test(test_set_lists),    cmocka_unit_test(test_json_round_trip),
      cmocka_unit_test(test_json_import),
  };
  return cmocka_run_group_tests_name("config_space_text", tests, NULL, NULL);
}
