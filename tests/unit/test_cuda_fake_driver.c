/* A fake libcuda for tests without a GPU: the driver entry points helua resolves, working on host
 * memory. Part of tests/unit; built as a shared module and loaded through HELUA_LIBCUDA.
 *
 * Device addresses are host addresses with bit 62 set, which no host load can dereference, so
 * host code that reads device memory by mistake crashes here as it would on a GPU. Modules load
 * any PTX holding `.entry NAME` and fail with a ptxas-style error log when the text contains
 * the word BROKEN. Launching "vadd" or "vadd4" (a, b, c, n: c = a + b over float32, n elements
 * or float4s) runs on the host; other kernels do nothing. FAKE_CUDA_NO_DEVICE=1 makes cuInit fail
 * with CUDA_ERROR_NO_DEVICE. FAKE_CUDA_DEVICES=N reports N devices (default 1).
 * FAKE_CUDA_ILLEGAL_BLOCK=T makes a launch of T threads per block fail with
 * CUDA_ERROR_ILLEGAL_ADDRESS, after which the context is dead as on a GPU: every launch, copy,
 * synchronize and event call fails the same way. FAKE_CUDA_MEM_LIMIT=B makes cuMemAlloc_v2 fail
 * with CUDA_ERROR_OUT_OF_MEMORY when the device bytes in use would pass B. fake_cuda_live()
 * counts live allocations (for leak checks), fake_cuda_device_allocs() the cuMemAlloc_v2 calls
 * that succeeded and fake_cuda_device_bytes() the device bytes in use. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

#define TAG (1ull << 62)
#define API __attribute__((visibility("default")))

static long live;

API long fake_cuda_live(void) { return live; }

static void *host(CUdeviceptr p) { return (void *)(uintptr_t)(p & ~TAG); }

static void *fake_alloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p) live++;
  return p;
}

static void fake_free(void *p) {
  if (!p) return;
  free(p);
  live--;
}

/* ---- errors, driver, devices -------------------------------------------------------------- */

