/* Tile load/store for interpret mode: masked gathers and scatters of a block of a tensor, one
 * spec per dim (an index, a range, or an index tensor), out-of-range positions masked.
 * Part of src/tensor (host tensors); called per tile by the eager dialect, so rows of a
 * stride-1 range move with memcpy. */
#include <string.h>

#include "base/mem.h"
#include "tensor/tensor_internal.h"

typedef struct TilePlan {
  int ndim;                        /* result/region dims */
  int64_t sizes[TENSOR_MAX_DIMS];
  int64_t *offs[TENSOR_MAX_DIMS];  /* per position: element offset into t (valid ones) */
  uint8_t *valid[TENSOR_MAX_DIMS]; /* per position: inside the tensor */
  bool unit_last;                  /* last dim is a range over a stride-1 dim */
  bool all_masked;                 /* an index spec fell outside its dim */
  int64_t base_off;                /* element offset of the index specs */
  void *mem;
} TilePlan;

static int plan_build(const Tensor *t, const TileSpec *specs, int n, int64_t base, TilePlan *p,
                      const char *what, Diag *d) {
  memset(p, 0, sizeof *p);
  if (n != t->ndim)
    return diag_set(d, "%s: expected %d indices for a %d-d tensor, got %d", what, t->ndim, t->ndim,
                    n);
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    const TileSpec *s = &specs[i];
    if (s->kind == TILE_RANGE) {
      if (s->len < 0)
        return diag_set(d, "%s: range length %lld for dim %d is negative", what,
                        (long long)s->len, i + (int)base);
      total += s->len;
    } else if (s->kind == TILE_GATHER) {
      const Tensor *ix = s->index;
      if (ix->ndim != 1 || !tensor_dtype_is_int(ix->dtype))
        return diag_set(d, "%s: index tensor for dim %d must be a 1-d integer tensor (got %d-d %s)",
                        what, i + (int)base, ix->ndim, tensor_dtype_name(ix->dtype));
      total += ix->sizes[0];
    }
  }
  p->mem = mem_alloc((size_t)total * 9 + 1);
  if (!p->mem) return diag_set(d, "%s: out of memory", what);
  int64_t *offs = p->mem;
  uint8_t *valid = (uint8_t *)(offs + total);
  p->base_off = t->offset;
  for (int i = 0; i < n; i++) {
    const TileSpec *s = &specs[i];
    int64_t size = t->sizes[i], stride = t->strides[i];
    if (s->kind == TILE_INDEX) {
      int64_t pos = s->first - base;
      if (pos < 0 || pos >= size) p->all_masked = true;
      else p->base_off += pos * stride;
      continue;
    }
    int k = p->ndim++;
    int64_t len = s->kind == TILE_RANGE ? s->len : s->index->sizes[0];
    p->sizes[k] = len;
    p->offs[k] = offs;
    p->valid[k] = valid;
    for (int64_t j = 0; j < len; j++) {
      int64_t pos;
      if (s->kind == TILE_RANGE) {
        pos = s->first - base + j;
      } else {
        const char *ip = (const char *)tensor_data(s->index) +
                         j * s->index->strides[0] * (int64_t)tensor_dtype_size(s->index->dtype);
        pos = tensor_read_i64(ip, s->index->dtype) - base;
      }
      valid[j] = pos >= 0 && pos < size;
      offs[j] = valid[j] ? pos * stride : 0;
    }
    offs += len;
    valid += len;
    p->unit_last = s->kind == TILE_RANGE && (stride == 1 || size <= 1);
  }
  return HL_OK;
}

/* Visits every row of the region: row(base element offset or -1 if masked, row index) */
typedef void (*TileRowFn)(const TilePlan *p, int64_t off, bool masked, int64_t row, void *ctx);

