/* Loading the CUDA driver: dlopen, the symbol table, error texts, cuInit, the device list and the
 * context, all at first use. Part of src/rt/cuda (the CUDA runtime).
 *
 * Phases: UNLOADED → (dlopen + dlsym) LOADED → (cuInit, devices, context) READY, or FAILED with
 * the reason kept in rt_cuda_state.failure and handed back to every later caller. One mutex
 * guards the transitions; rt_cuda_enter's fast path is a load of the phase and of a
 * thread-local generation number. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/flags.h"
#include "rt/cuda/rt_cuda_internal.h"

RtCudaSyms rt_cu;
RtCudaState rt_cuda_state;

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local unsigned bound_generation; /* 0: this thread has no current context */

#define DEFAULT_LIBRARY "libcuda.so.1"

/* ---- the symbol table --------------------------------------------------------------------- */

#define REQUIRED true
#define OPTIONAL false
static const struct {
  const char *name;
  bool required;
  size_t offset;
} sym_table[] = {
#define X(sym, params, need) {#sym, need, offsetof(RtCudaSyms, sym)},
#include "rt/cuda/cuda_syms.def"
#undef X
};
#undef REQUIRED
#undef OPTIONAL
enum { NSYMS = sizeof sym_table / sizeof sym_table[0] };

static void **sym_slot(int i) { return (void **)((char *)&rt_cu + sym_table[i].offset); }

int rt_cuda_symbol_count(void) { return NSYMS; }
const char *rt_cuda_symbol_name(int i) { return i >= 0 && i < NSYMS ? sym_table[i].name : NULL; }
bool rt_cuda_symbol_required(int i) { return i >= 0 && i < NSYMS && sym_table[i].required; }
bool rt_cuda_symbol_resolved(int i) { return i >= 0 && i < NSYMS && *sym_slot(i) != NULL; }

const char *rt_cuda_library_path(void) {
  const char *p = flags_get("HELUA_LIBCUDA");
  return p ? p : DEFAULT_LIBRARY;
}

/* ---- error texts -------------------------------------------------------------------------- */

/* The driver's names and strings for the errors people meet; used when the driver cannot say
 * (the stub library, a failed load, cuGetErrorName itself failing). */
