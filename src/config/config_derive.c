/* Config spaces: a kernel's space derived from its tile IR for one target, with the default
 * heuristic; the per-tile element constraint it adds is config_tile.c's. Part of src/config
 * (config space).
 *
 * The only config file that reads the IR. What it derives, per target, and why each default is
 * what it is: share/doc/config-space.md, "Deriving a kernel's space". In short:
 *  - block_sizes: one per IR block slot, powers of two in [min, next_pow2(extent)] (a dot's
 *    dims at least 16 on CUDA); defaults from a per-target element budget per tile value, the
 *    contiguous dim kept widest, then shrunk until the grid has enough programs;
 *  - loop_orders (and on CUDA flatten_loops): one per tile loop with two or more dims; CUDA's
 *    l2_groupings one per such top-level loop; reduction_loops: one per reduction dim; range_*
 *    knobs: one per loop nested in another (top-level loops are the grid, not loops); the
 *    rest per target (CPU vector_width, cpu_threads; CUDA warps, stages, indexing, eviction,
 *    pid type, persistent knobs); user tunables from their fragment text;
 *  - constraints: every tile value's elements <= a per-target cap (tile_numel). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "config/config_internal.h"
#include "ir/ir.h"

/* ---- per-target heuristic parameters ---------------------------------------------------------
 */

typedef struct Heuristic {
  long long tile_cap;       /* constraint: elements of one tile value, any config */
  long long budget;         /* default: elements of one tile value */
  int contig_max;           /* default block of a contiguous (stride-1) dim, before the budget
                               (any other dim starts at the budget) */
  int contig_weight;        /* the budget halves a contiguous dim only once it is this many
                               times the other dims of the tile */
  long long min_programs;   /* default: grid blocks shrink until a nest has this many programs */
  long long min_tile;       /* ... unless that takes a tile below this many elements */
  int dot_m, dot_n, dot_k;  /* default blocks of a dot's dims */
  int dot_big_m, dot_big_n; /* default M and N blocks when every dot is a K loop of loads
                               (0: dot_m, dot_n) */
  int dot_big_warps;        /* ... and num_warps when the default dot tile is that big */
  int dot_min;              /* smallest block of a dot's dims */
  int dot_max_mn, dot_max_k; /* largest block of a dot's M / N and K dims (0: no cap) */
  int dot_grid_min;         /* a dot's M / N blocks may shrink to this for enough programs */
  long long persistent_max; /* reduction dims up to this size default to persistent */
  int unknown_max;          /* largest block of a dim whose extent the IR does not know */
} Heuristic;

static const Heuristic heuristics[CFG_TARGET_COUNT] = {
    /* CPU: 4096-element tiles (16 KiB of float32) stay in L1 beside their operands; 1024-wide
     * rows vectorize and stream; 64 programs keep 16 cores busy with 4 each. A dot's 32x64
     * accumulator with 64-deep operand tiles is 32 KiB, about L1. */
    [CFG_TARGET_CPU] = {.tile_cap = 65536,
                        .budget = 4096,
                        .contig_max = 1024,
                        .contig_weight = 8,
                        .min_programs = 64,
                        .min_tile = 1024,
                        .dot_m = 32,
                        .dot_n = 64,
                        .dot_k = 64,
                        .dot_min = 1,
                        .persistent_max = 4096,
                        .unknown_max = 4096},
    /* CUDA: Triton's limit of 2^20 elements per tensor; 1024-element pointwise tiles (8 per
     * thread at 4 warps); a row per program for reductions over 1024 (Helion's rule); 64x64x32
     * dot tiles with tensor cores' minimum of 16; 128x256x32 with 8 warps for matmul-like
     * kernels (the pipelined nvmma loop: 457 TFLOP/s, 3 stages, bf16 4096^3 on the H100; 4 warps
     * once halved to 128x128: 432), halved down to 64 for enough programs; nvmma's limits 256
     * (M, N) and 128 (K); two programs per H100 SM (132). Rows up to 16384 stay whole (no
     * reduction loop): with the long-row warps below that is at most 64 elements per thread, so
     * the register-row path of the lowering (lower_plan_regs.c) holds them in registers. */
    [CFG_TARGET_CUDA] = {.tile_cap = 1 << 20,
                         .budget = 1024,
                         .contig_max = 1024,
                         .contig_weight = 8,
                         .min_programs = 264,
                         .min_tile = 256,
                         .dot_m = 64,
                         .dot_n = 64,
                         .dot_k = 32,
                         .dot_big_m = 128,
                         .dot_big_n = 256,
                         .dot_big_warps = 8,
                         .dot_min = 16,
                         .dot_max_mn = 256,
                         .dot_max_k = 128,
                         .dot_grid_min = 64,
                         .persistent_max = 16384,
                         .unknown_max = 4096},
};