static void plan_rows(const TilePlan *p, TileRowFn fn, void *ctx) {
  int nd = p->ndim;
  int64_t rows = 1;
  for (int i = 0; i < nd - 1; i++) rows *= p->sizes[i];
  if (nd > 0 && p->sizes[nd - 1] == 0) return;
  int64_t idx[TENSOR_MAX_DIMS] = {0};
  for (int64_t r = 0; r < rows; r++) {
    int64_t off = p->base_off;
    bool masked = p->all_masked;
    for (int i = 0; i < nd - 1; i++) {
      off += p->offs[i][idx[i]];
      if (!p->valid[i][idx[i]]) masked = true;
    }
    fn(p, off, masked, r, ctx);
    for (int i = nd - 2; i >= 0; i--) {
      if (++idx[i] < p->sizes[i]) break;
      idx[i] = 0;
    }
  }
}

/* ---- load -------------------------------------------------------------------------------------- */

typedef struct LoadCtx {
  const Tensor *t;
  char *out;
  size_t es;
  char fill[8];
} LoadCtx;

static void fill_elems(char *dst, const char *fill, size_t es, int64_t n) {
  for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * es, fill, es);
}

static void load_row(const TilePlan *p, int64_t off, bool masked, int64_t row, void *vctx) {
  LoadCtx *c = vctx;
  int nd = p->ndim;
  int64_t len = nd ? p->sizes[nd - 1] : 1;
  size_t es = c->es;
  char *dst = c->out + (size_t)(row * len) * es;
  const char *src = c->t->storage->data;
  if (masked) {
    fill_elems(dst, c->fill, es, len);
    return;
  }
  if (nd == 0) {
    memcpy(dst, src + off * (int64_t)es, es);
    return;
  }
  const int64_t *offs = p->offs[nd - 1];
  const uint8_t *valid = p->valid[nd - 1];
  if (p->unit_last) {
    int64_t lo = 0, hi = len;
    while (lo < len && !valid[lo]) lo++;
    while (hi > lo && !valid[hi - 1]) hi--;
    fill_elems(dst, c->fill, es, lo);
    if (hi > lo) memcpy(dst + lo * es, src + (off + offs[lo]) * (int64_t)es, (size_t)(hi - lo) * es);
    fill_elems(dst + hi * es, c->fill, es, len - hi);
    return;
  }
  for (int64_t j = 0; j < len; j++) {
    if (valid[j]) memcpy(dst + j * es, src + (off + offs[j]) * (int64_t)es, es);
    else memcpy(dst + j * es, c->fill, es);
  }
}

int tensor_load_tile(const Tensor *t, const TileSpec *specs, int nspecs, int64_t base,
                     double fill, Tensor **out, Diag *d) {
  TilePlan p;
  if (plan_build(t, specs, nspecs, base, &p, "load_tile", d)) return HL_ERR;
  Tensor *r;
  if (tensor_empty(p.sizes, p.ndim, t->dtype, &r, d)) {
    mem_free(p.mem);
    return HL_ERR;
  }
  LoadCtx c = {.t = t, .out = tensor_data(r), .es = tensor_dtype_size(t->dtype)};
  tensor_write_f64(c.fill, t->dtype, fill);
  plan_rows(&p, load_row, &c);
  mem_free(p.mem);
  *out = r;
  return HL_OK;
}

/* ---- store / atomic add ------------------------------------------------------------------------ */

typedef struct StoreCtx {
  Tensor *t;
  const char *val;    /* contiguous region of t's dtype */
  const uint8_t *mask; /* contiguous region of bools, or NULL */
  size_t es;
  bool add;
} StoreCtx;

static void add_elem(char *dst, const char *src, DType dt) {
  if (tensor_dtype_is_float(dt)) {
    tensor_write_f64(dst, dt, tensor_read_f64(dst, dt) + tensor_read_f64(src, dt));
  } else if (dt == DT_BOOL) {
    *(uint8_t *)dst = *(uint8_t *)dst || *(const uint8_t *)src;
  } else {
    uint64_t s = (uint64_t)tensor_read_i64(dst, dt) + (uint64_t)tensor_read_i64(src, dt);
    tensor_write_i64(dst, dt, (int64_t)s);
  }
}

