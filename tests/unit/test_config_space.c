/* Unit tests: config-space fragments, building, normalize, search ops and allocation failures.
 * Part of src/config (config space) tests; text forms and set_* are in test_config_space_text.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "config/config.h"

/* Fixed outputs of the seeded generator: a change here breaks replaying a tuning run. */
#define RNG42_FIRST 1546998764402558742ull
#define RANDOM7                                                                                    \
  { 256, 256, 64, 1, 0, 64, 1, 16, 5, 0, 1, 1, 0 }

static const char *const indexing3[] = {"pointer", "tensor_descriptor", "block_ptr"};

/* A matmul-like space: three block sizes, one 2-D loop order, the CUDA or CPU scalars. */
static ConfigSpace *matmul_space(CfgTarget t, Diag *d) {
  ConfigSpace *s = cfgspace_new(t, d);
  if (!s) return NULL;
  bool cuda = t == CFG_TARGET_CUDA;
  if (cfgspace_add_known(s, "range_unroll_factors", 0, d) || /* out of order on purpose */
      cfgspace_add_block_size(s, "block_sizes", 0, 16, 256, 64, d) ||
      cfgspace_add_block_size(s, "block_sizes", 1, 16, 256, 64, d) ||
      cfgspace_add_block_size(s, "block_sizes", 2, 16, 128, 32, d) ||
      cfgspace_add_loop_order(s, 0, 2, d) ||
      (cuda &&
       (cfgspace_add_known(s, "pid_type", 0, d) || cfgspace_add_known(s, "num_warps", 0, d) ||
        cfgspace_add_known(s, "l2_groupings", 0, d) || cfgspace_add_known(s, "num_stages", 0, d) ||
        cfgspace_add_known(s, "indexing", 0, d) || cfgspace_add_known(s, "indexing", 1, d) ||
        cfgspace_add_known(s, "indexing", 2, d))) ||
      (!cuda &&
       (cfgspace_add_known(s, "vector_width", 0, d) || cfgspace_add_cpu_threads(s, 8, 8, d)))) {
    cfgspace_free(s);
    return NULL;
  }
  return s;
}

/* ---- random numbers ------------------------------------------------------------------------ */

static void test_rng_reference(void **state) {
  uint64_t st = 0;
  assert_int_equal(cfg_splitmix64(&st), 0xe220a8397b1dcdafull); /* Vigna's splitmix64.c */
  CfgRng r = {{1, 2, 3, 4}};                                    /* xoshiro256** reference */
  assert_int_equal(cfg_rng_next(&r), 11520ull);
  assert_int_equal(cfg_rng_next(&r), 0ull);
  assert_int_equal(cfg_rng_next(&r), 1509978240ull);
  assert_int_equal(cfg_rng_next(&r), 1215971899390074240ull);
}

static void test_rng_seeded(void **state) {
  CfgRng a, b;
  cfg_rng_seed(&a, 42);
  cfg_rng_seed(&b, 42);
  uint64_t first = cfg_rng_next(&a);
  assert_int_equal(first, cfg_rng_next(&b));
  assert_int_equal(first, RNG42_FIRST);
  assert_int_equal(cfg_rng_below(&a, 0), 0);
  int hist[10] = {0};
  for (int i = 0; i < 10000; i++) {
    uint64_t x = cfg_rng_below(&a, 10);
    assert_true(x < 10);
    hist[x]++;
    double u = cfg_rng_unit(&a);
    assert_true(u >= 0.0 && u < 1.0);
  }
  for (int i = 0; i < 10; i++)
    assert_true(hist[i] > 850 && hist[i] < 1150);
}

/* ---- fragments --------------------------------------------------------------------------------
 */

static void assert_ints(const int *got, const int *want, int n) {
  for (int i = 0; i < n; i++)
    assert_int_equal(got[i], want[i]);
}

