/* Config spaces: normalize (repair or check a config) and the built-in constraints between fields.
 * Part of src/config (config space). */
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"

static void unit_label(const ConfigSpace *s, int u, char *buf, size_t cap) {
  const CfgField *f = &s->fields[s->units[u].field];
  if (f->is_list)
    snprintf(buf, cap, "%s[%d]", f->name, s->units[u].elem + 1);
  else
    snprintf(buf, cap, "%s", f->name);
}

static int check_units(const ConfigSpace *s, int *cfg, bool fix, Diag *d) {
  for (int u = 0; u < s->nunits; u++) {
    int *v = cfg + s->units[u].offset;
    if (cfg_frag_contains(s->units[u].frag, v)) continue;
    if (fix) {
      cfg_frag_clamp(s->units[u].frag, v);
      continue;
    }
    char what[CFG_NAME_MAX + 16];
    unit_label(s, u, what, sizeof what);
    return cfg_frag_check(s->units[u].frag, v, what, d);
  }
  return HL_OK;
}

/* Fixing one constraint can break another that ran before it; four rounds settle every case we
 * have (each built-in only ever shrinks or resets values), then a last round checks. */
#define NORMALIZE_ROUNDS 4

int cfgspace_normalize(const ConfigSpace *s, int *cfg, bool fix, Diag *d) {
  if (check_units(s, cfg, fix, d) != HL_OK) return HL_ERR;
  if (!fix) {
    for (int i = 0; i < s->ncons; i++)
      if (s->cons[i].fn(s, cfg, false, &s->cons[i], d) != HL_OK) return HL_ERR;
    return HL_OK;
  }
  for (int round = 0; round < NORMALIZE_ROUNDS; round++) {
    uint64_t before = cfgspace_hash(s, cfg);
    for (int i = 0; i < s->ncons; i++)
      if (s->cons[i].fn(s, cfg, true, &s->cons[i], d) != HL_OK) return HL_ERR;
    if (cfgspace_hash(s, cfg) == before) break;
  }
  for (int u = 0; u < s->nunits; u++)
    if (!cfg_frag_contains(s->units[u].frag, cfg + s->units[u].offset)) {
      char what[CFG_NAME_MAX + 16];
      unit_label(s, u, what, sizeof what);
      return diag_set(d, "config space: a constraint left %s outside its domain", what);
    }
  return cfgspace_normalize(s, cfg, false, d);
}

/* ---- built-in constraints ---------------------------------------------------------------------
 */

static int max_threads_fn(const ConfigSpace *s, int *cfg, bool fix, const CfgConstraint *c,
                          Diag *d) {
  const CfgUnit *u = cfg_find_unit(s, "num_warps", 0);
  if (!u) return HL_OK;
  int *w = &cfg[u->offset];
  if ((long long)*w * 32 <= c->arg) return HL_OK;
  if (fix)
    while ((long long)*w * 32 > c->arg && *w / 2 >= u->frag->lo)
      *w /= 2;
  if ((long long)*w * 32 <= c->arg) return HL_OK;
  return diag_set(d,
                  "num_warps = %d asks for %lld threads per program, more than the %lld the "
                  "device allows; use num_warps <= %lld",
                  *w, (long long)*w * 32, c->arg, c->arg / 32);
}

int cfgspace_constrain_max_threads(ConfigSpace *s, int max_threads, Diag *d) {
  return cfgspace_add_constraint(s, "max_threads", "num_warps", max_threads, max_threads_fn, NULL,
                                 d);
}

static double element_size(const CfgUnit *u, const int *cfg) {
  int v = cfg[u->offset];
  return v == CFG_NONE ? u->frag->hi : v;
}

static int numel_fn(const ConfigSpace *s, int *cfg, bool fix, const CfgConstraint *c, Diag *d) {
  int fi = cfgspace_find(s, c->field);
  if (fi < 0) return HL_OK;
  const CfgField *f = &s->fields[fi];
  const CfgUnit *units = &s->units[f->first_unit];
  for (;;) {
    double numel = 1;
    for (int e = 0; e < f->count; e++)
      if (units[e].frag->kind == CFG_POW2 || units[e].frag->kind == CFG_INT)
        numel *= element_size(&units[e], cfg);
    if (numel <= (double)c->arg) return HL_OK;
    int best = -1;
    if (fix)
      for (int e = 0; e < f->count; e++) {
        const CfgFragment *fr = units[e].frag;
        int v = cfg[units[e].offset];
        if ((fr->kind != CFG_POW2 && fr->kind != CFG_INT) || v == CFG_NONE || v / 2 < fr->lo)
          continue;
        if (best < 0 || v > cfg[units[best].offset]) best = e;
      }
    if (best >= 0) {
      cfg[units[best].offset] /= 2;
      continue;
    }
    char vals[512];
    CfgOut o;
    cfg_out_init(&o, vals, sizeof vals);
    for (int e = 0; e < f->count; e++) {
      cfg_out_str(&o, e ? ", " : "{");
      cfg_out_value(&o, units[e].frag, cfg + units[e].offset, true);
    }
    cfg_out_str(&o, "}");
    return diag_set(d,
                    "%s = %s: the tile has %.0f elements, more than the limit of %lld; make "
                    "the blocks smaller",
                    f->name, vals, numel, c->arg);
  }
}

int cfgspace_constrain_numel(ConfigSpace *s, const char *field, long long cap, Diag *d) {
  if (!field) field = "block_sizes";
  if (cap < 1) return diag_set(d, "config space: %s needs an element limit of at least 1", field);
  return cfgspace_add_constraint(s, "numel", field, cap, numel_fn, NULL, d);
}

static int persistent_only_fn(const ConfigSpace *s, int *cfg, bool fix, const CfgConstraint *c,
                              Diag *d) {
  const char *pid = cfgspace_get_enum(s, cfg, "pid_type", 0, NULL);
  if (!fix || !pid || strncmp(pid, "persistent", 10) == 0) return HL_OK;
  static const char *const fields[] = {"num_sm_multiplier", "maxnreg"};
  for (int i = 0; i < 2; i++) {
    const CfgUnit *u = cfg_find_unit(s, fields[i], 0);
    if (u) cfg_frag_default(u->frag, &cfg[u->offset]);
  }
  return HL_OK;
}

int cfgspace_constrain_persistent_only(ConfigSpace *s, Diag *d) {
  return cfgspace_add_constraint(s, "persistent_only", "pid_type", 0, persistent_only_fn, NULL, d);
}
