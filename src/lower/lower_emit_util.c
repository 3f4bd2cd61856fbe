/* Emitter helpers: LLVM types of dtypes, constants, dtype conversions (float16 and bfloat16 are
 * stored as such and computed in float32, rounding to nearest even), loops with their metadata,
 * stack buffers, intrinsics. Part of src/lower (emit_llvm). */
#include <llvm-c/DebugInfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lower/lower_internal.h"

void em_init_types(LEmit *E) {
  LLVMContextRef c = E->ctx;
  E->i1 = LLVMInt1TypeInContext(c);
  E->i8 = LLVMInt8TypeInContext(c);
  E->i16 = LLVMInt16TypeInContext(c);
  E->i32 = LLVMInt32TypeInContext(c);
  E->i64 = LLVMInt64TypeInContext(c);
  E->f16 = LLVMHalfTypeInContext(c);
  E->f32 = LLVMFloatTypeInContext(c);
  E->f64 = LLVMDoubleTypeInContext(c);
  E->ptr = LLVMPointerTypeInContext(c, 0);
  E->vd = LLVMVoidTypeInContext(c);
  E->md_loop = LLVMGetMDKindIDInContext(c, "llvm.loop", 9);
}

LLVMTypeRef em_val_type(LEmit *E, DType dt) {
  switch (dt) {
  case DT_FLOAT64:
    return E->f64;
  case DT_FLOAT32:
    return E->f32;
  case DT_FLOAT16:
    return E->f16;
  case DT_BFLOAT16:
  case DT_INT16:
    return E->i16;
  case DT_INT64:
    return E->i64;
  case DT_INT32:
    return E->i32;
  case DT_INT8:
  case DT_UINT8:
    return E->i8;
  default:
    return E->i1;
  }
}

LLVMTypeRef em_mem_type(LEmit *E, DType dt) {
  return dt == DT_BOOL ? E->i8 : em_val_type(E, dt);
}

DType em_comp_dtype(DType dt) {
  return dt == DT_FLOAT16 || dt == DT_BFLOAT16 ? DT_FLOAT32 : dt;
}

LLVMTypeRef em_comp_type(LEmit *E, DType dt) {
  return em_val_type(E, em_comp_dtype(dt));
}

LLVMValueRef em_i64(LEmit *E, int64_t v) {
  return LLVMConstInt(E->i64, (unsigned long long)v, true);
}

LLVMValueRef em_const(LEmit *E, DType dt, IrScalar v) {
  double f = v.is_float ? v.f : (double)v.i;
  int64_t i = v.is_float ? (int64_t)v.f : v.i;
  switch (dt) {
  case DT_FLOAT64:
  case DT_FLOAT32:
  case DT_FLOAT16:
    return LLVMConstReal(em_val_type(E, dt), f);
  case DT_BFLOAT16:
    return LLVMConstInt(E->i16, tensor_f64_to_bf16(f), false);
  case DT_BOOL:
    return LLVMConstInt(E->i1, v.is_float ? f != 0 : i != 0, false);
  default:
    return LLVMConstInt(em_val_type(E, dt), (unsigned long long)i, true);
  }
}

LLVMValueRef em_zero(LEmit *E, DType dt) {
  return em_const(E, dt, (IrScalar){0});
}

/* ---- conversions --------------------------------------------------------------------------- */

LLVMValueRef em_to_comp(LEmit *E, DType dt, LLVMValueRef v) {
  if (dt == DT_FLOAT16) return LLVMBuildFPExt(E->b, v, E->f32, "");
  if (dt == DT_BFLOAT16 && E->gpu && LLVMGetTypeKind(LLVMTypeOf(v)) == LLVMIntegerTypeKind)
    /* sm_90: cvt.f32.bf16, one instruction */
    return LLVMBuildFPExt(E->b, LLVMBuildBitCast(E->b, v, LLVMBFloatTypeInContext(E->ctx), ""),
                          E->f32, "");
  if (dt == DT_BFLOAT16) {
    LLVMValueRef w = LLVMBuildZExt(E->b, v, E->i32, "");
    w = LLVMBuildShl(E->b, w, LLVMConstInt(E->i32, 16, false), "");
    return LLVMBuildBitCast(E->b, w, E->f32, "");
  }
  return v;
}

