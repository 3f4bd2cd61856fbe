/* LLVM facts for the lowering stage: the version helua was built with.
 * Part of src/lower (tile IR × Config → LLVM IR → PTX / x86). */
#ifndef HELUA_LOWER_VERSION_H
#define HELUA_LOWER_VERSION_H

/* "19.1.7": the LLVM library actually linked, as reported by LLVM at run time. */
const char *lower_llvm_version(void);

#endif
