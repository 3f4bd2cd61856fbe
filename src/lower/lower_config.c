/* The Config as the lowering sees it: checking each knob against the kernel (messages name the
 * field) and the target's defaults for knobs the Config leaves out. Part of src/lower
 * (bind_config).
 *
 * Defaults are the target's config space's (cpu or cuda) (src/config, cfgspace_derive: its default heuristic), so a
 * Config with holes compiles like the tuner's default. Should the derivation fail, a simple
 * fallback: 64 per dim for multi-dim tiles and inner loops, a 1-D top-level tile of ~8K elements
 * with its ':' dims (at most 1024), persistent reductions up to 32K elements. Loop orders
 * identity, unrolling the compiler's choice, all cores. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "config/config.h"
#include "lower/lower_internal.h"

#define MAX_BLOCK        (1 << 20)
#define TILE_BUDGET      8192
#define PERSISTENT_MAX   32768
#define DEFAULT_RCHUNK   4096
#define DEFAULT_NESTED   64
#define DEFAULT_MULTIDIM 64
#define DEFAULT_1D_MAX   1024

void lower_config_init(LowerConfig *c) {
  memset(c, 0, sizeof *c);
  for (int i = 0; i < LOWER_MAX_LIST; i++) {
    c->block_sizes[i] = -1;
    c->reduction_loops[i] = -1;
    c->range_unroll_factors[i] = -1;
  }
}

static bool is_pow2(int64_t v) {
  return v > 0 && (v & (v - 1)) == 0;
}

static int64_t pow2_floor(int64_t v) {
  int64_t p = 1;
  while (p * 2 <= v)
    p *= 2;
  return p;
}

static int64_t pow2_ceil(int64_t v) {
  int64_t p = 1;
  while (p < v && p < ((int64_t)1 << 40))
    p *= 2;
  return p;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* ---- defaults ------------------------------------------------------------------------------ */

/* Product of the extents of the ':' dims read or written inside loop `li`'s nest. */
static int64_t nest_rdim_extent(const IrFunc *f, const IrRegion *r) {
  int64_t prod = 1;
  bool seen[LOWER_MAX_LIST] = {false};
  /* walk every memory op below r */
  const IrOp *stack[IR_MAX_DEPTH * 4];
  int sp = 0;
  for (const IrOp *op = r->first; op; op = op->next)
    if (sp < (int)(sizeof stack / sizeof *stack)) stack[sp++] = op;
  while (sp > 0) {
    const IrOp *op = stack[--sp];
    if (op->body) {
      for (const IrOp *o = op->body->first; o; o = o->next)
        if (sp < (int)(sizeof stack / sizeof *stack)) stack[sp++] = o;
      continue;
    }
    IrOpClass cls = ir_op_info(op->kind)->cls;
    if ((cls != IR_CLASS_LOAD && cls != IR_CLASS_STORE) || !op->attrs) continue;
    for (int i = 0; i < op->attrs->nidx; i++) {
      int rd = op->attrs->rdim[i];
      if (op->attrs->idx[i] != IR_IDX_SLICE || rd < 0 || rd >= LOWER_MAX_LIST || seen[rd]) continue;
      seen[rd] = true;
      if (rd < f->nrdims && f->rdims[rd].extent > 0) prod *= f->rdims[rd].extent;
    }
  }
  return prod;
}

static int64_t default_block(const IrFunc *f, int slot, const IrLoopInfo *loops, int nloops) {
  const IrBlockSlot *s = &f->slots[slot];
  if (s->kind == IR_SLOT_REGISTERED) {
    int64_t v = pow2_floor(clamp64(DEFAULT_NESTED, s->min, s->max));
    return v < s->min ? pow2_ceil(s->min) : v;
  }
  int64_t ext = s->extent > 0 ? s->extent : 4096;
  for (int i = 0; i < nloops; i++) {
    const IrLoopInfo *li = &loops[i];
    for (int d = 0; d < li->ndims; d++) {
      if (li->block[d].kind != IR_DIM_BLOCK || li->block[d].v != slot) continue;
      if (li->depth > 0) return clamp64(pow2_ceil(ext), 1, DEFAULT_NESTED);
      if (li->ndims > 1) return clamp64(pow2_ceil(ext), 1, DEFAULT_MULTIDIM);
      int64_t r = nest_rdim_extent(f, li->op->body);
      int64_t want = pow2_floor(r > 0 && r < TILE_BUDGET ? TILE_BUDGET / r : 1);
      return clamp64(want, 1, clamp64(pow2_ceil(ext), 1, DEFAULT_1D_MAX));
    }
  }
  return clamp64(pow2_ceil(ext), 1, DEFAULT_NESTED);
}

