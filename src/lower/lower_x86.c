/* The x86 back end of the lowering: the host target machine, the O3 pipeline (pass "optimize"),
 * object code (pass "codegen") and the "asm" stage. Part of src/lower (the compiler half: LLVM
 * IR in, machine code out; src/rt/cpu loads and runs it).
 *
 * One target machine per compile, for the host CPU (name and features from LLVM), so the code
 * uses every vector extension the machine has; O3 with loop and SLP vectorization on. */
#include <llvm-c/IRReader.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/flags.h"
#include "base/mem.h"
#include "lower/lower_internal.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static char host_cpu[64];
static char *host_features;
static bool init_ok;

static void init_native(void) {
  init_ok = !LLVMInitializeNativeTarget() && !LLVMInitializeNativeAsmPrinter() &&
            !LLVMInitializeNativeAsmParser();
  char *cpu = LLVMGetHostCPUName();
  snprintf(host_cpu, sizeof host_cpu, "%s", cpu ? cpu : "generic");
  LLVMDisposeMessage(cpu);
  host_features = LLVMGetHostCPUFeatures(); /* kept for the process's lifetime */
}

/* Bytes of the widest vector register of the CPU the code is for: from the host's features, or
 * for a named CPU from its x86-64 level (v4: AVX-512, v3 and newer Intel/AMD names: AVX2). */
int lower_x86_vector_bytes(void) {
  pthread_once(&init_once, init_native);
  const char *want = flags_get("HELUA_TARGET_CPU");
  if (!want) {
    const char *f = host_features ? host_features : "";
    return strstr(f, "+avx512f") ? 64 : strstr(f, "+avx2") || strstr(f, "+avx,") ? 32 : 16;
  }
  if (strstr(want, "v4") || strstr(want, "avx512") || strstr(want, "lake") ||
      strstr(want, "rapids") || strstr(want, "znver4") || strstr(want, "znver5"))
    return strstr(want, "skylake") && !strstr(want, "avx512") ? 32 : 64;
  if (strstr(want, "v3") || strstr(want, "haswell") || strstr(want, "znver") ||
      strstr(want, "well"))
    return 32;
  return 16;
}

int lower_x86_target_machine(LLVMTargetMachineRef *out, char *cpu, size_t cpu_cap, Diag *d) {
  pthread_once(&init_once, init_native);
  if (!init_ok) return diag_set(d, "LLVM has no native (x86) target in this build");
  char *triple = LLVMGetDefaultTargetTriple();
  LLVMTargetRef target;
  char *err = NULL;
  if (LLVMGetTargetFromTriple(triple, &target, &err)) {
    diag_set(d, "LLVM cannot target %s: %s", triple, err ? err : "");
    LLVMDisposeMessage(err);
    LLVMDisposeMessage(triple);
    return HL_ERR;
  }
  /* HELUA_TARGET_CPU (e.g. x86-64-v3) makes the code, and its text, the same on every machine */
  const char *want = flags_get("HELUA_TARGET_CPU");
  const char *name = want ? want : host_cpu, *features = want            ? ""
                                                         : host_features ? host_features
                                                                         : "";
  *out = LLVMCreateTargetMachine(target, triple, name, features, LLVMCodeGenLevelAggressive,
                                 LLVMRelocPIC, LLVMCodeModelSmall);
  LLVMDisposeMessage(triple);
  if (!*out) return diag_set(d, "LLVM could not make a target machine for %s", name);
  if (cpu) snprintf(cpu, cpu_cap, "%s", name);
  return HL_OK;
}

static int llvm_error(LLVMErrorRef e, const char *what, Diag *d) {
  char *msg = LLVMGetErrorMessage(e);
  diag_set(d, "%s: %s", what, msg ? msg : "(no message)");
  LLVMDisposeErrorMessage(msg);
  return HL_ERR;
}

int lower_pass_optimize(LowerCtx *c, Diag *d) {
  LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(o, 1);
  LLVMPassBuilderOptionsSetSLPVectorization(o, 1);
  LLVMPassBuilderOptionsSetLoopUnrolling(o, 1);
  LLVMPassBuilderOptionsSetLoopInterleaving(o, 1);
  LLVMErrorRef e = LLVMRunPasses(c->mod, "default<O3>", c->tm, o);
  LLVMDisposePassBuilderOptions(o);
  if (e) return llvm_error(e, "LLVM's optimizer failed", d);
  c->art->llvm = NULL;
  char *text = LLVMPrintModuleToString(c->mod);
  size_t n = strlen(text);
  c->art->llvm = mem_alloc(n + 1);
  if (c->art->llvm) memcpy(c->art->llvm, text, n + 1);
  LLVMDisposeMessage(text);
  if (!c->art->llvm) return diag_set(d, "out of memory while keeping the LLVM IR");
  return HL_OK;
}

static int emit_to(LLVMTargetMachineRef tm, LLVMModuleRef m, LLVMCodeGenFileType kind, char **out,
                   size_t *len, Diag *d) {
  char *err = NULL;
  LLVMMemoryBufferRef buf = NULL;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, m, kind, &err, &buf)) {
    diag_set(d, "LLVM code generation failed: %s", err ? err : "");
    LLVMDisposeMessage(err);
    return HL_ERR;
  }
  size_t n = LLVMGetBufferSize(buf);
  *out = mem_alloc(n + 1);
  if (*out) {
    memcpy(*out, LLVMGetBufferStart(buf), n);
    (*out)[n] = '\0';
    *len = n;
  }
  LLVMDisposeMemoryBuffer(buf);
  return *out ? HL_OK : diag_set(d, "out of memory while keeping the object code");
}

int lower_pass_codegen(LowerCtx *c, Diag *d) {
  if (c->target == LOWER_TARGET_CUDA) return lower_nvptx_codegen(c, d);
  char *obj = NULL;
  size_t len = 0;
  if (emit_to(c->tm, c->mod, LLVMObjectFile, &obj, &len, d)) return HL_ERR;
  c->art->object = obj;
  c->art->object_len = len;
  return HL_OK;
}

int lower_artifact_asm(LowerArtifact *a, const char **out, Diag *d) {
  if (a->target == LOWER_TARGET_CUDA) { /* the cuda target's assembly is its PTX */
    *out = a->ptx;
    return a->ptx ? HL_OK : diag_set(d, "the kernel has no PTX");
  }
  if (a->asm_text) {
    *out = a->asm_text;
    return HL_OK;
  }
  if (!a->llvm) return diag_set(d, "the kernel has no LLVM IR to make assembly from");
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMMemoryBufferRef buf =
      LLVMCreateMemoryBufferWithMemoryRangeCopy(a->llvm, strlen(a->llvm), "kernel.ll");
  LLVMModuleRef m = NULL;
  char *err = NULL;
  LLVMTargetMachineRef tm = NULL;
  int rc = HL_ERR;
  if (LLVMParseIRInContext(ctx, buf, &m, &err)) { /* takes buf */
    diag_set(d, "internal: the kernel's LLVM IR does not parse: %s", err ? err : "");
    LLVMDisposeMessage(err);
    goto out;
  }
  size_t len;
  if (lower_x86_target_machine(&tm, NULL, 0, d) == HL_OK &&
      emit_to(tm, m, LLVMAssemblyFile, &a->asm_text, &len, d) == HL_OK) {
    *out = a->asm_text;
    rc = HL_OK;
  }
out:
  if (tm) LLVMDisposeTargetMachine(tm);
  if (m) LLVMDisposeModule(m);
  LLVMContextDispose(ctx);
  return rc;
}
