/* The GPU half of pass "emit_llvm": the kernel entry (parameters, program ids, launch bounds),
 * loops distributed over a CTA's threads, shared-memory buffers and barriers. Part of src/lower.
 *
 * Execution model (share/doc/lowering.md, "The CUDA target"): one program is one CTA of
 * T = 32 * num_warps threads. The shared emitter's statements are loop nests over a tile's full
 * block; on the GPU each becomes one flat loop whose iterations are dealt to the threads
 * (element tid, tid + T, ...: consecutive threads take consecutive elements of the innermost
 * dim, so global loads and stores coalesce). Buffers live in dynamic shared memory; the end of
 * every distributed loop that touched shared memory is a barrier, so the next statement sees
 * what it wrote and a loop rewriting a buffer never overtakes its readers (em_par_end says when
 * one is left out). Scalars are computed by every thread. */
#include <stdio.h>
#include <string.h>

#include "lower/lower_internal.h"

static const IrValue *val(LEmit *E, IrValueId id) {
  return ir_value(E->f, id);
}

/* ---- distributed loops, shared memory, barriers ---------------------------------------------- */

void em_barrier(LEmit *E) {
  if (!E->gpu) return;
  lower_nvptx_barrier(E->mod, E->b);
  E->sread = false;
}

void em_par_begin(LEmit *E, LLoop *l, LLVMValueRef n, const char *name) {
  l->par = E->gpu && E->par == 0;
  l->full = false;
  if (!l->par) {
    em_loop_begin(E, l, em_i64(E, 0), n, NULL, name);
    return;
  }
  /* every thread read shared memory outside a distributed loop (a scalar from a buffer), or
   * some wrote it there: let them all finish before this loop may overwrite or read it */
  if (E->sread) em_barrier(E);
  E->par++;
  em_loop_begin(E, l, E->tid, n, em_i64(E, E->nthreads), name);
}

/* Distributed loops are unrolled 4 times: more loads in flight per thread (latency, not
 * instruction count, bounds these loops). */
#define PAR_UNROLL 4

/* ---- which distributed loops need the barrier at their end ------------------------------------ */

typedef struct MemUse {
  bool shared; /* shared memory (or a pointer that may point there) read or written */
  bool gstore; /* global memory (maybe) written */
} MemUse;

/* A pointer's meaning for a barrier: addrspace 3 (shared), 1 (global), or generic — a stack slot
 * of the thread's own (an alloca under GEPs: nothing to order) or unknown (anything). */
static void use_pointer(LLVMValueRef p, bool write, MemUse *u) {
  unsigned as = LLVMGetPointerAddressSpace(LLVMTypeOf(p));
  if (as == 3) {
    u->shared = true;
  } else if (as == 1) {
    u->gstore |= write;
  } else {
    while (LLVMIsAGetElementPtrInst(p) || LLVMIsABitCastInst(p))
      p = LLVMGetOperand(p, 0);
    if (!LLVMIsAAllocaInst(p)) u->shared = u->gstore = true;
  }
}

static void use_inst(LLVMValueRef in, MemUse *u) {
  if (LLVMIsALoadInst(in)) {
    use_pointer(LLVMGetOperand(in, 0), false, u);
  } else if (LLVMIsAStoreInst(in)) {
    use_pointer(LLVMGetOperand(in, 1), true, u);
  } else if (LLVMIsAAtomicRMWInst(in) || LLVMIsAAtomicCmpXchgInst(in)) {
    use_pointer(LLVMGetOperand(in, 0), true, u);
  } else if (LLVMIsACallInst(in)) {
    /* an intrinsic without pointer arguments (math, special registers, shuffles) touches no
     * memory; anything else with a pointer (inline PTX loads, cp.async, ...) counts as a write
     * through it */
    int n = LLVMGetNumArgOperands(in);
    for (int i = 0; i < n; i++) {
      LLVMValueRef a = LLVMGetOperand(in, (unsigned)i);
      if (LLVMGetTypeKind(LLVMTypeOf(a)) == LLVMPointerTypeKind) use_pointer(a, true, u);
    }
    LLVMValueRef callee = LLVMGetCalledValue(in);
    size_t len = 0;
    const char *name = LLVMIsAFunction(callee) ? LLVMGetValueName2(callee, &len) : "";
    if (!LLVMIsAFunction(callee) && !LLVMIsAInlineAsm(callee)) u->shared = u->gstore = true;
    if (strncmp(name, "llvm.", 5) != 0 && !LLVMIsAInlineAsm(callee)) u->shared = u->gstore = true;
  }
}

