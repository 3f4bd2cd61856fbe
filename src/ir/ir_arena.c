/* Tile IR storage: the per-function arena (bump allocation over mem_alloc'ed chunks, freed in
 * one call), the value table, unique names, and the op table. Part of src/ir (tile IR). */
#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "ir/ir_internal.h"

_Static_assert(IR_MAX_RANK == TENSOR_MAX_DIMS,
               "IR shapes and tensors must agree on the rank limit");

/* ---- arena ----------------------------------------------------------------------------------- */

typedef struct IrChunk {
  struct IrChunk *next;
  size_t cap, used;
  alignas(16) unsigned char data[];
} IrChunk;

struct IrArena {
  IrChunk *head;    /* the chunk being filled; older chunks follow */
  size_t next_size; /* size of the next chunk */
};

#define ARENA_FIRST     8192
#define ARENA_MAX_CHUNK (256 * 1024)

size_t ir_arena_test_chunk;

static size_t align16(size_t n) {
  return (n + 15) & ~(size_t)15;
}

static IrChunk *chunk_new(size_t cap) {
  IrChunk *c = mem_alloc(sizeof(IrChunk) + cap);
  if (!c) return NULL;
  c->next = NULL;
  c->cap = cap;
  c->used = 0;
  return c;
}

static void *arena_alloc(IrArena *a, size_t n) {
  n = align16(n ? n : 1);
  IrChunk *c = a->head;
  if (c->cap - c->used >= n) {
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
  }
  size_t next_size = ir_arena_test_chunk ? ir_arena_test_chunk : a->next_size;
  if (n > next_size / 2) {
    /* a big block gets its own chunk, behind the one being filled */
    IrChunk *big = chunk_new(n);
    if (!big) return NULL;
    big->used = n;
    big->next = c->next;
    c->next = big;
    memset(big->data, 0, n);
    return big->data;
  }
  IrChunk *fresh = chunk_new(next_size);
  if (!fresh) return NULL;
  if (a->next_size < ARENA_MAX_CHUNK) a->next_size *= 2;
  fresh->next = c;
  a->head = fresh;
  fresh->used = n;
  memset(fresh->data, 0, n);
  return fresh->data;
}

int ir_func_new(const char *name, IrFunc **out, Diag *d) {
  size_t first_size = ARENA_FIRST;
  if (ir_arena_test_chunk) first_size = align16(sizeof(IrArena)) + align16(sizeof(IrFunc));
  IrChunk *first = chunk_new(first_size);
  if (!first) return ir_oom(d);
  IrArena *a = (IrArena *)first->data;
  first->used = align16(sizeof *a);
  a->head = first;
  a->next_size = ARENA_FIRST * 2;
  IrFunc *f = arena_alloc(a, sizeof *f);
  f->arena = a;
  IrRegion *body = ir_alloc(f, sizeof *body);
  const char *nm = ir_strdup(f, name ? name : "kernel");
  if (!body || !nm) {
    ir_func_free(f);
    return ir_oom(d);
  }
  body->open = true;
  f->body = body;
  f->name = nm;
  *out = f;
  return HL_OK;
}

void ir_func_free(IrFunc *f) {
  if (!f) return;
  IrChunk *c = f->arena->head;
  /* the arena header lives in the oldest chunk: read every next pointer before freeing it */
  while (c) {
    IrChunk *next = c->next;
    mem_free(c);
    c = next;
  }
}

void *ir_alloc(IrFunc *f, size_t n) {
  return arena_alloc(f->arena, n);
}

char *ir_strdup(IrFunc *f, const char *s) {
  size_t n = strlen(s);
  char *p = ir_alloc(f, n + 1);
  if (p) memcpy(p, s, n + 1);
  return p;
}

int ir_grow(IrFunc *f, void **arr, int *cap, int need, size_t elem) {
  if (need <= *cap) return HL_OK;
  int ncap = *cap ? *cap * 2 : 8;
  while (ncap < need)
    ncap *= 2;
  void *p = ir_alloc(f, (size_t)ncap * elem);
  if (!p) return HL_ERR;
  if (*arr) memcpy(p, *arr, (size_t)*cap * elem);
  *arr = p;
  *cap = ncap;
  return HL_OK;
}

