/* LLVM facts for the lowering stage: the version helua was built with, and the calls whose C API
 * changed between LLVM versions. Part of src/lower. Every LLVM-version #if of the project
 * belongs in this file. */
#include "lower/lower_version.h"

#include <llvm-c/Core.h>
#include <llvm/Config/llvm-config.h> /* LLVM_VERSION_MAJOR */
#include <stdio.h>
#include <string.h>

#include "lower/lower_internal.h"

const char *lower_llvm_version(void) {
  static char buf[32];
  unsigned major = 0, minor = 0, patch = 0;
  LLVMGetVersion(&major, &minor, &patch);
  snprintf(buf, sizeof buf, "%u.%u.%u", major, minor, patch);
  return buf;
}

/* The declaration of intrinsic `name` overloaded on types. */
LLVMValueRef lower_intrinsic_decl(LLVMModuleRef m, const char *name, LLVMTypeRef *types, int n,
                                  LLVMTypeRef *fn_type) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  if (id == 0) return NULL; /* an unknown name would become an external call */
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  *fn_type = LLVMIntrinsicGetType(ctx, id, types, (size_t)n);
  return LLVMGetIntrinsicDeclaration(m, id, types, (size_t)n);
}

/* LLVM 21 removed llvm.nvvm.barrier0 for llvm.nvvm.barrier.cta.sync.aligned.all(i32 0). */
LLVMValueRef lower_nvptx_barrier(LLVMModuleRef m, LLVMBuilderRef b) {
  LLVMTypeRef fnty;
#if LLVM_VERSION_MAJOR >= 21
  LLVMValueRef fn =
      lower_intrinsic_decl(m, "llvm.nvvm.barrier.cta.sync.aligned.all", NULL, 0, &fnty);
  LLVMValueRef zero = LLVMConstInt(LLVMInt32TypeInContext(LLVMGetModuleContext(m)), 0, false);
  return LLVMBuildCall2(b, fnty, fn, &zero, 1, "");
#else
  LLVMValueRef fn = lower_intrinsic_decl(m, "llvm.nvvm.barrier0", NULL, 0, &fnty);
  return LLVMBuildCall2(b, fnty, fn, NULL, 0, "");
#endif
}
