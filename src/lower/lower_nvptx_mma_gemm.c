/* The nvmma proof GEMM: C = A·B as one LLVM module built from the nvmma API only, then O3 and
 * PTX for sm_90a. Part of src/lower (LLVM IR → PTX); see lower_nvptx_mma_gemm.h. */
#include "lower/lower_nvptx_mma_gemm.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lower/lower_nvptx_mma.h"

static pthread_once_t nvptx_once = PTHREAD_ONCE_INIT;

static void nvptx_init(void) {
  LLVMInitializeNVPTXTargetInfo();
  LLVMInitializeNVPTXTarget();
  LLVMInitializeNVPTXTargetMC();
  LLVMInitializeNVPTXAsmPrinter();
}

static const char *const TRIPLE = "nvptx64-nvidia-cuda";

static int target_machine(LLVMTargetMachineRef *out, Diag *d) {
  pthread_once(&nvptx_once, nvptx_init);
  LLVMTargetRef t;
  char *err = NULL;
  if (LLVMGetTargetFromTriple(TRIPLE, &t, &err)) {
    diag_set(d, "LLVM has no NVPTX target: %s", err ? err : "");
    LLVMDisposeMessage(err);
    return HL_ERR;
  }
  *out = LLVMCreateTargetMachine(t, TRIPLE, "sm_90a", "+ptx80", LLVMCodeGenLevelAggressive,
                                 LLVMRelocDefault, LLVMCodeModelDefault);
  return *out ? HL_OK : diag_set(d, "LLVM could not make an sm_90a target machine");
}

/* Kernel-builder state: the nvmma context plus the kernel's parameters. */
typedef struct G {
  NvmmaCtx x;
  LLVMValueRef A, B, C, M, N, K, lda, ldb, ldc;
} G;

static LLVMValueRef k32(G *g, int v) { return LLVMConstInt(g->x.i32, (unsigned long long)(long long)v, true); }

static LLVMValueRef sreg(G *g, const char *name) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  LLVMTypeRef ft = LLVMIntrinsicGetType(g->x.c, id, NULL, 0);
  return LLVMBuildCall2(g->x.b, ft, LLVMGetIntrinsicDeclaration(g->x.mod, id, NULL, 0), NULL, 0, "");
}

static LLVMValueRef min32(G *g, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(g->x.b, LLVMBuildICmp(g->x.b, LLVMIntSLT, a, b, ""), a, b, "");
}

static LLVMValueRef gep(G *g, LLVMTypeRef t, LLVMValueRef p, LLVMValueRef off32) {
  LLVMValueRef o = LLVMBuildSExt(g->x.b, off32, g->x.i64, "");
  return LLVMBuildInBoundsGEP2(g->x.b, t, p, &o, 1, "");
}

static LLVMValueRef mul64(G *g, LLVMValueRef a32, LLVMValueRef b32) {
  return LLVMBuildMul(g->x.b, LLVMBuildSExt(g->x.b, a32, g->x.i64, ""),
                      LLVMBuildSExt(g->x.b, b32, g->x.i64, ""), "");
}

static LLVMValueRef gep64(G *g, LLVMTypeRef t, LLVMValueRef p, LLVMValueRef off64) {
  return LLVMBuildInBoundsGEP2(g->x.b, t, p, &off64, 1, "");
}

/* if (cond) { store } as a branch. */
static void store_if(G *g, LLVMValueRef cond, LLVMValueRef v, LLVMValueRef p, unsigned align) {
  LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(g->x.b));
  LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(g->x.c, fn, "st"),
                    no = LLVMAppendBasicBlockInContext(g->x.c, fn, "st.end");
  LLVMBuildCondBr(g->x.b, cond, yes, no);
  LLVMPositionBuilderAtEnd(g->x.b, yes);
  LLVMSetAlignment(LLVMBuildStore(g->x.b, v, p), align);
  LLVMBuildBr(g->x.b, no);
  LLVMPositionBuilderAtEnd(g->x.b, no);
}