/* float → bfloat16 bits, round to nearest even, NaN kept quiet (tensor_f32_to_bf16's rule). */
static LLVMValueRef f32_to_bf16(LEmit *E, LLVMValueRef x) {
  LLVMBuilderRef b = E->b;
  LLVMValueRef bits = LLVMBuildBitCast(b, x, E->i32, "");
  LLVMValueRef hi = LLVMBuildLShr(b, bits, LLVMConstInt(E->i32, 16, false), "");
  LLVMValueRef lsb = LLVMBuildAnd(b, hi, LLVMConstInt(E->i32, 1, false), "");
  LLVMValueRef r = LLVMBuildAdd(b, bits, LLVMConstInt(E->i32, 0x7fff, false), "");
  r = LLVMBuildAdd(b, r, lsb, "");
  r = LLVMBuildLShr(b, r, LLVMConstInt(E->i32, 16, false), "");
  LLVMValueRef qnan = LLVMBuildOr(b, hi, LLVMConstInt(E->i32, 0x40, false), "");
  LLVMValueRef isnan = LLVMBuildFCmp(b, LLVMRealUNO, x, x, "");
  r = LLVMBuildSelect(b, isnan, qnan, r, "");
  return LLVMBuildTrunc(b, r, E->i16, "bf16");
}

LLVMValueRef em_from_comp(LEmit *E, DType dt, LLVMValueRef v) {
  if (dt == DT_FLOAT16) return LLVMBuildFPTrunc(E->b, v, E->f16, "");
  if (dt == DT_BFLOAT16 && E->gpu && LLVMGetTypeKind(LLVMTypeOf(v)) == LLVMFloatTypeKind) {
    /* sm_90 rounds in one instruction (cvt.rn.bf16.f32: nearest even, NaN stays NaN) where the
     * integer rounding above takes seven */
    LLVMValueRef h = LLVMBuildFPTrunc(E->b, v, LLVMBFloatTypeInContext(E->ctx), "");
    return LLVMBuildBitCast(E->b, h, E->i16, "bf16");
  }
  if (dt == DT_BFLOAT16) return f32_to_bf16(E, v);
  return v;
}

LLVMValueRef em_mem_to_val(LEmit *E, DType dt, LLVMValueRef v) {
  if (dt != DT_BOOL) return v;
  return LLVMBuildICmp(E->b, LLVMIntNE, v, LLVMConstInt(E->i8, 0, false), "");
}

LLVMValueRef em_val_to_mem(LEmit *E, DType dt, LLVMValueRef v) {
  return dt == DT_BOOL ? LLVMBuildZExt(E->b, v, E->i8, "") : v;
}

/* double → float rounded to odd (truncate, then set the last bit if inexact): rounding that
 * result again to float16 / bfloat16 gives the correctly rounded value (no double rounding). */
static LLVMValueRef f64_to_f32_odd(LEmit *E, LLVMValueRef x) {
  LLVMBuilderRef b = E->b;
  LLVMValueRef r = LLVMBuildFPTrunc(b, x, E->f32, "");
  LLVMValueRef back = LLVMBuildFPExt(b, r, E->f64, "");
  LLVMValueRef ab = em_call_intr(E, "llvm.fabs", E->f64, &back, 1);
  LLVMValueRef ax = em_call_intr(E, "llvm.fabs", E->f64, &x, 1);
  LLVMValueRef away = LLVMBuildFCmp(b, LLVMRealOGT, ab, ax, "");
  LLVMValueRef inexact = LLVMBuildFCmp(b, LLVMRealONE, back, x, "");
  LLVMValueRef bits = LLVMBuildBitCast(b, r, E->i32, "");
  LLVMValueRef dec = LLVMBuildSub(b, bits, LLVMConstInt(E->i32, 1, false), "");
  bits = LLVMBuildSelect(b, away, dec, bits, "");
  LLVMValueRef odd = LLVMBuildOr(b, bits, LLVMConstInt(E->i32, 1, false), "");
  bits = LLVMBuildSelect(b, inexact, odd, bits, "");
  return LLVMBuildBitCast(b, bits, E->f32, "");
}

