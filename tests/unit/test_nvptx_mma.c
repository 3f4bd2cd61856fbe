/* The tensor-core dot module (src/lower/lower_nvptx_mma.c) without a GPU: description checks,
 * the swizzle (a bijection, free of bank conflicts for ldmatrix and cp.async), the accumulator
 * layout (every tile element owned once), and complete GEMM kernels built from the API only for
 * several tiles / warps / stages / transposes: the module verifies, the PTX has the mma,
 * ldmatrix and cp.async instructions and no local memory, and ptxas -arch=sm_90a accepts it
 * without spills (skipped without ptxas). Part of tests/unit. The GPU half (run, check, time)
 * is tests/lua/test_nvmma.lua and share/scripts/nvmma-bench.lua. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lower/lower_nvptx_mma_gemm.h"

static const char *PTXAS = "/usr/local/cuda/bin/ptxas";

static NvmmaDesc desc(int bm, int bn, int bk, int warps, int stages) {
  NvmmaDesc s = {.bm = bm, .bn = bn, .bk = bk, .dtype = NVMMA_BF16, .num_warps = warps,
                 .num_stages = stages, .vec16 = true};
  return s;
}

static void check_error(NvmmaDesc s, const char *want) {
  Diag d;
  diag_clear(&d);
  assert_int_equal(nvmma_desc_check(&s, &d), HL_ERR);
  if (!strstr(d.msg, want)) fail_msg("message \"%s\" lacks \"%s\"", d.msg, want);
}

static void test_desc(void **state) {
  (void)state;
  Diag d;
  NvmmaDesc s = desc(128, 256, 32, 8, 3);
  assert_int_equal(nvmma_desc_check(&s, &d), HL_OK);
  assert_int_equal(s.warps_m * s.warps_n, 8);
  assert_int_equal(s.bm / s.warps_m, 64); /* 64x64 warp tiles */
  assert_int_equal(s.bn / s.warps_n, 64);
  assert_int_equal(nvmma_acc_count(&s), 128);
  assert_int_equal(nvmma_stage_bytes(&s), (128 * 32 + 32 * 256) * 2);
  assert_int_equal(nvmma_smem_bytes(&s), 3 * (128 * 32 + 32 * 256) * 2);
  s = desc(64, 128, 64, 4, 2);
  assert_int_equal(nvmma_desc_check(&s, &d), HL_OK);
  assert_int_equal(s.warps_m, 2);
  assert_int_equal(s.warps_n, 2);
  check_error(desc(96, 128, 32, 4, 2), "must be powers of two");
  check_error(desc(128, 128, 8, 4, 2), "at least 16");
  check_error(desc(512, 64, 32, 16, 2), "larger than 256x256x128");
  check_error(desc(128, 128, 32, 3, 2), "num_warps 3");
  check_error(desc(128, 128, 32, 4, 0), "num_stages 0");
  check_error(desc(16, 16, 16, 8, 2), "cannot split a 16x16 tile");
  check_error(desc(256, 256, 32, 1, 2), "accumulators per thread");
  s = desc(64, 64, 32, 4, 2);
  s.warps_m = 4, s.warps_n = 2;
  check_error(s, "do not make num_warps 4");
  s.warps_m = 4, s.warps_n = 1; /* 16x64 warp tiles: fine */
  assert_int_equal(nvmma_desc_check(&s, &d), HL_OK);
  s = desc(128, 256, 64, 8, 3);
  s.b_trans = true, s.wgmma = true;
  assert_int_equal(nvmma_desc_check(&s, &d), HL_OK);
  assert_int_equal(s.warps_m, 8); /* the accumulator formula with 16-row warp tiles */
  assert_int_equal(nvmma_acc_count(&s), 128);
  s.num_warps = 4; /* two 64-row blocks per warpgroup: 256 accumulators */
  check_error(s, "more than 128");
  s.bn = 128, s.warps_m = s.warps_n = 0; /* 128x128 with one warpgroup: 2 blocks, 128 */
  assert_int_equal(nvmma_desc_check(&s, &d), HL_OK);
  assert_int_equal(nvmma_acc_count(&s), 128);
  s.num_warps = 16, s.warps_m = s.warps_n = 0; /* 128 rows, 16 warps: 32 rows per warpgroup */
  check_error(s, "4 warps (a warpgroup) per 64 rows");
  s = desc(128, 256, 64, 8, 3);
  s.wgmma = true; /* B as [K,N]: MN-major descriptors */
  assert_int_equal(nvmma_desc_check(&s, &d), HL_OK);
  s.bn = 32, s.warps_m = s.warps_n = 0;
  check_error(s, "block_n a multiple of 64");
  s.bn = 64, s.bk = 32, s.warps_m = s.warps_n = 0;
  check_error(s, "block_k 64");
  s = desc(64, 64, 32, 4, 2);
  s.warps_m = 1, s.warps_n = 4; /* 64x16 */
  assert_int_equal(nvmma_desc_check(&s, &d), HL_OK);
  s.bn = 32; /* 64x8 */
  check_error(s, "not a multiple of 16x16");
}

