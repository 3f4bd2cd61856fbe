/* Helpers for the lowering tests: building kernels through the IR builder in a few lines,
 * compiling them for a config, running them on host tensors, and comparing with the host
 * reference. Part of tests/unit (test_lower*.c). Every helper fails the test on error. */
#ifndef HELUA_TESTS_LOWER_TEST_UTIL_H
#define HELUA_TESTS_LOWER_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "ir/ir.h"
#include "lower/lower.h"
#include "rt/cpu/rt_cpu.h"
#include "tensor/tensor.h"

#define TKCHECK(call)                                                                              \
  do {                                                                                             \
    Diag d_;                                                                                       \
    diag_clear(&d_);                                                                               \
    if ((call) != HL_OK) fail_msg("%s:%d: %s failed: %s", __FILE__, __LINE__, #call, d_.msg);      \
  } while (0)
#define D_ (&d_)

typedef struct TK {
  IrBuilder *b;
  int file;
} TK;

static inline TK tk_new(const char *name) {
  TK k = {0};
  TKCHECK(ir_builder_new(name, &k.b, D_));
  TKCHECK(ir_build_file(k.b, "test.lua", &k.file, D_));
  ir_build_loc(k.b, k.file, 1);
  return k;
}

static inline void tk_line(TK *k, int line) {
  ir_build_loc(k->b, k->file, line);
}

static inline IrFunc *tk_finish(TK *k) {
  IrFunc *f = NULL;
  TKCHECK(ir_builder_finish(k->b, &f, D_));
  ir_builder_free(k->b);
  k->b = NULL;
  return f;
}

/* A tensor argument shaped (sizes and strides) like t. */
static inline IrValueId tk_tensor(TK *k, const char *name, const Tensor *t) {
  IrValueId v;
  TKCHECK(ir_build_arg_tensor(k->b, name, t->dtype, t->ndim, t->sizes, t->strides, &v, D_));
  return v;
}

static inline IrValueId tk_scalar(TK *k, const char *name, DType dt) {
  IrValueId v;
  TKCHECK(ir_build_arg_scalar(k->b, name, dt, &v, D_));
  return v;
}

static inline IrValueId tk_i(TK *k, int64_t c) {
  IrValueId v;
  TKCHECK(ir_build_const_int(k->b, DT_INT64, c, &v, D_));
  return v;
}

static inline IrValueId tk_f(TK *k, DType dt, double c) {
  IrValueId v;
  TKCHECK(ir_build_const_float(k->b, dt, c, &v, D_));
  return v;
}

/* Opens a tile (or grid) loop over [begins[i], ends[i]) with ncar carried values. `blocks[i]`:
 * 0 = a new slot, > 0 fixed, < 0 the registered slot -blocks[i] - 1. */
static inline void tk_loop(TK *k, IrOpKind kind, int n, const IrValueId *begins,
                           const IrValueId *ends, const int64_t *blocks, int ncar,
                           const IrValueId *inits, IrValueId *iters, IrValueId *carried) {
  IrLoopDim dims[IR_MAX_RANK];
  for (int i = 0; i < n; i++) {
    IrLoopDim ld = IR_LOOP_DIM_INIT;
    ld.begin = begins[i];
    ld.end = ends[i];
    if (blocks && blocks[i] > 0) ld.block_size = blocks[i];
    if (blocks && blocks[i] < 0) ld.slot = (int)(-blocks[i] - 1);
    dims[i] = ld;
  }
  TKCHECK(ir_build_loop_begin(k->b, kind, n, dims, ncar, inits, iters, carried, D_));
}

/* A tile loop over [0, ends[i]) per dim, new slots, nothing carried. */
static inline void tk_tile(TK *k, int n, const int64_t *ends, IrValueId *tiles) {
  IrValueId b[IR_MAX_RANK], e[IR_MAX_RANK];
  for (int i = 0; i < n; i++) {
    b[i] = tk_i(k, 0);
    e[i] = tk_i(k, ends[i]);
  }
  tk_loop(k, IR_OP_TILE, n, b, e, NULL, 0, NULL, tiles, NULL);
}

static inline void tk_end(TK *k, int n, const IrValueId *yields, IrValueId *results) {
  TKCHECK(ir_build_loop_end(k->b, n, yields, results, D_));
}

#define TI(v) ((IrIndex){IR_IDX_TILE, (v)})
#define SL    ((IrIndex){IR_IDX_SLICE, IR_NONE})
#define SC(v) ((IrIndex){IR_IDX_SCALAR, (v)})
#define NA    ((IrIndex){IR_IDX_NEWAXIS, IR_NONE})
#define GA(v) ((IrIndex){IR_IDX_GATHER, (v)})

static inline IrValueId tk_load(TK *k, IrValueId t, int n, const IrIndex *idx, IrValueId mask) {
  IrValueId v;
  TKCHECK(ir_build_load(k->b, t, n, idx, mask, IR_EVICT_NONE, &v, D_));
  return v;
}

static inline void tk_store(TK *k, IrValueId t, int n, const IrIndex *idx, IrValueId v,
                            IrValueId mask) {
  TKCHECK(ir_build_store(k->b, t, n, idx, v, mask, D_));
}

static inline IrValueId tk_atomic(TK *k, IrValueId t, int n, const IrIndex *idx, IrValueId v,
                                  IrValueId mask) {
  IrValueId r;
  TKCHECK(ir_build_atomic_add(k->b, t, n, idx, v, mask, IR_SEM_RELAXED, &r, D_));
  return r;
}

static inline IrValueId tk_op(TK *k, IrOpKind kind, int nargs, const IrValueId *args,
                              const IrAttrs *a) {
  IrValueId v = IR_NONE;
  TKCHECK(ir_build_op(k->b, kind, nargs, args, a, &v, D_));
  return v;
}

static inline IrValueId tk_1(TK *k, IrOpKind kind, IrValueId x) {
  return tk_op(k, kind, 1, &x, NULL);
}

static inline IrValueId tk_2(TK *k, IrOpKind kind, IrValueId x, IrValueId y) {
  IrValueId a[2] = {x, y};
  return tk_op(k, kind, 2, a, NULL);
}

static inline IrValueId tk_cast(TK *k, IrValueId x, DType dt) {
  IrAttrs a = IR_ATTRS_INIT;
  a.dtype = dt;
  return tk_op(k, IR_OP_CAST, 1, &x, &a);
}

static inline IrValueId tk_reduce(TK *k, IrOpKind kind, IrValueId x, int dim, bool keepdim) {
  IrAttrs a = IR_ATTRS_INIT;
  a.dim = dim;
  a.keepdim = keepdim;
  return tk_op(k, kind, 1, &x, &a);
}

/* A full value of the shape of `like` (its dims) and dtype dt. */
static inline IrValueId tk_full(TK *k, const IrShape *shape, DType dt, double v) {
  IrAttrs a = IR_ATTRS_INIT;
  a.dtype = dt;
  a.shape = *shape;
  a.value.is_float = true;
  a.value.f = v;
  return tk_op(k, IR_OP_FULL, 0, NULL, &a);
}

static inline const IrShape *tk_shape(TK *k, IrValueId v) {
  return &ir_value(ir_builder_func(k->b), v)->shape;
}

/* ---- configs ------------------------------------------------------------------------------- */

static inline LowerConfig cfg_blocks(int n, const int64_t *bs) {
  LowerConfig c;
  lower_config_init(&c);
  c.nblock_sizes = n;
  for (int i = 0; i < n; i++)
    c.block_sizes[i] = bs[i];
  return c;
}

#define CFG_BS(...)                                                                                \
  cfg_blocks((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

/* ---- running ------------------------------------------------------------------------------- */

/* Compiles f for cfg and runs it once. args[i]: the tensor for a tensor argument; scalars[i] the
 * value of a scalar one (scalars may be NULL when there are none). */
static inline void tk_run(const IrFunc *f, const LowerConfig *cfg, Tensor **args,
                          const double *scalars) {
  LowerArtifact *a = NULL;
  RtCpuKernel *rk = NULL;
  TKCHECK(lower_compile(f, cfg, LOWER_TARGET_CPU, &a, D_));
  TKCHECK(rt_cpu_load(a->object, a->object_len, a->program_sym, a->grid_sym, &rk, D_));
  void *ptrs[64];
  union {
    double f;
    int64_t i;
  } slots[64];
  for (int i = 0; i < f->nargs; i++) {
    const IrValue *v = ir_value(f, f->args[i]);
    if (v->kind == IR_VAL_TENSOR) {
      ptrs[i] = tensor_data(args[i]);
    } else {
      if (ir_dtype_is_float(v->dtype))
        slots[i].f = scalars[i];
      else
        slots[i].i = (int64_t)scalars[i];
      ptrs[i] = &slots[i];
    }
  }
  TKCHECK(rt_cpu_launch(rk, ptrs, lower_artifact_threads(a), a->frame_bytes, NULL, D_));
  rt_cpu_free(rk);
  lower_artifact_free(a);
}

/* The compile error of f under cfg (the test fails if it compiles). */
static inline void tk_compile_error(const IrFunc *f, const LowerConfig *cfg, const char *expect) {
  LowerArtifact *a = NULL;
  Diag d;
  diag_clear(&d);
  if (lower_compile(f, cfg, LOWER_TARGET_CPU, &a, &d) == HL_OK) {
    lower_artifact_free(a);
    fail_msg("expected a compile error containing \"%s\"", expect);
  }
  if (!strstr(d.msg, expect)) fail_msg("error \"%s\" does not contain \"%s\"", d.msg, expect);
}

static inline void tk_expect_close(const Tensor *got, const Tensor *want, double rtol, double atol,
                                   const char *what) {
  bool ok = false;
  TKCHECK(tensor_allclose(got, want, rtol, atol, &ok, D_));
  if (!ok) {
    double err = 0;
    TKCHECK(tensor_max_abs_err(got, want, &err, D_));
    fail_msg("%s: not close to the reference (max abs err %g)", what, err);
  }
}

static inline Tensor *tk_randn(const int64_t *sizes, int n, DType dt, uint64_t seed) {
  Tensor *t = NULL;
  TKCHECK(tensor_randn(sizes, n, dt, seed, &t, D_));
  return t;
}

static inline Tensor *tk_zeros(const int64_t *sizes, int n, DType dt) {
  Tensor *t = NULL;
  TKCHECK(tensor_zeros(sizes, n, dt, &t, D_));
  return t;
}

/* A non-contiguous tensor with t's values: the transpose of a contiguous transposed copy. */
static inline Tensor *tk_strided(const Tensor *t) {
  Tensor *tr = NULL, *c = NULL, *out = NULL;
  TKCHECK(tensor_transpose(t, -2, -1, &tr, D_));
  TKCHECK(tensor_contiguous(tr, &c, D_));
  TKCHECK(tensor_transpose(c, -2, -1, &out, D_));
  tensor_free(tr);
  tensor_free(c);
  return out;
}

#define SIZES(...)                                                                                 \
  ((const int64_t[]){__VA_ARGS__}), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))

/* Kernels built with the C builder in test_ir_kernels.c. */
int ir_test_build_add(IrFunc **out, Diag *d);
int ir_test_build_softmax(IrFunc **out, Diag *d);
int ir_test_build_matmul(IrFunc **out, Diag *d);
int ir_test_build_sink(IrFunc **out, Diag *d);

/* Leak check around each test: live allocations after the test equal those before it. */
static long lower_test_live_at_start;

static inline int setup(void **state) {
  (void)state;
  lower_test_live_at_start = mem_live_count();
  return 0;
}

static inline int teardown(void **state) {
  (void)state;
  assert_int_equal(mem_live_count(), lower_test_live_at_start);
  return 0;
}

static inline void free_all(Tensor **ts, int n) {
  for (int i = 0; i < n; i++)
    tensor_free(ts[i]);
}

#endif