/* What the code emitted since block `from` (a distributed loop's header: every block after it
 * was made inside the loop) does to memory. */
static MemUse scan_from(LEmit *E, LLVMBasicBlockRef from) {
  MemUse u = {0};
  (void)E;
  for (LLVMBasicBlockRef bb = from; bb; bb = LLVMGetNextBasicBlock(bb))
    for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in))
      use_inst(in, &u);
  return u;
}

/* The barrier at a distributed loop's end orders its shared-memory accesses against the next
 * statement's (a write before others' reads, a read before others' rewrite), and its global
 * stores against later loads of the same tensor by other threads. A loop that touched no shared
 * memory, and stored to no tensor the kernel also loads, needs none (a final `out = f(x, ...)`
 * loop, add's only loop). */
void em_par_end(LEmit *E, LLoop *l, LLVMMetadataRef md) {
  LLVMBasicBlockRef hdr = l->hdr;
  LLVMMetadataRef pmd =
      l->full ? em_loop_md_ex(E, 0, 0, MD_UNROLL_FULL) : em_loop_md(E, 0, PAR_UNROLL);
  em_loop_end(E, l, l->par ? pmd : md);
  if (!l->par) return;
  E->par--;
  MemUse u = scan_from(E, hdr);
  if (l->full && u.shared && E->reg.sread) {
    /* a register-row loop leaves the barrier owed to an earlier shared access out unless it
     * touches shared memory itself: then it goes before the loop after all */
    LLVMBasicBlockRef here = LLVMGetInsertBlock(E->b);
    LLVMPositionBuilderBefore(E->b, LLVMGetBasicBlockTerminator(E->reg.pre));
    lower_nvptx_barrier(E->mod, E->b);
    LLVMPositionBuilderAtEnd(E->b, here);
    E->sread = false;
  }
  if (u.shared || (u.gstore && E->rw_global)) em_barrier(E);
}

/* The register layout (lower_plan_regs.c): thread t takes slots t + k * T (k < K, a constant,
 * so the loop unrolls fully and each thread's array index k * V + v is a constant: its
 * elements live in registers). Only for rows (every dim 1 but the last). The barrier an
 * earlier shared access owes is put before the loop only if the loop touches shared memory
 * (em_par_end). */
static void regs_block_begin(LEmit *E, LLoop *outer, LLoop *inner, int *vec, const int64_t *sizes,
                             int rank, LLVMValueRef *idx) {
  int V = E->reg_form;
  E->reg_form = 0;
  E->vec_esize = 0;
  int64_t last = rank > 0 ? sizes[rank - 1] : 1;
  bool row = E->gpu && E->par == 0 && rank > 0 && last % V == 0;
  for (int i = 0; i + 1 < rank; i++)
    row = row && sizes[i] == 1;
  if (!row) em_fail(E, NULL, "internal: a register row's loop over a block that is not a row");
  int64_t slots = last / V, K = lower_regs_slots(last, V, E->nthreads);
  E->reg.sread = E->sread;
  E->reg.pre = LLVMGetInsertBlock(E->b);
  E->par++;
  em_loop_begin(E, outer, em_i64(E, 0), em_i64(E, K), NULL, "rk");
  outer->par = outer->full = true;
  LLVMValueRef s = LLVMBuildNSWAdd(
      E->b, E->tid, LLVMBuildNSWMul(E->b, outer->iv, em_i64(E, E->nthreads), ""), "");
  E->reg.skip = NULL;
  if (slots % E->nthreads != 0) {
    LLVMBasicBlockRef go = em_block(E, "rk.lane");
    E->reg.skip = em_block(E, "rk.skip");
    LLVMBuildCondBr(E->b, LLVMBuildICmp(E->b, LLVMIntSLT, s, em_i64(E, slots), ""), go,
                    E->reg.skip);
    LLVMPositionBuilderAtEnd(E->b, go);
  }
  LLVMValueRef v = em_i64(E, 0);
  if (V > 1) {
    em_loop_begin(E, inner, em_i64(E, 0), em_i64(E, V), NULL, "rv");
    v = inner->iv;
  }
  for (int i = 0; i + 1 < rank; i++)
    idx[i] = em_i64(E, 0);
  idx[rank - 1] = LLVMBuildNSWAdd(E->b, LLVMBuildNSWMul(E->b, s, em_i64(E, V), ""), v, "");
  E->reg.on = true;
  E->reg.V = V;
  E->reg.K = K;
  E->reg.k = outer->iv;
  E->reg.v = v;
  *vec = V > 1 ? V : 0;
}

