/* Tile IR builder, text form, fingerprint and config-space queries: add, softmax, matmul and a
 * kernel using every traced op class, printed and compared byte for byte. Part of tests/unit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "ir/ir.h"

/* from test_ir_kernels.c */
int ir_test_build_add(IrFunc **out, Diag *d);
int ir_test_build_softmax(IrFunc **out, Diag *d);
int ir_test_build_matmul(IrFunc **out, Diag *d);
int ir_test_build_matmul_ex(int line_shift, bool names, IrFunc **out, Diag *d);
int ir_test_build_sink(IrFunc **out, Diag *d);

static long live_at_start;

static int setup(void **state) {
  live_at_start = mem_live_count();
  return 0;
}

static int teardown(void **state) {
  assert_int_equal(mem_live_count(), live_at_start);
  return 0;
}

static IrFunc *must(int (*build)(IrFunc **, Diag *)) {
  Diag d;
  diag_clear(&d);
  IrFunc *f = NULL;
  if (build(&f, &d) != HL_OK) fail_msg("build failed: %s", d.msg);
  return f;
}

static void assert_text(const IrFunc *f, unsigned flags, const char *want) {
  Diag d;
  char *got;
  size_t len;
  assert_int_equal(ir_print(f, flags, &got, &len, &d), HL_OK);
  assert_int_equal(strlen(got), len);
  if (strcmp(got, want) != 0) {
    fprintf(stderr, "---- got:\n%s---- want:\n%s----\n", got, want);
    mem_free(got);
    fail_msg("IR text differs");
  }
  mem_free(got);
}

/* ---- the three reference kernels ------------------------------------------------------------- */

static void test_add_text(void **state) {
  IrFunc *f = must(ir_test_build_add);
  assert_text(f, 0,
              "kernel add\n"
              "  arg %x : tensor float32[1000, 500] strides [500, 1]  # add.lua:3\n"
              "  arg %y : tensor float32[1000, 500] strides [500, 1]  # add.lua:3\n"
              "  arg %out : tensor float32[1000, 500] strides [500, 1]  # add.lua:3\n"
              "  block B0 : tile extent 1000 range [1, 1024]  # add.lua:5\n"
              "  block B1 : tile extent 500 range [1, 512]  # add.lua:5\n"
              "{\n"
              "  %3 = const 0 : int64  # add.lua:5\n"
              "  %4 = const 1000 : int64  # add.lua:5\n"
              "  %5 = const 500 : int64  # add.lua:5\n"
              "  tile %tm = [%3, %4) block B0, %tn = [%3, %5) block B1 {  # add.lua:5\n"
              "    %8 = load %x[%tm, %tn] : float32[B0, B1]  # add.lua:6\n"
              "    %9 = load %y[%tm, %tn] : float32[B0, B1]  # add.lua:6\n"
              "    %10 = add %8, %9 : float32[B0, B1]  # add.lua:6\n"
              "    store %out[%tm, %tn], %10  # add.lua:6\n"
              "  }\n"
              "}\n");
  ir_func_free(f);
}

static void test_softmax_text(void **state) {
  IrFunc *f = must(ir_test_build_softmax);
  assert_text(f, IR_PRINT_NO_LOC,
              "kernel softmax\n"
              "  arg %x : tensor float16[4096, 1000] strides [1000, 1]\n"
              "  arg %out : tensor float16[4096, 1000] strides [1000, 1]\n"
              "  block B0 : tile extent 4096 range [1, 4096]\n"
              "  rdim R0 : extent 1000\n"
              "{\n"
              "  %2 = const 0 : int64\n"
              "  %3 = const 4096 : int64\n"
              "  tile %tm = [%2, %3) block B0 {\n"
              "    %5 = load %x[%tm, :] : float16[B0, R0]\n"
              "    %values = cast %5 : float32[B0, R0]\n"
              "    %amax = amax %values dim 1 keepdim : float32[B0, 1]\n"
              "    %8 = sub %values, %amax : float32[B0, R0]\n"
              "    %exp = exp %8 : float32[B0, R0]\n"
              "    %10 = sum %exp dim 1 keepdim : float32[B0, 1]\n"
              "    %11 = div %exp, %10 : float32[B0, R0]\n"
              "    %12 = cast %11 : float16[B0, R0]\n"
              "    store %out[%tm, :], %12\n"
              "  }\n"
              "}\n");
  ir_func_free(f);
}

