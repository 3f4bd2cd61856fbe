/* Lowering internals shared by the src/lower files: the pipeline context, the IR rewriter, the
 * plan, and the LLVM emitter's state and helpers. Part of src/lower; not included elsewhere.
 *
 * The emitter's model (share/doc/lowering.md): a tile value of concrete shape [B0, B1, ...] is
 * held one of three ways: an LLVM scalar (one element), a stack buffer (row-major, every lane of
 * the full block), or "lazy" — an expression the consumer evaluates element by element inside
 * its own loop nest (elementwise chains, loads, views fuse this way). Every op that needs whole
 * values (materialization, reductions, dot, stores) is a loop nest the LLVM vectorizer handles. */
#ifndef HELUA_LOWER_INTERNAL_H
#define HELUA_LOWER_INTERNAL_H

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/DebugInfo.h>
#include <llvm-c/TargetMachine.h>

#include "lower/lower.h"

/* ---- pipeline context (lower_pipeline.c) ---------------------------------------------------- */

typedef struct LowerPlan LowerPlan;

typedef struct LowerCtx {
  const IrFunc *input; /* the traced IR (the caller's) */
  IrFunc *ir;          /* the IR after decompose (owned) */
  const LowerConfig *cfg;
  LowerBinding bind;
  LowerPlan *plan;
  LLVMContextRef llctx;
  LLVMModuleRef mod;
  LLVMTargetMachineRef tm;
  LowerArtifact *art;
  LowerTarget target;
  char sym[96]; /* unique symbol prefix of this compile */
} LowerCtx;

int lower_pass_decompose(LowerCtx *c, Diag *d);
int lower_pass_bind_config(LowerCtx *c, Diag *d);
int lower_pass_plan(LowerCtx *c, Diag *d);
int lower_pass_emit_llvm(LowerCtx *c, Diag *d);
int lower_pass_optimize(LowerCtx *c, Diag *d);
int lower_pass_codegen(LowerCtx *c, Diag *d);

/* lower_nvptx.c: the NVPTX target machine (nvptx64-nvidia-cuda, sm_90a, +ptx80). */
int lower_nvptx_target_machine(LLVMTargetMachineRef *out, Diag *d);
int lower_nvptx_codegen(LowerCtx *c, Diag *d);
/* lower_x86.c: the host target machine (O3, host CPU name and features). */
int lower_x86_target_machine(LLVMTargetMachineRef *out, char *cpu, size_t cpu_cap, Diag *d);
int lower_x86_vector_bytes(void); /* 64 with AVX-512, 32 with AVX2, else 16 */
/* lower_version.c: the LLVM-version-dependent calls. */
LLVMValueRef lower_intrinsic_decl(LLVMModuleRef m, const char *name, LLVMTypeRef *types, int n,
                                  LLVMTypeRef *fn_type);
/* The CTA barrier (bar.sync 0): llvm.nvvm.barrier0 up to LLVM 20, barrier.cta.sync after. */
LLVMValueRef lower_nvptx_barrier(LLVMModuleRef m, LLVMBuilderRef b);

/* ---- IR rewriting (lower_rewrite.c) --------------------------------------------------------- */

/* Rebuilds a function op by op through the IR builder, so each pass's output is built and
 * verified by the same rules as the tracer's. The hook sees every op (loops included) before it
 * is copied; it may build a replacement (setting the results' mapping) and set *done. */
typedef struct LowerRewrite LowerRewrite;
typedef int (*LowerRewriteFn)(LowerRewrite *rw, const IrOp *op, bool *done, Diag *d);

struct LowerRewrite {
  const IrFunc *src;
  IrBuilder *b;
  IrValueId *map; /* source value → new value */
  LowerRewriteFn fn;
  void *ud;
  const IrOp *loops[IR_MAX_DEPTH]; /* source loops enclosing the current op, outermost first */
  int depth;
};

int lower_rewrite(const IrFunc *src, LowerRewriteFn fn, void *ud, IrFunc **out, Diag *d);

/* ---- the plan (lower_plan.c) ---------------------------------------------------------------- */

