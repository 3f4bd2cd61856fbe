/* Tile IR internals shared by the src/ir files: the arena, value creation, type inference.
 * Part of src/ir (tile IR); not included outside src/ir. */
#ifndef HELUA_IR_INTERNAL_H
#define HELUA_IR_INTERNAL_H

#include "ir/ir.h"

/* ---- arena (ir_arena.c) ---------------------------------------------------------------------- */

typedef struct IrArena IrArena;

/* Tests only: when > 0, arena chunks after the first hold this many bytes, so that nearly every
 * arena allocation reaches mem_alloc and an allocation-failure sweep visits each of them. */
extern size_t ir_arena_test_chunk;

/* A function with an empty body in a fresh arena. */
int ir_func_new(const char *name, IrFunc **out, Diag *d);
/* 16-byte aligned, zeroed memory from f's arena; NULL when out of memory. */
void *ir_alloc(IrFunc *f, size_t n);
char *ir_strdup(IrFunc *f, const char *s); /* NULL when out of memory */
/* Makes room for `need` elements in the arena array *arr (capacity *cap); HL_ERR when out of
 * memory (the array is unchanged). */
int ir_grow(IrFunc *f, void **arr, int *cap, int need, size_t elem);
int ir_oom(Diag *d); /* diag_set(d, "out of memory while building the IR") */

/* Appends a value (a copy of *v) to f; *out gets its id. */
int ir_value_add(IrFunc *f, const IrValue *v, IrValueId *out, Diag *d);
/* Unique-ifies `name` among f's value names: the name itself, or "name.N". NULL on OOM. */
const char *ir_name_unique(IrFunc *f, const char *name);

/* ---- builder (ir_build.c, ir_build_loop.c) --------------------------------------------------- */

struct IrBuilder {
  IrFunc *f; /* NULL once finish handed the function out */
  IrPhase phase;
  IrLoc loc;
  IrRegion *cur; /* the innermost open region */
};

/* Prefixes "what: " to the message in d and anchors d at the builder's location. */
int ir_build_fail(IrBuilder *b, Diag *d, const char *what);
int ir_build_need_open(IrBuilder *b, Diag *d);
/* The value exists and its region is still open (SSA: defined here or in an enclosing loop). */
int ir_build_need_visible(IrBuilder *b, IrValueId v, const char *what, Diag *d);
/* The op's phase is the builder's, and traced host/device code sits where it belongs. */
int ir_build_need_placement(IrBuilder *b, IrOpKind kind, int nargs, const IrValueId *args, Diag *d);
IrOp *ir_build_new_op(IrBuilder *b, IrOpKind kind, const IrAttrs *attrs); /* unlinked; NULL: OOM */
void ir_build_link(IrRegion *r, IrOp *op);                                /* at the end of r */
int ir_build_add_slot(IrFunc *f, IrBlockSlot s, int *slot, Diag *d);
int64_t ir_next_pow2(int64_t n);

/* ---- types (ir_infer.c) ---------------------------------------------------------------------- */

typedef struct IrType {
  IrValueKind kind;
  DType dtype;
  IrShape shape;
} IrType;

/* Types the op `kind` applied to args with attrs, for every class but LOOP and YIELD.
 * *norm gets the normalized attributes (dims made non-negative, dtypes resolved); it may be
 * attrs itself. *nres gets 0 or 1 and *res the result type. On error the message says what is
 * wrong, naming the operands; the caller prefixes the op and location. */
int ir_infer(const IrFunc *f, IrOpKind kind, int nargs, const IrValueId *args, const IrAttrs *attrs,
             IrAttrs *norm, int *nres, IrType *res, Diag *d);
bool ir_dim_eq(IrDim a, IrDim b);
bool ir_shape_eq(const IrShape *a, const IrShape *b);
bool ir_type_eq(const IrType *t, const IrValue *v);
const char *ir_dim_str(IrDim dim, char *buf, size_t cap);
/* Whether an op of class cls on args may sit outside device loops in the traced phase: a host
 * class (constants, declarations, loops, elementwise) with rank-0 operands. */
bool ir_op_is_host(const IrFunc *f, IrOpClass cls, int nargs, const IrValueId *args);

#endif