static const char matmul_text[] =
    "kernel matmul\n"
    "  arg %x : tensor bfloat16[1024, 512] strides [512, 1]  # matmul.lua:4\n"
    "  arg %y : tensor bfloat16[512, 256] strides [256, 1]  # matmul.lua:4\n"
    "  arg %out : tensor bfloat16[1024, 256] strides [256, 1]  # matmul.lua:4\n"
    "  block B0 : tile extent 1024 range [1, 1024]  # matmul.lua:8\n"
    "  block B1 : tile extent 256 range [1, 256]  # matmul.lua:8\n"
    "  block B2 : tile extent 512 range [1, 512]  # matmul.lua:10\n"
    "{\n"
    "  %3 = const 0 : int64  # matmul.lua:8\n"
    "  %4 = const 1024 : int64  # matmul.lua:8\n"
    "  %5 = const 256 : int64  # matmul.lua:8\n"
    "  tile %tm = [%3, %4) block B0, %tn = [%3, %5) block B1 {  # matmul.lua:8\n"
    "    %acc = full 0.0 : float32[B0, B1]  # matmul.lua:9\n"
    "    %9 = const 512 : int64  # matmul.lua:10\n"
    "    %acc.3 = tile %tk = [%3, %9) block B2 carry (%acc.1 = %acc : float32[B0, B1]) {"
    "  # matmul.lua:10\n"
    "      %12 = load %x[%tm, %tk] : bfloat16[B0, B2]  # matmul.lua:11\n"
    "      %13 = load %y[%tk, %tn] : bfloat16[B2, B1]  # matmul.lua:11\n"
    "      %acc.2 = dot %12, %13, %acc.1 : float32[B0, B1]  # matmul.lua:11\n"
    "      yield %acc.2  # matmul.lua:11\n"
    "    }\n"
    "    %16 = cast %acc.3 : bfloat16[B0, B1]  # matmul.lua:13\n"
    "    store %out[%tm, %tn], %16  # matmul.lua:13\n"
    "  }\n"
    "}\n";

static void test_matmul_text(void **state) {
  IrFunc *f = must(ir_test_build_matmul);
  assert_text(f, 0, matmul_text);
  ir_func_free(f);
}

static void test_text_deterministic(void **state) {
  IrFunc *a = must(ir_test_build_matmul), *b = must(ir_test_build_matmul);
  char *ta, *tb, *tc;
  size_t la, lb, lc;
  Diag d;
  assert_int_equal(ir_print(a, 0, &ta, &la, &d), HL_OK);
  assert_int_equal(ir_print(b, 0, &tb, &lb, &d), HL_OK);
  assert_int_equal(ir_print(a, 0, &tc, &lc, &d), HL_OK);
  assert_int_equal(la, lb);
  assert_memory_equal(ta, tb, la);
  assert_memory_equal(ta, tc, la);
  mem_free(ta);
  mem_free(tb);
  mem_free(tc);
  ir_func_free(a);
  ir_func_free(b);
}

static void test_text_without_names(void **state) {
  IrFunc *f = must(ir_test_build_add);
  assert_text(f, IR_PRINT_NO_LOC | IR_PRINT_NO_NAMES,
              "kernel\n"
              "  arg %0 : tensor float32[1000, 500] strides [500, 1]\n"
              "  arg %1 : tensor float32[1000, 500] strides [500, 1]\n"
              "  arg %2 : tensor float32[1000, 500] strides [500, 1]\n"
              "  block B0 : tile extent 1000 range [1, 1024]\n"
              "  block B1 : tile extent 500 range [1, 512]\n"
              "{\n"
              "  %3 = const 0 : int64\n"
              "  %4 = const 1000 : int64\n"
              "  %5 = const 500 : int64\n"
              "  tile %6 = [%3, %4) block B0, %7 = [%3, %5) block B1 {\n"
              "    %8 = load %0[%6, %7] : float32[B0, B1]\n"
              "    %9 = load %1[%6, %7] : float32[B0, B1]\n"
              "    %10 = add %8, %9 : float32[B0, B1]\n"
              "    store %2[%6, %7], %10\n"
              "  }\n"
              "}\n");
  ir_func_free(f);
}

