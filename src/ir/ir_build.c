/* Tile IR builder: kernel arguments, constants, declarations, and typed ops appended at the
 * current source location (loops are in ir_build_loop.c). Part of src/ir (tile IR).
 * Every call either adds what it says or leaves the function as it was (a failed call may leave
 * unreachable bytes in the arena); errors name the op and carry the kernel's file:line. */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "ir/ir_internal.h"

#define NAMEBUF 96

/* ---- errors ---------------------------------------------------------------------------------- */

static void set_anchor(IrBuilder *b, Diag *d) {
  if (!d) return;
  d->file[0] = '\0';
  d->line = b->loc.line;
  if (b->f && b->loc.file >= 0 && b->loc.file < b->f->nfiles)
    snprintf(d->file, sizeof d->file, "%s", b->f->files[b->loc.file]);
}

/* Prefixes "what: " to the message already in d and anchors it at the current location. */
int ir_build_fail(IrBuilder *b, Diag *d, const char *what) {
  if (!d) return HL_ERR;
  diag_prefix(d, "%s: ", what);
  set_anchor(b, d);
  return HL_ERR;
}

int ir_build_need_open(IrBuilder *b, Diag *d) {
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

void ir_builder_set_phase(IrBuilder *b, IrPhase phase) {
  b->phase = phase;
}
const IrFunc *ir_builder_func(const IrBuilder *b) {
  return b->f;
}

int ir_builder_finish(IrBuilder *b, IrFunc **out, Diag *d) {
  if (ir_build_need_open(b, d)) return HL_ERR;
  if (b->cur != b->f->body)
    return diag_set(d, "finish: %d device loop%s still open (every loop_begin needs a loop_end)",
                    b->cur->depth, b->cur->depth == 1 ? " is" : "s are");
  if (ir_verify(b->f, b->phase, d)) return HL_ERR;
  *out = b->f;
  b->f = NULL;
  return HL_OK;
}

/* ---- locations and names --------------------------------------------------------------------- */

int ir_build_file(IrBuilder *b, const char *path, int *file, Diag *d) {
  if (ir_build_need_open(b, d)) return HL_ERR;
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
    if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
          (*c >= '0' && *c <= '9')))
      return false;
  return strlen(s) < 100;
}

