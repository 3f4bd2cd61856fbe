/* Tile IR builder: kernel arguments, constants, declarations, loop regions with carried values,
 * and typed ops appended at the current source location. Part of src/ir (tile IR).
 * Every call either adds what it says or leaves the function as it was (a failed call may leave
 * unreachable bytes in the arena); errors name the op and carry the kernel's file:line. */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "ir/ir_internal.h"

struct IrBuilder {
  IrFunc *f;      /* NULL once finish handed the function out */
  IrPhase phase;
  IrLoc loc;
  IrRegion *cur;  /* the innermost open region */
};

#define NAMEBUF 96

/* ---- errors -------------------------------------------------------------------------------- */

static void set_anchor(IrBuilder *b, Diag *d) {
  if (!d) return;
  d->file[0] = '\0';
  d->line = b->loc.line;
  if (b->f && b->loc.file >= 0 && b->loc.file < b->f->nfiles)
    snprintf(d->file, sizeof d->file, "%s", b->f->files[b->loc.file]);
}

/* Prefixes "what: " to the message already in d and anchors it at the current location. */
static int fail(IrBuilder *b, Diag *d, const char *what) {
  if (!d) return HL_ERR;
  diag_prefix(d, "%s: ", what);
  set_anchor(b, d);
  return HL_ERR;
}

static int need_open(IrBuilder *b, Diag *d) {
  if (b && b->f) return HL_OK;
  return diag_set(d, "the IR builder has already finished (or failed to start)");
}

int ir_builder_new(const char *name, IrBuilder **out, Diag *d) {
  IrBuilder *b = mem_alloc(sizeof *b);
  if (!b) return ir_oom(d);
  memset(b, 0, sizeof *b);
  if (ir_func_new(name, &b->f, d)) {
    mem_free(b);
    return HL_ERR;
  }
  b->phase = IR_PHASE_TRACED;
  b->loc = (IrLoc){-1, 0};
  b->cur = b->f->body;
  *out = b;
  return HL_OK;
}

void ir_builder_free(IrBuilder *b) {
  if (!b) return;
  ir_func_free(b->f);
  mem_free(b);
}

void ir_builder_set_phase(IrBuilder *b, IrPhase phase) { b->phase = phase; }
const IrFunc *ir_builder_func(const IrBuilder *b) { return b->f; }

int ir_builder_finish(IrBuilder *b, IrFunc **out, Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  if (b->cur != b->f->body)
    return diag_set(d, "finish: %d device loop%s still open (every loop_begin needs a loop_end)",
                    b->cur->depth, b->cur->depth == 1 ? " is" : "s are");
  if (ir_verify(b->f, b->phase, d)) return HL_ERR;
  *out = b->f;
  b->f = NULL;
  return HL_OK;
}

/* ---- locations and names ------------------------------------------------------------------- */

int ir_build_file(IrBuilder *b, const char *path, int *file, Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  IrFunc *f = b->f;
  for (int i = 0; i < f->nfiles; i++) {
    if (strcmp(f->files[i], path) == 0) {
      *file = i;
      return HL_OK;
    }
  }
  const char *copy = ir_strdup(f, path);
  if (!copy || ir_grow(f, (void **)&f->files, &f->files_cap, f->nfiles + 1, sizeof *f->files))
    return ir_oom(d);
  f->files[f->nfiles] = copy;
  *file = f->nfiles++;
  return HL_OK;
}

void ir_build_loc(IrBuilder *b, int file, int line) {
  b->loc.file = b->f && file >= 0 && file < b->f->nfiles ? file : -1;
  b->loc.line = line > 0 ? line : 0;
}

