/* Tile IR: SSA values with dtypes and symbolic tile shapes, loops as regions with carried values;
 * builder, verifier, printer, fingerprint, config-space queries. Part of src/ir (tile IR).
 *
 * Model (share/doc/ir.md has the long form):
 *  - An IrFunc is one kernel. Its body is a region of ops; device loops (tile / grid) hold a
 *    nested region whose block arguments are the iteration values then the carried values, and
 *    which ends with a yield. Top-level loop nests form the program grid.
 *  - Every value has a kind (data, kernel tensor, tile), a dtype and a shape. A shape dim is a
 *    constant, a block-size symbol Bn (slot n of the Config's block_sizes) or a reduction-dim
 *    symbol Rn (a ':' slice; the Config's reduction_loops[n]).
 *  - All indices and dims in the IR are 0-based; the tracer converts Lua's 1-based values.
 *  - Everything of a function lives in one arena, freed by ir_func_free. Nothing aborts on a
 *    user-reachable path: functions return HL_OK / HL_ERR and fill a Diag. */
#ifndef HELUA_IR_IR_H
#define HELUA_IR_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "tensor/tensor.h" /* DType: the IR reuses the tensor library's dtypes (header only) */

#define IR_MAX_RANK    8    /* = TENSOR_MAX_DIMS */
#define IR_MAX_INDEX   16   /* entries of one load/store index (tensor dims + newaxis) */
#define IR_MAX_DEPTH   32   /* loop nesting */
#define IR_NONE        (-1) /* "no value" */
#define IR_DTYPE_UNSET DT_COUNT

typedef int32_t IrValueId;

/* ---- the op table ---------------------------------------------------------------------------- */

typedef enum IrPhase { IR_PHASE_TRACED = 1, IR_PHASE_LOWERED = 2 } IrPhase;

typedef enum IrOpClass {
  IR_CLASS_CONST,
  IR_CLASS_DECL,
  IR_CLASS_LOOP,
  IR_CLASS_YIELD,
  IR_CLASS_PROGRAM,
  IR_CLASS_TILE_FIELD,
  IR_CLASS_LOAD,
  IR_CLASS_STORE,
  IR_CLASS_PTR_LOAD,
  IR_CLASS_PTR_STORE,
  IR_CLASS_FULL,
  IR_CLASS_ARANGE,
  IR_CLASS_UNARY,
  IR_CLASS_UNARY_FLOAT,
  IR_CLASS_LOGICAL,
  IR_CLASS_BINARY,
  IR_CLASS_BINARY_FLOAT,
  IR_CLASS_COMPARE,
  IR_CLASS_WHERE,
  IR_CLASS_CAST,
  IR_CLASS_REDUCE,
  IR_CLASS_SOFTMAX,
  IR_CLASS_RESHAPE,
  IR_CLASS_PERMUTE,
  IR_CLASS_UNSQUEEZE,
  IR_CLASS_SQUEEZE,
  IR_CLASS_EXPAND,
  IR_CLASS_DOT
} IrOpClass;

typedef enum IrOpKind {
#define X(e, name, arity, phases, cls, doc) IR_OP_##e,
#include "ir/ir_ops.def"
#undef X
  IR_OP_COUNT
} IrOpKind;

typedef struct IrOpInfo {
  const char *name; /* "load" */
  int arity;        /* operands, -1 = variadic */
  unsigned phases;  /* IrPhase bits */
  IrOpClass cls;
  const char *doc; /* one-line meaning */
} IrOpInfo;

const IrOpInfo *ir_op_info(IrOpKind k); /* k < IR_OP_COUNT */
/* Math, logical, compare, where and cast: each result element comes from the operands' elements
 * at the same position (what may be computed element by element, on the host or in a chunk). */
bool ir_class_is_elementwise(IrOpClass cls);
/* The op named `name`, or -1. */
int ir_op_lookup(const char *name);
const char *ir_phase_name(IrPhase p); /* "traced", "lowered" */
int ir_phase_from_name(const char *name, IrPhase *out, Diag *d);

/* ---- values ---------------------------------------------------------------------------------- */