static unsigned int_bits(DType dt) {
  switch (dt) {
  case DT_INT64:
    return 64;
  case DT_INT32:
    return 32;
  case DT_INT16:
    return 16;
  case DT_BOOL:
    return 1;
  default:
    return 8;
  }
}

LLVMValueRef em_cast(LEmit *E, DType from, DType to, LLVMValueRef v) {
  LLVMBuilderRef b = E->b;
  if (from == to) return v;
  bool ff = ir_dtype_is_float(from), tf = ir_dtype_is_float(to);
  if (to == DT_BOOL) {
    if (ff)
      return LLVMBuildFCmp(b, LLVMRealUNE, em_to_comp(E, from, v),
                           LLVMConstReal(em_comp_type(E, from), 0), "");
    return LLVMBuildICmp(b, LLVMIntNE, v, LLVMConstInt(em_val_type(E, from), 0, false), "");
  }
  if (ff && tf) {
    LLVMValueRef c = em_to_comp(E, from, v); /* f32 or f64 */
    DType cf = em_comp_dtype(from);
    if (to == DT_FLOAT64) return cf == DT_FLOAT64 ? c : LLVMBuildFPExt(b, c, E->f64, "");
    if (to == DT_FLOAT32) return cf == DT_FLOAT32 ? c : LLVMBuildFPTrunc(b, c, E->f32, "");
    if (cf == DT_FLOAT64) c = f64_to_f32_odd(E, c);
    return em_from_comp(E, to, c);
  }
  if (ff) { /* float → int: truncate toward 0, saturating (NaN → 0) */
    LLVMValueRef c = em_to_comp(E, from, v);
    LLVMTypeRef ovl[2] = {em_val_type(E, to), LLVMTypeOf(c)};
    return em_call_intr2(E, to == DT_UINT8 ? "llvm.fptoui.sat" : "llvm.fptosi.sat", ovl, 2, &c, 1);
  }
  bool sign = from != DT_UINT8 && from != DT_BOOL;
  if (tf) {
    if (to == DT_FLOAT64 || to == DT_FLOAT32) {
      LLVMTypeRef t = em_val_type(E, to);
      return sign ? LLVMBuildSIToFP(b, v, t, "") : LLVMBuildUIToFP(b, v, t, "");
    }
    LLVMValueRef d = sign ? LLVMBuildSIToFP(b, v, E->f64, "") : LLVMBuildUIToFP(b, v, E->f64, "");
    return em_from_comp(E, to, f64_to_f32_odd(E, d));
  }
  unsigned fb = int_bits(from), tb = int_bits(to);
  LLVMTypeRef t = em_val_type(E, to);
  if (tb < fb) return LLVMBuildTrunc(b, v, t, "");
  if (tb == fb) return v; /* int8 <-> uint8: the same bits */
  return sign ? LLVMBuildSExt(b, v, t, "") : LLVMBuildZExt(b, v, t, "");
}

/* ---- calls --------------------------------------------------------------------------------- */

LLVMValueRef em_call_intr2(LEmit *E, const char *name, LLVMTypeRef *overloads, int no,
                           LLVMValueRef *args, int n) {
  LLVMTypeRef fnty;
  LLVMValueRef fn = lower_intrinsic_decl(E->mod, name, overloads, no, &fnty);
  if (!fn) {
    em_fail(E, NULL, "internal: LLVM has no intrinsic %s", name);
    return LLVMGetUndef(n > 0 ? LLVMTypeOf(args[0]) : E->i32);
  }
  return LLVMBuildCall2(E->b, fnty, fn, args, (unsigned)n, "");
}