/* The default of a tunable from its fragment text: "PowerOfTwoFragment(16, 256, 64)" → 64 (the
 * third number, else the first), "BooleanFragment(True)" → 1. */
static double tunable_default(const IrTunable *t) {
  const char *s = t->fragment ? t->fragment : "";
  if (strncmp(s, "Boolean", 7) == 0) return strstr(s, "True") || strstr(s, "true") ? 1 : 0;
  double nums[3];
  int n = 0;
  for (const char *p = s; *p && n < 3;) {
    if (isdigit((unsigned char)*p) || ((*p == '-' || *p == '.') && isdigit((unsigned char)p[1]))) {
      char *end;
      nums[n++] = strtod(p, &end);
      p = end;
    } else {
      p++;
    }
  }
  return n >= 3 ? nums[2] : n >= 1 ? nums[0] : 0;
}

/* ---- checking ------------------------------------------------------------------------------ */

static int check_len(const char *field, int given, int have, const char *what, Diag *d) {
  if (given <= have) return HL_OK;
  return diag_set(d, "config field %s has %d entries, but the kernel has %d %s", field, given, have,
                  what);
}

static int check_perm(const LowerConfig *cfg, int i, int ndims, Diag *d) {
  const int *p = cfg->loop_orders[i];
  int len = cfg->loop_order_len[i], base = cfg->base;
  bool seen[IR_MAX_RANK] = {false}, ok = len == ndims;
  for (int k = 0; ok && k < len; k++) {
    if (p[k] < 0 || p[k] >= ndims || seen[p[k]])
      ok = false;
    else
      seen[p[k]] = true;
  }
  if (ok) return HL_OK;
  char buf[128] = "";
  size_t n = 0;
  for (int k = 0; k < len && n < sizeof buf - 16; k++)
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%d", k ? ", " : "", p[k] + base);
  return diag_set(d, "config field loop_orders[%d] = {%s} is not a permutation of %d..%d", i + base,
                  buf, base, ndims - 1 + base);
}

/* The config space's default config for f, when it can be derived. */
typedef struct Defaults {
  ConfigSpace *space;
  int *cfg;
} Defaults;

static void defaults_free(Defaults *df) {
  cfgspace_free(df->space);
  mem_free(df->cfg);
}

static void defaults_derive(const IrFunc *f, LowerTarget target, Defaults *df) {
  Diag ignored;
  if (cfgspace_derive(f, target == LOWER_TARGET_CUDA ? "cuda" : "cpu", &df->space, &ignored)) {
    df->space = NULL;
    return;
  }
  df->cfg = mem_alloc(sizeof(int) * (size_t)(cfgspace_slots(df->space) + 1));
  if (!df->cfg || cfgspace_default(df->space, df->cfg, &ignored)) {
    defaults_free(df);
    df->space = NULL;
    df->cfg = NULL;
  }
}

static int bind_fields(const IrFunc *f, const LowerConfig *cfg, const IrLoopInfo *loops, int nloops,
                       const Defaults *dflt, LowerBinding *out, Diag *d);

const char *const lower_pid_type_names[4] = {"flat", "xyz", "persistent_blocked",
                                             "persistent_interleaved"};
const char *const lower_dot_precision_names[2] = {"ieee", "tf32"};

static int bind_cuda(const IrFunc *f, const LowerConfig *cfg, const IrLoopInfo *loops, int nloops,
                     const Defaults *dflt, LowerBinding *out, Diag *d);

int lower_config_bind(const IrFunc *f, const LowerConfig *cfg, LowerBinding *out, Diag *d) {
  return lower_config_bind_for(f, cfg, LOWER_TARGET_CPU, out, d);
}