typedef enum PlanKind {
  PLAN_NONE,   /* tensors, tiles, loop-index values handled by their definer */
  PLAN_SCALAR, /* one element: an LLVM value */
  PLAN_LAZY,   /* evaluated in its consumer's loops */
  PLAN_BUFFER, /* a stack buffer of the full block */
  PLAN_REGS    /* GPU: a row held in each thread's registers (lower_plan_regs.c) */
} PlanKind;

struct LowerPlan {
  int nvalues;
  uint8_t *kind;      /* PlanKind per value */
  int *nuses;         /* uses per value */
  int8_t *rloop;      /* per value: the looped reduction dim in its shape, -1 none */
  IrValueId *inplace; /* per value: the carried block argument a dot result accumulates into */
  uint8_t *regv;      /* GPU, per value: V of its register-resident row group, 0 none */
  const IrOp **loops; /* ir_func_loops order */
  int nloops;
};

void lower_plan_free(LowerPlan *p);
int64_t lower_dim_size(const LowerBinding *bind, const IrFunc *f, IrDim dim);
int64_t lower_numel(const LowerBinding *bind, const IrFunc *f, const IrShape *s);
bool lower_op_fusible(IrOpKind k); /* evaluated element by element (elementwise, loads, views) */
/* lower_plan_regs.c: the cuda target's register-resident rows (after the kinds are planned). */
int lower_plan_regs(LowerCtx *c, LowerPlan *p, Diag *d);
/* Per-thread elements of a register row of `len` elements: K slots of V, T threads. */
int64_t lower_regs_slots(int64_t len, int V, int64_t T);

/* ---- the emitter (lower_emit*.c) ------------------------------------------------------------ */

typedef enum LValKind {
  LV_NONE,
  LV_SCALAR, /* v: the value (SSA type of its dtype) */
  LV_BUF,    /* v: the buffer (memory type of its dtype), full block, row-major */
  LV_LAZY,   /* op: evaluated on demand */
  LV_TENSOR, /* v: the data pointer */
  LV_TILE,   /* tile: the tile's fields */
  LV_DEFER,  /* has a looped reduction dim: made per chunk, see LEmit.svals */
  LV_REGS    /* GPU: v: a per-thread array of K * V elements (a register row, see LEmit.reg) */
} LValKind;

typedef struct LTile {
  LLVMValueRef begin, end, vlen, id, count; /* i64; end clipped to the loop end */
  int64_t block;
  bool nonneg;       /* begin >= 0 for every tile (the loop begins at a constant >= 0) */
  int64_t max_index; /* largest index any lane of any tile reaches; INT64_MAX unknown */
  int64_t loop_end;  /* the loop's end when constant; INT64_MAX unknown */
} LTile;

typedef struct LVal {
  LValKind kind;
  LLVMValueRef v;
  const IrOp *op;
  LTile *tile;
} LVal;

typedef struct LLoop {
  LLVMBasicBlockRef hdr, body, latch, exit;
  LLVMValueRef iv, next;
  bool par;  /* GPU: distributed over the CTA's threads (em_par_begin) */
  bool full; /* GPU: a register-row loop (constant trip count, fully unrolled) */
} LLoop;

/* A loop nest over a shape (dims of size 1 get no loop unless bounds are given). */
typedef struct LNest {
  int rank;
  bool looped[IR_MAX_RANK];
  LLoop l[IR_MAX_RANK];
  LLVMValueRef idx[IR_MAX_RANK];
  bool par;                /* GPU: one flat loop distributed over the threads */
  LLoop pl;                /* that loop */
  LLoop vl;                /* GPU: the V consecutive elements of one thread's slot */
  int vec;                 /* V, 0 when one element per slot */
  LLVMBasicBlockRef skip;  /* GPU with bounds: where lanes outside them go */
} LNest;