static void test_sink_text(void **state) {
  IrFunc *f = must(ir_test_build_sink);
  assert_text(f, IR_PRINT_NO_LOC,
              "kernel sink\n"
              "  arg %x : tensor float32[100, 64] strides [64, 1]\n"
              "  arg %idx : tensor int64[100] strides [1]\n"
              "  arg %hist : tensor float32[64] strides [1]\n"
              "  arg %alpha : float32\n"
              "  arg %n : int64\n"
              "  block B0 : registered extent 64 range [16, 64]\n"
              "  tunable T0 \"unroll\" : int64 fragment \"IntegerFragment(1, 4, 2)\"\n"
              "{\n"
              "  %bs = register_block_size B0 : int64\n"
              "  %6 = tunable T0 : int64\n"
              "  %7 = specialize %n = 100 : int64\n"
              "  %8 = const 0 : int64\n"
              "  %9 = const 64 : int64\n"
              "  grid %i = [%8, %7) {\n"
              "    %11 = load %idx[%i] : int64\n"
              "    tile %tc = [%8, %9) block B0 {\n"
              "      %13 = tile_index %tc : int64[B0]\n"
              "      %14 = tile_begin %tc : int64\n"
              "      %15 = tile_end %tc : int64\n"
              "      %16 = tile_block_size %tc : int64\n"
              "      %17 = tile_id %tc : int64\n"
              "      %18 = tile_count %tc : int64\n"
              "      %19 = load %x[%11, %tc] evict last : float32[B0]\n"
              "      %20 = load %x[%13, %tc] : float32[B0, B0]\n"
              "      %21 = lt %13, %9 : bool[B0]\n"
              "      %22 = load %x[%11, %tc] mask %21 evict first : float32[B0]\n"
              "      %23 = mul %19, %alpha : float32[B0]\n"
              "      %24 = full 0.0 : float32[B0]\n"
              "      %25 = where %21, %23, %24 : float32[B0]\n"
              "      %26 = arange 0 : int32[B0]\n"
              "      %27 = cast %26 : float32[B0]\n"
              "      %28 = unsqueeze %25 dim 0 : float32[1, B0]\n"
              "      %29 = expand %28 : float32[4, B0]\n"
              "      %30 = permute %29 [1, 0] : float32[B0, 4]\n"
              "      %31 = reshape %30 : float32[4, B0]\n"
              "      %32 = squeeze %28 dim 0 : float32[B0]\n"
              "      %33 = load %x[%11, newaxis, %tc] : float32[1, B0]\n"
              "      %34 = lt %14, %15 : bool\n"
              "      %35 = and %21, %34 : bool[B0]\n"
              "      %36 = not %35 : bool[B0]\n"
              "      %37 = argmax %31 dim 1 : int64[4]\n"
              "      %38 = softmax %33 dim 1 : float32[1, B0]\n"
              "      %39 = maximum %32, %27 : float32[B0]\n"
              "      %40 = atomic_add %hist[%tc], %39 mask %36 : float32[B0]\n"
              "      store %hist[%tc], %25 mask %21\n"
              "    }\n"
              "  }\n"
              "}\n");
  IrMemOpInfo mem[8];
  assert_int_equal(ir_func_memops(f, mem, 8), 7);
  assert_int_equal(mem[0].loop, 0); /* the grid loop */
  assert_int_equal(mem[1].loop, 1);
  assert_true(mem[1].explicit_eviction);
  assert_int_equal(mem[5].kind, IR_OP_ATOMIC_ADD);
  IrLoopInfo loops[2];
  assert_int_equal(ir_func_loops(f, loops, 2), 2);
  assert_int_equal(loops[0].kind, IR_OP_GRID);
  assert_int_equal(loops[0].extent[0], 100); /* specialize counts as a constant */
  assert_int_equal(loops[1].block[0].kind, IR_DIM_BLOCK);
  assert_int_equal(f->nslots, 1); /* the tile loop shares the registered slot */
  assert_int_equal(f->ntunables, 1);
  assert_string_equal(f->tunables[0].name, "unroll");
  ir_func_free(f);
}

