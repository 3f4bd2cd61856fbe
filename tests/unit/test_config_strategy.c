/* Unit tests: the search strategies (random, pattern, differential evolution) on a synthetic
 * objective. Part of src/config (config space) tests. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "config/config.h"

/* Three block sizes 16..1024 (default 64), a 2-D loop order, vector_width, cpu_threads 0..8. */
static ConfigSpace *space(Diag *d) {
  ConfigSpace *s = cfgspace_new(CFG_TARGET_CPU, d);
  if (!s) return NULL;
  if (cfgspace_add_block_size(s, "block_sizes", 0, 16, 1024, 64, d) ||
      cfgspace_add_block_size(s, "block_sizes", 1, 16, 1024, 64, d) ||
      cfgspace_add_block_size(s, "block_sizes", 2, 16, 1024, 64, d) ||
      cfgspace_add_loop_order(s, 0, 2, d) || cfgspace_add_known(s, "vector_width", 0, d) ||
      cfgspace_add_cpu_threads(s, 8, 0, d)) {
    cfgspace_free(s);
    return NULL;
  }
  return s;
}

/* A separable bowl: fastest at block sizes 256, 32, 512, vector_width 16, loop order swapped. */
static double objective(const ConfigSpace *s, const int *cfg) {
  static const int want[3] = {256, 32, 512};
  double t = 1.0;
  for (int i = 0; i < 3; i++)
    t += fabs(log2(cfgspace_get(s, cfg, "block_sizes", i, 1)) - log2(want[i]));
  t += fabs(log2(cfgspace_get(s, cfg, "vector_width", 0, 1)) - 4.0);
  t += cfgspace_get(s, cfg, "loop_orders", 0, 0) == 1 ? 0.0 : 0.5;
  return t;
}

/* Runs a search to the end; returns the best time, counts the trials and checks that no config
 * is proposed twice and that the default comes first. */
static double run(const ConfigSpace *s, CfgStrategyParams p, int *trials) {
  Diag d = {0};
  CfgStrategy *q = cfg_strategy_new(s, &p, &d);
  assert_non_null(q);
  CfgList seen, batch;
  cfglist_init(&seen, s);
  cfglist_init(&batch, s);
  int *def = mem_alloc(sizeof(int) * (size_t)cfgspace_slots(s));
  assert_int_equal(cfgspace_default(s, def, &d), HL_OK);
  for (int g = 0;; g++) {
    assert_int_equal(cfg_strategy_ask(q, &batch, &d), HL_OK);
    if (batch.count == 0) break;
    if (g == 0) assert_true(cfgspace_equal(s, cfglist_at(&batch, 0), def));
    assert_true(g <= p.max_generations);
    for (int i = 0; i < batch.count; i++) {
      const int *c = cfglist_at(&batch, i);
      for (int j = 0; j < seen.count; j++)
        assert_false(cfgspace_equal(s, cfglist_at(&seen, j), c));
      assert_int_equal(cfgspace_normalize(s, (int *)c, false, &d), HL_OK);
      assert_int_equal(cfglist_push(&seen, c, &d), HL_OK);
      assert_int_equal(cfg_strategy_tell(q, i, objective(s, c), &d), HL_OK);
    }
  }
  *trials = seen.count;
  double best = cfg_strategy_best(q, def);
  assert_true(best == objective(s, def));
  mem_free(def);
  cfglist_free(&seen);
  cfglist_free(&batch);
  cfg_strategy_free(q);
  return best;
}

static void test_names_and_params(void **state) {
  Diag d = {0};
  CfgAlgorithm a;
  assert_int_equal(cfg_algorithm_from_name("de", &a, &d), HL_OK);
  assert_int_equal(a, CFG_ALGO_DE);
  assert_string_equal(cfg_algorithm_name(CFG_ALGO_PATTERN), "pattern");
  assert_int_equal(cfg_algorithm_from_name("annealing", &a, &d), HL_ERR);
  assert_non_null(strstr(d.msg, "random, pattern or de"));
  ConfigSpace *s = space(&d);
  assert_non_null(s);
  CfgStrategyParams p = cfg_strategy_defaults(CFG_ALGO_DE);
  p.crossover = 0;
  assert_null(cfg_strategy_new(s, &p, &d));
  assert_non_null(strstr(d.msg, "crossover"));
  p = cfg_strategy_defaults(CFG_ALGO_DE);
  CfgStrategy *q = cfg_strategy_new(s, &p, &d);
  CfgList l;
  cfglist_init(&l, s);
  assert_int_equal(cfg_strategy_tell(q, 0, 1.0, &d), HL_ERR); /* nothing asked yet */
  assert_int_equal(cfg_strategy_ask(q, &l, &d), HL_OK);
  assert_int_equal(l.count, p.population);
  assert_int_equal(cfg_strategy_tell(q, l.count, 1.0, &d), HL_ERR);
  assert_true(isinf(cfg_strategy_best(q, NULL)));
  cfglist_free(&l);
  cfg_strategy_free(q);
  cfgspace_free(s);
}

