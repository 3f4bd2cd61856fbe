/* Test kernels for the tile IR suites: add, softmax, matmul and an every-op kernel, built through
 * the C builder as the tracer would. Part of tests/unit; linked into each test_ir_* runner. */
#include <string.h>

#include "ir/ir.h"

/* Each returns HL_OK with *out a verified function, or HL_ERR (d filled, nothing leaked). */
int ir_test_build_add(IrFunc **out, Diag *d);
int ir_test_build_softmax(IrFunc **out, Diag *d);
int ir_test_build_matmul(IrFunc **out, Diag *d);
/* matmul with every source line shifted by `line_shift` and value names dropped when
 * `names` is false: the same kernel as far as the fingerprint goes. */
int ir_test_build_matmul_ex(int line_shift, bool names, IrFunc **out, Diag *d);

/* When set, a call that fails for lack of memory is made once more: a failed call must leave
 * the function as it was, so the retried build ends up identical to an undisturbed one. */
bool ir_test_retry_oom = false;

#define TRY(call)                                                                                  \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_ != HL_OK && ir_test_retry_oom && strstr(d->msg, "out of memory")) rc_ = (call);        \
    if (rc_ != HL_OK) goto fail;                                                                   \
  } while (0)

static IrIndex tile_idx(IrValueId t) {
  return (IrIndex){IR_IDX_TILE, t};
}

static IrLoopDim range(IrValueId begin, IrValueId end) {
  IrLoopDim ld = IR_LOOP_DIM_INIT;
  ld.begin = begin;
  ld.end = end;
  return ld;
}

static int binop(IrBuilder *b, IrOpKind k, IrValueId x, IrValueId y, IrValueId *out, Diag *d) {
  IrValueId args[2] = {x, y};
  return ir_build_op(b, k, 2, args, NULL, out, d);
}

/* out[tm, tn] = x[tm, tn] + y[tm, tn] over float32[1000, 500] (ragged on purpose). */
int ir_test_build_add(IrFunc **out, Diag *d) {
  IrBuilder *b = NULL;
  int file;
  IrValueId x, y, o, c0, m, n, iters[2], vx, vy, s;
  int64_t sizes[2] = {1000, 500};
  TRY(ir_builder_new("add", &b, d));
  TRY(ir_build_file(b, "add.lua", &file, d));
  ir_build_loc(b, file, 3);
  TRY(ir_build_arg_tensor(b, "x", DT_FLOAT32, 2, sizes, NULL, &x, d));
  TRY(ir_build_arg_tensor(b, "y", DT_FLOAT32, 2, sizes, NULL, &y, d));
  TRY(ir_build_arg_tensor(b, "out", DT_FLOAT32, 2, sizes, NULL, &o, d));
  ir_build_loc(b, file, 5);
  TRY(ir_build_const_int(b, DT_INT64, 0, &c0, d));
  TRY(ir_build_const_int(b, DT_INT64, 1000, &m, d));
  TRY(ir_build_const_int(b, DT_INT64, 500, &n, d));
  IrLoopDim dims[2] = {range(c0, m), range(c0, n)};
  TRY(ir_build_loop_begin(b, IR_OP_TILE, 2, dims, 0, NULL, iters, NULL, d));
  TRY(ir_build_name(b, iters[0], "tm", d));
  TRY(ir_build_name(b, iters[1], "tn", d));
  ir_build_loc(b, file, 6);
  IrIndex idx[2] = {tile_idx(iters[0]), tile_idx(iters[1])};
  TRY(ir_build_load(b, x, 2, idx, IR_NONE, IR_EVICT_NONE, &vx, d));
  TRY(ir_build_load(b, y, 2, idx, IR_NONE, IR_EVICT_NONE, &vy, d));
  TRY(binop(b, IR_OP_ADD, vx, vy, &s, d));
  TRY(ir_build_store(b, o, 2, idx, s, IR_NONE, d));
  TRY(ir_build_loop_end(b, 0, NULL, NULL, d));
  TRY(ir_builder_finish(b, out, d));
  ir_builder_free(b);
  return HL_OK;
fail:
  ir_builder_free(b);
  return HL_ERR;
}