/* Carried values whose yield is their own block argument are loop-invariant: pruned. */
static void test_carried_pruned(void **state) {
  Diag d;
  diag_clear(&d);
  IrBuilder *b;
  IrValueId x, c0, c8, acc, keep, t, carried[2], v, k2, sum, res[2];
  int64_t sizes[1] = {8};
  assert_int_equal(ir_builder_new("carry", &b, &d), HL_OK);
  assert_int_equal(ir_build_arg_tensor(b, "x", DT_FLOAT32, 1, sizes, NULL, &x, &d), HL_OK);
  assert_int_equal(ir_build_const_int(b, DT_INT64, 0, &c0, &d), HL_OK);
  assert_int_equal(ir_build_const_int(b, DT_INT64, 8, &c8, &d), HL_OK);
  assert_int_equal(ir_build_const_float(b, DT_FLOAT32, 0.5, &acc, &d), HL_OK);
  assert_int_equal(ir_build_const_float(b, DT_FLOAT32, 2, &keep, &d), HL_OK);
  assert_int_equal(ir_build_name(b, acc, "acc", &d), HL_OK);
  assert_int_equal(ir_build_name(b, keep, "keep", &d), HL_OK);
  IrLoopDim ld = IR_LOOP_DIM_INIT;
  ld.begin = c0;
  ld.end = c8;
  IrValueId inits[2] = {acc, keep};
  assert_int_equal(ir_build_loop_begin(b, IR_OP_GRID, 1, &ld, 2, inits, &t, carried, &d), HL_OK);
  IrIndex ix = {IR_IDX_SCALAR, t};
  assert_int_equal(ir_build_load(b, x, 1, &ix, IR_NONE, IR_EVICT_NONE, &v, &d), HL_OK);
  IrValueId margs[2] = {v, carried[1]}, aargs[2];
  assert_int_equal(ir_build_op(b, IR_OP_MUL, 2, margs, NULL, &k2, &d), HL_OK);
  aargs[0] = carried[0];
  aargs[1] = k2;
  assert_int_equal(ir_build_op(b, IR_OP_ADD, 2, aargs, NULL, &sum, &d), HL_OK);
  IrValueId ys[2] = {sum, carried[1]};
  assert_int_equal(ir_build_loop_end(b, 2, ys, res, &d), HL_OK);
  assert_int_equal(res[1], keep);
  assert_int_not_equal(res[0], acc);
  IrFunc *f;
  if (ir_builder_finish(b, &f, &d)) fail_msg("%s", d.msg);
  ir_builder_free(b);
  assert_text(f, 0,
              "kernel carry\n"
              "  arg %x : tensor float32[8] strides [1]\n"
              "{\n"
              "  %1 = const 0 : int64\n"
              "  %2 = const 8 : int64\n"
              "  %acc = const 0.5 : float32\n"
              "  %keep = const 2.0 : float32\n"
              "  %11 = grid %5 = [%1, %2) carry (%6 = %acc : float32) {\n"
              "    %8 = load %x[%5] : float32\n"
              "    %9 = mul %8, %keep : float32\n"
              "    %10 = add %6, %9 : float32\n"
              "    yield %10\n"
              "  }\n"
              "}\n");
  ir_func_free(f);
}

