/* tensor_bench: times the host matmul (1024^3 float32 and float64) and prints a small table.
 * Part of src/tensor (host tensors); a benchmark, not a test. Usage: tensor_bench [n] [reps] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tensor/tensor.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bench(DType dt, int64_t n, int reps) {
  Diag d;
  int64_t shape[2] = {n, n};
  Tensor *a, *b;
  if (tensor_randn(shape, 2, dt, 1, &a, &d) || tensor_randn(shape, 2, dt, 2, &b, &d)) {
    fprintf(stderr, "tensor_bench: %s\n", d.msg);
    return 1;
  }
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    Tensor *c;
    double t0 = now();
    if (tensor_matmul(a, b, &c, &d)) {
      fprintf(stderr, "tensor_bench: %s\n", d.msg);
      return 1;
    }
    double t = now() - t0;
    if (t < best) best = t;
    tensor_free(c);
  }
  double gflops = 2.0 * (double)n * (double)n * (double)n / best * 1e-9;
  printf("matmul %-8s %5lld^3  %8.4f s  %7.1f GFLOP/s\n", tensor_dtype_name(dt), (long long)n,
         best, gflops);
  tensor_free(a);
  tensor_free(b);
  return 0;
}

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? atoll(argv[1]) : 1024;
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  return bench(DT_FLOAT32, n, reps) || bench(DT_FLOAT64, n, reps);
}