static void regs_block_end(LEmit *E, LLoop *outer, LLoop *inner, int vec) {
  if (vec) em_loop_end(E, inner, em_loop_md_ex(E, 0, 0, MD_UNROLL_FULL));
  if (E->reg.skip) {
    LLVMBuildBr(E->b, E->reg.skip);
    LLVMPositionBuilderAtEnd(E->b, E->reg.skip);
  }
  E->reg.on = false;
  em_par_end(E, outer, NULL);
}

void em_par_block_begin(LEmit *E, LLoop *outer, LLoop *inner, int *vec, const int64_t *sizes,
                        int rank, LLVMValueRef *idx) {
  if (E->reg_form > 0) {
    regs_block_begin(E, outer, inner, vec, sizes, rank, idx);
    return;
  }
  int64_t numel = 1;
  for (int i = 0; i < rank; i++)
    numel *= sizes[i];
  int64_t last = rank > 0 ? sizes[rank - 1] : 1;
  int64_t V = 16 / (E->vec_esize > 0 ? E->vec_esize : 4);
  E->vec_esize = 0;
  if (V > 8) V = 8;
  while (V > 1 && last % V != 0)
    V /= 2;
  if (!E->gpu || E->par != 0) V = 1;
  *vec = V > 1 ? (int)V : 0;
  em_par_begin(E, outer, em_i64(E, numel / V), "t");
  LLVMValueRef flat = outer->iv, v = NULL;
  if (V > 1) {
    em_loop_begin(E, inner, em_i64(E, 0), em_i64(E, V), NULL, "v");
    v = inner->iv;
  }
  for (int i = rank - 1; i >= 0; i--) {
    int64_t size = i == rank - 1 ? sizes[i] / V : sizes[i];
    LLVMValueRef x = size == 1 ? em_i64(E, 0)
                     : i == 0  ? flat
                               : LLVMBuildURem(E->b, flat, em_i64(E, size), "");
    if (i > 0 && size != 1) flat = LLVMBuildUDiv(E->b, flat, em_i64(E, size), "");
    if (i == rank - 1 && v)
      x = LLVMBuildNSWAdd(E->b, LLVMBuildNSWMul(E->b, x, em_i64(E, V), ""), v, "");
    idx[i] = x;
  }
}

void em_par_block_end(LEmit *E, LLoop *outer, LLoop *inner, int vec) {
  if (outer->full) {
    regs_block_end(E, outer, inner, vec);
    return;
  }
  if (vec) em_loop_end(E, inner, em_loop_md(E, 0, vec)); /* unrolled: V accesses side by side */
  em_par_end(E, outer, NULL);
}

LLVMValueRef em_shared_buffer(LEmit *E, LLVMTypeRef t, int64_t n) {
  size_t size = (size_t)LLVMABISizeOfType(LLVMGetModuleDataLayout(E->mod), t);
  size_t off = (E->shared + 15) & ~(size_t)15;
  E->shared = off + size * (size_t)(n > 0 ? n : 1);
  LLVMValueRef o = em_i64(E, (int64_t)off);
  return LLVMBuildInBoundsGEP2(E->b, E->i8, E->smem, &o, 1, "smem");
}

