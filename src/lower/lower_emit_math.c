/* Arithmetic on compute-typed values (float16 / bfloat16 already widened to float32): the
 * elementwise ops of the dialect with its semantics — floored % and //, NaN-propagating
 * maximum/minimum, integer division by zero giving 0 instead of trapping, float32 exp/exp2
 * inline so the vectorizer can widen them. Part of src/lower (emit_llvm). */
#include "lower/lower_internal.h"

static bool is_float(DType dt) {
  return ir_dtype_is_float(dt);
}

static LLVMValueRef fconst(LEmit *E, LLVMTypeRef t, double v) {
  return LLVMConstReal(t, v);
}

static LLVMValueRef intr1(LEmit *E, const char *name, LLVMValueRef x) {
  return em_call_intr(E, name, LLVMTypeOf(x), &x, 1);
}

static LLVMValueRef intr2(LEmit *E, const char *name, LLVMValueRef x, LLVMValueRef y) {
  LLVMValueRef a[2] = {x, y};
  return em_call_intr(E, name, LLVMTypeOf(x), a, 2);
}

/* 2^k for an int32 k in [-126, 127]: the float with exponent field k + 127. */
static LLVMValueRef pow2i(LEmit *E, LLVMValueRef k) {
  LLVMValueRef i = LLVMBuildAdd(E->b, k, LLVMConstInt(E->i32, 127, false), "");
  i = LLVMBuildShl(E->b, i, LLVMConstInt(E->i32, 23, false), "");
  return LLVMBuildBitCast(E->b, i, E->f32, "");
}

/* e^r for |r| <= ln2/2 (Cephes expf's polynomial), times 2^n for an integral float n from -150
 * to 128, scaled in two halves so neither overflows the exponent field. */
static LLVMValueRef exp_core(LEmit *E, LLVMValueRef r, LLVMValueRef n) {
  LLVMBuilderRef b = E->b;
  static const double c[] = {1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3,
                             4.1665795894E-2, 1.6666665459E-1, 5.0000001201E-1};
  LLVMValueRef p = fconst(E, E->f32, c[0]);
  for (int i = 1; i < 6; i++) {
    LLVMValueRef args[3] = {p, r, fconst(E, E->f32, c[i])};
    p = em_call_intr(E, "llvm.fmuladd", E->f32, args, 3);
  }
  LLVMValueRef r2 = LLVMBuildFMul(b, r, r, "");
  LLVMValueRef args[3] = {p, r2, LLVMBuildFAdd(b, r, fconst(E, E->f32, 1.0), "")};
  LLVMValueRef y = em_call_intr(E, "llvm.fmuladd", E->f32, args, 3);
  LLVMValueRef k = LLVMBuildFPToSI(b, n, E->i32, "");
  LLVMValueRef k1 = LLVMBuildAShr(b, k, LLVMConstInt(E->i32, 1, false), "");
  LLVMValueRef k2 = LLVMBuildSub(b, k, k1, "");
  y = LLVMBuildFMul(b, y, pow2i(E, k1), "");
  return LLVMBuildFMul(b, y, pow2i(E, k2), "");
}

static LLVMValueRef clamp_f32(LEmit *E, LLVMValueRef x, double lo, double hi) {
  x = intr2(E, "llvm.maxnum", x, fconst(E, E->f32, lo)); /* NaN becomes lo: fixed after */
  return intr2(E, "llvm.minnum", x, fconst(E, E->f32, hi));
}

static LLVMValueRef keep_nan(LEmit *E, LLVMValueRef x, LLVMValueRef res) {
  LLVMValueRef nan = LLVMBuildFCmp(E->b, LLVMRealUNO, x, x, "");
  return LLVMBuildSelect(E->b, nan, x, res, "");
}

static LLVMValueRef exp_f32(LEmit *E, LLVMValueRef x) {
  LLVMBuilderRef b = E->b;
  LLVMValueRef xc = clamp_f32(E, x, -104.0, 88.8);
  LLVMValueRef n =
      intr1(E, "llvm.rint", LLVMBuildFMul(b, xc, fconst(E, E->f32, 1.44269504088896341), ""));
  LLVMValueRef args[3] = {n, fconst(E, E->f32, -0.693359375), xc};
  LLVMValueRef r = em_call_intr(E, "llvm.fmuladd", E->f32, args, 3);
  LLVMValueRef args2[3] = {n, fconst(E, E->f32, 2.12194440e-4), r};
  r = em_call_intr(E, "llvm.fmuladd", E->f32, args2, 3);
  return keep_nan(E, x, exp_core(E, r, n));
}

