/* Lowering: tile IR × Config → LLVM IR → x86 object code or PTX (sm_90a), through a named pass
 * pipeline. Part of src/lower (share/doc/lowering.md has the long form). The runtimes (src/rt,
 * src/rt/cuda) load and launch what this produces; they never see the tile IR.
 *
 * Use: fill a LowerConfig (lower_config_init, then set what the user gave), call lower_compile,
 * hand the artifact's object code to rt_cpu_load, launch with the artifact's launch record, and
 * free the artifact with lower_artifact_free. Nothing here raises or aborts: every function
 * returns HL_OK / HL_ERR and fills a Diag (the binding turns it into a Lua error). */
#ifndef HELUA_LOWER_LOWER_H
#define HELUA_LOWER_LOWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "ir/ir.h"

#define LOWER_MAX_LIST     64 /* entries of one config list (block sizes, loops, ...) */
#define LOWER_MAX_TUNABLES 32
#define LOWER_NAME_MAX     64

typedef enum LowerTarget { LOWER_TARGET_CPU, LOWER_TARGET_CUDA } LowerTarget;

/* How CUDA programs map onto CTAs (the config's pid_type). */
typedef enum LowerPidType {
  LOWER_PID_FLAT,                  /* one CTA per program: ctaid.x */
  LOWER_PID_XYZ,                   /* ctaid.x/y/z per dim of a 2-3 dim top-level tile */
  LOWER_PID_PERSISTENT_BLOCKED,    /* SMs * num_sm_multiplier CTAs, contiguous programs each */
  LOWER_PID_PERSISTENT_INTERLEAVED /* ... programs ctaid.x, ctaid.x + nctaid.x, ... */
} LowerPidType;
extern const char *const lower_pid_type_names[4];

/* How float32 dots multiply on the cuda target (the kernel setting dot_precision): exactly
 * (FMA), or on tensor cores with operands rounded to TF32 (10-bit mantissa, float32
 * accumulation; share/doc/lowering.md). The CPU always computes exactly. */
typedef enum LowerDotPrecision { LOWER_DOT_IEEE, LOWER_DOT_TF32 } LowerDotPrecision;
extern const char *const lower_dot_precision_names[2];

/* One user tunable's value, by name (hl.register_tunable). */
typedef struct LowerTunable {
  char name[LOWER_NAME_MAX];
  double value; /* int64 and bool tunables hold integral values */
} LowerTunable;

/* The Config as the lowering reads it: Helion's field names, plus the CPU knobs. A list may be
 * shorter than the kernel needs (the rest take defaults) but not longer. "Unset" markers:
 * block_sizes / reduction_loops / range_unroll_factors entries -1, a loop order of length 0,
 * vector_width and cpu_threads 0. */
typedef struct LowerConfig {
  int nblock_sizes;
  int64_t block_sizes[LOWER_MAX_LIST]; /* per block-size slot: a power of two */
  int nreduction_loops;
  int64_t reduction_loops[LOWER_MAX_LIST]; /* per reduction dim: 0 = none (persistent), else the
                                              chunk (a power of two) */
  int nloop_orders;
  int loop_order_len[LOWER_MAX_LIST];
  int loop_orders[LOWER_MAX_LIST][IR_MAX_RANK]; /* per multi-dim tile loop: 0-based permutation,
                                                   outermost dim first */
  int nrange_unroll_factors;
  int range_unroll_factors[LOWER_MAX_LIST]; /* per device loop: 0 = the compiler's choice */
  int vector_width;                         /* SIMD lanes on innermost loops; 0 = auto */
  int cpu_threads;                          /* worker threads; 0 = all cores */
  /* CUDA knobs (share/doc/gpu.md): 0 / empty = the default */
  int num_warps;         /* threads per program / 32: a power of two 1..32 */
  int num_stages;        /* software pipelining depth of the tensor-core dot (1..8) */
  int pid_type;          /* LowerPidType */
  int nl2_groupings;
  int l2_groupings[LOWER_MAX_LIST]; /* per top-level tile loop of 2+ dims: group-M swizzle */
  int num_sm_multiplier;            /* persistent programs per SM (a power of two) */
  int maxnreg;                      /* register cap per thread (0 = none) */
  int nload_eviction_policies;
  int load_eviction_policies[LOWER_MAX_LIST]; /* per load without its own policy: IrEviction */
  int sm_count; /* SMs of the target GPU for persistent grids; 0 = 132 (H100 SXM) */
  int dot_precision; /* LowerDotPrecision (a kernel setting, not a tuned knob) */
  int wgmma;         /* 0 unset (the space's default), 1 false, 2 true: K-loop dots on wgmma */
  int ntunables;
  LowerTunable tunables[LOWER_MAX_TUNABLES];
  int base; /* 1 when the values came from Lua: messages print list positions and loop orders
               1-based, as the user wrote them */
} LowerConfig;

void lower_config_init(LowerConfig *c); /* everything unset */

/* The Config resolved against one kernel: every knob has a value (given or default). */
typedef struct LowerBinding {
  int nslots;
  int64_t block[LOWER_MAX_LIST]; /* per block-size slot */
  int nrdims;
  int64_t rchunk[LOWER_MAX_LIST];         /* per reduction dim: 0 = persistent, else the chunk */
  int nloops;                             /* ir_func_loops order */
  int order[LOWER_MAX_LIST][IR_MAX_RANK]; /* per loop: dims outermost first (identity default) */
  int unroll[LOWER_MAX_LIST];             /* per loop: 0 = compiler's choice */
  int vector_width;                       /* 0 = auto */
  int threads;                            /* 0 = all cores */
  int ntunables;
  double tunable[LOWER_MAX_TUNABLES]; /* per IrFunc tunable, in its order */
  /* CUDA */
  LowerTarget target;
  int num_warps, num_stages, pid_type, num_sm_multiplier, maxnreg, sm_count;
  int dot_precision; /* LowerDotPrecision */
  bool wgmma;        /* bfloat16 / float16 K-loop dots on wgmma where nvmma takes the tile */
  int l2[LOWER_MAX_LIST]; /* per loop (ir_func_loops order): group size, 1 = none */
  int nevict;
  int evict[LOWER_MAX_LIST]; /* per load without its own policy, in program order */
} LowerBinding;

