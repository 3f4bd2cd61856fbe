/* Host tensors: dtypes, refcounted storage, strided views, elementwise/reduction/NN reference ops.
 * Part of src/tensor (host tensors); the Lua surface is src/bind/bind_tensor.c.
 *
 * Conventions: every dim and index here is 0-based (the binding converts from Lua's 1-based);
 * a dim may be negative and then counts from the end (-1 = last). Every function that can fail
 * returns HL_OK / HL_ERR and fills the Diag; results come back through `Tensor **out`, which is
 * written only on success. A Tensor is owned by whoever received it and released with tensor_free. */
#ifndef HELUA_TENSOR_TENSOR_H
#define HELUA_TENSOR_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"

/* ---- dtypes ------------------------------------------------------------------------------ */

typedef enum DType {
  DT_FLOAT64, DT_FLOAT32, DT_FLOAT16, DT_BFLOAT16,
  DT_INT64, DT_INT32, DT_INT16, DT_INT8, DT_UINT8, DT_BOOL,
  DT_COUNT
} DType;

const char *tensor_dtype_name(DType dt);                 /* "float32", ... */
int tensor_dtype_from_name(const char *name, DType *out, Diag *d); /* lists the known names */
size_t tensor_dtype_size(DType dt);
bool tensor_dtype_is_float(DType dt);
bool tensor_dtype_is_int(DType dt);                      /* integer types, not bool */
/* torch.promote_types: float beats int, wider wins, f16+bf16 -> f32, uint8+int8 -> int16. */
DType tensor_dtype_promote(DType a, DType b);

/* Half-precision conversion, round-to-nearest-even, NaN/Inf kept, overflow to Inf. */
uint16_t tensor_f32_to_f16(float x);
uint16_t tensor_f64_to_f16(double x); /* rounds once, directly from double */
float tensor_f16_to_f32(uint16_t h);
uint16_t tensor_f32_to_bf16(float x);
uint16_t tensor_f64_to_bf16(double x);
float tensor_bf16_to_f32(uint16_t h);

/* ---- storage ----------------------------------------------------------------------------- */

typedef enum TensorDevice { TENSOR_DEVICE_CPU, TENSOR_DEVICE_CUDA } TensorDevice;

/* How one device allocates and moves bytes; src/rt/cuda has the CUDA tables. Only storage of
 * device TENSOR_DEVICE_CPU may be read by the host ops; `data` of other devices is an address
 * in that device's memory. */
typedef struct StorageOps {
  const char *name; /* "cpu", "cuda" */
  TensorDevice device;
  void *(*alloc)(size_t nbytes, void *ctx, Diag *d); /* NULL on failure, with d filled */
  void (*free)(void *ptr, void *ctx);
  int (*copy_to_host)(void *host, const void *dev, size_t nbytes, void *ctx, Diag *d);
  int (*copy_from_host)(void *dev, const void *host, size_t nbytes, void *ctx, Diag *d);
} StorageOps;

typedef struct Storage {
  long refcount; /* atomic */
  const StorageOps *ops;
  void *ctx;
  void *data; /* 64-byte aligned on the CPU */
  size_t nbytes;
} Storage;

extern const StorageOps tensor_cpu_storage_ops;
int tensor_storage_new(const StorageOps *ops, void *ctx, size_t nbytes, Storage **out, Diag *d);
void tensor_storage_retain(Storage *s);
void tensor_storage_release(Storage *s); /* frees at refcount 0; NULL is fine */

/* ---- tensors ----------------------------------------------------------------------------- */

#define TENSOR_MAX_DIMS 8

typedef struct Tensor {
  DType dtype;
  int ndim;                          /* 0..TENSOR_MAX_DIMS; 0-d tensors hold one element */
  int64_t sizes[TENSOR_MAX_DIMS];
  int64_t strides[TENSOR_MAX_DIMS];  /* in elements; 0 for expanded dims */
  int64_t offset;                    /* in elements, into storage */
  Storage *storage;
  bool wrapped_number;               /* a Lua/C scalar: promotes weakly, like torch's */
} Tensor;

