/* Matrix multiply: C[.., M, N] (+)= A[.., M, K] · B[.., K, N], accumulating in float32 for
 * float16 / bfloat16 / float32 inputs (float64 for float64, int32 for int8). Part of src/lower.
 *
 * A and B are packed into compute-typed buffers first (lanes past the valid K are zero, so a
 * ragged last k tile adds nothing), then multiplied by a register-blocked kernel: an MR x NR
 * block of C lives in vector registers across the whole K loop, each step a broadcast of A and
 * NR/VL vector loads of B (where the block sizes allow; a plain i-k-j loop nest otherwise).
 * When `acc = hl.dot(a, b, acc)` feeds a carried value, C is that value's buffer (no copies). */
#include "lower/lower_internal.h"

static const IrValue *val(LEmit *E, IrValueId id) {
  return ir_value(E->f, id);
}

static DType comp_dtype(DType in) {
  return in == DT_FLOAT64 ? DT_FLOAT64 : in == DT_INT8 ? DT_INT32 : DT_FLOAT32;
}

/* buf = src converted to dt, with lanes at or past `klen` along dim `kdim` set to 0. */
static void pack(LEmit *E, LLVMValueRef buf, DType dt, IrValueId src, int kdim, LLVMValueRef klen,
                 bool full) {
  const IrValue *sv = val(E, src);
  LNest n;
  em_nest_begin(E, &n, &sv->shape, NULL);
  LLVMValueRef lin = em_buf_index(E, &sv->shape, n.idx);
  if (full) {
    em_buf_store(E, dt, buf, lin, em_cast(E, sv->dtype, dt, em_eval(E, src, n.idx)));
  } else {
    LLVMBasicBlockRef from = LLVMGetInsertBlock(E->b), in = em_block(E, "pk"),
                      join = em_block(E, "pk.join");
    LLVMValueRef c = LLVMBuildICmp(E->b, LLVMIntSLT, n.idx[kdim], klen, "");
    LLVMBuildCondBr(E->b, c, in, join);
    LLVMPositionBuilderAtEnd(E->b, in);
    LLVMValueRef v = em_cast(E, sv->dtype, dt, em_eval(E, src, n.idx));
    LLVMBasicBlockRef in_end = LLVMGetInsertBlock(E->b);
    LLVMBuildBr(E->b, join);
    LLVMPositionBuilderAtEnd(E->b, join);
    LLVMValueRef phi = LLVMBuildPhi(E->b, em_val_type(E, dt), "");
    LLVMValueRef vals[2] = {em_zero(E, dt), v};
    LLVMBasicBlockRef bbs[2] = {from, in_end};
    LLVMAddIncoming(phi, vals, bbs, 2);
    em_buf_store(E, dt, buf, lin, phi);
  }
  em_nest_end(E, &n);
}

static LLVMValueRef gep(LEmit *E, LLVMTypeRef t, LLVMValueRef base, LLVMValueRef off) {
  return LLVMBuildInBoundsGEP2(E->b, t, base, &off, 1, "");
}

static LLVMValueRef mul_add(LEmit *E, DType dt, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  if (dt == DT_INT32) return LLVMBuildAdd(E->b, LLVMBuildMul(E->b, a, b, ""), c, "");
  LLVMValueRef args[3] = {a, b, c};
  return em_call_intr(E, "llvm.fmuladd", LLVMTypeOf(a), args, 3);
}

