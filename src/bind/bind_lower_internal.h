/* What bind_lower.c (core.compile, the compiled kernel userdata) shares with bind_lower_launch.c
 * (its launches). Part of src/bind (the Lua boundary). */
#ifndef HELUA_BIND_LOWER_INTERNAL_H
#define HELUA_BIND_LOWER_INTERNAL_H

#include <lua.h>

#include "base/diag.h"
#include "lower/lower.h"
#include "rt/cpu/rt_cpu.h"
#include "rt/cuda/rt_cuda.h"

#define KERNEL_MT "helua.CompiledKernel"
#define MAX_ARGS  256

typedef struct LKernel {
  LowerArtifact *art; /* NULL until compiled, and after close */
  RtCpuKernel *rk;
  bool cuda;          /* target cuda: ck is loaded on the first launch */
  RtCudaKernel *ck;
  double jit_ms;
  RtLaunch last;
  int launches;
  char ignored[256]; /* config fields that do not apply to the CPU, comma-separated */
} LKernel;

int bind_lower_raise(lua_State *L, const Diag *d);
LKernel *bind_lower_check_kernel(lua_State *L); /* argument 1; raises when closed */

int bind_lower_launch(lua_State *L);       /* ck:launch(list) */
int bind_lower_launch_frame(lua_State *L); /* ck:launch_frame(fn, plan) */

#endif
