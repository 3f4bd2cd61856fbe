/* Lowering end to end on the CPU: kernels built with the IR builder (add with broadcast,
 * softmax, matmul, reductions, gathers, atomic adds, grid loops, carried values, float16 and
 * bfloat16 storage), compiled for several configs — ragged sizes, non-contiguous inputs,
 * looped reductions, loop orders — run on host tensors and compared with the host reference.
 * Part of tests/unit. */
#include "lower_test_util.h"

/* ---- the IR suite's kernels, default config ------------------------------------------------- */

static void test_ir_suite_kernels(void **state) {
  (void)state;
  LowerConfig cfg;
  lower_config_init(&cfg);
  IrFunc *f;
  TKCHECK(ir_test_build_add(&f, D_));
  Tensor *x = tk_randn(SIZES(1000, 500), DT_FLOAT32, 1),
         *y = tk_randn(SIZES(1000, 500), DT_FLOAT32, 2);
  Tensor *o = tk_zeros(SIZES(1000, 500), DT_FLOAT32), *ref;
  tk_run(f, &cfg, (Tensor *[]){x, y, o}, NULL);
  TKCHECK(tensor_binary(TENSOR_ADD, x, y, &ref, D_));
  tk_expect_close(o, ref, 0, 0, "add");
  free_all((Tensor *[]){x, y, o, ref}, 4);
  ir_func_free(f);

  TKCHECK(ir_test_build_softmax(&f, D_));
  x = tk_randn(SIZES(4096, 1000), DT_FLOAT16, 3);
  o = tk_zeros(SIZES(4096, 1000), DT_FLOAT16);
  tk_run(f, &cfg, (Tensor *[]){x, o}, NULL);
  TKCHECK(tensor_softmax(x, -1, &ref, D_));
  tk_expect_close(o, ref, 1e-2, 1e-4, "softmax float16");
  free_all((Tensor *[]){x, o, ref}, 3);
  ir_func_free(f);

  TKCHECK(ir_test_build_matmul(&f, D_));
  x = tk_randn(SIZES(1024, 512), DT_BFLOAT16, 4);
  y = tk_randn(SIZES(512, 256), DT_BFLOAT16, 5);
  o = tk_zeros(SIZES(1024, 256), DT_BFLOAT16);
  tk_run(f, &cfg, (Tensor *[]){x, y, o}, NULL);
  TKCHECK(tensor_matmul(x, y, &ref, D_));
  tk_expect_close(o, ref, 2e-2, 5e-2, "matmul bfloat16");
  free_all((Tensor *[]){x, y, o, ref}, 4);
  ir_func_free(f);
}

/* ---- add ------------------------------------------------------------------------------------ */