/* ---- what the derivation reads from the IR ---------------------------------------------------
 */

enum { ROLE_NONE, ROLE_M, ROLE_N, ROLE_K };

typedef struct Slot {
  int lo, hi; /* the power-of-two domain */
  int def;
  bool contig; /* the stride-1 dim of some load or store */
  int role;    /* a dot's M, N or K dim */
} Slot;

/* The symbolic factors of one tile value's shape, sorted; constants folded into cst. */
typedef struct Shape {
  int nb, nr;
  int b[IR_MAX_RANK], r[IR_MAX_RANK];
  long long cst;
} Shape;

typedef struct Derive {
  const IrFunc *f;
  CfgTarget target;
  const Heuristic *h;
  ConfigSpace *s;
  Slot *slots;
  IrLoopInfo *loops;
  int nloops;
  IrMemOpInfo *mems;
  int nmems;
  Shape *shapes;
  int nshapes;
  long long *rsize; /* per reduction dim: its persistent size, the next power of two */
  bool *rcontig;    /* per reduction dim: the stride-1 dim of some load or store */
  int widest;       /* bytes of the widest float element of a tile value (0: none) */
  bool dot_in_loop; /* a dot inside a nested loop: a pipelined main loop */
  bool dot_other;   /* a dot that is not `acc = dot(load, load, acc)` in a loop */
  int ndots;
  char dot_mn[8][32]; /* per dot (the first 8): its "M,N" tile for the dot_warps constraint */
  char dot_wg[48];    /* the first bfloat16 / float16 K-loop dot of loads: "M,N,K" (wgmma) */
  bool wg_default;    /* the default config runs it on wgmma (wgmma_default) */
} Derive;

static long long next_pow2(long long n) {
  long long p = 1;
  while (p < n && p < (1ll << 30))
    p <<= 1;
  return p;
}

static long long floor_pow2(long long n) {
  long long p = 1;
  while (p * 2 <= n && p < (1ll << 30))
    p <<= 1;
  return p;
}

static int dtype_bytes(DType dt) {
  switch (dt) {
  case DT_FLOAT64:
  case DT_INT64:
    return 8;
  case DT_FLOAT32:
  case DT_INT32:
    return 4;
  case DT_FLOAT16:
  case DT_BFLOAT16:
  case DT_INT16:
    return 2;
  default:
    return 1;
  }
}

static int block_slot(const IrFunc *f, IrValueId v) {
  const IrValue *tv = ir_value(f, v);
  if (!tv || tv->kind != IR_VAL_TILE || tv->shape.rank != 1) return -1;
  if (tv->shape.dims[0].kind != IR_DIM_BLOCK) return -1;
  int s = (int)tv->shape.dims[0].v;
  return s >= 0 && s < f->nslots ? s : -1;
}

/* The dim of tensor t that is contiguous in memory (stride 1, size > 1), or -1. */
static int contiguous_dim(const IrValue *t) {
  for (int i = t->shape.rank - 1; i >= 0; i--) {
    if (t->shape.dims[i].kind == IR_DIM_CONST && t->shape.dims[i].v == 1) continue;
    if (!t->strides) return i;
    if (t->strides[i] == 1) return i;
  }
  return -1;
}

/* Marks the block slot or reduction dim that indexes the contiguous dim of a load or store. */
static void note_memop(Derive *x, const IrOp *op) {
  const IrAttrs *a = op->attrs;
  const IrValue *t = op->nargs > 0 ? ir_value(x->f, op->args[0]) : NULL;
  if (!a || !t || t->kind != IR_VAL_TENSOR) return;
  int cdim = contiguous_dim(t), arg = 1, tdim = 0;
  for (int i = 0; i < a->nidx; i++) {
    IrIndexKind k = a->idx[i];
    IrValueId iv = IR_NONE;
    if ((k == IR_IDX_TILE || k == IR_IDX_SCALAR || k == IR_IDX_GATHER) && arg < op->nargs)
      iv = op->args[arg++];
    if (k == IR_IDX_NEWAXIS) continue;
    if (tdim++ != cdim) continue;
    int slot = k == IR_IDX_TILE ? block_slot(x->f, iv) : -1;
    if (slot >= 0) x->slots[slot].contig = true;
    if (k == IR_IDX_SLICE && a->rdim[i] >= 0 && a->rdim[i] < x->f->nrdims)
      x->rcontig[a->rdim[i]] = true;
  }
}