int ir_build_name(IrBuilder *b, IrValueId v, const char *name, Diag *d) {
  if (ir_build_need_open(b, d)) return HL_ERR;
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

/* ---- checks shared by every op --------------------------------------------------------------- */

int ir_build_need_visible(IrBuilder *b, IrValueId v, const char *what, Diag *d) {
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
int ir_build_need_placement(IrBuilder *b, IrOpKind kind, int nargs, const IrValueId *args,
                            Diag *d) {
  const IrOpInfo *info = ir_op_info(kind);
  if (!(info->phases & b->phase))
    return diag_set(
        d, "this op belongs to the %s phase, not the %s one",
        ir_phase_name(info->phases & IR_PHASE_TRACED ? IR_PHASE_TRACED : IR_PHASE_LOWERED),
        ir_phase_name(b->phase));
  if (b->phase != IR_PHASE_TRACED) return HL_OK;
  bool top = b->cur == b->f->body;
  if (info->cls == IR_CLASS_DECL && !top)
    return diag_set(d, "this is host code: call it before the device loops, not inside one");
  if (!top) return HL_OK;
  if (!ir_op_is_host(b->f, info->cls, nargs, args))
    return diag_set(d, "this is device code: it must be inside a device loop (hl.tile / hl.grid)");
  return HL_OK;
}

static bool class_has_attrs(IrOpClass cls) {
  if (cls == IR_CLASS_CAST) return true; /* the target dtype */
  return !ir_class_is_elementwise(cls) && cls != IR_CLASS_YIELD && cls != IR_CLASS_TILE_FIELD;
}

void ir_build_link(IrRegion *r, IrOp *op) {
  op->parent = r;
  op->prev = r->last;
  if (r->last)
    r->last->next = op;
  else
    r->first = op;
  r->last = op;
}

/* An unlinked op at the current location with a copy of attrs (when its class has any). */
IrOp *ir_build_new_op(IrBuilder *b, IrOpKind kind, const IrAttrs *attrs) {
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

/* Allocates an op with copies of args and attrs, adds its result value (of type *res when nres
 * is 1), and links it at the end of the current region. */
static int append(IrBuilder *b, IrOpKind kind, int nargs, const IrValueId *args,
                  const IrAttrs *attrs, int nres, const IrType *res, IrValueId *out, Diag *d) {
  IrFunc *f = b->f;
  IrOp *op = ir_build_new_op(b, kind, attrs);
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
    IrValue v = {.kind = res->kind,
                 .dtype = res->dtype,
                 .shape = res->shape,
                 .def_kind = IR_DEF_RESULT,
                 .def = op,
                 .region = b->cur,
                 .loc = b->loc};
    if (ir_value_add(f, &v, &op->results[0], d)) return HL_ERR;
    op->nresults = 1;
    if (out) *out = op->results[0];
  }
  ir_build_link(b->cur, op);
  return HL_OK;
}

/* Checks, types and appends a single-result (or no-result) op. */
static int build_typed(IrBuilder *b, IrOpKind kind, int nargs, const IrValueId *args,
                       const IrAttrs *attrs, IrValueId *out, Diag *d) {
  for (int i = 0; i < nargs; i++)
    if (ir_build_need_visible(b, args[i], "operand", d)) return HL_ERR;
  if (ir_build_need_placement(b, kind, nargs, args, d)) return HL_ERR;
  IrAttrs norm;
  IrType res;
  int nres;
  if (ir_infer(b->f, kind, nargs, args, attrs, &norm, &nres, &res, d)) return HL_ERR;
  return append(b, kind, nargs, args, &norm, nres, &res, out, d);
}

int ir_build_op(IrBuilder *b, IrOpKind kind, int nargs, const IrValueId *args, const IrAttrs *attrs,
                IrValueId *out, Diag *d) {
  if (ir_build_need_open(b, d)) return HL_ERR;
  if ((unsigned)kind >= IR_OP_COUNT) return diag_set(d, "op kind %d is unknown", (int)kind);
  const IrOpInfo *info = ir_op_info(kind);
  const char *use = NULL;
  switch (info->cls) {
  case IR_CLASS_LOOP:
  case IR_CLASS_YIELD:
    use = "ir_build_loop_begin / ir_build_loop_end";
    break;
  case IR_CLASS_LOAD:
  case IR_CLASS_STORE:
    use = "ir_build_load / ir_build_store / ir_build_atomic_add";
    break;
  case IR_CLASS_DECL:
    use = "ir_build_register_block_size / ir_build_tunable / ir_build_specialize";
    break;
  default:
    break;
  }
  if (use) {
    diag_set(d, "is built with %s", use);
    return ir_build_fail(b, d, info->name);
  }
  if (nargs < 0 || nargs > 4 || (nargs > 0 && !args)) {
    diag_set(d, "takes at most 4 operands, got %d", nargs);
    return ir_build_fail(b, d, info->name);
  }
  if (build_typed(b, kind, nargs, args, attrs, out, d)) return ir_build_fail(b, d, info->name);
  return HL_OK;
}

/* ---- arguments, constants, declarations ------------------------------------------------------ */

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
  if (ir_build_need_open(b, d)) return HL_ERR;
  if (rank < 0 || rank > IR_MAX_RANK) {
    diag_set(d, "a tensor of %d dims (at most %d)", rank, IR_MAX_RANK);
    return ir_build_fail(b, d, "arg_tensor");
  }
  IrValue v = {.kind = IR_VAL_TENSOR, .dtype = dt, .shape.rank = rank};
  int64_t *st = rank ? ir_alloc(b->f, (size_t)rank * sizeof *st) : NULL;
  if (rank && !st) {
    ir_oom(d);
    return ir_build_fail(b, d, "arg_tensor");
  }
  for (int i = 0; i < rank; i++) {
    if (sizes[i] < 0) {
      diag_set(d, "size %lld of dim %d is negative", (long long)sizes[i], i);
      return ir_build_fail(b, d, "arg_tensor");
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
  if (add_arg(b, name, &v, out, d)) return ir_build_fail(b, d, "arg_tensor");
  return HL_OK;
}

int ir_build_arg_scalar(IrBuilder *b, const char *name, DType dt, IrValueId *out, Diag *d) {
  if (ir_build_need_open(b, d)) return HL_ERR;
  IrValue v = {.kind = IR_VAL_DATA, .dtype = dt};
  if (add_arg(b, name, &v, out, d)) return ir_build_fail(b, d, "arg_scalar");
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

int64_t ir_next_pow2(int64_t n) {
  int64_t p = 1;
  while (p < n && p < ((int64_t)1 << 62))
    p <<= 1;
  return p;
}

int ir_build_add_slot(IrFunc *f, IrBlockSlot s, int *slot, Diag *d) {
  if (ir_grow(f, (void **)&f->slots, &f->slots_cap, f->nslots + 1, sizeof *f->slots))
    return ir_oom(d);
  f->slots[f->nslots] = s;
  *slot = f->nslots++;
  return HL_OK;
}

int ir_build_register_block_size(IrBuilder *b, int64_t min, int64_t max, int *slot, IrValueId *out,
                                 Diag *d) {
  if (ir_build_need_open(b, d)) return HL_ERR;
  const char *op = "register_block_size";
  if (min < 1 || max < min) {
    diag_set(d, "needs 1 <= min <= max, got min %lld, max %lld", (long long)min, (long long)max);
    return ir_build_fail(b, d, op);
  }
  if (ir_build_need_placement(b, IR_OP_REGISTER_BLOCK_SIZE, 0, NULL, d))
    return ir_build_fail(b, d, op);
  IrFunc *f = b->f;
  int s, saved = f->nslots;
  IrBlockSlot rec = {
      .kind = IR_SLOT_REGISTERED, .extent = max, .min = min, .max = max, .loc = b->loc};
  if (ir_build_add_slot(f, rec, &s, d)) return ir_build_fail(b, d, op);
  IrAttrs a = IR_ATTRS_INIT;
  a.slot = s;
  if (build_typed(b, IR_OP_REGISTER_BLOCK_SIZE, 0, NULL, &a, out, d)) {
    f->nslots = saved;
    return ir_build_fail(b, d, op);
  }
  *slot = s;
  return HL_OK;
}

int ir_build_tunable(IrBuilder *b, const char *name, const char *fragment, DType dt, IrValueId *out,
                     Diag *d) {
  if (ir_build_need_open(b, d)) return HL_ERR;
  const char *op = "tunable";
  IrFunc *f = b->f;
  if (!name || !*name) {
    diag_set(d, "needs a name");
    return ir_build_fail(b, d, op);
  }
  if (dt != DT_INT64 && dt != DT_FLOAT64 && dt != DT_BOOL) {
    diag_set(d, "'%s' must be int64, float64 or bool, not %s", name, ir_dtype_name(dt));
    return ir_build_fail(b, d, op);
  }
  for (int i = 0; i < f->ntunables; i++) {
    if (strcmp(f->tunables[i].name, name) == 0) {
      char where[300];
      diag_set(d, "'%s' is registered twice (first at %s); give each tunable its own name", name,
               ir_loc_str(f, f->tunables[i].loc, where, sizeof where));
      return ir_build_fail(b, d, op);
    }
  }
  if (ir_build_need_placement(b, IR_OP_TUNABLE, 0, NULL, d)) return ir_build_fail(b, d, op);
  IrTunable t = {.name = ir_strdup(f, name),
                 .fragment = ir_strdup(f, fragment ? fragment : ""),
                 .dtype = dt,
                 .loc = b->loc};
  if (!t.name || !t.fragment ||
      ir_grow(f, (void **)&f->tunables, &f->tunables_cap, f->ntunables + 1, sizeof *f->tunables)) {
    ir_oom(d);
    return ir_build_fail(b, d, op);
  }
  f->tunables[f->ntunables++] = t;
  IrAttrs a = IR_ATTRS_INIT;
  a.slot = f->ntunables - 1;
  if (build_typed(b, IR_OP_TUNABLE, 0, NULL, &a, out, d)) {
    f->ntunables--;
    return ir_build_fail(b, d, op);
  }
  return HL_OK;
}

int ir_build_specialize(IrBuilder *b, IrValueId arg, IrScalar value, IrValueId *out, Diag *d) {
  if (ir_build_need_open(b, d)) return HL_ERR;
  IrAttrs a = IR_ATTRS_INIT;
  a.value = value;
  if (build_typed(b, IR_OP_SPECIALIZE, 1, &arg, &a, out, d))
    return ir_build_fail(b, d, "specialize");
  return HL_OK;
}

/* ---- loads and stores ------------------------------------------------------------------------ */

static int find_rdim(IrBuilder *b, int64_t extent, int *out, Diag *d) {
  IrFunc *f = b->f;
  for (int i = 0; i < f->nrdims; i++) {
    if (f->rdims[i].extent == extent) {
      *out = i;
      return HL_OK;
    }
  }
  if (ir_grow(f, (void **)&f->rdims, &f->rdims_cap, f->nrdims + 1, sizeof *f->rdims))
    return ir_oom(d);
  f->rdims[f->nrdims] = (IrRdim){.extent = extent, .loc = b->loc};
  *out = f->nrdims++;
  return HL_OK;
}

static int build_memory(IrBuilder *b, IrOpKind kind, IrValueId tensor, int nidx, const IrIndex *idx,
                        IrValueId value, IrValueId mask, IrEviction ev, IrAtomicSem sem,
                        IrValueId *out, Diag *d) {
  IrFunc *f = b->f;
  if (nidx < 0 || nidx > IR_MAX_INDEX || (nidx > 0 && !idx))
    return diag_set(d, "an index of %d entries (at most %d)", nidx, IR_MAX_INDEX);
  if (ir_build_need_visible(b, tensor, "the tensor", d)) return HL_ERR;
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
        find_rdim(b, t->shape.dims[tdim].v, &a.rdim[i], d)) {
      f->nrdims = saved_rdims;
      return HL_ERR;
    }
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
  if (ir_build_need_open(b, d)) return HL_ERR;
  if (build_memory(b, IR_OP_LOAD, tensor, nidx, idx, IR_NONE, mask, eviction, IR_SEM_RELAXED, out,
                   d))
    return ir_build_fail(b, d, "load");
  return HL_OK;
}

int ir_build_store(IrBuilder *b, IrValueId tensor, int nidx, const IrIndex *idx, IrValueId value,
                   IrValueId mask, Diag *d) {
  if (ir_build_need_open(b, d)) return HL_ERR;
  if (value == IR_NONE) {
    diag_set(d, "needs a value to store");
    return ir_build_fail(b, d, "store");
  }
  if (build_memory(b, IR_OP_STORE, tensor, nidx, idx, value, mask, IR_EVICT_NONE, IR_SEM_RELAXED,
                   NULL, d))
    return ir_build_fail(b, d, "store");
  return HL_OK;
}

int ir_build_atomic_add(IrBuilder *b, IrValueId tensor, int nidx, const IrIndex *idx,
                        IrValueId value, IrValueId mask, IrAtomicSem sem, IrValueId *out, Diag *d) {
  if (ir_build_need_open(b, d)) return HL_ERR;
  if (value == IR_NONE) {
    diag_set(d, "needs a value to add");
    return ir_build_fail(b, d, "atomic_add");
  }
  if (build_memory(b, IR_OP_ATOMIC_ADD, tensor, nidx, idx, value, mask, IR_EVICT_NONE, sem, out, d))
    return ir_build_fail(b, d, "atomic_add");
  return HL_OK;
}