static LLVMValueRef exp2_f32(LEmit *E, LLVMValueRef x) {
  LLVMValueRef xc = clamp_f32(E, x, -150.0, 128.5);
  LLVMValueRef n = intr1(E, "llvm.rint", xc);
  LLVMValueRef f = LLVMBuildFSub(E->b, xc, n, "");
  LLVMValueRef r = LLVMBuildFMul(E->b, f, fconst(E, E->f32, 0.693147180559945309), "");
  return keep_nan(E, x, exp_core(E, r, n));
}

/* GPU: e^x = 2^hi (1 + lo ln2), hi = x log2(e) rounded and lo what that rounding dropped (an
 * exact fma, plus the constant's own low part), 2^hi by ex2.approx.f32 (the SFU: about 2 ulp,
 * subnormal results kept, 2^inf = inf, 2^-inf = 0, NaN stays NaN). 8 instructions where the
 * polynomial takes 28; |error| about 3 ulp. lo is NaN only for infinite x (then 2^hi is exact). */
static LLVMValueRef exp_nv(LEmit *E, LLVMValueRef x) {
  LLVMBuilderRef b = E->b;
  LLVMValueRef l2e = fconst(E, E->f32, 1.44269502162933349609375); /* log2(e) as a float */
  LLVMValueRef hi = LLVMBuildFMul(b, x, l2e, "");
  LLVMValueRef a1[3] = {x, l2e, LLVMBuildFNeg(b, hi, "")};
  LLVMValueRef lo = em_call_intr(E, "llvm.fma", E->f32, a1, 3);
  LLVMValueRef a2[3] = {x, fconst(E, E->f32, 1.925963033500011e-8), lo}; /* log2(e) - l2e */
  lo = em_call_intr(E, "llvm.fma", E->f32, a2, 3);
  lo = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealORD, lo, lo, ""), lo, fconst(E, E->f32, 0), "");
  LLVMValueRef a3[3] = {lo, fconst(E, E->f32, 0.693147180559945309), fconst(E, E->f32, 1.0)};
  LLVMValueRef c = em_call_intr(E, "llvm.fma", E->f32, a3, 3);
  return LLVMBuildFMul(b, em_call_intr(E, "llvm.nvvm.ex2.approx.f", NULL, &hi, 1), c, "");
}

static LLVMValueRef fexp(LEmit *E, LLVMValueRef x) {
  if (LLVMTypeOf(x) != E->f32) return intr1(E, "llvm.exp", x);
  return E->gpu ? exp_nv(E, x) : exp_f32(E, x);
}

static LLVMValueRef sigmoid(LEmit *E, LLVMValueRef x) {
  LLVMTypeRef t = LLVMTypeOf(x);
  LLVMValueRef e = fexp(E, LLVMBuildFNeg(E->b, x, ""));
  LLVMValueRef den = LLVMBuildFAdd(E->b, fconst(E, t, 1.0), e, "");
  return LLVMBuildFDiv(E->b, fconst(E, t, 1.0), den, "");
}

static LLVMValueRef libm(LEmit *E, const char *f32name, const char *f64name, LLVMValueRef x) {
  LLVMTypeRef t = LLVMTypeOf(x);
  return em_call_libm(E, t == E->f32 ? f32name : f64name, t, &x, 1);
}

/* ---- the GPU's versions of what the CPU sends to libm -------------------------------------- */

static LLVMValueRef nv1(LEmit *E, const char *name, LLVMValueRef x) {
  return em_call_intr(E, name, NULL, &x, 1);
}

static LLVMValueRef fsel(LEmit *E, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b,
                         LLVMValueRef t, LLVMValueRef f) {
  return LLVMBuildSelect(E->b, LLVMBuildFCmp(E->b, p, a, b, ""), t, f, "");
}

