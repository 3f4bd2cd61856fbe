/* The CPU runtime: ORC LLJIT loading of a kernel's object code, and launches over the thread
 * pool. Part of src/rt/cpu (runtime).
 *
 * One LLJIT per kernel: disposing it frees the kernel's code, and kernels never share symbol
 * tables. (Creating one costs well under a millisecond; see share/doc/lowering.md.) */
#include "rt/cpu/rt_cpu.h"

#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <pthread.h>
#include <string.h>

#include "base/mem.h"
#include "rt/rt_pool.h"
#include "rt/rt_time.h"

#define CALLER_STACK_OK ((size_t)1 << 20) /* frames up to this run on the launching thread too */

struct RtCpuKernel {
  LLVMOrcLLJITRef jit;
  RtProgramFn program;
  RtGridFn grid;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool init_ok;

static void init_native(void) {
  init_ok = !LLVMInitializeNativeTarget() && !LLVMInitializeNativeAsmPrinter();
}

static int jit_error(LLVMErrorRef e, const char *what, Diag *d) {
  char *msg = LLVMGetErrorMessage(e);
  diag_set(d, "%s: %s", what, msg ? msg : "(no message)");
  LLVMDisposeErrorMessage(msg);
  return HL_ERR;
}

void rt_cpu_free(RtCpuKernel *k) {
  if (!k) return;
  if (k->jit) {
    LLVMErrorRef e = LLVMOrcDisposeLLJIT(k->jit);
    if (e) LLVMConsumeError(e);
  }
  mem_free(k);
}

RtProgramFn rt_cpu_program(const RtCpuKernel *k) {
  return k->program;
}

RtGridFn rt_cpu_grid(const RtCpuKernel *k) {
  return k->grid;
}

int rt_cpu_load(const void *obj, size_t len, const char *program_sym, const char *grid_sym,
                RtCpuKernel **out, Diag *d) {
  pthread_once(&init_once, init_native);
  if (!init_ok) return diag_set(d, "LLVM has no native target: cannot run CPU kernels");
  RtCpuKernel *k = mem_calloc(1, sizeof *k);
  if (!k) return diag_set(d, "out of memory while loading a kernel");
  LLVMErrorRef e = LLVMOrcCreateLLJIT(&k->jit, LLVMOrcCreateLLJITBuilder());
  if (e) {
    k->jit = NULL;
    rt_cpu_free(k);
    return jit_error(e, "could not create the LLVM JIT", d);
  }
  LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(k->jit);
  LLVMOrcDefinitionGeneratorRef gen;
  e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
      &gen, LLVMOrcLLJITGetGlobalPrefix(k->jit), NULL, NULL);
  if (e) {
    rt_cpu_free(k);
    return jit_error(e, "could not expose the process's symbols to the JIT", d);
  }
  LLVMOrcJITDylibAddGenerator(jd, gen);
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(obj, len, "kernel.o");
  e = LLVMOrcLLJITAddObjectFile(k->jit, jd, buf); /* takes buf */
  if (e) {
    rt_cpu_free(k);
    return jit_error(e, "the JIT refused the kernel's object code", d);
  }
  LLVMOrcExecutorAddress pa, ga;
  e = LLVMOrcLLJITLookup(k->jit, &pa, program_sym);
  if (!e) e = LLVMOrcLLJITLookup(k->jit, &ga, grid_sym);
  if (e) {
    rt_cpu_free(k);
    return jit_error(e, "linking the kernel failed", d);
  }
  k->program = (RtProgramFn)(uintptr_t)pa;
  k->grid = (RtGridFn)(uintptr_t)ga;
  *out = k;
  return HL_OK;
}

typedef struct Launch {
  RtProgramFn program;
  void **args;
  int64_t programs;
  int chunks;
} Launch;

static void run_range(void *ctx, int c) {
  const Launch *l = ctx;
  int64_t b = l->programs * c / l->chunks, e = l->programs * (c + 1) / l->chunks;
  if (e > b) l->program(l->args, b, e);
}

int rt_cpu_launch(const RtCpuKernel *k, void **args, int max_threads, size_t frame_bytes,
                  RtLaunch *info, Diag *d) {
  int64_t t0 = rt_now_ns();
  int64_t n = k->grid(args);
  int threads = max_threads > 0 ? max_threads : rt_pool_cores();
  if (threads > rt_pool_cores()) threads = rt_pool_cores();
  if (n < threads) threads = n > 0 ? (int)n : 1;
  Launch l = {.program = k->program, .args = args, .programs = n, .chunks = threads};
  bool caller = frame_bytes <= CALLER_STACK_OK;
  int rc = HL_OK;
  if (n > 0) rc = rt_pool_run(threads, run_range, &l, threads, caller, d);
  if (info) {
    info->programs = n;
    info->threads = threads;
    info->ns = rt_now_ns() - t0;
  }
  return rc;
}