LLVMValueRef em_work_buffer(LEmit *E, LLVMTypeRef t, int64_t n, const char *name) {
  return E->gpu ? em_shared_buffer(E, t, n) : em_alloca(E, t, n, name);
}

void em_copy_buf(LEmit *E, LLVMValueRef dst, LLVMValueRef src, DType dt, int64_t n) {
  if (!E->gpu) {
    int64_t size = (int64_t)LLVMABISizeOfType(LLVMGetModuleDataLayout(E->mod), em_mem_type(E, dt));
    LLVMBuildMemCpy(E->b, dst, 64, src, 64, em_i64(E, n * size));
    return;
  }
  LLoop l;
  em_par_begin(E, &l, em_i64(E, n), "copy");
  em_buf_store(E, dt, dst, l.iv, em_buf_load(E, dt, src, l.iv));
  em_par_end(E, &l, NULL);
}

/* ---- loads with eviction hints ---------------------------------------------------------------- */

int em_load_policy(LEmit *E, const IrOp *op) {
  for (int i = 0; i < E->nloads; i++)
    if (E->load_op[i] == op) return E->load_evict[i];
  return IR_EVICT_NONE;
}

/* The policies of every load in program order: the kernel's own, else the config's list. */
static void collect_policies(LEmit *E) {
  IrMemOpInfo mems[LOWER_MAX_LIST * 4];
  int n = ir_func_memops(E->f, mems, LOWER_MAX_LIST * 4), k = 0;
  E->nloads = 0;
  for (int i = 0; i < n && i < LOWER_MAX_LIST * 4; i++) {
    if (mems[i].kind != IR_OP_LOAD) continue;
    int pol = mems[i].explicit_eviction ? (int)mems[i].op->attrs->eviction
              : k < E->bind->nevict     ? E->bind->evict[k]
                                        : IR_EVICT_NONE;
    if (!mems[i].explicit_eviction) k++;
    E->load_op[E->nloads] = mems[i].op;
    E->load_evict[E->nloads++] = pol;
  }
}

LLVMValueRef em_nvptx_load_hint(LEmit *E, LLVMTypeRef mt, LLVMValueRef p, int policy) {
  unsigned bits = LLVMGetTypeKind(mt) == LLVMIntegerTypeKind ? LLVMGetIntTypeWidth(mt)
                  : mt == E->f64                             ? 64
                  : mt == E->f32                             ? 32
                                                             : 16;
  LLVMTypeRef it = bits == 64   ? E->i64
                   : bits == 32 ? E->i32
                                : E->i16; /* 8-bit values load into a 16-bit register */
  char text[96];
  snprintf(text, sizeof text, "ld.global.L1::%s.b%u $0, [$1];",
           policy == IR_EVICT_FIRST ? "evict_first" : "evict_last", bits < 8 ? 8 : bits);
  const char *cons = bits == 64 ? "=l,l" : bits == 32 ? "=r,l" : "=h,l";
  LLVMTypeRef pt = LLVMTypeOf(p);
  LLVMTypeRef fnty = LLVMFunctionType(it, &pt, 1, false);
  LLVMValueRef asmv = LLVMGetInlineAsm(fnty, text, strlen(text), cons, strlen(cons), true, false,
                                       LLVMInlineAsmDialectATT, false);
  LLVMValueRef r = LLVMBuildCall2(E->b, fnty, asmv, &p, 1, "");
  if (bits == 8) return LLVMBuildTrunc(E->b, r, mt, "");
  return LLVMTypeOf(r) == mt ? r : LLVMBuildBitCast(E->b, r, mt, "");
}

/* ---- the portable dot ------------------------------------------------------------------------ */

/* C[b, i, j] += sum_k A[b, i, k] B[b, k, j] from the packed shared-memory operands: one output
 * element per thread and step, FMA in the accumulator's type. */