typedef enum IrDimKind { IR_DIM_CONST, IR_DIM_BLOCK, IR_DIM_RDIM } IrDimKind;
typedef struct IrDim {
  IrDimKind kind;
  int64_t v; /* CONST: the size; BLOCK: the slot; RDIM: the reduction dim */
} IrDim;

typedef struct IrShape {
  int rank; /* 0 = scalar */
  IrDim dims[IR_MAX_RANK];
} IrShape;

typedef enum IrValueKind {
  IR_VAL_DATA,   /* a scalar or a tile-shaped value in registers */
  IR_VAL_TENSOR, /* a kernel tensor argument (global memory): shape = its sizes */
  IR_VAL_TILE    /* a tile loop's iteration value: shape = [its block dim] */
} IrValueKind;

typedef enum IrDefKind { IR_DEF_ARG, IR_DEF_RESULT, IR_DEF_BLOCK_ARG } IrDefKind;

typedef struct IrLoc {
  int file; /* index into IrFunc.files, -1 = none */
  int line; /* 1-based, 0 = none */
} IrLoc;

typedef struct IrValue {
  IrValueKind kind;
  DType dtype; /* TILE values: int64 */
  IrShape shape;
  IrDefKind def_kind;
  struct IrOp *def;        /* RESULT: the op; BLOCK_ARG: the loop op; ARG: NULL */
  struct IrRegion *region; /* where it is defined (args: the function body) */
  int index;               /* result index, block-argument index, or argument index */
  IrLoc loc;
  const char *name;       /* NULL or a unique name ("acc", "acc.1") */
  const int64_t *strides; /* TENSOR: element strides (rank entries) */
} IrValue;

/* ---- ops and regions ------------------------------------------------------------------------- */

typedef enum IrIndexKind {
  IR_IDX_TILE,    /* a tile value: a block-sized dim, masked to the loop's range */
  IR_IDX_SLICE,   /* ':': the whole dim, as reduction dim Rn */
  IR_IDX_SCALAR,  /* an integer scalar (a grid index, tile_begin, ...): drops the dim */
  IR_IDX_NEWAXIS, /* adds a size-1 dim, consumes no tensor dim */
  IR_IDX_GATHER   /* a 1-D integer value: its dim, elements gathered (out of range reads 0) */
} IrIndexKind;

typedef enum IrEviction { IR_EVICT_NONE, IR_EVICT_FIRST, IR_EVICT_LAST } IrEviction;
typedef enum IrAtomicSem {
  IR_SEM_RELAXED,
  IR_SEM_ACQUIRE,
  IR_SEM_RELEASE,
  IR_SEM_ACQ_REL
} IrAtomicSem;

typedef struct IrScalar {
  bool is_float;
  int64_t i;
  double f;
} IrScalar;

/* Attributes of an op; which fields count depends on the op's class (share/doc/ir.md).
 * Initialize with IR_ATTRS_INIT. Stored normalized (dims non-negative, dtypes resolved). */
typedef struct IrAttrs {
  DType dtype;           /* const, full, arange, cast, tunable, dot (out dtype); IR_DTYPE_UNSET */
  IrScalar value;        /* const, full, specialize */
  int64_t start;         /* arange */
  int dim;               /* reductions, softmax, squeeze, unsqueeze (may be negative on input);
                            program_id: the axis */
  bool keepdim;          /* reductions */
  IrShape shape;         /* full, arange (rank 1: the length), reshape, expand (-1: keep) */
  int perm[IR_MAX_RANK]; /* permute: a permutation of 0..shape.rank-1 (shape.rank = count) */
  int slot;              /* register_block_size: the slot; tunable: the tunable index */
  /* load / store / atomic_add */
  int nidx;
  IrIndexKind idx[IR_MAX_INDEX];
  int rdim[IR_MAX_INDEX]; /* IR_IDX_SLICE: the reduction dim (filled by the builder) */
  bool has_mask;          /* the last operand is a mask (loads, stores, ptr_*) */
  IrEviction eviction;
  IrAtomicSem sem;
  /* loops */
  int ndims;                /* tile / grid dims (for: 1) */
  IrDim block[IR_MAX_RANK]; /* tile: each dim's block size (a slot or a fixed constant) */
} IrAttrs;