/* C[bt] += A[bt] B[bt] with the i-k-j order (the j loop is contiguous and vectorizes). */
static void gemm_loops(LEmit *E, DType dt, LLVMValueRef A, LLVMValueRef B, LLVMValueRef C,
                       int64_t batch, int64_t M, int64_t N, int64_t K) {
  LLVMTypeRef t = em_val_type(E, dt);
  LLoop lb, li, lk, lj;
  em_loop_begin(E, &lb, em_i64(E, 0), em_i64(E, batch), NULL, "b");
  LLVMValueRef abase = LLVMBuildNSWMul(E->b, lb.iv, em_i64(E, M * K), "");
  LLVMValueRef bbase = LLVMBuildNSWMul(E->b, lb.iv, em_i64(E, K * N), "");
  LLVMValueRef cbase = LLVMBuildNSWMul(E->b, lb.iv, em_i64(E, M * N), "");
  em_loop_begin(E, &li, em_i64(E, 0), em_i64(E, M), NULL, "i");
  em_loop_begin(E, &lk, em_i64(E, 0), em_i64(E, K), NULL, "k");
  LLVMValueRef ai = LLVMBuildNSWAdd(
      E->b, abase, LLVMBuildNSWAdd(E->b, LLVMBuildNSWMul(E->b, li.iv, em_i64(E, K), ""), lk.iv, ""),
      "");
  LLVMValueRef a = LLVMBuildLoad2(E->b, t, gep(E, t, A, ai), "a");
  em_loop_begin(E, &lj, em_i64(E, 0), em_i64(E, N), NULL, "j");
  LLVMValueRef bi = LLVMBuildNSWAdd(
      E->b, bbase, LLVMBuildNSWAdd(E->b, LLVMBuildNSWMul(E->b, lk.iv, em_i64(E, N), ""), lj.iv, ""),
      "");
  LLVMValueRef ci = LLVMBuildNSWAdd(
      E->b, cbase, LLVMBuildNSWAdd(E->b, LLVMBuildNSWMul(E->b, li.iv, em_i64(E, N), ""), lj.iv, ""),
      "");
  LLVMValueRef cp = gep(E, t, C, ci);
  LLVMValueRef bv = LLVMBuildLoad2(E->b, t, gep(E, t, B, bi), "");
  LLVMValueRef cv = LLVMBuildLoad2(E->b, t, cp, "");
  LLVMBuildStore(E->b, mul_add(E, dt, a, bv, cv), cp);
  em_loop_end(E, &lj, em_inner_md(E));
  em_loop_end(E, &lk, NULL);
  em_loop_end(E, &li, NULL);
  em_loop_end(E, &lb, NULL);
}

/* The register-blocked kernel: for each MR x NR block of C, MR * NV accumulator vectors stay in
 * registers through the whole k loop; each k step loads NV vectors of B's row and broadcasts
 * MR elements of A's column. MR x NV = 8 x 2 with 16 float32 lanes keeps 16 accumulators + 2 B
 * vectors + 1 broadcast in AVX-512's 32 registers. Returns false when the shape does not fit
 * (then the plain loops run). */