void em_gpu_gemm(LEmit *E, DType dt, LLVMValueRef A, LLVMValueRef B, LLVMValueRef C,
                 int64_t batch, int64_t M, int64_t N, int64_t K) {
  LLVMBuilderRef b = E->b;
  LLVMTypeRef t = em_val_type(E, dt);
  LLoop l;
  em_par_begin(E, &l, em_i64(E, batch * M * N), "mn");
  LLVMValueRef j = LLVMBuildURem(b, l.iv, em_i64(E, N), "j");
  LLVMValueRef bi = LLVMBuildUDiv(b, l.iv, em_i64(E, N), "");
  LLVMValueRef i = LLVMBuildURem(b, bi, em_i64(E, M), "i");
  LLVMValueRef bt = LLVMBuildUDiv(b, bi, em_i64(E, M), "bt");
  LLVMValueRef arow = LLVMBuildNSWMul(b, LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, bt, em_i64(E, M), ""),
                                                         i, ""),
                                      em_i64(E, K), "");
  LLVMValueRef bbase = LLVMBuildNSWMul(b, bt, em_i64(E, K * N), "");
  LLVMValueRef slot = em_alloca(E, t, 1, "acc"); /* promoted to a register */
  LLVMBuildStore(b, em_buf_load(E, dt, C, l.iv), slot);
  LLoop lk;
  em_loop_begin(E, &lk, em_i64(E, 0), em_i64(E, K), NULL, "k");
  LLVMValueRef a = em_buf_load(E, dt, A, LLVMBuildNSWAdd(b, arow, lk.iv, ""));
  LLVMValueRef bo = LLVMBuildNSWAdd(
      b, bbase, LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, lk.iv, em_i64(E, N), ""), j, ""), "");
  LLVMValueRef bv = em_buf_load(E, dt, B, bo);
  LLVMValueRef acc = LLVMBuildLoad2(b, t, slot, "");
  LLVMValueRef next;
  if (dt == DT_INT32 || dt == DT_INT64) {
    next = LLVMBuildAdd(b, LLVMBuildMul(b, a, bv, ""), acc, "");
  } else {
    LLVMValueRef args[3] = {a, bv, acc};
    next = em_call_intr(E, "llvm.fmuladd", t, args, 3);
  }
  LLVMBuildStore(b, next, slot);
  em_loop_end(E, &lk, NULL);
  em_buf_store(E, dt, C, l.iv, LLVMBuildLoad2(b, t, slot, ""));
  em_par_end(E, &l, NULL);
}

/* ---- the kernel entry ------------------------------------------------------------------------ */

static bool stored_to(const IrFunc *f, IrValueId t) {
  IrMemOpInfo mems[LOWER_MAX_LIST * 4];
  int n = ir_func_memops(f, mems, LOWER_MAX_LIST * 4);
  for (int i = 0; i < n && i < LOWER_MAX_LIST * 4; i++)
    if (mems[i].kind != IR_OP_LOAD && mems[i].op->args[0] == t) return true;
  return n > LOWER_MAX_LIST * 4; /* too many to tell: assume written */
}

/* Whether a tensor may be stored to and loaded from in one kernel (so a loop's global stores
 * must be visible to other threads' later loads): by IR value for the kernel's tensor arguments;
 * a store or a load through a tensor made in the kernel (a view) may alias anything. */
static bool rw_global(const IrFunc *f) {
  IrMemOpInfo mems[LOWER_MAX_LIST * 4];
  int n = ir_func_memops(f, mems, LOWER_MAX_LIST * 4);
  if (n > LOWER_MAX_LIST * 4) return true;
  bool any_load = false, any_store = false, load_view = false, store_view = false;
  for (int i = 0; i < n; i++) {
    IrValueId t = mems[i].op->args[0];
    bool is_arg = ir_value(f, t)->def_kind == IR_DEF_ARG;
    if (mems[i].kind == IR_OP_LOAD) {
      any_load = true;
      load_view |= !is_arg;
      if (is_arg && stored_to(f, t)) return true;
    } else {
      any_store = true;
      store_view |= !is_arg;
    }
  }
  return (load_view && any_store) || (store_view && any_load);
}

static void add_attr(LEmit *E, LLVMValueRef fn, unsigned idx, const char *name) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(E->ctx, kind, 0));
}