int lower_config_bind_for(const IrFunc *f, const LowerConfig *cfg, LowerTarget target,
                          LowerBinding *out, Diag *d) {
  memset(out, 0, sizeof *out);
  out->target = target;
  if (f->nslots > LOWER_MAX_LIST || f->nrdims > LOWER_MAX_LIST)
    return diag_set(d, "the kernel has more than %d block sizes or reduction dims", LOWER_MAX_LIST);
  IrLoopInfo loops[LOWER_MAX_LIST];
  int nloops = ir_func_loops(f, loops, LOWER_MAX_LIST);
  if (nloops > LOWER_MAX_LIST)
    return diag_set(d, "the kernel has %d device loops (at most %d)", nloops, LOWER_MAX_LIST);
  if (f->ntunables > LOWER_MAX_TUNABLES)
    return diag_set(d, "the kernel has %d tunables (at most %d)", f->ntunables, LOWER_MAX_TUNABLES);

  Defaults dflt = {0};
  bool holes =
      cfg->nblock_sizes < f->nslots || cfg->nreduction_loops < f->nrdims || cfg->vector_width == 0;
  for (int i = 0; i < cfg->nblock_sizes; i++)
    holes |= cfg->block_sizes[i] == -1;
  for (int i = 0; i < cfg->nreduction_loops; i++)
    holes |= cfg->reduction_loops[i] == -1;
  if (target == LOWER_TARGET_CUDA) holes |= cfg->num_warps == 0;
  if (holes) defaults_derive(f, target, &dflt);
  int rc = bind_fields(f, cfg, loops, nloops, &dflt, out, d);
  out->target = target;
  if (rc == HL_OK && target == LOWER_TARGET_CUDA)
    rc = bind_cuda(f, cfg, loops, nloops, &dflt, out, d);
  defaults_free(&dflt);
  return rc;
}