static void store_row(const TilePlan *p, int64_t off, bool masked, int64_t row, void *vctx) {
  StoreCtx *c = vctx;
  if (masked) return;
  int nd = p->ndim;
  int64_t len = nd ? p->sizes[nd - 1] : 1;
  size_t es = c->es;
  const char *src = c->val + (size_t)(row * len) * es;
  const uint8_t *mask = c->mask ? c->mask + row * len : NULL;
  char *dst = c->t->storage->data;
  DType dt = c->t->dtype;
  if (nd == 0) {
    if (mask && !mask[0]) return;
    if (c->add) add_elem(dst + off * (int64_t)es, src, dt);
    else memcpy(dst + off * (int64_t)es, src, es);
    return;
  }
  const int64_t *offs = p->offs[nd - 1];
  const uint8_t *valid = p->valid[nd - 1];
  if (p->unit_last && !mask && !c->add) {
    int64_t lo = 0, hi = len;
    while (lo < len && !valid[lo]) lo++;
    while (hi > lo && !valid[hi - 1]) hi--;
    if (hi > lo) memcpy(dst + (off + offs[lo]) * (int64_t)es, src + lo * es, (size_t)(hi - lo) * es);
    return;
  }
  for (int64_t j = 0; j < len; j++) {
    if (!valid[j] || (mask && !mask[j])) continue;
    char *e = dst + (off + offs[j]) * (int64_t)es;
    if (c->add) add_elem(e, src + j * es, dt);
    else memcpy(e, src + j * es, es);
  }
}

/* value (or mask) broadcast to the region, made contiguous in dtype dt. */
static int region_operand(const Tensor *v, const TilePlan *p, DType dt, const char *what,
                          const char *role, Tensor **out, Diag *d) {
  Tensor *e;
  if (tensor_expand(v, p->sizes, p->ndim, &e, d))
    return diag_prefix(d, "%s: %s does not fit the tile region: ", what, role);
  int rc = tensor_as_contig(e, dt, out, d);
  tensor_free(e);
  return rc;
}

static int store_common(Tensor *t, const TileSpec *specs, int nspecs, int64_t base,
                        const Tensor *value, const Tensor *mask, bool add, Diag *d) {
  const char *what = add ? "atomic_add_tile" : "store_tile";
  TilePlan p;
  if (plan_build(t, specs, nspecs, base, &p, what, d)) return HL_ERR;
  Tensor *v = NULL, *m = NULL, *own = NULL;
  int rc = HL_ERR;
  if (value->storage == t->storage) { /* the value reads what we write: copy it first */
    if (tensor_clone(value, &own, d)) goto done;
    value = own;
  }
  if (region_operand(value, &p, t->dtype, what, "value", &v, d)) goto done;
  if (mask && region_operand(mask, &p, DT_BOOL, what, "mask", &m, d)) goto done;
  StoreCtx c = {.t = t, .val = tensor_data(v), .mask = m ? tensor_data(m) : NULL,
                .es = tensor_dtype_size(t->dtype), .add = add};
  if (!p.all_masked) plan_rows(&p, store_row, &c);
  rc = HL_OK;
done:
  tensor_free(own);
  tensor_free(v);
  tensor_free(m);
  mem_free(p.mem);
  return rc;
}

int tensor_store_tile(Tensor *t, const TileSpec *specs, int nspecs, int64_t base,
                      const Tensor *value, const Tensor *mask, Diag *d) {
  return store_common(t, specs, nspecs, base, value, mask, false, d);
}

int tensor_atomic_add_tile(Tensor *t, const TileSpec *specs, int nspecs, int64_t base,
                           const Tensor *value, const Tensor *mask, Diag *d) {
  return store_common(t, specs, nspecs, base, value, mask, true, d);
}