/* out = x + y over n elements (1-D). */
static IrFunc *build_add_1d(const Tensor *x) {
  TK k = tk_new("add1d");
  IrValueId tx = tk_tensor(&k, "x", x), ty = tk_tensor(&k, "y", x), to = tk_tensor(&k, "out", x), t;
  tk_tile(&k, 1, &x->sizes[0], &t);
  IrValueId s =
      tk_2(&k, IR_OP_ADD, tk_load(&k, tx, 1, &TI(t), IR_NONE), tk_load(&k, ty, 1, &TI(t), IR_NONE));
  tk_store(&k, to, 1, &TI(t), s, IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_add_1d(void **state) {
  (void)state;
  int64_t sizes[] = {1, 7, 1000, 4099};
  int64_t blocks[] = {1, 16, 1024, -1};
  for (int s = 0; s < 4; s++) {
    Tensor *x = tk_randn(&sizes[s], 1, DT_FLOAT32, 10 + s),
           *y = tk_randn(&sizes[s], 1, DT_FLOAT32, 20 + s);
    Tensor *ref;
    TKCHECK(tensor_binary(TENSOR_ADD, x, y, &ref, D_));
    IrFunc *f = build_add_1d(x);
    for (int b = 0; b < 4; b++) {
      Tensor *o = tk_zeros(&sizes[s], 1, DT_FLOAT32);
      LowerConfig cfg = CFG_BS(blocks[b]);
      tk_run(f, &cfg, (Tensor *[]){x, y, o}, NULL);
      tk_expect_close(o, ref, 0, 0, "add 1-D");
      tensor_free(o);
    }
    ir_func_free(f);
    free_all((Tensor *[]){x, y, ref}, 3);
  }
}

/* out[m, n] = x[m, n] * alpha + bias[n]: a [B1] value broadcast over [B0, B1], a scalar arg. */
static IrFunc *build_add_bcast(const Tensor *x, const Tensor *bias, const Tensor *out) {
  TK k = tk_new("add_bcast");
  IrValueId tx = tk_tensor(&k, "x", x), tb = tk_tensor(&k, "bias", bias),
            to = tk_tensor(&k, "out", out);
  IrValueId alpha = tk_scalar(&k, "alpha", DT_FLOAT32), t[2];
  tk_tile(&k, 2, x->sizes, t);
  IrValueId vx = tk_load(&k, tx, 2, (IrIndex[]){TI(t[0]), TI(t[1])}, IR_NONE);
  IrValueId vb = tk_load(&k, tb, 1, &TI(t[1]), IR_NONE);
  IrValueId r = tk_2(&k, IR_OP_ADD, tk_2(&k, IR_OP_MUL, vx, alpha), vb);
  tk_store(&k, to, 2, (IrIndex[]){TI(t[0]), TI(t[1])}, r, IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_add_broadcast(void **state) {
  (void)state;
  Tensor *xc = tk_randn(SIZES(37, 53), DT_FLOAT32, 1), *bias = tk_randn(SIZES(53), DT_FLOAT32, 2);
  Tensor *x = tk_strided(xc); /* strides {1, 37} */
  assert_int_equal(x->strides[0], 1);
  Tensor *scaled, *ref, *alpha_t;
  TKCHECK(tensor_scalar_f64(0.5, &alpha_t, D_));
  TKCHECK(tensor_binary(TENSOR_MUL, xc, alpha_t, &scaled, D_));
  TKCHECK(tensor_binary(TENSOR_ADD, scaled, bias, &ref, D_));
  IrFunc *f = build_add_bcast(x, bias, xc);
  LowerConfig cfgs[5] = {CFG_BS(8, 16), CFG_BS(64, 64), CFG_BS(1, 1), CFG_BS(4, 128),
                         CFG_BS(16, 8)};
  cfgs[3].nloop_orders = 1;
  cfgs[3].loop_order_len[0] = 2;
  cfgs[3].loop_orders[0][0] = 1;
  cfgs[3].loop_orders[0][1] = 0;
  cfgs[4].vector_width = 4;
  cfgs[4].cpu_threads = 1;
  for (int c = 0; c < 5; c++) {
    Tensor *o = tk_zeros(SIZES(37, 53), DT_FLOAT32);
    tk_run(f, &cfgs[c], (Tensor *[]){x, bias, o}, (double[]){0, 0, 0, 0.5});
    tk_expect_close(o, ref, 1e-6, 1e-6, "x * alpha + bias");
    tensor_free(o);
  }
  ir_func_free(f);
  free_all((Tensor *[]){xc, x, bias, scaled, ref, alpha_t}, 6);
}

/* Outputs of 8 MiB and more take streaming stores for rows that start 64-byte aligned: with 2050
 * columns, rows alternate between the two paths. */
static void test_streaming_store(void **state) {
  (void)state;
  Tensor *x = tk_randn(SIZES(1025, 2050), DT_FLOAT32, 3),
         *bias = tk_randn(SIZES(2050), DT_FLOAT32, 4);
  Tensor *scaled, *ref, *alpha_t;
  TKCHECK(tensor_scalar_f64(0.5, &alpha_t, D_));
  TKCHECK(tensor_binary(TENSOR_MUL, x, alpha_t, &scaled, D_));
  TKCHECK(tensor_binary(TENSOR_ADD, scaled, bias, &ref, D_));
  IrFunc *f = build_add_bcast(x, bias, x);
  LowerConfig cfgs[3] = {CFG_BS(8, 256), CFG_BS(1, 4096), CFG_BS(32, 64)};
  for (int c = 0; c < 3; c++) {
    Tensor *o = tk_zeros(SIZES(1025, 2050), DT_FLOAT32);
    tk_run(f, &cfgs[c], (Tensor *[]){x, bias, o}, (double[]){0, 0, 0, 0.5});
    tk_expect_close(o, ref, 1e-6, 1e-6, "streamed x * alpha + bias");
    tensor_free(o);
  }
  ir_func_free(f);
  free_all((Tensor *[]){x, bias, scaled, ref, alpha_t}, 5);
}

/* ---- softmax -------------------------------------------------------------------------------- */

static IrFunc *build_softmax(const Tensor *x) {
  TK k = tk_new("softmax");
  IrValueId tx = tk_tensor(&k, "x", x), to = tk_tensor(&k, "out", x), t;
  tk_tile(&k, 1, x->sizes, &t);
  IrValueId v = tk_load(&k, tx, 2, (IrIndex[]){TI(t), SL}, IR_NONE);
  if (x->dtype != DT_FLOAT32) v = tk_cast(&k, v, DT_FLOAT32);
  IrAttrs a = IR_ATTRS_INIT;
  a.dim = -1;
  IrValueId s = tk_op(&k, IR_OP_SOFTMAX, 1, &v, &a);
  if (x->dtype != DT_FLOAT32) s = tk_cast(&k, s, x->dtype);
  tk_store(&k, to, 2, (IrIndex[]){TI(t), SL}, s, IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_softmax(void **state) {
  (void)state;
  DType dts[3] = {DT_FLOAT32, DT_FLOAT16, DT_BFLOAT16};
  for (int di = 0; di < 3; di++) {
    Tensor *x = tk_randn(SIZES(37, 100), dts[di], 7), *ref;
    TKCHECK(tensor_softmax(x, -1, &ref, D_));
    IrFunc *f = build_softmax(x);
    LowerConfig cfgs[5] = {CFG_BS(4), CFG_BS(8), CFG_BS(1), CFG_BS(16), CFG_BS(64)};
    cfgs[1].nreduction_loops = 1, cfgs[1].reduction_loops[0] = 16;
    cfgs[2].nreduction_loops = 1, cfgs[2].reduction_loops[0] = 64;
    cfgs[3].nreduction_loops = 1, cfgs[3].reduction_loops[0] = 128; /* >= the row: persistent */
    cfgs[4].nreduction_loops = 1, cfgs[4].reduction_loops[0] = 32;
    for (int c = 0; c < 5; c++) {
      Tensor *o = tk_zeros(SIZES(37, 100), dts[di]);
      tk_run(f, &cfgs[c], (Tensor *[]){x, o}, NULL);
      tk_expect_close(o, ref, dts[di] == DT_FLOAT32 ? 1e-5 : 1e-2, 1e-5, "softmax");
      tensor_free(o);
    }
    ir_func_free(f);
    free_all((Tensor *[]){x, ref}, 2);
  }
}

/* ---- matmul --------------------------------------------------------------------------------- */

/* out = x @ y, a float32 accumulator carried through the k loop. */
static IrFunc *build_matmul(const Tensor *x, const Tensor *y, const Tensor *out) {
  TK k = tk_new("matmul");
  IrValueId tx = tk_tensor(&k, "x", x), ty = tk_tensor(&k, "y", y), to = tk_tensor(&k, "out", out);
  IrValueId mn[2], tkk, acc_in, fin;
  int64_t ends[2] = {x->sizes[0], y->sizes[1]};
  tk_tile(&k, 2, ends, mn);
  IrShape sh = {.rank = 2, .dims = {tk_shape(&k, mn[0])->dims[0], tk_shape(&k, mn[1])->dims[0]}};
  IrValueId acc = tk_full(&k, &sh, DT_FLOAT32, 0);
  IrValueId b0 = tk_i(&k, 0), e0 = tk_i(&k, x->sizes[1]);
  tk_loop(&k, IR_OP_TILE, 1, &b0, &e0, NULL, 1, &acc, &tkk, &acc_in);
  IrValueId va = tk_load(&k, tx, 2, (IrIndex[]){TI(mn[0]), TI(tkk)}, IR_NONE);
  IrValueId vb = tk_load(&k, ty, 2, (IrIndex[]){TI(tkk), TI(mn[1])}, IR_NONE);
  IrValueId nacc = tk_op(&k, IR_OP_DOT, 3, (IrValueId[]){va, vb, acc_in}, NULL);
  tk_end(&k, 1, &nacc, &fin);
  if (out->dtype != DT_FLOAT32) fin = tk_cast(&k, fin, out->dtype);
  tk_store(&k, to, 2, (IrIndex[]){TI(mn[0]), TI(mn[1])}, fin, IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_matmul(void **state) {
  (void)state;
  DType dts[3] = {DT_FLOAT32, DT_BFLOAT16, DT_FLOAT16};
  for (int di = 0; di < 3; di++) {
    Tensor *xc = tk_randn(SIZES(37, 45), dts[di], 1), *y = tk_randn(SIZES(45, 29), dts[di], 2);
    Tensor *x = di == 0 ? tk_strided(xc) : xc, *ref;
    TKCHECK(tensor_matmul(xc, y, &ref, D_));
    Tensor *probe = tk_zeros(SIZES(37, 29), dts[di]);
    IrFunc *f = build_matmul(x, y, probe);
    LowerConfig cfgs[6] = {CFG_BS(16, 16, 16), CFG_BS(32, 8, 64), CFG_BS(64, 64, 64),
                           CFG_BS(1, 1, 1),    CFG_BS(8, 32, 4),  CFG_BS(32, 32, 16)};
    cfgs[4].nrange_unroll_factors = 1, cfgs[4].range_unroll_factors[0] = 2;
    cfgs[5].vector_width = 8;
    for (int c = 0; c < 6; c++) {
      Tensor *o = tk_zeros(SIZES(37, 29), dts[di]);
      tk_run(f, &cfgs[c], (Tensor *[]){x, y, o}, NULL);
      tk_expect_close(o, ref, di == 0 ? 1e-5 : 2e-2, di == 0 ? 1e-5 : 2e-2, "matmul");
      tensor_free(o);
    }
    ir_func_free(f);
    if (x != xc) tensor_free(x);
    free_all((Tensor *[]){xc, y, ref, probe}, 4);
  }
}

/* ---- reductions ----------------------------------------------------------------------------- */

/* Row reductions of x[t, :] into five outputs, and a column sum over the (ragged) tile dim. */
static IrFunc *build_reductions(const Tensor *x, const Tensor *rows, const Tensor *rowi,
                                const Tensor *cols) {
  TK k = tk_new("reductions");
  IrValueId tx = tk_tensor(&k, "x", x), tsum = tk_tensor(&k, "sum", rows),
            tmax = tk_tensor(&k, "amax", rows);
  IrValueId tmin = tk_tensor(&k, "amin", rows), tmean = tk_tensor(&k, "mean", rows);
  IrValueId targ = tk_tensor(&k, "argmax", rowi), targn = tk_tensor(&k, "argmin", rowi);
  IrValueId tcol = tk_tensor(&k, "colsum", cols), t;
  tk_tile(&k, 1, x->sizes, &t);
  IrValueId v = tk_load(&k, tx, 2, (IrIndex[]){TI(t), SL}, IR_NONE);
  tk_store(&k, tsum, 1, &TI(t), tk_reduce(&k, IR_OP_SUM, v, 1, false), IR_NONE);
  tk_store(&k, tmax, 1, &TI(t), tk_reduce(&k, IR_OP_AMAX, v, 1, false), IR_NONE);
  tk_store(&k, tmin, 1, &TI(t), tk_reduce(&k, IR_OP_AMIN, v, 1, false), IR_NONE);
  tk_store(&k, tmean, 1, &TI(t), tk_reduce(&k, IR_OP_MEAN, v, -1, false), IR_NONE);
  tk_store(&k, targ, 1, &TI(t), tk_reduce(&k, IR_OP_ARGMAX, v, 1, false), IR_NONE);
  tk_store(&k, targn, 1, &TI(t), tk_reduce(&k, IR_OP_ARGMIN, v, 1, false), IR_NONE);
  /* over the tile dim: partial column sums of this tile, added atomically */
  IrValueId cs = tk_reduce(&k, IR_OP_SUM, v, 0, false);
  tk_atomic(&k, tcol, 1, &SL, cs, IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_reductions(void **state) {
  (void)state;
  Tensor *x = tk_randn(SIZES(23, 50), DT_FLOAT32, 5);
  Tensor *ref[7];
  TKCHECK(tensor_reduce(TENSOR_SUM, x, 1, false, 0, &ref[0], D_));
  TKCHECK(tensor_reduce(TENSOR_AMAX, x, 1, false, 0, &ref[1], D_));
  TKCHECK(tensor_reduce(TENSOR_AMIN, x, 1, false, 0, &ref[2], D_));
  TKCHECK(tensor_reduce(TENSOR_MEAN, x, 1, false, 0, &ref[3], D_));
  TKCHECK(tensor_reduce(TENSOR_ARGMAX, x, 1, false, 0, &ref[4], D_));
  TKCHECK(tensor_reduce(TENSOR_ARGMIN, x, 1, false, 0, &ref[5], D_));
  TKCHECK(tensor_reduce(TENSOR_SUM, x, 0, false, 0, &ref[6], D_));
  Tensor *probe_r = tk_zeros(SIZES(23), DT_FLOAT32), *probe_i = tk_zeros(SIZES(23), DT_INT64);
  Tensor *probe_c = tk_zeros(SIZES(50), DT_FLOAT32);
  IrFunc *f = build_reductions(x, probe_r, probe_i, probe_c);
  LowerConfig cfgs[5] = {CFG_BS(8), CFG_BS(32), CFG_BS(1), CFG_BS(4), CFG_BS(16)};
  cfgs[3].nreduction_loops = 1, cfgs[3].reduction_loops[0] = 16; /* 50 = 3 x 16 + 2 */
  cfgs[4].nreduction_loops = 1, cfgs[4].reduction_loops[0] = 8;
  for (int c = 0; c < 5; c++) {
    Tensor *o[7];
    for (int i = 0; i < 7; i++)
      o[i] = i == 6 ? tk_zeros(SIZES(50), DT_FLOAT32)
                    : tk_zeros(SIZES(23), i == 4 || i == 5 ? DT_INT64 : DT_FLOAT32);
    tk_run(f, &cfgs[c], (Tensor *[]){x, o[0], o[1], o[2], o[3], o[4], o[5], o[6]}, NULL);
    const char *what[7] = {"sum", "amax", "amin", "mean", "argmax", "argmin", "column sum"};
    for (int i = 0; i < 7; i++)
      tk_expect_close(o[i], ref[i], 1e-5, 1e-5, what[i]);
    free_all(o, 7);
  }
  ir_func_free(f);
  free_all(ref, 7);
  free_all((Tensor *[]){x, probe_r, probe_i, probe_c}, 4);
}

/* ---- gathers and atomics -------------------------------------------------------------------- */

/* out[t, :] = emb[idx[t], :] (rows out of range read 0), and through a grid: out2[i, :] =
 * emb[idx[i], :] with a scalar index. */
static IrFunc *build_gather(const Tensor *emb, const Tensor *idx, const Tensor *out) {
  TK k = tk_new("gather");
  IrValueId te = tk_tensor(&k, "emb", emb), ti = tk_tensor(&k, "idx", idx),
            to = tk_tensor(&k, "out", out);
  IrValueId to2 = tk_tensor(&k, "out2", out), t, i;
  tk_tile(&k, 1, idx->sizes, &t);
  IrValueId rows = tk_load(&k, ti, 1, &TI(t), IR_NONE);
  IrValueId v = tk_load(&k, te, 2, (IrIndex[]){GA(rows), SL}, IR_NONE);
  tk_store(&k, to, 2, (IrIndex[]){TI(t), SL}, v, IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  IrValueId b = tk_i(&k, 0), e = tk_i(&k, idx->sizes[0]);
  tk_loop(&k, IR_OP_GRID, 1, &b, &e, NULL, 0, NULL, &i, NULL);
  IrValueId j = tk_load(&k, ti, 1, &SC(i), IR_NONE);
  IrValueId row = tk_load(&k, te, 2, (IrIndex[]){SC(j), SL}, IR_NONE);
  tk_store(&k, to2, 2, (IrIndex[]){SC(i), SL}, row, IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_gather(void **state) {
  (void)state;
  Tensor *emb = tk_randn(SIZES(50, 16), DT_FLOAT32, 3), *idx = tk_zeros(SIZES(20), DT_INT64);
  for (int64_t i = 0; i < 20; i++)
    TKCHECK(tensor_set_i64(idx, &i, i == 3 ? -1 : i == 7 ? 50 : i == 11 ? 1000 : (i * 7) % 50, D_));
  Tensor *probe = tk_zeros(SIZES(20, 16), DT_FLOAT32);
  IrFunc *f = build_gather(emb, idx, probe);
  LowerConfig cfgs[3] = {CFG_BS(8), CFG_BS(1), CFG_BS(32)};
  for (int c = 0; c < 3; c++) {
    Tensor *o = tk_zeros(SIZES(20, 16), DT_FLOAT32), *o2 = tk_zeros(SIZES(20, 16), DT_FLOAT32);
    tk_run(f, &cfgs[c], (Tensor *[]){emb, idx, o, o2}, NULL);
    for (int64_t i = 0; i < 20; i++) {
      int64_t r;
      TKCHECK(tensor_get_i64(idx, &i, &r, D_));
      for (int64_t j = 0; j < 16; j++) {
        double want = 0, got, got2;
        if (r >= 0 && r < 50) TKCHECK(tensor_get_f64(emb, (int64_t[]){r, j}, &want, D_));
        TKCHECK(tensor_get_f64(o, (int64_t[]){i, j}, &got, D_));
        TKCHECK(tensor_get_f64(o2, (int64_t[]){i, j}, &got2, D_));
        if (got != want || got2 != want)
          fail_msg("gather row %lld col %lld: want %g, got %g / %g", (long long)i, (long long)j,
                   want, got, got2);
      }
    }
    free_all((Tensor *[]){o, o2}, 2);
  }
  ir_func_free(f);
  free_all((Tensor *[]){emb, idx, probe}, 3);
}

/* hist[bins[t]] += vals[t] across programs, and old[t] = atomic_add(acc[t], vals[t]). */
static IrFunc *build_hist(const Tensor *vals, const Tensor *bins, const Tensor *hist) {
  TK k = tk_new("hist");
  IrValueId tv = tk_tensor(&k, "vals", vals), tb = tk_tensor(&k, "bins", bins),
            th = tk_tensor(&k, "hist", hist);
  IrValueId ta = tk_tensor(&k, "acc", vals), told = tk_tensor(&k, "old", vals), t;
  tk_tile(&k, 1, vals->sizes, &t);
  IrValueId v = tk_load(&k, tv, 1, &TI(t), IR_NONE), b = tk_load(&k, tb, 1, &TI(t), IR_NONE);
  tk_atomic(&k, th, 1, &GA(b), v, IR_NONE);
  IrValueId old = tk_atomic(&k, ta, 1, &TI(t), v, IR_NONE);
  tk_store(&k, told, 1, &TI(t), old, IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_atomic_add(void **state) {
  (void)state;
  DType dts[3] = {DT_FLOAT32, DT_INT32, DT_FLOAT16};
  for (int di = 0; di < 3; di++) {
    int64_t n = 1000;
    Tensor *vals = tk_zeros(&n, 1, dts[di]), *bins = tk_zeros(&n, 1, DT_INT64);
    double want[10] = {0};
    for (int64_t i = 0; i < n; i++) {
      double v = dts[di] == DT_FLOAT32 ? (double)(i % 13) * 0.25 : (double)(i % 5);
      TKCHECK(tensor_set_f64(vals, &i, v, D_));
      TKCHECK(tensor_set_i64(bins, &i, (i * 7) % 10, D_));
      want[(i * 7) % 10] += v;
    }
    Tensor *probe = tk_zeros(SIZES(10), dts[di]);
    IrFunc *f = build_hist(vals, bins, probe);
    LowerConfig cfgs[2] = {CFG_BS(64), CFG_BS(16)};
    for (int c = 0; c < 2; c++) {
      Tensor *h = tk_zeros(SIZES(10), dts[di]), *acc = NULL, *old = tk_zeros(&n, 1, dts[di]);
      TKCHECK(tensor_full(&n, 1, 5.0, dts[di], &acc, D_));
      tk_run(f, &cfgs[c], (Tensor *[]){vals, bins, h, acc, old}, NULL);
      for (int64_t i = 0; i < 10; i++) {
        double got;
        TKCHECK(tensor_get_f64(h, &i, &got, D_));
        if (fabs(got - want[i]) > (dts[di] == DT_FLOAT16 ? 0.5 : 1e-3))
          fail_msg("histogram bin %lld: want %g, got %g", (long long)i, want[i], got);
      }
      for (int64_t i = 0; i < n; i += 97) {
        double o, a, v;
        TKCHECK(tensor_get_f64(old, &i, &o, D_));
        TKCHECK(tensor_get_f64(acc, &i, &a, D_));
        TKCHECK(tensor_get_f64(vals, &i, &v, D_));
        if (o != 5.0 || fabs(a - (5.0 + v)) > 1e-2)
          fail_msg("atomic add %lld: old %g, new %g", (long long)i, o, a);
      }
      free_all((Tensor *[]){h, acc, old}, 3);
    }
    ir_func_free(f);
    free_all((Tensor *[]){vals, bins, probe}, 3);
  }
}

/* ---- loops ---------------------------------------------------------------------------------- */

/* A top-level grid over rows with a tile loop inside (out[i, t] = x[i, t] * 2 + i), then a
 * second nest: a tile over rows with a grid inside (out2[t, j] = x[t, j] + 1). */
static IrFunc *build_grids(const Tensor *x) {
  TK k = tk_new("grids");
  IrValueId tx = tk_tensor(&k, "x", x), to = tk_tensor(&k, "out", x),
            to2 = tk_tensor(&k, "out2", x);
  IrValueId b = tk_i(&k, 0), m = tk_i(&k, x->sizes[0]), n = tk_i(&k, x->sizes[1]), i, t, j, tm;
  tk_loop(&k, IR_OP_GRID, 1, &b, &m, NULL, 0, NULL, &i, NULL);
  tk_loop(&k, IR_OP_TILE, 1, &b, &n, NULL, 0, NULL, &t, NULL);
  IrValueId v = tk_load(&k, tx, 2, (IrIndex[]){SC(i), TI(t)}, IR_NONE);
  IrValueId r = tk_2(&k, IR_OP_ADD, tk_2(&k, IR_OP_MUL, v, tk_f(&k, DT_FLOAT32, 2)),
                     tk_cast(&k, i, DT_FLOAT32));
  tk_store(&k, to, 2, (IrIndex[]){SC(i), TI(t)}, r, IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  tk_end(&k, 0, NULL, NULL);
  tk_loop(&k, IR_OP_TILE, 1, &b, &m, NULL, 0, NULL, &tm, NULL);
  tk_loop(&k, IR_OP_GRID, 1, &b, &n, NULL, 0, NULL, &j, NULL);
  IrValueId w = tk_load(&k, tx, 2, (IrIndex[]){TI(tm), SC(j)}, IR_NONE);
  tk_store(&k, to2, 2, (IrIndex[]){TI(tm), SC(j)}, tk_2(&k, IR_OP_ADD, w, tk_f(&k, DT_FLOAT32, 1)),
           IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_grid_loops(void **state) {
  (void)state;
  Tensor *x = tk_randn(SIZES(7, 100), DT_FLOAT32, 9);
  IrFunc *f = build_grids(x);
  LowerConfig cfgs[3] = {CFG_BS(32, 4), CFG_BS(128, 1), CFG_BS(1, 8)};
  for (int c = 0; c < 3; c++) {
    Tensor *o = tk_zeros(SIZES(7, 100), DT_FLOAT32), *o2 = tk_zeros(SIZES(7, 100), DT_FLOAT32);
    tk_run(f, &cfgs[c], (Tensor *[]){x, o, o2}, NULL);
    for (int64_t i = 0; i < 7; i++)
      for (int64_t j = 0; j < 100; j++) {
        double xv, a, b2;
        TKCHECK(tensor_get_f64(x, (int64_t[]){i, j}, &xv, D_));
        TKCHECK(tensor_get_f64(o, (int64_t[]){i, j}, &a, D_));
        TKCHECK(tensor_get_f64(o2, (int64_t[]){i, j}, &b2, D_));
        if (fabs(a - ((float)(xv * 2) + i)) > 1e-5 || fabs(b2 - (xv + 1)) > 1e-5)
          fail_msg("grid loops at (%lld, %lld): %g, %g", (long long)i, (long long)j, a, b2);
      }
    free_all((Tensor *[]){o, o2}, 2);
  }
  ir_func_free(f);
  tensor_free(x);
}

/* Row sums through a nested tile loop carrying a [B0] accumulator and an int64 scalar count. */
static IrFunc *build_carried(const Tensor *x, const Tensor *out, const Tensor *count) {
  TK k = tk_new("carried");
  IrValueId tx = tk_tensor(&k, "x", x), to = tk_tensor(&k, "out", out),
            tc = tk_tensor(&k, "count", count);
  IrValueId tm, tn, inner[2], res[2];
  tk_tile(&k, 1, x->sizes, &tm);
  IrShape sh = {.rank = 1, .dims = {tk_shape(&k, tm)->dims[0]}};
  IrValueId inits[2] = {tk_full(&k, &sh, DT_FLOAT32, 0), tk_i(&k, 0)};
  IrValueId b = tk_i(&k, 0), e = tk_i(&k, x->sizes[1]);
  tk_loop(&k, IR_OP_TILE, 1, &b, &e, NULL, 2, inits, &tn, inner);
  IrValueId v = tk_load(&k, tx, 2, (IrIndex[]){TI(tm), TI(tn)}, IR_NONE);
  IrValueId yields[2] = {tk_2(&k, IR_OP_ADD, inner[0], tk_reduce(&k, IR_OP_SUM, v, 1, false)),
                         tk_2(&k, IR_OP_ADD, inner[1], tk_i(&k, 1))};
  tk_end(&k, 2, yields, res);
  tk_store(&k, to, 1, &TI(tm), res[0], IR_NONE);
  tk_store(&k, tc, 1, &SC(tk_1(&k, IR_OP_TILE_ID, tm)), res[1], IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_carried(void **state) {
  (void)state;
  Tensor *x = tk_randn(SIZES(33, 77), DT_FLOAT32, 4), *ref;
  TKCHECK(tensor_reduce(TENSOR_SUM, x, 1, false, 0, &ref, D_));
  Tensor *probe = tk_zeros(SIZES(33), DT_FLOAT32), *cprobe = tk_zeros(SIZES(40), DT_INT64);
  IrFunc *f = build_carried(x, probe, cprobe);
  LowerConfig cfgs[3] = {CFG_BS(8, 16), CFG_BS(64, 8), CFG_BS(1, 128)};
  cfgs[1].nrange_unroll_factors = 1, cfgs[1].range_unroll_factors[0] = 2;
  for (int c = 0; c < 3; c++) {
    Tensor *o = tk_zeros(SIZES(33), DT_FLOAT32), *cnt = tk_zeros(SIZES(40), DT_INT64);
    tk_run(f, &cfgs[c], (Tensor *[]){x, o, cnt}, NULL);
    tk_expect_close(o, ref, 1e-5, 1e-5, "row sums through a carried accumulator");
    int64_t z = 0, got;
    TKCHECK(tensor_get_i64(cnt, &z, &got, D_));
    assert_int_equal(got, (77 + cfgs[c].block_sizes[1] - 1) / cfgs[c].block_sizes[1]);
    free_all((Tensor *[]){o, cnt}, 2);
  }
  ir_func_free(f);
  free_all((Tensor *[]){x, ref, probe, cprobe}, 4);
}

/* ---- float16 / bfloat16 storage --------------------------------------------------------- */

/* out16[t] = (x[t] * 1.7) as dt, out64to[t] = y64[t] as dt (one rounding, from double). */
static IrFunc *build_half(const Tensor *x, const Tensor *y64, const Tensor *o) {
  TK k = tk_new("half");
  IrValueId tx = tk_tensor(&k, "x", x), ty = tk_tensor(&k, "y", y64), to = tk_tensor(&k, "out", o);
  IrValueId to2 = tk_tensor(&k, "out2", o), t;
  tk_tile(&k, 1, x->sizes, &t);
  IrValueId v = tk_2(&k, IR_OP_MUL, tk_load(&k, tx, 1, &TI(t), IR_NONE), tk_f(&k, DT_FLOAT32, 1.7));
  tk_store(&k, to, 1, &TI(t), tk_cast(&k, v, o->dtype), IR_NONE);
  tk_store(&k, to2, 1, &TI(t), tk_cast(&k, tk_load(&k, ty, 1, &TI(t), IR_NONE), o->dtype), IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_half_storage(void **state) {
  (void)state;
  int64_t n = 4000;
  Tensor *x = tk_randn(&n, 1, DT_FLOAT32, 8), *y = tk_zeros(&n, 1, DT_FLOAT64);
  for (int64_t i = 0; i < n; i++) /* near the rounding boundaries of both formats */
    TKCHECK(tensor_set_f64(y, &i,
                           (1.0 + (double)(i % 1024) / 1024.0 + 1e-9 * (i % 3 - 1)) *
                               (i % 2 ? 1 : -1) * ldexp(1, (int)(i % 20) - 10),
                           D_));
  DType dts[2] = {DT_FLOAT16, DT_BFLOAT16};
  for (int di = 0; di < 2; di++) {
    Tensor *o = tk_zeros(&n, 1, dts[di]), *o2 = tk_zeros(&n, 1, dts[di]);
    Tensor *scale, *xs, *ref, *ref2;
    TKCHECK(tensor_scalar_f64(1.7, &scale, D_));
    TKCHECK(tensor_binary(TENSOR_MUL, x, scale, &xs, D_)); /* float32 product */
    TKCHECK(tensor_cast(xs, dts[di], &ref, D_));
    TKCHECK(tensor_cast(y, dts[di], &ref2, D_));
    IrFunc *f = build_half(x, y, o);
    LowerConfig cfg = CFG_BS(256);
    tk_run(f, &cfg, (Tensor *[]){x, y, o, o2}, NULL);
    tk_expect_close(o, ref, 0, 0, "float32 → half, round to nearest even");
    tk_expect_close(o2, ref2, 0, 0, "float64 → half, rounded once");
    ir_func_free(f);
    free_all((Tensor *[]){o, o2, scale, xs, ref, ref2}, 6);
  }
  free_all((Tensor *[]){x, y}, 2);
}

/* NaN and infinities: amax/amin propagate NaN, argmax/argmin take the first NaN (torch), sums
 * see them, softmax of a row with -inf entries gives them 0. Fused, plain and chunked forms. */
static void expect_same(const Tensor *got, const Tensor *want, double tol, const char *what) {
  int64_t n = tensor_numel(want);
  for (int64_t i = 0; i < n; i++) {
    int64_t idx[2] = {want->ndim == 2 ? i / want->sizes[1] : i,
                      want->ndim == 2 ? i % want->sizes[1] : 0};
    double a, b;
    TKCHECK(tensor_get_f64(got, idx, &a, D_));
    TKCHECK(tensor_get_f64(want, idx, &b, D_));
    bool ok = (isnan(a) && isnan(b)) || a == b || fabs(a - b) <= tol * (1 + fabs(b));
    if (!ok) fail_msg("%s at %lld: got %g, want %g", what, (long long)i, a, b);
  }
}

static IrFunc *build_specials(const Tensor *x, const Tensor *rows, const Tensor *rowi) {
  TK k = tk_new("specials");
  IrValueId tx = tk_tensor(&k, "x", x), to[4], ti[2], tsm, t;
  const char *names[4] = {"amax", "amin", "sum", "lse"};
  for (int i = 0; i < 4; i++)
    to[i] = tk_tensor(&k, names[i], rows);
  ti[0] = tk_tensor(&k, "argmax", rowi);
  ti[1] = tk_tensor(&k, "argmin", rowi);
  tsm = tk_tensor(&k, "softmax", x);
  tk_tile(&k, 1, x->sizes, &t);
  IrValueId v = tk_load(&k, tx, 2, (IrIndex[]){TI(t), SL}, IR_NONE);
  IrOpKind red[3] = {IR_OP_AMAX, IR_OP_AMIN, IR_OP_SUM};
  for (int i = 0; i < 3; i++)
    tk_store(&k, to[i], 1, &TI(t), tk_reduce(&k, red[i], v, 1, false), IR_NONE);
  tk_store(&k, ti[0], 1, &TI(t), tk_reduce(&k, IR_OP_ARGMAX, v, 1, false), IR_NONE);
  tk_store(&k, ti[1], 1, &TI(t), tk_reduce(&k, IR_OP_ARGMIN, v, 1, false), IR_NONE);
  /* a materialized value (exp) with its sum fused into the loop that fills it */
  IrValueId e = tk_1(&k, IR_OP_EXP, v);
  IrValueId se = tk_reduce(&k, IR_OP_SUM, e, 1, false);
  tk_store(&k, to[3], 1, &TI(t), tk_1(&k, IR_OP_LOG, se), IR_NONE);
  IrAttrs a = IR_ATTRS_INIT;
  a.dim = -1;
  tk_store(&k, tsm, 2, (IrIndex[]){TI(t), SL}, tk_op(&k, IR_OP_SOFTMAX, 1, &e, &a), IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  return tk_finish(&k);
}

static void test_reduction_specials(void **state) {
  (void)state;
  Tensor *x = tk_randn(SIZES(5, 40), DT_FLOAT32, 6);
  double inf = INFINITY;
  int64_t pos[][2] = {{0, 5}, {0, 20}, {2, 7}, {3, 0}, {3, 39}, {4, 11}};
  double vals[] = {NAN, NAN, inf, -inf, -inf, 9.0};
  for (int i = 0; i < 6; i++)
    TKCHECK(tensor_set_f64(x, pos[i], vals[i], D_));
  TKCHECK(tensor_set_f64(x, (int64_t[]){4, 30}, 9.0, D_)); /* a tie: the first wins */
  for (int64_t j = 0; j < 40; j++)
    TKCHECK(tensor_set_f64(x, (int64_t[]){1, j}, j % 3 ? -inf : (double)j, D_));
  Tensor *ref[6], *e, *se;
  TKCHECK(tensor_reduce(TENSOR_AMAX, x, 1, false, 0, &ref[0], D_));
  TKCHECK(tensor_reduce(TENSOR_AMIN, x, 1, false, 0, &ref[1], D_));
  TKCHECK(tensor_reduce(TENSOR_SUM, x, 1, false, 0, &ref[2], D_));
  TKCHECK(tensor_unary(TENSOR_EXP, x, &e, D_));
  TKCHECK(tensor_reduce(TENSOR_SUM, e, 1, false, 0, &se, D_));
  TKCHECK(tensor_unary(TENSOR_LOG, se, &ref[3], D_));
  TKCHECK(tensor_reduce(TENSOR_ARGMAX, x, 1, false, 0, &ref[4], D_));
  TKCHECK(tensor_reduce(TENSOR_ARGMIN, x, 1, false, 0, &ref[5], D_));
  Tensor *sm;
  TKCHECK(tensor_softmax(e, -1, &sm, D_));
  Tensor *pr = tk_zeros(SIZES(5), DT_FLOAT32), *pi = tk_zeros(SIZES(5), DT_INT64);
  IrFunc *f = build_specials(x, pr, pi);
  LowerConfig cfgs[3] = {CFG_BS(8), CFG_BS(2), CFG_BS(1)};
  cfgs[1].nreduction_loops = 1, cfgs[1].reduction_loops[0] = 16;
  for (int c = 0; c < 3; c++) {
    Tensor *o[6], *osm = tk_zeros(SIZES(5, 40), DT_FLOAT32);
    for (int i = 0; i < 6; i++)
      o[i] = tk_zeros(SIZES(5), i >= 4 ? DT_INT64 : DT_FLOAT32);
    tk_run(f, &cfgs[c], (Tensor *[]){x, o[0], o[1], o[2], o[3], o[4], o[5], osm}, NULL);
    const char *what[6] = {"amax", "amin", "sum", "log(sum(exp))", "argmax", "argmin"};
    for (int i = 0; i < 6; i++)
      expect_same(o[i], ref[i], 1e-5, what[i]);
    expect_same(osm, sm, 1e-5, "softmax of exp with infinities");
    free_all(o, 6);
    tensor_free(osm);
  }
  ir_func_free(f);
  free_all(ref, 6);
  free_all((Tensor *[]){x, e, se, sm, pr, pi}, 6);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_ir_suite_kernels, setup, teardown),
      cmocka_unit_test_setup_teardown(test_add_1d, setup, teardown),
      cmocka_unit_test_setup_teardown(test_add_broadcast, setup, teardown),
      cmocka_unit_test_setup_teardown(test_streaming_store, setup, teardown),
      cmocka_unit_test_setup_teardown(test_softmax, setup, teardown),
      cmocka_unit_test_setup_teardown(test_matmul, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reductions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gather, setup, teardown),
      cmocka_unit_test_setup_teardown(test_atomic_add, setup, teardown),
      cmocka_unit_test_setup_teardown(test_grid_loops, setup, teardown),
      cmocka_unit_test_setup_teardown(test_carried, setup, teardown),
      cmocka_unit_test_setup_teardown(test_half_storage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reduction_specials, setup, teardown),
  };
  return cmocka_run_group_tests_name("lower", tests, NULL, NULL);
}
