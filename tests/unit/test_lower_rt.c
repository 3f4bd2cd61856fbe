/* The CPU runtime: the thread pool runs every chunk exactly once (many launches, launches from
 * two threads at once, more chunks than threads), a thread cap, an empty grid, and a program
 * whose tile buffers need more stack than the launching thread should give. Part of tests/unit. */
#include <pthread.h>
#include <stdatomic.h>

#include "lower_test_util.h"
#include "rt/rt_pool.h"

typedef struct Counts {
  atomic_int hits[64];
} Counts;

static void count_chunk(void *ctx, int c) {
  atomic_fetch_add(&((Counts *)ctx)->hits[c], 1);
}

static void check_pool_once(int chunks, int threads, bool caller) {
  Counts c;
  for (int i = 0; i < 64; i++)
    atomic_init(&c.hits[i], 0);
  TKCHECK(rt_pool_run(chunks, count_chunk, &c, threads, caller, D_));
  for (int i = 0; i < 64; i++)
    assert_int_equal(atomic_load(&c.hits[i]), i < chunks ? 1 : 0);
}

static void *launcher(void *arg) {
  (void)arg;
  for (int r = 0; r < 2000; r++)
    check_pool_once(1 + r % 64, 1 + r % 4, r % 3 != 0);
  return NULL;
}

static void test_pool(void **state) {
  (void)state;
  assert_true(rt_pool_cores() >= 1);
  for (int r = 0; r < 5000; r++)
    check_pool_once(1 + r % 64, 1 + r % 8, r % 2 == 0);
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&th[i], NULL, launcher, NULL), 0);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
}

/* Row sums of a wide tensor: [B0, 65536] float32 tiles are 2 MiB of stack per buffer. */
static void test_big_frames_and_caps(void **state) {
  (void)state;
  Tensor *x = tk_randn(SIZES(16, 65536), DT_FLOAT32, 1), *ref;
  TKCHECK(tensor_reduce(TENSOR_SUM, x, 1, false, 0, &ref, D_));
  Tensor *o = tk_zeros(SIZES(16), DT_FLOAT32);
  TK k = tk_new("wide");
  IrValueId tx = tk_tensor(&k, "x", x), to = tk_tensor(&k, "out", o), t;
  tk_tile(&k, 1, x->sizes, &t);
  IrValueId v = tk_load(&k, tx, 2, (IrIndex[]){TI(t), SL}, IR_NONE);
  IrValueId sq = tk_2(&k, IR_OP_MUL, v, tk_f(&k, DT_FLOAT32, 1.0));
  IrValueId e = tk_1(&k, IR_OP_NEG, sq); /* used twice: a buffer of the whole tile */
  IrValueId s = tk_2(&k, IR_OP_SUB, tk_reduce(&k, IR_OP_SUM, e, 1, false),
                     tk_reduce(&k, IR_OP_SUM, e, 1, false));
  tk_store(&k, to, 1, &TI(t), tk_2(&k, IR_OP_SUB, s, tk_reduce(&k, IR_OP_SUM, e, 1, false)),
           IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  IrFunc *f = tk_finish(&k);
  int threads[3] = {1, 2, 0};
  for (int i = 0; i < 3; i++) {
    LowerConfig cfg = CFG_BS(8);
    cfg.nreduction_loops = 1, cfg.reduction_loops[0] = 0; /* persistent: 2 MiB buffers */
    cfg.cpu_threads = threads[i];
    LowerArtifact *a;
    TKCHECK(lower_compile(f, &cfg, LOWER_TARGET_CPU, &a, D_));
    assert_true(a->frame_bytes >= (size_t)8 * 65536 * 4);
    lower_artifact_free(a);
    Tensor *out = tk_zeros(SIZES(16), DT_FLOAT32);
    tk_run(f, &cfg, (Tensor *[]){x, out}, NULL);
    tk_expect_close(out, ref, 1e-4, 1e-3, "row sums with 2 MiB buffers");
    tensor_free(out);
  }
  ir_func_free(f);
  tensor_free(x);
  tensor_free(ref);
  tensor_free(o);
}

/* A grid of zero programs launches nothing and returns. */
static void test_empty_grid(void **state) {
  (void)state;
  Tensor *x = tk_zeros(SIZES(4), DT_FLOAT32);
  TK k = tk_new("empty");
  IrValueId tx = tk_tensor(&k, "x", x), n = tk_scalar(&k, "n", DT_INT64), t;
  IrValueId b = tk_i(&k, 0);
  tk_loop(&k, IR_OP_TILE, 1, &b, &n, (int64_t[]){2}, 0, NULL, &t, NULL);
  tk_store(&k, tx, 1, &TI(t), tk_f(&k, DT_FLOAT32, 7), IR_NONE);
  tk_end(&k, 0, NULL, NULL);
  IrFunc *f = tk_finish(&k);
  LowerConfig cfg;
  lower_config_init(&cfg);
  tk_run(f, &cfg, (Tensor *[]){x}, (double[]){0, 0});
  double v;
  TKCHECK(tensor_get_f64(x, (int64_t[]){0}, &v, D_));
  assert_true(v == 0);
  tk_run(f, &cfg, (Tensor *[]){x}, (double[]){0, 3}); /* n = 3: a runtime bound */
  for (int64_t i = 0; i < 4; i++) {
    TKCHECK(tensor_get_f64(x, &i, &v, D_));
    assert_true(v == (i < 3 ? 7 : 0));
  }
  ir_func_free(f);
  tensor_free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pool),
      cmocka_unit_test(test_big_frames_and_caps),
      cmocka_unit_test(test_empty_grid),
  };
  return cmocka_run_group_tests_name("lower_rt", tests, NULL, NULL);
}