static bool is_identifier(const char *s) {
  if (!s || !(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) return false;
  for (const char *c = s; *c; c++)
    if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
      return false;
  return strlen(s) < 100;
}

int ir_build_name(IrBuilder *b, IrValueId v, const char *name, Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  IrValue *val = (IrValue *)ir_value(b->f, v);
  if (!val) return diag_set(d, "name: %d is not a value", (int)v);
  if (!is_identifier(name))
    return diag_set(d, "name: '%s' is not an identifier (letters, digits, _; under 100 chars)",
                    name ? name : "(null)");
  if (val->name) return HL_OK; /* the first name a value gets stays */
  const char *u = ir_name_unique(b->f, name);
  if (!u) return ir_oom(d);
  val->name = u;
  return HL_OK;
}

/* ---- checks shared by every op ---------------------------------------------------------------- */

static int need_visible(IrBuilder *b, IrValueId v, const char *what, Diag *d) {
  const IrValue *val = ir_value(b->f, v);
  char n[NAMEBUF], where[300];
  if (!val || !val->region) return diag_set(d, "%s is not a value (id %d)", what, (int)v);
  if (val->region->open) return HL_OK;
  ir_loc_str(b->f, val->loc, where, sizeof where);
  return diag_set(d,
                  "%s %s (made at %s) belongs to a device loop that has ended; to use a value "
                  "after its loop, assign it to a local declared before the loop (it is then "
                  "carried through the loop)",
                  what, ir_value_str(b->f, v, n, sizeof n), where[0] ? where : "an unknown line");
}

/* Phase and placement: traced ops outside device loops must be host code. */
static int need_placement(IrBuilder *b, IrOpKind kind, int nargs, const IrValueId *args, Diag *d) {
  const IrOpInfo *info = ir_op_info(kind);
  if (!(info->phases & b->phase))
    return diag_set(d, "this op belongs to the %s phase, not the %s one",
                    ir_phase_name(info->phases & IR_PHASE_TRACED ? IR_PHASE_TRACED : IR_PHASE_LOWERED),
                    ir_phase_name(b->phase));
  if (b->phase != IR_PHASE_TRACED) return HL_OK;
  bool top = b->cur == b->f->body;
  if (info->cls == IR_CLASS_DECL && !top)
    return diag_set(d, "this is host code: call it before the device loops, not inside one");
  if (!top) return HL_OK;
  bool host = ir_class_is_host(info->cls);
  for (int i = 0; host && i < nargs; i++) {
    const IrValue *v = ir_value(b->f, args[i]);
    if (v && v->shape.rank != 0) host = false;
  }
  if (!host)
    return diag_set(d, "this is device code: it must be inside a device loop (hl.tile / hl.grid)");
  return HL_OK;
}

static bool class_has_attrs(IrOpClass cls) {
  switch (cls) {
  case IR_CLASS_UNARY: case IR_CLASS_UNARY_FLOAT: case IR_CLASS_LOGICAL: case IR_CLASS_BINARY:
  case IR_CLASS_BINARY_FLOAT: case IR_CLASS_COMPARE: case IR_CLASS_WHERE: case IR_CLASS_YIELD:
  case IR_CLASS_TILE_FIELD:
    return false;
  default:
    return true;
  }
}

static void link_op(IrRegion *r, IrOp *op) {
  op->parent = r;
  op->prev = r->last;
  if (r->last) r->last->next = op;
  else r->first = op;
  r->last = op;
}

/* Allocates an op with copies of args and attrs, adds its result values (one of type *res when
 * nres is 1), and links it at the end of the current region. */
/* An unlinked op at the current location with a copy of attrs (when its class has any). */
static IrOp *new_op(IrBuilder *b, IrOpKind kind, const IrAttrs *attrs) {
  IrOp *op = ir_alloc(b->f, sizeof *op);
  if (!op) return NULL;
  op->kind = kind;
  op->loc = b->loc;
  if (attrs && class_has_attrs(ir_op_info(kind)->cls)) {
    op->attrs = ir_alloc(b->f, sizeof *op->attrs);
    if (!op->attrs) return NULL;
    *op->attrs = *attrs;
  }
  return op;
}

static int append(IrBuilder *b, IrOpKind kind, int nargs, const IrValueId *args,
                  const IrAttrs *attrs, int nres, const IrType *res, IrValueId *out, Diag *d) {
  IrFunc *f = b->f;
  IrOp *op = new_op(b, kind, attrs);
  if (!op) return ir_oom(d);
  op->nargs = nargs;
  if (nargs > 0) {
    op->args = ir_alloc(f, (size_t)nargs * sizeof *op->args);
    if (!op->args) return ir_oom(d);
    memcpy(op->args, args, (size_t)nargs * sizeof *args);
  }
  if (nres == 1) {
    op->results = ir_alloc(f, sizeof *op->results);
    if (!op->results) return ir_oom(d);
    IrValue v = {.kind = res->kind, .dtype = res->dtype, .shape = res->shape,
                 .def_kind = IR_DEF_RESULT, .def = op, .region = b->cur, .loc = b->loc};
    if (ir_value_add(f, &v, &op->results[0], d)) return HL_ERR;
    op->nresults = 1;
    if (out) *out = op->results[0];
  }
  link_op(b->cur, op);
  return HL_OK;
}

/* Checks, types and appends a single-result (or no-result) op. */
static int build_typed(IrBuilder *b, IrOpKind kind, int nargs, const IrValueId *args,
                       const IrAttrs *attrs, IrValueId *out, Diag *d) {
  for (int i = 0; i < nargs; i++)
    if (need_visible(b, args[i], "operand", d)) return HL_ERR;
  if (need_placement(b, kind, nargs, args, d)) return HL_ERR;
  IrAttrs norm;
  IrType res;
  int nres;
  if (ir_infer(b->f, kind, nargs, args, attrs, &norm, &nres, &res, d)) return HL_ERR;
  return append(b, kind, nargs, args, &norm, nres, &res, out, d);
}

int ir_build_op(IrBuilder *b, IrOpKind kind, int nargs, const IrValueId *args,
                const IrAttrs *attrs, IrValueId *out, Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  if ((unsigned)kind >= IR_OP_COUNT) return diag_set(d, "op kind %d is unknown", (int)kind);
  const IrOpInfo *info = ir_op_info(kind);
  const char *use = NULL;
  switch (info->cls) {
  case IR_CLASS_LOOP: case IR_CLASS_YIELD: use = "ir_build_loop_begin / ir_build_loop_end"; break;
  case IR_CLASS_LOAD: case IR_CLASS_STORE: use = "ir_build_load / ir_build_store / ir_build_atomic_add"; break;
  case IR_CLASS_DECL: use = "ir_build_register_block_size / ir_build_tunable / ir_build_specialize"; break;
  default: break;
  }
  if (use) {
    diag_set(d, "is built with %s", use);
    return fail(b, d, info->name);
  }
  if (nargs < 0 || nargs > 4 || (nargs > 0 && !args)) {
    diag_set(d, "takes at most 4 operands, got %d", nargs);
    return fail(b, d, info->name);
  }
  if (build_typed(b, kind, nargs, args, attrs, out, d)) return fail(b, d, info->name);
  return HL_OK;
}

/* ---- arguments, constants, declarations -------------------------------------------------------- */

static int add_arg(IrBuilder *b, const char *name, IrValue *v, IrValueId *out, Diag *d) {
  IrFunc *f = b->f;
  if (v->dtype < 0 || v->dtype >= DT_COUNT) return diag_set(d, "an invalid dtype");
  if (ir_grow(f, (void **)&f->args, &f->args_cap, f->nargs + 1, sizeof *f->args)) return ir_oom(d);
  v->def_kind = IR_DEF_ARG;
  v->region = f->body;
  v->index = f->nargs;
  v->loc = b->loc;
  IrValueId id;
  if (ir_value_add(f, v, &id, d)) return HL_ERR;
  if (name && *name && ir_build_name(b, id, name, d)) {
    f->nvalues--; /* the only value added: drop it again */
    return HL_ERR;
  }
  f->args[f->nargs++] = id;
  *out = id;
  return HL_OK;
}

int ir_build_arg_tensor(IrBuilder *b, const char *name, DType dt, int rank, const int64_t *sizes,
                        const int64_t *strides, IrValueId *out, Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  if (rank < 0 || rank > IR_MAX_RANK) {
    diag_set(d, "a tensor of %d dims (at most %d)", rank, IR_MAX_RANK);
    return fail(b, d, "arg_tensor");
  }
  IrValue v = {.kind = IR_VAL_TENSOR, .dtype = dt, .shape.rank = rank};
  int64_t *st = rank ? ir_alloc(b->f, (size_t)rank * sizeof *st) : NULL;
  if (rank && !st) {
    ir_oom(d);
    return fail(b, d, "arg_tensor");
  }
  for (int i = 0; i < rank; i++) {
    if (sizes[i] < 0) {
      diag_set(d, "size %lld of dim %d is negative", (long long)sizes[i], i);
      return fail(b, d, "arg_tensor");
    }
    v.shape.dims[i] = (IrDim){IR_DIM_CONST, sizes[i]};
    st[i] = strides ? strides[i] : 0;
  }
  if (!strides) { /* contiguous */
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
      st[i] = s;
      s *= sizes[i] > 0 ? sizes[i] : 1;
    }
  }
  v.strides = st;
  if (add_arg(b, name, &v, out, d)) return fail(b, d, "arg_tensor");
  return HL_OK;
}

