/* Seeded random tensors, bit-identical on every run and machine for a (seed, shape, dtype).
 * Part of src/tensor (host tensors). Built with -ffp-contract=off (see meson.build).
 *
 * Element i draws from Philox4x32-10 with counter (i, attempt, stream) and key = seed, so the
 * value depends only on (seed, i), never on threads or call order.
 *  - rand: uniform [0, 1) built from exactly as many random bits as the dtype's significand holds
 *    (53 for float64, 24 float32, 11 float16, 8 bfloat16), so it never rounds up to 1.
 *  - randn: Marsaglia's polar method (rejection in the unit disc, one Philox block per attempt).
 *    It needs only +, *, /, sqrt (all correctly rounded in IEEE 754) and a log, which is computed
 *    here from those operations alone rather than by the C library's log, so libm differences
 *    cannot change a single bit. The double result is then rounded to the dtype. */
#include <string.h>

#include "tensor/tensor_internal.h"


static void philox4x32_10(uint32_t ctr[4], uint64_t seed) {
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int r = 0; r < 10; r++) {
    uint64_t p0 = (uint64_t)0xD2511F53u * ctr[0], p1 = (uint64_t)0xCD9E8D57u * ctr[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ ctr[1] ^ k0, n2 = hi0 ^ ctr[3] ^ k1;
    ctr[0] = n0;
    ctr[1] = lo1;
    ctr[2] = n2;
    ctr[3] = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

static void draw(uint32_t out[4], uint64_t seed, int64_t index, uint32_t attempt, uint32_t stream) {
  out[0] = (uint32_t)index;
  out[1] = (uint32_t)((uint64_t)index >> 32);
  out[2] = attempt;
  out[3] = stream;
  philox4x32_10(out, seed);
}

static double bits53(uint32_t hi, uint32_t lo) {
  uint64_t m = ((uint64_t)hi << 21) | (lo >> 11);
  return (double)m * 0x1p-53;
}

/* Natural log of x in (0, 1], from +,-,*,/ only: x = 2^e * m, log m = 2 atanh((m-1)/(m+1)). */
static double exact_log(double x) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  int e = (int)((b >> 52) & 0x7ff) - 1022;
  b = (b & 0xfffffffffffffULL) | (1022ULL << 52); /* m in [0.5, 1) */
  double m;
  memcpy(&m, &b, sizeof m);
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    e -= 1;
  }
  double f = m - 1.0, s = f / (2.0 + f), z = s * s;
  double poly = 1.0 / 25;
  for (int k = 11; k >= 0; k--) poly = poly * z + 1.0 / (2 * k + 1);
  double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  return (double)e * ln2_hi + ((double)e * ln2_lo + 2.0 * s * poly);
}

static double uniform(uint64_t seed, int64_t i, DType dt) {
  uint32_t w[4];
  draw(w, seed, i, 0, 0);
  switch (dt) {
  case DT_FLOAT32: return (double)(w[0] >> 8) * 0x1p-24;
  case DT_FLOAT16: return (double)(w[0] >> 21) * 0x1p-11;
  case DT_BFLOAT16: return (double)(w[0] >> 24) * 0x1p-8;
  default: return bits53(w[0], w[1]);
  }
}

static double normal(uint64_t seed, int64_t i) {
  for (uint32_t attempt = 0; attempt < 256; attempt++) {
    uint32_t w[4];
    draw(w, seed, i, attempt, 1);
    double u = 2.0 * bits53(w[0], w[1]) - 1.0, v = 2.0 * bits53(w[2], w[3]) - 1.0;
    double s = u * u + v * v;
    if (s >= 1.0 || s == 0.0) continue;
    double r = -2.0 * exact_log(s) / s;
    return u * __builtin_sqrt(r);
  }
  return 0.0; /* 256 rejections in a row: probability 0.2146^256 */
}

static int fill_random(const int64_t *sizes, int ndim, DType dt, uint64_t seed, bool gaussian,
                       Tensor **out, Diag *d) {
  if (!tensor_dtype_is_float(dt))
    return diag_set(d, "%s needs a floating dtype (float64, float32, float16, bfloat16), got %s",
                    gaussian ? "randn" : "rand", tensor_dtype_name(dt));
  Tensor *t;
  if (tensor_empty(sizes, ndim, dt, &t, d)) return HL_ERR;
  int64_t n = tensor_numel(t), es = (int64_t)tensor_dtype_size(dt);
  char *base = tensor_data(t);
  double buf[TENSOR_CHUNK];
  for (int64_t i = 0; i < n; i += TENSOR_CHUNK) {
    int64_t m = n - i < TENSOR_CHUNK ? n - i : TENSOR_CHUNK;
    for (int64_t j = 0; j < m; j++) buf[j] = gaussian ? normal(seed, i + j) : uniform(seed, i + j, dt);
    tensor_store_f64(base + i * es, dt, es, buf, m);
  }
  *out = t;
  return HL_OK;
}

int tensor_rand(const int64_t *sizes, int ndim, DType dt, uint64_t seed, Tensor **out, Diag *d) {
  return fill_random(sizes, ndim, dt, seed, false, out, d);
}

int tensor_randn(const int64_t *sizes, int ndim, DType dt, uint64_t seed, Tensor **out, Diag *d) {
  return fill_random(sizes, ndim, dt, seed, true, out, d);
}