LLVMValueRef em_call_intr(LEmit *E, const char *name, LLVMTypeRef overload, LLVMValueRef *args,
                          int n) {
  return em_call_intr2(E, name, &overload, overload ? 1 : 0, args, n);
}

LLVMValueRef em_call_libm(LEmit *E, const char *name, LLVMTypeRef t, LLVMValueRef *args, int n) {
  LLVMTypeRef params[3] = {t, t, t};
  LLVMTypeRef fnty = LLVMFunctionType(t, params, (unsigned)n, false);
  LLVMValueRef fn = LLVMGetNamedFunction(E->mod, name);
  if (!fn) fn = LLVMAddFunction(E->mod, name, fnty);
  return LLVMBuildCall2(E->b, fnty, fn, args, (unsigned)n, "");
}

LLVMValueRef em_smin(LEmit *E, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef args[2] = {a, b};
  return em_call_intr(E, "llvm.smin", LLVMTypeOf(a), args, 2);
}

LLVMValueRef em_smax(LEmit *E, LLVMValueRef a, LLVMValueRef b) {
  LLVMValueRef args[2] = {a, b};
  return em_call_intr(E, "llvm.smax", LLVMTypeOf(a), args, 2);
}

/* ---- buffers ------------------------------------------------------------------------------- */

LLVMValueRef em_alloca(LEmit *E, LLVMTypeRef t, int64_t n, const char *name) {
  LLVMBuilderRef ab = LLVMCreateBuilderInContext(E->ctx);
  LLVMValueRef term = LLVMGetBasicBlockTerminator(E->alloca_bb);
  if (term)
    LLVMPositionBuilderBefore(ab, term);
  else
    LLVMPositionBuilderAtEnd(ab, E->alloca_bb);
  LLVMValueRef a = LLVMBuildAlloca(ab, LLVMArrayType2(t, (uint64_t)(n > 0 ? n : 1)), name);
  LLVMSetAlignment(a, 64);
  LLVMDisposeBuilder(ab);
  E->frame +=
      (size_t)(n > 0 ? n : 1) * (size_t)LLVMABISizeOfType(LLVMGetModuleDataLayout(E->mod), t);
  E->frame = (E->frame + 63) & ~(size_t)63;
  return a;
}

LLVMValueRef em_buffer(LEmit *E, DType dt, const IrShape *s, const char *name) {
  if (E->gpu) return em_shared_buffer(E, em_mem_type(E, dt), em_numel(E, s));
  return em_alloca(E, em_mem_type(E, dt), em_numel(E, s), name);
}

LLVMValueRef em_buf_index(LEmit *E, const IrShape *s, LLVMValueRef *idx) {
  LLVMValueRef lin = NULL;
  int64_t stride = 1;
  for (int i = s->rank - 1; i >= 0; i--) {
    int64_t n = em_dim(E, s->dims[i]);
    if (n != 1) {
      LLVMValueRef t = stride == 1 ? idx[i] : LLVMBuildNSWMul(E->b, idx[i], em_i64(E, stride), "");
      lin = lin ? LLVMBuildNSWAdd(E->b, lin, t, "") : t;
    }
    stride *= n;
  }
  return lin ? lin : em_i64(E, 0);
}

LLVMValueRef em_buf_load(LEmit *E, DType dt, LLVMValueRef buf, LLVMValueRef lin) {
  LLVMTypeRef t = em_mem_type(E, dt);
  if (E->gpu && E->par == 0 && LLVMGetPointerAddressSpace(LLVMTypeOf(buf)) == 3) E->sread = true;
  LLVMValueRef p = LLVMBuildInBoundsGEP2(E->b, t, buf, &lin, 1, "");
  return em_mem_to_val(E, dt, LLVMBuildLoad2(E->b, t, p, ""));
}

