/* PTX modules (loaded through the driver's JIT with its info and error logs), kernel functions,
 * launches, synchronization and events. Part of src/rt/cuda (the CUDA runtime). */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "rt/cuda/rt_cuda_internal.h"

struct RtCudaFunc {
  CUfunction fn;
  unsigned shared_opt_in; /* dynamic shared bytes this function is opted in for */
  char name[128];
};

struct RtCudaModule {
  CUmodule mod;
  RtCudaFunc **funcs;
  int nfuncs, cap;
};

/* ---- modules ------------------------------------------------------------------------------ */

/* Drops trailing newlines and blanks from a JIT log. */
static void trim(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = '\0';
}

int rt_cuda_module_load_ptx(const char *ptx, size_t len, RtCudaModule **out, RtCudaJitLog *log,
                            Diag *d) {
  RtCudaJitLog local;
  if (!log) log = &local;
  memset(log, 0, sizeof *log);
  while (ptx && len && ptx[len - 1] == '\0') len--; /* a terminator is ours to add */
  if (!ptx || len == 0) return diag_set(d, "cuModuleLoadDataEx: the PTX text is empty");
  if (rt_cuda_enter(d)) return HL_ERR;
  RtCudaModule *m = mem_calloc(1, sizeof *m);
  char *text = mem_alloc(len + 1);
  if (!m || !text) {
    mem_free(m);
    mem_free(text);
    return diag_set(d, "out of memory loading a %zu-byte PTX module", len);
  }
  memcpy(text, ptx, len);
  text[len] = '\0'; /* the driver reads PTX up to a NUL */

  CUjit_option opts[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                         CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                         CU_JIT_LOG_VERBOSE, CU_JIT_WALL_TIME};
  void *values[] = {log->info, (void *)(uintptr_t)sizeof log->info, log->error,
                    (void *)(uintptr_t)sizeof log->error, (void *)(uintptr_t)1, NULL};
  CUresult rc = rt_cu.cuModuleLoadDataEx(&m->mod, text, sizeof opts / sizeof opts[0], opts, values);
  mem_free(text);
  log->info[sizeof log->info - 1] = log->error[sizeof log->error - 1] = '\0';
  trim(log->info);
  trim(log->error);
  float wall = 0; /* the driver overwrites the option value's slot with a float */
  memcpy(&wall, &values[5], sizeof wall);
  log->wall_ms = rc == CUDA_SUCCESS ? wall : 0;
  if (rt_cuda_check(rc, "cuModuleLoadDataEx", __func__, __FILE__, d)) {
    mem_free(m);
    if (d && log->error[0]) {
      size_t n = strlen(d->msg);
      snprintf(d->msg + n, sizeof d->msg - n, "\nthe PTX JIT (ptxas) said:\n%s", log->error);
    }
    return HL_ERR;
  }
  *out = m;
  return HL_OK;
}

int rt_cuda_module_unload(RtCudaModule *m, Diag *d) {
  if (!m) return HL_OK;
  int rc = HL_OK;
  if (rt_cuda_state.phase == RT_CUDA_READY && rt_cuda_enter(d) == HL_OK)
    rc = RT_CU(d, cuModuleUnload, (m->mod));
  for (int i = 0; i < m->nfuncs; i++) mem_free(m->funcs[i]);
  mem_free(m->funcs);
  mem_free(m);
  return rc;
}

int rt_cuda_module_function(RtCudaModule *m, const char *name, RtCudaFunc **out, Diag *d) {
  for (int i = 0; i < m->nfuncs; i++)
    if (strcmp(m->funcs[i]->name, name) == 0) return *out = m->funcs[i], HL_OK;
  if (strlen(name) >= sizeof m->funcs[0]->name)
    return diag_set(d, "kernel name '%.40s...' is too long", name);
  if (rt_cuda_enter(d)) return HL_ERR;
  CUfunction fn = NULL;
  if (RT_CU(d, cuModuleGetFunction, (&fn, m->mod, name)))
    return diag_prefix(d, "looking up kernel '%s': ", name);
  if (m->nfuncs == m->cap) {
    int cap = m->cap ? m->cap * 2 : 4;
    RtCudaFunc **fs = mem_realloc(m->funcs, sizeof *fs * (size_t)cap);
    if (!fs) return diag_set(d, "out of memory");
    m->funcs = fs;
    m->cap = cap;
  }
  RtCudaFunc *f = mem_calloc(1, sizeof *f);
  if (!f) return diag_set(d, "out of memory");
  f->fn = fn;
  snprintf(f->name, sizeof f->name, "%s", name);
  m->funcs[m->nfuncs++] = f;
  *out = f;
  return HL_OK;
}

