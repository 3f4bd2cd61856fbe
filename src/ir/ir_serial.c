/* Tile IR to bytes and back: what the autotuner's parent sends its worker processes (compact,
 * versioned, little-endian; every index is bounds-checked on the way in). Part of src/ir.
 *
 * Layout (share/doc/ir.md, "Serialized form"): "HLIR", u32 version, then the function's name,
 * files, values, regions (pre-order; region 0 is the body), ops (region by region, in order),
 * kernel arguments, block slots, reduction dims and tunables. Integers are fixed-width
 * little-endian; strings are u32 length + bytes (0xffffffff = NULL). Pointers become indices:
 * a value's defining op and region, an op's body and parent region, a region's owner op. */
#include <string.h>

#include "base/mem.h"
#include "ir/ir_internal.h"

#define MAGIC   "HLIR"
#define VERSION 1u
#define NO_STR  0xffffffffu

/* ---- writing ---------------------------------------------------------------------------------- */

typedef struct Out {
  unsigned char *p;
  size_t len, cap;
  bool oom;
} Out;

static void put(Out *o, const void *src, size_t n) {
  if (o->oom) return;
  if (!mem_reserve((void **)&o->p, &o->cap, o->len + n, 1024)) {
    o->oom = true;
    return;
  }
  memcpy(o->p + o->len, src, n);
  o->len += n;
}

static void put_u64(Out *o, uint64_t v, int bytes) {
  unsigned char b[8];
  for (int i = 0; i < bytes; i++)
    b[i] = (unsigned char)(v >> (8 * i));
  put(o, b, (size_t)bytes);
}
static void put_i32(Out *o, int32_t v) {
  put_u64(o, (uint32_t)v, 4);
}
static void put_i64(Out *o, int64_t v) {
  put_u64(o, (uint64_t)v, 8);
}
static void put_u8(Out *o, unsigned v) {
  put_u64(o, v, 1);
}
/* A counted list of value ids (get_count and get_ids read it back). */
static void put_ids(Out *o, int n, const IrValueId *ids) {
  put_i32(o, n);
  for (int k = 0; k < n; k++)
    put_i32(o, ids[k]);
}
static void put_str(Out *o, const char *s) {
  if (!s) {
    put_u64(o, NO_STR, 4);
    return;
  }
  size_t n = strlen(s);
  put_u64(o, (uint32_t)n, 4);
  put(o, s, n);
}
static void put_f64(Out *o, double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  put_u64(o, u, 8);
}

static void put_dim(Out *o, IrDim d) {
  put_u8(o, d.kind);
  put_i64(o, d.v);
}
static void put_shape(Out *o, const IrShape *s) {
  put_u8(o, (unsigned)s->rank);
  for (int i = 0; i < s->rank; i++)
    put_dim(o, s->dims[i]);
}
static void put_loc(Out *o, IrLoc l) {
  put_i32(o, l.file);
  put_i32(o, l.line);
}

static void put_attrs(Out *o, const IrAttrs *a) {
  put_u8(o, a->dtype);
  put_u8(o, a->value.is_float);
  put_i64(o, a->value.i);
  put_f64(o, a->value.f);
  put_i64(o, a->start);
  put_i32(o, a->dim);
  put_u8(o, a->keepdim);
  put_shape(o, &a->shape);
  for (int i = 0; i < IR_MAX_RANK; i++)
    put_i32(o, a->perm[i]);
  put_i32(o, a->slot);
  put_u8(o, (unsigned)a->nidx);
  for (int i = 0; i < a->nidx; i++) {
    put_u8(o, a->idx[i]);
    put_i32(o, a->rdim[i]);
  }
  put_u8(o, a->has_mask);
  put_u8(o, a->eviction);
  put_u8(o, a->sem);
  put_u8(o, (unsigned)a->ndims);
  for (int i = 0; i < a->ndims; i++)
    put_dim(o, a->block[i]);
}

/* Regions and ops numbered in pre-order: a region's ops, then the regions of its loops. */
typedef struct Numbering {
  const IrRegion **regions;
  const IrOp **ops;
  int nregions, nops, cap_regions, cap_ops;
  bool oom;
} Numbering;