void em_buf_store(LEmit *E, DType dt, LLVMValueRef buf, LLVMValueRef lin, LLVMValueRef v) {
  LLVMTypeRef t = em_mem_type(E, dt);
  if (E->gpu && E->par == 0 && LLVMGetPointerAddressSpace(LLVMTypeOf(buf)) == 3) E->sread = true;
  LLVMValueRef p = LLVMBuildInBoundsGEP2(E->b, t, buf, &lin, 1, "");
  LLVMBuildStore(E->b, em_val_to_mem(E, dt, v), p);
}

/* ---- loops --------------------------------------------------------------------------------- */

LLVMBasicBlockRef em_block(LEmit *E, const char *name) {
  return LLVMAppendBasicBlockInContext(E->ctx, E->fn, name);
}

void em_loop_begin(LEmit *E, LLoop *l, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef step,
                   const char *name) {
  /* GPU, a sequential loop of the whole CTA (chunks, tiles, programs) after shared memory was
   * touched outside a distributed loop: the barrier the first distributed loop inside would put
   * at its start goes before the loop instead, so it runs once, not once per iteration (an
   * iteration that touches it again ends with one: em_loop_end) */
  if (E->gpu && E->par == 0 && E->sread) em_barrier(E);
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(E->b);
  l->hdr = em_block(E, name);
  l->body = em_block(E, "body");
  l->latch = em_block(E, "latch");
  l->exit = em_block(E, "exit");
  LLVMBuildBr(E->b, l->hdr);
  LLVMPositionBuilderAtEnd(E->b, l->hdr);
  l->iv = LLVMBuildPhi(E->b, E->i64, name);
  LLVMAddIncoming(l->iv, &lo, &pre, 1);
  LLVMValueRef c = LLVMBuildICmp(E->b, LLVMIntSLT, l->iv, hi, "");
  LLVMBuildCondBr(E->b, c, l->body, l->exit);
  LLVMPositionBuilderAtEnd(E->b, l->body);
  l->next = step;
}

void em_loop_end(LEmit *E, LLoop *l, LLVMMetadataRef md) {
  /* GPU: this iteration touched shared memory outside a distributed loop; the next one may
   * rewrite it before any other barrier */
  if (E->gpu && E->par == 0 && E->sread) em_barrier(E);
  LLVMBuildBr(E->b, l->latch);
  LLVMPositionBuilderAtEnd(E->b, l->latch);
  LLVMValueRef next = LLVMBuildNSWAdd(E->b, l->iv, l->next ? l->next : em_i64(E, 1), "");
  LLVMValueRef br = LLVMBuildBr(E->b, l->hdr);
  if (md) LLVMSetMetadata(br, E->md_loop, LLVMMetadataAsValue(E->ctx, md));
  LLVMAddIncoming(l->iv, &next, &l->latch, 1);
  LLVMPositionBuilderAtEnd(E->b, l->exit);
}

static LLVMMetadataRef md_pair(LEmit *E, const char *key, LLVMValueRef v) {
  LLVMMetadataRef ops[2] = {LLVMMDStringInContext2(E->ctx, key, strlen(key)),
                            v ? LLVMValueAsMetadata(v) : NULL};
  return LLVMMDNodeInContext2(E->ctx, ops, v ? 2 : 1);
}

LLVMMetadataRef em_loop_md(LEmit *E, int vector_width, int unroll) {
  return em_loop_md_ex(E, vector_width, unroll, 0);
}