void tensor_free(Tensor *t); /* releases the storage reference; NULL is fine */
int64_t tensor_numel(const Tensor *t);
bool tensor_is_contiguous(const Tensor *t);
void *tensor_data(const Tensor *t); /* host address of the first element (CPU storage) */
/* Normalizes a dim (negative counts from the end) against ndim; error names dim and range. */
int tensor_dim_check(int ndim, int dim, int *out, Diag *d);
/* "[2, 3]" into buf (for messages). Returns buf. */
const char *tensor_shape_str(const int64_t *sizes, int ndim, char *buf, size_t cap);

/* Creation. sizes may be NULL when ndim == 0. */
int tensor_empty(const int64_t *sizes, int ndim, DType dt, Tensor **out, Diag *d);
/* tensor_empty with storage from ops (tensor_empty uses tensor_cpu_storage_ops). */
int tensor_empty_on(const StorageOps *ops, void *ctx, const int64_t *sizes, int ndim, DType dt,
                    Tensor **out, Diag *d);
int tensor_zeros(const int64_t *sizes, int ndim, DType dt, Tensor **out, Diag *d);
int tensor_ones(const int64_t *sizes, int ndim, DType dt, Tensor **out, Diag *d);
int tensor_full(const int64_t *sizes, int ndim, double value, DType dt, Tensor **out, Diag *d);
int tensor_full_i64(const int64_t *sizes, int ndim, int64_t value, DType dt, Tensor **out,
                    Diag *d);
/* start, start+step, ... while <= stop (>= for negative step): inclusive, like Lua's for. */
int tensor_arange(double start, double stop, double step, DType dt, Tensor **out, Diag *d);
/* Copies numel elements of src_dt from buf, converting to dt. */
int tensor_from_buffer(const void *buf, DType src_dt, const int64_t *sizes, int ndim, DType dt,
                       Tensor **out, Diag *d);
/* 0-d "wrapped number" tensors (float64 / int64 / bool) for scalars in elementwise ops. */
int tensor_scalar_f64(double v, Tensor **out, Diag *d);
int tensor_scalar_i64(int64_t v, Tensor **out, Diag *d);
int tensor_scalar_bool(bool v, Tensor **out, Diag *d);
/* Seeded, counter-based (Philox4x32-10 on the element index): bit-identical on every machine. */
int tensor_rand(const int64_t *sizes, int ndim, DType dt, uint64_t seed, Tensor **out, Diag *d);
int tensor_randn(const int64_t *sizes, int ndim, DType dt, uint64_t seed, Tensor **out, Diag *d);

/* Element access by 0-based index (ndim entries). Values convert like a C cast. */
int tensor_get_f64(const Tensor *t, const int64_t *idx, double *out, Diag *d);
int tensor_get_i64(const Tensor *t, const int64_t *idx, int64_t *out, Diag *d);
int tensor_set_f64(Tensor *t, const int64_t *idx, double v, Diag *d);
int tensor_set_i64(Tensor *t, const int64_t *idx, int64_t v, Diag *d);

/* Copies: dst[...] = src broadcast to dst's shape, cast to dst's dtype. */
int tensor_copy_(Tensor *dst, const Tensor *src, Diag *d);
int tensor_fill_(Tensor *t, double v, Diag *d);
int tensor_fill_i64_(Tensor *t, int64_t v, Diag *d);
int tensor_clone(const Tensor *t, Tensor **out, Diag *d);      /* contiguous copy */
int tensor_contiguous(const Tensor *t, Tensor **out, Diag *d); /* shares storage if contiguous */
int tensor_cast(const Tensor *t, DType dt, Tensor **out, Diag *d); /* always a new tensor */

/* Views (share storage). */
int tensor_view_alias(const Tensor *t, Tensor **out, Diag *d); /* same view, new handle */
int tensor_transpose(const Tensor *t, int d0, int d1, Tensor **out, Diag *d);
int tensor_permute(const Tensor *t, const int *dims, int n, Tensor **out, Diag *d);
/* Elements first, first+step, ... < end (0-based, end exclusive, clamped like Python). */
int tensor_slice(const Tensor *t, int dim, int64_t first, int64_t end, int64_t step,
                 Tensor **out, Diag *d);