static void number_region(Numbering *n, const IrRegion *r) {
  if (n->oom) return;
  if (!mem_grow((void **)&n->regions, &n->cap_regions, n->nregions + 1, sizeof *n->regions, 16)) {
    n->oom = true;
    return;
  }
  n->regions[n->nregions++] = r;
  for (const IrOp *op = r->first; op; op = op->next) {
    if (!mem_grow((void **)&n->ops, &n->cap_ops, n->nops + 1, sizeof *n->ops, 64)) {
      n->oom = true;
      return;
    }
    n->ops[n->nops++] = op;
  }
  for (const IrOp *op = r->first; op; op = op->next)
    if (op->body) number_region(n, op->body);
}

static int index_of(const void *const *list, int n, const void *p) {
  if (!p) return -1;
  for (int i = 0; i < n; i++)
    if (list[i] == p) return i;
  return -1;
}

int ir_serialize(const IrFunc *f, unsigned char **out, size_t *len, Diag *d) {
  *out = NULL;
  *len = 0;
  if (!f) return diag_set(d, "ir_serialize: no function");
  Numbering n = {0};
  number_region(&n, f->body);
  Out o = {0};
  const void *const *rs = (const void *const *)n.regions, *const *os = (const void *const *)n.ops;
  put(&o, MAGIC, 4);
  put_u64(&o, VERSION, 4);
  put_str(&o, f->name);
  put_i32(&o, f->nfiles);
  for (int i = 0; i < f->nfiles; i++)
    put_str(&o, f->files[i]);
  put_i32(&o, f->nvalues);
  for (int i = 0; i < f->nvalues && !n.oom; i++) {
    const IrValue *v = &f->values[i];
    put_u8(&o, v->kind);
    put_u8(&o, v->dtype);
    put_shape(&o, &v->shape);
    put_u8(&o, v->def_kind);
    put_i32(&o, index_of(os, n.nops, v->def));
    put_i32(&o, index_of(rs, n.nregions, v->region));
    put_i32(&o, v->index);
    put_loc(&o, v->loc);
    put_str(&o, v->name);
    put_u8(&o, v->strides != NULL);
    if (v->strides)
      for (int k = 0; k < v->shape.rank; k++)
        put_i64(&o, v->strides[k]);
  }
  put_i32(&o, n.nregions);
  for (int i = 0; i < n.nregions; i++) {
    const IrRegion *r = n.regions[i];
    put_ids(&o, r->nargs, r->args);
    put_i32(&o, index_of(os, n.nops, r->owner));
    put_i32(&o, index_of(rs, n.nregions, r->parent));
    put_i32(&o, r->depth);
    int count = 0;
    for (const IrOp *op = r->first; op; op = op->next)
      count++;
    put_i32(&o, count);
  }
  put_i32(&o, n.nops);
  for (int i = 0; i < n.nops; i++) {
    const IrOp *op = n.ops[i];
    put_i32(&o, op->kind);
    put_ids(&o, op->nargs, op->args);
    put_ids(&o, op->nresults, op->results);
    put_u8(&o, op->attrs != NULL);
    if (op->attrs) put_attrs(&o, op->attrs);
    put_i32(&o, index_of(rs, n.nregions, op->body));
    put_i32(&o, index_of(rs, n.nregions, op->parent));
    put_loc(&o, op->loc);
  }
  put_ids(&o, f->nargs, f->args);
  put_i32(&o, f->nslots);
  for (int i = 0; i < f->nslots; i++) {
    const IrBlockSlot *s = &f->slots[i];
    put_u8(&o, s->kind);
    put_i64(&o, s->extent);
    put_i64(&o, s->min);
    put_i64(&o, s->max);
    put_loc(&o, s->loc);
  }
  put_i32(&o, f->nrdims);
  for (int i = 0; i < f->nrdims; i++) {
    put_i64(&o, f->rdims[i].extent);
    put_loc(&o, f->rdims[i].loc);
  }
  put_i32(&o, f->ntunables);
  for (int i = 0; i < f->ntunables; i++) {
    const IrTunable *t = &f->tunables[i];
    put_str(&o, t->name);
    put_str(&o, t->fragment);
    put_u8(&o, t->dtype);
    put_loc(&o, t->loc);
  }
  bool oom = o.oom || n.oom;
  mem_free(n.regions);
  mem_free(n.ops);
  if (oom) {
    mem_free(o.p);
    return diag_set(d, "ir_serialize: out of memory");
  }
  *out = o.p;
  *len = o.len;
  return HL_OK;
}

