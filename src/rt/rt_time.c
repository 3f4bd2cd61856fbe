/* Timing: a monotonic clock for launches and benchmarks. Part of src/rt (runtime). */
#include "rt/rt_time.h"

#include <time.h>

int64_t rt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double rt_now(void) {
  return (double)rt_now_ns() * 1e-9;
}
