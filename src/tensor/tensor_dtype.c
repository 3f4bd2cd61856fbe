/* Tensor dtypes: names, sizes, torch's promotion table, half/bfloat16 conversion, and the
 * strided load/store loops (any dtype <-> double or int64 buffers) the other phases compute with.
 * Part of src/tensor (host tensors). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tensor/tensor_internal.h"

static const char *const dtype_names[DT_COUNT] = {
    "float64", "float32", "float16", "bfloat16", "int64",
    "int32",   "int16",   "int8",    "uint8",    "bool"};
static const size_t dtype_sizes[DT_COUNT] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};

const char *tensor_dtype_name(DType dt) {
  return (unsigned)dt < DT_COUNT ? dtype_names[dt] : "?";
}

size_t tensor_dtype_size(DType dt) { return (unsigned)dt < DT_COUNT ? dtype_sizes[dt] : 0; }

bool tensor_dtype_is_float(DType dt) { return dt <= DT_BFLOAT16; }

bool tensor_dtype_is_int(DType dt) { return dt >= DT_INT64 && dt <= DT_UINT8; }

int tensor_dtype_from_name(const char *name, DType *out, Diag *d) {
  for (int i = 0; i < DT_COUNT; i++) {
    if (name && strcmp(name, dtype_names[i]) == 0) {
      *out = (DType)i;
      return HL_OK;
    }
  }
  char known[256] = "";
  for (int i = 0; i < DT_COUNT; i++) {
    strcat(known, dtype_names[i]);
    if (i + 1 < DT_COUNT) strcat(known, ", ");
  }
  return diag_set(d, "unknown dtype '%s' (known: %s)", name ? name : "(null)", known);
}

/* Rank of each integer type by width, and whether it is signed. */
static int int_bits(DType t) {
  switch (t) {
  case DT_INT64: return 64;
  case DT_INT32: return 32;
  case DT_INT16: return 16;
  case DT_INT8: case DT_UINT8: return 8;
  default: return 0;
  }
}

DType tensor_dtype_promote(DType a, DType b) {
  if (a == b) return a;
  if (a == DT_BOOL) return b;
  if (b == DT_BOOL) return a;
  bool fa = tensor_dtype_is_float(a), fb = tensor_dtype_is_float(b);
  if (fa && !fb) return a;
  if (fb && !fa) return b;
  if (fa && fb) {
    if (a == DT_FLOAT64 || b == DT_FLOAT64) return DT_FLOAT64;
    return DT_FLOAT32; /* f32 with f16/bf16, or f16 with bf16 */
  }
  /* two different integer types */
  if (a == DT_UINT8 || b == DT_UINT8) {
    DType other = a == DT_UINT8 ? b : a;
    return other == DT_INT8 ? DT_INT16 : other;
  }
  return int_bits(a) >= int_bits(b) ? a : b;
}

/* ---- half / bfloat16 ----------------------------------------------------------------------- */

/* Rounds a double to a binary format with `mbits` mantissa bits and exponent bias `bias`,
 * round-to-nearest-even, subnormals included, overflow to Inf. Returns the 16-bit pattern. */
static uint16_t f64_to_small(double x, int mbits, int bias) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  uint16_t sign = (uint16_t)((b >> 48) & 0x8000);
  uint64_t ab = b & 0x7fffffffffffffffULL;
  uint16_t exp_all = (uint16_t)(((1u << (15 - mbits)) - 1) << mbits);
  if (ab >= 0x7ff0000000000000ULL) {
    if (ab == 0x7ff0000000000000ULL) return sign | exp_all;
    uint16_t payload = (uint16_t)((ab >> (52 - mbits)) & ((1u << mbits) - 1));
    return sign | exp_all | (uint16_t)(1u << (mbits - 1)) | payload; /* quiet NaN */
  }
  int e = (int)(ab >> 52) - 1023;
  int emin = 1 - bias;
  if (e > bias) return sign | exp_all;
  if (e < emin - mbits - 1) return sign; /* below half the smallest subnormal: zero */
  uint64_t m = (ab & 0xfffffffffffffULL) | (1ULL << 52);
  int shift = 52 - mbits + (e < emin ? emin - e : 0);
  uint64_t q = m >> shift;
  uint64_t rem = m & ((1ULL << shift) - 1), half = 1ULL << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) q++;
  if (e < emin) return sign | (uint16_t)q; /* subnormal; a carry into 1<<mbits is the min normal */
  /* q holds the implicit bit; adding it to (e+bias-1) carries into the exponent when needed. */
  uint32_t h = ((uint32_t)(e + bias - 1) << mbits) + (uint32_t)q;
  if (h >= exp_all) return sign | exp_all;
  return sign | (uint16_t)h;
}

