/* LLVM facts for the lowering stage: the version helua was built with, and the calls whose C API
 * changed between LLVM versions. Part of src/lower. Every LLVM-version #if of the project
 * belongs in this file. */
#include "lower/lower_version.h"

#include <llvm-c/Core.h>
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
  LLVMContextRef ctx = LLVMGetModuleContext(m);
  *fn_type = LLVMIntrinsicGetType(ctx, id, types, (size_t)n);
  return LLVMGetIntrinsicDeclaration(m, id, types, (size_t)n);
}