/* Every element of a slice lands once, 16-byte chunks stay whole, and the 8 rows an ldmatrix
 * phase reads (8 consecutive rows from a multiple of 8, one chunk column) and the 8 chunks a
 * quarter warp writes with cp.async hit 8 different 16-byte bank groups. */
static void test_swizzle(void **state) {
  (void)state;
  for (int inner = 16; inner <= 256; inner *= 2) {
    int outer = 32, n = inner * outer, chunks = inner / 8;
    unsigned char *seen = calloc((size_t)n * 2, 1);
    for (int r = 0; r < outer; r++)
      for (int i = 0; i < inner; i++) {
        int o = nvmma_swizzle_offset(inner, r, i);
        assert_true(o >= 0 && o < 2 * n);
        assert_int_equal(o % 2, 0);
        assert_int_equal(seen[o], 0);
        seen[o] = 1;
        assert_int_equal(o - nvmma_swizzle_offset(inner, r, i & ~7), (i & 7) * 2);
      }
    free(seen);
    for (int r0 = 0; r0 < outer; r0 += 8)
      for (int c = 0; c < chunks; c++) {
        int used = 0;
        for (int r = r0; r < r0 + 8; r++) used |= 1 << ((nvmma_swizzle_offset(inner, r, c * 8) >> 4) & 7);
        if (used != 0xff) fail_msg("ldmatrix conflict: inner %d rows %d.. chunk %d", inner, r0, c);
      }
    for (int q = 0; q < n / 64; q++) { /* linear chunk ids 8q .. 8q+7, row-major */
      int used = 0;
      for (int k = 8 * q; k < 8 * q + 8; k++)
        used |= 1 << ((nvmma_swizzle_offset(inner, k / chunks, (k % chunks) * 8) >> 4) & 7);
      if (used != 0xff) fail_msg("cp.async conflict: inner %d chunks %d..", inner, 8 * q);
    }
  }
}

/* row = warp_m*wm + lane/4 + row_c, col = warp_n*wn + 2*(lane%4) + col_c covers the tile once
 * (wgmma: the warp part of row is (warp/4)*4*wm + (warp%4)*16, wm = 16 * row blocks). */
static void test_acc_layout(void **state) {
  (void)state;
  const int shapes[][4] = {{128, 256, 8, 0}, {128, 128, 4, 0}, {64, 128, 4, 0}, {64, 64, 8, 0},
                           {16, 64, 1, 0},   {128, 256, 8, 1}, {128, 128, 4, 1}, {256, 128, 8, 1},
                           {256, 64, 4, 1}};
  for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
    NvmmaDesc s = desc(shapes[t][0], shapes[t][1], shapes[t][3] ? 64 : 32, shapes[t][2], 2);
    s.wgmma = shapes[t][3];
    Diag d;
    assert_int_equal(nvmma_desc_check(&s, &d), HL_OK);
    int wm = s.bm / s.warps_m, wn = s.bn / s.warps_n, n = nvmma_acc_count(&s);
    unsigned char *seen = calloc((size_t)s.bm * s.bn, 1);
    for (int tid = 0; tid < 32 * s.num_warps; tid++) {
      int lane = tid % 32, warp = tid / 32, w_m = warp / s.warps_n, w_n = warp % s.warps_n;
      for (int i = 0; i < n; i++) {
        int rc, cc;
        nvmma_acc_coord_const(&s, i, &rc, &cc);
        int wrow = s.wgmma ? (w_m / 4) * 4 * wm + (w_m % 4) * 16 : w_m * wm;
        int row = wrow + lane / 4 + rc, col = w_n * wn + 2 * (lane % 4) + cc;
        assert_true(row < s.bm && col < s.bn);
        assert_int_equal(seen[row * s.bn + col], 0);
        seen[row * s.bn + col] = 1;
        if (i % 2) { /* pairs: same row, next column */
          int rp, cp;
          nvmma_acc_coord_const(&s, i - 1, &rp, &cp);
          assert_int_equal(rp, rc);
          assert_int_equal(cp + 1, cc);
          assert_int_equal(cp % 2, 0);
        }
      }
    }
    for (int i = 0; i < s.bm * s.bn; i++) assert_int_equal(seen[i], 1);
    free(seen);
  }
}