static void test_pow2_fragment(void **state) {
  CfgFragment f = cfg_pow2(16, 256, 64);
  int v, out[64];
  assert_int_equal(cfg_frag_validate(&f, "f", NULL), HL_OK);
  assert_true(cfg_frag_cardinality(&f) == 5);
  cfg_frag_default(&f, &v);
  assert_int_equal(v, 64);
  assert_int_equal(cfg_frag_neighbours(&f, &v, 1, out), 2);
  assert_ints(out, (int[]){32, 128}, 2);
  assert_int_equal(cfg_frag_neighbours(&f, &v, 2, out), 4);
  assert_ints(out, (int[]){16, 32, 128, 256}, 4);
  assert_int_equal(cfg_frag_neighbours(&f, &v, 100, out), 4); /* radius beyond the range */
  assert_int_equal(cfg_frag_neighbour_bound(&f, 100), 4);
  CfgFragment wide = cfg_int(-1000000, 1000000, 0);
  assert_int_equal(cfg_frag_neighbour_bound(&wide, 1 << 30), 2 * CFG_RADIUS_MAX);
  v = 16;
  assert_int_equal(cfg_frag_neighbours(&f, &v, 1, out), 1);
  assert_int_equal(out[0], 32);
  assert_int_equal(cfg_frag_neighbours(&f, &v, 0, out), 1); /* radius < 1 counts as 1 */
  /* clamp: round down to a power of two, then into the range */
  int cases[][2] = {{48, 32}, {1000, 256}, {3, 16}, {-5, 16}, {CFG_NONE, 64}, {128, 128}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    v = cases[i][0];
    assert_int_equal(cfg_frag_clamp(&f, &v), cases[i][0] != cases[i][1]);
    assert_int_equal(v, cases[i][1]);
  }
  double e;
  v = 64;
  cfg_frag_encode(&f, &v, &e);
  assert_true(e == 6.0);
  /* lo == hi: one value, no neighbours */
  CfgFragment one = cfg_pow2(32, 32, 32);
  v = 32;
  assert_true(cfg_frag_cardinality(&one) == 1);
  assert_int_equal(cfg_frag_neighbours(&one, &v, 3, out), 0);
  /* nullable: none sits one step above hi */
  CfgFragment n = cfg_or_none(cfg_pow2(8, 64, 8), true);
  assert_true(cfg_frag_cardinality(&n) == 5);
  cfg_frag_default(&n, &v);
  assert_int_equal(v, CFG_NONE);
  assert_int_equal(cfg_frag_neighbours(&n, &v, 1, out), 1);
  assert_int_equal(out[0], 64);
  v = 64;
  assert_int_equal(cfg_frag_neighbours(&n, &v, 1, out), 2);
  assert_ints(out, (int[]){32, CFG_NONE}, 2);
  v = CFG_NONE;
  cfg_frag_encode(&n, &v, &e);
  assert_true(e == 7.0);
}

static void test_int_fragment(void **state) {
  CfgFragment f = cfg_int(0, 4, 0);
  int v = 0, out[16];
  assert_true(cfg_frag_cardinality(&f) == 5);
  assert_int_equal(cfg_frag_neighbours(&f, &v, 1, out), 1);
  assert_int_equal(out[0], 1);
  v = 2;
  assert_int_equal(cfg_frag_neighbours(&f, &v, 2, out), 4);
  assert_ints(out, (int[]){0, 1, 3, 4}, 4);
  v = 9;
  assert_true(cfg_frag_clamp(&f, &v));
  assert_int_equal(v, 4);
  CfgFragment one = cfg_int(3, 3, 7); /* default outside: clamped */
  cfg_frag_default(&one, &v);
  assert_int_equal(v, 3);
  assert_int_equal(cfg_frag_neighbours(&one, &v, 5, out), 0);
  CfgFragment n = cfg_or_none(cfg_int(1, 2, 1), false);
  v = 2;
  assert_int_equal(cfg_frag_neighbours(&n, &v, 1, out), 2);
  assert_ints(out, (int[]){1, CFG_NONE}, 2);
}

static void test_enum_bool_perm_fragments(void **state) {
  CfgFragment e = cfg_enum(indexing3, 3, 1);
  int v, out[64];
  cfg_frag_default(&e, &v);
  assert_int_equal(v, 1);
  assert_int_equal(cfg_frag_neighbours(&e, &v, 1, out), 2);
  assert_ints(out, (int[]){0, 2}, 2);
  double enc[3];
  cfg_frag_encode(&e, &v, enc);
  assert_true(enc[0] == 0 && enc[1] == 1 && enc[2] == 0);
  assert_int_equal(cfg_frag_encode_dim(&e), 3);

  CfgFragment b = cfg_bool(false);
  v = 0;
  assert_int_equal(cfg_frag_neighbours(&b, &v, 1, out), 1);
  assert_int_equal(out[0], 1);
  CfgFragment nb = cfg_or_none(cfg_bool(false), true);
  v = CFG_NONE;
  assert_int_equal(cfg_frag_neighbours(&nb, &v, 1, out), 2);
  assert_ints(out, (int[]){0, 1}, 2);
  assert_int_equal(cfg_frag_encode_dim(&nb), 3);
  cfg_frag_encode(&nb, &v, enc);
  assert_true(enc[0] == 1 && enc[1] == 0 && enc[2] == 0);

  CfgFragment p = cfg_perm(3);
  int id[3];
  cfg_frag_default(&p, id);
  assert_ints(id, (int[]){0, 1, 2}, 3);
  assert_int_equal(cfg_frag_width(&p), 3);
  assert_true(cfg_frag_cardinality(&p) == 6);
  assert_int_equal(cfg_frag_neighbours(&p, id, 1, out), 3);
  assert_ints(out, (int[]){1, 0, 2, 2, 1, 0, 0, 2, 1}, 9);
  CfgFragment p4 = cfg_perm(4), p1 = cfg_perm(1);
  int id4[4] = {0, 1, 2, 3};
  assert_int_equal(cfg_frag_neighbours(&p4, id4, 1, out), 6);
  assert_int_equal(cfg_frag_neighbours(&p1, id4, 1, out), 0);
  int bad[3] = {0, 0, 2};
  assert_false(cfg_frag_contains(&p, bad));
  assert_true(cfg_frag_clamp(&p, bad));
  assert_ints(bad, (int[]){0, 1, 2}, 3);
}