/* Row softmax of a float16[4096, 1000] tensor, computed in float32 over a ':' reduction dim. */
int ir_test_build_softmax(IrFunc **out, Diag *d) {
  IrBuilder *b = NULL;
  int file;
  IrValueId x, o, c0, n, tm, v, v32, mx, sub, e, s, q, q16;
  int64_t sizes[2] = {4096, 1000};
  TRY(ir_builder_new("softmax", &b, d));
  TRY(ir_build_file(b, "softmax.lua", &file, d));
  ir_build_loc(b, file, 4);
  TRY(ir_build_arg_tensor(b, "x", DT_FLOAT16, 2, sizes, NULL, &x, d));
  TRY(ir_build_arg_tensor(b, "out", DT_FLOAT16, 2, sizes, NULL, &o, d));
  ir_build_loc(b, file, 6);
  TRY(ir_build_const_int(b, DT_INT64, 0, &c0, d));
  TRY(ir_build_const_int(b, DT_INT64, 4096, &n, d));
  IrLoopDim dim = range(c0, n);
  TRY(ir_build_loop_begin(b, IR_OP_TILE, 1, &dim, 0, NULL, &tm, NULL, d));
  TRY(ir_build_name(b, tm, "tm", d));
  ir_build_loc(b, file, 7);
  IrIndex idx[2] = {tile_idx(tm), {IR_IDX_SLICE, IR_NONE}};
  TRY(ir_build_load(b, x, 2, idx, IR_NONE, IR_EVICT_NONE, &v, d));
  IrAttrs cast = IR_ATTRS_INIT;
  cast.dtype = DT_FLOAT32;
  TRY(ir_build_op(b, IR_OP_CAST, 1, &v, &cast, &v32, d));
  TRY(ir_build_name(b, v32, "values", d));
  ir_build_loc(b, file, 8);
  IrAttrs red = IR_ATTRS_INIT;
  red.dim = -1;
  red.keepdim = true;
  TRY(ir_build_op(b, IR_OP_AMAX, 1, &v32, &red, &mx, d));
  TRY(ir_build_name(b, mx, "amax", d));
  ir_build_loc(b, file, 9);
  TRY(binop(b, IR_OP_SUB, v32, mx, &sub, d));
  TRY(ir_build_op(b, IR_OP_EXP, 1, &sub, NULL, &e, d));
  TRY(ir_build_name(b, e, "exp", d));
  ir_build_loc(b, file, 10);
  TRY(ir_build_op(b, IR_OP_SUM, 1, &e, &red, &s, d));
  ir_build_loc(b, file, 11);
  TRY(binop(b, IR_OP_DIV, e, s, &q, d));
  cast.dtype = DT_FLOAT16;
  TRY(ir_build_op(b, IR_OP_CAST, 1, &q, &cast, &q16, d));
  TRY(ir_build_store(b, o, 2, idx, q16, IR_NONE, d));
  TRY(ir_build_loop_end(b, 0, NULL, NULL, d));
  TRY(ir_builder_finish(b, out, d));
  ir_builder_free(b);
  return HL_OK;
fail:
  ir_builder_free(b);
  return HL_ERR;
}

/* DESIGN.md §2's matmul: bfloat16 [1024, 512] x [512, 256], float32 accumulator carried
 * through the k loop, stored back as bfloat16. */
