/* LLVM facts for the lowering stage: the version helua was built with.
 * Part of src/lower. Every LLVM-version #if of the project belongs in this folder. */
#include "lower/lower_version.h"

#include <llvm-c/Core.h>
#include <stdio.h>

const char *lower_llvm_version(void) {
  static char buf[32];
  unsigned major = 0, minor = 0, patch = 0;
  LLVMGetVersion(&major, &minor, &patch);
  snprintf(buf, sizeof buf, "%u.%u.%u", major, minor, patch);
  return buf;
}