static int bind_fields(const IrFunc *f, const LowerConfig *cfg, const IrLoopInfo *loops, int nloops,
                       const Defaults *dflt_p, LowerBinding *out, Diag *d) {
  Defaults dflt = *dflt_p;
  int base = cfg->base;
  /* block_sizes */
  if (check_len("block_sizes", cfg->nblock_sizes, f->nslots,
                "block sizes (one per tiled dim and hl.register_block_size)", d))
    return HL_ERR;
  out->nslots = f->nslots;
  for (int i = 0; i < f->nslots; i++) {
    int64_t v = i < cfg->nblock_sizes ? cfg->block_sizes[i] : -1;
    const IrBlockSlot *s = &f->slots[i];
    if (v == -1) {
      out->block[i] = default_block(f, i, loops, nloops);
      if (dflt.space)
        out->block[i] = cfgspace_get(dflt.space, dflt.cfg, "block_sizes", i, (int)out->block[i]);
      continue;
    }
    if (!is_pow2(v))
      return diag_set(d, "config field block_sizes[%d] = %lld must be a power of two >= 1",
                      i + base, (long long)v);
    if (v > MAX_BLOCK)
      return diag_set(d, "config field block_sizes[%d] = %lld is larger than %d", i + base,
                      (long long)v, MAX_BLOCK);
    if (s->kind == IR_SLOT_REGISTERED && (v < s->min || v > pow2_ceil(s->max))) {
      char where[300];
      return diag_set(d,
                      "config field block_sizes[%d] = %lld is outside [%lld, %lld], the range "
                      "hl.register_block_size asks for at %s",
                      i + base, (long long)v, (long long)s->min, (long long)s->max,
                      ir_loc_str(f, s->loc, where, sizeof where));
    }
    out->block[i] = v;
  }

  /* reduction_loops */
  if (check_len("reduction_loops", cfg->nreduction_loops, f->nrdims,
                "reduction dims (':' slices of distinct sizes)", d))
    return HL_ERR;
  out->nrdims = f->nrdims;
  for (int i = 0; i < f->nrdims; i++) {
    int64_t v = i < cfg->nreduction_loops ? cfg->reduction_loops[i] : -1;
    int64_t ext = f->rdims[i].extent;
    if (v == -1) {
      out->rchunk[i] = ext > PERSISTENT_MAX ? DEFAULT_RCHUNK : 0;
      if (dflt.space) {
        int c = cfgspace_get(dflt.space, dflt.cfg, "reduction_loops", i, (int)out->rchunk[i]);
        out->rchunk[i] = c == CFG_NONE || c >= ext ? 0 : c;
      }
      continue;
    }
    if (v != 0 && !is_pow2(v))
      return diag_set(d,
                      "config field reduction_loops[%d] = %lld must be a power of two (a chunk "
                      "size) or none (the whole dim at once)",
                      i + base, (long long)v);
    out->rchunk[i] = v >= ext ? 0 : v; /* a chunk covering the dim is the persistent form */
  }

  /* loop_orders: one per tile loop with 2 or more dims, in loop order */
  int nmulti = 0;
  out->nloops = nloops;
  for (int i = 0; i < nloops; i++) {
    for (int k = 0; k < loops[i].ndims; k++)
      out->order[i][k] = k;
    if (loops[i].kind != IR_OP_TILE || loops[i].ndims < 2) continue;
    if (nmulti < cfg->nloop_orders && cfg->loop_order_len[nmulti] > 0) {
      if (check_perm(cfg, nmulti, loops[i].ndims, d)) return HL_ERR;
      memcpy(out->order[i], cfg->loop_orders[nmulti], sizeof(int) * (size_t)loops[i].ndims);
    }
    nmulti++;
  }
  if (check_len("loop_orders", cfg->nloop_orders, nmulti, "tile loops over 2 or more dims", d))
    return HL_ERR;

  /* range_unroll_factors: one per inner loop (top-level loops are the program grid) */
  int ninner = 0;
  for (int i = 0; i < nloops; i++) {
    if (loops[i].depth == 0) continue;
    int v = ninner < cfg->nrange_unroll_factors ? cfg->range_unroll_factors[ninner] : -1;
    if (v < -1 || v > 64)
      return diag_set(d,
                      "config field range_unroll_factors[%d] = %d must be 0 (the compiler's "
                      "choice) to 64",
                      ninner + base, v);
    out->unroll[i] = v < 0 ? 0 : v;
    ninner++;
  }
  if (check_len("range_unroll_factors", cfg->nrange_unroll_factors, ninner,
                "inner device loops (loops inside another loop)", d))
    return HL_ERR;

  if (cfg->vector_width != 0 && (!is_pow2(cfg->vector_width) || cfg->vector_width > 64))
    return diag_set(d, "config field vector_width = %d must be a power of two from 1 to 64",
                    cfg->vector_width);
  out->vector_width = cfg->vector_width;
  if (cfg->vector_width == 0 && dflt.space)
    out->vector_width = cfgspace_get(dflt.space, dflt.cfg, "vector_width", 0, 0);
  if (cfg->cpu_threads < 0 || cfg->cpu_threads > 1024)
    return diag_set(d, "config field cpu_threads = %d must be 1 to 1024 (or unset: all cores)",
                    cfg->cpu_threads);
  out->threads = cfg->cpu_threads;

  /* user tunables, by name */
  out->ntunables = f->ntunables;
  for (int i = 0; i < f->ntunables; i++)
    out->tunable[i] = tunable_default(&f->tunables[i]);
  for (int j = 0; j < cfg->ntunables; j++) {
    int i = 0;
    while (i < f->ntunables && strcmp(f->tunables[i].name, cfg->tunables[j].name) != 0)
      i++;
    if (i == f->ntunables)
      return diag_set(d, "config field %s is neither a CPU knob nor a tunable the kernel registers",
                      cfg->tunables[j].name);
    double v = cfg->tunables[j].value;
    if (f->tunables[i].dtype != DT_FLOAT64 && v != (double)(int64_t)v)
      return diag_set(d, "config field %s = %g must be an integer (the tunable is %s)",
                      cfg->tunables[j].name, v, ir_dtype_name(f->tunables[i].dtype));
    out->tunable[i] = v;
  }
  return HL_OK;
}