static int count(const char *s, const char *what) {
  int n = 0;
  for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
  return n;
}

/* ptxas -v on the PTX: 0 on success (report in log), 77 without ptxas, else failure. */
static int run_ptxas(const char *ptx, char *log, size_t cap) {
  if (access(PTXAS, X_OK)) return 77;
  char path[] = "/tmp/nvmma_XXXXXX.ptx";
  int fd = mkstemps(path, 4);
  if (fd < 0) return -1;
  FILE *f = fdopen(fd, "w");
  fputs(ptx, f);
  fclose(f);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s -arch=sm_90a -v -o /dev/null %s 2>&1", PTXAS, path);
  FILE *p = popen(cmd, "r");
  size_t n = p ? fread(log, 1, cap - 1, p) : 0;
  log[n] = 0;
  int rc = p ? pclose(p) : -1;
  unlink(path);
  return rc;
}

typedef struct Case {
  int bm, bn, bk, warps, stages;
  bool a_trans, b_trans, vec16, out_bf16;
  NvmmaDtype dt;
  bool wgmma, overlap;
} Case;

static void check_case(const Case *k) {
  NvmmaGemm g = {.desc = desc(k->bm, k->bn, k->bk, k->warps, k->stages), .out_bf16 = k->out_bf16,
                 .group_m = 8};
  g.desc.a_trans = k->a_trans, g.desc.b_trans = k->b_trans, g.desc.vec16 = k->vec16;
  g.desc.dtype = k->dt;
  g.desc.wgmma = k->wgmma;
  g.desc.wg_overlap = k->overlap;
  char *ptx = NULL, *ir = NULL;
  Diag d;
  diag_clear(&d);
  if (nvmma_gemm_ptx(&g, &ptx, &ir, &d)) fail_msg("%dx%dx%d w%d s%d: %s", k->bm, k->bn, k->bk, k->warps, k->stages, d.msg);
  char what[128];
  snprintf(what, sizeof what, "%dx%dx%d w%d s%d%s%s%s%s%s%s%s", k->bm, k->bn, k->bk, k->warps,
           k->stages, k->a_trans ? " aT" : "", k->b_trans ? " bT" : "", k->vec16 ? "" : " scalar",
           k->out_bf16 ? " ->bf16" : "", k->dt == NVMMA_F16 ? " f16" : "", k->wgmma ? " wgmma" : "",
           k->overlap ? " ovl" : "");
  int mmas = count(ptx, "mma.sync.aligned.m16n8k16.row.col.f32"), per_slice = nvmma_acc_count(&g.desc) / 4 * (k->bk / 16);
  if (k->wgmma) {
    char want[64];
    snprintf(want, sizeof want, "wgmma.mma_async.sync.aligned.m64n%dk16.f32.%s", k->bn,
             k->dt == NVMMA_F16 ? "f16.f16" : "bf16.bf16");
    mmas = count(ptx, want), per_slice = 4;
    if (mmas < per_slice) fail_msg("%s: %d \"%s\" in the PTX", what, mmas, want);
    if (!strstr(ptx, "fence.proxy.async.shared::cta") || !strstr(ptx, "wgmma.wait_group.sync.aligned 0"))
      fail_msg("%s: no proxy fence or wgmma wait", what);
    /* overlap: the wait is its own asm (after the slice's copies), not the end of the mma's */
    bool joined = strstr(ptx, "wgmma.commit_group.sync.aligned;\nwgmma.wait_group.sync.aligned 0;");
    if (k->stages > 1 && joined == k->overlap)
      fail_msg("%s: the wgmma wait is %s the issuing asm", what, joined ? "in" : "not in");
  } else {
    if (mmas < per_slice) fail_msg("%s: %d mma in the PTX, expected at least %d", what, mmas, per_slice);
    if (!strstr(ptx, k->dt == NVMMA_F16 ? ".f16.f16.f32" : ".bf16.bf16.f32")) fail_msg("%s: mma dtype", what);
    if (!strstr(ptx, "ldmatrix.sync.aligned.m8n8.x4")) fail_msg("%s: no ldmatrix", what);
  }
  if (k->vec16 && !strstr(ptx, "cp.async.cg.shared.global")) fail_msg("%s: no cp.async", what);
  if (!k->vec16 && strstr(ptx, "cp.async.cg")) fail_msg("%s: cp.async in the scalar mode", what);
  if (strstr(ptx, ".local") || strstr(ptx, "ld.local") || strstr(ptx, "st.local"))
    fail_msg("%s: local memory in the PTX", what);
  if (!strstr(ptx, ".entry nvmma_gemm")) fail_msg("%s: no .entry", what);
  if (strstr(ptx, ".extern .func")) fail_msg("%s: an unknown intrinsic became a call", what);
  char log[8192];
  int rc = run_ptxas(ptx, log, sizeof log);
  if (rc != 77) {
    if (rc != 0) fail_msg("%s: ptxas failed (%d):\n%s", what, rc, log);
    const char *regs = strstr(log, "Used ");
    int nregs = regs ? atoi(regs + 5) : -1;
    if (!strstr(log, "0 bytes spill stores") || !strstr(log, "0 bytes stack frame"))
      fail_msg("%s: ptxas spills:\n%s", what, log);
    printf("     %-34s %4d mma  %3d registers  %6d B shared\n", what, mmas, nregs,
           nvmma_smem_bytes(&g.desc));
  }
  free(ptx);
  free(ir);
}