/* Lowered IR: explicit program ids, offsets and masks, concrete shapes. */
static void test_lowered(void **state) {
  Diag d;
  diag_clear(&d);
  IrBuilder *b;
  IrValueId x, o, pid, c64, c0, c1, c4, base, ar, off, lim, m, v, k, acc, accn, fin;
  int64_t sizes[1] = {1000};
  assert_int_equal(ir_builder_new("add_lowered", &b, &d), HL_OK);
  ir_builder_set_phase(b, IR_PHASE_LOWERED);
  assert_int_equal(ir_build_arg_tensor(b, "x", DT_FLOAT32, 1, sizes, NULL, &x, &d), HL_OK);
  assert_int_equal(ir_build_arg_tensor(b, "out", DT_FLOAT32, 1, sizes, NULL, &o, &d), HL_OK);
  IrAttrs a = IR_ATTRS_INIT;
  a.dim = 0;
  assert_int_equal(ir_build_op(b, IR_OP_PROGRAM_ID, 0, NULL, &a, &pid, &d), HL_OK);
  assert_int_equal(ir_build_const_int(b, DT_INT64, 64, &c64, &d), HL_OK);
  IrValueId mul[2] = {pid, c64};
  assert_int_equal(ir_build_op(b, IR_OP_MUL, 2, mul, NULL, &base, &d), HL_OK);
  IrAttrs ara = IR_ATTRS_INIT;
  ara.dtype = DT_INT64;
  ara.shape.rank = 1;
  ara.shape.dims[0] = (IrDim){IR_DIM_CONST, 64};
  assert_int_equal(ir_build_op(b, IR_OP_ARANGE, 0, NULL, &ara, &ar, &d), HL_OK);
  IrValueId add[2] = {ar, base};
  assert_int_equal(ir_build_op(b, IR_OP_ADD, 2, add, NULL, &off, &d), HL_OK);
  assert_int_equal(ir_build_const_int(b, DT_INT64, 1000, &lim, &d), HL_OK);
  IrValueId lt[2] = {off, lim};
  assert_int_equal(ir_build_op(b, IR_OP_LT, 2, lt, NULL, &m, &d), HL_OK);
  IrAttrs pl = IR_ATTRS_INIT;
  pl.has_mask = true;
  IrValueId la[3] = {x, off, m};
  assert_int_equal(ir_build_op(b, IR_OP_PTR_LOAD, 3, la, &pl, &v, &d), HL_OK);
  assert_int_equal(ir_build_const_int(b, DT_INT64, 0, &c0, &d), HL_OK);
  assert_int_equal(ir_build_const_int(b, DT_INT64, 1, &c1, &d), HL_OK);
  assert_int_equal(ir_build_const_int(b, DT_INT64, 4, &c4, &d), HL_OK);
  IrLoopDim ld = IR_LOOP_DIM_INIT;
  ld.begin = c0;
  ld.end = c4;
  ld.step = c1;
  assert_int_equal(ir_build_loop_begin(b, IR_OP_FOR, 1, &ld, 1, &v, &k, &acc, &d), HL_OK);
  IrValueId aa[2] = {acc, v};
  assert_int_equal(ir_build_op(b, IR_OP_ADD, 2, aa, NULL, &accn, &d), HL_OK);
  assert_int_equal(ir_build_loop_end(b, 1, &accn, &fin, &d), HL_OK);
  IrValueId sa[4] = {o, off, fin, m};
  assert_int_equal(ir_build_op(b, IR_OP_PTR_STORE, 4, sa, &pl, NULL, &d), HL_OK);
  IrFunc *f;
  if (ir_builder_finish(b, &f, &d)) fail_msg("%s", d.msg);
  ir_builder_free(b);
  assert_text(f, 0,
              "kernel add_lowered\n"
              "  arg %x : tensor float32[1000] strides [1]\n"
              "  arg %out : tensor float32[1000] strides [1]\n"
              "{\n"
              "  %2 = program_id 0 : int64\n"
              "  %3 = const 64 : int64\n"
              "  %4 = mul %2, %3 : int64\n"
              "  %5 = arange 0 : int64[64]\n"
              "  %6 = add %5, %4 : int64[64]\n"
              "  %7 = const 1000 : int64\n"
              "  %8 = lt %6, %7 : bool[64]\n"
              "  %9 = ptr_load %x + %6 mask %8 : float32[64]\n"
              "  %10 = const 0 : int64\n"
              "  %11 = const 1 : int64\n"
              "  %12 = const 4 : int64\n"
              "  %16 = for %13 = [%10, %12) step %11 carry (%14 = %9 : float32[64]) {\n"
              "    %15 = add %14, %9 : float32[64]\n"
              "    yield %15\n"
              "  }\n"
              "  ptr_store %out + %6, %16 mask %8\n"
              "}\n");
  assert_int_equal(ir_verify(f, IR_PHASE_LOWERED, &d), HL_OK);
  assert_int_equal(ir_verify(f, IR_PHASE_TRACED, &d), HL_ERR);
  assert_non_null(strstr(d.msg, "`program_id` may not appear in traced IR"));
  ir_func_free(f);
}

/* ---- fingerprint ----------------------------------------------------------------------------- */

static uint64_t fp(const IrFunc *f) {
  Diag d;
  uint64_t h = 0;
  assert_int_equal(ir_fingerprint(f, &h, &d), HL_OK);
  return h;
}

