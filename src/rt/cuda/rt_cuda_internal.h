/* The CUDA runtime, internal: our own minimal driver API declarations (no cuda.h needed to build),
 * the resolved symbol table, the process-wide state and the checked-call macro.
 * Part of src/rt/cuda; not included outside it. */
#ifndef HELUA_RT_CUDA_INTERNAL_H
#define HELUA_RT_CUDA_INTERNAL_H

#include "rt/cuda/rt_cuda.h"

/* ---- driver API types (the values are cuda.h's; the ABI is stable since CUDA 4) ----------- */

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUevent_st *CUevent;
typedef struct CUstream_st *CUstream;
typedef struct CUctxCreateParams_st CUctxCreateParams;
typedef int CUjit_option;
typedef int CUdevice_attribute;
typedef int CUfunction_attribute;

enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_DEINITIALIZED = 4,
  CUDA_ERROR_NO_DEVICE = 100,
};

enum { /* CUjit_option */
  CU_JIT_WALL_TIME = 2,
  CU_JIT_INFO_LOG_BUFFER = 3,
  CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
  CU_JIT_ERROR_LOG_BUFFER = 5,
  CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
  CU_JIT_LOG_VERBOSE = 12,
};

enum { /* CUdevice_attribute */
  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
  CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10,
  CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK = 12,
  CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13,
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36,
  CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37,
  CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};

enum { /* CUfunction_attribute */
  CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0,
  CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1,
  CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES = 2,
  CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES = 3,
  CU_FUNC_ATTRIBUTE_NUM_REGS = 4,
  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
};

#define CU_EVENT_DEFAULT 0u
#define RT_CUDA_MAX_DEVICES 16
#define RT_CUDA_STATIC_SHARED_LIMIT (48u * 1024u) /* above this, dynamic shared memory needs opt-in */

/* ---- the symbol table --------------------------------------------------------------------- */

typedef struct RtCudaSyms {
#define X(sym, params, need) CUresult (*sym) params;
#include "rt/cuda/cuda_syms.def"
#undef X
} RtCudaSyms;

typedef enum RtCudaPhase { RT_CUDA_UNLOADED, RT_CUDA_LOADED, RT_CUDA_READY, RT_CUDA_FAILED } RtCudaPhase;

typedef struct RtCudaState {
  RtCudaPhase phase;
  unsigned generation;     /* bumped by shutdown; threads re-bind the context when it changes */
  void *lib;               /* dlopen handle */
  char path[512];
  Diag failure;            /* the remembered reason when phase == RT_CUDA_FAILED */
  int driver_version;
  int ndevices;
  CUdevice devices[RT_CUDA_MAX_DEVICES];
  int ordinal;             /* the device the context is on (rt_cuda_select_device; 0) */
  CUcontext ctx;           /* on devices[ordinal] */
  bool ctx_is_primary;
} RtCudaState;

extern RtCudaSyms rt_cu;      /* valid once loaded */
extern RtCudaState rt_cuda_state;

/* Checks a CUresult: on failure fills d with "<call> failed: NAME (string) [error N, <func> in
 * <file>]" and returns HL_ERR. Use through RT_CU. */
int rt_cuda_check(CUresult rc, const char *call, const char *func, const char *file, Diag *d);
#define RT_CU(d, sym, args) rt_cuda_check(rt_cu.sym args, #sym, __func__, __FILE__, (d))

/* rt_cuda_init, then makes the context current on the calling thread (once per thread). Every
 * public entry point that talks to the device starts with it. */
int rt_cuda_enter(Diag *d);

/* Called by rt_cuda_shutdown before the context goes: cached blocks back to the driver, the
 * bookkeeping of blocks in use forgotten, the statistics and the cap reset. */
void rt_cuda_cache_shutdown(void);

#endif