LLVMMetadataRef em_loop_md_ex(LEmit *E, int vector_width, int unroll, unsigned flags) {
  LLVMMetadataRef ops[6];
  int n = 1;
  if (vector_width > 0) {
    ops[n++] = md_pair(E, "llvm.loop.vectorize.width",
                       LLVMConstInt(E->i32, (unsigned)vector_width, false));
    if (vector_width > 1)
      ops[n++] = md_pair(E, "llvm.loop.vectorize.enable", LLVMConstInt(E->i1, 1, false));
  }
  if (flags & MD_TAIL_FOLD)
    ops[n++] = md_pair(E, "llvm.loop.vectorize.predicate.enable", LLVMConstInt(E->i1, 1, false));
  if (flags & MD_UNROLL_FULL)
    ops[n++] = md_pair(E, "llvm.loop.unroll.full", NULL);
  else if (unroll > 0)
    ops[n++] = md_pair(E, "llvm.loop.unroll.count", LLVMConstInt(E->i32, (unsigned)unroll, false));
  else if (flags & MD_NO_UNROLL)
    ops[n++] = md_pair(E, "llvm.loop.unroll.disable", NULL);
  if (n == 1) return NULL;
  LLVMMetadataRef tmp = LLVMTemporaryMDNode(E->ctx, NULL, 0);
  ops[0] = tmp;
  LLVMMetadataRef node = LLVMMDNodeInContext2(E->ctx, ops, (size_t)n);
  LLVMMetadataReplaceAllUsesWith(tmp, node);
  return node;
}

/* Innermost loops of tile nests: the config's vector width, and a masked last vector instead of
 * a scalar remainder loop. Outer loops: not unrolled. Both keep the code small: fully unrolled
 * row loops and remainder loops tripled compile times (softmax: 140 ms → 23 ms) for no speed. */
LLVMMetadataRef em_inner_md(LEmit *E) {
  return em_loop_md_ex(E, E->bind->vector_width, 0, MD_TAIL_FOLD | MD_NO_UNROLL);
}

LLVMMetadataRef em_outer_md(LEmit *E) {
  return em_loop_md_ex(E, 0, 0, MD_NO_UNROLL);
}

/* ---- dims ---------------------------------------------------------------------------------- */

int64_t em_dim(LEmit *E, IrDim dim) {
  return lower_dim_size(E->bind, E->f, dim);
}

int64_t em_numel(LEmit *E, const IrShape *s) {
  return lower_numel(E->bind, E->f, s);
}

LLVMValueRef em_vlen(LEmit *E, IrDim dim) {
  if (dim.kind == IR_DIM_BLOCK && E->active[dim.v]) return E->active[dim.v]->vlen;
  if (dim.kind == IR_DIM_RDIM && E->bind->rchunk[dim.v] > 0 && E->in_chunk[dim.v])
    return E->rlen[dim.v];
  if (dim.kind == IR_DIM_RDIM) return em_i64(E, E->f->rdims[dim.v].extent);
  return em_i64(E, em_dim(E, dim));
}

void em_bcast_idx(LEmit *E, const IrShape *from, const IrShape *to, LLVMValueRef *idx,
                  LLVMValueRef *out) {
  int lead = to->rank - from->rank;
  for (int i = 0; i < from->rank; i++) {
    bool one = em_dim(E, from->dims[i]) == 1;
    out[i] = one ? em_i64(E, 0) : idx[i + lead];
  }
}

/* ---- names and errors ---------------------------------------------------------------------- */

void em_name(LEmit *E, LLVMValueRef v, const IrFunc *f, IrValueId id, const char *suffix) {
  const IrValue *val = ir_value(f, id);
  if (!v || !val || !val->name || LLVMIsAConstant(v)) return; /* globals keep their names */
  char buf[128];
  snprintf(buf, sizeof buf, "%s%s", val->name, suffix ? suffix : "");
  LLVMSetValueName2(v, buf, strlen(buf));
  (void)E;
}

int em_fail(LEmit *E, const IrOp *op, const char *fmt, ...) {
  if (E->failed) return HL_ERR;
  E->failed = true;
  va_list ap;
  va_start(ap, fmt);
  diag_vset(E->d, fmt, ap);
  va_end(ap);
  if (op) {
    char where[300];
    ir_loc_str(E->f, op->loc, where, sizeof where);
    if (where[0]) diag_prefix(E->d, "%s: %s: ", where, ir_op_info(op->kind)->name);
    if (op->loc.file >= 0 && op->loc.file < E->f->nfiles) {
      snprintf(E->d->file, sizeof E->d->file, "%s", E->f->files[op->loc.file]);
      E->d->line = op->loc.line;
    }
  }
  return HL_ERR;
}