int ir_test_build_matmul_ex(int shift, bool names, IrFunc **out, Diag *d) {
  IrBuilder *b = NULL;
  int file;
  IrValueId x, y, o, c0, m, k, n, mn[2], tk, acc, acc_in, va, vb, nacc, fin, res;
  int64_t xs[2] = {1024, 512}, ys[2] = {512, 256}, os[2] = {1024, 256};
  TRY(ir_builder_new("matmul", &b, d));
  TRY(ir_build_file(b, "matmul.lua", &file, d));
  ir_build_loc(b, file, 4 + shift);
  TRY(ir_build_arg_tensor(b, names ? "x" : NULL, DT_BFLOAT16, 2, xs, NULL, &x, d));
  TRY(ir_build_arg_tensor(b, names ? "y" : NULL, DT_BFLOAT16, 2, ys, NULL, &y, d));
  TRY(ir_build_arg_tensor(b, names ? "out" : NULL, DT_BFLOAT16, 2, os, NULL, &o, d));
  ir_build_loc(b, file, 8 + shift);
  TRY(ir_build_const_int(b, DT_INT64, 0, &c0, d));
  TRY(ir_build_const_int(b, DT_INT64, 1024, &m, d));
  TRY(ir_build_const_int(b, DT_INT64, 256, &n, d));
  IrLoopDim dims[2] = {range(c0, m), range(c0, n)};
  TRY(ir_build_loop_begin(b, IR_OP_TILE, 2, dims, 0, NULL, mn, NULL, d));
  if (names) {
    TRY(ir_build_name(b, mn[0], "tm", d));
    TRY(ir_build_name(b, mn[1], "tn", d));
  }
  ir_build_loc(b, file, 9 + shift);
  IrAttrs z = IR_ATTRS_INIT;
  z.dtype = DT_FLOAT32;
  z.shape.rank = 2;
  z.shape.dims[0] = ir_value(ir_builder_func(b), mn[0])->shape.dims[0];
  z.shape.dims[1] = ir_value(ir_builder_func(b), mn[1])->shape.dims[0];
  TRY(ir_build_op(b, IR_OP_FULL, 0, NULL, &z, &acc, d));
  if (names) TRY(ir_build_name(b, acc, "acc", d));
  ir_build_loc(b, file, 10 + shift);
  TRY(ir_build_const_int(b, DT_INT64, 512, &k, d));
  IrLoopDim kd = range(c0, k);
  TRY(ir_build_loop_begin(b, IR_OP_TILE, 1, &kd, 1, &acc, &tk, &acc_in, d));
  if (names) {
    TRY(ir_build_name(b, tk, "tk", d));
    TRY(ir_build_name(b, acc_in, "acc", d));
  }
  ir_build_loc(b, file, 11 + shift);
  IrIndex ia[2] = {tile_idx(mn[0]), tile_idx(tk)}, ib[2] = {tile_idx(tk), tile_idx(mn[1])};
  TRY(ir_build_load(b, x, 2, ia, IR_NONE, IR_EVICT_NONE, &va, d));
  TRY(ir_build_load(b, y, 2, ib, IR_NONE, IR_EVICT_NONE, &vb, d));
  IrValueId dargs[3] = {va, vb, acc_in};
  TRY(ir_build_op(b, IR_OP_DOT, 3, dargs, NULL, &nacc, d));
  if (names) TRY(ir_build_name(b, nacc, "acc", d));
  TRY(ir_build_loop_end(b, 1, &nacc, &fin, d));
  if (names) TRY(ir_build_name(b, fin, "acc", d));
  ir_build_loc(b, file, 13 + shift);
  IrAttrs cast = IR_ATTRS_INIT;
  cast.dtype = DT_BFLOAT16;
  TRY(ir_build_op(b, IR_OP_CAST, 1, &fin, &cast, &res, d));
  IrIndex io[2] = {tile_idx(mn[0]), tile_idx(mn[1])};
  TRY(ir_build_store(b, o, 2, io, res, IR_NONE, d));
  TRY(ir_build_loop_end(b, 0, NULL, NULL, d));
  TRY(ir_builder_finish(b, out, d));
  ir_builder_free(b);
  return HL_OK;
fail:
  ir_builder_free(b);
  return HL_ERR;
}

int ir_test_build_matmul(IrFunc **out, Diag *d) {
  return ir_test_build_matmul_ex(0, true, out, d);
}

static int op1(IrBuilder *b, IrOpKind k, IrValueId x, const IrAttrs *a, IrValueId *out, Diag *d) {
  return ir_build_op(b, k, 1, &x, a, out, d);
}

/* Every traced op class once: a grid loop with a scalar-indexed load, a tile loop sharing a
 * registered block size, tile fields, gather, newaxis, masks, eviction, creation, views,
 * reductions, logical ops, a user tunable, a specialized scalar and an atomic add. */