/* ---- reading ---------------------------------------------------------------------------------- */

typedef struct In {
  const unsigned char *p;
  size_t len, pos;
  bool bad;
  const char *why; /* the first problem */
} In;

static bool take(In *in, void *dst, size_t n) {
  if (in->bad || in->len - in->pos < n) {
    if (!in->bad) in->why = "the bytes end early (truncated)";
    in->bad = true;
    memset(dst, 0, n);
    return false;
  }
  memcpy(dst, in->p + in->pos, n);
  in->pos += n;
  return true;
}

static uint64_t get_u(In *in, int bytes) {
  unsigned char b[8];
  if (!take(in, b, (size_t)bytes)) return 0;
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++)
    v |= (uint64_t)b[i] << (8 * i);
  return v;
}
static int32_t get_i32(In *in) {
  return (int32_t)(uint32_t)get_u(in, 4);
}
static int64_t get_i64(In *in) {
  return (int64_t)get_u(in, 8);
}
static unsigned get_u8(In *in) {
  return (unsigned)get_u(in, 1);
}
static double get_f64(In *in) {
  uint64_t u = get_u(in, 8);
  double v;
  memcpy(&v, &u, sizeof v);
  return v;
}

static void fail(In *in, const char *why) {
  if (!in->bad) in->why = why;
  in->bad = true;
}

/* A count of items that each take at least `min_bytes`: never more than the bytes left. */
static int get_count(In *in, size_t min_bytes) {
  int32_t n = get_i32(in);
  if (n < 0 || (size_t)n > (in->len - in->pos) / (min_bytes ? min_bytes : 1)) {
    fail(in, "a count is out of range");
    return 0;
  }
  return n;
}

/* NULL for the null string; "" (and in->bad) on error or out of memory. */
static const char *get_str(In *in, IrFunc *f) {
  uint32_t n = (uint32_t)get_u(in, 4);
  if (in->bad) return "";
  if (n == NO_STR) return NULL;
  if (n > in->len - in->pos) {
    fail(in, "a string runs past the end");
    return "";
  }
  char *s = ir_alloc(f, (size_t)n + 1);
  if (!s) {
    fail(in, "out of memory");
    return "";
  }
  take(in, s, n);
  s[n] = '\0';
  if (memchr(s, '\0', n)) fail(in, "a string holds a NUL byte");
  return s;
}

static IrDim get_dim(In *in) {
  IrDim d = {.kind = (IrDimKind)get_u8(in), .v = get_i64(in)};
  if (d.kind > IR_DIM_RDIM) fail(in, "a dim kind is out of range");
  return d;
}
static void get_shape(In *in, IrShape *s) {
  memset(s, 0, sizeof *s);
  s->rank = (int)get_u8(in);
  if (s->rank > IR_MAX_RANK) {
    fail(in, "a shape's rank is out of range");
    s->rank = 0;
  }
  for (int i = 0; i < s->rank; i++)
    s->dims[i] = get_dim(in);
}
static IrLoc get_loc(In *in, const IrFunc *f) {
  IrLoc l = {.file = get_i32(in), .line = get_i32(in)};
  if (l.file < -1 || l.file >= f->nfiles || l.line < 0) fail(in, "a source location is invalid");
  return l;
}
static DType get_dtype(In *in, bool unset_ok) {
  unsigned dt = get_u8(in);
  if (dt > DT_COUNT || (dt == DT_COUNT && !unset_ok)) fail(in, "a dtype is out of range");
  return (DType)dt;
}

