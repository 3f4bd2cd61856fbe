/* The CPU runtime: loads x86 object code (ORC LLJIT) and runs a kernel's program grid on the
 * thread pool. Part of src/rt/cpu (runtime). It sees object code and two symbol names, never
 * the tile IR. */
#ifndef HELUA_RT_CPU_H
#define HELUA_RT_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"

typedef struct RtCpuKernel RtCpuKernel;

/* void program(void **args, int64_t pid_begin, int64_t pid_end); int64_t grid(void **args). */
typedef void (*RtProgramFn)(void **args, int64_t pid_begin, int64_t pid_end);
typedef int64_t (*RtGridFn)(void **args);

/* Links the object into its own JIT (symbols of the process, e.g. libm, resolve) and looks up
 * the two functions. *out is freed by rt_cpu_free. */
int rt_cpu_load(const void *obj, size_t len, const char *program_sym, const char *grid_sym,
                RtCpuKernel **out, Diag *d);
void rt_cpu_free(RtCpuKernel *k); /* NULL is fine */
RtProgramFn rt_cpu_program(const RtCpuKernel *k);
RtGridFn rt_cpu_grid(const RtCpuKernel *k);

typedef struct RtLaunch {
  int64_t programs; /* the grid */
  int threads;      /* threads that ran programs */
  int64_t ns;       /* wall time of the launch */
} RtLaunch;

/* Runs every program: the grid is split into contiguous ranges, one per thread; `max_threads`
 * caps the threads (0: all cores). frame_bytes is the stack one program needs: programs with
 * big frames run on the pool's 64 MiB stacks only. info may be NULL. */
int rt_cpu_launch(const RtCpuKernel *k, void **args, int max_threads, size_t frame_bytes,
                  RtLaunch *info, Diag *d);

#endif