int ir_build_arg_scalar(IrBuilder *b, const char *name, DType dt, IrValueId *out, Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  IrValue v = {.kind = IR_VAL_DATA, .dtype = dt};
  if (add_arg(b, name, &v, out, d)) return fail(b, d, "arg_scalar");
  return HL_OK;
}

int ir_build_const_int(IrBuilder *b, DType dt, int64_t v, IrValueId *out, Diag *d) {
  IrAttrs a = IR_ATTRS_INIT;
  a.dtype = dt;
  a.value.i = v;
  return ir_build_op(b, IR_OP_CONST, 0, NULL, &a, out, d);
}

int ir_build_const_float(IrBuilder *b, DType dt, double v, IrValueId *out, Diag *d) {
  IrAttrs a = IR_ATTRS_INIT;
  a.dtype = dt;
  a.value.is_float = true;
  a.value.f = v;
  return ir_build_op(b, IR_OP_CONST, 0, NULL, &a, out, d);
}

static int64_t next_pow2(int64_t n) {
  int64_t p = 1;
  while (p < n && p < ((int64_t)1 << 62)) p <<= 1;
  return p;
}

static int add_slot(IrFunc *f, IrBlockSlot s, int *slot, Diag *d) {
  if (ir_grow(f, (void **)&f->slots, &f->slots_cap, f->nslots + 1, sizeof *f->slots)) return ir_oom(d);
  f->slots[f->nslots] = s;
  *slot = f->nslots++;
  return HL_OK;
}