static void test_fingerprint(void **state) {
  Diag d;
  IrFunc *a = must(ir_test_build_matmul), *b = must(ir_test_build_matmul), *shifted, *anon;
  assert_int_equal(ir_test_build_matmul_ex(7, true, &shifted, &d), HL_OK);
  assert_int_equal(ir_test_build_matmul_ex(0, false, &anon, &d), HL_OK);
  IrFunc *add = must(ir_test_build_add), *softmax = must(ir_test_build_softmax);
  assert_true(fp(a) == fp(b));       /* stable */
  assert_true(fp(a) == fp(shifted)); /* source lines do not count */
  assert_true(fp(a) == fp(anon));    /* nor value names */
  assert_true(fp(a) != fp(add));
  assert_true(fp(a) != fp(softmax));
  assert_true(fp(add) != fp(softmax));
  /* one op changed: add -> sub */
  IrOp *loop = add->body->last;
  IrOp *op = loop->body->first->next->next;
  assert_int_equal(op->kind, IR_OP_ADD);
  uint64_t before = fp(add);
  op->kind = IR_OP_SUB;
  assert_true(fp(add) != before);
  op->kind = IR_OP_ADD;
  assert_true(fp(add) == before);
  /* a dtype or a shape changed */
  IrValue *x = &add->values[add->args[0]];
  x->dtype = DT_FLOAT16;
  assert_true(fp(add) != before);
  x->dtype = DT_FLOAT32;
  x->shape.dims[1].v = 501;
  assert_true(fp(add) != before);
  x->shape.dims[1].v = 500;
  /* a block-size record changed */
  add->slots[0].extent = 999;
  assert_true(fp(add) != before);
  ir_func_free(a);
  ir_func_free(b);
  ir_func_free(shifted);
  ir_func_free(anon);
  ir_func_free(add);
  ir_func_free(softmax);
}

/* ---- config-space queries -------------------------------------------------------------------- */

static void test_queries(void **state) {
  IrFunc *f = must(ir_test_build_matmul);
  assert_int_equal(f->nslots, 3);
  int64_t extents[3] = {1024, 256, 512};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(f->slots[i].kind, IR_SLOT_TILE);
    assert_int_equal(f->slots[i].extent, extents[i]);
    assert_int_equal(f->slots[i].min, 1);
  }
  assert_int_equal(f->nrdims, 0);
  IrLoopInfo loops[4];
  assert_int_equal(ir_func_loops(f, loops, 4), 2);
  assert_int_equal(loops[0].kind, IR_OP_TILE);
  assert_int_equal(loops[0].ndims, 2);
  assert_int_equal(loops[0].depth, 0);
  assert_int_equal(loops[0].parent, -1);
  assert_int_equal(loops[0].nest, 0);
  assert_int_equal(loops[0].block[1].kind, IR_DIM_BLOCK);
  assert_int_equal(loops[0].block[1].v, 1);
  assert_int_equal(loops[0].extent[0], 1024);
  assert_int_equal(loops[1].ndims, 1);
  assert_int_equal(loops[1].depth, 1);
  assert_int_equal(loops[1].parent, 0);
  assert_int_equal(loops[1].nest, 0);
  assert_int_equal(loops[1].extent[0], 512);
  IrMemOpInfo mem[4];
  assert_int_equal(ir_func_memops(f, mem, 4), 3);
  assert_int_equal(mem[0].kind, IR_OP_LOAD);
  assert_int_equal(mem[0].loop, 1);
  assert_int_equal(mem[1].kind, IR_OP_LOAD);
  assert_int_equal(mem[2].kind, IR_OP_STORE);
  assert_int_equal(mem[2].loop, 0);
  assert_false(mem[0].explicit_eviction);
  ir_func_free(f);

  f = must(ir_test_build_softmax);
  assert_int_equal(f->nrdims, 1); /* the load and the store share R0 */
  assert_int_equal(f->rdims[0].extent, 1000);
  assert_int_equal(f->rdims[0].loc.line, 7);
  ir_func_free(f);
}

static void test_op_table(void **state) {
  for (int i = 0; i < IR_OP_COUNT; i++) {
    const IrOpInfo *info = ir_op_info((IrOpKind)i);
    assert_non_null(info->name);
    assert_true(strlen(info->doc) > 0);
    assert_true(info->phases != 0);
    assert_true(info->arity >= -1 && info->arity <= 3);
    assert_int_equal(ir_op_lookup(info->name), i);
  }
  assert_int_equal(ir_op_lookup("no_such_op"), -1);
  assert_string_equal(ir_op_info(IR_OP_LOAD)->name, "load");
  assert_int_equal(ir_op_info(IR_OP_WHERE)->arity, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_add_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_softmax_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_matmul_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sink_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_carried_pruned, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lowered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_text_deterministic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_text_without_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fingerprint, setup, teardown),
      cmocka_unit_test_setup_teardown(test_queries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_op_table, setup, teardown),
  };
  return cmocka_run_group_tests_name("ir_build", tests, NULL, NULL);
}
