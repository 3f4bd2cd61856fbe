/* The cuda dot constraints: num_warps must split each tensor-core dot tile into warp tiles of at
 * least 16x16 (what the NVPTX lowering's nvmma accepts), and wgmma = true makes a tile wgmma
 * takes. Part of src/config (config space).
 *
 * The tile is named by its M and N dims, each a block slot ("B3") or a constant ("16"), as
 * "M,N" in the constraint's field. The cap is min(16, (bm/16) * (bn/16)) warps (none when a dim
 * is under 16: such a dot takes the portable path, any warp count works). Only a repair: fix
 * halves num_warps (the tuner's candidates, the defaults); a checked config over the cap is still
 * valid, since the lowering falls back (fewer warps do the mma, or the portable path) and Triton
 * takes any split, so a user's config never becomes an error. */
#include <stdlib.h>

#include "config/config_internal.h"

/* A dim of the spec: its size in cfg (a block slot's value, or the constant); -1 malformed. */
static long long dim_size(const ConfigSpace *s, const int *cfg, const char **p) {
  char *end;
  bool slot = **p == 'B';
  long long v = strtoll(*p + slot, &end, 10);
  if (end == *p + slot || v < 0) return -1;
  *p = end;
  if (!slot) return v;
  const CfgUnit *u = cfg_find_unit(s, "block_sizes", (int)v);
  if (!u) return 16; /* not in the space: no constraint from it */
  int b = cfg[u->offset];
  return b == CFG_NONE ? u->frag->hi : b;
}

static int dot_warps_fn(const ConfigSpace *s, int *cfg, bool fix, const CfgConstraint *c, Diag *d) {
  const CfgUnit *w = cfg_find_unit(s, "num_warps", 0);
  if (!w) return HL_OK;
  const char *p = c->field;
  long long m = dim_size(s, cfg, &p);
  long long n = *p == ',' ? (p++, dim_size(s, cfg, &p)) : -1;
  if (m < 0 || n < 0 || *p)
    return diag_set(d, "config space: bad dot tile \"%s\" in a dot_warps constraint", c->field);
  long long cap = (m / 16) * (n / 16);
  if (cap < 1) return HL_OK;
  if (cap > 16) cap = 16;
  int *v = &cfg[w->offset];
  if (!fix || *v == CFG_NONE) return HL_OK;
  while (*v > cap && *v / 2 >= w->frag->lo)
    *v /= 2;
  return HL_OK;
}

int cfgspace_constrain_dot_warps(ConfigSpace *s, const char *mn, Diag *d) {
  return cfgspace_add_constraint(s, "dot_warps", mn, 0, dot_warps_fn, NULL, d);
}

/* wgmma (the K-loop dot "M,N,K" on Hopper's warpgroup MMA, lowering.md): the lowering takes it
 * for block_k 64, block_m a multiple of 64 with a warpgroup (4 warps) per 64·R rows, block_n a
 * multiple of 64 up to 256, at most 128 accumulators per thread (R·bn/2); any other tile runs
 * mma.sync whatever wgmma says. So fix turns wgmma = true into such a tile where it can (block_k
 * to 64 when its range has 64; num_warps to 4 or more, halved until the warpgroups divide
 * block_m, doubled while the accumulators are too many), and otherwise back to false: the
 * tuner's flip of the bit is always a real wgmma config, and configs that make the same code
 * compare equal. A checked config is never an error (the lowering falls back). */
static int dot_wgmma_fn(const ConfigSpace *s, int *cfg, bool fix, const CfgConstraint *c,
                        Diag *d) {
  const CfgUnit *wu = cfg_find_unit(s, "wgmma", 0), *w = cfg_find_unit(s, "num_warps", 0);
  if (!wu || !w || !fix || cfg[wu->offset] != 1) return HL_OK;
  const char *p = c->field;
  long long v[3];
  const CfgUnit *ku = NULL;
  for (int i = 0; i < 3; i++) {
    if (i && *p++ != ',')
      return diag_set(d, "config space: bad dot tile \"%s\" in a dot_wgmma constraint", c->field);
    if (i == 2 && *p == 'B') ku = cfg_find_unit(s, "block_sizes", atoi(p + 1));
    v[i] = dim_size(s, cfg, &p);
    if (v[i] < 0)
      return diag_set(d, "config space: bad dot tile \"%s\" in a dot_wgmma constraint", c->field);
  }
  long long m = v[0], n = v[1], k = v[2];
  int *nw = &cfg[w->offset];
  if (k != 64 && ku && cfg[ku->offset] != CFG_NONE && ku->frag->lo <= 64 && 64 <= ku->frag->hi)
    cfg[ku->offset] = 64, k = 64;
  if (*nw == CFG_NONE) *nw = w->frag->def;
  if (k == 64 && m >= 64 && m <= 256 && n >= 64 && n <= 256 && n % 64 == 0) {
    if (*nw < 4) *nw = 4;
    while (*nw > 4 && m % (16 * *nw)) *nw /= 2;
    while ((m / (16 * *nw)) * n / 2 > 128 && 32 * *nw <= m) *nw *= 2;
    if (m % (16 * *nw) == 0 && (m / (16 * *nw)) * n / 2 <= 128 && *nw <= w->frag->hi) return HL_OK;
  }
  cfg[wu->offset] = 0;
  return HL_OK;
}

int cfgspace_constrain_dot_wgmma(ConfigSpace *s, const char *mnk, Diag *d) {
  return cfgspace_add_constraint(s, "dot_wgmma", mnk, 0, dot_wgmma_fn, NULL, d);
}