int ir_build_register_block_size(IrBuilder *b, int64_t min, int64_t max, int *slot,
                                 IrValueId *out, Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  const char *op = "register_block_size";
  if (min < 1 || max < min) {
    diag_set(d, "needs 1 <= min <= max, got min %lld, max %lld", (long long)min, (long long)max);
    return fail(b, d, op);
  }
  if (need_placement(b, IR_OP_REGISTER_BLOCK_SIZE, 0, NULL, d)) return fail(b, d, op);
  IrFunc *f = b->f;
  int s, saved = f->nslots;
  IrBlockSlot rec = {.kind = IR_SLOT_REGISTERED, .extent = max, .min = min, .max = max, .loc = b->loc};
  if (add_slot(f, rec, &s, d)) return fail(b, d, op);
  IrAttrs a = IR_ATTRS_INIT;
  a.slot = s;
  if (build_typed(b, IR_OP_REGISTER_BLOCK_SIZE, 0, NULL, &a, out, d)) {
    f->nslots = saved;
    return fail(b, d, op);
  }
  *slot = s;
  return HL_OK;
}

int ir_build_tunable(IrBuilder *b, const char *name, const char *fragment, DType dt,
                     IrValueId *out, Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  const char *op = "tunable";
  IrFunc *f = b->f;
  if (!name || !*name) {
    diag_set(d, "needs a name");
    return fail(b, d, op);
  }
  if (dt != DT_INT64 && dt != DT_FLOAT64 && dt != DT_BOOL) {
    diag_set(d, "'%s' must be int64, float64 or bool, not %s", name, ir_dtype_name(dt));
    return fail(b, d, op);
  }
  for (int i = 0; i < f->ntunables; i++) {
    if (strcmp(f->tunables[i].name, name) == 0) {
      char where[300];
      diag_set(d, "'%s' is registered twice (first at %s); give each tunable its own name", name,
               ir_loc_str(f, f->tunables[i].loc, where, sizeof where));
      return fail(b, d, op);
    }
  }
  if (need_placement(b, IR_OP_TUNABLE, 0, NULL, d)) return fail(b, d, op);
  IrTunable t = {.name = ir_strdup(f, name), .fragment = ir_strdup(f, fragment ? fragment : ""),
                 .dtype = dt, .loc = b->loc};
  if (!t.name || !t.fragment ||
      ir_grow(f, (void **)&f->tunables, &f->tunables_cap, f->ntunables + 1, sizeof *f->tunables))
    {
    ir_oom(d);
    return fail(b, d, op);
  }
  f->tunables[f->ntunables++] = t;
  IrAttrs a = IR_ATTRS_INIT;
  a.slot = f->ntunables - 1;
  if (build_typed(b, IR_OP_TUNABLE, 0, NULL, &a, out, d)) {
    f->ntunables--;
    return fail(b, d, op);
  }
  return HL_OK;
}