static void test_fragment_mutate(void **state) {
  CfgRng r;
  cfg_rng_seed(&r, 1);
  CfgFragment f = cfg_pow2(16, 256, 64);
  int out;
  cfg_frag_mutate(&f, (int[]){64}, (int[]){16}, (int[]){32}, &r, &out);
  assert_int_equal(out, 32); /* b < c: halve */
  cfg_frag_mutate(&f, (int[]){64}, (int[]){32}, (int[]){16}, &r, &out);
  assert_int_equal(out, 128);
  cfg_frag_mutate(&f, (int[]){256}, (int[]){32}, (int[]){16}, &r, &out);
  assert_int_equal(out, 256); /* clamped at hi */
  cfg_frag_mutate(&f, (int[]){64}, (int[]){32}, (int[]){32}, &r, &out);
  assert_int_equal(out, 64); /* b == c */
  CfgFragment i = cfg_int(0, 4, 0);
  cfg_frag_mutate(&i, (int[]){2}, (int[]){4}, (int[]){0}, &r, &out);
  assert_int_equal(out, 3);
  CfgFragment e = cfg_enum(indexing3, 3, 0);
  for (int k = 0; k < 20; k++) {
    cfg_frag_mutate(&e, (int[]){0}, (int[]){0}, (int[]){2}, &r, &out);
    assert_int_equal(out, 2); /* the one of b, c that is not a */
    cfg_frag_mutate(&e, (int[]){0}, (int[]){1}, (int[]){2}, &r, &out);
    assert_true(out == 1 || out == 2);
  }
  CfgFragment b = cfg_bool(false);
  cfg_frag_mutate(&b, (int[]){0}, (int[]){1}, (int[]){0}, &r, &out);
  assert_int_equal(out, 1);
  CfgFragment p = cfg_perm(4);
  int a[4] = {0, 1, 2, 3}, pb[4] = {1, 0, 2, 3}, po[4];
  for (int k = 0; k < 20; k++) {
    cfg_frag_mutate(&p, a, pb, a, &r, po);
    assert_true(cfg_frag_contains(&p, po));
    int moved = 0;
    for (int j = 0; j < 4; j++)
      moved += po[j] != a[j];
    assert_int_equal(moved, 2); /* one swap */
  }
  cfg_frag_mutate(&p, a, pb, pb, &r, po);
  assert_ints(po, a, 4);
}

static void test_fragment_random_in_domain(void **state) {
  CfgRng r;
  cfg_rng_seed(&r, 99);
  CfgFragment frags[] = {cfg_pow2(16, 256, 64),
                         cfg_int(-2, 3, 0),
                         cfg_enum(indexing3, 3, 0),
                         cfg_bool(true),
                         cfg_perm(4),
                         cfg_or_none(cfg_pow2(8, 8, 8), true),
                         cfg_or_none(cfg_bool(false), true)};
  for (size_t k = 0; k < sizeof frags / sizeof frags[0]; k++) {
    int seen_distinct = 0, seen[16], v[CFG_PERM_MAX];
    for (int i = 0; i < 400; i++) {
      cfg_frag_random(&frags[k], &r, v);
      assert_true(cfg_frag_contains(&frags[k], v));
      bool fresh = true;
      for (int j = 0; j < seen_distinct; j++)
        fresh = fresh && seen[j] != v[0];
      if (fresh) seen[seen_distinct++] = v[0];
    }
    /* every value of the first slot shows up (PERM: every first element) */
    int want = frags[k].kind == CFG_PERM ? 4 : (int)cfg_frag_cardinality(&frags[k]);
    assert_int_equal(seen_distinct, want);
  }
}