static bool gemm_blocked(LEmit *E, DType dt, LLVMValueRef A, LLVMValueRef B, LLVMValueRef C,
                         int64_t batch, int64_t M, int64_t N, int64_t K) {
  if (dt != DT_FLOAT32 && dt != DT_FLOAT64) return false;
  int64_t esize = dt == DT_FLOAT32 ? 4 : 8, vbytes = lower_x86_vector_bytes();
  int64_t VL = E->bind->vector_width > 0 ? E->bind->vector_width : vbytes / esize;
  if (VL < 2 || VL * esize > vbytes) VL = vbytes / esize;
  int64_t nregs = vbytes == 64 ? 32 : 16; /* MR x NV accumulators + NV + 1 must fit */
  int64_t NV = N >= 2 * VL && N % (2 * VL) == 0 ? 2 : N % VL == 0 && N >= VL ? 1 : 0;
  if (NV == 0 || K < 1) return false;
  static const int64_t cands[] = {12, 8, 6, 4, 2, 1};
  int64_t MR = 1;
  for (int i = 0; i < 6; i++)
    if (M % cands[i] == 0 && cands[i] * NV + NV + 1 <= nregs && cands[i] * NV <= 16) {
      MR = cands[i];
      break;
    }
  int64_t NR = NV * VL;
  LLVMBuilderRef b = E->b;
  LLVMTypeRef t = em_val_type(E, dt), vt = LLVMVectorType(t, (unsigned)VL);
  LLVMValueRef zero_mask = LLVMConstNull(LLVMVectorType(E->i32, (unsigned)VL));
  LLoop lb, li, lj, lk;
  em_loop_begin(E, &lb, em_i64(E, 0), em_i64(E, batch), NULL, "b");
  LLVMValueRef abase = LLVMBuildNSWMul(b, lb.iv, em_i64(E, M * K), "");
  LLVMValueRef bbase = LLVMBuildNSWMul(b, lb.iv, em_i64(E, K * N), "");
  LLVMValueRef cbase = LLVMBuildNSWMul(b, lb.iv, em_i64(E, M * N), "");
  em_loop_begin(E, &li, em_i64(E, 0), em_i64(E, M), em_i64(E, MR), "i");
  em_loop_begin(E, &lj, em_i64(E, 0), em_i64(E, N), em_i64(E, NR), "j");
  /* C's block into registers */
  LLVMValueRef cptr[16][2], acc0[16][2];
  for (int r = 0; r < MR; r++) {
    LLVMValueRef row = LLVMBuildNSWAdd(
        b, cbase, LLVMBuildNSWMul(b, LLVMBuildNSWAdd(b, li.iv, em_i64(E, r), ""), em_i64(E, N), ""),
        "");
    for (int v = 0; v < NV; v++) {
      LLVMValueRef off =
          LLVMBuildNSWAdd(b, row, LLVMBuildNSWAdd(b, lj.iv, em_i64(E, v * VL), ""), "");
      cptr[r][v] = gep(E, t, C, off);
      acc0[r][v] = LLVMBuildLoad2(b, vt, cptr[r][v], "c");
      LLVMSetAlignment(acc0[r][v], (unsigned)esize);
    }
  }
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(b);
  em_loop_begin(E, &lk, em_i64(E, 0), em_i64(E, K), NULL, "k");
  LLVMValueRef acc[16][2];
  LLVMPositionBuilderBefore(b, LLVMGetFirstInstruction(lk.hdr));
  for (int r = 0; r < MR; r++)
    for (int v = 0; v < NV; v++) {
      acc[r][v] = LLVMBuildPhi(b, vt, "acc");
      LLVMAddIncoming(acc[r][v], &acc0[r][v], &pre, 1);
    }
  LLVMPositionBuilderAtEnd(b, lk.body);
  LLVMValueRef brow = LLVMBuildNSWAdd(b, bbase, LLVMBuildNSWMul(b, lk.iv, em_i64(E, N), ""), "");
  LLVMValueRef bv[2];
  for (int v = 0; v < NV; v++) {
    LLVMValueRef off =
        LLVMBuildNSWAdd(b, brow, LLVMBuildNSWAdd(b, lj.iv, em_i64(E, v * VL), ""), "");
    bv[v] = LLVMBuildLoad2(b, vt, gep(E, t, B, off), "b");
    LLVMSetAlignment(bv[v], (unsigned)esize);
  }
  LLVMValueRef next[16][2];
  for (int r = 0; r < MR; r++) {
    LLVMValueRef aoff = LLVMBuildNSWAdd(
        b, abase,
        LLVMBuildNSWAdd(
            b, LLVMBuildNSWMul(b, LLVMBuildNSWAdd(b, li.iv, em_i64(E, r), ""), em_i64(E, K), ""),
            lk.iv, ""),
        "");
    LLVMValueRef a = LLVMBuildLoad2(b, t, gep(E, t, A, aoff), "a");
    LLVMValueRef av =
        LLVMBuildInsertElement(b, LLVMGetUndef(vt), a, LLVMConstInt(E->i32, 0, false), "");
    av = LLVMBuildShuffleVector(b, av, LLVMGetUndef(vt), zero_mask, "");
    for (int v = 0; v < NV; v++) {
      LLVMValueRef args[3] = {av, bv[v], acc[r][v]};
      next[r][v] = em_call_intr(E, "llvm.fma", vt, args, 3);
    }
  }
  em_loop_end(E, &lk, em_loop_md_ex(E, 1, 0, MD_NO_UNROLL));
  for (int r = 0; r < MR; r++)
    for (int v = 0; v < NV; v++) {
      LLVMAddIncoming(acc[r][v], &next[r][v], &lk.latch, 1);
      LLVMValueRef st = LLVMBuildStore(b, acc[r][v], cptr[r][v]);
      LLVMSetAlignment(st, (unsigned)esize);
    }
  em_loop_end(E, &lj, em_loop_md_ex(E, 1, 0, MD_NO_UNROLL));
  em_loop_end(E, &li, em_loop_md_ex(E, 1, 0, MD_NO_UNROLL));
  em_loop_end(E, &lb, em_loop_md_ex(E, 1, 0, MD_NO_UNROLL));
  return true;
}