typedef struct LEmit {
  LowerCtx *c;
  const IrFunc *f;
  const LowerBinding *bind;
  const LowerPlan *plan;
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMBuilderRef b;
  LLVMValueRef fn;
  LLVMBasicBlockRef alloca_bb;
  LLVMValueRef args; /* the void **args parameter */
  LLVMTypeRef i1, i8, i16, i32, i64, f16, f32, f64, ptr, vd;
  LVal *vals;
  LVal *svals; /* per value with a looped reduction dim: its form in the current chunk */
  int *sgen;
  int gen;
  LTile *active[LOWER_MAX_LIST]; /* per block-size slot: the innermost enclosing tile */
  LLVMValueRef roff[LOWER_MAX_LIST], rlen[LOWER_MAX_LIST]; /* per looped reduction dim */
  bool in_chunk[LOWER_MAX_LIST];
  size_t frame;  /* bytes of stack buffers */
  bool *done;    /* per value: made early (a reduction fused into the loop filling its input) */
  bool streamed; /* the function has non-temporal stores: it ends with a store fence */
  unsigned md_loop;
  /* GPU (lower_nvptx_emit.c): one program = one CTA of nthreads threads */
  bool gpu;
  int par;              /* > 0 inside a loop distributed over the threads */
  bool sread;           /* shared memory was read or written outside one since the last barrier */
  bool rw_global;       /* some tensor may be both stored to and loaded from (lower_nvptx_emit.c) */
  int vec_esize;        /* element bytes of the next distributed block (0: 4) */
  /* register rows (lower_nvptx_regs.c): reg_form asks the next distributed block for the
   * register layout with V = reg_form; inside one, k and v index each thread's array */
  int reg_form;
  struct {
    bool on;
    int V;
    int64_t K;
    LLVMValueRef k, v;
    LLVMBasicBlockRef skip, pre;
    bool sread;
  } reg;
  LLVMValueRef tid;     /* i64 thread index in the CTA */
  int64_t nthreads;
  LLVMValueRef smem;    /* the dynamic shared memory (addrspace 3) */
  size_t shared;        /* bytes of it the buffers use */
  int nloads;
  const IrOp *load_op[LOWER_MAX_LIST * 4];
  int load_evict[LOWER_MAX_LIST * 4]; /* IrEviction per load */
  Diag *d;
  bool failed;
  /* source lines (lower_dbg.c): NULL when not recorded */
  LLVMDIBuilderRef dib;
  LLVMMetadataRef difile;
} LEmit;

/* lower_dbg.c: each instruction's kernel-file line as a DILocation. em_dbg_at sets the builder's
 * location to op's line and returns the previous one for em_dbg_restore. */
void em_dbg_init(LEmit *E);
void em_dbg_function(LEmit *E, LLVMValueRef fn);
LLVMMetadataRef em_dbg_at(LEmit *E, const IrOp *op);
void em_dbg_restore(LEmit *E, LLVMMetadataRef prev);
void em_dbg_finish(LEmit *E);
void em_dbg_dispose(LEmit *E);

/* lower_emit_util.c: types, constants, loops, buffers, conversions, intrinsics. */
void em_init_types(LEmit *E);
LLVMTypeRef em_val_type(LEmit *E, DType dt);  /* SSA: bool i1, bfloat16 i16 (bits), half */
LLVMTypeRef em_mem_type(LEmit *E, DType dt);  /* in memory: bool i8 */
LLVMTypeRef em_comp_type(LEmit *E, DType dt); /* arithmetic: float16/bfloat16 compute in f32 */
DType em_comp_dtype(DType dt);                /* float16/bfloat16 → float32 */
LLVMValueRef em_i64(LEmit *E, int64_t v);
LLVMValueRef em_const(LEmit *E, DType dt, IrScalar v); /* SSA type */
LLVMValueRef em_zero(LEmit *E, DType dt);
LLVMValueRef em_to_comp(LEmit *E, DType dt, LLVMValueRef v);
LLVMValueRef em_from_comp(LEmit *E, DType dt, LLVMValueRef v);
LLVMValueRef em_mem_to_val(LEmit *E, DType dt, LLVMValueRef v);
LLVMValueRef em_val_to_mem(LEmit *E, DType dt, LLVMValueRef v);
LLVMValueRef em_cast(LEmit *E, DType from, DType to, LLVMValueRef v); /* SSA → SSA */
LLVMValueRef em_call_intr(LEmit *E, const char *name, LLVMTypeRef overload, LLVMValueRef *args,
                          int n);