static double small_to_f64(uint16_t h, int mbits, int bias) {
  int ebits = 15 - mbits;
  uint32_t e = (h >> mbits) & ((1u << ebits) - 1), m = h & ((1u << mbits) - 1);
  double v;
  if (e == 0) {
    v = ldexp((double)m, 1 - bias - mbits);
  } else if (e == (1u << ebits) - 1) {
    if (m == 0) {
      v = INFINITY;
    } else {
      /* keep the payload: build the double's bits directly */
      uint64_t bits = 0x7ff8000000000000ULL | ((uint64_t)m << (52 - mbits));
      memcpy(&v, &bits, sizeof v);
    }
  } else {
    v = ldexp((double)(m | (1u << mbits)), (int)e - bias - mbits);
  }
  return (h & 0x8000) ? -v : v;
}

uint16_t tensor_f64_to_f16(double x) { return f64_to_small(x, 10, 15); }
uint16_t tensor_f32_to_f16(float x) { return f64_to_small((double)x, 10, 15); }
float tensor_f16_to_f32(uint16_t h) { return (float)small_to_f64(h, 10, 15); }
uint16_t tensor_f64_to_bf16(double x) { return f64_to_small(x, 7, 127); }

uint16_t tensor_f32_to_bf16(float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40); /* quiet NaN */
  b += 0x7fffu + ((b >> 16) & 1u);
  return (uint16_t)(b >> 16);
}

