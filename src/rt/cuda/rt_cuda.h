/* The CUDA driver runtime: libcuda loaded with dlopen at first use, devices, device memory, PTX
 * modules (with the JIT logs), launches and events. Part of src/rt (runtime).
 *
 * Nothing here links against CUDA: the driver is dlopen("libcuda.so.1") (HELUA_LIBCUDA overrides
 * the path) and every entry point comes from the table in cuda_syms.def. Nothing loads before the
 * first call that needs the GPU, and a failed load is remembered: every later call returns the
 * same reason at once. Every driver call is checked; a failure fills the Diag with the call's
 * (versioned) name, the driver's error name and string, the error number and where it was made:
 *   "cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory) [error 2, rt_cuda_alloc in
 *    src/rt/cuda/rt_cuda_cache.c]"
 * The runtime never sees IR: it takes PTX text, kernel names, launch dims and argument pointers.
 * One device carries the process's context: ordinal 0, or the one rt_cuda_select_device chose
 * before the first initialization (a tuning worker per GPU: share/doc/tuning.md). */
#ifndef HELUA_RT_CUDA_H
#define HELUA_RT_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"
#include "tensor/tensor.h"

/* ---- loading and devices ----------------------------------------------------------------- */

/* dlopen + dlsym only (no cuInit): fails with "libcuda.so.1 not found (...)" or names a missing
 * required symbol. Idempotent. */
int rt_cuda_load(Diag *d);
/* rt_cuda_load, then cuInit, the device list and a current context on device 0. Idempotent and
 * thread-safe; a failure is remembered and repeated (d gets the same reason every time). */
int rt_cuda_init(Diag *d);
/* The device the context is made on (default 0); call before anything initializes CUDA. After
 * the initialization only the ordinal already in use is accepted (else an error saying so); an
 * ordinal the machine lacks fails at initialization ("cuda device 3 does not exist ..."). */
int rt_cuda_select_device(int ordinal, Diag *d);
int rt_cuda_current_device(void); /* the selected (or in-use) ordinal */
/* rt_cuda_init as a yes/no; *why (may be NULL) gets the reason when it is no. */
bool rt_cuda_available(Diag *why);
/* Releases the context and closes the library; device memory still held is lost. The next call
 * loads again (tests use this to switch HELUA_LIBCUDA). */
void rt_cuda_shutdown(void);

/* The symbol table (for tests and reports): count, names as resolved, required?, resolved? */
int rt_cuda_symbol_count(void);
const char *rt_cuda_symbol_name(int i);
bool rt_cuda_symbol_required(int i);
bool rt_cuda_symbol_resolved(int i); /* false before rt_cuda_load */
const char *rt_cuda_library_path(void); /* what was (or would be) dlopened */

/* "CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)" for a CUresult, from the driver
 * when it can say, else from our own table (the stub library answers nothing). */
const char *rt_cuda_error_text(int code, char *buf, size_t cap);

typedef struct RtCudaDeviceInfo {
  int ordinal;
  char name[256];
  int cc_major, cc_minor;          /* compute capability: 9.0 on an H100 */
  int sm_count;
  size_t total_bytes;
  int max_threads_per_block;
  int warp_size;
  int regs_per_block;
  int shared_per_block;            /* without opt-in */
  int shared_per_block_optin;      /* with cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES) */
  int shared_per_sm;
  int l2_bytes;
  int clock_khz, mem_clock_khz, mem_bus_bits;
  int driver_version;              /* 13000 = CUDA 13.0 */
} RtCudaDeviceInfo;

int rt_cuda_device_count(int *out, Diag *d);
int rt_cuda_device_info(int ordinal, RtCudaDeviceInfo *out, Diag *d);

/* ---- memory (the context's device, default stream; copies are synchronous) ---------------- */

typedef uint64_t RtCudaPtr; /* a device address */

int rt_cuda_alloc(size_t nbytes, RtCudaPtr *out, Diag *d);
/* 0 is fine; after rt_cuda_shutdown a no-op; an address rt_cuda_alloc did not give out in this
 * context is refused (an error, nothing freed). */
int rt_cuda_free(RtCudaPtr p, Diag *d);

/* The caching allocator behind rt_cuda_alloc / rt_cuda_free (rt_cuda_cache.c has the rules):
 * sizes rounded to a class, freed blocks reused by the next request of their class, the cache
 * emptied and the allocation retried once on out-of-memory, HELUA_CUDA_CACHE_MB the cap. */
typedef struct RtCudaMemStats {
  size_t allocated;        /* bytes in blocks handed out (rounded to their class) */
  size_t cached;           /* bytes in freed blocks kept for reuse */
  long hits, misses;       /* allocations served from the cache / by the driver */
  long driver_allocs;      /* cuMemAlloc_v2 calls (a retry after out-of-memory counts twice) */
  long releases;           /* cached blocks given back with cuMemFree_v2 */
  long oom_retries;        /* out-of-memory answers that emptied the cache and retried */
} RtCudaMemStats;
void rt_cuda_mem_stats(RtCudaMemStats *out); /* zeros before the first allocation */
int rt_cuda_empty_cache(Diag *d);            /* every cached block back to the driver */
size_t rt_cuda_cache_round(size_t nbytes);   /* the size class of a request; 0: too large */
/* Sets count elements of elem_bytes (1, 2 or 4) to the low bits of pattern. */
int rt_cuda_memset(RtCudaPtr p, int elem_bytes, uint32_t pattern, size_t count, Diag *d);
int rt_cuda_copy_htod(RtCudaPtr dst, const void *src, size_t nbytes, Diag *d);
int rt_cuda_copy_dtoh(void *dst, RtCudaPtr src, size_t nbytes, Diag *d);
int rt_cuda_copy_dtod(RtCudaPtr dst, RtCudaPtr src, size_t nbytes, Diag *d);
/* Page-locked host memory (fast copies). */
int rt_cuda_host_alloc(size_t nbytes, void **out, Diag *d);
int rt_cuda_host_free(void *p, Diag *d);
int rt_cuda_mem_info(size_t *free_bytes, size_t *total_bytes, Diag *d);