static void test_fragment_validate_and_check(void **state) {
  Diag d;
  CfgFragment bad[] = {cfg_pow2(3, 16, 4),
                       cfg_pow2(32, 16, 16),
                       cfg_int(5, 4, 4),
                       cfg_perm(0),
                       cfg_perm(CFG_PERM_MAX + 1),
                       cfg_enum(NULL, 0, 0),
                       cfg_enum((const char *const[]){"a", "a"}, 2, 0),
                       cfg_or_none(cfg_perm(2), false)};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(cfg_frag_validate(&bad[i], "x", &d), HL_ERR);
  assert_string_equal(d.msg, "x: only power-of-two, integer and boolean fragments can be none");
  cfg_frag_validate(&bad[0], "block_sizes[1]", &d);
  assert_string_equal(d.msg, "block_sizes[1]: a power-of-two fragment needs powers of two "
                             "lo <= hi <= 2^30, got 3..16");
  CfgFragment w = cfg_pow2(1, 32, 4);
  assert_int_equal(cfg_frag_check(&w, (int[]){48}, "num_warps", &d), HL_ERR);
  assert_string_equal(d.msg,
                      "num_warps = 48 is not allowed: it must be a power of two from 1 to 32");
  CfgFragment p = cfg_perm(2);
  assert_int_equal(cfg_frag_check(&p, (int[]){1, 1}, "loop_orders[1]", &d), HL_ERR);
  assert_string_equal(d.msg,
                      "loop_orders[1] = {2, 2} is not allowed: it must be a permutation of 1..2");
  assert_int_equal(cfg_frag_check(&w, (int[]){8}, "num_warps", &d), HL_OK);
}

/* ---- building -----------------------------------------------------------------------------------
 */

static void test_space_layout(void **state) {
  Diag d;
  ConfigSpace *s = matmul_space(CFG_TARGET_CUDA, &d);
  assert_non_null(s);
  const char *order[] = {"block_sizes", "loop_orders", "l2_groupings", "range_unroll_factors",
                         "num_warps",   "num_stages",  "indexing",     "pid_type"};
  assert_int_equal(cfgspace_field_count(s), 8);
  for (int i = 0; i < 8; i++)
    assert_string_equal(cfgspace_field(s, i)->name, order[i]);
  assert_int_equal(cfgspace_slots(s), 3 + 2 + 1 + 1 + 1 + 1 + 3 + 1);
  assert_int_equal(cfgspace_unit_count(s), 3 + 1 + 1 + 1 + 1 + 1 + 3 + 1);
  assert_int_equal(cfgspace_field(s, 1)->offset, 3);
  assert_int_equal(cfgspace_field(s, 2)->offset, 5);
  CfgUnit u = cfgspace_unit(s, 10);
  assert_int_equal(u.field, 6);
  assert_int_equal(u.elem, 2);
  assert_int_equal(u.offset, 11);
  assert_int_equal(cfgspace_find(s, "num_warps"), 4);
  assert_int_equal(cfgspace_find(s, "maxnreg"), -1);
  assert_true(cfgspace_cardinality(s) == 5.0 * 5 * 4 * 2 * 7 * 5 * 6 * 8 * 2 * 2 * 2 * 4);
  int cfg[32];
  assert_int_equal(cfgspace_default(s, cfg, &d), HL_OK);
  assert_int_equal(cfgspace_get(s, cfg, "num_warps", 0, -1), 4);
  assert_int_equal(cfgspace_get(s, cfg, "block_sizes", 2, -1), 32);
  assert_int_equal(cfgspace_get(s, cfg, "block_sizes", 3, -1), -1);
  assert_int_equal(cfgspace_get(s, cfg, "vector_width", 0, 8), 8);
  assert_string_equal(cfgspace_get_enum(s, cfg, "pid_type", 0, "?"), "flat");
  assert_string_equal(cfgspace_get_enum(s, cfg, "num_warps", 0, "?"), "?");
  /* replacing an element keeps the layout */
  CfgFragment bs = cfg_pow2(16, 512, 128);
  assert_int_equal(cfgspace_set_element(s, "block_sizes", 0, &bs, &d), HL_OK);
  assert_int_equal(cfgspace_slots(s), 13);
  assert_int_equal(cfgspace_field(s, 0)->elems[0].hi, 512);
  cfgspace_free(s);
}