float tensor_bf16_to_f32(uint16_t h) {
  uint32_t b = (uint32_t)h << 16;
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

/* Fast decode used in the load loops (exact). */
static inline double f16_to_f64(uint16_t h) { return small_to_f64(h, 10, 15); }
static inline double bf16_to_f64(uint16_t h) { return (double)tensor_bf16_to_f32(h); }

/* ---- scalar conversions -------------------------------------------------------------------- */

int64_t tensor_f64_to_i64_sat(double x) {
  if (x != x) return 0;
  if (x >= 9223372036854775807.0) return INT64_MAX;
  if (x <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)x;
}

/* ---- strided buffer loops ------------------------------------------------------------------ */

#define LOAD_LOOP(T, EXPR)                                   \
  for (int64_t i = 0; i < n; i++) {                          \
    T v;                                                     \
    memcpy(&v, src + i * stride, sizeof v);                  \
    dst[i] = (EXPR);                                         \
  }                                                          \
  break;

void tensor_load_f64(double *dst, const char *src, DType dt, int64_t stride, int64_t n) {
  switch (dt) {
  case DT_FLOAT64: LOAD_LOOP(double, v)
  case DT_FLOAT32: LOAD_LOOP(float, (double)v)
  case DT_FLOAT16: LOAD_LOOP(uint16_t, f16_to_f64(v))
  case DT_BFLOAT16: LOAD_LOOP(uint16_t, bf16_to_f64(v))
  case DT_INT64: LOAD_LOOP(int64_t, (double)v)
  case DT_INT32: LOAD_LOOP(int32_t, (double)v)
  case DT_INT16: LOAD_LOOP(int16_t, (double)v)
  case DT_INT8: LOAD_LOOP(int8_t, (double)v)
  case DT_UINT8: LOAD_LOOP(uint8_t, (double)v)
  case DT_BOOL: LOAD_LOOP(uint8_t, v ? 1.0 : 0.0)
  default: break;
  }
}

void tensor_load_i64(int64_t *dst, const char *src, DType dt, int64_t stride, int64_t n) {
  switch (dt) {
  case DT_FLOAT64: LOAD_LOOP(double, tensor_f64_to_i64_sat(v))
  case DT_FLOAT32: LOAD_LOOP(float, tensor_f64_to_i64_sat(v))
  case DT_FLOAT16: LOAD_LOOP(uint16_t, tensor_f64_to_i64_sat(f16_to_f64(v)))
  case DT_BFLOAT16: LOAD_LOOP(uint16_t, tensor_f64_to_i64_sat(bf16_to_f64(v)))
  case DT_INT64: LOAD_LOOP(int64_t, v)
  case DT_INT32: LOAD_LOOP(int32_t, v)
  case DT_INT16: LOAD_LOOP(int16_t, v)
  case DT_INT8: LOAD_LOOP(int8_t, v)
  case DT_UINT8: LOAD_LOOP(uint8_t, v)
  case DT_BOOL: LOAD_LOOP(uint8_t, v != 0)
  default: break;
  }
}

#define STORE_LOOP(T, EXPR)                                  \
  for (int64_t i = 0; i < n; i++) {                          \
    T v = (T)(EXPR);                                         \
    memcpy(dst + i * stride, &v, sizeof v);                  \
  }                                                          \
  break;

void tensor_store_f64(char *dst, DType dt, int64_t stride, const double *src, int64_t n) {
  switch (dt) {
  case DT_FLOAT64: STORE_LOOP(double, src[i])
  case DT_FLOAT32: STORE_LOOP(float, src[i])
  case DT_FLOAT16: STORE_LOOP(uint16_t, tensor_f64_to_f16(src[i]))
  case DT_BFLOAT16: STORE_LOOP(uint16_t, tensor_f64_to_bf16(src[i]))
  case DT_INT64: STORE_LOOP(int64_t, tensor_f64_to_i64_sat(src[i]))
  case DT_INT32: STORE_LOOP(int32_t, tensor_f64_to_i64_sat(src[i]))
  case DT_INT16: STORE_LOOP(int16_t, tensor_f64_to_i64_sat(src[i]))
  case DT_INT8: STORE_LOOP(int8_t, tensor_f64_to_i64_sat(src[i]))
  case DT_UINT8: STORE_LOOP(uint8_t, tensor_f64_to_i64_sat(src[i]))
  case DT_BOOL: STORE_LOOP(uint8_t, src[i] != 0.0)
  default: break;
  }
}

void tensor_store_i64(char *dst, DType dt, int64_t stride, const int64_t *src, int64_t n) {
  switch (dt) {
  case DT_FLOAT64: STORE_LOOP(double, src[i])
  case DT_FLOAT32: STORE_LOOP(float, src[i])
  case DT_FLOAT16: STORE_LOOP(uint16_t, tensor_f64_to_f16((double)src[i]))
  case DT_BFLOAT16: STORE_LOOP(uint16_t, tensor_f64_to_bf16((double)src[i]))
  case DT_INT64: STORE_LOOP(int64_t, src[i])
  case DT_INT32: STORE_LOOP(int32_t, src[i])
  case DT_INT16: STORE_LOOP(int16_t, src[i])
  case DT_INT8: STORE_LOOP(int8_t, src[i])
  case DT_UINT8: STORE_LOOP(uint8_t, src[i])
  case DT_BOOL: STORE_LOOP(uint8_t, src[i] != 0)
  default: break;
  }
}

double tensor_read_f64(const char *p, DType dt) {
  double v;
  tensor_load_f64(&v, p, dt, 0, 1);
  return v;
}

int64_t tensor_read_i64(const char *p, DType dt) {
  int64_t v;
  tensor_load_i64(&v, p, dt, 0, 1);
  return v;
}

void tensor_write_f64(char *p, DType dt, double v) { tensor_store_f64(p, dt, 0, &v, 1); }
void tensor_write_i64(char *p, DType dt, int64_t v) { tensor_store_i64(p, dt, 0, &v, 1); }