/* The CUDA knobs (share/doc/gpu.md): checked, defaults filled in. */
static int bind_cuda(const IrFunc *f, const LowerConfig *cfg, const IrLoopInfo *loops, int nloops,
                     const Defaults *dflt, LowerBinding *out, Diag *d) {
  int base = cfg->base;
  int nw = cfg->num_warps;
  if (nw == 0) nw = dflt->space ? cfgspace_get(dflt->space, dflt->cfg, "num_warps", 0, 4) : 4;
  if (!is_pow2(nw) || nw > 32)
    return diag_set(d, "config field num_warps = %d must be a power of two from 1 to 32", nw);
  out->num_warps = nw;
  int ns = cfg->num_stages ? cfg->num_stages : 1;
  if (ns < 1 || ns > 8)
    return diag_set(d, "config field num_stages = %d must be 1 to 8", ns);
  out->num_stages = ns;
  int ntop = 0, topdims = 0;
  for (int i = 0; i < nloops; i++)
    if (loops[i].depth == 0) ntop++, topdims = loops[i].ndims;
  if (cfg->pid_type < 0 || cfg->pid_type > LOWER_PID_PERSISTENT_INTERLEAVED)
    return diag_set(d, "config field pid_type = %d is not a pid type", cfg->pid_type);
  if (cfg->pid_type == LOWER_PID_XYZ && !(ntop == 1 && topdims >= 2 && topdims <= 3))
    return diag_set(d, "config field pid_type = \"xyz\" needs exactly one top-level tile loop "
                       "of 2 or 3 dims; use \"flat\"");
  out->pid_type = cfg->pid_type;
  int m = cfg->num_sm_multiplier ? cfg->num_sm_multiplier : 1;
  if (!is_pow2(m) || m > 128)
    return diag_set(d, "config field num_sm_multiplier = %d must be a power of two from 1 to 128",
                    m);
  out->num_sm_multiplier = m;
  if (cfg->maxnreg != 0 && (cfg->maxnreg < 16 || cfg->maxnreg > 256))
    return diag_set(d, "config field maxnreg = %d must be 16 to 256 (or none)", cfg->maxnreg);
  out->maxnreg = cfg->maxnreg;
  if (cfg->dot_precision != LOWER_DOT_IEEE && cfg->dot_precision != LOWER_DOT_TF32)
    return diag_set(d, "dot_precision = %d is not \"ieee\" or \"tf32\"", cfg->dot_precision);
  out->dot_precision = cfg->dot_precision;
  out->wgmma = cfg->wgmma ? cfg->wgmma == 2
                          : dflt->space && cfgspace_get(dflt->space, dflt->cfg, "wgmma", 0, 0);
  out->sm_count = cfg->sm_count > 0 ? cfg->sm_count : 132;
  int n2 = 0;
  for (int i = 0; i < nloops; i++) {
    out->l2[i] = 1;
    if (loops[i].depth != 0 || loops[i].kind != IR_OP_TILE || loops[i].ndims < 2) continue;
    if (n2 < cfg->nl2_groupings) {
      int g = cfg->l2_groupings[n2];
      if (g < 1 || g > 256)
        return diag_set(d, "config field l2_groupings[%d] = %d must be 1 to 256", n2 + base, g);
      out->l2[i] = g;
    }
    n2++;
  }
  if (check_len("l2_groupings", cfg->nl2_groupings, n2, "top-level tile loops of 2+ dims", d))
    return HL_ERR;
  IrMemOpInfo mems[LOWER_MAX_LIST * 4];
  int nm = ir_func_memops(f, mems, LOWER_MAX_LIST * 4);
  int nl = 0;
  for (int i = 0; i < nm && i < LOWER_MAX_LIST * 4; i++)
    nl += mems[i].kind == IR_OP_LOAD && !mems[i].explicit_eviction;
  if (check_len("load_eviction_policies", cfg->nload_eviction_policies, nl,
                "loads without their own eviction_policy", d))
    return HL_ERR;
  out->nevict = nl < LOWER_MAX_LIST ? nl : LOWER_MAX_LIST;
  for (int i = 0; i < out->nevict; i++) {
    int v = i < cfg->nload_eviction_policies ? cfg->load_eviction_policies[i] : IR_EVICT_NONE;
    if (v < IR_EVICT_NONE || v > IR_EVICT_LAST)
      return diag_set(d, "config field load_eviction_policies[%d] = %d is not a policy", i + base,
                      v);
    out->evict[i] = v;
  }
  return HL_OK;
}
