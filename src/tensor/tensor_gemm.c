/* Blocked GEMM kernels for float32/float64 on strided operands, rows split over pthreads.
 * Part of src/tensor (host tensors); tensor_matmul (tensor_matmul.c) calls these.
 *
 * GotoBLAS shape: B is packed into KC x NC panels of NR-wide column slivers, A into MC x KC
 * blocks of MR-tall row slivers, and an MR x NR register-tiled micro-kernel (GCC vector
 * extensions, so it vectorizes on any target) runs over them. On x86-64 the driver is compiled
 * twice (target_clones): an x86-64-v3 (AVX2+FMA) clone picked at load time where the CPU has it,
 * and the baseline one, so the binary still runs on any x86-64. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "tensor/tensor_gemm.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GEMM_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GEMM_CLONES
#endif

#define MR 6
#define KC 256

typedef float v8f __attribute__((vector_size(32)));
typedef double v4d __attribute__((vector_size(32)));

/* Instantiates pack/micro/driver for one element type. VEC holds VL elements; NR = 2 * VL. */
#define GEMM_DEFINE(SUF, T, VEC, VL, MC, NC)                                                    \
  enum { NR_##SUF = 2 * (VL) };                                                                \
                                                                                                \
  static void pack_a_##SUF(T *dst, const T *a, int64_t rs, int64_t cs, int64_t mc,            \
                           int64_t kc) {                                                        \
    for (int64_t ir = 0; ir < mc; ir += MR) {                                                   \
      int64_t mr = mc - ir < MR ? mc - ir : MR;                                                 \
      T *d = dst + ir * kc;                                                                     \
      for (int64_t i = 0; i < MR; i++) {                                                        \
        const T *row = a + (ir + i) * rs;                                                       \
        if (i < mr)                                                                             \
          for (int64_t p = 0; p < kc; p++) d[p * MR + i] = row[p * cs];                        \
        else                                                                                    \
          for (int64_t p = 0; p < kc; p++) d[p * MR + i] = 0;                                  \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
                                                                                                \
  static void pack_b_##SUF(T *dst, const T *b, int64_t rs, int64_t cs, int64_t kc,            \
                           int64_t nc) {                                                        \
    for (int64_t jr = 0; jr < nc; jr += NR_##SUF) {                                             \
      int64_t nr = nc - jr < NR_##SUF ? nc - jr : NR_##SUF;                                     \
      T *d = dst + jr * kc;                                                                     \
      for (int64_t p = 0; p < kc; p++) {                                                        \
        const T *row = b + p * rs + jr * cs;                                                    \
        int64_t j = 0;                                                                          \
        for (; j < nr; j++) d[p * NR_##SUF + j] = row[j * cs];                                 \
        for (; j < NR_##SUF; j++) d[p * NR_##SUF + j] = 0;                                     \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
                                                                                                \
  static inline __attribute__((always_inline)) void micro_##SUF(                               \
      int64_t kc, const T *a, const T *b, T *c, int64_t ldc, int64_t mr, int64_t nr,          \
      int first) {                                                                              \
    VEC acc[MR][2];                                                                             \
    memset(acc, 0, sizeof acc);                                                                 \
    for (int64_t p = 0; p < kc; p++) {                                                          \
      VEC b0, b1;                                                                               \
      memcpy(&b0, b + p * NR_##SUF, sizeof b0);                                                 \
      memcpy(&b1, b + p * NR_##SUF + (VL), sizeof b1);                                          \
      for (int i = 0; i < MR; i++) {                                                            \
        T av = a[p * MR + i];                                                                   \
        acc[i][0] += av * b0;                                                                   \
        acc[i][1] += av * b1;                                                                   \
      }                                                                                         \
    }                                                                                           \
    if (mr == MR && nr == NR_##SUF) {                                                           \
      for (int i = 0; i < MR; i++) {                                                            \
        VEC c0, c1;                                                                             \
        if (first) {                                                                            \
          c0 = acc[i][0];                                                                       \
          c1 = acc[i][1];                                                                       \
        } else {                                                                                \
          memcpy(&c0, c + i * ldc, sizeof c0);                                                  \
          memcpy(&c1, c + i * ldc + (VL), sizeof c1);                                           \
          c0 += acc[i][0];                                                                      \
          c1 += acc[i][1];                                                                      \
        }                                                                                       \
        memcpy(c + i * ldc, &c0, sizeof c0);                                                    \
        memcpy(c + i * ldc + (VL), &c1, sizeof c1);                                             \
      }                                                                                         \
      return;                                                                                   \
    }                                                                                           \
    T tile[MR][NR_##SUF];                                                                       \
    memcpy(tile, acc, sizeof tile);                                                             \
    for (int64_t i = 0; i < mr; i++)                                                            \
      for (int64_t j = 0; j < nr; j++)                                                          \
        c[i * ldc + j] = first ? tile[i][j] : c[i * ldc + j] + tile[i][j];                     \
  }                                                                                             \
                                                                                                \
  GEMM_CLONES static void block_##SUF(const GemmArgs *g, const T *A, const T *B, T *C,         \
                                      int64_t m0, int64_t m1, T *ap, T *bp) {                  \
    int64_t n = g->n, k = g->k;                                                                 \
    for (int64_t jc = 0; jc < n; jc += (NC)) {                                                  \
      int64_t nc = n - jc < (NC) ? n - jc : (NC);                                               \
      for (int64_t pc = 0; pc < k; pc += KC) {                                                  \
        int64_t kc = k - pc < KC ? k - pc : KC;                                                 \
        pack_b_##SUF(bp, B + pc * g->rsb + jc * g->csb, g->rsb, g->csb, kc, nc);               \
        for (int64_t ic = m0; ic < m1; ic += (MC)) {                                            \
          int64_t mc = m1 - ic < (MC) ? m1 - ic : (MC);                                         \
          pack_a_##SUF(ap, A + ic * g->rsa + pc * g->csa, g->rsa, g->csa, mc, kc);             \
          for (int64_t jr = 0; jr < nc; jr += NR_##SUF) {                                       \
            int64_t nr = nc - jr < NR_##SUF ? nc - jr : NR_##SUF;                               \
            for (int64_t ir = 0; ir < mc; ir += MR) {                                           \
              int64_t mr = mc - ir < MR ? mc - ir : MR;                                         \
              micro_##SUF(kc, ap + ir * kc, bp + jr * kc, C + (ic + ir) * n + jc + jr, n, mr,  \
                          nr, pc == 0);                                                         \
            }                                                                                   \
          }                                                                                     \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
                                                                                                \
  static int rows_##SUF(const GemmArgs *g, int64_t batch, int64_t m0, int64_t m1) {             \
    size_t asz = (size_t)(((MC) + MR) * KC) * sizeof(T);                                        \
    size_t bsz = (size_t)(((NC) + NR_##SUF) * KC) * sizeof(T);                                  \
    T *ap = mem_alloc_aligned(asz), *bp = mem_alloc_aligned(bsz);                               \
    if (!ap || !bp) {                                                                           \
      mem_free_aligned(ap);                                                                     \
      mem_free_aligned(bp);                                                                     \
      return HL_ERR;                                                                            \
    }                                                                                           \
    const T *A = (const T *)g->a + batch_offset(g->a_bstride, g, batch);                       \
    const T *B = (const T *)g->b + batch_offset(g->b_bstride, g, batch);                       \
    T *C = (T *)g->c + batch * g->m * g->n;                                                     \
    if (g->k == 0) {                                                                            \
      for (int64_t i = m0; i < m1; i++)                                                         \
        for (int64_t j = 0; j < g->n; j++) C[i * g->n + j] = 0;                                 \
    } else {                                                                                    \
      block_##SUF(g, A, B, C, m0, m1, ap, bp);                                                  \
    }                                                                                           \
    mem_free_aligned(ap);                                                                       \
    mem_free_aligned(bp);                                                                       \
    return HL_OK;                                                                               \
  }

/* Element offset of batch `bi` (flat index over the batch dims) with per-dim strides. */
static int64_t batch_offset(const int64_t *bstride, const GemmArgs *g, int64_t bi) {
  int64_t off = 0;
  for (int i = g->nbatch_dims - 1; i >= 0; i--) {
    int64_t sz = g->batch_sizes[i];
    off += (bi % sz) * bstride[i];
    bi /= sz;
  }
  return off;
}

GEMM_DEFINE(f32, float, v8f, 8, 120, 1024)
GEMM_DEFINE(f64, double, v4d, 4, 96, 512)

typedef struct Job {
  const GemmArgs *g;
  int64_t b0, b1, m0, m1; /* batches [b0, b1), rows [m0, m1) of each */
  int rc;
} Job;

static void *job_run(void *arg) {
  Job *j = arg;
  for (int64_t b = j->b0; b < j->b1 && j->rc == HL_OK; b++)
    j->rc = j->g->f64 ? rows_f64(j->g, b, j->m0, j->m1) : rows_f32(j->g, b, j->m0, j->m1);
  return NULL;
}

static int max_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) n = 1;
  return n > 8 ? 8 : (int)n;
}

/* Runs jobs on threads (the last on the caller's thread); a thread that fails to start runs
 * its job inline instead. */
static int run_jobs(Job *jobs, int n) {
  pthread_t th[8];
  bool started[8] = {false};
  for (int i = 0; i < n - 1; i++) started[i] = pthread_create(&th[i], NULL, job_run, &jobs[i]) == 0;
  job_run(&jobs[n - 1]);
  int rc = jobs[n - 1].rc;
  for (int i = 0; i < n - 1; i++) {
    if (started[i]) pthread_join(th[i], NULL);
    else job_run(&jobs[i]);
    if (jobs[i].rc) rc = jobs[i].rc;
  }
  return rc;
}

int tensor_gemm_run(const GemmArgs *g, Diag *d) {
  int64_t nb = 1;
  for (int i = 0; i < g->nbatch_dims; i++) nb *= g->batch_sizes[i];
  if (nb == 0 || g->m == 0 || g->n == 0) return HL_OK;
  double work = (double)nb * (double)g->m * (double)g->n * (double)(g->k ? g->k : 1);
  int nt = max_threads();
  if (work < 4.0e6) nt = 1;
  Job jobs[8];
  int rc = HL_OK;
  if (nt == 1 || nb >= nt) {
    int n = nt < nb ? nt : (int)nb;
    for (int i = 0; i < n; i++)
      jobs[i] = (Job){g, nb * i / n, nb * (i + 1) / n, 0, g->m, HL_OK};
    rc = run_jobs(jobs, n);
  } else {
    int64_t blocks = (g->m + MR - 1) / MR; /* split rows on micro-tile boundaries */
    int n = blocks < nt ? (int)blocks : nt;
    for (int64_t b = 0; b < nb && rc == HL_OK; b++) {
      for (int i = 0; i < n; i++) {
        int64_t m0 = blocks * i / n * MR, m1 = blocks * (i + 1) / n * MR;
        jobs[i] = (Job){g, b, b + 1, m0, m1 < g->m ? m1 : g->m, HL_OK};
      }
      rc = run_jobs(jobs, n);
    }
  }
  if (rc) return diag_set(d, "matmul: out of memory for packing buffers");
  return HL_OK;
}