static LLVMValueRef fma3(LEmit *E, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  LLVMValueRef args[3] = {a, b, c};
  return em_call_intr(E, "llvm.fmuladd", LLVMTypeOf(a), args, 3);
}

/* tanh(x) = sign(x) (1 - t) / (1 + t), t = e^(-2|x|); an odd polynomial below |x| = 0.0625
 * (where 1 - t would cancel). */
static LLVMValueRef tanh_f32(LEmit *E, LLVMValueRef x) {
  LLVMBuilderRef b = E->b;
  LLVMValueRef ax = intr1(E, "llvm.fabs", x);
  LLVMValueRef t = exp_f32(E, LLVMBuildFMul(b, ax, fconst(E, E->f32, -2.0), ""));
  LLVMValueRef big = LLVMBuildFDiv(b, LLVMBuildFSub(b, fconst(E, E->f32, 1), t, ""),
                                   LLVMBuildFAdd(b, fconst(E, E->f32, 1), t, ""), "");
  big = intr2(E, "llvm.copysign", big, x);
  LLVMValueRef x2 = LLVMBuildFMul(b, x, x, "");
  LLVMValueRef p = fma3(E, x2, fconst(E, E->f32, 2.0 / 15.0), fconst(E, E->f32, -1.0 / 3.0));
  p = fma3(E, x2, p, fconst(E, E->f32, 1.0));
  LLVMValueRef small = LLVMBuildFMul(b, x, p, "");
  return fsel(E, LLVMRealOLT, ax, fconst(E, E->f32, 0.0625), small, big);
}

/* erf by Abramowitz & Stegun 7.1.26 (absolute error under 1.5e-7). */
static LLVMValueRef erf_f32(LEmit *E, LLVMValueRef x) {
  LLVMBuilderRef b = E->b;
  LLVMValueRef ax = intr1(E, "llvm.fabs", x);
  LLVMValueRef t = LLVMBuildFDiv(
      b, fconst(E, E->f32, 1),
      fma3(E, ax, fconst(E, E->f32, 0.3275911), fconst(E, E->f32, 1)), "");
  static const double a[5] = {0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429};
  LLVMValueRef p = fconst(E, E->f32, a[4]);
  for (int i = 3; i >= 0; i--)
    p = fma3(E, p, t, fconst(E, E->f32, a[i]));
  p = LLVMBuildFMul(b, p, t, "");
  LLVMValueRef e = exp_f32(E, LLVMBuildFNeg(b, LLVMBuildFMul(b, ax, ax, ""), ""));
  LLVMValueRef r = LLVMBuildFSub(b, fconst(E, E->f32, 1), LLVMBuildFMul(b, p, e, ""), "");
  return intr2(E, "llvm.copysign", r, x);
}

/* a^b = 2^(b log2|a|), the sign from an odd integral b; NaN for a < 0 and b not integral;
 * 1 for b = 0; 0 or inf for a = 0. */
static LLVMValueRef pow_f32(LEmit *E, LLVMValueRef a, LLVMValueRef y) {
  LLVMBuilderRef b = E->b;
  LLVMValueRef zero = fconst(E, E->f32, 0), one = fconst(E, E->f32, 1);
  LLVMValueRef ax = intr1(E, "llvm.fabs", a);
  LLVMValueRef r = exp2_f32(E, LLVMBuildFMul(b, y, nv1(E, "llvm.nvvm.lg2.approx.f", ax), ""));
  LLVMValueRef yi = intr1(E, "llvm.trunc", y);
  LLVMValueRef integral = LLVMBuildFCmp(b, LLVMRealOEQ, yi, y, "");
  LLVMValueRef half = LLVMBuildFMul(b, y, fconst(E, E->f32, 0.5), "");
  LLVMValueRef odd = LLVMBuildAnd(
      b, integral, LLVMBuildFCmp(b, LLVMRealONE, intr1(E, "llvm.trunc", half), half, ""), "");
  LLVMValueRef neg = LLVMBuildFCmp(b, LLVMRealOLT, a, zero, "");
  r = LLVMBuildSelect(b, LLVMBuildAnd(b, neg, odd, ""), LLVMBuildFNeg(b, r, ""), r, "");
  LLVMValueRef nan = fconst(E, E->f32, __builtin_nan(""));
  r = LLVMBuildSelect(b, LLVMBuildAnd(b, neg, LLVMBuildNot(b, integral, ""), ""), nan, r, "");
  LLVMValueRef az = LLVMBuildFCmp(b, LLVMRealOEQ, a, zero, "");
  LLVMValueRef zr = fsel(E, LLVMRealOGT, y, zero, zero, fconst(E, E->f32, __builtin_inf()));
  r = LLVMBuildSelect(b, az, zr, r, "");
  return fsel(E, LLVMRealOEQ, y, zero, one, r);
}