int em_dot(LEmit *E, const IrOp *op, SinkPhase ph, SinkState *st) {
  IrValueId a = op->args[0], b = op->args[1], res = op->results[0];
  IrValueId acc = op->nargs == 3 ? op->args[2] : IR_NONE;
  const IrValue *av = val(E, a), *bv = val(E, b), *rv = val(E, res);
  DType cdt = comp_dtype(av->dtype);
  int r = av->shape.rank;
  int64_t M = em_dim(E, av->shape.dims[r - 2]), K = em_dim(E, av->shape.dims[r - 1]);
  int64_t N = em_dim(E, bv->shape.dims[r - 1]), batch = r == 3 ? em_dim(E, av->shape.dims[0]) : 1;
  bool inplace = E->plan->inplace[res] == acc && acc != IR_NONE && rv->dtype == cdt;
  if (ph == SINK_INIT) {
    st->acc_is_result = rv->dtype == cdt && E->plan->kind[res] == PLAN_BUFFER;
    if (inplace) {
      st->acc = em_get(E, acc)->v;
      return HL_OK;
    }
    st->acc = em_work_buffer(E, em_mem_type(E, cdt), batch * M * N, "c");
    if (acc != IR_NONE) {
      em_fill(E, st->acc, cdt, &rv->shape, acc);
    } else {
      LLoop l;
      em_par_begin(E, &l, em_i64(E, batch * M * N), "z");
      em_buf_store(E, cdt, st->acc, l.iv, em_zero(E, cdt));
      em_par_end(E, &l, em_inner_md(E));
    }
    return HL_OK;
  }
  if (ph == SINK_BODY) {
    IrDim kd = av->shape.dims[r - 1];
    LLVMValueRef klen = em_vlen(E, kd);
    bool full = LLVMIsAConstantInt(klen) && LLVMConstIntGetSExtValue(klen) >= K;
    /* GPU, bfloat16 / float16 into float32: tensor cores (lower_nvptx_dot.c) */
    if (E->gpu && cdt == DT_FLOAT32 && em_nvptx_dot_tc_ok(E, op))
      return em_nvptx_dot_tc(E, op, st->acc, klen);
    LLVMValueRef A = em_work_buffer(E, em_mem_type(E, cdt), batch * M * K, "a.pack");
    LLVMValueRef B = em_work_buffer(E, em_mem_type(E, cdt), batch * K * N, "b.pack");
    pack(E, A, cdt, a, r - 1, klen, full);
    pack(E, B, cdt, b, r - 2, klen, full);
    /* GPU: the portable path (operands staged in shared memory, FMA per output element) for
     * the dots tensor cores do not take (float32, int8, float64, shapes nvmma refuses). */
    if (em_nvptx_dot_tf32_ok(E, av->dtype, M, N, K) && bv->dtype == DT_FLOAT32)
      em_nvptx_dot_tf32(E, A, B, st->acc, batch, M, N, K); /* dot_precision "tf32" */
    else if (E->gpu)
      em_gpu_gemm(E, cdt, A, B, st->acc, batch, M, N, K);
    else if (!gemm_blocked(E, cdt, A, B, st->acc, batch, M, N, K))
      gemm_loops(E, cdt, A, B, st->acc, batch, M, N, K);
    return E->failed ? HL_ERR : HL_OK;
  }
  LVal out;
  if (E->plan->kind[res] == PLAN_SCALAR) {
    LLVMValueRef v = em_buf_load(E, cdt, st->acc, em_i64(E, 0));
    out = (LVal){.kind = LV_SCALAR, .v = em_cast(E, cdt, rv->dtype, v)};
  } else if (inplace || st->acc_is_result) {
    out = (LVal){.kind = LV_BUF, .v = st->acc};
  } else {
    int64_t n = batch * M * N;
    LLVMValueRef buf = em_buffer(E, rv->dtype, &rv->shape, "dot");
    LLoop l;
    em_par_begin(E, &l, em_i64(E, n), "cvt");
    em_buf_store(E, rv->dtype, buf, l.iv,
                 em_cast(E, cdt, rv->dtype, em_buf_load(E, cdt, st->acc, l.iv)));
    em_par_end(E, &l, em_inner_md(E));
    out = (LVal){.kind = LV_BUF, .v = buf};
  }
  em_name(E, out.v, E->f, res, "");
  em_set(E, res, out);
  return HL_OK;
}