static void test_space_builder_errors(void **state) {
  Diag d;
  ConfigSpace *s = cfgspace_new(CFG_TARGET_CPU, &d);
  assert_int_equal(cfgspace_add_known(s, "num_warps", 0, &d), HL_ERR);
  assert_string_equal(d.msg, "config space: num_warps does not apply to target cpu (it does not "
                             "change that target's code); leave it out of the space");
  assert_int_equal(cfgspace_add_known(s, "num_warp", 0, &d), HL_ERR);
  assert_string_equal(d.msg,
                      "config space: unknown field \"num_warp\"; did you mean \"num_warps\"?");
  CfgFragment f = cfg_int(0, 3, 0);
  assert_int_equal(cfgspace_add(s, "my_knob", &f, &d), HL_ERR);
  assert_string_equal(d.msg, "config space: unknown field \"my_knob\"; add user knobs with "
                             "cfgspace_add_tunable");
  assert_int_equal(cfgspace_add_tunable(s, "block_sizes", &f, &d), HL_ERR);
  assert_int_equal(cfgspace_add_tunable(s, "2bad", &f, &d), HL_ERR);
  assert_int_equal(cfgspace_add_tunable(s, "my_knob", &f, &d), HL_OK);
  assert_int_equal(cfgspace_add_tunable(s, "my_knob", &f, &d), HL_ERR);
  assert_string_equal(d.msg, "config space: my_knob is already in the space");
  assert_int_equal(cfgspace_add_block_size(s, NULL, 1, 16, 64, 16, &d), HL_ERR);
  assert_string_equal(d.msg,
                      "config space: block_sizes: element 2 cannot be added before element 1");
  assert_int_equal(cfgspace_add_block_size(s, NULL, 0, 0, 64, 16, &d), HL_ERR);
  assert_int_equal(cfgspace_add(s, "block_sizes", &f, &d), HL_ERR);
  assert_string_equal(d.msg, "config space: block_sizes is a list field");
  assert_int_equal(cfgspace_add_known(s, "block_sizes", 0, &d), HL_ERR);
  assert_int_equal(cfgspace_add_loop_order(s, 0, CFG_PERM_MAX + 1, &d), HL_ERR);
  assert_string_equal(d.msg, "config space: loop_orders[1]: a permutation fragment needs 1 to 16 "
                             "elements, got 17");
  /* a non-power-of-two range is rounded up, the default clamped */
  assert_int_equal(cfgspace_add_block_size(s, NULL, 0, 10, 100, 1000, &d), HL_OK);
  const CfgFragment *b = &cfgspace_field(s, 0)->elems[0];
  assert_int_equal(b->lo, 16);
  assert_int_equal(b->hi, 128);
  assert_int_equal(b->def, 128);
  assert_int_equal(cfgspace_add_tunable(s, "a_knob", &f, &d), HL_OK);
  assert_string_equal(cfgspace_field(s, 1)->name, "a_knob"); /* tunables last, by name */
  assert_string_equal(cfgspace_field(s, 2)->name, "my_knob");
  assert_int_equal(cfgspace_slots(s), 3);
  cfgspace_free(s);
  assert_null(cfgspace_new((CfgTarget)7, &d));
  CfgTarget t;
  assert_int_equal(cfg_target_from_name("cuda", &t, &d), HL_OK);
  assert_int_equal(t, CFG_TARGET_CUDA);
  assert_int_equal(cfg_target_from_name("gpu", &t, &d), HL_ERR);
}

static void test_known_fields_table(void **state) {
  int n;
  const CfgKnownField *k = cfg_known_fields(&n);
  assert_int_equal(n, 22);
  /* helion.Config's order (lua/helua/config.lua prints the same) */
  const char *order[] = {"block_sizes",
                         "loop_orders",
                         "flatten_loops",
                         "l2_groupings",
                         "reduction_loops",
                         "range_unroll_factors",
                         "range_warp_specializes",
                         "range_num_stages",
                         "range_multi_buffers",
                         "range_flattens",
                         "static_ranges",
                         "load_eviction_policies",
                         "num_warps",
                         "num_stages",
                         "indexing",
                         "atomic_indexing",
                         "pid_type",
                         "num_sm_multiplier",
                         "maxnreg",
                         "wgmma",
                         "vector_width",
                         "cpu_threads"};
  for (int i = 0; i < n; i++)
    assert_string_equal(k[i].name, order[i]);
  assert_true(cfg_field_applies("block_sizes", CFG_TARGET_CPU));
  assert_false(cfg_field_applies("num_warps", CFG_TARGET_CPU));
  assert_false(cfg_field_applies("vector_width", CFG_TARGET_CUDA));
  assert_true(cfg_field_applies("anything_else", CFG_TARGET_CPU));
  for (int i = 0; i < n; i++) {
    assert_true(k[i].targets != 0);
    if (k[i].has_standard)
      assert_int_equal(cfg_frag_validate(&k[i].standard, k[i].name, NULL), HL_OK);
  }
}