int ir_build_specialize(IrBuilder *b, IrValueId arg, IrScalar value, IrValueId *out, Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  IrAttrs a = IR_ATTRS_INIT;
  a.value = value;
  if (build_typed(b, IR_OP_SPECIALIZE, 1, &arg, &a, out, d)) return fail(b, d, "specialize");
  return HL_OK;
}

/* ---- loads and stores -------------------------------------------------------------------------- */

static int find_rdim(IrBuilder *b, int64_t extent, int *out, Diag *d) {
  IrFunc *f = b->f;
  for (int i = 0; i < f->nrdims; i++) {
    if (f->rdims[i].extent == extent) {
      *out = i;
      return HL_OK;
    }
  }
  if (ir_grow(f, (void **)&f->rdims, &f->rdims_cap, f->nrdims + 1, sizeof *f->rdims)) return ir_oom(d);
  f->rdims[f->nrdims] = (IrRdim){.extent = extent, .loc = b->loc};
  *out = f->nrdims++;
  return HL_OK;
}

static int build_memory(IrBuilder *b, IrOpKind kind, IrValueId tensor, int nidx,
                        const IrIndex *idx, IrValueId value, IrValueId mask, IrEviction ev,
                        IrAtomicSem sem, IrValueId *out, Diag *d) {
  IrFunc *f = b->f;
  if (nidx < 0 || nidx > IR_MAX_INDEX || (nidx > 0 && !idx))
    return diag_set(d, "an index of %d entries (at most %d)", nidx, IR_MAX_INDEX);
  if (need_visible(b, tensor, "the tensor", d)) return HL_ERR;
  const IrValue *t = ir_value(f, tensor);
  IrValueId args[2 + IR_MAX_INDEX + 1];
  int nargs = 0;
  IrAttrs a = IR_ATTRS_INIT;
  a.nidx = nidx;
  a.eviction = ev;
  a.sem = sem;
  args[nargs++] = tensor;
  int saved_rdims = f->nrdims, tdim = 0;
  for (int i = 0; i < nidx; i++) {
    a.idx[i] = idx[i].kind;
    a.rdim[i] = -1;
    if (idx[i].kind == IR_IDX_TILE || idx[i].kind == IR_IDX_SCALAR || idx[i].kind == IR_IDX_GATHER)
      args[nargs++] = idx[i].value;
    if (idx[i].kind == IR_IDX_SLICE && t->kind == IR_VAL_TENSOR && tdim < t->shape.rank &&
        find_rdim(b, t->shape.dims[tdim].v, &a.rdim[i], d))
      return HL_ERR;
    if (idx[i].kind != IR_IDX_NEWAXIS) tdim++;
  }
  if (value != IR_NONE) args[nargs++] = value;
  if (mask != IR_NONE) {
    args[nargs++] = mask;
    a.has_mask = true;
  }
  if (build_typed(b, kind, nargs, args, &a, out, d)) {
    f->nrdims = saved_rdims; /* no op uses the reduction dims this call made */
    return HL_ERR;
  }
  return HL_OK;
}

int ir_build_load(IrBuilder *b, IrValueId tensor, int nidx, const IrIndex *idx, IrValueId mask,
                  IrEviction eviction, IrValueId *out, Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  if (build_memory(b, IR_OP_LOAD, tensor, nidx, idx, IR_NONE, mask, eviction, IR_SEM_RELAXED, out, d))
    return fail(b, d, "load");
  return HL_OK;
}

int ir_build_store(IrBuilder *b, IrValueId tensor, int nidx, const IrIndex *idx, IrValueId value,
                   IrValueId mask, Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  if (value == IR_NONE) {
    diag_set(d, "needs a value to store");
    return fail(b, d, "store");
  }
  if (build_memory(b, IR_OP_STORE, tensor, nidx, idx, value, mask, IR_EVICT_NONE, IR_SEM_RELAXED,
                   NULL, d))
    return fail(b, d, "store");
  return HL_OK;
}

