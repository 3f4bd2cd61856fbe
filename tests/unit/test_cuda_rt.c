/* Unit tests for the CUDA runtime (src/rt/cuda) without a GPU, in three groups chosen by argv[1]:
 *   missing — no library: "not found", remembered, nothing leaks;
 *   stub    — the toolkit's stub libcuda (exit 77 without it): every symbol resolves, cuInit
 *             fails with error 34 as a clean Diag naming the call, nothing leaks;
 *   fake    — tests/unit/test_cuda_fake_driver.c (host memory behind device addresses): device
 *             info, round trips of every dtype, strided views, fills, copies, PTX modules with
 *             their JIT logs, a vector-add launch, events, and leak checks on both sides; the
 *             caching allocator (reuse, size classes, out-of-memory retry, the cap, shutdown).
 * Part of tests/unit. */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/mem.h"
#include "rt/cuda/rt_cuda.h"

#define STUB_DEFAULT "/usr/local/cuda/lib64/stubs/libcuda.so"

#define OK(call)                                                                              \
  do {                                                                                        \
    if ((call) != HL_OK) fail_msg("%s failed: %s", #call, d.msg);                            \
  } while (0)

static void assert_contains(const char *text, const char *piece) {
  if (!strstr(text, piece)) fail_msg("expected \"%s\" in:\n%s", piece, text);
}

static void use_library(const char *path) {
  rt_cuda_shutdown();
  if (path) setenv("HELUA_LIBCUDA", path, 1);
  else unsetenv("HELUA_LIBCUDA");
}

static const char *stub_path(void) {
  const char *p = getenv("HELUA_TEST_STUB_LIBCUDA");
  return p && *p ? p : STUB_DEFAULT;
}

static const char *fake_path(void) {
  const char *p = getenv("HELUA_TEST_FAKE_LIBCUDA");
  if (!p || !*p) fail_msg("HELUA_TEST_FAKE_LIBCUDA is not set (meson sets it)");
  return p;
}

/* ---- missing ------------------------------------------------------------------------------ */

static void test_missing_library(void **state) {
  long live = mem_live_count();
  use_library("/nonexistent/helua/libcuda.so.1");
  Diag d;
  assert_false(rt_cuda_available(&d));
  assert_contains(d.msg, "/nonexistent/helua/libcuda.so.1 not found");
  assert_contains(d.msg, "HELUA_LIBCUDA");
  Diag again;
  RtCudaPtr p;
  assert_int_equal(rt_cuda_alloc(16, &p, &again), HL_ERR); /* the reason is remembered */
  assert_string_equal(again.msg, d.msg);
  Tensor *t = NULL;
  assert_int_equal(rt_cuda_tensor_empty((int64_t[]){4}, 1, DT_FLOAT32, &t, &again), HL_ERR);
  assert_null(t);
  assert_string_equal(again.msg, d.msg);
  assert_int_equal(mem_live_count(), live);
  assert_false(rt_cuda_symbol_resolved(0));
}

static void test_default_name(void **state) {
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (h || access("/usr/lib/x86_64-linux-gnu/libcuda.so.1", F_OK) == 0) skip(); /* a driver */
  use_library(NULL);
  Diag d;
  assert_false(rt_cuda_available(&d));
  assert_contains(d.msg, "libcuda.so.1 not found");
  assert_contains(d.msg, "is the NVIDIA driver installed?");
}

static void test_error_text(void **state) {
  char buf[256];
  assert_string_equal(rt_cuda_error_text(100, buf, sizeof buf),
                      "CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)");
  assert_string_equal(rt_cuda_error_text(34, buf, sizeof buf),
                      "CUDA_ERROR_STUB_LIBRARY (CUDA driver is a stub library)");
  assert_contains(rt_cuda_error_text(4242, buf, sizeof buf), "CUDA error 4242");
}

static void test_empty_ptx(void **state) {
  RtCudaModule *m = NULL;
  Diag d;
  assert_int_equal(rt_cuda_module_load_ptx("", 0, &m, NULL, &d), HL_ERR);
  assert_contains(d.msg, "the PTX text is empty");
  assert_null(m);
}

/* ---- stub --------------------------------------------------------------------------------- */

static void test_stub_symbols(void **state) {
  use_library(stub_path());
  Diag d;
  OK(rt_cuda_load(&d));
  int n = rt_cuda_symbol_count();
  assert_true(n >= 40);
  for (int i = 0; i < n; i++) {
    if (!rt_cuda_symbol_resolved(i)) fail_msg("%s did not resolve in the stub", rt_cuda_symbol_name(i));
  }
  assert_string_equal(rt_cuda_library_path(), stub_path());
}

static void test_stub_init_fails(void **state) {
  long live = mem_live_count();
  use_library(stub_path());
  Diag d;
  assert_int_equal(rt_cuda_init(&d), HL_ERR);
  assert_contains(d.msg, "cuInit failed: CUDA_ERROR_STUB_LIBRARY");
  assert_contains(d.msg, "[error 34, ");
  assert_contains(d.msg, "src/rt/cuda/rt_cuda_init.c]");
  Diag again;
  assert_false(rt_cuda_available(&again));
  assert_string_equal(again.msg, d.msg);
  Tensor *t = NULL, *h = NULL;
  assert_int_equal(rt_cuda_tensor_empty((int64_t[]){2, 3}, 2, DT_FLOAT16, &t, &again), HL_ERR);
  assert_int_equal(tensor_zeros((int64_t[]){3}, 1, DT_FLOAT32, &h, &d), HL_OK);
  assert_int_equal(rt_cuda_tensor_to_device(h, &t, &again), HL_ERR);
  assert_contains(again.msg, "cuInit failed");
  tensor_free(h);
  RtCudaEvent *e = NULL;
  assert_int_equal(rt_cuda_event_create(&e, &again), HL_ERR);
  assert_int_equal(mem_live_count(), live);
  rt_cuda_shutdown();
  assert_int_equal(mem_live_count(), live);
}

/* ---- fake --------------------------------------------------------------------------------- */

/* One of the fake driver's counters (fake_cuda_live, fake_cuda_device_allocs, ...). */
static long fake_counter(const char *name) {
  void *h = dlopen(fake_path(), RTLD_NOW | RTLD_NOLOAD);
  if (!h) return -1;
  long (*get)(void) = (long (*)(void))dlsym(h, name);
  long n = get ? get() : -1;
  dlclose(h);
  return n;
}
static long fake_live(void) { return fake_counter("fake_cuda_live"); }

static void empty_cache(void) {
  Diag d;
  if (rt_cuda_empty_cache(&d)) fail_msg("rt_cuda_empty_cache: %s", d.msg);
}

static int fake_setup(void **state) {
  unsetenv("FAKE_CUDA_NO_DEVICE");
  use_library(fake_path());
  Diag d;
  if (rt_cuda_init(&d)) fail_msg("the fake driver does not load: %s", d.msg);
  return 0;
}

static void test_fake_device(void **state) {
  Diag d;
  assert_true(rt_cuda_available(&d));
  int n = 0;
  OK(rt_cuda_device_count(&n, &d));
  assert_int_equal(n, 1);
  RtCudaDeviceInfo info;
  OK(rt_cuda_device_info(0, &info, &d));
  assert_string_equal(info.name, "helua fake GPU");
  assert_int_equal(info.cc_major, 9);
  assert_int_equal(info.sm_count, 132);
  assert_int_equal(info.driver_version, 13000);
  assert_int_equal(rt_cuda_device_info(3, &info, &d), HL_ERR);
  assert_contains(d.msg, "cuda device 3 does not exist");
}

static void test_fake_no_device(void **state) {
  setenv("FAKE_CUDA_NO_DEVICE", "1", 1);
  use_library(fake_path());
  Diag d;
  assert_false(rt_cuda_available(&d));
  assert_contains(d.msg, "cuInit failed: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)");
  unsetenv("FAKE_CUDA_NO_DEVICE");
  use_library(fake_path());
  assert_true(rt_cuda_available(&d));
}

static void test_fake_round_trip_every_dtype(void **state) {
  long live = mem_live_count(), dlive = fake_live();
  Diag d;
  for (int dt = 0; dt < DT_COUNT; dt++) {
    Tensor *h = NULL, *dev = NULL, *back = NULL;
    OK(tensor_randn((int64_t[]){3, 5}, 2, DT_FLOAT64, 7, &h, &d));
    Tensor *c = NULL;
    OK(tensor_cast(h, (DType)dt, &c, &d));
    OK(rt_cuda_tensor_to_device(c, &dev, &d));
    assert_true(rt_cuda_tensor_is_device(dev));
    assert_string_equal(dev->storage->ops->name, "cuda");
    OK(rt_cuda_tensor_to_host(dev, &back, &d));
    assert_false(rt_cuda_tensor_is_device(back));
    assert_int_equal(back->dtype, dt);
    assert_int_equal(memcmp(tensor_data(back), tensor_data(c), 15 * tensor_dtype_size((DType)dt)), 0);
    tensor_free(h);
    tensor_free(c);
    tensor_free(dev);
    tensor_free(back);
  }
  empty_cache(); /* freed blocks stay cached until then */
  assert_int_equal(mem_live_count(), live);
  assert_int_equal(fake_live(), dlive);
}

static void test_fake_strided_views(void **state) {
  Diag d;
  Tensor *h = NULL, *dev = NULL, *tr = NULL, *sl = NULL, *back = NULL, *want = NULL, *ht = NULL;
  OK(tensor_arange(0, 11, 1, DT_FLOAT32, &h, &d));
  Tensor *h2 = NULL;
  OK(tensor_view(h, (int64_t[]){3, 4}, 2, &h2, &d));
  OK(rt_cuda_tensor_to_device(h2, &dev, &d));
  OK(tensor_transpose(dev, 0, 1, &tr, &d)); /* a device view: sizes and strides only */
  OK(rt_cuda_tensor_to_host(tr, &back, &d));
  OK(tensor_transpose(h2, 0, 1, &ht, &d));
  OK(tensor_clone(ht, &want, &d));
  assert_int_equal(memcmp(tensor_data(back), tensor_data(want), 12 * sizeof(float)), 0);
  tensor_free(back);
  OK(tensor_slice(tr, 1, 1, 3, 1, &sl, &d)); /* [4, 2] at an offset */
  OK(rt_cuda_tensor_to_host(sl, &back, &d));
  double v = 0;
  OK(tensor_get_f64(back, (int64_t[]){2, 1}, &v, &d));
  assert_true(v == 10.0); /* h2[3][2] (1-based), i.e. element 2*4+2 */
  Tensor *all[] = {h, h2, dev, tr, sl, back, want, ht};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
}

static void test_fake_fill_and_copy(void **state) {
  Diag d;
  for (int dt = 0; dt < DT_COUNT; dt++) {
    Tensor *dev = NULL, *back = NULL, *want = NULL;
    OK(rt_cuda_tensor_empty((int64_t[]){2, 3}, 2, (DType)dt, &dev, &d));
    double v = dt == DT_BOOL ? 1 : tensor_dtype_is_float((DType)dt) ? -2.5 : 3;
    OK(rt_cuda_tensor_fill(dev, v, false, 0, &d));
    OK(rt_cuda_tensor_to_host(dev, &back, &d));
    OK(tensor_full((int64_t[]){2, 3}, 2, v, (DType)dt, &want, &d));
    assert_int_equal(memcmp(tensor_data(back), tensor_data(want), 6 * tensor_dtype_size((DType)dt)), 0);
    tensor_free(dev);
    tensor_free(back);
    tensor_free(want);
  }
  /* host → device with a cast and a broadcast, device → device, device → host */
  Tensor *src = NULL, *a = NULL, *b = NULL, *out = NULL;
  OK(tensor_arange(1, 3, 1, DT_INT64, &src, &d));
  OK(rt_cuda_tensor_empty((int64_t[]){2, 3}, 2, DT_FLOAT32, &a, &d));
  OK(rt_cuda_tensor_copy(a, src, &d));
  OK(rt_cuda_tensor_empty((int64_t[]){2, 3}, 2, DT_FLOAT32, &b, &d));
  OK(rt_cuda_tensor_copy(b, a, &d));
  OK(tensor_empty((int64_t[]){2, 3}, 2, DT_FLOAT64, &out, &d));
  OK(rt_cuda_tensor_copy(out, b, &d));
  double v = 0;
  OK(tensor_get_f64(out, (int64_t[]){1, 2}, &v, &d));
  assert_true(v == 3.0);
  Tensor *tr = NULL;
  OK(tensor_transpose(a, 0, 1, &tr, &d));
  assert_int_equal(rt_cuda_tensor_fill(tr, 0, false, 0, &d), HL_ERR);
  assert_contains(d.msg, "contiguous");
  Tensor *all[] = {src, a, b, out, tr};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
}

static const char vadd_ptx[] =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .entry vadd(.param .u64 pa, .param .u64 pb, .param .u64 pc, .param .u32 pn)\n"
    "{\n  ret;\n}\n";

static void test_fake_module_and_launch(void **state) {
  long live = mem_live_count(), dlive = fake_live();
  Diag d;
  RtCudaModule *m = NULL;
  RtCudaJitLog log;
  /* not NUL-terminated: the runtime terminates its own copy */
  char *buf = malloc(sizeof vadd_ptx - 1);
  memcpy(buf, vadd_ptx, sizeof vadd_ptx - 1);
  OK(rt_cuda_module_load_ptx(buf, sizeof vadd_ptx - 1, &m, &log, &d));
  free(buf);
  assert_contains(log.info, "fake JIT");
  assert_true(log.wall_ms > 0.4f && log.wall_ms < 0.6f);
  RtCudaFunc *f = NULL, *f2 = NULL;
  OK(rt_cuda_module_function(m, "vadd", &f, &d));
  OK(rt_cuda_module_function(m, "vadd", &f2, &d));
  assert_ptr_equal(f, f2);
  assert_int_equal(rt_cuda_module_function(m, "nope", &f2, &d), HL_ERR);
  assert_contains(d.msg, "looking up kernel 'nope': cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND");
  RtCudaFuncAttrs attrs;
  OK(rt_cuda_func_attrs(f, &attrs, &d));
  assert_int_equal(attrs.num_regs, 12);

  enum { N = 1000 };
  Tensor *ha = NULL, *hb = NULL, *a = NULL, *b = NULL, *c = NULL, *hc = NULL;
  OK(tensor_randn((int64_t[]){N}, 1, DT_FLOAT32, 1, &ha, &d));
  OK(tensor_randn((int64_t[]){N}, 1, DT_FLOAT32, 2, &hb, &d));
  OK(rt_cuda_tensor_to_device(ha, &a, &d));
  OK(rt_cuda_tensor_to_device(hb, &b, &d));
  OK(rt_cuda_tensor_empty((int64_t[]){N}, 1, DT_FLOAT32, &c, &d));
  RtCudaPtr pa = rt_cuda_tensor_ptr(a), pb = rt_cuda_tensor_ptr(b), pc = rt_cuda_tensor_ptr(c);
  uint32_t n = N;
  void *args[] = {&pa, &pb, &pc, &n};
  RtCudaEvent *e0 = NULL, *e1 = NULL;
  OK(rt_cuda_event_create(&e0, &d));
  OK(rt_cuda_event_create(&e1, &d));
  OK(rt_cuda_event_record(e0, &d));
  OK(rt_cuda_launch(f, &(RtCudaLaunch){{(N + 255) / 256, 1, 1}, {256, 1, 1}, 0}, args, &d));
  OK(rt_cuda_event_record(e1, &d));
  OK(rt_cuda_event_synchronize(e1, &d));
  float ms = -1;
  OK(rt_cuda_event_elapsed_ms(e0, e1, &ms, &d));
  assert_true(ms >= 0);
  OK(rt_cuda_synchronize(&d));
  OK(rt_cuda_tensor_to_host(c, &hc, &d));
  const float *x = tensor_data(ha), *y = tensor_data(hb), *z = tensor_data(hc);
  for (int i = 0; i < N; i++) assert_true(z[i] == x[i] + y[i]);
  assert_int_equal(rt_cuda_launch(f, &(RtCudaLaunch){{0, 1, 1}, {256, 1, 1}, 0}, args, &d), HL_ERR);
  assert_contains(d.msg, "must be >= 1");
  OK(rt_cuda_launch(f, &(RtCudaLaunch){{1, 1, 1}, {32, 1, 1}, 100 * 1024}, args, &d)); /* opt-in */

  OK(rt_cuda_event_destroy(e0, &d));
  OK(rt_cuda_event_destroy(e1, &d));
  Tensor *all[] = {ha, hb, a, b, c, hc};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
  OK(rt_cuda_module_unload(m, &d));
  empty_cache(); /* freed blocks stay cached until then */
  assert_int_equal(mem_live_count(), live);
  assert_int_equal(fake_live(), dlive);
}

/* rt_cuda_kernel: PTX + entry → load once, launch with the compiler's dims, free. */
static void test_fake_kernel(void **state) {
  long live = mem_live_count(), dlive = fake_live();
  Diag d;
  RtCudaKernel *k = NULL;
  assert_int_equal(rt_cuda_kernel_load(vadd_ptx, "nope", &k, &d), HL_ERR);
  assert_null(k);
  assert_contains(d.msg, "looking up kernel 'nope'");
  assert_int_equal(rt_cuda_kernel_load("", "vadd", &k, &d), HL_ERR);
  OK(rt_cuda_kernel_load(vadd_ptx, "vadd", &k, &d));
  assert_contains(rt_cuda_kernel_log(k)->info, "fake JIT");
  RtCudaFuncAttrs attrs;
  OK(rt_cuda_kernel_attrs(k, &attrs, &d));
  enum { N = 300 };
  Tensor *ha = NULL, *a = NULL, *c = NULL, *hc = NULL;
  OK(tensor_randn((int64_t[]){N}, 1, DT_FLOAT32, 3, &ha, &d));
  OK(rt_cuda_tensor_to_device(ha, &a, &d));
  OK(rt_cuda_tensor_empty((int64_t[]){N}, 1, DT_FLOAT32, &c, &d));
  RtCudaPtr pa = rt_cuda_tensor_ptr(a), pc = rt_cuda_tensor_ptr(c);
  uint32_t n = N;
  void *args[] = {&pa, &pa, &pc, &n};
  OK(rt_cuda_kernel_launch(k, (unsigned[]){(N + 127) / 128, 1, 1}, (unsigned[]){128, 1, 1}, 0,
                           args, &d));
  OK(rt_cuda_tensor_to_host(c, &hc, &d));
  const float *x = tensor_data(ha), *z = tensor_data(hc);
  for (int i = 0; i < N; i++) assert_true(z[i] == x[i] + x[i]);
  assert_int_equal(
      rt_cuda_kernel_launch(k, (unsigned[]){0, 1, 1}, (unsigned[]){128, 1, 1}, 0, args, &d), HL_ERR);
  rt_cuda_kernel_free(k);
  rt_cuda_kernel_free(NULL);
  Tensor *all[] = {ha, a, c, hc};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tensor_free(all[i]);
  empty_cache(); /* freed blocks stay cached until then */
  assert_int_equal(mem_live_count(), live);
  assert_int_equal(fake_live(), dlive);
}

static void test_fake_broken_ptx(void **state) {
  long live = mem_live_count();
  Diag d;
  RtCudaModule *m = NULL;
  RtCudaJitLog log;
  const char *bad = ".version 8.0\n.target sm_90\nBROKEN\n";
  assert_int_equal(rt_cuda_module_load_ptx(bad, strlen(bad), &m, &log, &d), HL_ERR);
  assert_null(m);
  assert_contains(d.msg, "cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX");
  assert_contains(d.msg, "the PTX JIT (ptxas) said:");
  assert_contains(d.msg, "line 3; error   : Unknown symbol 'BROKEN'");
  assert_contains(log.error, "Ptx assembly aborted");
  assert_int_equal(mem_live_count(), live);
}

static void test_fake_pinned(void **state) {
  Diag d;
  Tensor *h = NULL, *p = NULL, *dev = NULL, *back = NULL;
  OK(tensor_arange(1, 8, 1, DT_FLOAT32, &h, &d));
  OK(rt_cuda_tensor_pin(h, &p, &d));
  assert_false(rt_cuda_tensor_is_device(p));
  assert_ptr_equal(p->storage->ops, &rt_cuda_pinned_storage_ops);
  OK(rt_cuda_tensor_to_device(p, &dev, &d));
  OK(rt_cuda_tensor_to_host(dev, &back, &d));
  assert_int_equal(memcmp(tensor_data(back), tensor_data(h), 8 * sizeof(float)), 0);
  Tensor *all[] = {h, p, dev, back};
  for (size_t i = 0; i < 4; i++) tensor_free(all[i]);
}

static void test_fake_shutdown_releases(void **state) {
  Diag d;
  Tensor *dev = NULL;
  OK(rt_cuda_tensor_empty((int64_t[]){4}, 1, DT_FLOAT32, &dev, &d));
  rt_cuda_shutdown(); /* the context went away: freeing later is a no-op, not a crash */
  tensor_free(dev);
  use_library(fake_path());
  assert_true(rt_cuda_available(&d));
}

/* ---- the caching allocator ---------------------------------------------------------------- */

static void test_cache_round(void **state) {
  assert_int_equal(rt_cuda_cache_round(0), 512);
  assert_int_equal(rt_cuda_cache_round(1), 512);
  assert_int_equal(rt_cuda_cache_round(512), 512);
  assert_int_equal(rt_cuda_cache_round(513), 1024);
  assert_int_equal(rt_cuda_cache_round((1u << 20) - 1), 1u << 20);
  assert_int_equal(rt_cuda_cache_round(1u << 20), 2u << 20);
  assert_int_equal(rt_cuda_cache_round((2u << 20) + 1), 4u << 20);
  assert_int_equal(rt_cuda_cache_round(SIZE_MAX), 0);
}

/* allocate, free, allocate the same class: one cuMemAlloc_v2, the same block back. */
static void test_fake_cache_reuse(void **state) {
  long live = mem_live_count(), drv = fake_counter("fake_cuda_device_allocs");
  Diag d;
  RtCudaPtr a = 0, b = 0, c = 0;
  OK(rt_cuda_alloc(1000, &a, &d));
  OK(rt_cuda_free(a, &d));
  OK(rt_cuda_alloc(600, &b, &d)); /* 600 and 1000 both round to 1024 */
  assert_true(b == a);
  assert_int_equal(fake_counter("fake_cuda_device_allocs"), drv + 1);
  RtCudaMemStats st;
  rt_cuda_mem_stats(&st);
  assert_int_equal(st.hits, 1);
  assert_int_equal(st.misses, 1);
  assert_int_equal(st.allocated, 1024);
  assert_int_equal(st.cached, 0);
  OK(rt_cuda_free(b, &d));
  OK(rt_cuda_alloc(2000, &c, &d)); /* another class: the cached 1024 is not used */
  assert_true(c != a);
  assert_int_equal(fake_counter("fake_cuda_device_allocs"), drv + 2);
  rt_cuda_mem_stats(&st);
  assert_int_equal(st.allocated, 2048);
  assert_int_equal(st.cached, 1024);
  assert_int_equal(st.misses, 2);
  OK(rt_cuda_free(c, &d));
  /* a pointer the allocator never gave out is refused, not freed */
  assert_int_equal(rt_cuda_free(c, &d), HL_ERR);
  assert_contains(d.msg, "not a live device allocation");
  /* tensors go through it too */
  Tensor *t = NULL;
  OK(rt_cuda_tensor_empty((int64_t[]){256}, 1, DT_FLOAT32, &t, &d)); /* 1024 bytes: a hit */
  assert_true(rt_cuda_tensor_ptr(t) == a);
  tensor_free(t);
  empty_cache();
  rt_cuda_mem_stats(&st);
  assert_int_equal(st.cached, 0);
  assert_int_equal(st.allocated, 0);
  assert_int_equal(fake_counter("fake_cuda_device_bytes"), 0);
  assert_int_equal(mem_live_count(), live);
}

/* The driver out of memory: the cache is emptied and the allocation retried once. */
static void test_fake_cache_oom(void **state) {
  Diag d;
  RtCudaPtr a = 0, b = 0, c = 0;
  setenv("FAKE_CUDA_MEM_LIMIT", "4096", 1);
  OK(rt_cuda_alloc(2048, &a, &d));
  OK(rt_cuda_free(a, &d)); /* cached: the driver still holds 2048 */
  OK(rt_cuda_alloc(3072, &b, &d)); /* 2048 + 3072 > 4096: refused, cache emptied, retried */
  RtCudaMemStats st;
  rt_cuda_mem_stats(&st);
  assert_int_equal(st.oom_retries, 1);
  assert_int_equal(st.cached, 0);
  assert_int_equal(st.releases, 1);
  assert_int_equal(fake_counter("fake_cuda_device_bytes"), 3072);
  /* nothing cached to give back: the error is the driver's */
  assert_int_equal(rt_cuda_alloc(3072, &c, &d), HL_ERR);
  assert_contains(d.msg, "allocating 3072 bytes of device memory");
  assert_contains(d.msg, "CUDA_ERROR_OUT_OF_MEMORY");
  rt_cuda_mem_stats(&st);
  assert_int_equal(st.oom_retries, 1);
  unsetenv("FAKE_CUDA_MEM_LIMIT");
  OK(rt_cuda_free(b, &d));
  empty_cache();
  assert_int_equal(fake_counter("fake_cuda_device_bytes"), 0);
}

/* A fresh start on the fake driver (its counters start again from 0: shutdown unloads it). */
static void restart(void) {
  Diag d;
  use_library(fake_path());
  if (rt_cuda_init(&d)) fail_msg("the fake driver does not load: %s", d.msg);
}

/* HELUA_CUDA_CACHE_MB: past the cap the oldest freed block goes; 0 caches nothing. */
static void test_fake_cache_cap(void **state) {
  Diag d;
  long live = mem_live_count();
  setenv("HELUA_CUDA_CACHE_MB", "1", 1);
  restart(); /* the cap is read at the first allocation after a (re)start */
  enum { HALF = 512 * 1024 };
  RtCudaPtr p[3], q = 0;
  for (int i = 0; i < 3; i++) OK(rt_cuda_alloc(HALF, &p[i], &d));
  for (int i = 0; i < 3; i++) OK(rt_cuda_free(p[i], &d));
  RtCudaMemStats st;
  rt_cuda_mem_stats(&st);
  assert_int_equal(st.cached, 2 * HALF); /* 1 MiB: p[0], the oldest, went back */
  assert_int_equal(st.releases, 1);
  assert_int_equal(fake_counter("fake_cuda_device_bytes"), 2 * HALF);
  OK(rt_cuda_alloc(HALF, &q, &d));
  assert_true(q == p[2]); /* the most recently freed comes back first */
  OK(rt_cuda_free(q, &d));

  setenv("HELUA_CUDA_CACHE_MB", "0", 1);
  restart();
  long drv = fake_counter("fake_cuda_device_allocs"), bytes = fake_counter("fake_cuda_device_bytes");
  for (int i = 0; i < 2; i++) {
    OK(rt_cuda_alloc(HALF, &q, &d));
    OK(rt_cuda_free(q, &d));
  }
  rt_cuda_mem_stats(&st);
  assert_int_equal(st.cached, 0);
  assert_int_equal(st.hits, 0);
  assert_int_equal(fake_counter("fake_cuda_device_allocs"), drv + 2);
  assert_int_equal(fake_counter("fake_cuda_device_bytes"), bytes);

  setenv("HELUA_CUDA_CACHE_MB", "lots", 1);
  restart();
  assert_int_equal(rt_cuda_alloc(16, &q, &d), HL_ERR);
  assert_contains(d.msg, "HELUA_CUDA_CACHE_MB is 'lots'");
  unsetenv("HELUA_CUDA_CACHE_MB");
  restart();
  assert_int_equal(mem_live_count(), live);
}

/* Four threads allocating and freeing over three classes: the counters add up, nothing leaks. */
enum { THREAD_ROUNDS = 2000 };
static void *churn(void *arg) {
  Diag d;
  size_t base = (size_t)(uintptr_t)arg;
  for (int i = 0; i < THREAD_ROUNDS; i++) {
    RtCudaPtr p = 0;
    if (rt_cuda_alloc(base + (size_t)(i % 3) * 512, &p, &d) || rt_cuda_free(p, &d))
      return (void *)1;
  }
  return NULL;
}

static void test_fake_cache_threads(void **state) {
  long live = mem_live_count();
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)100), 0);
  for (int i = 0; i < 4; i++) {
    void *rc = NULL;
    pthread_join(t[i], &rc);
    assert_null(rc);
  }
  RtCudaMemStats st;
  rt_cuda_mem_stats(&st);
  assert_int_equal(st.hits + st.misses, 4 * THREAD_ROUNDS);
  assert_true(st.misses <= 12); /* at most one block per class per thread */
  assert_int_equal(st.allocated, 0);
  assert_int_equal(st.releases, 0);
  assert_int_equal(st.cached, fake_counter("fake_cuda_device_bytes")); /* every block cached */
  assert_true(st.cached >= 512 + 1024 + 1536);
  empty_cache();
  assert_int_equal(fake_counter("fake_cuda_device_bytes"), 0);
  assert_int_equal(mem_live_count(), live);
}

