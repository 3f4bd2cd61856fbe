/* Search strategies over a config space: random, pattern search and differential evolution as
 * ask/tell generators of candidate configs. Part of src/config (the autotuner's search, in C).
 *
 * The caller (lua/helua/tune.lua: policy, budget, timing, logging) asks for a generation, times
 * each candidate and tells the time back (INFINITY for a failed trial). The strategy keeps an
 * archive of every config told, so it never proposes a config twice. Generation 0 is the same for
 * every algorithm: the default config, then random configs up to the population. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "config/config_internal.h"

#define PROPOSE_TRIES 16 /* draws per DE member / random slot before it is left out */

struct CfgStrategy {
  const ConfigSpace *s;
  CfgStrategyParams p;
  CfgRng rng;
  int gen;       /* generations handed out by ask */
  bool finished; /* the algorithm's own stopping rule fired */
  int radius;    /* pattern: neighbour radius of the next generation */
  int stale;     /* generations in a row that found nothing better */
  double best;   /* best time in the archive */
  /* every config told, its time and hash */
  CfgList arch;
  double *arch_t;
  uint64_t *arch_h;
  int arch_cap;
  /* the last generation: candidates, their times (NAN until told), DE member per candidate */
  CfgList batch;
  double *batch_t;
  int *batch_member;
  int batch_cap;
  /* DE: the population and its members' times */
  CfgList pop;
  double *pop_t;
  int pop_cap;
  int *scratch; /* one config */
};

static const char *const algo_names[] = {"random", "pattern", "de"};

const char *cfg_algorithm_name(CfgAlgorithm a) {
  return (unsigned)a < sizeof algo_names / sizeof *algo_names ? algo_names[a] : "?";
}

int cfg_algorithm_from_name(const char *name, CfgAlgorithm *out, Diag *d) {
  for (int i = 0; i < (int)(sizeof algo_names / sizeof *algo_names); i++)
    if (strcmp(name, algo_names[i]) == 0) {
      *out = (CfgAlgorithm)i;
      return HL_OK;
    }
  return diag_set(d, "unknown search algorithm \"%s\": use random, pattern or de", name);
}

CfgStrategyParams cfg_strategy_defaults(CfgAlgorithm a) {
  return (CfgStrategyParams){.algorithm = a,
                             .population = 12,
                             .copies = 2,
                             .max_generations = 5,
                             .patience = a == CFG_ALGO_PATTERN ? 0 : 5,
                             .crossover = 0.8,
                             .seed = 1};
}

void cfg_strategy_free(CfgStrategy *q) {
  if (!q) return;
  cfglist_free(&q->arch);
  cfglist_free(&q->batch);
  cfglist_free(&q->pop);
  mem_free(q->arch_t);
  mem_free(q->arch_h);
  mem_free(q->batch_t);
  mem_free(q->batch_member);
  mem_free(q->pop_t);
  mem_free(q->scratch);
  mem_free(q);
}

CfgStrategy *cfg_strategy_new(const ConfigSpace *s, const CfgStrategyParams *p, Diag *d) {
  if ((unsigned)p->algorithm > CFG_ALGO_DE) {
    diag_set(d, "search strategy: unknown algorithm %d", (int)p->algorithm);
    return NULL;
  }
  if (p->population < 1 || p->population > 100000 || p->copies < 1 || p->max_generations < 0 ||
      p->patience < 0 || !(p->crossover > 0 && p->crossover <= 1)) {
    diag_set(d, "search strategy: population must be >= 1, copies >= 1, max_generations and "
                "patience >= 0, crossover in (0, 1]");
    return NULL;
  }
  CfgStrategy *q = mem_alloc(sizeof *q);
  if (!q) {
    diag_set(d, "search strategy: out of memory");
    return NULL;
  }
  *q = (CfgStrategy){.s = s, .p = *p, .radius = 1, .best = INFINITY};
  cfg_rng_seed(&q->rng, p->seed);
  cfglist_init(&q->arch, s);
  cfglist_init(&q->batch, s);
  cfglist_init(&q->pop, s);
  q->scratch = mem_alloc(sizeof(int) * (size_t)(s->slots ? s->slots : 1));
  if (!q->scratch) {
    cfg_strategy_free(q);
    diag_set(d, "search strategy: out of memory");
    return NULL;
  }
  return q;
}

int cfg_strategy_generation(const CfgStrategy *q) {
  return q->gen;
}

/* Room for n items in the parallel arrays a (items of sa bytes) and b (sb bytes; NULL when
 * there is one array), which share the capacity *cap. */
static int grow(int *cap, int n, void **a, size_t sa, void **b, size_t sb, Diag *d) {
  int ca = *cap, cb = *cap;
  if (!mem_grow(a, &ca, n, sa, 16) || (b && !mem_grow(b, &cb, n, sb, 16)))
    return diag_set(d, "search strategy: out of memory");
  *cap = ca;
  return HL_OK;
}