LLVMValueRef em_nvptx_math(LEmit *E, IrOpKind k, LLVMValueRef x, LLVMValueRef y) {
  LLVMBuilderRef b = E->b;
  bool f32 = LLVMTypeOf(x) == E->f32;
  switch (k) {
  case IR_OP_LOG:
  case IR_OP_LOG2:
  case IR_OP_SIN:
  case IR_OP_COS:
  case IR_OP_TANH:
  case IR_OP_GELU:
  case IR_OP_POW:
    break;
  case IR_OP_EXP:
  case IR_OP_EXP2:
  case IR_OP_SIGMOID:
  case IR_OP_SILU:
    if (f32) return NULL; /* the inline float32 exp */
    break;
  default:
    return NULL;
  }
  if (!f32) {
    em_fail(E, NULL,
            "float64 %s is not supported on the cuda target yet (no libdevice): compute it in "
            "float32 (x:to(hl.float32)) or run on the cpu backend",
            ir_op_info(k)->name);
    return LLVMGetUndef(LLVMTypeOf(x));
  }
  switch (k) {
  case IR_OP_LOG:
    return LLVMBuildFMul(b, nv1(E, "llvm.nvvm.lg2.approx.f", x),
                         fconst(E, E->f32, 0.693147180559945309), "");
  case IR_OP_LOG2:
    return nv1(E, "llvm.nvvm.lg2.approx.f", x);
  case IR_OP_SIN:
    return nv1(E, "llvm.nvvm.sin.approx.f", x);
  case IR_OP_COS:
    return nv1(E, "llvm.nvvm.cos.approx.f", x);
  case IR_OP_TANH:
    return tanh_f32(E, x);
  case IR_OP_GELU: {
    LLVMValueRef e = erf_f32(E, LLVMBuildFMul(b, x, fconst(E, E->f32, 0.70710678118654752), ""));
    LLVMValueRef h = LLVMBuildFMul(b, x, fconst(E, E->f32, 0.5), "");
    return LLVMBuildFMul(b, h, LLVMBuildFAdd(b, fconst(E, E->f32, 1.0), e, ""), "");
  }
  default:
    return pow_f32(E, x, y);
  }
}