#define IR_ATTRS_INIT                                                                              \
  { .dtype = IR_DTYPE_UNSET }

typedef struct IrOp {
  IrOpKind kind;
  int nargs;
  IrValueId *args; /* loops: begin0, end0, begin1, end1, ... (for: begin, end, step), inits */
  int nresults;
  IrValueId *results;
  IrAttrs *attrs;          /* NULL when the class has none */
  struct IrRegion *body;   /* loops: the body */
  struct IrRegion *parent; /* the region holding this op */
  struct IrOp *prev, *next;
  IrLoc loc;
} IrOp;

typedef struct IrRegion {
  IrOp *first, *last;
  int nargs; /* block arguments: iteration values (tiles / indices), then carried */
  IrValueId *args;
  IrOp *owner; /* the loop op; NULL for the function body */
  struct IrRegion *parent;
  int depth; /* 0 = function body */
  bool open; /* while the builder is inside it */
} IrRegion;

/* ---- config-space records -------------------------------------------------------------------- */

typedef enum IrSlotKind {
  IR_SLOT_TILE,      /* one tiled loop dim */
  IR_SLOT_REGISTERED /* hl.register_block_size */
} IrSlotKind;

/* One entry of the Config's block_sizes, in creation order (Helion's order). */
typedef struct IrBlockSlot {
  IrSlotKind kind;
  int64_t extent; /* size hint: the loop dim's extent (or max for registered); -1 unknown */
  /* The range the kernel asks for: registered (min, max); tiled [1, the power of 2 >= extent],
   * -1 when the extent is unknown. The config space may narrow it (e.g. dot's minimum). */
  int64_t min, max;
  IrLoc loc;
} IrBlockSlot;

/* One ':' reduction dim (shared by every slice of the same extent); reduction_loops[n]. */
typedef struct IrRdim {
  int64_t extent;
  IrLoc loc;
} IrRdim;

/* One hl.register_tunable: the fragment is opaque text the config space parses. */
typedef struct IrTunable {
  const char *name;
  const char *fragment;
  DType dtype; /* int64, float64 or bool */
  IrLoc loc;
} IrTunable;

typedef struct IrFunc {
  struct IrArena *arena;
  const char *name;
  IrValue *values;
  int nvalues, values_cap;
  IrRegion *body;
  IrValueId *args; /* kernel arguments in order */
  int nargs, args_cap;
  const char **files;
  int nfiles, files_cap;
  IrBlockSlot *slots;
  int nslots, slots_cap;
  IrRdim *rdims;
  int nrdims, rdims_cap;
  IrTunable *tunables;
  int ntunables, tunables_cap;
  struct IrNameTable *names;
} IrFunc;

void ir_func_free(IrFunc *f); /* the whole function in one call; NULL is fine */
const IrValue *ir_value(const IrFunc *f, IrValueId v); /* NULL when out of range */
/* The value's display name ("%acc", "%7") into buf; returns buf. */
const char *ir_value_str(const IrFunc *f, IrValueId v, char *buf, size_t cap);
/* "bfloat16[B0, R1]", "int64", "tensor float32[64, 32]", "tile[B0]" into buf; returns buf. */
const char *ir_type_str(const IrValue *v, char *buf, size_t cap);
const char *ir_shape_str(const IrShape *s, char *buf, size_t cap);
const char *ir_dtype_name(DType dt);
int ir_dtype_from_name(const char *name, DType *out, Diag *d);
bool ir_dtype_is_float(DType dt);
bool ir_dtype_is_int(DType dt); /* integer, not bool */
/* The value of a scalar integer defined by const or specialize (false for anything else). */
bool ir_const_int(const IrFunc *f, IrValueId v, int64_t *out);
/* "matmul.lua:9" into buf (empty when the location is unknown); returns buf. */
const char *ir_loc_str(const IrFunc *f, IrLoc loc, char *buf, size_t cap);