int tensor_narrow(const Tensor *t, int dim, int64_t start, int64_t len, Tensor **out, Diag *d);
/* sizes[i] == -1 keeps the existing size; extra leading dims are new (stride 0). */
int tensor_expand(const Tensor *t, const int64_t *sizes, int n, Tensor **out, Diag *d);
int tensor_unsqueeze(const Tensor *t, int dim, Tensor **out, Diag *d); /* dim in [-n-1, n] */
int tensor_squeeze(const Tensor *t, int dim, bool all, Tensor **out, Diag *d);
/* One size may be -1 (inferred). view errors when strides don't allow it; reshape copies. */
int tensor_view(const Tensor *t, const int64_t *sizes, int n, Tensor **out, Diag *d);
int tensor_reshape(const Tensor *t, const int64_t *sizes, int n, Tensor **out, Diag *d);
/* Broadcast shape of two shapes (NumPy rules); error names both shapes. */
int tensor_broadcast_shape(const int64_t *a, int na, const int64_t *b, int nb, int64_t *out,
                           int *nout, Diag *d);

/* ---- elementwise ------------------------------------------------------------------------- */

/* X(enum, name): the binary ops. */
#define TENSOR_BINOPS(X)                                                                  \
  X(TENSOR_ADD, "add") X(TENSOR_SUB, "sub") X(TENSOR_MUL, "mul") X(TENSOR_DIV, "div")     \
  X(TENSOR_POW, "pow") X(TENSOR_MOD, "mod") X(TENSOR_FLOORDIV, "floordiv")               \
  X(TENSOR_MAXIMUM, "maximum") X(TENSOR_MINIMUM, "minimum")                              \
  X(TENSOR_LT, "lt") X(TENSOR_LE, "le") X(TENSOR_GT, "gt") X(TENSOR_GE, "ge")            \
  X(TENSOR_EQ, "eq") X(TENSOR_NE, "ne")                                                  \
  X(TENSOR_LOGICAL_AND, "logical_and") X(TENSOR_LOGICAL_OR, "logical_or")
/* X(enum, name): the unary ops. */
#define TENSOR_UNOPS(X)                                                                   \
  X(TENSOR_NEG, "neg") X(TENSOR_EXP, "exp") X(TENSOR_LOG, "log") X(TENSOR_SQRT, "sqrt")   \
  X(TENSOR_RSQRT, "rsqrt") X(TENSOR_ABS, "abs") X(TENSOR_SIN, "sin") X(TENSOR_COS, "cos") \
  X(TENSOR_TANH, "tanh") X(TENSOR_SIGMOID, "sigmoid") X(TENSOR_RELU, "relu")             \
  X(TENSOR_GELU, "gelu") X(TENSOR_SILU, "silu") X(TENSOR_FLOOR, "floor")                 \
  X(TENSOR_CEIL, "ceil") X(TENSOR_LOGICAL_NOT, "logical_not") X(TENSOR_EXP2, "exp2")        \
  X(TENSOR_LOG2, "log2")

#define TENSOR_ENUM_ITEM(e, name) e,
typedef enum TensorBinOp { TENSOR_BINOPS(TENSOR_ENUM_ITEM) TENSOR_BINOP_COUNT } TensorBinOp;
typedef enum TensorUnOp { TENSOR_UNOPS(TENSOR_ENUM_ITEM) TENSOR_UNOP_COUNT } TensorUnOp;
#undef TENSOR_ENUM_ITEM

const char *tensor_binop_name(TensorBinOp op);
const char *tensor_unop_name(TensorUnOp op);
/* torch.result_type over operands: dimensioned tensors > 0-d tensors > wrapped numbers. */
DType tensor_result_type(const Tensor *const *ops, int n);
/* Broadcasting, torch promotion; comparisons/logical give bool; div of ints gives float32;
 * integer mod/floordiv by zero is an error; mod/floordiv are floored (Lua/Python). */
int tensor_binary(TensorBinOp op, const Tensor *a, const Tensor *b, Tensor **out, Diag *d);
/* Float-only ops (exp, ...) on int/bool give float32; neg/abs/relu/floor/ceil keep ints. */
int tensor_unary(TensorUnOp op, const Tensor *a, Tensor **out, Diag *d);
int tensor_where(const Tensor *cond, const Tensor *a, const Tensor *b, Tensor **out, Diag *d);

