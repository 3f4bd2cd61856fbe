/* Config spaces: building a space field by field (what the IR derivation calls) and reading it.
 * Part of src/config (config space).
 *
 * Every builder first reserves all the memory it needs and only then changes the space, so a
 * failed call (bad argument or out of memory) leaves the space as it was. */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "config/config_internal.h"

ConfigSpace *cfgspace_new(CfgTarget target, Diag *d) {
  if ((unsigned)target >= CFG_TARGET_COUNT) {
    diag_set(d, "config space: unknown target %d", (int)target);
    return NULL;
  }
  ConfigSpace *s = mem_calloc(1, sizeof *s);
  if (!s) {
    diag_set(d, "config space: out of memory");
    return NULL;
  }
  s->target = target;
  return s;
}

static void frag_release(CfgFragment *f) {
  if (f->kind == CFG_ENUM) mem_free((void *)f->choices);
  f->choices = NULL;
}

void cfgspace_free(ConfigSpace *s) {
  if (!s) return;
  for (int i = 0; i < s->nfields; i++) {
    for (int e = 0; e < s->fields[i].count; e++)
      frag_release(&s->fields[i].elems[e]);
    mem_free(s->fields[i].elems);
  }
  mem_free(s->fields);
  mem_free(s->units);
  mem_free(s->cons);
  mem_free(s);
}

CfgTarget cfgspace_target(const ConfigSpace *s) {
  return s->target;
}

/* ---- building ------------------------------------------------------------------------------ */