static void note_dot_dim(Derive *x, IrDim dim, int role) {
  if (dim.kind == IR_DIM_BLOCK && dim.v >= 0 && dim.v < x->f->nslots &&
      x->slots[dim.v].role == ROLE_NONE)
    x->slots[dim.v].role = role;
}

/* A dot dim as a constraint names it: "B3" (block slot 3) or "16"; false for any other dim. */
static bool dim_spec(IrDim d, char *o, size_t cap) {
  snprintf(o, cap, "%s%lld", d.kind == IR_DIM_BLOCK ? "B" : "", (long long)d.v);
  return d.kind == IR_DIM_BLOCK || d.kind == IR_DIM_CONST;
}

static void note_dot(Derive *x, const IrOp *op, int depth) {
  const IrValue *a = op->nargs > 1 ? ir_value(x->f, op->args[0]) : NULL;
  const IrValue *b = op->nargs > 1 ? ir_value(x->f, op->args[1]) : NULL;
  if (!a || !b || a->shape.rank < 2 || b->shape.rank < 2) return;
  note_dot_dim(x, a->shape.dims[a->shape.rank - 2], ROLE_M);
  note_dot_dim(x, a->shape.dims[a->shape.rank - 1], ROLE_K);
  note_dot_dim(x, b->shape.dims[b->shape.rank - 1], ROLE_N);
  if (depth >= 2) x->dot_in_loop = true;
  bool loads = a->def_kind == IR_DEF_RESULT && a->def->kind == IR_OP_LOAD &&
               b->def_kind == IR_DEF_RESULT && b->def->kind == IR_OP_LOAD;
  if (depth < 2 || op->nargs != 3 || !loads) x->dot_other = true;
  IrDim dm = a->shape.dims[a->shape.rank - 2], dn = b->shape.dims[b->shape.rank - 1],
        dk = a->shape.dims[a->shape.rank - 1];
  char sm[16], sn[16], sk[16];
  bool ok = dim_spec(dm, sm, sizeof sm) & dim_spec(dn, sn, sizeof sn); /* not a reduction dim */
  if (x->ndots < 8 && ok) snprintf(x->dot_mn[x->ndots++], 32, "%s,%s", sm, sn);
  /* the wgmma knob: the first bf16 / f16 K-loop dot of loads whose constant dims fit wgmma */
  bool wg = dim_spec(dk, sk, sizeof sk) && ok && depth >= 2 && op->nargs == 3 && loads &&
            (a->dtype == DT_BFLOAT16 || a->dtype == DT_FLOAT16) && a->dtype == b->dtype &&
            (dm.kind == IR_DIM_BLOCK || dm.v % 64 == 0) &&
            (dn.kind == IR_DIM_BLOCK || dn.v % 64 == 0) && (dk.kind == IR_DIM_BLOCK || dk.v == 64);
  if (wg && !x->dot_wg[0]) snprintf(x->dot_wg, sizeof x->dot_wg, "%s,%s,%s", sm, sn, sk);
}

static void walk_ops(Derive *x, const IrRegion *r) {
  for (const IrOp *op = r->first; op; op = op->next) {
    if (op->kind == IR_OP_DOT) note_dot(x, op, r->depth);
    if (op->body) walk_ops(x, op->body);
  }
}

