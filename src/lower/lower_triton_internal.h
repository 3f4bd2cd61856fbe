/* The Triton renderer's shared state and helpers (lower_triton*.c only).
 * Part of src/lower (the "triton" stage: tile IR x cuda Config -> Triton Python text). */
#ifndef HELUA_LOWER_LOWER_TRITON_INTERNAL_H
#define HELUA_LOWER_LOWER_TRITON_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/textbuf.h"
#include "lower/lower_triton.h"

typedef TextBuf TtBuf;

/* One dim of a tile loop as the text names it: offset_<id>, indices_<id>, mask_<id>. */
typedef struct TtTdim {
  char begin[96], end[96], block[48]; /* Python expressions */
  bool pad;                           /* lanes past the loop end are possible */
} TtTdim;

/* static_ranges unrolls a loop fully only up to this many iterations (Triton's static_range unrolls
 * in its Python front end: 5000 iterations took minutes to compile on the H100 machine). */
#define TT_STATIC_MAX 32

typedef struct Tt {
  const IrFunc *f;
  const ConfigSpace *s;
  const int *cfg;
  bool tf32; /* float32 dots: input_precision="tf32" */
  Diag *d;
  bool failed;
  TtBuf out;
  int indent;
  char **name;   /* per value: an identifier or a literal */
  int *tdim;     /* per value: the tile dim of a tile value, -1 */
  TtTdim *tdims; /* per tile dim */
  int ntdims, tdims_cap;
  int64_t *bs;    /* per slot: its block size */
  int *slot_tdim; /* per slot: the innermost enclosing tile dim that uses it, -1 */
  int64_t
      *rsize; /* per rdim: the Triton size (persistent: next pow2 of the extent; looped: chunk) */
  bool *rlooped;  /* per rdim: looped in chunks */
  bool *rwhole;   /* per rdim: the config asked for chunks the form cannot take: held whole */
  bool *deferred; /* per value: carries a looped rdim (made chunk by chunk at each sink) */
  bool *need;     /* per op-result value: marked for the chunk loop being emitted */
  IrLoopInfo *loops;
  int nloops;
  IrMemOpInfo *mems;
  int nmems;
  bool libdevice;
  char notes[1024]; /* header comment lines about knobs rendered differently (static_ranges) */
  int tmp;
} Tt;

/* lower_triton_util.c */
void tt_put(Tt *t, const char *s);
void tt_printf(Tt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One statement at the current indent, ending with "  # file:line" for loc. */
void tt_stmt(Tt *t, IrLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int tt_fail(Tt *t, const IrOp *op, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int tt_fail_loc(Tt *t, IrLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
char *tt_strdup(Tt *t, const char *s);
const char *tt_dtype(DType dt);       /* "tl.float32" */
const char *tt_torch_dtype(DType dt); /* "torch.float32" */
bool tt_is_half(DType dt);
int64_t tt_pow2(int64_t n); /* the next power of two >= n (1 for n <= 1) */
void tt_double(double x, char *buf, size_t cap);
/* A dim as the text writes it: _BLOCK_SIZE_n, _RDIM_SIZE_n / _REDUCTION_BLOCK_n, a literal. */
void tt_dim(Tt *t, IrDim dim, char *buf, size_t cap);
void tt_shape(Tt *t, const IrShape *s, char *buf, size_t cap); /* "[_BLOCK_SIZE_0, 64]" */
/* The lane-validity mask of a dim ("mask_0", "rmask_1", ...) into buf, or false when every lane
 * of the dim is valid. */
bool tt_dim_mask(Tt *t, IrDim dim, char *buf, size_t cap);
/* expr indexed to sit at position pos of rank dims: "x[:, None]"; rank 1 leaves it. */
void tt_bcast(const char *expr, int pos, int rank, char *buf, size_t cap);
/* An operand as a tensor expression (a literal becomes tl.full([], v, dtype)). */
const char *tt_tensor(Tt *t, IrValueId v, char *buf, size_t cap);
const IrValue *tt_val(Tt *t, IrValueId v);
/* Folds an int64 host scalar (const, specialize, tunable, register_block_size, + - * //). */
bool tt_fold_int(Tt *t, IrValueId v, int64_t *out);

/* lower_triton_ops.c */
int tt_emit_op(Tt *t, const IrOp *op);  /* one non-loop op (deferred ones are skipped) */
bool tt_is_sink(Tt *t, const IrOp *op); /* a consumer that removes a looped rdim */
int tt_analyze_rdims(Tt *t);            /* rlooped / rwhole / deferred */

/* lower_triton_mem.c */
int tt_emit_load(Tt *t, const IrOp *op);
int tt_emit_store(Tt *t, const IrOp *op); /* store and atomic_add */

/* lower_triton.c: names, loops */
typedef struct Knobs {
  int multi, l2, inner, stat; /* this loop's element of each list, -1 when it has none */
} Knobs;
int tt_name_values(Tt *t);
Knobs tt_knobs_of(Tt *t, const IrOp *op);
void tt_order_of(Tt *t, const IrOp *op, Knobs k, int *perm); /* perm[0] outermost */
void tt_block_text(Tt *t, IrDim b, char *buf, size_t cap);
int64_t tt_block_value(Tt *t, IrDim b);
int tt_open_tdim(Tt *t, const IrOp *op, int k, int *saved_slot); /* its number, -1 on OOM */
void tt_close_tdim(Tt *t, const IrOp *op, int k, int saved);
void tt_tdim_lanes(Tt *t, IrLoc loc, int id); /* indices_k and mask_k */
int tt_check_block(Tt *t, const IrOp *op, int k);
int tt_emit_region(Tt *t, const IrRegion *r);

/* lower_triton_program.c */
int tt_render(Tt *t); /* the whole module into t->out */

#endif
