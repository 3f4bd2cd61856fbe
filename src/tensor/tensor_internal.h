/* Host tensors, internal: conversion loops and the strided row iterator shared by the phases.
 * Part of src/tensor (host tensors); not included outside src/tensor. */
#ifndef HELUA_TENSOR_INTERNAL_H
#define HELUA_TENSOR_INTERNAL_H

#include "tensor/tensor.h"

/* Elements per chunk when an op converts operands into double/int64 scratch buffers. */
#define TENSOR_CHUNK 512
#define TITER_MAX_OPS 4

/* Strided conversion loops; strides in bytes (0 repeats one element). */
void tensor_load_f64(double *dst, const char *src, DType dt, int64_t stride, int64_t n);
void tensor_load_i64(int64_t *dst, const char *src, DType dt, int64_t stride, int64_t n);
void tensor_store_f64(char *dst, DType dt, int64_t stride, const double *src, int64_t n);
void tensor_store_i64(char *dst, DType dt, int64_t stride, const int64_t *src, int64_t n);
double tensor_read_f64(const char *p, DType dt);
int64_t tensor_read_i64(const char *p, DType dt);
void tensor_write_f64(char *p, DType dt, double v);
void tensor_write_i64(char *p, DType dt, int64_t v);
int64_t tensor_f64_to_i64_sat(double x); /* C cast toward zero, NaN -> 0, saturating */

/* Walks a shape's elements row by row for up to TITER_MAX_OPS operands, each broadcast to the
 * shape (right-aligned sizes equal or 1). Dims are coalesced where every operand allows. */
typedef struct TensorIter {
  int ndim; /* >= 1 after init */
  int64_t sizes[TENSOR_MAX_DIMS];
  int nops;
  int64_t strides[TITER_MAX_OPS][TENSOR_MAX_DIMS]; /* bytes */
  char *base[TITER_MAX_OPS];
  DType dtypes[TITER_MAX_OPS];
} TensorIter;

void tensor_iter_init(TensorIter *it, const int64_t *sizes, int ndim, const Tensor *const *ops,
                      int nops);
/* Calls row(ptrs, inner byte strides, n, ctx) for each innermost row; stops at a nonzero return
 * and returns it. */
typedef int (*TensorRowFn)(char **ptrs, const int64_t *strides, int64_t n, void *ctx);
int tensor_iter_rows(const TensorIter *it, TensorRowFn row, void *ctx);

/* A new Tensor struct (storage-less) copying t's view; for building views. */
int tensor_alloc_header(const Tensor *t, Tensor **out, Diag *d);
/* A contiguous tensor of dtype dt with t's values: shares t's storage when t already is one,
 * else a converted copy. out is always a new handle. */
int tensor_as_contig(const Tensor *t, DType dt, Tensor **out, Diag *d);

#endif
