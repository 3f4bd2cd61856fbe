/* Source lines through LLVM: every emitted instruction carries the kernel-file line of the IR op it
 * came from (a DILocation), so the llvm, asm and ptx texts can say where each line came from.
 * Part of src/lower (emit_llvm, and the text of the llvm / asm / ptx stages).
 *
 * The debug info is "directives only": line locations and no variables, no DWARF sections in
 * the PTX (NVPTX writes .file / .loc, which ptxas and the driver's JIT read as line info). The
 * annotator turns what LLVM wrote into the same trailing "FILE:LINE" comment the ir stage has
 * ("; add.lua:11" in LLVM IR, "# add.lua:11" in x86 assembly, "// add.lua:11" in PTX), which
 * is what the workbench's source <-> code links read (wb_line_origin). */
#include <llvm-c/DebugInfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "lower/lower_internal.h"

/* DICompileUnit::DebugDirectivesOnly: the C API's enum stops at LineTablesOnly (2). */
#define EMISSION_DIRECTIVES_ONLY ((LLVMDWARFEmissionKind)3)

/* The kernel's file (the IR's file 0) by its base name, as the ir stage's notes name it. */
static LLVMMetadataRef kernel_file(LEmit *E) {
  const char *name = E->f->nfiles > 0 && E->f->files[0] ? E->f->files[0] : "kernel";
  const char *slash = strrchr(name, '/');
  if (slash) name = slash + 1;
  return LLVMDIBuilderCreateFile(E->dib, name, strlen(name), "", 0);
}

void em_dbg_init(LEmit *E) {
  E->dib = LLVMCreateDIBuilder(E->mod);
  E->difile = kernel_file(E);
  LLVMDIBuilderCreateCompileUnit(E->dib, LLVMDWARFSourceLanguageC, E->difile, "helua", 5, 1, "", 0, 0,
                                 "", 0, EMISSION_DIRECTIVES_ONLY, 0, 0, 0, "", 0, "", 0);
  LLVMTypeRef i32 = LLVMInt32TypeInContext(E->ctx);
  LLVMAddModuleFlag(E->mod, LLVMModuleFlagBehaviorWarning, "Debug Info Version", 18,
                    LLVMValueAsMetadata(LLVMConstInt(i32, LLVMDebugMetadataVersion(), 0)));
  LLVMAddModuleFlag(E->mod, LLVMModuleFlagBehaviorWarning, "Dwarf Version", 13,
                    LLVMValueAsMetadata(LLVMConstInt(i32, E->gpu ? 2 : 4, 0)));
}

/* The first line of the kernel's body: where a function's own instructions (prologue, grid
 * arithmetic) are placed. */
static int first_line(const IrFunc *f) {
  for (const IrOp *op = f->body ? f->body->first : NULL; op; op = op->next)
    if (op->loc.line > 0) return op->loc.line;
  return 1;
}

void em_dbg_function(LEmit *E, LLVMValueRef fn) {
  LLVMSetCurrentDebugLocation2(E->b, NULL);
  if (!E->dib) return;
  size_t len;
  const char *name = LLVMGetValueName2(fn, &len);
  int line = first_line(E->f);
  LLVMMetadataRef ty = LLVMDIBuilderCreateSubroutineType(E->dib, E->difile, NULL, 0, LLVMDIFlagZero);
  LLVMMetadataRef sp = LLVMDIBuilderCreateFunction(E->dib, E->difile, name, len, name, len, E->difile,
                                                   (unsigned)line, ty, 0, 1, (unsigned)line,
                                                   LLVMDIFlagZero, 1);
  LLVMSetSubprogram(fn, sp);
  LLVMSetCurrentDebugLocation2(E->b, LLVMDIBuilderCreateDebugLocation(E->ctx, (unsigned)line, 0, sp, NULL));
}

LLVMMetadataRef em_dbg_at(LEmit *E, const IrOp *op) {
  LLVMMetadataRef prev = LLVMGetCurrentDebugLocation2(E->b);
  /* ops traced in another file than the kernel's keep the line of the op that uses them */
  if (!E->dib || !op || op->loc.line <= 0 || op->loc.file > 0 || !E->fn) return prev;
  LLVMMetadataRef sp = LLVMGetSubprogram(E->fn);
  if (!sp) return prev;
  LLVMSetCurrentDebugLocation2(E->b, LLVMDIBuilderCreateDebugLocation(E->ctx, (unsigned)op->loc.line,
                                                                      0, sp, NULL));
  return prev;
}

void em_dbg_restore(LEmit *E, LLVMMetadataRef prev) {
  if (E->dib) LLVMSetCurrentDebugLocation2(E->b, prev);
}

/* Every instruction's location must belong to its own function's subprogram, and a call to a
 * function with a subprogram needs one: instructions a builder made after it moved into another
 * function lose theirs; calls without one get their function's first line. */
void em_dbg_finish(LEmit *E) {
  if (!E->dib) return;
  for (LLVMValueRef fn = LLVMGetFirstFunction(E->mod); fn; fn = LLVMGetNextFunction(fn)) {
    LLVMMetadataRef sp = LLVMGetSubprogram(fn);
    for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb; bb = LLVMGetNextBasicBlock(bb))
      for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in)) {
        LLVMMetadataRef loc = LLVMInstructionGetDebugLoc(in);
        if (loc) {
          if (!sp || LLVMDILocationGetScope(loc) != sp) LLVMInstructionSetDebugLoc(in, NULL);
        }
        if (sp && !LLVMInstructionGetDebugLoc(in) && LLVMIsACallInst(in)) {
          LLVMValueRef callee = LLVMGetCalledValue(in);
          if (callee && LLVMIsAFunction(callee) && LLVMGetSubprogram(callee))
            LLVMInstructionSetDebugLoc(in, LLVMDIBuilderCreateDebugLocation(
                                               E->ctx, LLVMDISubprogramGetLine(sp), 0, sp, NULL));
        }
      }
  }
  LLVMDIBuilderFinalize(E->dib);
}

void em_dbg_dispose(LEmit *E) {
  if (E->dib) LLVMDisposeDIBuilder(E->dib);
  E->dib = NULL;
}