static void test_each_algorithm_improves(void **state) {
  Diag d = {0};
  ConfigSpace *s = space(&d);
  int *def = mem_alloc(sizeof(int) * (size_t)cfgspace_slots(s));
  cfgspace_default(s, def, &d);
  double t_def = objective(s, def);
  for (int a = CFG_ALGO_RANDOM; a <= CFG_ALGO_DE; a++) {
    CfgStrategyParams p = cfg_strategy_defaults((CfgAlgorithm)a);
    p.max_generations = 20;
    p.seed = 7;
    p.patience = 0;
    int n = 0;
    double best = run(s, p, &n);
    assert_true(best < t_def);
    assert_true(n > p.population);
    if (a == CFG_ALGO_PATTERN) assert_true(best == 1.0); /* a separable bowl: hill climbing ends at the bottom */
    if (a == CFG_ALGO_DE) assert_true(best <= 2.0);
  }
  mem_free(def);
  cfgspace_free(s);
}

/* The same seed replays the same search; patience stops a stale DE early. */
static void test_replay_and_patience(void **state) {
  Diag d = {0};
  ConfigSpace *s = space(&d);
  CfgStrategyParams p = cfg_strategy_defaults(CFG_ALGO_DE);
  p.max_generations = 30;
  int n1 = 0, n2 = 0;
  double b1 = run(s, p, &n1), b2 = run(s, p, &n2);
  assert_true(b1 == b2);
  assert_int_equal(n1, n2);
  /* a flat objective never improves after generation 0: patience generations, then done */
  p.patience = 2;
  CfgStrategy *q = cfg_strategy_new(s, &p, &d);
  CfgList l;
  cfglist_init(&l, s);
  int gens = 0;
  for (;;) {
    assert_int_equal(cfg_strategy_ask(q, &l, &d), HL_OK);
    if (l.count == 0) break;
    gens++;
    for (int i = 0; i < l.count; i++)
      cfg_strategy_tell(q, i, i == 0 && gens == 1 ? 1.0 : 5.0, &d);
  }
  assert_int_equal(gens, 1 + p.patience);
  assert_int_equal(cfg_strategy_generation(q), 1 + p.patience);
  cfglist_free(&l);
  cfg_strategy_free(q);
  cfgspace_free(s);
}

/* Failed trials (INFINITY) are never a pattern search's starting point; untold ones are skipped. */
static void test_failures_and_budget_cuts(void **state) {
  Diag d = {0};
  ConfigSpace *s = space(&d);
  CfgStrategyParams p = cfg_strategy_defaults(CFG_ALGO_PATTERN);
  CfgStrategy *q = cfg_strategy_new(s, &p, &d);
  CfgList l;
  cfglist_init(&l, s);
  assert_int_equal(cfg_strategy_ask(q, &l, &d), HL_OK);
  cfg_strategy_tell(q, 0, 2.0, &d);
  cfg_strategy_tell(q, 1, INFINITY, &d);
  cfg_strategy_tell(q, 2, NAN, &d); /* read as failed */
  /* the rest are left untold: a budget cut the generation short */
  int *best = mem_alloc(sizeof(int) * (size_t)cfgspace_slots(s));
  assert_true(cfg_strategy_best(q, best) == 2.0);
  assert_int_equal(cfg_strategy_ask(q, &l, &d), HL_OK);
  CfgList nb;
  cfglist_init(&nb, s);
  cfgspace_neighbours(s, best, 1, &nb, &d);
  assert_int_equal(l.count, nb.count); /* the default's neighbours only */
  cfglist_free(&nb);
  cfglist_free(&l);
  mem_free(best);
  cfg_strategy_free(q);
  cfgspace_free(s);
}

/* A whole DE search with the n-th allocation failing: an error or a result, never a crash. */
static void test_allocation_failures(void **state) {
  Diag d = {0};
  ConfigSpace *s = space(&d);
  long before = mem_live_count();
  int completed = 0;
  for (int fail_at = 1; fail_at < 400; fail_at += 7) {
    CfgStrategyParams p = cfg_strategy_defaults(CFG_ALGO_DE);
    p.max_generations = 3;
    mem_fail_after(fail_at);
    CfgStrategy *q = cfg_strategy_new(s, &p, &d);
    CfgList l;
    cfglist_init(&l, s);
    int rc = q ? HL_OK : HL_ERR;
    while (rc == HL_OK && (rc = cfg_strategy_ask(q, &l, &d)) == HL_OK && l.count > 0) {
      for (int i = 0; i < l.count && rc == HL_OK; i++)
        rc = cfg_strategy_tell(q, i, objective(s, cfglist_at(&l, i)), &d);
    }
    completed += rc == HL_OK;
    mem_fail_after(0);
    cfglist_free(&l);
    cfg_strategy_free(q);
    assert_int_equal(mem_live_count(), before);
  }
  assert_true(completed > 0 && completed < 57); /* some runs hit the failure, the late ones not */
  cfgspace_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_and_params),
      cmocka_unit_test(test_each_algorithm_improves),
      cmocka_unit_test(test_replay_and_patience),
      cmocka_unit_test(test_failures_and_budget_cuts),
      cmocka_unit_test(test_allocation_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