static void get_attrs(In *in, IrAttrs *a) {
  *a = (IrAttrs)IR_ATTRS_INIT;
  a->dtype = get_dtype(in, true);
  a->value.is_float = get_u8(in) != 0;
  a->value.i = get_i64(in);
  a->value.f = get_f64(in);
  a->start = get_i64(in);
  a->dim = get_i32(in);
  a->keepdim = get_u8(in) != 0;
  get_shape(in, &a->shape);
  for (int i = 0; i < IR_MAX_RANK; i++)
    a->perm[i] = get_i32(in);
  a->slot = get_i32(in);
  a->nidx = (int)get_u8(in);
  if (a->nidx > IR_MAX_INDEX) {
    fail(in, "an index list is too long");
    a->nidx = 0;
  }
  for (int i = 0; i < a->nidx; i++) {
    a->idx[i] = (IrIndexKind)get_u8(in);
    if (a->idx[i] > IR_IDX_GATHER) fail(in, "an index kind is out of range");
    a->rdim[i] = get_i32(in);
  }
  a->has_mask = get_u8(in) != 0;
  a->eviction = (IrEviction)get_u8(in);
  a->sem = (IrAtomicSem)get_u8(in);
  if (a->eviction > IR_EVICT_LAST || a->sem > IR_SEM_ACQ_REL) fail(in, "an attribute is invalid");
  a->ndims = (int)get_u8(in);
  if (a->ndims > IR_MAX_RANK) {
    fail(in, "a loop has too many dims");
    a->ndims = 0;
  }
  for (int i = 0; i < a->ndims; i++)
    a->block[i] = get_dim(in);
}

static IrValueId *get_ids(In *in, IrFunc *f, int n) {
  IrValueId *ids = n ? ir_alloc(f, sizeof *ids * (size_t)n) : NULL;
  if (n && !ids) fail(in, "out of memory");
  for (int k = 0; k < n && !in->bad; k++) {
    ids[k] = get_i32(in);
    if (ids[k] < 0 || ids[k] >= f->nvalues) fail(in, "a value id is out of range");
  }
  return ids;
}