int ir_build_atomic_add(IrBuilder *b, IrValueId tensor, int nidx, const IrIndex *idx,
                        IrValueId value, IrValueId mask, IrAtomicSem sem, IrValueId *out,
                        Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  if (value == IR_NONE) {
    diag_set(d, "needs a value to add");
    return fail(b, d, "atomic_add");
  }
  if (build_memory(b, IR_OP_ATOMIC_ADD, tensor, nidx, idx, value, mask, IR_EVICT_NONE, sem, out, d))
    return fail(b, d, "atomic_add");
  return HL_OK;
}

/* ---- loops ------------------------------------------------------------------------------------- */

static int need_index_scalar(IrBuilder *b, IrValueId v, const char *what, Diag *d) {
  if (need_visible(b, v, what, d)) return HL_ERR;
  const IrValue *val = ir_value(b->f, v);
  char n[NAMEBUF];
  if (val->kind != IR_VAL_DATA || val->shape.rank != 0 || !ir_dtype_is_int(val->dtype))
    return diag_set(d, "%s %s must be an integer scalar", what, ir_value_str(b->f, v, n, sizeof n));
  return HL_OK;
}

/* Checks the dims and picks each tile dim's block size, making new slots (undone on error). */
static int loop_dims(IrBuilder *b, IrOpKind kind, int ndims, const IrLoopDim *dims, IrAttrs *a,
                     IrValueId *args, int *nargs, Diag *d) {
  IrFunc *f = b->f;
  for (int i = 0; i < ndims; i++) {
    const IrLoopDim *ld = &dims[i];
    if (need_index_scalar(b, ld->begin, "the begin", d) || need_index_scalar(b, ld->end, "the end", d))
      return HL_ERR;
    args[(*nargs)++] = ld->begin;
    args[(*nargs)++] = ld->end;
    if (kind == IR_OP_FOR) {
      if (need_index_scalar(b, ld->step, "the step", d)) return HL_ERR;
      args[(*nargs)++] = ld->step;
    }
    a->block[i] = (IrDim){IR_DIM_CONST, 1};
    if (kind != IR_OP_TILE) continue;
    if (ld->slot >= 0) {
      if (ld->slot >= f->nslots || f->slots[ld->slot].kind != IR_SLOT_REGISTERED)
        return diag_set(d, "dim %d: block size slot %d is not from register_block_size", i, ld->slot);
      a->block[i] = (IrDim){IR_DIM_BLOCK, ld->slot};
    } else if (ld->block_size > 0) {
      a->block[i] = (IrDim){IR_DIM_CONST, ld->block_size};
    } else {
      int64_t lo, hi, extent = ld->size_hint > 0 ? ld->size_hint : -1;
      if (ir_const_int(f, ld->begin, &lo) && ir_const_int(f, ld->end, &hi)) extent = hi > lo ? hi - lo : 0;
      IrBlockSlot s = {.kind = IR_SLOT_TILE, .extent = extent, .min = 1,
                       .max = extent > 0 ? next_pow2(extent) : -1, .loc = b->loc};
      int slot;
      if (add_slot(f, s, &slot, d)) return HL_ERR;
      a->block[i] = (IrDim){IR_DIM_BLOCK, slot};
    }
  }
  return HL_OK;
}