static const struct {
  int code;
  const char *name, *text;
} known_errors[] = {
    {0, "CUDA_SUCCESS", "no error"},
    {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {4, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
    {34, "CUDA_ERROR_STUB_LIBRARY", "CUDA driver is a stub library"},
    {36, "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER", "API call is not supported in the installed CUDA driver"},
    {46, "CUDA_ERROR_DEVICE_UNAVAILABLE", "CUDA-capable device(s) is/are busy or unavailable"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {209, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
    {218, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {221, "CUDA_ERROR_JIT_COMPILER_NOT_FOUND", "PTX JIT compiler library not found"},
    {222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "the provided PTX was compiled with an unsupported toolchain"},
    {223, "CUDA_ERROR_JIT_COMPILATION_DISABLED", "PTX JIT compilation was disabled"},
    {301, "CUDA_ERROR_FILE_NOT_FOUND", "file not found"},
    {303, "CUDA_ERROR_SHARED_OBJECT_INIT_FAILED", "shared object initialization failed"},
    {304, "CUDA_ERROR_OPERATING_SYSTEM", "OS call failed or operation not supported on this OS"},
    {400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {600, "CUDA_ERROR_NOT_READY", "device not ready"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {702, "CUDA_ERROR_LAUNCH_TIMEOUT", "the launch timed out and was terminated"},
    {709, "CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed"},
    {710, "CUDA_ERROR_ASSERT", "device-side assert triggered"},
    {715, "CUDA_ERROR_ILLEGAL_INSTRUCTION", "an illegal instruction was encountered"},
    {716, "CUDA_ERROR_MISALIGNED_ADDRESS", "misaligned address"},
    {717, "CUDA_ERROR_INVALID_ADDRESS_SPACE", "operation not supported on global/shared address space"},
    {718, "CUDA_ERROR_INVALID_PC", "invalid program counter"},
    {719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {800, "CUDA_ERROR_NOT_PERMITTED", "operation not permitted"},
    {801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {802, "CUDA_ERROR_SYSTEM_NOT_READY", "system not yet initialized"},
    {803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "system has unsupported display driver / cuda driver combination"},
    {804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", "forward compatibility was attempted on non supported HW"},
    {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

const char *rt_cuda_error_text(int code, char *buf, size_t cap) {
  const char *name = NULL, *text = NULL;
  if (rt_cu.cuGetErrorName && rt_cu.cuGetErrorString) {
    if (rt_cu.cuGetErrorName(code, &name) != CUDA_SUCCESS) name = NULL;
    if (rt_cu.cuGetErrorString(code, &text) != CUDA_SUCCESS) text = NULL;
  }
  for (size_t i = 0; i < sizeof known_errors / sizeof known_errors[0] && !(name && text); i++) {
    if (known_errors[i].code != code) continue;
    if (!name) name = known_errors[i].name;
    if (!text) text = known_errors[i].text;
  }
  if (name && text) snprintf(buf, cap, "%s (%s)", name, text);
  else if (name) snprintf(buf, cap, "%s", name);
  else snprintf(buf, cap, "CUDA error %d (not known to this driver)", code);
  return buf;
}

/* __FILE__ as the build saw it ("../src/rt/cuda/x.c"): keep it from "src/". */
static const char *source_path(const char *file) {
  const char *s = strstr(file, "src/");
  return s ? s : file;
}

int rt_cuda_check(CUresult rc, const char *call, const char *func, const char *file, Diag *d) {
  if (rc == CUDA_SUCCESS) return HL_OK;
  char text[256];
  return diag_set(d, "%s failed: %s [error %d, %s in %s]", call,
                  rt_cuda_error_text(rc, text, sizeof text), rc, func, source_path(file));
}

/* ---- phases ------------------------------------------------------------------------------- */

static void close_library(void) {
  if (rt_cuda_state.lib) dlclose(rt_cuda_state.lib);
  rt_cuda_state.lib = NULL;
  memset(&rt_cu, 0, sizeof rt_cu);
}

/* UNLOADED → LOADED (or an error; the caller decides whether it is remembered). */
static int rt_cuda_load_locked(Diag *d) {
  const char *path = rt_cuda_library_path();
  snprintf(rt_cuda_state.path, sizeof rt_cuda_state.path, "%s", path);
  dlerror();
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    bool missing = why && strstr(why, "No such file");
    return diag_set(d, "%s %s (%s)%s", path, missing ? "not found" : "cannot be loaded",
                    why ? why : "dlopen failed",
                    flags_get("HELUA_LIBCUDA") ? " [from HELUA_LIBCUDA]"
                                               : "; is the NVIDIA driver installed?");
  }
  rt_cuda_state.lib = lib;
  for (int i = 0; i < NSYMS; i++) {
    void *p = dlsym(lib, sym_table[i].name);
    *sym_slot(i) = p;
    if (!p && sym_table[i].required) {
      diag_set(d, "%s has no %s: the driver is too old or not a CUDA driver", path,
               sym_table[i].name);
      close_library();
      return HL_ERR;
    }
  }
  if (!rt_cu.cuEventElapsedTime_v2 && !rt_cu.cuEventElapsedTime) {
    diag_set(d, "%s has neither cuEventElapsedTime_v2 nor cuEventElapsedTime", path);
    close_library();
    return HL_ERR;
  }
  rt_cuda_state.phase = RT_CUDA_LOADED;
  return HL_OK;
}

/* A context on devices[ordinal] (rt_cuda_select_device): the primary context (shared with any
 * other CUDA user in the process), else one of our own through cuCtxCreate_v4 / _v2. */
static int rt_cuda_context_locked(Diag *d) {
  CUdevice dev = rt_cuda_state.devices[rt_cuda_state.ordinal];
  CUcontext ctx = NULL;
  Diag first;
  if (RT_CU(&first, cuDevicePrimaryCtxRetain, (&ctx, dev)) == HL_OK) {
    rt_cuda_state.ctx_is_primary = true;
  } else if (rt_cu.cuCtxCreate_v4) {
    if (RT_CU(d, cuCtxCreate_v4, (&ctx, NULL, 0, dev)))
      return diag_prefix(d, "%s; then ", first.msg);
  } else if (rt_cu.cuCtxCreate_v2) {
    if (RT_CU(d, cuCtxCreate_v2, (&ctx, 0, dev))) return diag_prefix(d, "%s; then ", first.msg);
  } else {
    *d = first;
    return HL_ERR;
  }
  rt_cuda_state.ctx = ctx;
  if (RT_CU(d, cuCtxSetCurrent, (ctx))) {
    if (rt_cuda_state.ctx_is_primary) rt_cu.cuDevicePrimaryCtxRelease_v2(dev);
    else rt_cu.cuCtxDestroy_v2(ctx);
    rt_cuda_state.ctx = NULL;
    return HL_ERR;
  }
  return HL_OK;
}

/* LOADED → READY. */
static int rt_cuda_init_locked(Diag *d) {
  if (RT_CU(d, cuInit, (0))) return HL_ERR;
  if (RT_CU(d, cuDriverGetVersion, (&rt_cuda_state.driver_version))) return HL_ERR;
  int n = 0;
  if (RT_CU(d, cuDeviceGetCount, (&n))) return HL_ERR;
  if (n <= 0) return diag_set(d, "cuDeviceGetCount found no CUDA device");
  if (n > RT_CUDA_MAX_DEVICES) n = RT_CUDA_MAX_DEVICES;
  for (int i = 0; i < n; i++)
    if (RT_CU(d, cuDeviceGet, (&rt_cuda_state.devices[i], i))) return HL_ERR;
  rt_cuda_state.ndevices = n;
  if (rt_cuda_state.ordinal >= n)
    return diag_set(d, "cuda device %d does not exist (this machine has %d)", rt_cuda_state.ordinal,
                    n);
  if (rt_cuda_context_locked(d)) return HL_ERR;
  rt_cuda_state.phase = RT_CUDA_READY;
  return HL_OK;
}

static void rt_cuda_fail_locked(const Diag *why) {
  rt_cuda_state.failure = *why;
  rt_cuda_state.phase = RT_CUDA_FAILED;
  close_library();
}

int rt_cuda_load(Diag *d) {
  pthread_mutex_lock(&state_lock);
  int rc = HL_OK;
  if (rt_cuda_state.phase == RT_CUDA_FAILED) {
    if (d) *d = rt_cuda_state.failure;
    rc = HL_ERR;
  } else if (rt_cuda_state.phase == RT_CUDA_UNLOADED) {
    Diag why;
    rc = rt_cuda_load_locked(&why);
    if (rc) {
      rt_cuda_fail_locked(&why);
      if (d) *d = why;
    }
  }
  pthread_mutex_unlock(&state_lock);
  return rc;
}

int rt_cuda_init(Diag *d) {
  if (__atomic_load_n(&rt_cuda_state.phase, __ATOMIC_ACQUIRE) == RT_CUDA_READY) return HL_OK;
  if (rt_cuda_load(d)) return HL_ERR;
  pthread_mutex_lock(&state_lock);
  int rc = HL_OK;
  if (rt_cuda_state.phase == RT_CUDA_FAILED) {
    if (d) *d = rt_cuda_state.failure;
    rc = HL_ERR;
  } else if (rt_cuda_state.phase == RT_CUDA_LOADED) {
    Diag why;
    rc = rt_cuda_init_locked(&why);
    if (rc) {
      rt_cuda_fail_locked(&why);
      if (d) *d = why;
    } else {
      rt_cuda_state.generation++;
      bound_generation = rt_cuda_state.generation; /* init made it current on this thread */
    }
  }
  pthread_mutex_unlock(&state_lock);
  return rc;
}

int rt_cuda_select_device(int ordinal, Diag *d) {
  if (ordinal < 0 || ordinal >= RT_CUDA_MAX_DEVICES)
    return diag_set(d, "cuda device %d: the ordinal must be 0..%d", ordinal,
                    RT_CUDA_MAX_DEVICES - 1);
  pthread_mutex_lock(&state_lock);
  int rc = HL_OK;
  if (rt_cuda_state.phase == RT_CUDA_READY && rt_cuda_state.ordinal != ordinal)
    rc = diag_set(d, "cuda device %d: this process's context is on device %d already (a process "
                  "uses one device; start another process for another GPU)", ordinal,
                  rt_cuda_state.ordinal);
  else
    rt_cuda_state.ordinal = ordinal;
  pthread_mutex_unlock(&state_lock);
  return rc;
}

int rt_cuda_current_device(void) { return rt_cuda_state.ordinal; }

bool rt_cuda_available(Diag *why) { return rt_cuda_init(why) == HL_OK; }

int rt_cuda_enter(Diag *d) {
  if (rt_cuda_init(d)) return HL_ERR;
  if (bound_generation == rt_cuda_state.generation) return HL_OK;
  if (RT_CU(d, cuCtxSetCurrent, (rt_cuda_state.ctx))) return HL_ERR;
  bound_generation = rt_cuda_state.generation;
  return HL_OK;
}

void rt_cuda_shutdown(void) {
  rt_cuda_cache_shutdown(); /* needs the context still current */
  pthread_mutex_lock(&state_lock);
  if (rt_cuda_state.phase == RT_CUDA_READY && rt_cuda_state.ctx) {
    if (rt_cuda_state.ctx_is_primary) {
      rt_cu.cuCtxSetCurrent(NULL);
      rt_cu.cuDevicePrimaryCtxRelease_v2(rt_cuda_state.devices[rt_cuda_state.ordinal]);
    } else {
      rt_cu.cuCtxDestroy_v2(rt_cuda_state.ctx);
    }
  }
  close_library();
  unsigned gen = rt_cuda_state.generation;
  int ordinal = rt_cuda_state.ordinal; /* the selection outlives a shutdown */
  memset(&rt_cuda_state, 0, sizeof rt_cuda_state);
  rt_cuda_state.generation = gen + 1;
  rt_cuda_state.ordinal = ordinal;
  pthread_mutex_unlock(&state_lock);
}

/* ---- devices ------------------------------------------------------------------------------ */

int rt_cuda_device_count(int *out, Diag *d) {
  if (rt_cuda_init(d)) return HL_ERR;
  *out = rt_cuda_state.ndevices;
  return HL_OK;
}

int rt_cuda_device_info(int ordinal, RtCudaDeviceInfo *out, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  if (ordinal < 0 || ordinal >= rt_cuda_state.ndevices)
    return diag_set(d, "cuda device %d does not exist (this machine has %d)", ordinal,
                    rt_cuda_state.ndevices);
  CUdevice dev = rt_cuda_state.devices[ordinal];
  memset(out, 0, sizeof *out);
  out->ordinal = ordinal;
  out->driver_version = rt_cuda_state.driver_version;
  if (RT_CU(d, cuDeviceGetName, (out->name, (int)sizeof out->name, dev))) return HL_ERR;
  if (RT_CU(d, cuDeviceTotalMem_v2, (&out->total_bytes, dev))) return HL_ERR;
  const struct {
    int attr;
    int *dst;
  } attrs[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &out->cc_major},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &out->cc_minor},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &out->sm_count},
      {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &out->max_threads_per_block},
      {CU_DEVICE_ATTRIBUTE_WARP_SIZE, &out->warp_size},
      {CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK, &out->regs_per_block},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, &out->shared_per_block},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &out->shared_per_block_optin},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, &out->shared_per_sm},
      {CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, &out->l2_bytes},
      {CU_DEVICE_ATTRIBUTE_CLOCK_RATE, &out->clock_khz},
      {CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, &out->mem_clock_khz},
      {CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, &out->mem_bus_bits},
  };
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
    if (RT_CU(d, cuDeviceGetAttribute, (attrs[i].dst, attrs[i].attr, dev)))
      return diag_prefix(d, "device attribute %d: ", attrs[i].attr);
  return HL_OK;
}