/* ---- builder --------------------------------------------------------------------------------- */

typedef struct IrBuilder IrBuilder;

/* One dim of a loop. Tile loops: block size from `slot` (>= 0, from register_block_size),
 * else fixed `block_size` (> 0), else a new slot whose extent is end - begin when both are
 * constants, else size_hint (0 = unknown). For loops: `step`. */
typedef struct IrLoopDim {
  IrValueId begin, end; /* scalar integers: 0-based, end exclusive */
  IrValueId step;       /* for loops only */
  int slot;
  int64_t block_size;
  int64_t size_hint;
} IrLoopDim;

#define IR_LOOP_DIM_INIT                                                                           \
  { .begin = IR_NONE, .end = IR_NONE, .step = IR_NONE, .slot = -1 }

typedef struct IrIndex {
  IrIndexKind kind;
  IrValueId value; /* TILE, SCALAR, GATHER; IR_NONE otherwise */
} IrIndex;

/* A builder in the traced phase with an empty function named `name`. */
int ir_builder_new(const char *name, IrBuilder **out, Diag *d);
/* Frees the builder and, unless finish handed it out, its function. NULL is fine. */
void ir_builder_free(IrBuilder *b);
void ir_builder_set_phase(IrBuilder *b, IrPhase phase); /* ops and verification follow it */
const IrFunc *ir_builder_func(const IrBuilder *b);      /* the function so far */
/* Closes the function, verifies it for the builder's phase, and hands it to the caller
 * (*out; free with ir_func_free). On error the builder keeps it. */
int ir_builder_finish(IrBuilder *b, IrFunc **out, Diag *d);

/* Source locations: every op and value made after ir_build_loc carries it. */
int ir_build_file(IrBuilder *b, const char *path, int *file, Diag *d); /* interned */
void ir_build_loc(IrBuilder *b, int file, int line);
/* Names a value (a Lua identifier); a name already used becomes "name.N". */
int ir_build_name(IrBuilder *b, IrValueId v, const char *name, Diag *d);

/* Kernel arguments, in order; may be added at any time (the tracer finds them lazily). */
int ir_build_arg_tensor(IrBuilder *b, const char *name, DType dt, int rank, const int64_t *sizes,
                        const int64_t *strides, IrValueId *out, Diag *d);
int ir_build_arg_scalar(IrBuilder *b, const char *name, DType dt, IrValueId *out, Diag *d);

int ir_build_const_int(IrBuilder *b, DType dt, int64_t v, IrValueId *out, Diag *d);
int ir_build_const_float(IrBuilder *b, DType dt, double v, IrValueId *out, Diag *d);
/* A new block-size slot with range [min, max]: *slot and its int64 value. */
int ir_build_register_block_size(IrBuilder *b, int64_t min, int64_t max, int *slot, IrValueId *out,
                                 Diag *d);
int ir_build_tunable(IrBuilder *b, const char *name, const char *fragment, DType dt, IrValueId *out,
                     Diag *d);
int ir_build_specialize(IrBuilder *b, IrValueId arg, IrScalar value, IrValueId *out, Diag *d);

/* Opens a loop (IR_OP_TILE, IR_OP_GRID, or IR_OP_FOR when lowered) with `ncarried` carried
 * values starting at inits. iters[ndims] gets the iteration values (tiles, or int64 indices),
 * carried[ncarried] the body's view of the carried values. */
int ir_build_loop_begin(IrBuilder *b, IrOpKind kind, int ndims, const IrLoopDim *dims, int ncarried,
                        const IrValueId *inits, IrValueId *iters, IrValueId *carried, Diag *d);
/* Closes the innermost loop: yields[i] is carried value i's next value. A carried value whose
 * yield is its own block argument is loop-invariant and pruned (uses become the init).
 * results[i] gets the loop's final value i (the init when pruned). */
int ir_build_loop_end(IrBuilder *b, int n, const IrValueId *yields, IrValueId *results, Diag *d);

/* Any op of a class with a single result and no region: constants, creation, elementwise,
 * reductions, views, dot, tile fields, program_id. *out gets the result. */
