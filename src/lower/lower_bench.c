/* lower_bench: the lowering's speed, as a table. Part of src/lower (a benchmark, not a test).
 *
 *   compile   lower + JIT load per config for matmul and softmax: median of 20 compiles
 *   run       add, softmax, rms_norm (float32, 4096 x 4096) in GB/s against a plain threaded
 *             copy of the same bytes on the same cores; matmul float32 1024^3 in GFLOP/s
 *             against OpenBLAS's sgemm (dlopen'ed, when installed) and helua's host matmul
 * Each kernel runs with the default config and the best of a few configs.
 * Usage: lower_bench [compile|run] [threads] */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "lower/lower.h"
#include "rt/cpu/rt_cpu.h"
#include "rt/rt_pool.h"
#include "rt/rt_time.h"
#include "tensor/tensor.h"

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != HL_OK) {                                                                         \
      fprintf(stderr, "lower_bench: %s failed: %s\n", #call, d.msg);                               \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

static Diag d;

/* ---- kernels ------------------------------------------------------------------------------ */

static IrValueId c64(IrBuilder *b, int64_t v) {
  IrValueId r;
  CHECK(ir_build_const_int(b, DT_INT64, v, &r, &d));
  return r;
}

static IrValueId op2(IrBuilder *b, IrOpKind k, IrValueId x, IrValueId y) {
  IrValueId a[2] = {x, y}, r;
  CHECK(ir_build_op(b, k, 2, a, NULL, &r, &d));
  return r;
}

static IrLoopDim dim0(IrBuilder *b, int64_t n) {
  IrLoopDim ld = IR_LOOP_DIM_INIT;
  ld.begin = c64(b, 0);
  ld.end = c64(b, n);
  return ld;
}

static IrFunc *finish(IrBuilder *b) {
  IrFunc *f;
  CHECK(ir_builder_finish(b, &f, &d));
  ir_builder_free(b);
  return f;
}

static IrFunc *build_add(int64_t m, int64_t n) {
  IrBuilder *b;
  IrValueId x, y, o, t[2], vx, vy;
  int64_t s[2] = {m, n};
  CHECK(ir_builder_new("add", &b, &d));
  CHECK(ir_build_arg_tensor(b, "x", DT_FLOAT32, 2, s, NULL, &x, &d));
  CHECK(ir_build_arg_tensor(b, "y", DT_FLOAT32, 2, s, NULL, &y, &d));
  CHECK(ir_build_arg_tensor(b, "out", DT_FLOAT32, 2, s, NULL, &o, &d));
  IrLoopDim dims[2] = {dim0(b, m), dim0(b, n)};
  CHECK(ir_build_loop_begin(b, IR_OP_TILE, 2, dims, 0, NULL, t, NULL, &d));
  IrIndex idx[2] = {{IR_IDX_TILE, t[0]}, {IR_IDX_TILE, t[1]}};
  CHECK(ir_build_load(b, x, 2, idx, IR_NONE, IR_EVICT_NONE, &vx, &d));
  CHECK(ir_build_load(b, y, 2, idx, IR_NONE, IR_EVICT_NONE, &vy, &d));
  CHECK(ir_build_store(b, o, 2, idx, op2(b, IR_OP_ADD, vx, vy), IR_NONE, &d));
  CHECK(ir_build_loop_end(b, 0, NULL, NULL, &d));
  return finish(b);
}

/* Row softmax over ':' (norm = false), or rms_norm: x * rsqrt(mean(x^2) + eps) * w. */
static IrFunc *build_rows(int64_t m, int64_t n, bool norm) {
  IrBuilder *b;
  IrValueId x, w = IR_NONE, o, t, v, r;
  int64_t s[2] = {m, n};
  CHECK(ir_builder_new(norm ? "rms_norm" : "softmax", &b, &d));
  CHECK(ir_build_arg_tensor(b, "x", DT_FLOAT32, 2, s, NULL, &x, &d));
  if (norm) CHECK(ir_build_arg_tensor(b, "w", DT_FLOAT32, 1, &n, NULL, &w, &d));
  CHECK(ir_build_arg_tensor(b, "out", DT_FLOAT32, 2, s, NULL, &o, &d));
  IrLoopDim dm = dim0(b, m);
  CHECK(ir_build_loop_begin(b, IR_OP_TILE, 1, &dm, 0, NULL, &t, NULL, &d));
  IrIndex idx[2] = {{IR_IDX_TILE, t}, {IR_IDX_SLICE, IR_NONE}};
  CHECK(ir_build_load(b, x, 2, idx, IR_NONE, IR_EVICT_NONE, &v, &d));
  IrAttrs a = IR_ATTRS_INIT;
  a.dim = -1;
  if (!norm) {
    CHECK(ir_build_op(b, IR_OP_SOFTMAX, 1, &v, &a, &r, &d));
  } else {
    IrValueId sq = op2(b, IR_OP_MUL, v, v), ms, eps, rs, wv;
    a.keepdim = true;
    CHECK(ir_build_op(b, IR_OP_MEAN, 1, &sq, &a, &ms, &d));
    CHECK(ir_build_const_float(b, DT_FLOAT32, 1e-6, &eps, &d));
    IrValueId me = op2(b, IR_OP_ADD, ms, eps);
    CHECK(ir_build_op(b, IR_OP_RSQRT, 1, &me, NULL, &rs, &d));
    IrIndex wi = {IR_IDX_SLICE, IR_NONE};
    CHECK(ir_build_load(b, w, 1, &wi, IR_NONE, IR_EVICT_NONE, &wv, &d));
    r = op2(b, IR_OP_MUL, op2(b, IR_OP_MUL, v, rs), wv);
  }
  CHECK(ir_build_store(b, o, 2, idx, r, IR_NONE, &d));
  CHECK(ir_build_loop_end(b, 0, NULL, NULL, &d));
  return finish(b);
}

static IrFunc *build_matmul(int64_t m, int64_t k, int64_t n) {
  IrBuilder *b;
  IrValueId x, y, o, mn[2], tk, acc, acc_in, va, vb, nacc, fin;
  int64_t xs[2] = {m, k}, ys[2] = {k, n}, os[2] = {m, n};
  CHECK(ir_builder_new("matmul", &b, &d));
  CHECK(ir_build_arg_tensor(b, "x", DT_FLOAT32, 2, xs, NULL, &x, &d));
  CHECK(ir_build_arg_tensor(b, "y", DT_FLOAT32, 2, ys, NULL, &y, &d));
  CHECK(ir_build_arg_tensor(b, "out", DT_FLOAT32, 2, os, NULL, &o, &d));
  IrLoopDim dims[2] = {dim0(b, m), dim0(b, n)};
  CHECK(ir_build_loop_begin(b, IR_OP_TILE, 2, dims, 0, NULL, mn, NULL, &d));
  IrAttrs z = IR_ATTRS_INIT;
  z.dtype = DT_FLOAT32;
  z.shape.rank = 2;
  z.shape.dims[0] = ir_value(ir_builder_func(b), mn[0])->shape.dims[0];
  z.shape.dims[1] = ir_value(ir_builder_func(b), mn[1])->shape.dims[0];
  CHECK(ir_build_op(b, IR_OP_FULL, 0, NULL, &z, &acc, &d));
  IrLoopDim kd = dim0(b, k);
  CHECK(ir_build_loop_begin(b, IR_OP_TILE, 1, &kd, 1, &acc, &tk, &acc_in, &d));
  IrIndex ia[2] = {{IR_IDX_TILE, mn[0]}, {IR_IDX_TILE, tk}},
          ib[2] = {{IR_IDX_TILE, tk}, {IR_IDX_TILE, mn[1]}};
  CHECK(ir_build_load(b, x, 2, ia, IR_NONE, IR_EVICT_NONE, &va, &d));
  CHECK(ir_build_load(b, y, 2, ib, IR_NONE, IR_EVICT_NONE, &vb, &d));
  IrValueId dargs[3] = {va, vb, acc_in};
  CHECK(ir_build_op(b, IR_OP_DOT, 3, dargs, NULL, &nacc, &d));
  CHECK(ir_build_loop_end(b, 1, &nacc, &fin, &d));
  IrIndex io[2] = {{IR_IDX_TILE, mn[0]}, {IR_IDX_TILE, mn[1]}};
  CHECK(ir_build_store(b, o, 2, io, fin, IR_NONE, &d));
  CHECK(ir_build_loop_end(b, 0, NULL, NULL, &d));
  return finish(b);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static LowerConfig config(const int64_t *bs, int nbs, int64_t rchunk) {
  LowerConfig c;
  lower_config_init(&c);
  c.nblock_sizes = nbs;
  for (int i = 0; i < nbs; i++)
    c.block_sizes[i] = bs[i];
  if (rchunk >= 0) {
    c.nreduction_loops = 1;
    c.reduction_loops[0] = rchunk;
  }
  return c;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static const char *config_str(const LowerBinding *b, char *buf, size_t cap) {
  size_t n = (size_t)snprintf(buf, cap, "{");
  for (int i = 0; i < b->nslots && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)b->block[i]);
  if (b->nrdims && n < cap)
    n += (size_t)snprintf(buf + n, cap - n, b->rchunk[0] ? "} r%lld" : "} persistent",
                          (long long)b->rchunk[0]);
  else if (n < cap)
    snprintf(buf + n, cap - n, "}");
  return buf;
}

/* ---- compile times ------------------------------------------------------------------------ */

static void bench_compile(const char *name, IrFunc *f, const LowerConfig *cfg) {
  enum { N = 20 };
  double tot[N], phase[LOWER_NPASSES + 1][N];
  char cs[64] = "";
  for (int r = 0; r < N; r++) {
    LowerArtifact *a;
    RtCpuKernel *k;
    CHECK(lower_compile(f, cfg, LOWER_TARGET_CPU, &a, &d));
    int64_t t0 = rt_now_ns();
    CHECK(rt_cpu_load(a->object, a->object_len, a->program_sym, a->grid_sym, &k, &d));
    double jit = (double)(rt_now_ns() - t0) * 1e-6;
    tot[r] = a->total_ms + jit;
    for (int p = 0; p < LOWER_NPASSES; p++)
      phase[p][r] = a->ms[p];
    phase[LOWER_NPASSES][r] = jit;
    config_str(&a->bind, cs, sizeof cs);
    rt_cpu_free(k);
    lower_artifact_free(a);
  }
  qsort(tot, N, sizeof *tot, cmp_double);
  printf("%-9s %-22s %8.2f %8.2f %8.2f ", name, cs, tot[N / 2], tot[0], tot[N - 1]);
  for (int p = 0; p <= LOWER_NPASSES; p++) {
    qsort(phase[p], N, sizeof(double), cmp_double);
    printf(" %6.2f", phase[p][N / 2]);
  }
  printf("\n");
}

static void run_compile(void) {
  printf("compile time per config (lower + JIT), ms over 20 compiles; phases are medians\n");
  printf("%-9s %-22s %8s %8s %8s  %6s %6s %6s %6s %6s %6s %6s\n", "kernel", "config", "median",
         "min", "max", "decomp", "bind", "plan", "emit", "opt", "cgen", "jit");
  IrFunc *mm = build_matmul(1024, 1024, 1024), *sm = build_rows(4096, 4096, false);
  LowerConfig dflt;
  lower_config_init(&dflt);
  bench_compile("matmul", mm, &dflt);
  LowerConfig c1 = config((int64_t[]){64, 64, 64}, 3, -1),
              c2 = config((int64_t[]){32, 128, 32}, 3, -1);
  bench_compile("matmul", mm, &c1);
  bench_compile("matmul", mm, &c2);
  bench_compile("softmax", sm, &dflt);
  LowerConfig s1 = config((int64_t[]){4}, 1, 0), s2 = config((int64_t[]){8}, 1, 512);
  bench_compile("softmax", sm, &s1);
  bench_compile("softmax", sm, &s2);
  ir_func_free(mm);
  ir_func_free(sm);
}

/* ---- run speed ---------------------------------------------------------------------------- */

typedef struct Compiled {
  LowerArtifact *a;
  RtCpuKernel *k;
} Compiled;

static Compiled compile(IrFunc *f, const LowerConfig *cfg) {
  Compiled c;
  CHECK(lower_compile(f, cfg, LOWER_TARGET_CPU, &c.a, &d));
  CHECK(rt_cpu_load(c.a->object, c.a->object_len, c.a->program_sym, c.a->grid_sym, &c.k, &d));
  return c;
}

static void release(Compiled c) {
  rt_cpu_free(c.k);
  lower_artifact_free(c.a);
}

static void time_vs_copy(Compiled c, void **args, int threads, int reps, double *kernel,
                         double *copy);

/* Best time of `reps` launches (after a warm-up), in seconds. */
static double time_launch(Compiled c, void **args, int threads, int reps) {
  CHECK(rt_cpu_launch(c.k, args, threads, c.a->frame_bytes, NULL, &d));
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    int64_t t0 = rt_now_ns();
    CHECK(rt_cpu_launch(c.k, args, threads, c.a->frame_bytes, NULL, &d));
    double s = (double)(rt_now_ns() - t0) * 1e-9;
    if (s < best) best = s;
  }
  return best;
}

typedef struct CopyJob {
  char *dst;
  const char *src;
  size_t n;
  int chunks;
} CopyJob;

static void copy_chunk(void *ctx, int c) {
  CopyJob *j = ctx;
  size_t b = j->n * (size_t)c / (size_t)j->chunks, e = j->n * (size_t)(c + 1) / (size_t)j->chunks;
  memcpy(j->dst + b, j->src + b, e - b);
}

/* The copy every bandwidth figure is compared with: a threaded memcpy of 64 MiB. Timed right
 * next to each kernel (alternating, best of each), so a busy machine skews both alike. */
static CopyJob copy_job;

static double copy_once(int threads) {
  copy_job.chunks = threads;
  int64_t t0 = rt_now_ns();
  CHECK(rt_pool_run(threads, copy_chunk, &copy_job, threads, true, &d));
  return (double)(rt_now_ns() - t0) * 1e-9;
}

static void copy_setup(size_t half) {
  copy_job.src = malloc(half);
  copy_job.dst = malloc(half);
  copy_job.n = half;
  memset((char *)copy_job.src, 1, half);
  memset(copy_job.dst, 0, half);
}

/* Best times of a kernel launch and of the copy, alternating `reps` times. */
static void time_vs_copy(Compiled c, void **args, int threads, int reps, double *kernel,
                         double *copy) {
  CHECK(rt_cpu_launch(c.k, args, threads, c.a->frame_bytes, NULL, &d));
  *kernel = *copy = 1e30;
  for (int r = 0; r < reps; r++) {
    double cs = copy_once(threads);
    if (cs < *copy) *copy = cs;
    int64_t t0 = rt_now_ns();
    CHECK(rt_cpu_launch(c.k, args, threads, c.a->frame_bytes, NULL, &d));
    double s = (double)(rt_now_ns() - t0) * 1e-9;
    if (s < *kernel) *kernel = s;
  }
}

static Tensor *randn(int64_t m, int64_t n, uint64_t seed) {
  Tensor *t;
  int64_t s[2] = {m, n};
  CHECK(tensor_randn(s, n > 0 ? 2 : 1, DT_FLOAT32, seed, &t, &d));
  return t;
}

/* The default config and the best of cands, each against the copy timed beside it. */
static void bench_bandwidth(const char *name, IrFunc *f, void **args, size_t bytes, int threads,
                            const LowerConfig *cands, int ncand) {
  LowerConfig dflt;
  lower_config_init(&dflt);
  char cs[64], best_cs[64] = "";
  Compiled c = compile(f, &dflt);
  double t, copy;
  time_vs_copy(c, args, threads, 10, &t, &copy);
  double ratio = copy / t, best_ratio = ratio, best = t;
  config_str(&c.a->bind, cs, sizeof cs);
  snprintf(best_cs, sizeof best_cs, "%s", cs);
  release(c);
  for (int i = 0; i < ncand; i++) {
    Compiled ci = compile(f, &cands[i]);
    double ti, ci_copy;
    time_vs_copy(ci, args, threads, 10, &ti, &ci_copy);
    if (ci_copy / ti > best_ratio) {
      best_ratio = ci_copy / ti;
      best = ti;
      config_str(&ci.a->bind, best_cs, sizeof best_cs);
    }
    release(ci);
  }
  double gbs = (double)bytes / t * 1e-9, bgbs = (double)bytes / best * 1e-9;
  printf("%-9s %-18s %8.3f %7.1f GB/s %5.0f%%   best %-16s %8.3f %7.1f GB/s %5.0f%%\n", name, cs,
         t * 1e3, gbs, 100 * ratio * (double)bytes / (double)(2 * copy_job.n), best_cs, best * 1e3,
         bgbs, 100 * best_ratio * (double)bytes / (double)(2 * copy_job.n));
}

typedef void (*SgemmFn)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                        float, float *, int);

static void run_speed(int threads) {
  int64_t m = 4096, n = 4096;
  size_t nb = (size_t)(m * n) * 4;
  printf("run speed, %d threads (%s), float32; GB/s counts bytes read + written\n", threads,
         threads == rt_pool_cores() ? "all cores" : "capped");
  copy_setup(nb);
  double copy = 1e30;
  for (int r = 0; r < 8; r++) {
    double cs = copy_once(threads);
    if (cs < copy) copy = cs;
  }
  printf("%-9s %-18s %8s %12s %6s\n", "kernel", "default config", "ms", "speed", "of copy");
  printf("%-9s %-18s %8.3f %7.1f GB/s  100%%   (a threaded memcpy of 64 MiB; each kernel's ratio "
         "uses a copy timed beside it)\n",
         "copy", "-", copy * 1e3, (double)(2 * nb) / copy * 1e-9);
  Tensor *x = randn(m, n, 1), *y = randn(m, n, 2), *o = randn(m, n, 3), *w = randn(n, 0, 4);
  IrFunc *add = build_add(m, n), *sm = build_rows(m, n, false), *rms = build_rows(m, n, true);
  void *args3[3] = {tensor_data(x), tensor_data(y), tensor_data(o)};
  void *args2[2] = {tensor_data(x), tensor_data(o)};
  void *argsn[3] = {tensor_data(x), tensor_data(w), tensor_data(o)};
  LowerConfig ca[3] = {config((int64_t[]){16, 1024}, 2, -1), config((int64_t[]){64, 256}, 2, -1),
                       config((int64_t[]){8, 4096}, 2, -1)};
  bench_bandwidth("add", add, args3, 3 * nb, threads, ca, 3);
  LowerConfig cs[4] = {config((int64_t[]){1}, 1, 0), config((int64_t[]){2}, 1, 0),
                       config((int64_t[]){4}, 1, 0), config((int64_t[]){8}, 1, 1024)};
  bench_bandwidth("softmax", sm, args2, 2 * nb, threads, cs, 4);
  bench_bandwidth("rms_norm", rms, argsn, 2 * nb, threads, cs, 4);
  ir_func_free(add);
  ir_func_free(sm);
  ir_func_free(rms);
  tensor_free(x);
  tensor_free(y);
  tensor_free(o);
  tensor_free(w);

  /* matmul */
  int64_t s = 1024;
  Tensor *a = randn(s, s, 5), *b = randn(s, s, 6), *c = randn(s, s, 7), *ref;
  IrFunc *mm = build_matmul(s, s, s);
  void *argsm[3] = {tensor_data(a), tensor_data(b), tensor_data(c)};
  double flop = 2.0 * (double)(s * s * s);
  LowerConfig dflt;
  lower_config_init(&dflt);
  LowerConfig cm[4] = {
      config((int64_t[]){64, 64, 64}, 3, -1), config((int64_t[]){64, 128, 128}, 3, -1),
      config((int64_t[]){128, 128, 64}, 3, -1), config((int64_t[]){32, 256, 128}, 3, -1)};
  Compiled cc = compile(mm, &dflt);
  char cstr[64], best_str[64];
  double t = time_launch(cc, argsm, threads, 3), best = t;
  config_str(&cc.a->bind, cstr, sizeof cstr);
  snprintf(best_str, sizeof best_str, "%s", cstr);
  release(cc);
  for (int i = 0; i < 4; i++) {
    Compiled ci = compile(mm, &cm[i]);
    double ti = time_launch(ci, argsm, threads, 3);
    if (ti < best) best = ti, config_str(&ci.a->bind, best_str, sizeof best_str);
    release(ci);
  }
  CHECK(tensor_matmul(a, b, &ref, &d));
  double err;
  CHECK(tensor_rel_err(c, ref, &err, &d));
  int64_t t0 = rt_now_ns();
  Tensor *host;
  CHECK(tensor_matmul(a, b, &host, &d));
  double th = (double)(rt_now_ns() - t0) * 1e-9;
  tensor_free(host);
  double blas = 0;
  void *lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  if (lib) {
    SgemmFn sgemm = (SgemmFn)dlsym(lib, "cblas_sgemm");
    void (*set_threads)(int) = (void (*)(int))dlsym(lib, "openblas_set_num_threads");
    if (set_threads) set_threads(threads);
    if (sgemm) {
      double bt = 1e30;
      for (int r = 0; r < 4; r++) {
        int64_t b0 = rt_now_ns();
        sgemm(101, 111, 111, (int)s, (int)s, (int)s, 1.0f, tensor_data(a), (int)s, tensor_data(b),
              (int)s, 0.0f, tensor_data(c), (int)s);
        double bs = (double)(rt_now_ns() - b0) * 1e-9;
        if (bs < bt) bt = bs;
      }
      blas = flop / bt * 1e-9;
    }
  }
  double g = flop / t * 1e-9, gb = flop / best * 1e-9;
  printf("%-9s %-18s %8.3f %6.1f GFLOP/s %5.0f%%   best %-16s %8.3f %6.1f GFLOP/s %5.0f%%  (of "
         "OpenBLAS)\n",
         "matmul", cstr, t * 1e3, g, blas > 0 ? 100 * g / blas : 0, best_str, best * 1e3, gb,
         blas > 0 ? 100 * gb / blas : 0);
  if (blas > 0)
    printf("%-9s %-18s %8s %6.1f GFLOP/s  100%%\n", "openblas", "sgemm", "", blas);
  else
    printf("openblas  not installed (libopenblas.so.0): no sgemm to compare with\n");
  printf("%-9s %-18s %8.3f %6.1f GFLOP/s          (helua's host tensor_matmul)\n", "host", "-",
         th * 1e3, flop / th * 1e-9);
  printf("matmul relative error vs the float64 reference: %.2e\n", err);
  if (lib) dlclose(lib);
  ir_func_free(mm);
  tensor_free(a);
  tensor_free(b);
  tensor_free(c);
  tensor_free(ref);
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "all";
  int threads = argc > 2 ? atoi(argv[2]) : rt_pool_cores();
  char cpu[64] = "";
  printf("lower_bench on %d cores\n", rt_pool_cores());
  (void)cpu;
  if (strcmp(what, "run") != 0) run_compile();
  if (strcmp(what, "compile") != 0) run_speed(threads > 0 ? threads : rt_pool_cores());
  return 0;
}