int ir_build_loop_begin(IrBuilder *b, IrOpKind kind, int ndims, const IrLoopDim *dims,
                        int ncarried, const IrValueId *inits, IrValueId *iters,
                        IrValueId *carried, Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  IrFunc *f = b->f;
  const char *op = (unsigned)kind < IR_OP_COUNT ? ir_op_info(kind)->name : "loop";
  if (kind != IR_OP_TILE && kind != IR_OP_GRID && kind != IR_OP_FOR) {
    diag_set(d, "is not a loop op");
    return fail(b, d, op);
  }
  if (ndims < 1 || ndims > IR_MAX_RANK || (kind == IR_OP_FOR && ndims != 1) || ncarried < 0 ||
      ncarried > 256 || (ncarried > 0 && !inits)) {
    diag_set(d, "takes 1..%d dims (for: 1) and 0..256 carried values, got %d and %d", IR_MAX_RANK,
             ndims, ncarried);
    return fail(b, d, op);
  }
  if (b->cur->depth + 1 >= IR_MAX_DEPTH) {
    diag_set(d, "loops are nested more than %d deep", IR_MAX_DEPTH - 1);
    return fail(b, d, op);
  }
  if (need_placement(b, kind, 0, NULL, d)) return fail(b, d, op);
  for (int i = 0; i < ncarried; i++) {
    char n[NAMEBUF];
    if (need_visible(b, inits[i], "a carried value", d)) return fail(b, d, op);
    if (ir_value(f, inits[i])->kind != IR_VAL_DATA) {
      diag_set(d, "carried value %s is not a data value (tiles and tensors are not carried)",
               ir_value_str(f, inits[i], n, sizeof n));
      return fail(b, d, op);
    }
  }
  int saved_slots = f->nslots, saved_values = f->nvalues, nargs = 0;
  IrAttrs a = IR_ATTRS_INIT;
  a.ndims = ndims;
  IrValueId *args = ir_alloc(f, (size_t)(3 * ndims + ncarried) * sizeof *args);
  IrRegion *body = ir_alloc(f, sizeof *body);
  IrValueId *bargs = ir_alloc(f, (size_t)(ndims + ncarried) * sizeof *bargs);
  if (!args || !body || !bargs) {
    ir_oom(d);
    return fail(b, d, op);
  }
  if (loop_dims(b, kind, ndims, dims, &a, args, &nargs, d)) goto undo;
  for (int i = 0; i < ncarried; i++) args[nargs++] = inits[i];
  IrOp *lop = new_op(b, kind, &a);
  if (!lop) {
    ir_oom(d);
    goto undo;
  }
  lop->args = args;
  lop->nargs = nargs;
  lop->body = body;
  body->owner = lop;
  body->parent = b->cur;
  body->depth = b->cur->depth + 1;
  body->args = bargs;
  for (int i = 0; i < ndims + ncarried; i++) {
    IrValue v = {.def_kind = IR_DEF_BLOCK_ARG, .def = lop, .region = body, .index = i, .loc = b->loc};
    if (i < ndims && kind == IR_OP_TILE) {
      v.kind = IR_VAL_TILE;
      v.dtype = DT_INT64;
      v.shape.rank = 1;
      v.shape.dims[0] = a.block[i];
    } else if (i < ndims) {
      v.kind = IR_VAL_DATA;
      v.dtype = DT_INT64;
    } else {
      const IrValue *init = ir_value(f, inits[i - ndims]);
      v.kind = IR_VAL_DATA;
      v.dtype = init->dtype;
      v.shape = init->shape;
    }
    if (ir_value_add(f, &v, &bargs[i], d)) goto undo;
  }
  body->nargs = ndims + ncarried;
  link_op(b->cur, lop);
  body->open = true;
  b->cur = body;
  for (int i = 0; i < ndims; i++) iters[i] = bargs[i];
  for (int i = 0; i < ncarried; i++)
    if (carried) carried[i] = bargs[ndims + i];
  return HL_OK;
undo: /* nothing references the slots and block arguments made so far */
  f->nslots = saved_slots;
  f->nvalues = saved_values;
  return fail(b, d, op);
}

static void replace_in_op(IrOp *op, IrValueId from, IrValueId to) {
  for (int i = 0; i < op->nargs; i++)
    if (op->args[i] == from) op->args[i] = to;
  if (op->body) ir_region_replace_uses(op->body, from, to);
}

void ir_region_replace_uses(IrRegion *r, IrValueId from, IrValueId to) {
  for (IrOp *op = r->first; op; op = op->next) replace_in_op(op, from, to);
}

static int loop_iters(const IrOp *lop) { return lop->attrs ? lop->attrs->ndims : 1; }