int ir_test_build_sink(IrFunc **out, Diag *d) {
  IrBuilder *b = NULL;
  int file, slot;
  IrValueId x, idx, hist, alpha, n, bs, tun, n100, c0, c64, i, j, tc, ti, tb, te, tbs, tid, tcnt;
  IrValueId row, g, mask, row2, a, z, w, ar, arf, u1, e, p, r, s, nw, lg, nm, am, sm, old, mx;
  int64_t xs[2] = {100, 64}, is[1] = {100}, hs[1] = {64};
  TRY(ir_builder_new("sink", &b, d));
  TRY(ir_build_file(b, "sink.lua", &file, d));
  ir_build_loc(b, file, 1);
  TRY(ir_build_arg_tensor(b, "x", DT_FLOAT32, 2, xs, NULL, &x, d));
  TRY(ir_build_arg_tensor(b, "idx", DT_INT64, 1, is, NULL, &idx, d));
  TRY(ir_build_arg_tensor(b, "hist", DT_FLOAT32, 1, hs, NULL, &hist, d));
  TRY(ir_build_arg_scalar(b, "alpha", DT_FLOAT32, &alpha, d));
  TRY(ir_build_arg_scalar(b, "n", DT_INT64, &n, d));
  ir_build_loc(b, file, 2);
  TRY(ir_build_register_block_size(b, 16, 64, &slot, &bs, d));
  TRY(ir_build_name(b, bs, "bs", d));
  TRY(ir_build_tunable(b, "unroll", "IntegerFragment(1, 4, 2)", DT_INT64, &tun, d));
  TRY(ir_build_specialize(b, n, (IrScalar){.i = 100}, &n100, d));
  TRY(ir_build_const_int(b, DT_INT64, 0, &c0, d));
  TRY(ir_build_const_int(b, DT_INT64, 64, &c64, d));
  ir_build_loc(b, file, 3);
  IrLoopDim gd = range(c0, n100);
  TRY(ir_build_loop_begin(b, IR_OP_GRID, 1, &gd, 0, NULL, &i, NULL, d));
  TRY(ir_build_name(b, i, "i", d));
  ir_build_loc(b, file, 4);
  IrIndex ii = {IR_IDX_SCALAR, i};
  TRY(ir_build_load(b, idx, 1, &ii, IR_NONE, IR_EVICT_NONE, &j, d));
  ir_build_loc(b, file, 5);
  IrLoopDim td = range(c0, c64);
  td.slot = slot;
  TRY(ir_build_loop_begin(b, IR_OP_TILE, 1, &td, 0, NULL, &tc, NULL, d));
  TRY(ir_build_name(b, tc, "tc", d));
  ir_build_loc(b, file, 6);
  TRY(op1(b, IR_OP_TILE_INDEX, tc, NULL, &ti, d));
  TRY(op1(b, IR_OP_TILE_BEGIN, tc, NULL, &tb, d));
  TRY(op1(b, IR_OP_TILE_END, tc, NULL, &te, d));
  TRY(op1(b, IR_OP_TILE_BLOCK_SIZE, tc, NULL, &tbs, d));
  TRY(op1(b, IR_OP_TILE_ID, tc, NULL, &tid, d));
  TRY(op1(b, IR_OP_TILE_COUNT, tc, NULL, &tcnt, d));
  ir_build_loc(b, file, 7);
  IrIndex jr[2] = {{IR_IDX_SCALAR, j}, tile_idx(tc)};
  TRY(ir_build_load(b, x, 2, jr, IR_NONE, IR_EVICT_LAST, &row, d));
  IrIndex gr[2] = {{IR_IDX_GATHER, ti}, tile_idx(tc)};
  TRY(ir_build_load(b, x, 2, gr, IR_NONE, IR_EVICT_NONE, &g, d));
  ir_build_loc(b, file, 8);
  TRY(binop(b, IR_OP_LT, ti, c64, &mask, d));
  TRY(ir_build_load(b, x, 2, jr, mask, IR_EVICT_FIRST, &row2, d));
  TRY(binop(b, IR_OP_MUL, row, alpha, &a, d));
  IrAttrs full = IR_ATTRS_INIT;
  full.dtype = DT_FLOAT32;
  full.shape.rank = 1;
  full.shape.dims[0] = (IrDim){IR_DIM_BLOCK, slot};
  TRY(ir_build_op(b, IR_OP_FULL, 0, NULL, &full, &z, d));
  IrValueId wargs[3] = {mask, a, z};
  TRY(ir_build_op(b, IR_OP_WHERE, 3, wargs, NULL, &w, d));
  ir_build_loc(b, file, 9);
  IrAttrs ara = IR_ATTRS_INIT;
  ara.dtype = DT_INT32;
  ara.start = 0;
  ara.shape = full.shape;
  TRY(ir_build_op(b, IR_OP_ARANGE, 0, NULL, &ara, &ar, d));
  IrAttrs cast = IR_ATTRS_INIT;
  cast.dtype = DT_FLOAT32;
  TRY(op1(b, IR_OP_CAST, ar, &cast, &arf, d));
  ir_build_loc(b, file, 10);
  IrAttrs dim0 = IR_ATTRS_INIT;
  dim0.dim = 0;
  TRY(op1(b, IR_OP_UNSQUEEZE, w, &dim0, &u1, d));
  IrAttrs ex = IR_ATTRS_INIT;
  ex.shape.rank = 2;
  ex.shape.dims[0] = (IrDim){IR_DIM_CONST, 4};
  ex.shape.dims[1] = (IrDim){IR_DIM_CONST, -1};
  TRY(op1(b, IR_OP_EXPAND, u1, &ex, &e, d));
  IrAttrs perm = IR_ATTRS_INIT;
  perm.shape.rank = 2;
  perm.perm[0] = 1;
  perm.perm[1] = 0;
  TRY(op1(b, IR_OP_PERMUTE, e, &perm, &p, d));
  IrAttrs rs = IR_ATTRS_INIT;
  rs.shape.rank = 2;
  rs.shape.dims[0] = (IrDim){IR_DIM_CONST, 4};
  rs.shape.dims[1] = (IrDim){IR_DIM_CONST, -1};
  TRY(op1(b, IR_OP_RESHAPE, p, &rs, &r, d));
  TRY(op1(b, IR_OP_SQUEEZE, u1, &dim0, &s, d));
  IrIndex na[3] = {{IR_IDX_SCALAR, j}, {IR_IDX_NEWAXIS, IR_NONE}, tile_idx(tc)};
  TRY(ir_build_load(b, x, 3, na, IR_NONE, IR_EVICT_NONE, &nw, d));
  ir_build_loc(b, file, 11);
  TRY(binop(b, IR_OP_LT, tb, te, &lg, d));
  TRY(binop(b, IR_OP_AND, mask, lg, &lg, d));
  TRY(op1(b, IR_OP_NOT, lg, NULL, &nm, d));
  IrAttrs last = IR_ATTRS_INIT;
  last.dim = -1;
  TRY(op1(b, IR_OP_ARGMAX, r, &last, &am, d));
  TRY(op1(b, IR_OP_SOFTMAX, nw, &last, &sm, d));
  TRY(binop(b, IR_OP_MAXIMUM, s, arf, &mx, d));
  ir_build_loc(b, file, 12);
  IrIndex hc = tile_idx(tc);
  TRY(ir_build_atomic_add(b, hist, 1, &hc, mx, nm, IR_SEM_RELAXED, &old, d));
  TRY(ir_build_store(b, hist, 1, &hc, w, mask, d));
  TRY(ir_build_loop_end(b, 0, NULL, NULL, d));
  TRY(ir_build_loop_end(b, 0, NULL, NULL, d));
  /* built only to appear in the text */
  (void)g, (void)tbs, (void)tid, (void)tcnt, (void)row2, (void)am, (void)sm, (void)old, (void)tun;
  TRY(ir_builder_finish(b, out, d));
  ir_builder_free(b);
  return HL_OK;
fail:
  ir_builder_free(b);
  return HL_ERR;
}