/* ---- modules, functions, launches --------------------------------------------------------- */

typedef struct RtCudaModule RtCudaModule;
typedef struct RtCudaFunc RtCudaFunc; /* owned by its module */
typedef struct RtCudaEvent RtCudaEvent;

/* What the driver's PTX JIT said, both on success and on failure. */
typedef struct RtCudaJitLog {
  char info[4096];
  char error[4096];
  float wall_ms; /* CU_JIT_WALL_TIME: the JIT's own time */
} RtCudaJitLog;

/* Loads PTX text (len bytes, need not be NUL-terminated: a terminated copy is handed to the
 * driver). On failure d has the driver error and the JIT's error log; log (may be NULL) gets
 * both logs either way. Empty PTX is an error here, not later. */
int rt_cuda_module_load_ptx(const char *ptx, size_t len, RtCudaModule **out, RtCudaJitLog *log,
                            Diag *d);
/* Unloads (NULL is fine); its functions die with it. */
int rt_cuda_module_unload(RtCudaModule *m, Diag *d);
int rt_cuda_module_function(RtCudaModule *m, const char *name, RtCudaFunc **out, Diag *d);

typedef struct RtCudaFuncAttrs {
  int num_regs, static_shared_bytes, local_bytes, const_bytes, max_threads_per_block;
} RtCudaFuncAttrs;
int rt_cuda_func_attrs(RtCudaFunc *f, RtCudaFuncAttrs *out, Diag *d);

typedef struct RtCudaLaunch {
  unsigned grid[3], block[3];
  unsigned shared_bytes; /* dynamic; above 48 KiB the function is opted in automatically */
} RtCudaLaunch;
/* args: one pointer per kernel parameter, to the parameter's value (cuLaunchKernel's
 * kernelParams). Asynchronous: errors of the kernel itself surface at the next synchronize. */
int rt_cuda_launch(RtCudaFunc *f, const RtCudaLaunch *dims, void **args, Diag *d);
int rt_cuda_synchronize(Diag *d); /* cuCtxSynchronize */
int rt_cuda_stream_synchronize(Diag *d); /* the default stream */

int rt_cuda_event_create(RtCudaEvent **out, Diag *d);
int rt_cuda_event_destroy(RtCudaEvent *e, Diag *d); /* NULL is fine */
int rt_cuda_event_record(RtCudaEvent *e, Diag *d);
int rt_cuda_event_synchronize(RtCudaEvent *e, Diag *d);
int rt_cuda_event_elapsed_ms(RtCudaEvent *start, RtCudaEvent *end, float *ms, Diag *d);

/* ---- compiled kernels (rt_cuda_kernel.c) -------------------------------------------------- */

/* PTX + entry name → a loaded function; one module per kernel, unloaded by rt_cuda_kernel_free.
 * params: one pointer per kernel parameter (a tensor's RtCudaPtr, a scalar's double / int64). */
typedef struct RtCudaKernel RtCudaKernel;
int rt_cuda_kernel_load(const char *ptx, const char *entry, RtCudaKernel **out, Diag *d);
int rt_cuda_kernel_launch(RtCudaKernel *k, const unsigned grid[3], const unsigned block[3],
                          unsigned shared_bytes, void **params, Diag *d);
const RtCudaJitLog *rt_cuda_kernel_log(const RtCudaKernel *k);
int rt_cuda_kernel_attrs(RtCudaKernel *k, RtCudaFuncAttrs *out, Diag *d);
void rt_cuda_kernel_free(RtCudaKernel *k); /* NULL is fine */

/* ---- tensors on the device ---------------------------------------------------------------- */

/* Device memory for tensors (device TENSOR_DEVICE_CUDA, name "cuda"): Storage.data holds the
 * device address. Page-locked host memory (device CPU, name "cpu"): an ordinary host tensor
 * whose copies to and from the GPU run at full PCIe speed. */
extern const StorageOps rt_cuda_storage_ops;
extern const StorageOps rt_cuda_pinned_storage_ops;

bool rt_cuda_tensor_is_device(const Tensor *t);
RtCudaPtr rt_cuda_tensor_ptr(const Tensor *t); /* device address of the first element */
int rt_cuda_tensor_empty(const int64_t *sizes, int ndim, DType dt, Tensor **out, Diag *d);
/* A contiguous device copy of a host tensor (any view). */
int rt_cuda_tensor_to_device(const Tensor *host, Tensor **out, Diag *d);
/* A contiguous host copy of a device tensor (any view: only the span it covers is copied). */
int rt_cuda_tensor_to_host(const Tensor *dev, Tensor **out, Diag *d);
/* A contiguous page-locked host copy. */
int rt_cuda_tensor_pin(const Tensor *host, Tensor **out, Diag *d);
/* Fills a contiguous device tensor with v converted to its dtype (a memset where the bit
 * pattern allows, else a host buffer copied over). */
int rt_cuda_tensor_fill(Tensor *dev, double v, bool is_int, int64_t iv, Diag *d);
/* dst = src, same dtype and shape, both contiguous, any mix of host and device. */
int rt_cuda_tensor_copy(Tensor *dst, const Tensor *src, Diag *d);

#endif