/* Shutdown gives the cached blocks back and frees all the bookkeeping. */
static void test_fake_cache_shutdown(void **state) {
  Diag d;
  long live = mem_live_count(), bytes = fake_counter("fake_cuda_device_bytes");
  RtCudaPtr a = 0, b = 0;
  OK(rt_cuda_alloc(4096, &a, &d));
  OK(rt_cuda_alloc(3u << 20, &b, &d)); /* a 4 MiB class */
  OK(rt_cuda_free(b, &d));
  assert_int_equal(fake_counter("fake_cuda_device_bytes"), bytes + 4096 + (4 << 20));
  void *keep = dlopen(fake_path(), RTLD_NOW); /* so its counters outlive the shutdown */
  rt_cuda_shutdown();
  /* the cached block went back; the one in use went with the context (the fake keeps it) */
  assert_int_equal(fake_counter("fake_cuda_device_bytes"), bytes + 4096);
  dlclose(keep);
  assert_int_equal(mem_live_count(), live);
  OK(rt_cuda_free(a, &d)); /* after the shutdown: a no-op */
  RtCudaMemStats st;
  rt_cuda_mem_stats(&st);
  assert_int_equal(st.allocated + st.cached, 0);
  use_library(fake_path());
  assert_true(rt_cuda_available(&d));
}