LLVMValueRef em_call_intr2(LEmit *E, const char *name, LLVMTypeRef *overloads, int no,
                           LLVMValueRef *args, int n);
LLVMValueRef em_call_libm(LEmit *E, const char *name, LLVMTypeRef t, LLVMValueRef *args, int n);
LLVMValueRef em_smin(LEmit *E, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef em_smax(LEmit *E, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef em_alloca(LEmit *E, LLVMTypeRef t, int64_t n, const char *name);
LLVMValueRef em_buffer(LEmit *E, DType dt, const IrShape *s, const char *name);
LLVMValueRef em_buf_index(LEmit *E, const IrShape *s, LLVMValueRef *idx); /* row-major i64 */
LLVMValueRef em_buf_load(LEmit *E, DType dt, LLVMValueRef buf, LLVMValueRef lin);
void em_buf_store(LEmit *E, DType dt, LLVMValueRef buf, LLVMValueRef lin, LLVMValueRef v);
void em_loop_begin(LEmit *E, LLoop *l, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef step,
                   const char *name);
void em_loop_end(LEmit *E, LLoop *l, LLVMMetadataRef md);
enum { MD_NO_UNROLL = 1, MD_TAIL_FOLD = 2, MD_UNROLL_FULL = 4 };
LLVMMetadataRef em_loop_md(LEmit *E, int vector_width, int unroll); /* NULL when nothing to say */
LLVMMetadataRef em_loop_md_ex(LEmit *E, int vector_width, int unroll, unsigned flags);
LLVMMetadataRef em_inner_md(LEmit *E); /* innermost loops of tile nests */
LLVMMetadataRef em_outer_md(LEmit *E); /* the loops around them */
LLVMBasicBlockRef em_block(LEmit *E, const char *name);
void em_name(LEmit *E, LLVMValueRef v, const IrFunc *f, IrValueId id, const char *suffix);
int em_fail(LEmit *E, const IrOp *op, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Dims of a value's shape under the binding, and their valid lengths where the emitter is. */
int64_t em_dim(LEmit *E, IrDim dim);
LLVMValueRef em_vlen(LEmit *E, IrDim dim); /* lanes that count in reductions (i64) */
int64_t em_numel(LEmit *E, const IrShape *s);
/* operand index from a result index under NumPy broadcasting (right-aligned) */
void em_bcast_idx(LEmit *E, const IrShape *from, const IrShape *to, LLVMValueRef *idx,
                  LLVMValueRef *out);

/* lower_emit_elem.c: evaluating values element by element. */
/* Opens loops over s (each dim [0, hi[d]) when hi is given, else the full block); the builder
 * ends up in the innermost body with n->idx the indices. em_nest_end closes them. */
void em_nest_begin(LEmit *E, LNest *n, const IrShape *s, LLVMValueRef *hi);
void em_nest_end(LEmit *E, LNest *n);
const LVal *em_get(LEmit *E, IrValueId id); /* the value's current form (chunk-aware) */
void em_set(LEmit *E, IrValueId id, LVal v);
LLVMValueRef em_eval(LEmit *E, IrValueId id, LLVMValueRef *idx); /* SSA type */
LLVMValueRef em_eval_op(LEmit *E, const IrOp *op, LLVMValueRef *idx);
/* buf[every lane] = src (full block); src's shape must broadcast to `shape`. */
void em_fill(LEmit *E, LLVMValueRef buf, DType dt, const IrShape *shape, IrValueId src);
/* A buffer holding id's value (the value's own when it has one, else a filled temporary). */
LLVMValueRef em_materialize(LEmit *E, IrValueId id);

/* lower_emit_math.c: arithmetic on compute-typed values. */
LLVMValueRef em_unary(LEmit *E, IrOpKind k, DType dt, LLVMValueRef x);
LLVMValueRef em_binary(LEmit *E, IrOpKind k, DType dt, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef em_compare(LEmit *E, IrOpKind k, DType dt, LLVMValueRef a, LLVMValueRef b);

/* lower_emit_mem.c: loads (evaluated lazily) and stores / atomics (statements). */
LLVMValueRef em_eval_load(LEmit *E, const IrOp *op, LLVMValueRef *idx);
int em_store(LEmit *E, const IrOp *op);

/* lower_emit_reduce.c and lower_emit_dot.c: phases of a (possibly chunked) sink. */
typedef enum SinkPhase { SINK_INIT, SINK_BODY, SINK_FINISH } SinkPhase;
typedef struct SinkState {
  LLVMValueRef acc;  /* accumulator buffer (comp type) */
  LLVMValueRef best; /* argmax / argmin: best values so far */
  bool acc_is_result;
  int64_t groups;    /* GPU: threads splitting the reduced dim of one output */
} SinkState;
int em_reduce(LEmit *E, const IrOp *op, SinkPhase ph, SinkState *st);
void em_reduce_element(LEmit *E, const IrOp *op, SinkState *st, LLVMValueRef *idx, bool full);
int em_dot(LEmit *E, const IrOp *op, SinkPhase ph, SinkState *st);
LLVMValueRef em_reduce_identity(LEmit *E, IrOpKind k, DType dt); /* of the combine, acc dtype */
/* argmax / argmin: v beats best (greater / less, or NaN over a number) */
LLVMValueRef em_reduce_beats(LEmit *E, IrOpKind k, DType dt, LLVMValueRef v, LLVMValueRef best);
DType em_reduce_acc_dtype(IrOpKind k, DType src);

/* lower_emit.c: regions, loops, the program and grid functions. */
int em_region(LEmit *E, const IrRegion *r);
int em_prepare(LEmit *E, IrValueId id); /* makes a chunked value usable in this chunk */
typedef struct LoopDims {
  int ndims;
  LLVMValueRef lb[IR_MAX_RANK], ub[IR_MAX_RANK], count[IR_MAX_RANK];
  int64_t block[IR_MAX_RANK];
  int64_t clb[IR_MAX_RANK], cub[IR_MAX_RANK]; /* constant bounds, or INT64_MIN / INT64_MAX */
} LoopDims;
void em_loop_dims(LEmit *E, const IrOp *op, LoopDims *ld);
int em_nest_program(LEmit *E, const IrOp *op, const LoopDims *ld, LLVMValueRef local);
int em_loop_index(LEmit *E, const IrOp *op);
void em_function_begin(LEmit *E, LLVMValueRef fn); /* entry blocks, value tables reset */
void em_function_close(LEmit *E);
int em_host_ops(LEmit *E); /* the ops outside device loops (after the arguments are set) */

/* GPU pieces (lower_nvptx_emit.c, lower_nvptx_reduce.c); every one is a no-op or a plain loop
 * on the CPU, so the shared emitter calls them unconditionally. */
/* for (i = 0; i < n; i++), distributed over the threads on the GPU (i = tid, tid + T, ...)
 * unless already inside a distributed loop; the end of a distributed loop is a barrier. */
void em_par_begin(LEmit *E, LLoop *l, LLVMValueRef n, const char *name);
void em_par_end(LEmit *E, LLoop *l, LLVMMetadataRef md);
/* A distributed loop over a block of `sizes` (row-major): each thread takes slots of V
 * consecutive elements along the innermost dim (V = 4 where that dim allows), so the loads and
 * stores of one slot can become one vector access; idx gets each element's multi-index.
 * V = 16 bytes of E->vec_esize-byte elements (set by the caller for the next block; 4 when 0),
 * halved until it divides the innermost dim; *vec gets V (0: one element per slot). */
void em_par_block_begin(LEmit *E, LLoop *outer, LLoop *inner, int *vec, const int64_t *sizes,
                        int rank, LLVMValueRef *idx);
void em_par_block_end(LEmit *E, LLoop *outer, LLoop *inner, int vec);
void em_barrier(LEmit *E);
/* Scratch for a sink's accumulators: the stack on the CPU, shared memory on the GPU. */
LLVMValueRef em_work_buffer(LEmit *E, LLVMTypeRef t, int64_t n, const char *name);
LLVMValueRef em_shared_buffer(LEmit *E, LLVMTypeRef t, int64_t n);
/* dst[0..n) = src[0..n) (elements of dt). */
void em_copy_buf(LEmit *E, LLVMValueRef dst, LLVMValueRef src, DType dt, int64_t n);
/* A global load with an L1 eviction hint (ld.global.L1::evict_first / evict_last). */
LLVMValueRef em_nvptx_load_hint(LEmit *E, LLVMTypeRef mt, LLVMValueRef p, int policy);
int em_load_policy(LEmit *E, const IrOp *op); /* IrEviction for a load (GPU) */
/* GPU math the CPU sends to libm: NULL when the op is not one of them. */
LLVMValueRef em_nvptx_math(LEmit *E, IrOpKind k, LLVMValueRef x, LLVMValueRef y);
int em_gpu_reduce(LEmit *E, const IrOp *op, SinkPhase ph, SinkState *st);
/* lower_nvptx_regs.c: register rows. A PLAN_REGS value's fill; a reduction over a register
 * row (per-thread partial, warp shuffles, one shared exchange across warps); an element of an
 * LV_REGS value inside a register-layout block. */
int em_regs_fill(LEmit *E, const IrOp *op);
int em_regs_reduce(LEmit *E, const IrOp *op, SinkPhase ph, SinkState *st);
LLVMValueRef em_regs_elem(LEmit *E, IrValueId id, const LVal *v);
/* shfl.sync.bfly combine helpers shared with lower_nvptx_reduce.c */
LLVMValueRef em_shfl_xor(LEmit *E, LLVMValueRef v, int m);
/* sum / amax / amin (NaN-propagating) / integer max, min of two partials */
LLVMValueRef em_gpu_combine(LEmit *E, IrOpKind k, DType dt, LLVMValueRef a, LLVMValueRef v);
void em_gpu_gemm(LEmit *E, DType dt, LLVMValueRef A, LLVMValueRef B, LLVMValueRef C,
                 int64_t batch, int64_t M, int64_t N, int64_t K);
int lower_nvptx_emit_kernel(LEmit *E, const char *name);
/* lower_nvptx_dot.c: bfloat16 / float16 dots with a float32 accumulator on tensor cores.
 * A K loop `acc = dot(load, load, acc)`: match first, then em_nvptx_dot_loop emits it in place
 * of the loop (nvmma's pipelined main loop) and sets the loop's result. Any other such dot:
 * em_nvptx_dot_tc (from em_dot's body; acc: the float32 [batch, M, N] shared buffer, klen: the
 * valid K) when em_nvptx_dot_tc_ok. */
bool em_nvptx_dot_loop_match(LEmit *E, const IrOp *lop);
int em_nvptx_dot_loop(LEmit *E, const IrOp *lop, const LoopDims *ld);
bool em_nvptx_dot_tc_ok(LEmit *E, const IrOp *dot);
int em_nvptx_dot_tc(LEmit *E, const IrOp *dot, LLVMValueRef acc, LLVMValueRef klen);
/* float32 dots with dot_precision "tf32": mma.sync m16n8k8 .tf32 over em_dot's packed float32
 * operands (A [batch][M][K], B [batch][K][N]) into C [batch][M][N] (all shared memory) in place
 * of em_gpu_gemm, when em_nvptx_dot_tf32_ok (in: the operands' dtype; M, N, K the blocks). */
bool em_nvptx_dot_tf32_ok(LEmit *E, DType in, int64_t M, int64_t N, int64_t K);
void em_nvptx_dot_tf32(LEmit *E, LLVMValueRef A, LLVMValueRef B, LLVMValueRef C, int64_t batch,
                       int64_t M, int64_t N, int64_t K);

#endif