static const struct {
  int code;
  const char *name, *text;
} errors[] = {{0, "CUDA_SUCCESS", "no error"},
              {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
              {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
              {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
              {218, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
              {500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"}};

static CUresult error_field(int code, const char **out, int which) {
  for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
    if (errors[i].code == code) {
      *out = which ? errors[i].text : errors[i].name;
      return 0;
    }
  *out = NULL;
  return 1;
}

API CUresult cuGetErrorName(int code, const char **s) { return error_field(code, s, 0); }
API CUresult cuGetErrorString(int code, const char **s) { return error_field(code, s, 1); }

API CUresult cuInit(unsigned flags) {
  const char *v = getenv("FAKE_CUDA_NO_DEVICE");
  return v && *v == '1' ? 100 : 0;
}
API CUresult cuDriverGetVersion(int *v) { return *v = 13000, 0; }
static int device_count(void) {
  const char *v = getenv("FAKE_CUDA_DEVICES");
  int n = v ? atoi(v) : 1;
  return n > 0 ? n : 1;
}
API CUresult cuDeviceGetCount(int *n) { return *n = device_count(), 0; }
API CUresult cuDeviceGet(int *dev, int ordinal) {
  return ordinal >= 0 && ordinal < device_count() ? (*dev = ordinal, 0) : 101;
}

/* 700 once a launch faulted (FAKE_CUDA_ILLEGAL_BLOCK): the context is dead for good. */
static int dead;
API CUresult cuDeviceGetName(char *name, int len, int dev) {
  snprintf(name, (size_t)len, "helua fake GPU");
  return 0;
}
API CUresult cuDeviceGetAttribute(int *v, int attr, int dev) {
  switch (attr) {
  case 75: *v = 9; break;                 /* cc major */
  case 76: *v = 0; break;                 /* cc minor */
  case 16: *v = 132; break;               /* SMs */
  case 1: *v = 1024; break;               /* threads per block */
  case 10: *v = 32; break;                /* warp */
  case 97: *v = 232448; break;            /* shared opt-in */
  default: *v = 1; break;
  }
  return 0;
}
API CUresult cuDeviceTotalMem_v2(size_t *b, int dev) { return *b = (size_t)80 << 30, 0; }

/* ---- contexts ----------------------------------------------------------------------------- */

static int the_context;
API CUresult cuDevicePrimaryCtxRetain(void **ctx, int dev) { return *ctx = &the_context, 0; }
API CUresult cuDevicePrimaryCtxRelease_v2(int dev) { return 0; }
API CUresult cuCtxCreate_v4(void **ctx, void *params, unsigned flags, int dev) {
  return *ctx = &the_context, 0;
}
API CUresult cuCtxCreate_v2(void **ctx, unsigned flags, int dev) { return *ctx = &the_context, 0; }
API CUresult cuCtxDestroy_v2(void *ctx) { return 0; }
API CUresult cuCtxSetCurrent(void *ctx) { return 0; }
API CUresult cuCtxGetCurrent(void **ctx) { return *ctx = &the_context, 0; }
API CUresult cuCtxSynchronize(void) { return dead; }

/* ---- memory ------------------------------------------------------------------------------- */

API CUresult cuMemGetInfo_v2(size_t *f, size_t *t) {
  *t = (size_t)80 << 30;
  *f = *t / 2;
  return 0;
}
/* A device block is a host block with its size in a header in front of what the caller sees. */
#define HEADER 64
static long device_allocs;
static size_t device_bytes;
API long fake_cuda_device_allocs(void) { return device_allocs; }
API size_t fake_cuda_device_bytes(void) { return device_bytes; }
API CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
  if (n > ((size_t)1 << 40)) return 2;
  const char *limit = getenv("FAKE_CUDA_MEM_LIMIT");
  if (limit && *limit && device_bytes + n > strtoull(limit, NULL, 10)) return 2;
  char *h = fake_alloc(n + HEADER);
  if (!h) return 2;
  memcpy(h, &n, sizeof n);
  device_allocs++;
  device_bytes += n;
  *p = (CUdeviceptr)(uintptr_t)(h + HEADER) | TAG;
  return 0;
}
API CUresult cuMemFree_v2(CUdeviceptr p) {
  if (!(p & TAG)) return 1;
  char *h = (char *)host(p) - HEADER;
  size_t n;
  memcpy(&n, h, sizeof n);
  device_bytes -= n;
  fake_free(h);
  return 0;
}
API CUresult cuMemAllocHost_v2(void **p, size_t n) { return (*p = fake_alloc(n)) ? 0 : 2; }
API CUresult cuMemFreeHost(void *p) { return fake_free(p), 0; }
API CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) {
  if (dead) return dead;
  return (d & TAG) ? (memcpy(host(d), s, n), 0) : 1;
}
API CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n) {
  if (dead) return dead;
  return (s & TAG) ? (memcpy(d, host(s), n), 0) : 1;
}
API CUresult cuMemcpyDtoD_v2(CUdeviceptr d, CUdeviceptr s, size_t n) {
  return (d & s & TAG) ? (memmove(host(d), host(s), n), 0) : 1;
}
API CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) {
  return (d & TAG) ? (memset(host(d), v, n), 0) : 1;
}
API CUresult cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n) {
  if (!(d & TAG)) return 1;
  for (size_t i = 0; i < n; i++) ((unsigned short *)host(d))[i] = v;
  return 0;
}
API CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned v, size_t n) {
  if (!(d & TAG)) return 1;
  for (size_t i = 0; i < n; i++) ((unsigned *)host(d))[i] = v;
  return 0;
}

/* ---- modules and launches ----------------------------------------------------------------- */

typedef struct FakeModule {
  char *text;
} FakeModule;

typedef struct FakeFunc {
  char name[64];
} FakeFunc;

enum { WALL = 2, INFO = 3, INFO_SIZE = 4, ERR = 5, ERR_SIZE = 6 };

