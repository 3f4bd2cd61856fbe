/* Config spaces: whole-config search ops (default, random, neighbours, mutate, encode, hash).
 * Part of src/config (config space). Also the CfgList of configs. */
#include <string.h>

#include "base/mem.h"
#include "config/config_internal.h"

/* ---- config lists ------------------------------------------------------------------------------
 */

void cfglist_init(CfgList *l, const ConfigSpace *s) {
  *l = (CfgList){.slots = s->slots};
}
void cfglist_clear(CfgList *l) {
  l->count = 0;
}

void cfglist_free(CfgList *l) {
  mem_free(l->v);
  l->v = NULL;
  l->count = l->cap = 0;
}

int cfglist_push(CfgList *l, const int *cfg, Diag *d) {
  size_t row = sizeof(int) * (size_t)(l->slots ? l->slots : 1);
  if (!mem_grow((void **)&l->v, &l->cap, l->count + 1, row, 16))
    return diag_set(d, "config list: out of memory");
  memcpy(cfglist_at(l, l->count), cfg, sizeof(int) * (size_t)l->slots);
  l->count++;
  return HL_OK;
}

/* ---- default and random ------------------------------------------------------------------------
 */

int cfgspace_default(const ConfigSpace *s, int *cfg, Diag *d) {
  for (int u = 0; u < s->nunits; u++)
    cfg_frag_default(s->units[u].frag, cfg + s->units[u].offset);
  if (cfgspace_normalize(s, cfg, true, d) != HL_OK)
    return diag_prefix(d, "the default config breaks a constraint: ");
  return HL_OK;
}

#define RANDOM_TRIES 64

int cfgspace_random(const ConfigSpace *s, CfgRng *r, int *cfg, Diag *d) {
  for (int t = 0; t < RANDOM_TRIES; t++) {
    for (int u = 0; u < s->nunits; u++)
      cfg_frag_random(s->units[u].frag, r, cfg + s->units[u].offset);
    if (cfgspace_normalize(s, cfg, true, d) == HL_OK) return HL_OK;
  }
  return diag_prefix(d,
                     "no random config met the constraints in %d draws; the last: ", RANDOM_TRIES);
}

/* ---- neighbours ---------------------------------------------------------------------------------
 */

typedef struct Offer {
  const ConfigSpace *s;
  const int *cfg; /* the centre */
  CfgList *out;
  int start; /* first entry of out written by this call */
  int *cand; /* scratch config */
} Offer;

/* Normalizes o->cand and appends it unless it is the centre, a duplicate or beyond repair. */
static int offer(Offer *o, Diag *d) {
  const ConfigSpace *s = o->s;
  if (cfgspace_normalize(s, o->cand, true, NULL) != HL_OK) return HL_OK;
  if (cfgspace_equal(s, o->cand, o->cfg)) return HL_OK;
  for (int i = o->start; i < o->out->count; i++)
    if (cfgspace_equal(s, o->cand, cfglist_at(o->out, i))) return HL_OK;
  return cfglist_push(o->out, o->cand, d);
}

static int max_neighbour_ints(const ConfigSpace *s, int radius) {
  int m = 1;
  for (int u = 0; u < s->nunits; u++) {
    int k = cfg_frag_neighbour_bound(s->units[u].frag, radius) * cfg_frag_width(s->units[u].frag);
    if (k > m) m = k;
  }
  return m;
}

static bool homogeneous(const CfgField *f) {
  for (int e = 1; e < f->count; e++)
    if (!cfg_frag_same(&f->elems[0], &f->elems[e])) return false;
  return true;
}

/* Every element of a homogeneous list set to the default or one of the default's neighbours. */
static int uniform_moves(Offer *o, const CfgField *f, int radius, int *nb, Diag *d) {
  const CfgFragment *fr = &f->elems[0];
  int w = cfg_frag_width(fr), def[CFG_PERM_MAX];
  cfg_frag_default(fr, def);
  int k = cfg_frag_neighbours(fr, def, radius, nb);
  for (int j = -1; j < k; j++) {
    const int *val = j < 0 ? def : nb + (size_t)j * w;
    memcpy(o->cand, o->cfg, sizeof(int) * (size_t)o->s->slots);
    for (int e = 0; e < f->count; e++)
      memcpy(o->cand + f->offset + e * w, val, sizeof(int) * w);
    if (offer(o, d) != HL_OK) return HL_ERR;
  }
  return HL_OK;
}

int cfgspace_neighbours(const ConfigSpace *s, const int *cfg, int radius, CfgList *out, Diag *d) {
  Offer o = {.s = s, .cfg = cfg, .out = out, .start = out->count};
  int *nb = mem_alloc(sizeof(int) * (size_t)max_neighbour_ints(s, radius));
  o.cand = mem_alloc(sizeof(int) * (size_t)(s->slots ? s->slots : 1));
  int rc = HL_OK;
  if (!nb || !o.cand) {
    rc = diag_set(d, "config neighbours: out of memory");
    goto done;
  }
  for (int u = 0; u < s->nunits && rc == HL_OK; u++) {
    const CfgUnit *un = &s->units[u];
    int w = cfg_frag_width(un->frag);
    int k = cfg_frag_neighbours(un->frag, cfg + un->offset, radius, nb);
    for (int j = 0; j < k && rc == HL_OK; j++) {
      memcpy(o.cand, cfg, sizeof(int) * (size_t)s->slots);
      memcpy(o.cand + un->offset, nb + (size_t)j * w, sizeof(int) * (size_t)w);
      rc = offer(&o, d);
    }
  }
  for (int i = 0; i < s->nfields && rc == HL_OK; i++)
    if (s->fields[i].is_list && s->fields[i].count > 1 && homogeneous(&s->fields[i]))
      rc = uniform_moves(&o, &s->fields[i], radius, nb, d);
done:
  mem_free(nb);
  mem_free(o.cand);
  return rc;
}

