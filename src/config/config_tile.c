/* The tile_numel constraint: the elements of one tile value (a product of block sizes, reduction
 * sizes and constants) stay under a per-target cap in every config; a repair halves the largest
 * block, then chunks a reduction. Part of src/config (config space); config_derive.c adds one
 * per tile value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* ---- the tile_numel constraint ---------------------------------------------------------------
 */

typedef struct Factor {
  char kind; /* 'B', 'R', 'C' */
  int idx;
  long long size; /* R: persistent size; C: the constant */
} Factor;

static int parse_tile(const char *spec, Factor *fs, int cap) {
  int n = 0;
  const char *p = spec;
  while (*p && n < cap) {
    Factor fc = {.kind = 'C'};
    char *end;
    if (*p == 'B' || *p == 'R') fc.kind = *p++;
    long long v = strtoll(p, &end, 10);
    if (end == p || v < 0) return -1;
    p = end;
    if (fc.kind == 'C') {
      fc.size = v;
    } else {
      fc.idx = (int)v;
    }
    if (fc.kind == 'R') {
      if (*p++ != ':') return -1;
      fc.size = strtoll(p, &end, 10);
      if (end == p || fc.size < 1) return -1;
      p = end;
    }
    fs[n++] = fc;
    if (*p == '*')
      p++;
    else if (*p)
      return -1;
  }
  return *p ? -1 : n;
}

/* The unit of a factor and its element count in cfg; u is NULL for a constant or a factor the
 * space lacks (then the count is its constant / persistent size). */
static long long factor_size(const ConfigSpace *s, const int *cfg, const Factor *fc,
                             const CfgUnit **u) {
  *u = fc->kind == 'C'
           ? NULL
           : cfg_find_unit(s, fc->kind == 'B' ? "block_sizes" : "reduction_loops", fc->idx);
  if (fc->kind == 'C') return fc->size;
  if (!*u) return fc->kind == 'R' ? fc->size : 1;
  int v = cfg[(*u)->offset];
  return v == CFG_NONE ? fc->size : v;
}

static void factor_label(const ConfigSpace *s, const int *cfg, const Factor *fc, CfgOut *o) {
  const CfgUnit *u;
  long long n = factor_size(s, cfg, fc, &u);
  if (!u) {
    cfg_out_printf(o, "%lld", n);
    return;
  }
  bool none = cfg[u->offset] == CFG_NONE;
  cfg_out_printf(o, "%s[%d] = ", fc->kind == 'B' ? "block_sizes" : "reduction_loops", fc->idx + 1);
  if (none)
    cfg_out_printf(o, "none (%lld)", n);
  else
    cfg_out_printf(o, "%lld", n);
}

/* One repair step: halve the largest block above its minimum (earliest on ties); else make a
 * persistent reduction its largest chunk; else halve a chunk. false when nothing can shrink. */
static bool tile_shrink(const ConfigSpace *s, int *cfg, const Factor *fs, int n) {
  const CfgUnit *best = NULL, *u;
  for (int pass = 0; pass < 2 && !best; pass++)
    for (int i = 0; i < n; i++) {
      if (fs[i].kind != (pass == 0 ? 'B' : 'R')) continue;
      factor_size(s, cfg, &fs[i], &u);
      if (!u || u->frag->kind != CFG_POW2) continue;
      int v = cfg[u->offset];
      bool can = v == CFG_NONE ? u->frag->hi < fs[i].size : v / 2 >= u->frag->lo;
      if (!can) continue;
      if (v == CFG_NONE) { /* a persistent reduction goes first */
        best = u;
        break;
      }
      if (!best || v > cfg[best->offset]) best = u;
    }
  if (!best) return false;
  int *v = &cfg[best->offset];
  *v = *v == CFG_NONE ? best->frag->hi : *v / 2;
  return true;
}

static int tile_numel_fn(const ConfigSpace *s, int *cfg, bool fix, const CfgConstraint *c,
                         Diag *d) {
  Factor fs[CFG_NAME_MAX / 2];
  int n = parse_tile(c->field, fs, (int)(sizeof fs / sizeof fs[0]));
  if (n < 0)
    return diag_set(d, "config space: bad tile \"%s\" in a tile_numel constraint", c->field);
  for (;;) {
    long long numel = 1;
    const CfgUnit *u;
    for (int i = 0; i < n; i++)
      numel = cfg_sat_mul(numel, factor_size(s, cfg, &fs[i], &u));
    if (numel <= c->arg) return HL_OK;
    if (fix && tile_shrink(s, cfg, fs, n)) continue;
    char what[600];
    CfgOut o;
    cfg_out_init(&o, what, sizeof what);
    for (int i = 0; i < n; i++) {
      if (i) cfg_out_str(&o, " x ");
      factor_label(s, cfg, &fs[i], &o);
    }
    return diag_set(d,
                    "block_sizes: a tile of this config has %lld elements (%s), more than the %lld "
                    "allowed on %s; use smaller block_sizes or reduction_loops",
                    numel, what, c->arg, cfg_target_name(cfgspace_target(s)));
  }
}

int cfgspace_constrain_tile_numel(ConfigSpace *s, const char *tile, long long cap, Diag *d) {
  Factor fs[CFG_NAME_MAX / 2];
  if (!tile || strlen(tile) >= CFG_NAME_MAX || parse_tile(tile, fs, CFG_NAME_MAX / 2) < 1)
    return diag_set(d, "config space: tile \"%s\" is not factors like B0*R1:1024*4",
                    tile ? tile : "(null)");
  if (cap < 1)
    return diag_set(d, "config space: tile %s needs an element limit of at least 1", tile);
  return cfgspace_add_constraint(s, "tile_numel", tile, cap, tile_numel_fn, NULL, d);
}