static void test_gemm_ptx(void **state) {
  (void)state;
  if (access(PTXAS, X_OK)) printf("     (no %s: the PTX is not assembled)\n", PTXAS);
  const Case cases[] = {
      {128, 256, 32, 8, 3, false, false, true, false, NVMMA_BF16, false, false},
      {128, 128, 32, 4, 4, false, false, true, false, NVMMA_BF16, false, false},
      {64, 128, 64, 4, 2, false, false, true, true, NVMMA_BF16, false, false},
      {128, 128, 64, 8, 1, false, false, true, false, NVMMA_BF16, false, false},
      {64, 64, 32, 4, 3, false, true, true, false, NVMMA_BF16, false, false},
      {64, 64, 32, 4, 2, true, false, true, false, NVMMA_F16, false, false},
      {32, 64, 16, 2, 2, true, true, true, true, NVMMA_BF16, false, false},
      {64, 64, 32, 4, 2, false, false, false, false, NVMMA_BF16, false, false},
      {16, 32, 32, 1, 2, false, true, false, true, NVMMA_F16, false, false},
      {128, 256, 64, 8, 3, false, true, true, false, NVMMA_BF16, true, false},
      {64, 128, 64, 4, 4, false, true, true, true, NVMMA_F16, true, false},
      {128, 64, 64, 8, 1, false, true, true, false, NVMMA_BF16, true, false},
      /* B as [K,N] (MN-major, imm-trans-b 1); two 64-row blocks per warpgroup */
      {128, 256, 64, 8, 3, false, false, true, false, NVMMA_BF16, true, false},
      {128, 128, 64, 4, 4, false, false, true, false, NVMMA_BF16, true, false},
      {64, 64, 64, 4, 2, false, false, true, true, NVMMA_F16, true, false},
      {256, 128, 64, 8, 3, false, true, true, false, NVMMA_BF16, true, false},
      {64, 128, 64, 4, 2, false, false, false, false, NVMMA_BF16, true, false}, /* element loads */
      /* the slice's copies issued while its wgmma run */
      {128, 256, 64, 8, 3, false, false, true, false, NVMMA_BF16, true, true},
      {128, 128, 64, 4, 4, false, true, true, true, NVMMA_F16, true, true},
      {64, 128, 64, 4, 2, false, false, false, false, NVMMA_BF16, true, true},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_case(&cases[i]);
}

static void test_gemm_errors(void **state) {
  (void)state;
  NvmmaGemm g = {.desc = desc(128, 96, 32, 4, 2), .group_m = 8};
  char *ptx = NULL;
  Diag d;
  assert_int_equal(nvmma_gemm_ptx(&g, &ptx, NULL, &d), HL_ERR);
  assert_non_null(strstr(d.msg, "must be powers of two"));
  assert_null(ptx);
  g.desc = desc(64, 64, 32, 4, 2);
  g.group_m = 0;
  assert_int_equal(nvmma_gemm_ptx(&g, &ptx, NULL, &d), HL_ERR);
  assert_non_null(strstr(d.msg, "group_m 0"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_desc),        cmocka_unit_test(test_swizzle),
      cmocka_unit_test(test_acc_layout),  cmocka_unit_test(test_gemm_ptx),
      cmocka_unit_test(test_gemm_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