static int cmp_int(const void *a, const void *b) {
  return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Whether multiset a is inside multiset b (both sorted). */
static bool sub_multiset(const int *a, int na, const int *b, int nb) {
  int j = 0;
  for (int i = 0; i < na; i++) {
    while (j < nb && b[j] < a[i])
      j++;
    if (j == nb || b[j] != a[i]) return false;
    j++;
  }
  return true;
}

static bool shape_within(const Shape *a, const Shape *b) {
  return a->cst <= b->cst && sub_multiset(a->b, a->nb, b->b, b->nb) &&
         sub_multiset(a->r, a->nr, b->r, b->nr);
}

/* The distinct tile shapes of the kernel's values, leaving out any that another one bounds
 * (the elements of [B0] never exceed those of [B0, B1]). */
static void collect_shapes(Derive *x) {
  const IrFunc *f = x->f;
  for (int v = 0; v < f->nvalues; v++) {
    const IrValue *val = &f->values[v];
    if (val->kind != IR_VAL_DATA || val->shape.rank == 0) continue;
    Shape sh = {.cst = 1};
    for (int i = 0; i < val->shape.rank; i++) {
      IrDim dim = val->shape.dims[i];
      if (dim.kind == IR_DIM_CONST) sh.cst = cfg_sat_mul(sh.cst, dim.v > 0 ? dim.v : 1);
      if (dim.kind == IR_DIM_BLOCK && dim.v >= 0 && dim.v < f->nslots) sh.b[sh.nb++] = (int)dim.v;
      if (dim.kind == IR_DIM_RDIM && dim.v >= 0 && dim.v < f->nrdims) sh.r[sh.nr++] = (int)dim.v;
    }
    if (ir_dtype_is_float(val->dtype) && dtype_bytes(val->dtype) > x->widest)
      x->widest = dtype_bytes(val->dtype);
    if (sh.nb + sh.nr == 0) continue;
    qsort(sh.b, (size_t)sh.nb, sizeof(int), cmp_int);
    qsort(sh.r, (size_t)sh.nr, sizeof(int), cmp_int);
    bool keep = true;
    for (int i = 0; i < x->nshapes && keep; i++)
      if (shape_within(&sh, &x->shapes[i])) keep = false;
    if (!keep) continue;
    int n = 0;
    for (int i = 0; i < x->nshapes; i++)
      if (!shape_within(&x->shapes[i], &sh)) x->shapes[n++] = x->shapes[i];
    x->shapes[n++] = sh;
    x->nshapes = n;
  }
}

static int gather(Derive *x, Diag *d) {
  const IrFunc *f = x->f;
  x->nloops = ir_func_loops(f, NULL, 0);
  x->nmems = ir_func_memops(f, NULL, 0);
  x->slots = mem_calloc((size_t)f->nslots + 1, sizeof *x->slots);
  x->loops = mem_calloc((size_t)x->nloops + 1, sizeof *x->loops);
  x->mems = mem_calloc((size_t)x->nmems + 1, sizeof *x->mems);
  x->shapes = mem_calloc((size_t)f->nvalues + 1, sizeof *x->shapes);
  x->rsize = mem_calloc((size_t)f->nrdims + 1, sizeof *x->rsize);
  x->rcontig = mem_calloc((size_t)f->nrdims + 1, sizeof *x->rcontig);
  if (!x->slots || !x->loops || !x->mems || !x->shapes || !x->rsize || !x->rcontig)
    return diag_set(d, "config space: out of memory");
  ir_func_loops(f, x->loops, x->nloops);
  ir_func_memops(f, x->mems, x->nmems);
  for (int i = 0; i < f->nrdims; i++)
    x->rsize[i] = next_pow2(f->rdims[i].extent > 0 ? f->rdims[i].extent : 1);
  for (int i = 0; i < x->nmems; i++)
    note_memop(x, x->mems[i].op);
  walk_ops(x, f->body);
  collect_shapes(x);
  return HL_OK;
}

static void release(Derive *x) {
  mem_free(x->slots);
  mem_free(x->loops);
  mem_free(x->mems);
  mem_free(x->shapes);
  mem_free(x->rsize);
  mem_free(x->rcontig);
}

/* ---- the default heuristic -------------------------------------------------------------------
 */

static void init_slots(Derive *x) {
  const Heuristic *h = x->h;
  for (int i = 0; i < x->f->nslots; i++) {
    const IrBlockSlot *bs = &x->f->slots[i];
    Slot *s = &x->slots[i];
    long long lo = bs->min > 0 ? bs->min : 1, hi = bs->max > 0 ? bs->max : h->unknown_max;
    if (s->role != ROLE_NONE && lo < h->dot_min) lo = h->dot_min;
    long long cap = s->role == ROLE_K ? h->dot_max_k : s->role != ROLE_NONE ? h->dot_max_mn : 0;
    if (cap > 0 && hi > cap) hi = cap;
    lo = next_pow2(lo);
    hi = next_pow2(hi < lo ? lo : hi);
    bool big = !x->dot_other && h->dot_big_m > 0;
    long long def = s->role == ROLE_M   ? (big ? h->dot_big_m : h->dot_m)
                    : s->role == ROLE_N ? (big ? h->dot_big_n : h->dot_n)
                    : s->role == ROLE_K ? h->dot_k
                    : s->contig         ? h->contig_max
                                        : h->budget;
    s->lo = (int)lo;
    s->hi = (int)hi;
    s->def = (int)(def < lo ? lo : def > hi ? hi : def);
  }
}

/* The size a reduction dim's factor has in the default config. */
static long long rdim_default(const Derive *x, int r) {
  const CfgUnit *u = cfg_find_unit(x->s, "reduction_loops", r);
  if (!u || u->frag->def == CFG_NONE) return x->rsize[r];
  return u->frag->def;
}

static long long shape_numel(const Derive *x, const Shape *sh) {
  long long n = sh->cst;
  for (int i = 0; i < sh->nb; i++)
    n = cfg_sat_mul(n, x->slots[sh->b[i]].def);
  for (int i = 0; i < sh->nr; i++)
    n = cfg_sat_mul(n, rdim_default(x, sh->r[i]));
  return n;
}

/* Whether slot a should shrink before slot b: the larger block, a contiguous one counted
 * contig_weight times smaller; on ties the non-contiguous one, then the earlier slot. */
static bool shrink_first(const Derive *x, int a, int b) {
  const Slot *sa = &x->slots[a], *sb = &x->slots[b];
  long long wa = (long long)sa->def * (sb->contig ? x->h->contig_weight : 1);
  long long wb = (long long)sb->def * (sa->contig ? x->h->contig_weight : 1);
  if (wa != wb) return wa > wb;
  if (sa->contig != sb->contig) return !sa->contig;
  return a < b;
}

static bool shrinkable(const Derive *x, int s) {
  const Slot *sl = &x->slots[s];
  return sl->role == ROLE_NONE && sl->def / 2 >= sl->lo && sl->def > 1;
}

/* For enough programs a dot's M / N block may also halve, down to dot_grid_min. */
static bool grid_shrinkable(const Derive *x, int s) {
  const Slot *sl = &x->slots[s];
  if (sl->role == ROLE_M || sl->role == ROLE_N)
    return x->h->dot_grid_min > 0 && sl->def / 2 >= x->h->dot_grid_min && sl->def / 2 >= sl->lo;
  return shrinkable(x, s);
}

/* Halves block sizes until every tile value is within the budget. A dot's dims keep their
 * blocks; halving only ever lowers other tiles, so one pass over the shapes suffices. */
static void fit_budget(Derive *x) {
  for (int i = 0; i < x->nshapes; i++) {
    const Shape *sh = &x->shapes[i];
    while (shape_numel(x, sh) > x->h->budget) {
      int best = -1;
      for (int j = 0; j < sh->nb; j++)
        if (shrinkable(x, sh->b[j]) && (best < 0 || shrink_first(x, sh->b[j], best)))
          best = sh->b[j];
      if (best < 0) break;
      x->slots[best].def /= 2;
    }
  }
}

/* Elements of the largest tile value that holds slot s (0 when none does). */
static long long largest_tile_of(const Derive *x, int s) {
  long long most = 0;
  for (int i = 0; i < x->nshapes; i++)
    for (int j = 0; j < x->shapes[i].nb; j++)
      if (x->shapes[i].b[j] == s) {
        long long n = shape_numel(x, &x->shapes[i]);
        if (n > most) most = n;
        break;
      }
  return most;
}

/* Programs of a top-level loop with the default blocks, or -1 when an extent is unknown. */
static long long nest_programs(const Derive *x, const IrLoopInfo *l) {
  long long p = 1;
  for (int i = 0; i < l->ndims; i++) {
    long long ext = l->extent[i], blk = 1;
    if (ext < 0) return -1;
    if (l->kind == IR_OP_TILE && l->block[i].kind == IR_DIM_BLOCK)
      blk = x->slots[l->block[i].v].def;
    else if (l->kind == IR_OP_TILE)
      blk = l->block[i].v > 0 ? l->block[i].v : 1;
    p = cfg_sat_mul(p, ext > 0 ? (ext + blk - 1) / blk : 1);
  }
  return p;
}

/* Halves the grid blocks of each top-level nest until it has min_programs programs, as long as
 * its tiles keep min_tile elements: a small kernel still spreads over the cores (or SMs). */
static void fill_grid(Derive *x) {
  for (int li = 0; li < x->nloops; li++) {
    const IrLoopInfo *l = &x->loops[li];
    if (l->depth != 0 || l->kind != IR_OP_TILE) continue;
    for (;;) {
      long long progs = nest_programs(x, l);
      if (progs < 0 || progs >= x->h->min_programs) break;
      int best = -1;
      for (int i = 0; i < l->ndims; i++) {
        if (l->block[i].kind != IR_DIM_BLOCK) continue;
        int s = (int)l->block[i].v;
        if (!grid_shrinkable(x, s) ||
            x->slots[s].def >= 2 * (l->extent[i] > 0 ? l->extent[i] : 1))
          continue; /* a block past twice the extent does not split it */
        if (largest_tile_of(x, s) / 2 < x->h->min_tile) continue;
        if (best < 0 || shrink_first(x, s, best)) best = s;
      }
      if (best < 0) break;
      x->slots[best].def /= 2;
    }
  }
}

/* The big K-loop tile (128x256x32 w8 on mma.sync: 454 TFLOP/s, matmul bf16 4096^3, H100) becomes
 * 128x128x64 on wgmma, 4 warps (no longer "big"), when the dot takes wgmma: 615 TFLOP/s, the best
 * tile measured (gpu.md, "wgmma and TF32"). More programs: the grid rule still holds. */
static void wgmma_default(Derive *x) {
  int sm, sn, sk;
  if (x->target != CFG_TARGET_CUDA || x->h->dot_big_warps <= 0 ||
      sscanf(x->dot_wg, "B%d,B%d,B%d", &sm, &sn, &sk) != 3)
    return;
  Slot *m = &x->slots[sm], *n = &x->slots[sn], *k = &x->slots[sk];
  if (m->def == 128 && n->def >= 256 && n->lo <= 128 && k->lo <= 64 && k->hi >= 64)
    n->def = 128, k->def = 64, x->wg_default = true;
}

/* The default vector width: 512 bits of the widest float element computed, at most the widest
 * contiguous tile dim (a wider vector only adds masked lanes). */
static int default_vector_width(const Derive *x) {
  int lanes = 64 / (x->widest ? x->widest : 4);
  long long inner = 0;
  for (int i = 0; i < x->f->nslots; i++)
    if (x->slots[i].contig && x->slots[i].def > inner) inner = x->slots[i].def;
  for (int i = 0; i < x->f->nrdims; i++)
    if (x->rcontig[i] && rdim_default(x, i) > inner) inner = rdim_default(x, i);
  if (inner > 0 && lanes > inner) lanes = (int)floor_pow2(inner);
  return lanes < 1 ? 1 : lanes > 32 ? 32 : lanes;
}

/* ---- building the space ----------------------------------------------------------------------
 */

static int add_loops(Derive *x, Diag *d) {
  ConfigSpace *s = x->s;
  bool cuda = x->target == CFG_TARGET_CUDA;
  int nmulti = 0, ngrid2 = 0, ninner = 0;
  for (int i = 0; i < x->nloops; i++) {
    const IrLoopInfo *l = &x->loops[i];
    if (l->kind == IR_OP_TILE && l->ndims >= 2) {
      if (cfgspace_add_loop_order(s, nmulti, l->ndims, d)) return HL_ERR;
      nmulti++;
    }
    if (cuda && l->depth == 0 && l->kind == IR_OP_TILE && l->ndims >= 2 &&
        cfgspace_add_known(s, "l2_groupings", ngrid2++, d))
      return HL_ERR;
    if (l->depth == 0) continue;
    /* the cuda lowering reads range_unroll_factors only: flatten_loops, range_num_stages,
     * range_multi_buffers, range_flattens and static_ranges would not change its PTX */
    if (cfgspace_add_known(s, "range_unroll_factors", ninner, d)) return HL_ERR;
    ninner++;
  }
  return HL_OK;
}

static int add_cuda_knobs(Derive *x, Diag *d) {
  ConfigSpace *s = x->s;
  int nload = 0, nevict = 0, nstore = 0, natomic = 0, ntop = 0, topdims = 0;
  for (int i = 0; i < x->nmems; i++) {
    const IrMemOpInfo *m = &x->mems[i];
    if (m->kind == IR_OP_LOAD) {
      nload++;
      if (!m->explicit_eviction && cfgspace_add_known(s, "load_eviction_policies", nevict++, d))
        return HL_ERR;
    }
    nstore += m->kind == IR_OP_STORE;
    natomic += m->kind == IR_OP_ATOMIC_ADD;
  }
  /* no indexing / atomic_indexing: without TMA every access is a pointer access */
  (void)nstore;
  (void)natomic;
  for (int i = 0; i < x->nloops; i++)
    if (x->loops[i].depth == 0) ntop++, topdims = x->loops[i].ndims;
  /* xyz maps grid dims onto CUDA's x, y, z: only for one top-level nest of 2 or 3 dims */
  bool xyz = ntop == 1 && topdims >= 2 && topdims <= 3;
  const char *pids[4] = {"flat", "xyz", "persistent_blocked", "persistent_interleaved"};
  const char *no_xyz[3] = {"flat", "persistent_blocked", "persistent_interleaved"};
  CfgFragment pid = xyz ? cfg_enum(pids, 4, 0) : cfg_enum(no_xyz, 3, 0);
  CfgFragment stages = cfg_int(1, 8, x->dot_in_loop ? 3 : 1);
  /* the big matmul tile (after the programs rule) gets its warps */
  long long bm = 0, bn = 0;
  for (int i = 0; i < x->f->nslots; i++) {
    if (x->slots[i].role == ROLE_M && x->slots[i].def > bm) bm = x->slots[i].def;
    if (x->slots[i].role == ROLE_N && x->slots[i].def > bn) bn = x->slots[i].def;
  }
  bool big = !x->dot_other && x->h->dot_big_warps > 0 &&
             bm * bn >= (long long)x->h->dot_big_m * x->h->dot_big_n;
  /* long rows: a reduction over >= 8192 elements gets 16 warps (softmax bf16 [4096, 16384] on
   * the H100, 2026-11-25: 1406 GB/s with 4 warps, 1912 with 8, 2268 with 16, 2002 with 32) */
  bool long_rows = false;
  for (int i = 0; i < x->f->nrdims; i++) long_rows = long_rows || x->rsize[i] >= 8192;
  int def_warps = big ? x->h->dot_big_warps : long_rows ? 16 : 4;
  CfgFragment warps = cfg_pow2(1, 32, def_warps);
  if ((def_warps != 4 ? cfgspace_add(s, "num_warps", &warps, d)
                      : cfgspace_add_known(s, "num_warps", 0, d)) ||
      cfgspace_add(s, "num_stages", &stages, d) ||
      cfgspace_add(s, "pid_type", &pid, d) || cfgspace_add_known(s, "num_sm_multiplier", 0, d) ||
      cfgspace_add_known(s, "maxnreg", 0, d))
    return HL_ERR;
  CfgFragment wg = cfg_bool(x->wg_default);
  if (x->dot_wg[0] && cfgspace_add(s, "wgmma", &wg, d)) return HL_ERR;
  return HL_OK;
}

static int add_cpu_knobs(Derive *x, const CfgDeriveOptions *o, Diag *d) {
  int cores = o && o->cpu_cores > 0 ? o->cpu_cores : CFG_DERIVE_CORES;
  CfgFragment vw = cfg_pow2(1, 32, default_vector_width(x));
  CfgFragment threads = cfg_int(0, cores, 0); /* 0 = every core */
  if (cfgspace_add(x->s, "vector_width", &vw, d) || cfgspace_add(x->s, "cpu_threads", &threads, d))
    return HL_ERR;
  return HL_OK;
}

static int anchor_at(const IrFunc *f, IrLoc loc, Diag *d) {
  if (d && loc.file >= 0 && loc.file < f->nfiles && f->files[loc.file]) {
    snprintf(d->file, sizeof d->file, "%s", f->files[loc.file]);
    d->line = loc.line;
  }
  return HL_ERR;
}

static int add_tunables(Derive *x, Diag *d) {
  CfgTunableFragment *tf = mem_alloc(sizeof *tf);
  if (!tf) return diag_set(d, "config space: out of memory");
  int rc = HL_OK;
  for (int i = 0; i < x->f->ntunables && rc == HL_OK; i++) {
    const IrTunable *t = &x->f->tunables[i];
    rc = cfg_tunable_parse(t->fragment, tf, d);
    if (rc == HL_OK) rc = cfgspace_add_tunable(x->s, t->name, &tf->frag, d);
    if (rc != HL_OK) {
      diag_prefix(d, "hl.register_tunable(\"%.64s\", %.200s): ", t->name, t->fragment);
      anchor_at(x->f, t->loc, d);
    }
  }
  mem_free(tf);
  return rc;
}

/* One tile_numel constraint per tile shape, with the cap raised where even the smallest
 * blocks exceed it (a kernel's constant dims are not ours to refuse). */
static int add_tile_constraints(Derive *x, Diag *d) {
  for (int i = 0; i < x->nshapes; i++) {
    const Shape *sh = &x->shapes[i];
    char spec[CFG_NAME_MAX];
    CfgOut o;
    cfg_out_init(&o, spec, sizeof spec);
    long long least = sh->cst;
    if (sh->cst > 1) cfg_out_printf(&o, "%lld", sh->cst);
    for (int j = 0; j < sh->nb; j++) {
      cfg_out_printf(&o, "%sB%d", o.len ? "*" : "", sh->b[j]);
      least = cfg_sat_mul(least, x->slots[sh->b[j]].lo);
    }
    for (int j = 0; j < sh->nr; j++) {
      cfg_out_printf(&o, "%sR%d:%lld", o.len ? "*" : "", sh->r[j], x->rsize[sh->r[j]]);
      least = cfg_sat_mul(least, x->rsize[sh->r[j]] > 8 ? 8 : x->rsize[sh->r[j]]);
    }
    if (o.len >= sizeof spec) continue; /* more factors than a name holds: left unchecked */
    long long cap = least > x->h->tile_cap ? least : x->h->tile_cap;
    if (cfgspace_constrain_tile_numel(x->s, spec, cap, d)) return HL_ERR;
  }
  return HL_OK;
}

static int build(Derive *x, const CfgDeriveOptions *o, Diag *d) {
  ConfigSpace *s = x->s;
  for (int i = 0; i < x->f->nrdims; i++)
    if (cfgspace_add_reduction_loop(s, i, x->f->rdims[i].extent > 0 ? x->f->rdims[i].extent : 1,
                                    x->h->persistent_max, d))
      return HL_ERR;
  init_slots(x);
  fit_budget(x);
  fill_grid(x);
  wgmma_default(x);
  for (int i = 0; i < x->f->nslots; i++) {
    const Slot *sl = &x->slots[i];
    if (cfgspace_add_block_size(s, "block_sizes", i, sl->lo, sl->hi, sl->def, d)) return HL_ERR;
  }
  if (add_loops(x, d)) return HL_ERR;
  if (x->target == CFG_TARGET_CUDA ? add_cuda_knobs(x, d) : add_cpu_knobs(x, o, d)) return HL_ERR;
  if (add_tunables(x, d) || add_tile_constraints(x, d)) return HL_ERR;
  if (x->target == CFG_TARGET_CUDA &&
      (cfgspace_constrain_max_threads(s, 1024, d) || cfgspace_constrain_persistent_only(s, d)))
    return HL_ERR;
  for (int i = 0; x->target == CFG_TARGET_CUDA && i < x->ndots; i++)
    if (cfgspace_constrain_dot_warps(s, x->dot_mn[i], d)) return HL_ERR;
  if (x->target == CFG_TARGET_CUDA && x->dot_wg[0] && cfgspace_constrain_dot_wgmma(s, x->dot_wg, d))
    return HL_ERR;
  return HL_OK;
}

int cfgspace_derive_ex(const IrFunc *f, const char *target, const CfgDeriveOptions *o,
                       ConfigSpace **out, Diag *d) {
  *out = NULL;
  CfgTarget t;
  if (!f) return diag_set(d, "config space: no kernel to derive a space from");
  if (cfg_target_from_name(target ? target : "(null)", &t, d)) return HL_ERR;
  Derive x = {.f = f, .target = t, .h = &heuristics[t]};
  int rc = gather(&x, d);
  if (rc == HL_OK && !(x.s = cfgspace_new(t, d))) rc = HL_ERR;
  if (rc == HL_OK) rc = build(&x, o, d);
  release(&x);
  if (rc != HL_OK) {
    cfgspace_free(x.s);
    return HL_ERR;
  }
  *out = x.s;
  return HL_OK;
}

int cfgspace_derive(const IrFunc *f, const char *target, ConfigSpace **out, Diag *d) {
  return cfgspace_derive_ex(f, target, NULL, out, d);
}
