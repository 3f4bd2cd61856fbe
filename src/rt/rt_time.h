/* Timing: a monotonic clock for launches and benchmarks. Part of src/rt (runtime). */
#ifndef HELUA_RT_TIME_H
#define HELUA_RT_TIME_H

#include <stdint.h>

int64_t rt_now_ns(void); /* CLOCK_MONOTONIC in nanoseconds */
double rt_now(void);     /* the same in seconds */

#endif