static int read_body(In *in, IrFunc *f) {
  f->nfiles = get_count(in, 4);
  f->files_cap = f->nfiles;
  f->files = f->nfiles ? ir_alloc(f, sizeof *f->files * (size_t)f->nfiles) : NULL;
  if (f->nfiles && !f->files) fail(in, "out of memory");
  for (int i = 0; i < f->nfiles && !in->bad; i++) {
    f->files[i] = get_str(in, f);
    if (!f->files[i]) fail(in, "a file name is missing");
  }
  int nvalues = get_count(in, 20);
  if (!in->bad && ir_grow(f, (void **)&f->values, &f->values_cap, nvalues, sizeof *f->values))
    fail(in, "out of memory");
  if (in->bad) return HL_ERR;
  f->nvalues = nvalues;
  int *def = mem_alloc(sizeof(int) * (size_t)(nvalues ? nvalues * 2 : 1)), *reg = def + nvalues;
  if (!def) {
    fail(in, "out of memory");
    return HL_ERR;
  }
  for (int i = 0; i < nvalues && !in->bad; i++) {
    IrValue *v = &f->values[i];
    memset(v, 0, sizeof *v);
    v->kind = (IrValueKind)get_u8(in);
    v->dtype = get_dtype(in, false);
    get_shape(in, &v->shape);
    v->def_kind = (IrDefKind)get_u8(in);
    if (v->kind > IR_VAL_TILE || v->def_kind > IR_DEF_BLOCK_ARG) fail(in, "a value is invalid");
    def[i] = get_i32(in);
    reg[i] = get_i32(in);
    v->index = get_i32(in);
    v->loc = get_loc(in, f);
    v->name = get_str(in, f);
    if (get_u8(in)) {
      int64_t *st = ir_alloc(f, sizeof *st * (size_t)(v->shape.rank ? v->shape.rank : 1));
      if (!st) fail(in, "out of memory");
      for (int k = 0; k < v->shape.rank && !in->bad; k++)
        st[k] = get_i64(in);
      v->strides = st;
    }
  }
  int nregions = get_count(in, 16);
  if (nregions < 1) fail(in, "there is no body region");
  IrRegion **regions = in->bad ? NULL : ir_alloc(f, sizeof *regions * (size_t)nregions);
  int *counts = in->bad ? NULL : ir_alloc(f, sizeof *counts * (size_t)nregions);
  int *owner = in->bad ? NULL : ir_alloc(f, sizeof *owner * (size_t)nregions);
  if (!in->bad && (!regions || !counts || !owner)) fail(in, "out of memory");
  for (int i = 0; i < nregions && !in->bad; i++) {
    IrRegion *r = i == 0 ? f->body : ir_alloc(f, sizeof *r);
    if (!r) {
      fail(in, "out of memory");
      break;
    }
    regions[i] = r;
    r->open = false;
    r->nargs = get_count(in, 4);
    r->args = get_ids(in, f, r->nargs);
    owner[i] = get_i32(in);
    int parent = get_i32(in);
    r->depth = get_i32(in);
    counts[i] = get_count(in, 0);
    if (parent < -1 || parent >= i || (i == 0) != (parent == -1))
      fail(in, "a region's parent is out of range");
    else
      r->parent = parent < 0 ? NULL : regions[parent];
  }
  int nops = get_count(in, 24);
  IrOp **ops = in->bad ? NULL : ir_alloc(f, sizeof *ops * (size_t)(nops ? nops : 1));
  if (!in->bad && !ops) fail(in, "out of memory");
  for (int i = 0; i < nops && !in->bad; i++) {
    IrOp *op = ir_alloc(f, sizeof *op);
    if (!op) {
      fail(in, "out of memory");
      break;
    }
    ops[i] = op;
    int32_t kind = get_i32(in);
    if (kind < 0 || kind >= IR_OP_COUNT) fail(in, "an op kind is out of range");
    op->kind = (IrOpKind)kind;
    op->nargs = get_count(in, 4);
    op->args = get_ids(in, f, op->nargs);
    op->nresults = get_count(in, 4);
    op->results = get_ids(in, f, op->nresults);
    if (get_u8(in)) {
      op->attrs = ir_alloc(f, sizeof *op->attrs);
      if (!op->attrs) {
        fail(in, "out of memory");
        break;
      }
      get_attrs(in, op->attrs);
    }
    int body = get_i32(in), parent = get_i32(in);
    if (body < -1 || body >= nregions || body == 0 || parent < 0 || parent >= nregions)
      fail(in, "an op's region is out of range");
    if (in->bad) break;
    op->body = body < 0 ? NULL : regions[body];
    op->parent = regions[parent];
    op->loc = get_loc(in, f);
  }
  /* link each region's ops in order: they come region by region, in pre-order */
  for (int i = 0, next = 0; i < nregions && !in->bad; i++) {
    if (counts[i] > nops - next) {
      fail(in, "the regions hold more ops than there are");
      break;
    }
    for (int k = 0; k < counts[i]; k++) {
      IrOp *op = ops[next++];
      if (op->parent != regions[i]) fail(in, "an op sits in another region than it says");
      op->prev = regions[i]->last;
      if (regions[i]->last)
        regions[i]->last->next = op;
      else
        regions[i]->first = op;
      regions[i]->last = op;
    }
    if (owner[i] < -1 || owner[i] >= nops || (i == 0) != (owner[i] == -1) ||
        (owner[i] >= 0 && ops[owner[i]]->body != regions[i]))
      fail(in, "a region's owner is out of range");
    else
      regions[i]->owner = owner[i] < 0 ? NULL : ops[owner[i]];
  }
  for (int i = 0; i < nvalues && !in->bad; i++) {
    if (def[i] < -1 || def[i] >= nops || reg[i] < -1 || reg[i] >= nregions)
      fail(in, "a value's definition is out of range");
    else {
      f->values[i].def = def[i] < 0 ? NULL : ops[def[i]];
      f->values[i].region = reg[i] < 0 ? NULL : regions[reg[i]];
    }
  }
  mem_free(def);
  f->nargs = get_count(in, 4);
  f->args_cap = f->nargs;
  f->args = get_ids(in, f, f->nargs);
  f->nslots = get_count(in, 33);
  f->slots_cap = f->nslots;
  f->slots = f->nslots ? ir_alloc(f, sizeof *f->slots * (size_t)f->nslots) : NULL;
  if (f->nslots && !f->slots) fail(in, "out of memory");
  for (int i = 0; i < f->nslots && !in->bad; i++) {
    IrBlockSlot *s = &f->slots[i];
    s->kind = (IrSlotKind)get_u8(in);
    s->extent = get_i64(in);
    s->min = get_i64(in);
    s->max = get_i64(in);
    s->loc = get_loc(in, f);
    if (s->kind > IR_SLOT_REGISTERED) fail(in, "a block slot is invalid");
  }
  f->nrdims = get_count(in, 16);
  f->rdims_cap = f->nrdims;
  f->rdims = f->nrdims ? ir_alloc(f, sizeof *f->rdims * (size_t)f->nrdims) : NULL;
  if (f->nrdims && !f->rdims) fail(in, "out of memory");
  for (int i = 0; i < f->nrdims && !in->bad; i++) {
    f->rdims[i].extent = get_i64(in);
    f->rdims[i].loc = get_loc(in, f);
  }
  f->ntunables = get_count(in, 17);
  f->tunables_cap = f->ntunables;
  f->tunables = f->ntunables ? ir_alloc(f, sizeof *f->tunables * (size_t)f->ntunables) : NULL;
  if (f->ntunables && !f->tunables) fail(in, "out of memory");
  for (int i = 0; i < f->ntunables && !in->bad; i++) {
    IrTunable *t = &f->tunables[i];
    t->name = get_str(in, f);
    t->fragment = get_str(in, f);
    t->dtype = get_dtype(in, false);
    t->loc = get_loc(in, f);
    if (!t->name || !t->fragment) fail(in, "a tunable is missing its name or fragment");
  }
  if (!in->bad && in->pos != in->len) fail(in, "bytes are left over after the function");
  /* the name table, so that later passes keep names unique */
  for (int i = 0; i < nvalues && !in->bad; i++)
    if (f->values[i].name && !ir_name_unique(f, f->values[i].name)) fail(in, "out of memory");
  return in->bad ? HL_ERR : HL_OK;
}

