/* Tile IR errors: each class of mistake the builder rejects (what a kernel author can reach),
 * and each class the verifier catches in IR a pass got wrong (made here by editing built IR).
 * Part of tests/unit. Messages are checked for the op, the value, the line and the fix. */
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

#define OK(call)                                                                                   \
  do {                                                                                             \
    if ((call) != HL_OK) fail_msg("%s failed: %s", #call, d.msg);                                  \
  } while (0)

/* The call must fail with a message containing every given piece. */
#define ERR(call, ...) expect_err((call), &d, __VA_ARGS__, NULL)

static void expect_err(int rc, const Diag *d, ...) {
  if (rc != HL_ERR) fail_msg("expected an error, got success");
  va_list ap;
  va_start(ap, d);
  for (const char *piece; (piece = va_arg(ap, const char *));) {
    if (!strstr(d->msg, piece)) {
      va_end(ap);
      fail_msg("message lacks \"%s\":\n%s", piece, d->msg);
    }
  }
  va_end(ap);
}

static IrFunc *must(int (*build)(IrFunc **, Diag *)) {
  Diag d;
  IrFunc *f = NULL;
  if (build(&f, &d) != HL_OK) fail_msg("build failed: %s", d.msg);
  return f;
}

/* A builder inside one tile loop over float32[64, 32] x and bfloat16[64, 32] h. */
typedef struct Fixture {
  IrBuilder *b;
  IrValueId x, h, c0, c64, c32, tm, tn, vx, vh;
  int file;
} Fixture;

static void fixture(Fixture *fx, Diag *dd) {
  Diag d;
  diag_clear(&d);
  int64_t sizes[2] = {64, 32};
  OK(ir_builder_new("k", &fx->b, &d));
  OK(ir_build_file(fx->b, "k.lua", &fx->file, &d));
  ir_build_loc(fx->b, fx->file, 2);
  OK(ir_build_arg_tensor(fx->b, "x", DT_FLOAT32, 2, sizes, NULL, &fx->x, &d));
  OK(ir_build_arg_tensor(fx->b, "h", DT_BFLOAT16, 2, sizes, NULL, &fx->h, &d));
  OK(ir_build_const_int(fx->b, DT_INT64, 0, &fx->c0, &d));
  OK(ir_build_const_int(fx->b, DT_INT64, 64, &fx->c64, &d));
  OK(ir_build_const_int(fx->b, DT_INT64, 32, &fx->c32, &d));
  ir_build_loc(fx->b, fx->file, 3);
  IrLoopDim dims[2] = {IR_LOOP_DIM_INIT, IR_LOOP_DIM_INIT};
  dims[0].begin = dims[1].begin = fx->c0;
  dims[0].end = fx->c64;
  dims[1].end = fx->c32;
  IrValueId it[2];
  OK(ir_build_loop_begin(fx->b, IR_OP_TILE, 2, dims, 0, NULL, it, NULL, &d));
  fx->tm = it[0];
  fx->tn = it[1];
  OK(ir_build_name(fx->b, fx->tm, "tm", &d));
  OK(ir_build_name(fx->b, fx->tn, "tn", &d));
  ir_build_loc(fx->b, fx->file, 4);
  IrIndex idx[2] = {{IR_IDX_TILE, fx->tm}, {IR_IDX_TILE, fx->tn}};
  OK(ir_build_load(fx->b, fx->x, 2, idx, IR_NONE, IR_EVICT_NONE, &fx->vx, &d));
  OK(ir_build_load(fx->b, fx->h, 2, idx, IR_NONE, IR_EVICT_NONE, &fx->vh, &d));
  OK(ir_build_name(fx->b, fx->vx, "a", &d));
  OK(ir_build_name(fx->b, fx->vh, "b", &d));
  ir_build_loc(fx->b, fx->file, 5);
  *dd = d;
}

static int op2(Fixture *fx, IrOpKind k, IrValueId a, IrValueId b, IrValueId *out, Diag *d) {
  IrValueId args[2] = {a, b};
  return ir_build_op(fx->b, k, 2, args, NULL, out, d);
}

/* ---- builder errors (reachable from a kernel) ------------------------------------------------ */

static void test_dtype_mismatch(void **state) {
  Fixture fx;
  Diag d;
  fixture(&fx, &d);
  IrValueId v;
  ERR(op2(&fx, IR_OP_ADD, fx.vx, fx.vh, &v, &d),
      "add: operand dtypes differ: %a is float32, %b is bfloat16", "cast");
  assert_string_equal(d.file, "k.lua");
  assert_int_equal(d.line, 5);
  ERR(op2(&fx, IR_OP_LT, fx.vx, fx.vh, &v, &d), "lt: operand dtypes differ");
  IrValueId c;
  OK(op2(&fx, IR_OP_LT, fx.vx, fx.vx, &c, &d));
  assert_int_equal(ir_value(ir_builder_func(fx.b), c)->dtype, DT_BOOL); /* compare -> bool */
  ERR(op2(&fx, IR_OP_AND, c, fx.vx, &v, &d), "and: operand %a is float32, not bool");
  ERR(ir_build_op(fx.b, IR_OP_EXP, 1, &c, NULL, &v, &d), "exp: operand", "needs a float");
  ir_builder_free(fx.b);
}

static void test_shape_mismatch(void **state) {
  Fixture fx;
  Diag d;
  fixture(&fx, &d);
  IrValueId v, t, s;
  IrAttrs a = IR_ATTRS_INIT;
  a.shape.rank = 2;
  a.perm[0] = 1;
  a.perm[1] = 0;
  OK(ir_build_op(fx.b, IR_OP_PERMUTE, 1, &fx.vx, &a, &t, &d)); /* float32[B1, B0] */
  ERR(op2(&fx, IR_OP_ADD, fx.vx, t, &v, &d), "add: shapes of %a [B0, B1] and",
      "[B1, B0] do not broadcast");
  IrAttrs r = IR_ATTRS_INIT;
  r.dim = 5;
  ERR(ir_build_op(fx.b, IR_OP_SUM, 1, &fx.vx, &r, &v, &d),
      "sum: dim 5 is out of range for a value of 2 dims");
  r.dim = -1;
  OK(ir_build_op(fx.b, IR_OP_SUM, 1, &fx.vx, &r, &s, &d)); /* float32[B0] */
  IrAttrs sq = IR_ATTRS_INIT;
  sq.dim = 0;
  ERR(ir_build_op(fx.b, IR_OP_SQUEEZE, 1, &fx.vx, &sq, &v, &d),
      "squeeze: dim 0 has size B0, not 1");
  IrAttrs rs = IR_ATTRS_INIT;
  rs.shape.rank = 1;
  rs.shape.dims[0] = (IrDim){IR_DIM_CONST, 64};
  ERR(ir_build_op(fx.b, IR_OP_RESHAPE, 1, &fx.vx, &rs, &v, &d),
      "reshape: cannot reshape [B0, B1] to [64]");
  IrValueId dargs[2] = {fx.vx, fx.vx};
  ERR(ir_build_op(fx.b, IR_OP_DOT, 2, dargs, NULL, &v, &d),
      "dot: inner dims differ: %a [B0, B1] and %a [B0, B1]");
  assert_int_equal(ir_value(ir_builder_func(fx.b), s)->shape.rank, 1); /* the sum that worked */
  ir_builder_free(fx.b);
}

static void test_memory_errors(void **state) {
  Fixture fx;
  Diag d;
  fixture(&fx, &d);
  const IrFunc *f = ir_builder_func(fx.b);
  IrValueId v;
  IrIndex one[1] = {{IR_IDX_TILE, fx.tm}};
  ERR(ir_build_load(fx.b, fx.x, 1, one, IR_NONE, IR_EVICT_NONE, &v, &d),
      "load: %x has 2 dims but the index covers 1");
  IrIndex two[2] = {{IR_IDX_TILE, fx.tm}, {IR_IDX_TILE, fx.tn}};
  ERR(ir_build_store(fx.b, fx.h, 2, two, fx.vx, IR_NONE, &d),
      "store: the value %a is float32 but %h is bfloat16", "casts stored values");
  ERR(ir_build_load(fx.b, fx.x, 2, two, fx.vx, IR_EVICT_NONE, &v, &d),
      "load: the mask %a is float32, not bool");
  /* a failed load with ':' leaves no reduction dim behind */
  IrIndex sl[3] = {{IR_IDX_TILE, fx.tm}, {IR_IDX_SLICE, IR_NONE}, {IR_IDX_SLICE, IR_NONE}};
  ERR(ir_build_load(fx.b, fx.x, 3, sl, IR_NONE, IR_EVICT_NONE, &v, &d),
      "has 2 dims but the index has more entries");
  assert_int_equal(f->nrdims, 0);
  IrIndex ti[2] = {{IR_IDX_TILE, fx.vx}, {IR_IDX_TILE, fx.tn}};
  ERR(ir_build_load(fx.b, fx.x, 2, ti, IR_NONE, IR_EVICT_NONE, &v, &d),
      "index entry 1 %a is not a tile");
  ERR(ir_build_op(fx.b, IR_OP_EXP, 1, &fx.x, NULL, &v, &d),
      "exp: operand %x is a kernel tensor; index it");
  ERR(op2(&fx, IR_OP_ADD, fx.tm, fx.vx, &v, &d), "add: operand %tm is a tile, not a number");
  ir_builder_free(fx.b);
}

static void test_placement_errors(void **state) {
  Fixture fx;
  Diag d;
  fixture(&fx, &d);
  IrValueId v;
  int slot;
  ERR(ir_build_register_block_size(fx.b, 16, 64, &slot, &v, &d),
      "register_block_size: this is host code: call it before the device loops");
  ERR(ir_build_tunable(fx.b, "t", "", DT_INT64, &v, &d), "tunable: this is host code");
  assert_int_equal(ir_builder_func(fx.b)->nslots, 2); /* nothing added */
  assert_int_equal(ir_builder_func(fx.b)->ntunables, 0);
  IrAttrs pid = IR_ATTRS_INIT;
  ERR(ir_build_op(fx.b, IR_OP_PROGRAM_ID, 0, NULL, &pid, &v, &d),
      "program_id: this op belongs to the lowered phase, not the traced one");
  IrFunc *f;
  ERR(ir_builder_finish(fx.b, &f, &d), "1 device loop is still open");
  OK(ir_build_loop_end(fx.b, 0, NULL, NULL, &d));
  IrIndex two[2] = {{IR_IDX_SCALAR, fx.c0}, {IR_IDX_SCALAR, fx.c0}};
  ERR(ir_build_load(fx.b, fx.x, 2, two, IR_NONE, IR_EVICT_NONE, &v, &d),
      "load: this is device code: it must be inside a device loop");
  IrAttrs z = IR_ATTRS_INIT;
  z.dtype = DT_FLOAT32;
  z.shape.rank = 1;
  z.shape.dims[0] = (IrDim){IR_DIM_CONST, 4};
  ERR(ir_build_op(fx.b, IR_OP_FULL, 0, NULL, &z, &v, &d), "full: this is device code");
  OK(ir_build_tunable(fx.b, "t", "IntegerFragment(1, 4)", DT_INT64, &v, &d));
  ERR(ir_build_tunable(fx.b, "t", "IntegerFragment(1, 8)", DT_INT64, &v, &d),
      "tunable: 't' is registered twice (first at k.lua:5)");
  OK(ir_builder_finish(fx.b, &f, &d));
  ir_builder_free(fx.b);
  ir_func_free(f);
}

/* A value made inside a loop and used after it: the user forgot to declare the local first. */
static void test_value_escapes_loop(void **state) {
  Fixture fx;
  Diag d;
  fixture(&fx, &d);
  IrValueId s, v;
  OK(op2(&fx, IR_OP_ADD, fx.vx, fx.vx, &s, &d));
  OK(ir_build_name(fx.b, s, "s", &d));
  OK(ir_build_loop_end(fx.b, 0, NULL, NULL, &d));
  ir_build_loc(fx.b, fx.file, 9);
  ERR(op2(&fx, IR_OP_ADD, s, s, &v, &d),
      "add: operand %s (made at k.lua:5) belongs to a device loop that has ended",
      "assign it to a local declared before the loop");
  assert_int_equal(d.line, 9);
  ir_builder_free(fx.b);
}

static void test_carried_type_change(void **state) {
  Fixture fx;
  Diag d;
  fixture(&fx, &d);
  IrValueId c0 = fx.c0, c64 = fx.c64, k, acc, res;
  IrLoopDim ld = IR_LOOP_DIM_INIT;
  ld.begin = c0;
  ld.end = c64;
  OK(ir_build_loop_begin(fx.b, IR_OP_TILE, 1, &ld, 1, &fx.vx, &k, &acc, &d));
  OK(ir_build_name(fx.b, acc, "acc", &d));
  ERR(ir_build_loop_end(fx.b, 1, &fx.vh, &res, &d),
      "tile: carried value %acc is float32[B0, B1], but the body ends with %b of type "
      "bfloat16[B0, B1]; a carried local must keep its dtype and shape");
  ERR(ir_build_loop_end(fx.b, 0, NULL, &res, &d), "the loop carries 1 value but 0 were yielded");
  ir_builder_free(fx.b);
}

/* ---- verifier (IR a pass got wrong) ---------------------------------------------------------- */

/* add kernel: values x0 y1 out2, consts 3-5, tiles tm6 tn7, loads 8 9, add 10 */
static IrOp *add_body_op(IrFunc *f, int n) {
  IrOp *op = f->body->last->body->first;
  while (n-- > 0)
    op = op->next;
  return op;
}

static void unlink_op(IrOp *op) {
  IrRegion *r = op->parent;
  if (op->prev)
    op->prev->next = op->next;
  else
    r->first = op->next;
  if (op->next)
    op->next->prev = op->prev;
  else
    r->last = op->prev;
  op->prev = op->next = NULL;
}

static void link_after(IrOp *pos, IrOp *op) {
  op->parent = pos->parent;
  op->prev = pos;
  op->next = pos->next;
  if (pos->next)
    pos->next->prev = op;
  else
    pos->parent->last = op;
  pos->next = op;
}

static void test_verify_ok(void **state) {
  Diag d;
  int (*builds[])(IrFunc **, Diag *) = {ir_test_build_add, ir_test_build_softmax,
                                        ir_test_build_matmul, ir_test_build_sink};
  for (int i = 0; i < 4; i++) {
    IrFunc *f = must(builds[i]);
    OK(ir_verify(f, IR_PHASE_TRACED, &d));
    ir_func_free(f);
  }
}

static void test_verify_arity(void **state) {
  Diag d;
  IrFunc *f = must(ir_test_build_add);
  IrOp *add = add_body_op(f, 2);
  add->nargs = 1;
  ERR(ir_verify(f, IR_PHASE_TRACED, &d), "");
  assert_string_equal(d.msg, "traced IR is invalid at `%10 = add` (add.lua:6): `add` takes 2 "
                             "operands, got 1");
  assert_string_equal(d.file, "add.lua");
  assert_int_equal(d.line, 6);
  add->nargs = 2;
  OK(ir_verify(f, IR_PHASE_TRACED, &d));
  ir_func_free(f);
}

static void test_verify_phase(void **state) {
  Diag d;
  IrFunc *f = must(ir_test_build_matmul);
  ERR(ir_verify(f, IR_PHASE_LOWERED, &d), "lowered IR is invalid at `tile` (matmul.lua:8)",
      "`tile` may not appear in lowered IR (it is a traced op)");
  ir_func_free(f);
}

static void test_verify_dominance(void **state) {
  Diag d;
  IrFunc *f = must(ir_test_build_add);
  IrOp *load_y = add_body_op(f, 1);
  unlink_op(load_y);
  link_after(add_body_op(f, 1), load_y); /* now after the add that uses it */
  ERR(ir_verify(f, IR_PHASE_TRACED, &d), "at `%10 = add` (add.lua:6)",
      "operand 2 %9 is used before it is defined (SSA");
  ir_func_free(f);

  f = must(ir_test_build_matmul);
  /* the cast after the k loop reads the dot inside it instead of the loop's result */
  IrOp *outer = f->body->last, *kloop = outer->body->first->next->next;
  IrOp *cast = kloop->next;
  IrValueId dot = kloop->body->first->next->next->results[0];
  cast->args[0] = dot;
  ERR(ir_verify(f, IR_PHASE_TRACED, &d), "at `%16 = cast` (matmul.lua:13)",
      "operand 1 %acc.2 (made at matmul.lua:11) is used outside the loop that defines it");
  ir_func_free(f);
}

static void test_verify_types(void **state) {
  Diag d;
  IrFunc *f = must(ir_test_build_add);
  f->values[f->args[1]].dtype = DT_FLOAT16; /* y */
  f->values[9].dtype = DT_FLOAT16;          /* its load */
  ERR(ir_verify(f, IR_PHASE_TRACED, &d), "at `%10 = add` (add.lua:6)",
      "operand dtypes differ: %8 is float32, %9 is float16");
  ir_func_free(f);

  f = must(ir_test_build_softmax);
  IrOp *amax = f->body->last->body->first->next->next;
  IrValue *mx = &f->values[amax->results[0]];
  mx->shape.dims[1] = (IrDim){IR_DIM_RDIM, 0};
  ERR(ir_verify(f, IR_PHASE_TRACED, &d), "at `%amax = amax` (softmax.lua:8)",
      "result %amax has type float32[B0, R0], but its operands make it float32[B0, 1]");
  mx->shape.dims[1] = (IrDim){IR_DIM_CONST, 1};
  amax->attrs->dim = -1; /* means the same, but is not the canonical form */
  ERR(ir_verify(f, IR_PHASE_TRACED, &d), "at `%amax = amax` (softmax.lua:8)",
      "the attributes are not in canonical form");
  amax->attrs->dim = 1;
  OK(ir_verify(f, IR_PHASE_TRACED, &d));
  ir_func_free(f);

  f = must(ir_test_build_sink);
  for (IrOp *op = f->body->last->body->first->next->body->first; op; op = op->next) {
    if (op->kind == IR_OP_LT) {
      f->values[op->results[0]].dtype = DT_FLOAT32;
      break;
    }
  }
  ERR(ir_verify(f, IR_PHASE_TRACED, &d),
      "result %21 has type float32[B0], but its operands make it bool[B0]");
  ir_func_free(f);
}

static void test_verify_yield(void **state) {
  Diag d;
  IrFunc *f = must(ir_test_build_matmul);
  IrOp *kloop = f->body->last->body->first->next->next;
  IrOp *y = kloop->body->last;
  IrValueId saved = y->args[0];
  y->args[0] = kloop->body->first->results[0];
  ERR(ir_verify(f, IR_PHASE_TRACED, &d), "at `yield` (matmul.lua:11)",
      "yielded %12 is bfloat16[B0, B2] but carried %acc.1 is float32[B0, B1]");
  y->args[0] = saved;
  y->nargs = 0;
  ERR(ir_verify(f, IR_PHASE_TRACED, &d), "yields 0 values but the loop carries 1");
  y->nargs = 1;
  unlink_op(y);
  ERR(ir_verify(f, IR_PHASE_TRACED, &d), "at `%acc.3 = tile` (matmul.lua:10)",
      "the loop body does not end with a yield");
  ir_func_free(f);
}

static void test_verify_placement_and_ssa(void **state) {
  Diag d;
  IrFunc *f = must(ir_test_build_add);
  IrOp *load_x = add_body_op(f, 0);
  unlink_op(load_x);
  link_after(f->body->first, load_x);
  ERR(ir_verify(f, IR_PHASE_TRACED, &d), "at `%8 = load` (add.lua:6)",
      "`load` is device code outside a device loop (hl.tile / hl.grid)");
  ir_func_free(f);

  f = must(ir_test_build_add);
  IrOp *add = add_body_op(f, 2);
  add->results[0] = 9;
  ERR(ir_verify(f, IR_PHASE_TRACED, &d), "%9 is defined twice (SSA)");
  ir_func_free(f);
}

/* Lowered IR has every dim concrete: a block-size symbol left over is caught. */
static void test_verify_lowered_symbols(void **state) {
  Diag d;
  IrBuilder *b;
  IrValueId bs, z;
  int slot;
  OK(ir_builder_new("k", &b, &d));
  OK(ir_build_register_block_size(b, 16, 64, &slot, &bs, &d));
  ir_builder_set_phase(b, IR_PHASE_LOWERED);
  IrAttrs a = IR_ATTRS_INIT;
  a.dtype = DT_FLOAT32;
  a.shape.rank = 1;
  a.shape.dims[0] = (IrDim){IR_DIM_BLOCK, slot};
  OK(ir_build_op(b, IR_OP_FULL, 0, NULL, &a, &z, &d));
  const IrFunc *f = ir_builder_func(b);
  unlink_op(f->body->first); /* the traced register_block_size */
  ERR(ir_verify(f, IR_PHASE_LOWERED, &d), "lowered IR is invalid at `%1 = full`",
      "%1 has type float32[B0], but lowered IR has concrete dims only");
  ir_builder_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_dtype_mismatch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shape_mismatch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_memory_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_placement_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_value_escapes_loop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_carried_type_change, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_ok, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_arity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_phase, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_dominance, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_types, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_yield, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_placement_and_ssa, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_lowered_symbols, setup, teardown),
  };
  return cmocka_run_group_tests_name("ir_verify", tests, NULL, NULL);
}