static void annotate(LEmit *E, LLVMValueRef fn, const char *key, int value) {
  LLVMMetadataRef ops[3] = {LLVMValueAsMetadata(fn), LLVMMDStringInContext2(E->ctx, key, strlen(key)),
                            LLVMValueAsMetadata(LLVMConstInt(E->i32, (unsigned)value, false))};
  LLVMAddNamedMetadataOperand(E->mod, "nvvm.annotations",
                              LLVMMetadataAsValue(E->ctx, LLVMMDNodeInContext2(E->ctx, ops, 3)));
}

static LLVMValueRef sreg(LEmit *E, const char *name) {
  char full[64];
  snprintf(full, sizeof full, "llvm.nvvm.read.ptx.sreg.%s", name);
  return LLVMBuildZExt(E->b, em_call_intr(E, full, NULL, NULL, 0), E->i64, name);
}

/* Triton's grouped ordering: programs walk group_m rows of tiles column by column, so the tiles
 * running together share operands in L2. */
static LLVMValueRef l2_swizzle(LEmit *E, const LoopDims *ld, const int *order, LLVMValueRef local,
                               int group) {
  LLVMBuilderRef b = E->b;
  LLVMValueRef nm = ld->count[order[0]], nn = ld->count[order[1]], g = em_i64(E, group);
  LLVMValueRef in_group = LLVMBuildNSWMul(b, g, nn, "");
  LLVMValueRef first = LLVMBuildNSWMul(b, LLVMBuildUDiv(b, local, in_group, ""), g, "");
  LLVMValueRef size = em_smin(E, LLVMBuildNSWSub(b, nm, first, ""), g);
  LLVMValueRef r = LLVMBuildURem(b, local, in_group, "");
  LLVMValueRef pm = LLVMBuildNSWAdd(b, first, LLVMBuildURem(b, r, size, ""), "");
  LLVMValueRef pn = LLVMBuildUDiv(b, r, size, "");
  return LLVMBuildNSWAdd(b, LLVMBuildNSWMul(b, pm, nn, ""), pn, "l2");
}

static int64_t const_count(const LoopDims *ld, int d) {
  if (ld->clb[d] == INT64_MIN || ld->cub[d] == INT64_MAX) return -1;
  int64_t ext = ld->cub[d] > ld->clb[d] ? ld->cub[d] - ld->clb[d] : 0;
  return (ext + ld->block[d] - 1) / ld->block[d];
}

/* Grid dims from the pid type; a grid that is not known at compile time (scalar bounds) runs
 * persistent-interleaved over the SMs, the program count computed in the kernel. */
static int plan_grid(LEmit *E, const IrOp **nests, const LoopDims *dims, int nn, int *pid) {
  LowerArtifact *a = E->c->art;
  const LowerBinding *bd = E->bind;
  int64_t total = 0;
  bool known = true;
  for (int k = 0; k < nn; k++) {
    int64_t p = 1;
    for (int d = 0; d < dims[k].ndims; d++) {
      int64_t c = const_count(&dims[k], d);
      if (c < 0) known = false;
      p *= c < 0 ? 1 : c;
    }
    total += p;
  }
  *pid = bd->pid_type;
  if (!known && *pid != LOWER_PID_PERSISTENT_BLOCKED) *pid = LOWER_PID_PERSISTENT_INTERLEAVED;
  a->grid3[0] = a->grid3[1] = a->grid3[2] = 1;
  int64_t persistent = (int64_t)bd->sm_count * bd->num_sm_multiplier;
  if (*pid == LOWER_PID_XYZ) {
    const int *order = E->bind->order[em_loop_index(E, nests[0])];
    int nd = dims[0].ndims;
    for (int k = 0; k < nd; k++) {
      int64_t c = const_count(&dims[0], order[nd - 1 - k]);
      if (c > (k == 0 ? 2147483647 : 65535))
        return em_fail(E, nests[0], "pid_type xyz: %lld programs along one dim is more than "
                       "CUDA allows; use \"flat\"", (long long)c);
      a->grid3[k] = (unsigned)(c > 0 ? c : 1);
    }
  } else if (*pid == LOWER_PID_FLAT) {
    if (total > 2147483647)
      return em_fail(E, NULL, "%lld programs is more than one CUDA grid holds; use a persistent "
                     "pid_type", (long long)total);
    a->grid3[0] = (unsigned)(total > 0 ? total : 1);
  } else {
    int64_t g = known && total < persistent ? total : persistent;
    a->grid3[0] = (unsigned)(g > 0 ? g : 1);
  }
  a->grid = known ? total : -1;
  return HL_OK;
}