int rt_cuda_func_attrs(RtCudaFunc *f, RtCudaFuncAttrs *out, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  const struct {
    int attr;
    int *dst;
  } attrs[] = {
      {CU_FUNC_ATTRIBUTE_NUM_REGS, &out->num_regs},
      {CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, &out->static_shared_bytes},
      {CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, &out->local_bytes},
      {CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES, &out->const_bytes},
      {CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &out->max_threads_per_block},
  };
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
    if (RT_CU(d, cuFuncGetAttribute, (attrs[i].dst, attrs[i].attr, f->fn)))
      return diag_prefix(d, "kernel '%s': ", f->name);
  return HL_OK;
}

/* ---- launches ----------------------------------------------------------------------------- */

int rt_cuda_launch(RtCudaFunc *f, const RtCudaLaunch *l, void **args, Diag *d) {
  for (int i = 0; i < 3; i++)
    if (l->grid[i] == 0 || l->block[i] == 0)
      return diag_set(d, "launching '%s': grid (%u, %u, %u) and block (%u, %u, %u) must be >= 1 "
                         "in every dim", f->name, l->grid[0], l->grid[1], l->grid[2],
                      l->block[0], l->block[1], l->block[2]);
  if (rt_cuda_enter(d)) return HL_ERR;
  if (l->shared_bytes > RT_CUDA_STATIC_SHARED_LIMIT && l->shared_bytes > f->shared_opt_in) {
    if (RT_CU(d, cuFuncSetAttribute,
              (f->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)l->shared_bytes)))
      return diag_prefix(d, "kernel '%s' asking for %u bytes of dynamic shared memory: ", f->name,
                         l->shared_bytes);
    f->shared_opt_in = l->shared_bytes;
  }
  if (RT_CU(d, cuLaunchKernel,
            (f->fn, l->grid[0], l->grid[1], l->grid[2], l->block[0], l->block[1], l->block[2],
             l->shared_bytes, NULL, args, NULL)))
    return diag_prefix(d, "launching '%s' on grid (%u, %u, %u), block (%u, %u, %u), %u shared "
                          "bytes: ", f->name, l->grid[0], l->grid[1], l->grid[2], l->block[0],
                       l->block[1], l->block[2], l->shared_bytes);
  return HL_OK;
}

int rt_cuda_synchronize(Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  return RT_CU(d, cuCtxSynchronize, ());
}

int rt_cuda_stream_synchronize(Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  return RT_CU(d, cuStreamSynchronize, (NULL));
}

/* ---- events (an RtCudaEvent is the CUevent itself) ---------------------------------------- */

int rt_cuda_event_create(RtCudaEvent **out, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  CUevent e = NULL;
  if (RT_CU(d, cuEventCreate, (&e, CU_EVENT_DEFAULT))) return HL_ERR;
  *out = (RtCudaEvent *)e;
  return HL_OK;
}

int rt_cuda_event_destroy(RtCudaEvent *e, Diag *d) {
  if (!e || rt_cuda_state.phase != RT_CUDA_READY) return HL_OK;
  if (rt_cuda_enter(d)) return HL_ERR;
  return RT_CU(d, cuEventDestroy_v2, ((CUevent)e));
}

int rt_cuda_event_record(RtCudaEvent *e, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  return RT_CU(d, cuEventRecord, ((CUevent)e, NULL));
}

int rt_cuda_event_synchronize(RtCudaEvent *e, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  return RT_CU(d, cuEventSynchronize, ((CUevent)e));
}

int rt_cuda_event_elapsed_ms(RtCudaEvent *start, RtCudaEvent *end, float *ms, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  if (rt_cu.cuEventElapsedTime_v2)
    return RT_CU(d, cuEventElapsedTime_v2, (ms, (CUevent)start, (CUevent)end));
  return RT_CU(d, cuEventElapsedTime, (ms, (CUevent)start, (CUevent)end));
}