/* ---- reductions -------------------------------------------------------------------------- */

typedef enum TensorReduceOp {
  TENSOR_SUM, TENSOR_MEAN, TENSOR_AMAX, TENSOR_AMIN, TENSOR_ARGMAX, TENSOR_ARGMIN
} TensorReduceOp;
#define TENSOR_ALL_DIMS (-1000) /* dim value that reduces every dim */

/* sum: floats accumulate in double (result: input dtype), ints/bool -> int64.
 * mean: float dtype kept, int/bool -> float32. argmax/argmin: int64 indices + index_base,
 * ties -> first, NaN counts as the largest (and as the smallest for argmin), like torch. */
int tensor_reduce(TensorReduceOp op, const Tensor *t, int dim, bool keepdim, int64_t index_base,
                  Tensor **out, Diag *d);

/* ---- NN reference ops (compute in double, return the promoted float dtype) --------------- */

/* 1-D/2-D/batched; batch dims broadcast. Fast blocked f32/f64 kernels, others through f64. */
int tensor_matmul(const Tensor *a, const Tensor *b, Tensor **out, Diag *d);
int tensor_softmax(const Tensor *x, int dim, Tensor **out, Diag *d);
int tensor_log_softmax(const Tensor *x, int dim, Tensor **out, Diag *d);
int tensor_layer_norm(const Tensor *x, const Tensor *w, const Tensor *b, double eps,
                      Tensor **out, Diag *d); /* w, b may be NULL */
int tensor_rms_norm(const Tensor *x, const Tensor *w, double eps, Tensor **out, Diag *d);
/* logits [N, C], labels int [N] holding class ids + label_base; mean loss as a 0-d tensor. */
int tensor_cross_entropy(const Tensor *logits, const Tensor *labels, int64_t label_base,
                         Tensor **out, Diag *d);
/* q [..., Sq, D], k [..., Sk, D], v [..., Sk, Dv]; causal masks j > i (top-left aligned);
 * scale <= 0 means 1/sqrt(D). */
int tensor_attention(const Tensor *q, const Tensor *k, const Tensor *v, bool causal, double scale,
                     Tensor **out, Diag *d);

/* ---- comparisons for checking kernels ---------------------------------------------------- */

/* torch.allclose: |a-b| <= atol + rtol*|b|, NaN never equal, equal infinities equal. */
int tensor_allclose(const Tensor *a, const Tensor *b, double rtol, double atol, bool *out,
                    Diag *d);
int tensor_max_abs_err(const Tensor *a, const Tensor *b, double *out, Diag *d);
int tensor_rel_err(const Tensor *a, const Tensor *b, double *out, Diag *d); /* |a-b|_2/|b|_2 */

/* ---- printing ---------------------------------------------------------------------------- */

/* torch-style text ("tensor([...], dtype=float32)"); *out is mem_alloc'ed, mem_free it. */
int tensor_to_string(const Tensor *t, char **out, Diag *d);

/* ---- tiles (interpret mode) -------------------------------------------------------------- */

typedef enum TileSpecKind { TILE_INDEX, TILE_RANGE, TILE_GATHER } TileSpecKind;
/* One per dim of the tensor. INDEX: `first` (dim dropped; out of range masks everything).
 * RANGE: positions first..first+len-1. GATHER: 1-D int tensor of indices. Positions are in
 * the caller's base (`base` argument: 0 from C, 1 from Lua); out-of-range positions are masked. */
typedef struct TileSpec {
  TileSpecKind kind;
  int64_t first, len;
  const Tensor *index;
} TileSpec;

int tensor_load_tile(const Tensor *t, const TileSpec *specs, int nspecs, int64_t base,
                     double fill, Tensor **out, Diag *d);
/* value broadcast to the region and cast to t's dtype; mask (bool, broadcastable) or NULL. */
int tensor_store_tile(Tensor *t, const TileSpec *specs, int nspecs, int64_t base,
                      const Tensor *value, const Tensor *mask, Diag *d);
int tensor_atomic_add_tile(Tensor *t, const TileSpec *specs, int nspecs, int64_t base,
                           const Tensor *value, const Tensor *mask, Diag *d);

#endif