static void test_reduction_loops(void **state) {
  Diag d;
  ConfigSpace *s = cfgspace_new(CFG_TARGET_CPU, &d);
  assert_int_equal(cfgspace_add_reduction_loop(s, 0, 1000, 4096, &d), HL_OK);
  assert_int_equal(cfgspace_add_reduction_loop(s, 1, 100000, 4096, &d), HL_OK);
  assert_int_equal(cfgspace_add_reduction_loop(s, 2, 4, 4096, &d), HL_OK);
  const CfgField *f = cfgspace_field(s, 0);
  assert_int_equal(f->elems[0].lo, 8);
  assert_int_equal(f->elems[0].hi, 512);
  assert_int_equal(f->elems[0].def, CFG_NONE);
  assert_int_equal(f->elems[1].hi, 65536);
  assert_int_equal(f->elems[1].def, 4096);
  assert_int_equal(f->elems[2].hi, 8);
  assert_true(cfg_frag_cardinality(&f->elems[2]) == 2);
  assert_int_equal(cfgspace_add_reduction_loop(s, 3, 0, 4096, &d), HL_ERR);
  cfgspace_free(s);
}

/* ---- search operations ------------------------------------------------------------------------
 */

static void test_random_is_deterministic(void **state) {
  Diag d;
  ConfigSpace *s = matmul_space(CFG_TARGET_CUDA, &d);
  int a[14], b[14];
  CfgRng r1, r2;
  cfg_rng_seed(&r1, 7);
  cfg_rng_seed(&r2, 7);
  assert_int_equal(cfgspace_random(s, &r1, a, &d), HL_OK);
  assert_int_equal(cfgspace_random(s, &r2, b, &d), HL_OK);
  assert_true(cfgspace_equal(s, a, b));
  assert_ints(a, (int[])RANDOM7, 13);
  assert_int_equal(cfgspace_normalize(s, a, false, &d), HL_OK);
  cfgspace_free(s);
}

static void test_neighbour_counts(void **state) {
  Diag d;
  ConfigSpace *s = matmul_space(CFG_TARGET_CUDA, &d);
  int cfg[14];
  CfgList l;
  cfglist_init(&l, s);
  cfgspace_default(s, cfg, &d);
  /* radius 1: 6 block sizes + 1 swap + l2 1 + unroll 1 + warps 2 + stages 1 + indexing 3 + pid 3,
   * plus the uniform move indexing = all "tensor_descriptor" */
  assert_int_equal(cfgspace_neighbours(s, cfg, 1, &l, &d), HL_OK);
  assert_int_equal(l.count, 19);
  for (int i = 0; i < l.count; i++) {
    assert_false(cfgspace_equal(s, cfglist_at(&l, i), cfg));
    assert_int_equal(cfgspace_normalize(s, cfglist_at(&l, i), false, &d), HL_OK);
  }
  cfglist_clear(&l);
  assert_int_equal(cfgspace_neighbours(s, cfg, 2, &l, &d), HL_OK);
  assert_int_equal(l.count, 29);
  /* a constraint folds num_warps = 16 back onto 8, a duplicate */
  assert_int_equal(cfgspace_constrain_max_threads(s, 256, &d), HL_OK);
  cfglist_clear(&l);
  assert_int_equal(cfgspace_neighbours(s, cfg, 2, &l, &d), HL_OK);
  assert_int_equal(l.count, 28);
  cfglist_clear(&l);
  assert_int_equal(cfgspace_neighbours_pairs(s, cfg, "block_sizes", 1, &l, &d), HL_OK);
  assert_int_equal(l.count, 12);
  assert_int_equal(cfgspace_neighbours_pairs(s, cfg, "no_such", 1, &l, &d), HL_OK);
  assert_int_equal(l.count, 12);
  cfglist_free(&l);
  cfgspace_free(s);
}

static void test_mutation_and_crossover_stay_in_domain(void **state) {
  Diag d;
  ConfigSpace *s = matmul_space(CFG_TARGET_CUDA, &d);
  cfgspace_constrain_max_threads(s, 512, &d);
  cfgspace_constrain_numel(s, "block_sizes", 1 << 18, &d);
  CfgRng r;
  cfg_rng_seed(&r, 3);
  int pop[4][14], out[14];
  for (int i = 0; i < 4; i++)
    assert_int_equal(cfgspace_random(s, &r, pop[i], &d), HL_OK);
  int changed = 0;
  for (int i = 0; i < 500; i++) {
    assert_int_equal(cfgspace_mutate(s, pop[i % 4], pop[(i + 1) % 4], pop[(i + 2) % 4],
                                     pop[(i + 3) % 4], 0.8, &r, out, &d),
                     HL_OK);
    assert_int_equal(cfgspace_normalize(s, out, false, &d), HL_OK);
    changed += !cfgspace_equal(s, out, pop[i % 4]);
    assert_int_equal(cfgspace_crossover(s, pop[0], pop[1], 0.5, &r, out, &d), HL_OK);
    assert_int_equal(cfgspace_normalize(s, out, false, &d), HL_OK);
  }
  assert_true(changed > 100);
  /* cr = 0 still mutates exactly one unit; x = NULL means x = a */
  int a[14], b[14];
  cfgspace_default(s, a, &d);
  memcpy(b, a, sizeof a);
  b[0] = 128;
  assert_int_equal(cfgspace_mutate(s, NULL, a, a, a, 0.0, &r, out, &d), HL_OK);
  assert_true(cfgspace_equal(s, out, a)); /* b == c everywhere: nothing moves */
  assert_int_equal(cfgspace_crossover(s, a, b, 1.0, &r, out, &d), HL_OK);
  assert_true(cfgspace_equal(s, out, b));
  cfgspace_free(s);
}