int ir_oom(Diag *d) {
  return diag_set(d, "out of memory while building the IR");
}

/* ---- values and names ------------------------------------------------------------------------ */

int ir_value_add(IrFunc *f, const IrValue *v, IrValueId *out, Diag *d) {
  if (ir_grow(f, (void **)&f->values, &f->values_cap, f->nvalues + 1, sizeof *f->values))
    return ir_oom(d);
  f->values[f->nvalues] = *v;
  *out = f->nvalues++;
  return HL_OK;
}

const IrValue *ir_value(const IrFunc *f, IrValueId v) {
  return f && v >= 0 && v < f->nvalues ? &f->values[v] : NULL;
}

typedef struct NameEntry {
  const char *name;
  int next_suffix;
} NameEntry;

struct IrNameTable {
  NameEntry *slots;
  int cap, count;
};

static uint32_t str_hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static NameEntry *name_find(struct IrNameTable *t, const char *name) {
  uint32_t i = str_hash(name) & (uint32_t)(t->cap - 1);
  while (t->slots[i].name && strcmp(t->slots[i].name, name) != 0)
    i = (i + 1) & (uint32_t)(t->cap - 1);
  return &t->slots[i];
}

static int name_table_reserve(IrFunc *f) {
  struct IrNameTable *t = f->names;
  if (!t) {
    t = ir_alloc(f, sizeof *t);
    if (!t) return HL_ERR;
    f->names = t;
  }
  if (t->cap && (t->count + 1) * 2 <= t->cap) return HL_OK;
  int ncap = t->cap ? t->cap * 2 : 32;
  NameEntry *slots = ir_alloc(f, (size_t)ncap * sizeof *slots);
  if (!slots) return HL_ERR;
  struct IrNameTable old = *t;
  t->slots = slots;
  t->cap = ncap;
  for (int i = 0; i < old.cap; i++)
    if (old.slots[i].name) *name_find(t, old.slots[i].name) = old.slots[i];
  return HL_OK;
}

/* Names the tracer gives are Lua identifiers; "name.N" (never an identifier) resolves clashes,
 * so a suffixed name cannot collide with a later plain one. */
const char *ir_name_unique(IrFunc *f, const char *name) {
  if (name_table_reserve(f)) return NULL;
  NameEntry *e = name_find(f->names, name);
  if (!e->name) {
    const char *copy = ir_strdup(f, name);
    if (!copy) return NULL;
    e->name = copy;
    e->next_suffix = 1;
    f->names->count++;
    return copy;
  }
  char buf[160];
  snprintf(buf, sizeof buf, "%s.%d", name, e->next_suffix);
  const char *copy = ir_strdup(f, buf);
  if (copy) e->next_suffix++;
  return copy;
}

/* ---- dtypes ---------------------------------------------------------------------------------- */

static const char *const dtype_names[DT_COUNT] = {"float64", "float32", "float16", "bfloat16",
                                                  "int64",   "int32",   "int16",   "int8",
                                                  "uint8",   "bool"};

const char *ir_dtype_name(DType dt) {
  return (unsigned)dt < DT_COUNT ? dtype_names[dt] : "?";
}

int ir_dtype_from_name(const char *name, DType *out, Diag *d) {
  for (int i = 0; i < DT_COUNT; i++) {
    if (name && strcmp(name, dtype_names[i]) == 0) {
      *out = (DType)i;
      return HL_OK;
    }
  }
  return diag_set(d,
                  "unknown dtype '%s' (known: float64, float32, float16, bfloat16, int64, int32, "
                  "int16, int8, uint8, bool)",
                  name ? name : "(null)");
}

bool ir_dtype_is_float(DType dt) {
  return dt <= DT_BFLOAT16;
}
bool ir_dtype_is_int(DType dt) {
  return dt >= DT_INT64 && dt <= DT_UINT8;
}