/* The epilogue: each accumulator pair (same row, columns col, col+1) stored 2-wide where both
 * are inside C and rows are aligned (vec16), else element by element, masked. */
static void store_c(G *g, NvmmaGemm *gm, LLVMValueRef *acc, LLVMValueRef m0, LLVMValueRef n0) {
  NvmmaCtx *x = &g->x;
  LLVMTypeRef et = gm->out_bf16 ? LLVMBFloatTypeInContext(x->c) : x->f32;
  unsigned esz = gm->out_bf16 ? 2 : 4;
  LLVMTypeRef v2 = LLVMVectorType(et, 2);
  for (int i = 0; i < nvmma_acc_count(&x->desc); i += 2) {
    LLVMValueRef row, col;
    nvmma_emit_acc_coord(x, i, &row, &col);
    LLVMValueRef r = LLVMBuildAdd(x->b, m0, row, ""), c = LLVMBuildAdd(x->b, n0, col, "");
    LLVMValueRef row_ok = LLVMBuildICmp(x->b, LLVMIntSLT, r, g->M, "");
    LLVMValueRef base = LLVMBuildAdd(x->b, mul64(g, r, g->ldc), LLVMBuildSExt(x->b, c, x->i64, ""), "");
    LLVMValueRef e0 = acc[i], e1 = acc[i + 1];
    if (gm->out_bf16) {
      e0 = LLVMBuildFPTrunc(x->b, e0, et, "");
      e1 = LLVMBuildFPTrunc(x->b, e1, et, "");
    }
    if (x->desc.vec16) { /* ldc even, col even: the pair is 2*esz-aligned */
      LLVMValueRef both = LLVMBuildAnd(x->b, row_ok,
          LLVMBuildICmp(x->b, LLVMIntSLT, LLVMBuildAdd(x->b, c, k32(g, 1), ""), g->N, ""), "");
      LLVMValueRef v = LLVMGetUndef(v2);
      v = LLVMBuildInsertElement(x->b, v, e0, k32(g, 0), "");
      v = LLVMBuildInsertElement(x->b, v, e1, k32(g, 1), "");
      LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(x->b));
      LLVMBasicBlockRef pair = LLVMAppendBasicBlockInContext(x->c, fn, "st2"),
                        one = LLVMAppendBasicBlockInContext(x->c, fn, "st1"),
                        done = LLVMAppendBasicBlockInContext(x->c, fn, "st.done");
      LLVMBuildCondBr(x->b, both, pair, one);
      LLVMPositionBuilderAtEnd(x->b, pair);
      LLVMSetAlignment(LLVMBuildStore(x->b, v, gep64(g, et, g->C, base)), 2 * esz);
      LLVMBuildBr(x->b, done);
      LLVMPositionBuilderAtEnd(x->b, one); /* the last column of a ragged C */
      store_if(g, LLVMBuildAnd(x->b, row_ok, LLVMBuildICmp(x->b, LLVMIntSLT, c, g->N, ""), ""), e0,
               gep64(g, et, g->C, base), esz);
      LLVMBuildBr(x->b, done);
      LLVMPositionBuilderAtEnd(x->b, done);
    } else {
      for (int e = 0; e < 2; e++) {
        LLVMValueRef ce = LLVMBuildAdd(x->b, c, k32(g, e), "");
        LLVMValueRef ok = LLVMBuildAnd(x->b, row_ok, LLVMBuildICmp(x->b, LLVMIntSLT, ce, g->N, ""), "");
        LLVMValueRef off = LLVMBuildAdd(x->b, base, LLVMConstInt(x->i64, (unsigned)e, 0), "");
        store_if(g, ok, e ? e1 : e0, gep64(g, et, g->C, off), esz);
      }
    }
  }
}

static void annotate(LLVMModuleRef mod, LLVMValueRef fn, const char *key, int v) {
  LLVMContextRef c = LLVMGetModuleContext(mod);
  LLVMMetadataRef ops[3] = {LLVMValueAsMetadata(fn), LLVMMDStringInContext2(c, key, strlen(key)),
                            LLVMValueAsMetadata(LLVMConstInt(LLVMInt32TypeInContext(c), (unsigned)v, 0))};
  LLVMAddNamedMetadataOperand(mod, "nvvm.annotations",
                              LLVMMetadataAsValue(c, LLVMMDNodeInContext2(c, ops, 3)));
}