static int find_in(const CfgStrategy *q, const CfgList *l, const int *cfg) {
  for (int i = 0; i < l->count; i++)
    if (cfgspace_equal(q->s, cfglist_at(l, i), cfg)) return i;
  return -1;
}

static int archive_find(const CfgStrategy *q, const int *cfg) {
  uint64_t h = cfgspace_hash(q->s, cfg);
  for (int i = 0; i < q->arch.count; i++)
    if (q->arch_h[i] == h && cfgspace_equal(q->s, cfglist_at(&q->arch, i), cfg)) return i;
  return -1;
}

static bool is_new(const CfgStrategy *q, const int *cfg) {
  return archive_find(q, cfg) < 0 && find_in(q, &q->batch, cfg) < 0;
}

static int batch_push(CfgStrategy *q, const int *cfg, int member, Diag *d) {
  int n = q->batch.count + 1;
  if (grow(&q->batch_cap, n, (void **)&q->batch_t, sizeof(double), (void **)&q->batch_member,
           sizeof(int), d))
    return HL_ERR;
  if (cfglist_push(&q->batch, cfg, d)) return HL_ERR;
  q->batch_t[n - 1] = NAN;
  q->batch_member[n - 1] = member;
  return HL_OK;
}

int cfg_strategy_tell(CfgStrategy *q, int i, double time, Diag *d) {
  if (i < 0 || i >= q->batch.count)
    return diag_set(d, "search strategy: candidate %d is not in the last generation (%d)", i + 1,
                    q->batch.count);
  if (isnan(time) || time < 0) time = INFINITY;
  q->batch_t[i] = time;
  const int *cfg = cfglist_at(&q->batch, i);
  int a = archive_find(q, cfg);
  if (a >= 0) {
    if (time < q->arch_t[a]) q->arch_t[a] = time;
  } else {
    int n = q->arch.count + 1;
    if (grow(&q->arch_cap, n, (void **)&q->arch_t, sizeof(double), (void **)&q->arch_h,
             sizeof(uint64_t), d))
      return HL_ERR;
    if (cfglist_push(&q->arch, cfg, d)) return HL_ERR;
    q->arch_t[n - 1] = time;
    q->arch_h[n - 1] = cfgspace_hash(q->s, cfg);
  }
  return HL_OK;
}

double cfg_strategy_best(const CfgStrategy *q, int *cfg) {
  int bi = -1;
  for (int i = 0; i < q->arch.count; i++)
    if (isfinite(q->arch_t[i]) && (bi < 0 || q->arch_t[i] < q->arch_t[bi])) bi = i;
  if (bi < 0) return INFINITY;
  if (cfg) memcpy(cfg, cfglist_at(&q->arch, bi), sizeof(int) * (size_t)q->s->slots);
  return q->arch_t[bi];
}

/* ---- generations ------------------------------------------------------------------------------ */

static int add_random(CfgStrategy *q, int want, Diag *d) {
  int target = q->batch.count + want;
  for (int t = 0; t < want * PROPOSE_TRIES && q->batch.count < target; t++) {
    if (cfgspace_random(q->s, &q->rng, q->scratch, d)) return HL_ERR;
    if (is_new(q, q->scratch) && batch_push(q, q->scratch, -1, d)) return HL_ERR;
  }
  return HL_OK;
}

static int first_generation(CfgStrategy *q, Diag *d) {
  if (cfgspace_default(q->s, q->scratch, d)) return HL_ERR;
  if (is_new(q, q->scratch) && batch_push(q, q->scratch, -1, d)) return HL_ERR;
  return add_random(q, q->p.population - q->batch.count, d);
}

/* The k-th best told config (k from 0) among those not in `taken`; -1 when none is finite. */
static int kth_best(const CfgStrategy *q, const int *taken, int k) {
  int bi = -1;
  for (int i = 0; i < q->arch.count; i++) {
    bool skip = !isfinite(q->arch_t[i]);
    for (int j = 0; j < k && !skip; j++)
      skip = taken[j] == i;
    if (!skip && (bi < 0 || q->arch_t[i] < q->arch_t[bi])) bi = i;
  }
  return bi;
}

/* Pattern search: every neighbour (at the current radius) of the `copies` best configs so far. */
static int pattern_generation(CfgStrategy *q, Diag *d) {
  int *taken = mem_alloc(sizeof(int) * (size_t)q->p.copies);
  if (!taken) return diag_set(d, "search strategy: out of memory");
  CfgList nb;
  cfglist_init(&nb, q->s);
  int rc = HL_OK;
  for (int k = 0; k < q->p.copies && rc == HL_OK; k++) {
    taken[k] = kth_best(q, taken, k);
    if (taken[k] < 0) break;
    cfglist_clear(&nb);
    rc = cfgspace_neighbours(q->s, cfglist_at(&q->arch, taken[k]), q->radius, &nb, d);
    for (int j = 0; j < nb.count && rc == HL_OK; j++)
      if (is_new(q, cfglist_at(&nb, j))) rc = batch_push(q, cfglist_at(&nb, j), -1, d);
  }
  cfglist_free(&nb);
  mem_free(taken);
  return rc;
}