int main(int argc, char **argv) {
  const char *group = argc > 1 ? argv[1] : "missing";
  if (strcmp(group, "missing") == 0) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_library), cmocka_unit_test(test_default_name),
        cmocka_unit_test(test_error_text), cmocka_unit_test(test_empty_ptx)};
    return cmocka_run_group_tests_name("cuda_missing", tests, NULL, NULL);
  }
  if (strcmp(group, "stub") == 0) {
    if (access(stub_path(), R_OK) != 0) {
      printf("no stub libcuda at %s: skipped\n", stub_path());
      return 77;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_stub_symbols),
                                       cmocka_unit_test(test_stub_init_fails)};
    return cmocka_run_group_tests_name("cuda_stub", tests, NULL, NULL);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_fake_device, fake_setup),
      cmocka_unit_test_setup(test_fake_no_device, fake_setup),
      cmocka_unit_test_setup(test_fake_round_trip_every_dtype, fake_setup),
      cmocka_unit_test_setup(test_fake_strided_views, fake_setup),
      cmocka_unit_test_setup(test_fake_fill_and_copy, fake_setup),
      cmocka_unit_test_setup(test_fake_module_and_launch, fake_setup),
      cmocka_unit_test_setup(test_fake_kernel, fake_setup),
      cmocka_unit_test_setup(test_fake_broken_ptx, fake_setup),
      cmocka_unit_test_setup(test_fake_pinned, fake_setup),
      cmocka_unit_test_setup(test_fake_shutdown_releases, fake_setup),
      cmocka_unit_test(test_cache_round),
      cmocka_unit_test_setup(test_fake_cache_reuse, fake_setup),
      cmocka_unit_test_setup(test_fake_cache_oom, fake_setup),
      cmocka_unit_test_setup(test_fake_cache_cap, fake_setup),
      cmocka_unit_test_setup(test_fake_cache_threads, fake_setup),
      cmocka_unit_test_setup(test_fake_cache_shutdown, fake_setup)};
  return cmocka_run_group_tests_name("cuda_fake", tests, NULL, NULL);
}