static int build(G *g, NvmmaGemm *gm, LLVMModuleRef mod, LLVMBuilderRef b, Diag *d) {
  LLVMContextRef c = LLVMGetModuleContext(mod);
  LLVMTypeRef i32 = LLVMInt32TypeInContext(c), gp = LLVMPointerTypeInContext(c, 1);
  LLVMTypeRef params[9] = {gp, gp, gp, i32, i32, i32, i32, i32, i32};
  LLVMValueRef fn = LLVMAddFunction(mod, "nvmma_gemm", LLVMFunctionType(LLVMVoidTypeInContext(c), params, 9, 0));
  LLVMSetFunctionCallConv(fn, LLVMPTXKernelCallConv);
  unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
  for (unsigned i = 1; i <= 3; i++)
    LLVMAddAttributeAtIndex(fn, i, LLVMCreateEnumAttribute(c, noalias, 0));
  LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(c, fn, "entry"));
  LLVMValueRef smem = LLVMAddGlobalInAddressSpace(mod, LLVMArrayType(LLVMInt8TypeInContext(c), 0),
                                                  "nvmma_smem", 3);
  LLVMSetAlignment(smem, 1024); /* wgmma's 128-byte swizzle atoms are 1024-byte aligned */
  if (nvmma_ctx_init(&g->x, &gm->desc, mod, b, NULL, smem, d)) return HL_ERR;
  gm->desc = g->x.desc;
  const NvmmaDesc *s = &g->x.desc;
  annotate(mod, fn, "maxntidx", 32 * s->num_warps);
  annotate(mod, fn, "minctasm", 1);
  LLVMValueRef *pv[9] = {&g->A, &g->B, &g->C, &g->M, &g->N, &g->K, &g->lda, &g->ldb, &g->ldc};
  for (unsigned i = 0; i < 9; i++) *pv[i] = LLVMGetParam(fn, i);

  /* grouped program order: group_m tiles along M share their B columns in L2 */
  LLVMValueRef pid = sreg(g, "llvm.nvvm.read.ptx.sreg.ctaid.x");
  LLVMValueRef npm = LLVMBuildSDiv(b, LLVMBuildAdd(b, g->M, k32(g, s->bm - 1), ""), k32(g, s->bm), "");
  LLVMValueRef npn = LLVMBuildSDiv(b, LLVMBuildAdd(b, g->N, k32(g, s->bn - 1), ""), k32(g, s->bn), "");
  LLVMValueRef in_group = LLVMBuildMul(b, npn, k32(g, gm->group_m), "");
  LLVMValueRef first_m = LLVMBuildMul(b, LLVMBuildSDiv(b, pid, in_group, ""), k32(g, gm->group_m), "");
  LLVMValueRef gsize = min32(g, LLVMBuildSub(b, npm, first_m, ""), k32(g, gm->group_m));
  LLVMValueRef r = LLVMBuildSRem(b, pid, in_group, "");
  LLVMValueRef pid_m = LLVMBuildAdd(b, first_m, LLVMBuildSRem(b, r, gsize, ""), "");
  LLVMValueRef pid_n = LLVMBuildSDiv(b, r, gsize, "");
  LLVMValueRef m0 = LLVMBuildMul(b, pid_m, k32(g, s->bm), ""), n0 = LLVMBuildMul(b, pid_n, k32(g, s->bn), "");

  LLVMTypeRef i16 = LLVMInt16TypeInContext(c);
  NvmmaGlobal a = {.stride = LLVMBuildSExt(b, g->lda, g->x.i64, ""),
                   .mn_valid = LLVMBuildSub(b, g->M, m0, ""), .k_valid = g->K};
  a.ptr = s->a_trans ? gep(g, i16, g->A, m0) : gep64(g, i16, g->A, mul64(g, m0, g->lda));
  NvmmaGlobal bb = {.stride = LLVMBuildSExt(b, g->ldb, g->x.i64, ""),
                    .mn_valid = LLVMBuildSub(b, g->N, n0, ""), .k_valid = g->K};
  bb.ptr = s->b_trans ? gep64(g, i16, g->B, mul64(g, n0, g->ldb)) : gep(g, i16, g->B, n0);

  LLVMValueRef acc[256];
  nvmma_acc_zero(&g->x, acc);
  nvmma_emit_mainloop(&g->x, &a, &bb, g->K, acc);
  store_c(g, gm, acc, m0, n0);
  LLVMBuildRetVoid(b);
  return HL_OK;
}