int lower_nvptx_emit_kernel(LEmit *E, const char *name) {
  const IrFunc *f = E->f;
  const LowerBinding *bd = E->bind;
  LLVMTypeRef gptr = LLVMPointerTypeInContext(E->ctx, 1);
  LLVMTypeRef params[256];
  if (f->nargs > 256) return em_fail(E, NULL, "more than 256 kernel arguments");
  for (int i = 0; i < f->nargs; i++) {
    const IrValue *av = val(E, f->args[i]);
    params[i] = av->kind == IR_VAL_TENSOR      ? gptr
                : ir_dtype_is_float(av->dtype) ? E->f64
                                               : E->i64;
  }
  LLVMValueRef fn =
      LLVMAddFunction(E->mod, name, LLVMFunctionType(E->vd, params, (unsigned)f->nargs, false));
  LLVMSetFunctionCallConv(fn, LLVMPTXKernelCallConv);
  for (int i = 0; i < f->nargs; i++) {
    if (val(E, f->args[i])->kind != IR_VAL_TENSOR) continue;
    add_attr(E, fn, (unsigned)i + 1, "noalias");
    /* the launch checks it (rt: every tensor's first element 16-byte aligned), so slots of V
     * consecutive elements become 16-byte vector loads and stores */
    unsigned align = LLVMGetEnumAttributeKindForName("align", 5);
    LLVMAddAttributeAtIndex(fn, (unsigned)i + 1, LLVMCreateEnumAttribute(E->ctx, align, 16));
    if (!stored_to(f, f->args[i])) add_attr(E, fn, (unsigned)i + 1, "readonly"); /* ld.global.nc */
  }
  E->rw_global = rw_global(f);
  E->nthreads = 32 * (int64_t)bd->num_warps;
  E->c->art->block[0] = (unsigned)E->nthreads;
  E->c->art->block[1] = E->c->art->block[2] = 1;
  annotate(E, fn, "kernel", 1);
  annotate(E, fn, "maxntidx", (int)E->nthreads);
  if (bd->maxnreg) annotate(E, fn, "maxnreg", bd->maxnreg > 255 ? 255 : bd->maxnreg);
  LLVMTypeRef smt = LLVMArrayType2(E->i8, 0);
  E->smem = LLVMAddGlobalInAddressSpace(E->mod, smt, "helua_smem", 3);
  LLVMSetLinkage(E->smem, LLVMExternalLinkage);
  LLVMSetAlignment(E->smem, 16);
  collect_policies(E);
  em_function_begin(E, fn);
  E->fn = fn;
  E->tid = sreg(E, "tid.x");
  for (int i = 0; i < f->nargs; i++) {
    IrValueId a = f->args[i];
    const IrValue *av = val(E, a);
    LLVMValueRef p = LLVMGetParam(fn, (unsigned)i);
    em_name(E, p, f, a, "");
    if (av->kind == IR_VAL_TENSOR) {
      E->vals[a] = (LVal){.kind = LV_TENSOR, .v = p};
      continue;
    }
    bool fl = ir_dtype_is_float(av->dtype);
    E->vals[a] = (LVal){.kind = LV_SCALAR, .v = em_cast(E, fl ? DT_FLOAT64 : DT_INT64, av->dtype, p)};
  }
  if (em_host_ops(E)) return HL_ERR;
  const IrOp *nests[LOWER_MAX_LIST];
  LoopDims dims[LOWER_MAX_LIST];
  LLVMValueRef totals[LOWER_MAX_LIST];
  int nn = 0;
  for (const IrOp *op = f->body->first; op; op = op->next) {
    if (!op->body) continue;
    if (nn == LOWER_MAX_LIST)
      return em_fail(E, op, "too many top-level loop nests (at most %d)", LOWER_MAX_LIST);
    nests[nn] = op;
    em_loop_dims(E, op, &dims[nn]);
    totals[nn] = dims[nn].count[0];
    for (int d = 1; d < dims[nn].ndims; d++)
      totals[nn] = LLVMBuildNSWMul(E->b, totals[nn], dims[nn].count[d], "");
    nn++;
  }
  int pid;
  if (plan_grid(E, nests, dims, nn, &pid)) return HL_ERR;
  LLVMValueRef all = em_i64(E, 0);
  for (int k = 0; k < nn; k++)
    all = LLVMBuildNSWAdd(E->b, all, totals[k], "");
  LLVMValueRef cx = sreg(E, "ctaid.x"), nx = sreg(E, "nctaid.x");
  LLVMValueRef pb, pe, step = NULL;
  switch (pid) {
  case LOWER_PID_XYZ: {
    LLVMValueRef cy = sreg(E, "ctaid.y"), ny = sreg(E, "nctaid.y"), cz = sreg(E, "ctaid.z");
    LLVMValueRef yz = LLVMBuildNSWAdd(E->b, cy, LLVMBuildNSWMul(E->b, ny, cz, ""), "");
    pb = LLVMBuildNSWAdd(E->b, cx, LLVMBuildNSWMul(E->b, nx, yz, ""), "pid");
    pe = LLVMBuildNSWAdd(E->b, pb, em_i64(E, 1), "");
    break;
  }
  case LOWER_PID_FLAT:
    pb = cx;
    pe = LLVMBuildNSWAdd(E->b, pb, em_i64(E, 1), "");
    break;
  case LOWER_PID_PERSISTENT_BLOCKED: {
    LLVMValueRef per = LLVMBuildUDiv(
        E->b, LLVMBuildNSWAdd(E->b, all, LLVMBuildNSWSub(E->b, nx, em_i64(E, 1), ""), ""), nx, "");
    pb = LLVMBuildNSWMul(E->b, cx, per, "");
    pe = em_smin(E, LLVMBuildNSWAdd(E->b, pb, per, ""), all);
    break;
  }
  default:
    pb = cx;
    pe = all;
    step = nx;
  }
  LLoop pl;
  em_loop_begin(E, &pl, pb, pe, step, "pid");
  LLVMValueRef local = pl.iv;
  LLVMBasicBlockRef done = nn > 1 ? em_block(E, "program.done") : NULL;
  for (int k = 0; k < nn; k++) {
    const int *order = bd->order[em_loop_index(E, nests[k])];
    int group = bd->l2[em_loop_index(E, nests[k])];
    bool last = k + 1 == nn;
    LLVMBasicBlockRef next = NULL;
    if (!last) {
      LLVMBasicBlockRef here = em_block(E, "nest");
      next = em_block(E, "nest.next");
      LLVMBuildCondBr(E->b, LLVMBuildICmp(E->b, LLVMIntSLT, local, totals[k], ""), here, next);
      LLVMPositionBuilderAtEnd(E->b, here);
    }
    LLVMValueRef id = local;
    if (group > 1 && dims[k].ndims == 2) id = l2_swizzle(E, &dims[k], order, local, group);
    if (em_nest_program(E, nests[k], &dims[k], id)) return HL_ERR;
    if (done) LLVMBuildBr(E->b, done);
    if (!last) {
      LLVMPositionBuilderAtEnd(E->b, next);
      local = LLVMBuildNSWSub(E->b, local, totals[k], "");
    } else if (done) {
      LLVMPositionBuilderAtEnd(E->b, done);
    }
  }
  /* one program per CTA (flat, xyz): no next iteration can rewrite what this one read, so the
   * barrier em_loop_end owes a shared access outside distributed loops is not needed */
  if (pid == LOWER_PID_FLAT || pid == LOWER_PID_XYZ) E->sread = false;
  em_loop_end(E, &pl, NULL);
  LLVMBuildRetVoid(E->b);
  em_function_close(E);
  return E->failed ? HL_ERR : HL_OK;
}