static void test_normalize_constraints(void **state) {
  Diag d;
  ConfigSpace *s = matmul_space(CFG_TARGET_CUDA, &d);
  assert_int_equal(cfgspace_add_known(s, "num_sm_multiplier", 0, &d), HL_OK);
  assert_int_equal(cfgspace_add_known(s, "maxnreg", 0, &d), HL_OK);
  cfgspace_constrain_max_threads(s, 512, &d);
  cfgspace_constrain_numel(s, "block_sizes", 65536, &d);
  cfgspace_constrain_persistent_only(s, &d);
  int cfg[16];
  cfgspace_default(s, cfg, &d);
  int nw = cfgspace_field(s, cfgspace_find(s, "num_warps"))->offset;
  cfg[nw] = 32;
  assert_int_equal(cfgspace_normalize(s, cfg, false, &d), HL_ERR);
  assert_string_equal(d.msg, "num_warps = 32 asks for 1024 threads per program, more than the 512 "
                             "the device allows; use num_warps <= 16");
  assert_int_equal(cfgspace_normalize(s, cfg, true, &d), HL_OK);
  assert_int_equal(cfg[nw], 16);
  cfg[0] = 256, cfg[1] = 256, cfg[2] = 128;
  assert_int_equal(cfgspace_normalize(s, cfg, false, &d), HL_ERR);
  assert_string_equal(d.msg, "block_sizes = {256, 256, 128}: the tile has 8388608 elements, more "
                             "than the limit of 65536; make the blocks smaller");
  assert_int_equal(cfgspace_normalize(s, cfg, true, &d), HL_OK);
  assert_ints(cfg, (int[]){32, 32, 64}, 3); /* the largest halves first, earliest on ties */
  /* out-of-domain units: check names the unit, fix clamps */
  cfg[1] = 20;
  assert_int_equal(cfgspace_normalize(s, cfg, false, &d), HL_ERR);
  assert_string_equal(d.msg, "block_sizes[2] = 20 is not allowed: it must be a power of two from "
                             "16 to 256");
  assert_int_equal(cfgspace_normalize(s, cfg, true, &d), HL_OK);
  assert_int_equal(cfg[1], 16);
  /* persistent-only knobs reset unless pid_type is persistent */
  int mr = cfgspace_field(s, cfgspace_find(s, "maxnreg"))->offset;
  int pid = cfgspace_field(s, cfgspace_find(s, "pid_type"))->offset;
  cfg[mr] = 64;
  assert_int_equal(cfgspace_normalize(s, cfg, false, &d), HL_OK); /* check mode accepts */
  assert_int_equal(cfgspace_normalize(s, cfg, true, &d), HL_OK);
  assert_int_equal(cfg[mr], CFG_NONE);
  cfg[mr] = 64, cfg[pid] = 2; /* persistent_blocked */
  assert_int_equal(cfgspace_normalize(s, cfg, true, &d), HL_OK);
  assert_int_equal(cfg[mr], 64);
  cfgspace_free(s);
  /* a constraint nothing can satisfy */
  s = cfgspace_new(CFG_TARGET_CPU, &d);
  cfgspace_add_block_size(s, NULL, 0, 128, 256, 128, &d);
  cfgspace_add_block_size(s, NULL, 1, 128, 256, 128, &d);
  cfgspace_constrain_numel(s, NULL, 100, &d);
  assert_int_equal(cfgspace_default(s, cfg, &d), HL_ERR);
  assert_string_equal(d.msg, "the default config breaks a constraint: block_sizes = {128, 128}: "
                             "the tile has 16384 elements, more than the limit of 100; make the "
                             "blocks smaller");
  CfgRng r;
  cfg_rng_seed(&r, 1);
  assert_int_equal(cfgspace_random(s, &r, cfg, &d), HL_ERR);
  assert_non_null(strstr(d.msg, "no random config met the constraints in 64 draws"));
  cfgspace_free(s);
}