/* Resolves cfg against f (defaults for what is unset); a bad value gives a Diag naming the field
 * ("block_sizes[2] = 48 is not a power of two"). */
int lower_config_bind(const IrFunc *f, const LowerConfig *cfg, LowerBinding *out, Diag *d);
/* The same for a target: its config space gives the defaults, and the CUDA knobs are checked. */
int lower_config_bind_for(const IrFunc *f, const LowerConfig *cfg, LowerTarget target,
                          LowerBinding *out, Diag *d);

/* ---- the pipeline -------------------------------------------------------------------------- */

/* The named passes, in order (lower_pipeline.c). HELUA_DUMP_IR=<name>[,<name>...] prints the
 * stage after that pass to stderr ("all" for every pass). */
typedef enum LowerPassId {
  LOWER_PASS_DECOMPOSE,   /* tile IR → tile IR: softmax, mean into simpler ops */
  LOWER_PASS_BIND_CONFIG, /* Config → binding: block sizes, reduction strategy, loop orders */
  LOWER_PASS_PLAN,        /* which tile values live in buffers, which are fused into consumers */
  LOWER_PASS_EMIT_LLVM,   /* → LLVM IR: the program and grid functions */
  LOWER_PASS_OPTIMIZE,    /* LLVM O3 with loop and SLP vectorization for the host CPU */
  LOWER_PASS_CODEGEN,     /* → x86 object code (cuda: PTX text) */
  LOWER_NPASSES
} LowerPassId;

const char *lower_pass_name(LowerPassId p);

/* A kernel argument as the compiled code expects it (for checking launches). */
typedef struct LowerArgSig {
  char name[LOWER_NAME_MAX];
  bool is_tensor;
  DType dtype;
  int rank;
  int64_t sizes[IR_MAX_RANK];
  int64_t strides[IR_MAX_RANK];
} LowerArgSig;

/* Everything one compile produced: every stage's text, the binary, timings, launch info. */
typedef struct LowerArtifact {
  char *name;     /* kernel name */
  char *ir;       /* "ir": the traced tile IR */
  char *lowered;  /* "lowered": binding header + tile IR after decompose */
  char *llvm;     /* "llvm": optimized LLVM IR */
  char *asm_text; /* "asm": made on first request by lower_artifact_asm */
  void *object;   /* x86 ELF object code */
  size_t object_len;
  double ms[LOWER_NPASSES]; /* wall time per pass */
  double total_ms;
  char program_sym[128]; /* void program(void **args, int64_t pid_begin, int64_t pid_end) */
  char grid_sym[128];    /* int64_t grid(void **args): the number of programs */
  int64_t grid;          /* programs, or -1 when it depends on scalar arguments */
  int threads;           /* cap from the config (0 = all cores) */
  int64_t work_bytes;    /* bytes of the kernel's tensor arguments */
  size_t frame_bytes;    /* stack one program needs for its tile buffers */
  int nargs;
  LowerArgSig *args;
  LowerBinding bind;
  char cpu[64]; /* host CPU name the code was tuned for (cuda: "sm_90a") */
  /* CUDA (target LOWER_TARGET_CUDA): the PTX and how to launch it */
  LowerTarget target;
  char *ptx;         /* "ptx": the module's PTX text (NUL-terminated) */
  char entry[128];   /* the kernel's entry name */
  unsigned block[3]; /* 32 * num_warps threads */
  unsigned grid3[3]; /* CTAs per dim */
  unsigned shared_bytes; /* dynamic shared memory per CTA */
} LowerArtifact;

/* Runs the pipeline for target: x86 object code, or PTX for sm_90a (no driver needed). *out is
 * the caller's. */
int lower_compile(const IrFunc *f, const LowerConfig *cfg, LowerTarget target, LowerArtifact **out,
                  Diag *d);
/* Threads to launch with: the config's cpu_threads, else 0 (all cores), or 1 when the tensors
 * are so small (under 256 KiB in all) that waking the pool costs more than the work. */
int lower_artifact_threads(const LowerArtifact *a);
/* The "asm" stage, made on first call from the optimized LLVM IR; *out stays owned by a. */
int lower_artifact_asm(LowerArtifact *a, const char **out, Diag *d);
void lower_artifact_free(LowerArtifact *a); /* NULL is fine */

/* The llvm, asm or ptx text with each line that has a source location ending in a comment naming
 * it, as the ir stage does: "; add.lua:11" (LLVM IR, from its !DILocation), "# add.lua:11" (x86
 * assembly) and "// add.lua:11" (PTX), both from the .file / .loc directives before the line
 * (lower_dbg_text.c). *out is a new string for mem_free. */
typedef enum LowerTextKind { LOWER_TEXT_LLVM, LOWER_TEXT_X86, LOWER_TEXT_PTX } LowerTextKind;
int lower_annotate_lines(const char *text, LowerTextKind kind, char **out, Diag *d);

/* Tests only: emit an LLVM function the verifier rejects (to check that path gives a Diag). */
extern bool lower_test_break_llvm;

#endif