int cfgspace_neighbours_pairs(const ConfigSpace *s, const int *cfg, const char *field, int radius,
                              CfgList *out, Diag *d) {
  int fi = cfgspace_find(s, field);
  if (fi < 0) return HL_OK;
  const CfgField *f = &s->fields[fi];
  Offer o = {.s = s, .cfg = cfg, .out = out, .start = out->count};
  size_t most = (size_t)max_neighbour_ints(s, radius);
  int *nb1 = mem_alloc(sizeof(int) * most), *nb2 = mem_alloc(sizeof(int) * most);
  o.cand = mem_alloc(sizeof(int) * (size_t)(s->slots ? s->slots : 1));
  int rc = HL_OK;
  if (!nb1 || !nb2 || !o.cand) rc = diag_set(d, "config neighbours: out of memory");
  for (int e1 = 0; e1 < f->count && rc == HL_OK; e1++) {
    const CfgUnit *u1 = &s->units[f->first_unit + e1];
    int w1 = cfg_frag_width(u1->frag),
        k1 = cfg_frag_neighbours(u1->frag, cfg + u1->offset, radius, nb1);
    for (int e2 = e1 + 1; e2 < f->count && rc == HL_OK; e2++) {
      const CfgUnit *u2 = &s->units[f->first_unit + e2];
      int w2 = cfg_frag_width(u2->frag);
      int k2 = cfg_frag_neighbours(u2->frag, cfg + u2->offset, radius, nb2);
      for (int j1 = 0; j1 < k1 && rc == HL_OK; j1++)
        for (int j2 = 0; j2 < k2 && rc == HL_OK; j2++) {
          memcpy(o.cand, cfg, sizeof(int) * (size_t)s->slots);
          memcpy(o.cand + u1->offset, nb1 + (size_t)j1 * w1, sizeof(int) * (size_t)w1);
          memcpy(o.cand + u2->offset, nb2 + (size_t)j2 * w2, sizeof(int) * (size_t)w2);
          rc = offer(&o, d);
        }
    }
  }
  mem_free(nb1);
  mem_free(nb2);
  mem_free(o.cand);
  return rc;
}

/* ---- mutation and crossover ---------------------------------------------------------------- */

int cfgspace_mutate(const ConfigSpace *s, const int *x, const int *a, const int *b, const int *c,
                    double cr, CfgRng *r, int *out, Diag *d) {
  if (!x) x = a;
  memmove(out, x, sizeof(int) * (size_t)s->slots);
  bool mutated = false;
  for (int u = 0; u < s->nunits; u++) {
    if (cfg_rng_unit(r) >= cr) continue;
    int off = s->units[u].offset;
    cfg_frag_mutate(s->units[u].frag, a + off, b + off, c + off, r, out + off);
    mutated = true;
  }
  if (!mutated && s->nunits > 0) {
    int u = (int)cfg_rng_below(r, (uint64_t)s->nunits), off = s->units[u].offset;
    cfg_frag_mutate(s->units[u].frag, a + off, b + off, c + off, r, out + off);
  }
  return cfgspace_normalize(s, out, true, d);
}

int cfgspace_crossover(const ConfigSpace *s, const int *x, const int *y, double cr, CfgRng *r,
                       int *out, Diag *d) {
  memmove(out, x, sizeof(int) * (size_t)s->slots);
  for (int u = 0; u < s->nunits; u++) {
    if (cfg_rng_unit(r) >= cr) continue;
    int off = s->units[u].offset;
    memcpy(out + off, y + off, sizeof(int) * (size_t)cfg_frag_width(s->units[u].frag));
  }
  return cfgspace_normalize(s, out, true, d);
}

/* ---- encoding, equality, hashing --------------------------------------------------------------
 */

int cfgspace_encode_dim(const ConfigSpace *s) {
  int n = 0;
  for (int u = 0; u < s->nunits; u++)
    n += cfg_frag_encode_dim(s->units[u].frag);
  return n;
}

void cfgspace_encode(const ConfigSpace *s, const int *cfg, double *out) {
  for (int u = 0; u < s->nunits; u++) {
    cfg_frag_encode(s->units[u].frag, cfg + s->units[u].offset, out);
    out += cfg_frag_encode_dim(s->units[u].frag);
  }
}

bool cfgspace_equal(const ConfigSpace *s, const int *a, const int *b) {
  return memcmp(a, b, sizeof(int) * (size_t)s->slots) == 0;
}

/* FNV-1a over each slot's 4 bytes, little-endian whatever the host, so cache keys travel. */
uint64_t cfgspace_hash(const ConfigSpace *s, const int *cfg) {
  uint64_t h = CFG_FNV_OFFSET;
  for (int i = 0; i < s->slots; i++) {
    uint32_t v = (uint32_t)cfg[i];
    for (int b = 0; b < 4; b++) {
      h ^= (v >> (8 * b)) & 0xffu;
      h *= CFG_FNV_PRIME;
    }
  }
  return h;
}