static bool is_identifier(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n >= CFG_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

/* A copy of f that the space owns (enum choices in one block), with its default clamped. */
static int frag_own(CfgFragment *dst, const CfgFragment *src, Diag *d) {
  *dst = *src;
  if (src->kind == CFG_ENUM) {
    size_t bytes = sizeof(char *) * (size_t)src->n;
    for (int i = 0; i < src->n; i++)
      bytes += strlen(src->choices[i]) + 1;
    char **block = mem_alloc(bytes);
    if (!block) return diag_set(d, "config space: out of memory");
    char *text = (char *)(block + src->n);
    for (int i = 0; i < src->n; i++) {
      size_t len = strlen(src->choices[i]) + 1;
      memcpy(text, src->choices[i], len);
      block[i] = text;
      text += len;
    }
    dst->choices = (const char *const *)block;
  }
  if (dst->kind != CFG_PERM) {
    int v = dst->def;
    cfg_frag_clamp(dst, &v);
    dst->def = v;
  }
  return HL_OK;
}

static int grow(void **p, int *cap, int need, size_t elem, Diag *d) {
  if (!mem_grow(p, cap, need, elem, 8)) return diag_set(d, "config space: out of memory");
  return HL_OK;
}

static void relayout(ConfigSpace *s) {
  int slot = 0, u = 0;
  for (int i = 0; i < s->nfields; i++) {
    CfgField *f = &s->fields[i];
    f->offset = slot;
    f->first_unit = u;
    for (int e = 0; e < f->count; e++) {
      s->units[u++] = (CfgUnit){.field = i, .elem = e, .offset = slot, .frag = &f->elems[e]};
      slot += cfg_frag_width(&f->elems[e]);
    }
    f->width = slot - f->offset;
  }
  s->slots = slot;
  s->nunits = u;
}

static int unknown_builder_name(const ConfigSpace *s, const char *name, Diag *d) {
  int n;
  const CfgKnownField *k = cfg_known_fields(&n);
  const char *best = NULL;
  int best_dist = 3;
  for (int i = 0; i < n; i++) {
    int dist = cfg_edit_distance(name, k[i].name);
    if (dist < best_dist) best_dist = dist, best = k[i].name;
  }
  if (best)
    return diag_set(d, "config space: unknown field \"%s\"; did you mean \"%s\"?", name, best);
  return diag_set(d,
                  "config space: unknown field \"%s\"; add user knobs with "
                  "cfgspace_add_tunable",
                  name);
}

/* Adds or replaces element idx of field `name` (idx 0 of a scalar field). */
static int put_element(ConfigSpace *s, const char *name, bool is_list, int idx,
                       const CfgFragment *frag, bool tunable, Diag *d) {
  char what[CFG_NAME_MAX + 16];
  if (!name || !is_identifier(name))
    return diag_set(d,
                    "config space: field name \"%s\" is not an identifier of at most %d "
                    "characters",
                    name ? name : "(null)", CFG_NAME_MAX - 1);
  if (is_list)
    snprintf(what, sizeof what, "%s[%d]", name, idx + 1);
  else
    snprintf(what, sizeof what, "%s", name);
  const CfgKnownField *known = cfg_known_field(name);
  int fi = cfgspace_find(s, name);
  if (known) {
    if (tunable)
      return diag_set(d,
                      "config space: \"%s\" is a built-in config field; give the tunable "
                      "another name",
                      name);
    if (!(known->targets & (1u << s->target)))
      return diag_set(d,
                      "config space: %s does not apply to target %s (it does not change "
                      "that target's code); leave it out of the space",
                      name, cfg_target_name(s->target));
    if (known->is_list != is_list)
      return diag_set(d, "config space: %s is a %s field", name,
                      known->is_list ? "list" : "scalar");
  } else if (!tunable && (fi < 0 || !s->fields[fi].tunable)) {
    return unknown_builder_name(s, name, d);
  }
  CfgField *f = fi >= 0 ? &s->fields[fi] : NULL;
  if (f && f->is_list != is_list)
    return diag_set(d, "config space: %s is a %s field", name, f->is_list ? "list" : "scalar");
  if (f && !is_list) return diag_set(d, "config space: %s is already in the space", name);
  int count = f ? f->count : 0;
  if (idx < 0 || idx > count)
    return diag_set(d, "config space: %s: element %d cannot be added before element %d", name,
                    idx + 1, count + 1);
  if (cfg_frag_validate(frag, what, d) != HL_OK) return diag_prefix(d, "config space: ");

  CfgFragment own;
  if (frag_own(&own, frag, d) != HL_OK) return HL_ERR;
  bool append = idx == count;
  CfgFragment *elems = NULL;
  if ((!f && grow((void **)&s->fields, &s->cap_fields, s->nfields + 1, sizeof(CfgField), d)) ||
      (append && grow((void **)&s->units, &s->cap_units, s->nunits + 1, sizeof(CfgUnit), d)) ||
      (append && !(elems = mem_realloc(f ? f->elems : NULL, sizeof(CfgFragment) * (count + 1))))) {
    frag_release(&own);
    return diag_set(d, "config space: out of memory");
  }
  /* Commit: nothing below can fail. */
  if (!f) {
    int nknown, rank;
    const CfgKnownField *table = cfg_known_fields(&nknown);
    rank = known ? (int)(known - table) : nknown;
    int at = s->nfields; /* after every lower rank; tunables (all one rank) by name */
    while (at > 0 &&
           (s->fields[at - 1].rank > rank || (rank == nknown && s->fields[at - 1].rank == nknown &&
                                              strcmp(s->fields[at - 1].name, name) > 0)))
      at--;
    memmove(&s->fields[at + 1], &s->fields[at], sizeof(CfgField) * (size_t)(s->nfields - at));
    f = &s->fields[at];
    *f = (CfgField){.is_list = is_list, .tunable = tunable, .rank = rank};
    snprintf(f->name, sizeof f->name, "%s", name);
    s->nfields++;
  }
  if (append) {
    f->elems = elems;
    f->count++;
  } else {
    frag_release(&f->elems[idx]);
  }
  f->elems[idx] = own;
  relayout(s);
  return HL_OK;
}

int cfgspace_add(ConfigSpace *s, const char *name, const CfgFragment *f, Diag *d) {
  return put_element(s, name, false, 0, f, false, d);
}

static int add_list(ConfigSpace *s, const char *name, const CfgFragment *elem, int n, bool tunable,
                    Diag *d) {
  if (n < 1) return diag_set(d, "config space: list %s needs at least one element", name);
  if (name && cfgspace_find(s, name) >= 0)
    return diag_set(d, "config space: %s is already in the space", name);
  for (int i = 0; i < n; i++)
    if (put_element(s, name, true, i, elem, tunable && i == 0, d) != HL_OK) return HL_ERR;
  return HL_OK;
}

int cfgspace_add_list(ConfigSpace *s, const char *name, const CfgFragment *elem, int n, Diag *d) {
  return add_list(s, name, elem, n, false, d);
}

int cfgspace_set_element(ConfigSpace *s, const char *name, int idx, const CfgFragment *f, Diag *d) {
  return put_element(s, name, true, idx, f, false, d);
}

int cfgspace_add_known(ConfigSpace *s, const char *name, int idx, Diag *d) {
  const CfgKnownField *k = name ? cfg_known_field(name) : NULL;
  if (!k) return unknown_builder_name(s, name ? name : "(null)", d);
  if (!k->has_standard)
    return diag_set(d,
                    "config space: %s has no standard fragment (it depends on the kernel's "
                    "sizes); use its own builder",
                    name);
  return put_element(s, name, k->is_list, k->is_list ? idx : 0, &k->standard, false, d);
}

static int pow2_at_least(long long v) {
  int p = 1;
  while (p < v && p < (1 << 30))
    p <<= 1;
  return p;
}

int cfgspace_add_block_size(ConfigSpace *s, const char *field, int idx, int min, int max, int def,
                            Diag *d) {
  if (!field) field = "block_sizes";
  if (min < 1 || max < min)
    return diag_set(d, "config space: %s[%d] needs 1 <= min <= max, got %d..%d", field, idx + 1,
                    min, max);
  CfgFragment f = cfg_pow2(pow2_at_least(min), pow2_at_least(max), def);
  return put_element(s, field, true, idx, &f, false, d);
}

int cfgspace_add_loop_order(ConfigSpace *s, int idx, int ndims, Diag *d) {
  CfgFragment f = cfg_perm(ndims);
  return put_element(s, "loop_orders", true, idx, &f, false, d);
}

int cfgspace_add_reduction_loop(ConfigSpace *s, int idx, long long size_hint,
                                long long persistent_max, Diag *d) {
  if (size_hint < 1)
    return diag_set(d, "config space: reduction_loops[%d] needs a size of at least 1, got %lld",
                    idx + 1, size_hint);
  int hi = 8;
  while (hi < (1 << 30) && (long long)hi * 2 < size_hint)
    hi *= 2;
  int def = CFG_NONE;
  if (size_hint > persistent_max) {
    def = 8;
    while (def < hi && (long long)def * 2 <= persistent_max)
      def *= 2;
  }
  CfgFragment f = cfg_or_none(cfg_pow2(8, hi, def), def == CFG_NONE);
  return put_element(s, "reduction_loops", true, idx, &f, false, d);
}

int cfgspace_add_cpu_threads(ConfigSpace *s, int max_threads, int def, Diag *d) {
  if (max_threads < 1)
    return diag_set(d, "config space: cpu_threads needs at least 1 thread, got %d", max_threads);
  CfgFragment f = cfg_int(1, max_threads, def);
  return put_element(s, "cpu_threads", false, 0, &f, false, d);
}

int cfgspace_add_tunable(ConfigSpace *s, const char *name, const CfgFragment *f, Diag *d) {
  if (name && cfgspace_find(s, name) >= 0)
    return diag_set(d, "config space: %s is already in the space", name);
  return put_element(s, name, false, 0, f, true, d);
}

int cfgspace_add_tunable_list(ConfigSpace *s, const char *name, const CfgFragment *elem, int n,
                              Diag *d) {
  if (name && cfg_known_field(name))
    return diag_set(d,
                    "config space: \"%s\" is a built-in config field; give the tunable "
                    "another name",
                    name);
  return add_list(s, name, elem, n, true, d);
}

int cfgspace_add_constraint(ConfigSpace *s, const char *name, const char *field, long long arg,
                            CfgConstraintFn fn, void *ud, Diag *d) {
  if (!name || !*name || strlen(name) >= CFG_NAME_MAX || !fn ||
      (field && strlen(field) >= CFG_NAME_MAX))
    return diag_set(d, "config space: a constraint needs a name and a function");
  if (grow((void **)&s->cons, &s->cap_cons, s->ncons + 1, sizeof(CfgConstraint), d) != HL_OK)
    return HL_ERR;
  CfgConstraint *c = &s->cons[s->ncons++];
  *c = (CfgConstraint){.arg = arg, .ud = ud, .fn = fn};
  snprintf(c->name, sizeof c->name, "%s", name);
  snprintf(c->field, sizeof c->field, "%s", field ? field : "");
  return HL_OK;
}

/* ---- reading --------------------------------------------------------------------------------- */

int cfgspace_slots(const ConfigSpace *s) {
  return s->slots;
}
int cfgspace_field_count(const ConfigSpace *s) {
  return s->nfields;
}
const CfgField *cfgspace_field(const ConfigSpace *s, int i) {
  return i >= 0 && i < s->nfields ? &s->fields[i] : NULL;
}

int cfgspace_find(const ConfigSpace *s, const char *name) {
  for (int i = 0; i < s->nfields; i++)
    if (strcmp(s->fields[i].name, name) == 0) return i;
  return -1;
}

int cfgspace_unit_count(const ConfigSpace *s) {
  return s->nunits;
}
CfgUnit cfgspace_unit(const ConfigSpace *s, int u) {
  return s->units[u];
}
int cfgspace_constraint_count(const ConfigSpace *s) {
  return s->ncons;
}
const CfgConstraint *cfgspace_constraint(const ConfigSpace *s, int i) {
  return i >= 0 && i < s->ncons ? &s->cons[i] : NULL;
}

double cfgspace_cardinality(const ConfigSpace *s) {
  double c = 1;
  for (int u = 0; u < s->nunits; u++)
    c *= cfg_frag_cardinality(s->units[u].frag);
  return c;
}

const CfgUnit *cfg_find_unit(const ConfigSpace *s, const char *name, int elem) {
  int fi = cfgspace_find(s, name);
  if (fi < 0 || elem < 0 || elem >= s->fields[fi].count) return NULL;
  return &s->units[s->fields[fi].first_unit + elem];
}

int cfgspace_get(const ConfigSpace *s, const int *cfg, const char *name, int elem, int fallback) {
  const CfgUnit *u = cfg_find_unit(s, name, elem);
  return u ? cfg[u->offset] : fallback;
}

const char *cfgspace_get_enum(const ConfigSpace *s, const int *cfg, const char *name, int elem,
                              const char *fallback) {
  const CfgUnit *u = cfg_find_unit(s, name, elem);
  if (!u || u->frag->kind != CFG_ENUM) return fallback;
  int v = cfg[u->offset];
  return v >= 0 && v < u->frag->n ? u->frag->choices[v] : fallback;
}
