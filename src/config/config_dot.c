/* The cuda dot constraint: num_warps must split each tensor-core dot tile into warp tiles of at
 * least 16x16 (what the NVPTX lowering's nvmma accepts). Part of src/config (config space).
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