LLVMValueRef em_unary(LEmit *E, IrOpKind k, DType dt, LLVMValueRef x) {
  LLVMBuilderRef b = E->b;
  LLVMTypeRef t = LLVMTypeOf(x);
  bool fl = is_float(dt);
  if (E->gpu && fl) {
    LLVMValueRef r = em_nvptx_math(E, k, x, NULL);
    if (r) return r;
  }
  switch (k) {
  case IR_OP_NEG:
    return fl ? LLVMBuildFNeg(b, x, "") : LLVMBuildNeg(b, x, "");
  case IR_OP_ABS:
    if (fl) return intr1(E, "llvm.fabs", x);
    if (dt == DT_UINT8) return x;
    {
      LLVMValueRef a[2] = {x, LLVMConstInt(E->i1, 0, false)};
      return em_call_intr(E, "llvm.abs", t, a, 2);
    }
  case IR_OP_RELU:
    if (fl) {
      LLVMValueRef neg = LLVMBuildFCmp(b, LLVMRealOLT, x, fconst(E, t, 0), "");
      return LLVMBuildSelect(b, neg, fconst(E, t, 0), x, ""); /* relu(NaN) = NaN */
    }
    return dt == DT_UINT8 ? x : em_smax(E, x, LLVMConstInt(t, 0, false));
  case IR_OP_EXP:
    return fexp(E, x);
  case IR_OP_EXP2:
    if (t == E->f32 && E->gpu) return em_call_intr(E, "llvm.nvvm.ex2.approx.f", NULL, &x, 1);
    return t == E->f32 ? exp2_f32(E, x) : intr1(E, "llvm.exp2", x);
  case IR_OP_LOG:
    return intr1(E, "llvm.log", x);
  case IR_OP_LOG2:
    return intr1(E, "llvm.log2", x);
  case IR_OP_SQRT:
    return intr1(E, "llvm.sqrt", x);
  case IR_OP_RSQRT:
    return LLVMBuildFDiv(b, fconst(E, t, 1.0), intr1(E, "llvm.sqrt", x), "");
  case IR_OP_SIN:
    return intr1(E, "llvm.sin", x);
  case IR_OP_COS:
    return intr1(E, "llvm.cos", x);
  case IR_OP_TANH:
    return libm(E, "tanhf", "tanh", x);
  case IR_OP_SIGMOID:
    return sigmoid(E, x);
  case IR_OP_SILU:
    return LLVMBuildFMul(b, x, sigmoid(E, x), "");
  case IR_OP_GELU: {
    LLVMValueRef e =
        libm(E, "erff", "erf", LLVMBuildFMul(b, x, fconst(E, t, 0.70710678118654752), ""));
    LLVMValueRef h = LLVMBuildFMul(b, x, fconst(E, t, 0.5), "");
    return LLVMBuildFMul(b, h, LLVMBuildFAdd(b, fconst(E, t, 1.0), e, ""), "");
  }
  case IR_OP_FLOOR:
    return fl ? intr1(E, "llvm.floor", x) : x;
  case IR_OP_CEIL:
    return fl ? intr1(E, "llvm.ceil", x) : x;
  default:
    return x;
  }
}

/* Integer a % b and a // b, floored like Lua's; b == 0 gives 0 (a compiled kernel cannot raise)
 * and INT_MIN // -1 wraps instead of trapping. */
static LLVMValueRef int_divmod(LEmit *E, IrOpKind k, DType dt, LLVMValueRef a, LLVMValueRef b) {
  LLVMBuilderRef B = E->b;
  LLVMTypeRef t = LLVMTypeOf(a);
  LLVMValueRef zero = LLVMConstInt(t, 0, false), one = LLVMConstInt(t, 1, false);
  LLVMValueRef bz = LLVMBuildICmp(B, LLVMIntEQ, b, zero, "");
  if (dt == DT_UINT8) {
    LLVMValueRef bs = LLVMBuildSelect(B, bz, one, b, "");
    LLVMValueRef r = k == IR_OP_MOD ? LLVMBuildURem(B, a, bs, "") : LLVMBuildUDiv(B, a, bs, "");
    return LLVMBuildSelect(B, bz, zero, r, "");
  }
  LLVMValueRef m1 = LLVMBuildICmp(B, LLVMIntEQ, b, LLVMConstAllOnes(t), "");
  LLVMValueRef unsafe = LLVMBuildOr(B, bz, m1, "");
  LLVMValueRef bs = LLVMBuildSelect(B, unsafe, one, b, "");
  LLVMValueRef q = LLVMBuildSDiv(B, a, bs, ""), r = LLVMBuildSRem(B, a, bs, "");
  /* floored: when the remainder is nonzero and its sign differs from b's */
  LLVMValueRef rnz = LLVMBuildICmp(B, LLVMIntNE, r, zero, "");
  LLVMValueRef diff = LLVMBuildICmp(B, LLVMIntSLT, LLVMBuildXor(B, r, b, ""), zero, "");
  LLVMValueRef fix = LLVMBuildAnd(B, rnz, diff, "");
  if (k == IR_OP_MOD) {
    r = LLVMBuildSelect(B, fix, LLVMBuildAdd(B, r, b, ""), r, "");
    return LLVMBuildSelect(B, bz, zero, r, ""); /* x % -1 is 0 already */
  }
  q = LLVMBuildSelect(B, fix, LLVMBuildSub(B, q, one, ""), q, "");
  q = LLVMBuildSelect(B, m1, LLVMBuildSub(B, zero, a, ""), q, "");
  return LLVMBuildSelect(B, bz, zero, q, "");
}

