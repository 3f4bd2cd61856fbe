/* The NVPTX back end of the lowering: the target machine (nvptx64-nvidia-cuda, sm_90a, +ptx80)
 * and pass "codegen" for the cuda target, which prints the module as PTX text. Part of src/lower
 * (the compiler half: LLVM IR in, PTX out; src/rt/cuda loads and launches it, no driver needed
 * here). The "optimize" pass is the x86 one's (O3) run with this target machine. */
#include <llvm-c/Target.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "lower/lower_internal.h"

#define NVPTX_TRIPLE   "nvptx64-nvidia-cuda"
#define NVPTX_CPU      "sm_90a"
#define NVPTX_FEATURES "+ptx80"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_nvptx(void) {
  LLVMInitializeNVPTXTargetInfo();
  LLVMInitializeNVPTXTarget();
  LLVMInitializeNVPTXTargetMC();
  LLVMInitializeNVPTXAsmPrinter();
}

int lower_nvptx_target_machine(LLVMTargetMachineRef *out, Diag *d) {
  pthread_once(&init_once, init_nvptx);
  LLVMTargetRef target;
  char *err = NULL;
  if (LLVMGetTargetFromTriple(NVPTX_TRIPLE, &target, &err)) {
    diag_set(d, "this LLVM has no NVPTX target (%s): the cuda target cannot be built",
             err ? err : "");
    LLVMDisposeMessage(err);
    return HL_ERR;
  }
  *out = LLVMCreateTargetMachine(target, NVPTX_TRIPLE, NVPTX_CPU, NVPTX_FEATURES,
                                 LLVMCodeGenLevelAggressive, LLVMRelocDefault,
                                 LLVMCodeModelDefault);
  if (!*out) return diag_set(d, "LLVM could not make a target machine for %s", NVPTX_CPU);
  return HL_OK;
}

int lower_nvptx_codegen(LowerCtx *c, Diag *d) {
  char *err = NULL;
  LLVMMemoryBufferRef buf = NULL;
  if (LLVMTargetMachineEmitToMemoryBuffer(c->tm, c->mod, LLVMAssemblyFile, &err, &buf)) {
    diag_set(d, "LLVM's PTX code generation failed: %s", err ? err : "");
    LLVMDisposeMessage(err);
    return HL_ERR;
  }
  size_t n = LLVMGetBufferSize(buf);
  const char *text = LLVMGetBufferStart(buf);
  /* an unknown call would reach ptxas as an .extern function: say so here, not at load time */
  const char *ext = strstr(text, ".extern .func");
  if (ext) {
    const char *eol = strchr(ext, '\n');
    diag_set(d, "internal: the PTX calls an external function (%.*s)",
             (int)(eol ? eol - ext : 80), ext);
    LLVMDisposeMemoryBuffer(buf);
    return HL_ERR;
  }
  c->art->ptx = mem_alloc(n + 1);
  if (c->art->ptx) {
    memcpy(c->art->ptx, text, n);
    c->art->ptx[n] = '\0';
  }
  LLVMDisposeMemoryBuffer(buf);
  return c->art->ptx ? HL_OK : diag_set(d, "out of memory while keeping the PTX");
}