static void test_encode_hash_fingerprint(void **state) {
  Diag d;
  ConfigSpace *s = matmul_space(CFG_TARGET_CUDA, &d);
  assert_int_equal(cfgspace_encode_dim(s), 3 + 2 + 1 + 1 + 1 + 1 + 6 + 4);
  int cfg[14];
  double e[19];
  cfgspace_default(s, cfg, &d);
  cfgspace_encode(s, cfg, e);
  double want[19] = {6, 6, 5, 0, 1, 0, 0, 2, 1, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0};
  for (int i = 0; i < 19; i++)
    assert_true(e[i] == want[i]);
  int other[14];
  memcpy(other, cfg, sizeof cfg);
  assert_int_equal(cfgspace_hash(s, cfg), cfgspace_hash(s, other));
  other[0] = 32;
  assert_int_not_equal(cfgspace_hash(s, cfg), cfgspace_hash(s, other));
  assert_false(cfgspace_equal(s, cfg, other));
  /* the fingerprint follows the definition, not the build order of equal definitions */
  ConfigSpace *t = matmul_space(CFG_TARGET_CUDA, &d);
  uint64_t fp = cfgspace_fingerprint(s);
  assert_int_equal(fp, cfgspace_fingerprint(t));
  cfgspace_add_block_size(t, NULL, 2, 16, 128, 64, &d); /* only a default changes */
  assert_int_not_equal(fp, cfgspace_fingerprint(t));
  cfgspace_add_block_size(t, NULL, 2, 16, 128, 32, &d);
  assert_int_equal(fp, cfgspace_fingerprint(t));
  cfgspace_constrain_max_threads(t, 1024, &d);
  assert_int_not_equal(fp, cfgspace_fingerprint(t));
  cfgspace_free(t);
  ConfigSpace *c = matmul_space(CFG_TARGET_CPU, &d);
  assert_int_not_equal(fp, cfgspace_fingerprint(c));
  cfgspace_free(c);
  cfgspace_free(s);
}

/* ---- allocation failures ------------------------------------------------------------------------
 */

/* Everything the tuner does with a space, with the n-th allocation failing. 1 when it all worked.
 */
static int exercise(long fail_at) {
  Diag d;
  long before = mem_live_count();
  mem_fail_after(fail_at);
  int ok = 0, cfg[14];
  CfgList l = {0};
  ConfigSpace *s = matmul_space(CFG_TARGET_CUDA, &d);
  if (!s) goto out;
  cfglist_init(&l, s);
  CfgRng r;
  cfg_rng_seed(&r, 5);
  if (cfgspace_constrain_max_threads(s, 1024, &d) || cfgspace_default(s, cfg, &d) ||
      cfgspace_neighbours(s, cfg, 2, &l, &d) ||
      cfgspace_neighbours_pairs(s, cfg, "block_sizes", 1, &l, &d) ||
      cfgspace_random(s, &r, cfg, &d) ||
      cfgspace_from_json(s, "{\"num_warps\": 8, \"indexing\": \"pointer\"}", cfg, &d))
    goto out;
  for (int i = 0; i < 40; i++)
    if (cfglist_push(&l, cfg, &d)) goto out;
  ok = 1;
out:
  mem_fail_after(0);
  cfglist_free(&l);
  cfgspace_free(s);
  assert_int_equal(mem_live_count(), before);
  return ok;
}

static void test_allocation_failures(void **state) {
  long n = 1;
  while (!exercise(n))
    n++;
  assert_true(n > 10); /* the sweep reached well into the run */
  assert_int_equal(exercise(0), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rng_reference),
      cmocka_unit_test(test_rng_seeded),
      cmocka_unit_test(test_pow2_fragment),
      cmocka_unit_test(test_int_fragment),
      cmocka_unit_test(test_enum_bool_perm_fragments),
      cmocka_unit_test(test_fragment_mutate),
      cmocka_unit_test(test_fragment_random_in_domain),
      cmocka_unit_test(test_fragment_validate_and_check),
      cmocka_unit_test(test_space_layout),
      cmocka_unit_test(test_space_builder_errors),
      cmocka_unit_test(test_known_fields_table),
      cmocka_unit_test(test_reduction_loops),
      cmocka_unit_test(test_random_is_deterministic),
      cmocka_unit_test(test_neighbour_counts),
      cmocka_unit_test(test_mutation_and_crossover_stay_in_domain),
      cmocka_unit_test(test_normalize_constraints),
      cmocka_unit_test(test_encode_hash_fingerprint),
      cmocka_unit_test(test_allocation_failures),
  };
  return cmocka_run_group_tests_name("config_space", tests, NULL, NULL);
}