int ir_build_op(IrBuilder *b, IrOpKind kind, int nargs, const IrValueId *args, const IrAttrs *attrs,
                IrValueId *out, Diag *d);
/* Loads and stores: one IrIndex per tensor dim (plus newaxis entries); mask may be IR_NONE. */
int ir_build_load(IrBuilder *b, IrValueId tensor, int nidx, const IrIndex *idx, IrValueId mask,
                  IrEviction eviction, IrValueId *out, Diag *d);
int ir_build_store(IrBuilder *b, IrValueId tensor, int nidx, const IrIndex *idx, IrValueId value,
                   IrValueId mask, Diag *d);
int ir_build_atomic_add(IrBuilder *b, IrValueId tensor, int nidx, const IrIndex *idx,
                        IrValueId value, IrValueId mask, IrAtomicSem sem, IrValueId *out, Diag *d);

/* Replaces every use of `from` by `to` in region r and the regions nested in it. */
void ir_region_replace_uses(IrRegion *r, IrValueId from, IrValueId to);

/* ---- verifier, printer, fingerprint ---------------------------------------------------------- */

/* Checks arity, placement, SSA dominance, dtypes, shapes, loop yields, and which ops and dims
 * the phase allows. The message names the op, the value, its source line and what is wrong. */
int ir_verify(const IrFunc *f, IrPhase phase, Diag *d);

enum {
  IR_PRINT_NO_LOC = 1,  /* leave out "# file:line" */
  IR_PRINT_NO_NAMES = 2 /* number every value, leave out the kernel's name */
};
/* The stable text form; *out is mem_alloc'ed (mem_free it), NUL-terminated, *len its length. */
int ir_print(const IrFunc *f, unsigned flags, char **out, size_t *len, Diag *d);
/* 64-bit FNV-1a of the text form without locations and names: a cache key. */
int ir_fingerprint(const IrFunc *f, uint64_t *out, Diag *d);

/* ---- serialized form (ir_serial.c) ----------------------------------------------------------- */

/* The function as bytes (what the tuner's parent sends a worker process): compact, versioned,
 * little-endian, every pointer as an index. *out is mem_alloc'ed (mem_free it). */
int ir_serialize(const IrFunc *f, unsigned char **out, size_t *len, Diag *d);
/* Reads ir_serialize's bytes back into a new function (free with ir_func_free) and verifies it
 * for `phase`; anything malformed (truncated, another version, an index out of range) is HL_ERR
 * with a message, never a crash. The round trip keeps the text form and the fingerprint. */
int ir_deserialize(const unsigned char *bytes, size_t len, IrPhase phase, IrFunc **out, Diag *d);

/* ---- config-space queries -------------------------------------------------------------------- */

typedef struct IrLoopInfo {
  const IrOp *op;
  IrOpKind kind; /* TILE, GRID or FOR */
  int ndims;
  IrDim block[IR_MAX_RANK];    /* tile: per dim a slot or a fixed size */
  int64_t extent[IR_MAX_RANK]; /* per dim end - begin when constant, else -1 */
  int depth;                   /* 0 = top-level (part of the program grid) */
  int parent;                  /* index of the enclosing loop in this list, -1 at top level */
  int nest;                    /* which top-level nest (0, 1, ...) */
} IrLoopInfo;

typedef struct IrMemOpInfo {
  const IrOp *op;
  IrOpKind kind;          /* LOAD, STORE, ATOMIC_ADD (or the lowered ptr_ ops) */
  bool explicit_eviction; /* a load whose eviction policy the kernel fixed */
  int loop;               /* index of the innermost enclosing loop in ir_func_loops, -1 none */
} IrMemOpInfo;

/* Loops in program order (a loop before the loops nested in it); fills up to cap entries and
 * returns how many there are. */
int ir_func_loops(const IrFunc *f, IrLoopInfo *out, int cap);
/* Loads, stores and atomics in program order (Helion's indexing list: loads then stores is
 * the config space's choice); fills up to cap entries, returns the count. */
int ir_func_memops(const IrFunc *f, IrMemOpInfo *out, int cap);

#endif