int ir_build_loop_end(IrBuilder *b, int n, const IrValueId *yields, IrValueId *results,
                      Diag *d) {
  if (need_open(b, d)) return HL_ERR;
  IrFunc *f = b->f;
  IrRegion *body = b->cur;
  IrOp *lop = body->owner;
  if (!lop) {
    diag_set(d, "no device loop is open");
    return fail(b, d, "loop_end");
  }
  const char *op = ir_op_info(lop->kind)->name;
  int niter = loop_iters(lop), ncar = body->nargs - niter, ninit0 = lop->nargs - ncar;
  if (n != ncar || (n > 0 && !yields)) {
    diag_set(d, "the loop carries %d value%s but %d were yielded", ncar, ncar == 1 ? "" : "s", n);
    return fail(b, d, op);
  }
  char n1[NAMEBUF], n2[NAMEBUF], t1[300], t2[300];
  bool keep[256];
  IrValueId next[256];
  int nkeep = 0;
  for (int i = 0; i < n; i++) {
    IrValueId arg = body->args[niter + i];
    if (need_visible(b, yields[i], "a yielded value", d)) return fail(b, d, op);
    const IrValue *y = ir_value(f, yields[i]), *c = ir_value(f, arg);
    if (y->kind != IR_VAL_DATA || y->dtype != c->dtype || !ir_shape_eq(&y->shape, &c->shape)) {
      diag_set(d, "carried value %s is %s, but the body ends with %s of type %s; a carried local "
               "must keep its dtype and shape (cast it back, e.g. acc = v:to(...))",
               ir_value_str(f, arg, n1, sizeof n1), ir_type_str(c, t1, sizeof t1),
               ir_value_str(f, yields[i], n2, sizeof n2), ir_type_str(y, t2, sizeof t2));
      return fail(b, d, op);
    }
    keep[i] = yields[i] != arg;
    nkeep += keep[i];
  }
  /* A yield that is a pruned block argument becomes that argument's init. */
  for (int i = 0; i < n; i++) {
    next[i] = yields[i];
    for (int j = 0; j < n; j++)
      if (!keep[j] && yields[i] == body->args[niter + j]) next[i] = lop->args[ninit0 + j];
  }
  IrValueId ys[256], res_ids[256];
  int k = 0;
  for (int i = 0; i < n; i++)
    if (keep[i]) ys[k++] = next[i];
  /* allocate everything before changing anything */
  IrOp *yop = ir_alloc(f, sizeof *yop);
  IrValueId *yargs = nkeep ? ir_alloc(f, (size_t)nkeep * sizeof *yargs) : NULL;
  IrValueId *lres = nkeep ? ir_alloc(f, (size_t)nkeep * sizeof *lres) : NULL;
  if (!yop || (nkeep && (!yargs || !lres))) {
    ir_oom(d);
    return fail(b, d, op);
  }
  int saved_values = f->nvalues;
  for (int i = 0, r = 0; i < n; i++) {
    if (!keep[i]) continue;
    const IrValue *c = ir_value(f, body->args[niter + i]);
    IrValue v = {.kind = IR_VAL_DATA, .dtype = c->dtype, .shape = c->shape,
                 .def_kind = IR_DEF_RESULT, .def = lop, .region = body->parent, .index = r,
                 .loc = lop->loc};
    if (ir_value_add(f, &v, &res_ids[r], d)) {
      f->nvalues = saved_values;
      return fail(b, d, op);
    }
    r++;
  }
  /* commit: prune invariant carried values, then yield, then close the region */
  for (int i = 0; i < n; i++)
    if (!keep[i]) ir_region_replace_uses(body, body->args[niter + i], lop->args[ninit0 + i]);
  int w = 0;
  for (int i = 0; i < n; i++) {
    if (!keep[i]) continue;
    lop->args[ninit0 + w] = lop->args[ninit0 + i];
    body->args[niter + w] = body->args[niter + i];
    f->values[body->args[niter + w]].index = niter + w;
    w++;
  }
  lop->nargs = ninit0 + nkeep;
  body->nargs = niter + nkeep;
  if (nkeep) memcpy(yargs, ys, (size_t)nkeep * sizeof *ys);
  yop->kind = IR_OP_YIELD;
  yop->nargs = nkeep;
  yop->args = yargs;
  yop->loc = b->loc;
  link_op(body, yop);
  if (nkeep) memcpy(lres, res_ids, (size_t)nkeep * sizeof *lres);
  lop->results = lres;
  lop->nresults = nkeep;
  for (int i = 0, r = 0; results && i < n; i++) results[i] = keep[i] ? res_ids[r++] : next[i];
  body->open = false;
  b->cur = body->parent;
  return HL_OK;
}