static char *dup_buf(LLVMMemoryBufferRef buf) {
  size_t n = LLVMGetBufferSize(buf);
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, LLVMGetBufferStart(buf), n);
    s[n] = 0;
  }
  return s;
}

int nvmma_gemm_ptx(NvmmaGemm *gm, char **ptx, char **llvm_ir, Diag *d) {
  *ptx = NULL;
  if (llvm_ir) *llvm_ir = NULL;
  if (gm->group_m < 1) return diag_set(d, "nvmma_gemm: group_m %d must be at least 1", gm->group_m);
  LLVMTargetMachineRef tm;
  if (target_machine(&tm, d)) return HL_ERR;
  LLVMContextRef c = LLVMContextCreate();
  LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("nvmma_gemm", c);
  LLVMSetTarget(mod, TRIPLE);
  LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
  char *layout = LLVMCopyStringRepOfTargetData(td);
  LLVMSetDataLayout(mod, layout);
  LLVMDisposeMessage(layout);
  LLVMDisposeTargetData(td);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
  G g;
  int rc = build(&g, gm, mod, b, d);
  LLVMDisposeBuilder(b);
  char *err = NULL;
  if (!rc && LLVMVerifyModule(mod, LLVMReturnStatusAction, &err)) {
    rc = diag_set(d, "nvmma_gemm: the module does not verify: %.900s", err ? err : "");
  }
  LLVMDisposeMessage(err);
  err = NULL;
  if (!rc) {
    LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(o, 0);
    LLVMPassBuilderOptionsSetSLPVectorization(o, 0);
    LLVMErrorRef e = LLVMRunPasses(mod, "default<O3>", tm, o);
    LLVMDisposePassBuilderOptions(o);
    if (e) {
      char *msg = LLVMGetErrorMessage(e);
      rc = diag_set(d, "nvmma_gemm: optimizing: %s", msg);
      LLVMDisposeErrorMessage(msg);
    }
  }
  if (!rc && llvm_ir) {
    char *s = LLVMPrintModuleToString(mod);
    *llvm_ir = strdup(s);
    LLVMDisposeMessage(s);
  }
  LLVMMemoryBufferRef buf = NULL;
  if (!rc && LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMAssemblyFile, &err, &buf)) {
    rc = diag_set(d, "nvmma_gemm: emitting PTX: %s", err ? err : "");
    LLVMDisposeMessage(err);
  }
  if (!rc) {
    *ptx = dup_buf(buf);
    LLVMDisposeMemoryBuffer(buf);
    if (!*ptx) rc = diag_set(d, "nvmma_gemm: out of memory");
  }
  LLVMDisposeModule(mod);
  LLVMContextDispose(c);
  LLVMDisposeTargetMachine(tm);
  if (rc && llvm_ir) {
    free(*llvm_ir);
    *llvm_ir = NULL;
  }
  return rc;
}

void nvmma_gemm_dims(const NvmmaGemm *g, int m, int n, unsigned grid[3], unsigned block[3]) {
  const NvmmaDesc *s = &g->desc;
  grid[0] = (unsigned)(((m + s->bm - 1) / s->bm) * ((n + s->bn - 1) / s->bn));
  grid[1] = grid[2] = 1;
  block[0] = (unsigned)(32 * s->num_warps);
  block[1] = block[2] = 1;
}