/* Picks a population member other than those in `not` (n of them). */
static int pick_other(CfgStrategy *q, const int *not, int n) {
  for (;;) {
    int m = (int)cfg_rng_below(&q->rng, (uint64_t)q->pop.count);
    bool clash = false;
    for (int i = 0; i < n; i++)
      clash = clash || not[i] == m;
    if (!clash) return m;
  }
}

/* DE/rand/1/bin: for each member x, mutate(a, b, c) from three other random members, crossed
 * with x unit by unit (probability `crossover`), normalized; one trial per member. */
static int de_generation(CfgStrategy *q, Diag *d) {
  if (q->pop.count < 4) return add_random(q, q->p.population, d);
  for (int m = 0; m < q->pop.count; m++) {
    for (int t = 0; t < PROPOSE_TRIES; t++) {
      int used[4] = {m, -1, -1, -1};
      for (int k = 1; k < 4; k++)
        used[k] = pick_other(q, used, k);
      Diag ignored = {0};
      if (cfgspace_mutate(q->s, cfglist_at(&q->pop, m), cfglist_at(&q->pop, used[1]),
                          cfglist_at(&q->pop, used[2]), cfglist_at(&q->pop, used[3]),
                          q->p.crossover, &q->rng, q->scratch, &ignored) != HL_OK)
        continue; /* the constraints could not repair it: draw again */
      if (!is_new(q, q->scratch)) continue;
      if (batch_push(q, q->scratch, m, d)) return HL_ERR;
      break;
    }
  }
  return HL_OK;
}

/* Folds the last generation's times into the population (DE selection) and the stopping state. */
static int absorb(CfgStrategy *q, Diag *d) {
  if (q->p.algorithm == CFG_ALGO_DE) {
    for (int i = 0; i < q->batch.count; i++) {
      double t = isnan(q->batch_t[i]) ? INFINITY : q->batch_t[i];
      int m = q->batch_member[i];
      const int *cfg = cfglist_at(&q->batch, i);
      if (m < 0) { /* generation 0 (or a refill): joins the population */
        if (q->pop.count >= q->p.population || isnan(q->batch_t[i])) continue;
        if (grow(&q->pop_cap, q->pop.count + 1, (void **)&q->pop_t, sizeof(double), NULL, 0, d))
          return HL_ERR;
        if (cfglist_push(&q->pop, cfg, d)) return HL_ERR;
        q->pop_t[q->pop.count - 1] = t;
      } else if (t < q->pop_t[m]) { /* selection: the trial replaces its parent when faster */
        memcpy(cfglist_at(&q->pop, m), cfg, sizeof(int) * (size_t)q->s->slots);
        q->pop_t[m] = t;
      }
    }
  }
  double best = cfg_strategy_best(q, NULL);
  bool better = best < q->best;
  q->best = best;
  if (q->gen <= 1) return HL_OK; /* generation 0 sets the bar */
  q->stale = better ? 0 : q->stale + 1;
  if (q->p.algorithm == CFG_ALGO_PATTERN) {
    if (better)
      q->radius = 1;
    else if (q->radius >= 2)
      q->finished = true;
    else
      q->radius = 2;
  } else if (q->p.patience > 0 && q->stale >= q->p.patience) {
    q->finished = true;
  }
  return HL_OK;
}

int cfg_strategy_ask(CfgStrategy *q, CfgList *out, Diag *d) {
  cfglist_clear(out);
  if (q->gen > 0 && absorb(q, d)) return HL_ERR;
  cfglist_clear(&q->batch);
  if (q->finished || q->gen > q->p.max_generations) return HL_OK;
  int rc = HL_OK;
  if (q->gen == 0)
    rc = first_generation(q, d);
  else if (q->p.algorithm == CFG_ALGO_RANDOM)
    rc = add_random(q, q->p.population, d);
  else if (q->p.algorithm == CFG_ALGO_DE)
    rc = de_generation(q, d);
  else {
    rc = pattern_generation(q, d);
    if (rc == HL_OK && q->batch.count == 0 && q->radius < 2) { /* every neighbour was seen */
      q->radius = 2;
      rc = pattern_generation(q, d);
    }
  }
  if (rc) return HL_ERR;
  q->gen++;
  if (q->batch.count == 0) {
    q->finished = true;
    return HL_OK;
  }
  for (int i = 0; i < q->batch.count; i++)
    if (cfglist_push(out, cfglist_at(&q->batch, i), d)) return HL_ERR;
  return HL_OK;
}