int ir_deserialize(const unsigned char *bytes, size_t len, IrPhase phase, IrFunc **out, Diag *d) {
  *out = NULL;
  In in = {.p = bytes, .len = bytes ? len : 0};
  char magic[4];
  take(&in, magic, 4);
  if (in.bad || memcmp(magic, MAGIC, 4) != 0)
    return diag_set(d, "ir_deserialize: not serialized tile IR (no HLIR header)");
  uint32_t version = (uint32_t)get_u(&in, 4);
  if (version != VERSION)
    return diag_set(d, "ir_deserialize: version %u, this helua reads version %u", version, VERSION);
  IrFunc *f = NULL;
  /* the name is read into a scratch function first: ir_func_new copies it */
  IrFunc *scratch = NULL;
  if (ir_func_new("scratch", &scratch, d)) return HL_ERR;
  const char *name = get_str(&in, scratch);
  if (in.bad || ir_func_new(name ? name : "kernel", &f, d)) {
    ir_func_free(scratch);
    if (in.bad) return diag_set(d, "ir_deserialize: %s", in.why);
    return HL_ERR;
  }
  ir_func_free(scratch);
  f->body->open = false;
  if (read_body(&in, f) != HL_OK) {
    ir_func_free(f);
    return diag_set(d, "ir_deserialize: %s", in.why ? in.why : "malformed");
  }
  if (ir_verify(f, phase, d) != HL_OK) {
    ir_func_free(f);
    return diag_prefix(d, "ir_deserialize: the function does not verify: ");
  }
  *out = f;
  return HL_OK;
}