API CUresult cuModuleLoadDataEx(void **mod, const void *image, unsigned n, int *opts,
                                void **vals) {
  char *info = NULL, *err = NULL;
  size_t info_n = 0, err_n = 0;
  int wall = -1;
  for (unsigned i = 0; i < n; i++) {
    if (opts[i] == INFO) info = vals[i];
    if (opts[i] == INFO_SIZE) info_n = (size_t)(uintptr_t)vals[i];
    if (opts[i] == ERR) err = vals[i];
    if (opts[i] == ERR_SIZE) err_n = (size_t)(uintptr_t)vals[i];
    if (opts[i] == WALL) wall = (int)i;
  }
  const char *text = image;
  if (strstr(text, "BROKEN")) {
    if (err && err_n)
      snprintf(err, err_n, "ptxas application ptx input, line 3; error   : Unknown symbol "
                           "'BROKEN'\nptxas fatal   : Ptx assembly aborted due to errors\n");
    return 218;
  }
  if (info && info_n)
    snprintf(info, info_n, "ptxas info    : fake JIT, %zu bytes of PTX\n", strlen(text));
  if (wall >= 0) {
    float ms = 0.5f;
    memcpy(&vals[wall], &ms, sizeof ms);
  }
  FakeModule *m = fake_alloc(sizeof *m);
  m->text = fake_alloc(strlen(text) + 1);
  strcpy(m->text, text);
  *mod = m;
  return 0;
}

API CUresult cuModuleUnload(void *mod) {
  FakeModule *m = mod;
  fake_free(m->text);
  fake_free(m);
  return 0;
}

API CUresult cuModuleGetFunction(void **fn, void *mod, const char *name) {
  FakeModule *m = mod;
  char entry[96];
  snprintf(entry, sizeof entry, ".entry %s(", name);
  if (!strstr(m->text, entry)) return 500;
  static FakeFunc funcs[16];
  static int nfuncs;
  for (int i = 0; i < nfuncs; i++)
    if (strcmp(funcs[i].name, name) == 0) return *fn = &funcs[i], 0;
  if (nfuncs == 16) return 2;
  snprintf(funcs[nfuncs].name, sizeof funcs[nfuncs].name, "%s", name);
  *fn = &funcs[nfuncs++];
  return 0;
}

API CUresult cuFuncGetAttribute(int *v, int attr, void *fn) { return *v = attr == 4 ? 12 : 0, 0; }
API CUresult cuFuncSetAttribute(void *fn, int attr, int value) { return 0; }

API CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                            unsigned by, unsigned bz, unsigned shared, void *stream, void **params,
                            void **extra) {
  if (dead) return dead;
  const char *illegal = getenv("FAKE_CUDA_ILLEGAL_BLOCK");
  if (illegal && atoi(illegal) > 0 && (unsigned)atoi(illegal) == bx * by * bz) return dead = 700;
  const char *name = ((FakeFunc *)fn)->name;
  int width = strcmp(name, "vadd") == 0 ? 1 : strcmp(name, "vadd4") == 0 ? 4 : 0;
  if (!width) return 0;
  CUdeviceptr a = *(CUdeviceptr *)params[0], b = *(CUdeviceptr *)params[1],
              c = *(CUdeviceptr *)params[2];
  if (!(a & b & c & TAG)) return 700; /* an illegal address, as a GPU would say */
  uint64_t n = *(uint32_t *)params[3], threads = (uint64_t)gx * gy * gz * bx * by * bz;
  if (n > threads) n = threads;
  float *fa = host(a), *fb = host(b), *fc = host(c);
  for (uint64_t i = 0; i < n * (uint64_t)width; i++) fc[i] = fa[i] + fb[i];
  return 0;
}

/* ---- streams and events ------------------------------------------------------------------- */

API CUresult cuStreamSynchronize(void *s) { return dead; }
API CUresult cuEventCreate(void **e, unsigned flags) {
  *e = fake_alloc(sizeof(double));
  **(double **)e = 0;
  return 0;
}
API CUresult cuEventDestroy_v2(void *e) { return fake_free(e), 0; }
API CUresult cuEventRecord(void *e, void *stream) {
  if (dead) return dead;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  *(double *)e = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
  return 0;
}
API CUresult cuEventSynchronize(void *e) { return dead; }
API CUresult cuEventElapsedTime_v2(float *ms, void *a, void *b) {
  *ms = (float)(*(double *)b - *(double *)a);
  return 0;
}
API CUresult cuEventElapsedTime(float *ms, void *a, void *b) { return cuEventElapsedTime_v2(ms, a, b); }