LLVMValueRef em_binary(LEmit *E, IrOpKind k, DType dt, LLVMValueRef a, LLVMValueRef b) {
  LLVMBuilderRef B = E->b;
  bool fl = is_float(dt);
  LLVMTypeRef t = LLVMTypeOf(a);
  switch (k) {
  case IR_OP_ADD:
    return fl ? LLVMBuildFAdd(B, a, b, "") : LLVMBuildAdd(B, a, b, "");
  case IR_OP_SUB:
    return fl ? LLVMBuildFSub(B, a, b, "") : LLVMBuildSub(B, a, b, "");
  case IR_OP_MUL:
    return fl ? LLVMBuildFMul(B, a, b, "") : LLVMBuildMul(B, a, b, "");
  case IR_OP_DIV: {
    /* reciprocal allowed: x / s with s the same across a loop becomes x * (1 / s), hoisted */
    LLVMValueRef q = LLVMBuildFDiv(B, a, b, "");
    LLVMSetFastMathFlags(q, LLVMFastMathAllowReciprocal);
    return q;
  }
  case IR_OP_POW:
    if (E->gpu) return em_nvptx_math(E, k, a, b);
    return intr2(E, "llvm.pow", a, b);
  case IR_OP_MOD:
  case IR_OP_FLOORDIV:
    if (!fl) return int_divmod(E, k, dt, a, b);
    if (k == IR_OP_FLOORDIV) return intr1(E, "llvm.floor", LLVMBuildFDiv(B, a, b, ""));
    {
      LLVMValueRef r = LLVMBuildFRem(B, a, b, "");
      LLVMValueRef zero = fconst(E, t, 0);
      LLVMValueRef rnz = LLVMBuildFCmp(B, LLVMRealONE, r, zero, "");
      LLVMValueRef rneg = LLVMBuildFCmp(B, LLVMRealOLT, r, zero, "");
      LLVMValueRef bneg = LLVMBuildFCmp(B, LLVMRealOLT, b, zero, "");
      LLVMValueRef fix = LLVMBuildAnd(B, rnz, LLVMBuildXor(B, rneg, bneg, ""), "");
      return LLVMBuildSelect(B, fix, LLVMBuildFAdd(B, r, b, ""), r, "");
    }
  case IR_OP_MAXIMUM:
    if (fl) return intr2(E, "llvm.maximum", a, b);
    return intr2(E, dt == DT_UINT8 ? "llvm.umax" : "llvm.smax", a, b);
  case IR_OP_MINIMUM:
    if (fl) return intr2(E, "llvm.minimum", a, b);
    return intr2(E, dt == DT_UINT8 ? "llvm.umin" : "llvm.smin", a, b);
  default:
    return a;
  }
}

LLVMValueRef em_compare(LEmit *E, IrOpKind k, DType dt, LLVMValueRef a, LLVMValueRef b) {
  if (is_float(dt)) {
    LLVMRealPredicate p = k == IR_OP_LT   ? LLVMRealOLT
                          : k == IR_OP_LE ? LLVMRealOLE
                          : k == IR_OP_GT ? LLVMRealOGT
                          : k == IR_OP_GE ? LLVMRealOGE
                          : k == IR_OP_EQ ? LLVMRealOEQ
                                          : LLVMRealUNE;
    return LLVMBuildFCmp(E->b, p, a, b, "");
  }
  bool u = dt == DT_UINT8 || dt == DT_BOOL;
  LLVMIntPredicate p = k == IR_OP_LT   ? (u ? LLVMIntULT : LLVMIntSLT)
                       : k == IR_OP_LE ? (u ? LLVMIntULE : LLVMIntSLE)
                       : k == IR_OP_GT ? (u ? LLVMIntUGT : LLVMIntSGT)
                       : k == IR_OP_GE ? (u ? LLVMIntUGE : LLVMIntSGE)
                       : k == IR_OP_EQ ? LLVMIntEQ
                                       : LLVMIntNE;
  return LLVMBuildICmp(E->b, p, a, b, "");
}