/* ---- the op table ---------------------------------------------------------------------------- */

#define T IR_PHASE_TRACED
#define L IR_PHASE_LOWERED
static const IrOpInfo op_table[IR_OP_COUNT] = {
#define X(e, name, arity, phases, cls, doc) {name, arity, phases, IR_CLASS_##cls, doc},
#include "ir/ir_ops.def"
#undef X
};
#undef T
#undef L

const IrOpInfo *ir_op_info(IrOpKind k) {
  return &op_table[(unsigned)k < IR_OP_COUNT ? k : 0];
}

bool ir_class_is_elementwise(IrOpClass cls) {
  switch (cls) {
  case IR_CLASS_UNARY:
  case IR_CLASS_UNARY_FLOAT:
  case IR_CLASS_LOGICAL:
  case IR_CLASS_BINARY:
  case IR_CLASS_BINARY_FLOAT:
  case IR_CLASS_COMPARE:
  case IR_CLASS_WHERE:
  case IR_CLASS_CAST:
    return true;
  default:
    return false;
  }
}

int ir_op_lookup(const char *name) {
  for (int i = 0; i < IR_OP_COUNT; i++)
    if (name && strcmp(op_table[i].name, name) == 0) return i;
  return -1;
}

const char *ir_phase_name(IrPhase p) {
  return p == IR_PHASE_LOWERED ? "lowered" : "traced";
}

int ir_phase_from_name(const char *name, IrPhase *out, Diag *d) {
  if (name && strcmp(name, "traced") == 0)
    *out = IR_PHASE_TRACED;
  else if (name && strcmp(name, "lowered") == 0)
    *out = IR_PHASE_LOWERED;
  else
    return diag_set(d, "unknown IR phase '%s' (known: traced, lowered)", name ? name : "(null)");
  return HL_OK;
}

/* ---- small formatters ------------------------------------------------------------------------ */

const char *ir_loc_str(const IrFunc *f, IrLoc loc, char *buf, size_t cap) {
  buf[0] = '\0';
  if (loc.file >= 0 && loc.file < f->nfiles && loc.line > 0)
    snprintf(buf, cap, "%s:%d", f->files[loc.file], loc.line);
  else if (loc.line > 0)
    snprintf(buf, cap, "line %d", loc.line);
  return buf;
}

const char *ir_value_str(const IrFunc *f, IrValueId v, char *buf, size_t cap) {
  const IrValue *val = ir_value(f, v);
  if (val && val->name)
    snprintf(buf, cap, "%%%s", val->name);
  else
    snprintf(buf, cap, "%%%d", (int)v);
  return buf;
}

const char *ir_dim_str(IrDim dim, char *buf, size_t cap) {
  switch (dim.kind) {
  case IR_DIM_BLOCK:
    snprintf(buf, cap, "B%lld", (long long)dim.v);
    break;
  case IR_DIM_RDIM:
    snprintf(buf, cap, "R%lld", (long long)dim.v);
    break;
  default:
    snprintf(buf, cap, "%lld", (long long)dim.v);
    break;
  }
  return buf;
}

const char *ir_shape_str(const IrShape *s, char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = '\0';
  n += (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < s->rank && n < cap; i++) {
    char dim[32];
    n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "",
                          ir_dim_str(s->dims[i], dim, sizeof dim));
  }
  if (n < cap) snprintf(buf + n, cap - n, "]");
  return buf;
}

const char *ir_type_str(const IrValue *v, char *buf, size_t cap) {
  char shape[256];
  ir_shape_str(&v->shape, shape, sizeof shape);
  if (v->kind == IR_VAL_TILE)
    snprintf(buf, cap, "tile%s", shape);
  else if (v->kind == IR_VAL_TENSOR)
    snprintf(buf, cap, "tensor %s%s", ir_dtype_name(v->dtype), shape);
  else if (v->shape.rank == 0)
    snprintf(buf, cap, "%s", ir_dtype_name(v->dtype));
  else
    snprintf(buf, cap, "%s%s", ir_dtype_name(v->dtype), shape);
  return buf;
}
