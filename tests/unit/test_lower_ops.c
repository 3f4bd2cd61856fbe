/* Lowering of every elementwise op (float32, float16 storage, integers with floored % and //),
 * views, creation ops, tile fields, registered block sizes, tunables and specialized scalars,
 * each compiled and run against the host reference on ragged sizes. Part of tests/unit. */
#include <stdlib.h>

#include "lower_test_util.h"

/* out[t] = op(x[t] [, y[t]]) over 1-D tensors; out may have another dtype (compares: bool). */
static IrFunc *build_elementwise(IrOpKind kind, const Tensor *x, const Tensor *y,
                                 const Tensor *out) {
  TK k = tk_new(ir_op_info(kind)->name);
  IrValueId tx = tk_tensor(&k, "x", x), ty = y ? tk_tensor(&k, "y", y) : IR_NONE;
  IrValueId to = tk_tensor(&k, "out", out), t;
  tk_tile(&k, 1, x->sizes, &t);
  IrValueId a = tk_load(&k, tx, 1, &TI(t), IR_NONE), r;
  if (kind == IR_OP_WHERE) {
    IrValueId b = tk_load(&k, ty, 1, &TI(t), IR_NONE);
    IrValueId c = tk_2(&k, IR_OP_GT, a, b);
    r = tk_op(&k, IR_OP_WHERE, 3, (IrValueId[]){c, a, b}, NULL);
  } else if (kind == IR_OP_AND || kind == IR_OP_OR || kind == IR_OP_NOT) {
    IrValueId zero = tk_f(&k, x->dtype, 0);
    IrValueId p = tk_2(&k, IR_OP_GT, a, zero);
    IrValueId q = tk_2(&k, IR_OP_LT, tk_load(&k, ty, 1, &TI(t), IR_NONE), zero);
    r = kind == IR_OP_NOT ? tk_1(&k, IR_OP_NOT, p) : tk_2(&k, kind, p, q);
  } else if (y) {
    r = tk_2(&k, kind, a, tk_load(&k, ty, 1, &TI(t), IR_NONE));
  } else {
    r = tk_1(&k, kind, a);
  }
  tk_store(&k, to, 1, &TI(t), r, IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static Tensor *run_elementwise(IrOpKind kind, Tensor *x, Tensor *y, DType out_dt, int64_t block) {
  Tensor *o = tk_zeros(x->sizes, 1, out_dt);
  IrFunc *f = build_elementwise(kind, x, y, o);
  LowerConfig cfg = CFG_BS(block);
  tk_run(f, &cfg, y ? (Tensor *[]){x, y, o} : (Tensor *[]){x, o}, NULL);
  ir_func_free(f);
  return o;
}

static const struct {
  IrOpKind ir;
  TensorUnOp host;
  bool positive; /* the input's domain: |x| + 0.1 */
  double rtol;
} unops[] = {
    {IR_OP_NEG, TENSOR_NEG, false, 0},
    {IR_OP_ABS, TENSOR_ABS, false, 0},
    {IR_OP_RELU, TENSOR_RELU, false, 0},
    {IR_OP_EXP, TENSOR_EXP, false, 4e-7},
    {IR_OP_EXP2, TENSOR_EXP2, false, 4e-7},
    {IR_OP_LOG, TENSOR_LOG, true, 2e-7},
    {IR_OP_LOG2, TENSOR_LOG2, true, 2e-7},
    {IR_OP_SQRT, TENSOR_SQRT, true, 2e-7},
    {IR_OP_RSQRT, TENSOR_RSQRT, true, 3e-7},
    {IR_OP_SIN, TENSOR_SIN, false, 2e-7},
    {IR_OP_COS, TENSOR_COS, false, 2e-7},
    {IR_OP_TANH, TENSOR_TANH, false, 2e-7},
    {IR_OP_SIGMOID, TENSOR_SIGMOID, false, 5e-7},
    {IR_OP_GELU, TENSOR_GELU, false, 5e-7},
    {IR_OP_SILU, TENSOR_SILU, false, 5e-7},
    {IR_OP_FLOOR, TENSOR_FLOOR, false, 0},
    {IR_OP_CEIL, TENSOR_CEIL, false, 0},
};

static void test_unary_float32(void **state) {
  (void)state;
  int64_t n = 1003;
  Tensor *x0 = tk_randn(&n, 1, DT_FLOAT32, 1), *x, *ax, *pos, *tenth;
  TKCHECK(tensor_scalar_f64(3.0, &tenth, D_));
  TKCHECK(tensor_binary(TENSOR_MUL, x0, tenth, &x, D_)); /* wide enough for exp's range reduction */
  tensor_free(tenth);
  TKCHECK(tensor_unary(TENSOR_ABS, x, &ax, D_));
  TKCHECK(tensor_scalar_f64(0.1, &tenth, D_));
  TKCHECK(tensor_binary(TENSOR_ADD, ax, tenth, &pos, D_));
  for (size_t i = 0; i < sizeof unops / sizeof *unops; i++) {
    Tensor *in = unops[i].positive ? pos : x, *ref;
    TKCHECK(tensor_unary(unops[i].host, in, &ref, D_));
    Tensor *o = run_elementwise(unops[i].ir, in, NULL, DT_FLOAT32, 64);
    char what[64];
    snprintf(what, sizeof what, "%s float32", ir_op_info(unops[i].ir)->name);
    tk_expect_close(o, ref, unops[i].rtol, unops[i].rtol ? 1e-6 : 0, what);
    free_all((Tensor *[]){o, ref}, 2);
  }
  free_all((Tensor *[]){x0, x, ax, pos, tenth}, 5);
}

static void test_exp_extremes(void **state) {
  (void)state;
  double v[] = {0,      -0.0,   1e-30, -1e-30,   88.7,      88.73, 89,  100,  -87.3, -100,
                -103.9, -104.5, -1000, INFINITY, -INFINITY, NAN,   0.5, -0.5, 20.25, -20.25};
  int64_t n = sizeof v / sizeof *v;
  Tensor *x = NULL, *ref, *ref2;
  TKCHECK(tensor_from_buffer(v, DT_FLOAT64, &n, 1, DT_FLOAT32, &x, D_));
  TKCHECK(tensor_unary(TENSOR_EXP, x, &ref, D_));
  TKCHECK(tensor_unary(TENSOR_EXP2, x, &ref2, D_));
  Tensor *o = run_elementwise(IR_OP_EXP, x, NULL, DT_FLOAT32, 16);
  Tensor *o2 = run_elementwise(IR_OP_EXP2, x, NULL, DT_FLOAT32, 16);
  for (int64_t i = 0; i < n; i++) {
    double a, b, a2, b2;
    TKCHECK(tensor_get_f64(o, &i, &a, D_));
    TKCHECK(tensor_get_f64(ref, &i, &b, D_));
    TKCHECK(tensor_get_f64(o2, &i, &a2, D_));
    TKCHECK(tensor_get_f64(ref2, &i, &b2, D_));
    bool ok = (isnan(a) && isnan(b)) || a == b || fabs(a - b) <= 4e-7 * fabs(b) ||
              (fabs(b) < 1e-37 && fabs(a) < 1e-37);
    bool ok2 = (isnan(a2) && isnan(b2)) || a2 == b2 || fabs(a2 - b2) <= 4e-7 * fabs(b2) ||
               (fabs(b2) < 1e-37 && fabs(a2) < 1e-37);
    if (!ok || !ok2) fail_msg("exp(%g) = %g (want %g), exp2 = %g (want %g)", v[i], a, b, a2, b2);
  }
  free_all((Tensor *[]){x, ref, ref2, o, o2}, 5);
}

static const struct {
  IrOpKind ir;
  TensorBinOp host;
  bool bool_out;
} binops[] = {
    {IR_OP_ADD, TENSOR_ADD, false},
    {IR_OP_SUB, TENSOR_SUB, false},
    {IR_OP_MUL, TENSOR_MUL, false},
    {IR_OP_DIV, TENSOR_DIV, false},
    {IR_OP_POW, TENSOR_POW, false},
    {IR_OP_MOD, TENSOR_MOD, false},
    {IR_OP_FLOORDIV, TENSOR_FLOORDIV, false},
    {IR_OP_MAXIMUM, TENSOR_MAXIMUM, false},
    {IR_OP_MINIMUM, TENSOR_MINIMUM, false},
    {IR_OP_LT, TENSOR_LT, true},
    {IR_OP_LE, TENSOR_LE, true},
    {IR_OP_GT, TENSOR_GT, true},
    {IR_OP_GE, TENSOR_GE, true},
    {IR_OP_EQ, TENSOR_EQ, true},
    {IR_OP_NE, TENSOR_NE, true},
};

static void test_binary(void **state) {
  (void)state;
  int64_t n = 777;
  DType dts[2] = {DT_FLOAT32, DT_FLOAT16};
  for (int di = 0; di < 2; di++) {
    Tensor *x = tk_randn(&n, 1, dts[di], 1), *y = tk_randn(&n, 1, dts[di], 2), *ax, *half, *px;
    for (int64_t i = 0; i < n; i += 9) { /* some equal pairs for the compares */
      double v;
      TKCHECK(tensor_get_f64(x, &i, &v, D_));
      TKCHECK(tensor_set_f64(y, &i, v, D_));
    }
    TKCHECK(tensor_unary(TENSOR_ABS, x, &ax, D_));
    TKCHECK(tensor_scalar_f64(0.5, &half, D_));
    TKCHECK(tensor_binary(TENSOR_ADD, ax, half, &px, D_));
    for (size_t i = 0; i < sizeof binops / sizeof *binops; i++) {
      Tensor *a = binops[i].ir == IR_OP_POW ? px : x, *ref;
      TKCHECK(tensor_binary(binops[i].host, a, y, &ref, D_));
      Tensor *o = run_elementwise(binops[i].ir, a, y, binops[i].bool_out ? DT_BOOL : dts[di], 32);
      char what[64];
      snprintf(what, sizeof what, "%s %s", ir_op_info(binops[i].ir)->name,
               tensor_dtype_name(dts[di]));
      double tol = dts[di] == DT_FLOAT32 ? 2e-6 : 1e-3;
      tk_expect_close(o, ref,
                      binops[i].ir == IR_OP_POW || binops[i].ir == IR_OP_MOD ? tol * 10 : tol,
                      binops[i].ir == IR_OP_MOD ? tol : 0, what);
      free_all((Tensor *[]){o, ref}, 2);
    }
    /* where, and, or, not */
    IrOpKind extra[4] = {IR_OP_WHERE, IR_OP_AND, IR_OP_OR, IR_OP_NOT};
    for (int e = 0; e < 4; e++) {
      Tensor *o = run_elementwise(extra[e], x, y, extra[e] == IR_OP_WHERE ? dts[di] : DT_BOOL, 32);
      for (int64_t i = 0; i < n; i++) {
        double xv, yv, got;
        TKCHECK(tensor_get_f64(x, &i, &xv, D_));
        TKCHECK(tensor_get_f64(y, &i, &yv, D_));
        TKCHECK(tensor_get_f64(o, &i, &got, D_));
        double want = extra[e] == IR_OP_WHERE ? (xv > yv ? xv : yv)
                      : extra[e] == IR_OP_AND ? (xv > 0 && yv < 0)
                      : extra[e] == IR_OP_OR  ? (xv > 0 || yv < 0)
                                              : !(xv > 0);
        if (got != want)
          fail_msg("%s at %lld: got %g, want %g", ir_op_info(extra[e])->name, (long long)i, got,
                   want);
      }
      tensor_free(o);
    }
    free_all((Tensor *[]){x, y, ax, half, px}, 5);
  }
}

static int64_t floor_mod(int64_t a, int64_t b) {
  if (b == 0) return 0;
  int64_t r = a % b;
  return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}

static int64_t floor_div(int64_t a, int64_t b) {
  if (b == 0) return 0;
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static void test_integer_ops(void **state) {
  (void)state;
  int64_t n = 300;
  DType dts[3] = {DT_INT32, DT_INT64, DT_UINT8};
  IrOpKind ops[8] = {IR_OP_MOD, IR_OP_FLOORDIV, IR_OP_MAXIMUM, IR_OP_MINIMUM,
                     IR_OP_ADD, IR_OP_MUL,      IR_OP_ABS,     IR_OP_NEG};
  for (int di = 0; di < 3; di++) {
    bool u = dts[di] == DT_UINT8;
    Tensor *x = tk_zeros(&n, 1, dts[di]), *y = tk_zeros(&n, 1, dts[di]);
    for (int64_t i = 0; i < n; i++) {
      TKCHECK(tensor_set_i64(x, &i, u ? (i * 37) % 256 : (i * 37) % 101 - 50, D_));
      TKCHECK(tensor_set_i64(y, &i, u ? i % 7 : i % 13 - 6, D_)); /* zeros included */
    }
    for (int o = 0; o < 8; o++) {
      bool unary = ops[o] == IR_OP_ABS || ops[o] == IR_OP_NEG;
      Tensor *out = run_elementwise(ops[o], x, unary ? NULL : y, dts[di], 16);
      for (int64_t i = 0; i < n; i++) {
        int64_t a, b, got, want;
        TKCHECK(tensor_get_i64(x, &i, &a, D_));
        TKCHECK(tensor_get_i64(y, &i, &b, D_));
        TKCHECK(tensor_get_i64(out, &i, &got, D_));
        switch (ops[o]) {
        case IR_OP_MOD:
          want = u ? (b ? a % b : 0) : floor_mod(a, b);
          break;
        case IR_OP_FLOORDIV:
          want = u ? (b ? a / b : 0) : floor_div(a, b);
          break;
        case IR_OP_MAXIMUM:
          want = a > b ? a : b;
          break;
        case IR_OP_MINIMUM:
          want = a < b ? a : b;
          break;
        case IR_OP_ADD:
          want = a + b;
          break;
        case IR_OP_MUL:
          want = a * b;
          break;
        case IR_OP_ABS:
          want = u ? a : llabs(a);
          break;
        default:
          want = -a;
          break;
        }
        if (u) want &= 0xff;
        if (got != want)
          fail_msg("%s %s(%lld, %lld) = %lld, want %lld", tensor_dtype_name(dts[di]),
                   ir_op_info(ops[o])->name, (long long)a, (long long)b, (long long)got,
                   (long long)want);
      }
      tensor_free(out);
    }
    free_all((Tensor *[]){x, y}, 2);
  }
}

/* ---- views and creation ------------------------------------------------------------------- */

/* outT[tn, tm] = permute(x[tm, tn]); out2[tm] = 2 v + 4 through unsqueeze, expand (+ arange),
 * reshape to [B0, 2, 2], amax, sum and squeeze, where v = x[tm, 0]. */
static IrFunc *build_views(const Tensor *x, const Tensor *xt, const Tensor *o1) {
  TK k = tk_new("views");
  IrValueId tx = tk_tensor(&k, "x", x), tt = tk_tensor(&k, "xt", xt),
            to = tk_tensor(&k, "out2", o1), t[2];
  tk_tile(&k, 2, x->sizes, t);
  IrValueId v = tk_load(&k, tx, 2, (IrIndex[]){TI(t[0]), TI(t[1])}, IR_NONE);
  IrAttrs p = IR_ATTRS_INIT;
  p.shape.rank = 2, p.perm[0] = 1, p.perm[1] = 0;
  tk_store(&k, tt, 2, (IrIndex[]){TI(t[1]), TI(t[0])}, tk_op(&k, IR_OP_PERMUTE, 1, &v, &p),
           IR_NONE);
  IrValueId c = tk_load(&k, tx, 2, (IrIndex[]){TI(t[0]), SC(tk_i(&k, 0))}, IR_NONE); /* [B0] */
  IrAttrs a = IR_ATTRS_INIT;
  a.dim = 1;
  IrValueId u = tk_op(&k, IR_OP_UNSQUEEZE, 1, &c, &a); /* [B0, 1] */
  IrAttrs ex = IR_ATTRS_INIT;
  ex.shape.rank = 2, ex.shape.dims[0] = (IrDim){IR_DIM_CONST, -1},
  ex.shape.dims[1] = (IrDim){IR_DIM_CONST, 4};
  IrValueId e = tk_op(&k, IR_OP_EXPAND, 1, &u, &ex); /* [B0, 4] */
  IrAttrs ar = IR_ATTRS_INIT;
  ar.dtype = DT_INT32, ar.start = 0, ar.shape.rank = 1, ar.shape.dims[0] = (IrDim){IR_DIM_CONST, 4};
  IrValueId e2 =
      tk_2(&k, IR_OP_ADD, e, tk_cast(&k, tk_op(&k, IR_OP_ARANGE, 0, NULL, &ar), DT_FLOAT32));
  IrAttrs rs = IR_ATTRS_INIT;
  rs.shape.rank = 3, rs.shape.dims[0] = tk_shape(&k, c)->dims[0];
  rs.shape.dims[1] = rs.shape.dims[2] = (IrDim){IR_DIM_CONST, 2};
  IrValueId r = tk_op(&k, IR_OP_RESHAPE, 1, &e2, &rs); /* [B0, 2, 2]: v+0 v+1 | v+2 v+3 */
  IrValueId m = tk_reduce(&k, IR_OP_AMAX, r, 2, true); /* [B0, 2, 1]: v+1, v+3 */
  IrValueId s = tk_reduce(&k, IR_OP_SUM, m, 1, false); /* [B0, 1] */
  IrAttrs sq = IR_ATTRS_INIT;
  sq.dim = 1;
  tk_store(&k, to, 1, &TI(t[0]), tk_op(&k, IR_OP_SQUEEZE, 1, &s, &sq), IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_views(void **state) {
  (void)state;
  Tensor *x = tk_randn(SIZES(37, 53), DT_FLOAT32, 3), *xt = tk_zeros(SIZES(53, 37), DT_FLOAT32);
  Tensor *o = tk_zeros(SIZES(37), DT_FLOAT32), *ref;
  TKCHECK(tensor_transpose(x, 0, 1, &ref, D_));
  IrFunc *f = build_views(x, xt, o);
  LowerConfig cfgs[3] = {CFG_BS(8, 16), CFG_BS(64, 64), CFG_BS(1, 4)};
  for (int c = 0; c < 3; c++) {
    Tensor *xt2 = tk_zeros(SIZES(53, 37), DT_FLOAT32), *o2 = tk_zeros(SIZES(37), DT_FLOAT32);
    tk_run(f, &cfgs[c], (Tensor *[]){x, xt2, o2}, NULL);
    tk_expect_close(xt2, ref, 0, 0, "permute");
    for (int64_t i = 0; i < 37; i++) {
      double v, got;
      TKCHECK(tensor_get_f64(x, (int64_t[]){i, 0}, &v, D_));
      TKCHECK(tensor_get_f64(o2, &i, &got, D_));
      if (fabs(got - (2 * v + 4)) > 1e-5)
        fail_msg("views row %lld: %g, want %g", (long long)i, got, 2 * v + 4);
    }
    free_all((Tensor *[]){xt2, o2}, 2);
  }
  ir_func_free(f);
  free_all((Tensor *[]){x, xt, o, ref}, 4);
}

/* Tile fields and creation ops: begin/end/block_size/count per tile id, index + arange. */
static IrFunc *build_fields(const Tensor *idx, const Tensor *fields) {
  TK k = tk_new("fields");
  IrValueId ti = tk_tensor(&k, "idx", idx), tf = tk_tensor(&k, "fields", fields), t;
  tk_tile(&k, 1, idx->sizes, &t);
  IrValueId id = tk_1(&k, IR_OP_TILE_ID, t);
  IrOpKind kinds[4] = {IR_OP_TILE_BEGIN, IR_OP_TILE_END, IR_OP_TILE_BLOCK_SIZE, IR_OP_TILE_COUNT};
  for (int i = 0; i < 4; i++)
    tk_store(&k, tf, 2, (IrIndex[]){SC(id), SC(tk_i(&k, i))}, tk_1(&k, kinds[i], t), IR_NONE);
  IrAttrs ar = IR_ATTRS_INIT;
  ar.dtype = DT_INT64, ar.start = 0, ar.shape.rank = 1, ar.shape.dims[0] = tk_shape(&k, t)->dims[0];
  IrValueId v =
      tk_2(&k, IR_OP_ADD, tk_1(&k, IR_OP_TILE_INDEX, t), tk_op(&k, IR_OP_ARANGE, 0, NULL, &ar));
  tk_store(&k, ti, 1, &TI(t), v, IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_tile_fields(void **state) {
  (void)state;
  Tensor *idx = tk_zeros(SIZES(100), DT_INT64), *fields = tk_zeros(SIZES(128, 4), DT_INT64);
  IrFunc *f = build_fields(idx, fields);
  int64_t blocks[3] = {16, 1, 128};
  for (int c = 0; c < 3; c++) {
    LowerConfig cfg = CFG_BS(blocks[c]);
    tk_run(f, &cfg, (Tensor *[]){idx, fields}, NULL);
    int64_t B = blocks[c], count = (100 + B - 1) / B;
    for (int64_t tid = 0; tid < count; tid++) {
      int64_t want[4] = {tid * B, (tid + 1) * B < 100 ? (tid + 1) * B : 100, B, count};
      for (int64_t j = 0; j < 4; j++) {
        int64_t got;
        TKCHECK(tensor_get_i64(fields, (int64_t[]){tid, j}, &got, D_));
        if (got != want[j])
          fail_msg("block %lld tile %lld field %lld: %lld, want %lld", (long long)B, (long long)tid,
                   (long long)j, (long long)got, (long long)want[j]);
      }
    }
    for (int64_t i = 0; i < 100; i++) {
      int64_t got;
      TKCHECK(tensor_get_i64(idx, &i, &got, D_));
      if (got != i + i % B) fail_msg("index + arange at %lld: %lld", (long long)i, (long long)got);
    }
  }
  ir_func_free(f);
  free_all((Tensor *[]){idx, fields}, 2);
}

/* A registered block size shared by two loops, a user tunable and a specialized scalar:
 * out[t] = x[t] * scale, then out2[t] = out-shaped x[t] + n. */
static IrFunc *build_decls(const Tensor *x) {
  TK k = tk_new("decls");
  IrValueId tx = tk_tensor(&k, "x", x), to = tk_tensor(&k, "out", x),
            to2 = tk_tensor(&k, "out2", x);
  IrValueId narg = tk_scalar(&k, "n", DT_INT64), bs, scale, n, t, t2;
  int slot;
  TKCHECK(ir_build_register_block_size(k.b, 16, 64, &slot, &bs, D_));
  TKCHECK(ir_build_tunable(k.b, "scale", "IntegerFragment(1, 8, 3)", DT_INT64, &scale, D_));
  TKCHECK(ir_build_specialize(k.b, narg, (IrScalar){.i = x->sizes[0]}, &n, D_));
  IrValueId b = tk_i(&k, 0);
  int64_t blk = -slot - 1;
  tk_loop(&k, IR_OP_TILE, 1, &b, &n, &blk, 0, NULL, &t, NULL);
  IrValueId v = tk_load(&k, tx, 1, &TI(t), IR_NONE);
  tk_store(&k, to, 1, &TI(t), tk_2(&k, IR_OP_MUL, v, tk_cast(&k, scale, DT_FLOAT32)), IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  tk_loop(&k, IR_OP_TILE, 1, &b, &n, &blk, 0, NULL, &t2, NULL);
  IrValueId w = tk_load(&k, tx, 1, &TI(t2), IR_NONE);
  IrValueId bsf = tk_cast(&k, bs, DT_FLOAT32);
  tk_store(&k, to2, 1, &TI(t2), tk_2(&k, IR_OP_ADD, w, bsf), IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_decls(void **state) {
  (void)state;
  Tensor *x = tk_randn(SIZES(300), DT_FLOAT32, 4);
  IrFunc *f = build_decls(x);
  LowerConfig cfgs[2] = {CFG_BS(32), CFG_BS(16)};
  cfgs[1].ntunables = 1;
  snprintf(cfgs[1].tunables[0].name, sizeof cfgs[1].tunables[0].name, "scale");
  cfgs[1].tunables[0].value = 5;
  for (int c = 0; c < 2; c++) {
    Tensor *o = tk_zeros(SIZES(300), DT_FLOAT32), *o2 = tk_zeros(SIZES(300), DT_FLOAT32);
    tk_run(f, &cfgs[c], (Tensor *[]){x, o, o2}, (double[]){0, 0, 0, 300});
    double scale = c == 0 ? 3 : 5, bs = (double)cfgs[c].block_sizes[0];
    for (int64_t i = 0; i < 300; i++) {
      double v, a, b;
      TKCHECK(tensor_get_f64(x, &i, &v, D_));
      TKCHECK(tensor_get_f64(o, &i, &a, D_));
      TKCHECK(tensor_get_f64(o2, &i, &b, D_));
      if (fabs(a - (float)(v * scale)) > 1e-6 || fabs(b - (float)(v + bs)) > 1e-5)
        fail_msg("decls at %lld: %g %g", (long long)i, a, b);
    }
    free_all((Tensor *[]){o, o2}, 2);
  }
  ir_func_free(f);
  tensor_free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_unary_float32, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exp_extremes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
      cmocka_unit_test_setup_teardown(test_integer_ops, setup, teardown),
      cmocka_unit_test_setup_teardown(test_views, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tile_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_decls, setup, teardown),
  };
  return cmocka_run_group_tests_name("lower_ops", tests, NULL, NULL);
}
