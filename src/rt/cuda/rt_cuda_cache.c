/* The caching device allocator: tensors' device memory is reused instead of going back to the
 * driver every call. Part of src/rt/cuda (the CUDA runtime).
 *
 * Why: cuMemAlloc_v2 costs microseconds of host time and cuMemFree_v2 synchronizes the device,
 * so a kernel whose host code allocates its output every call paid both (share/doc/gpu.md).
 * The rules:
 * - A request is rounded up to its size class: 512-byte steps below 1 MiB (0 bytes takes 512),
 *   2 MiB steps from 1 MiB up. A block keeps its class for life; only a request of the same
 *   class reuses it (no splitting, no best fit: an exact class match or the driver).
 * - rt_cuda_free puts the block on its class's free list (LIFO: the most recently freed block,
 *   likeliest still in L2, comes back first). Past the cap on cached bytes (HELUA_CUDA_CACHE_MB,
 *   default 4096; 0 turns caching off: every free is a cuMemFree_v2) the oldest freed blocks
 *   go back to the driver until the cache fits again.
 * - An allocation the driver refuses with CUDA_ERROR_OUT_OF_MEMORY releases every cached block
 *   and is retried once; a second refusal is the error the caller sees.
 * - rt_cuda_empty_cache releases every cached block; rt_cuda_shutdown does too, and forgets the
 *   blocks still in use (their memory goes with the context).
 * Ordering: helua runs everything on the default (legacy) stream, so work queued on a block
 * before it was freed completes before any work queued by its next owner: a reused block needs
 * no event or synchronization. Code that adds other streams must record an event at free time.
 * A mutex guards the lists; the tuner's workers are separate processes with caches of their own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/flags.h"
#include "base/mem.h"
#include "rt/cuda/rt_cuda_internal.h"

enum { CUDA_ERROR_OUT_OF_MEMORY = 2 };

#define SMALL_LIMIT ((size_t)1 << 20)
#define SMALL_STEP ((size_t)512)
#define LARGE_STEP ((size_t)2 << 20)
#define NBUCKETS 256 /* hash buckets of both tables; chains stay short at helua's tensor counts */
#define DEFAULT_CAP_MB 4096

typedef struct CacheBlock {
  CUdeviceptr ptr;
  size_t size;              /* the class's size, what the driver gave */
  unsigned long long stamp; /* when it was freed: the oldest go first past the cap */
  struct CacheBlock *next;  /* in a live bucket (by address) or a free bucket (by size) */
} CacheBlock;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static CacheBlock *live[NBUCKETS], *freed[NBUCKETS];
static RtCudaMemStats stats;
static unsigned long long clock_tick;
static long long cap_bytes = -1; /* -1: not read yet (read at the first allocation) */

size_t rt_cuda_cache_round(size_t nbytes) {
  if (nbytes == 0) return SMALL_STEP;
  size_t step = nbytes < SMALL_LIMIT ? SMALL_STEP : LARGE_STEP;
  if (nbytes > SIZE_MAX - step) return 0; /* no class: the caller reports it */
  return (nbytes + step - 1) / step * step;
}

static unsigned bucket_of_ptr(CUdeviceptr p) { return (unsigned)((p >> 9) * 2654435761u) % NBUCKETS; }
static unsigned bucket_of_size(size_t s) { return (unsigned)((s >> 9) * 2654435761u) % NBUCKETS; }

static int read_cap(Diag *d) {
  if (cap_bytes >= 0) return HL_OK;
  const char *v = flags_get("HELUA_CUDA_CACHE_MB");
  long long mb = DEFAULT_CAP_MB;
  if (v) {
    char *end = NULL;
    errno = 0;
    mb = strtoll(v, &end, 10);
    if (errno || end == v || *end || mb < 0 || mb > ((long long)1 << 40))
      return diag_set(d, "HELUA_CUDA_CACHE_MB is '%s': give the cap on cached device memory "
                         "as a whole number of MiB (0 turns the cache off)", v);
  }
  cap_bytes = mb << 20;
  return HL_OK;
}

/* Gives one block back to the driver; the caller holds the lock and has unlinked it. */
static int release_block(CacheBlock *b, Diag *d) {
  int rc = RT_CU(d, cuMemFree_v2, (b->ptr));
  stats.cached -= b->size;
  stats.releases++;
  mem_free(b);
  return rc;
}

/* Every cached block back to the driver (the lock held). The first failure is reported; the
 * rest are still released. */
static int release_all(Diag *d) {
  int rc = HL_OK;
  Diag ignored;
  for (int i = 0; i < NBUCKETS; i++)
    while (freed[i]) {
      CacheBlock *b = freed[i];
      freed[i] = b->next;
      if (release_block(b, rc ? &ignored : d)) rc = HL_ERR;
    }
  return rc;
}

/* The oldest cached block goes back until the cache fits its cap (the lock held). */
static int trim(Diag *d) {
  while (stats.cached > (size_t)cap_bytes) {
    CacheBlock **oldest = NULL;
    for (int i = 0; i < NBUCKETS; i++)
      for (CacheBlock **at = &freed[i]; *at; at = &(*at)->next)
        if (!oldest || (*at)->stamp < (*oldest)->stamp) oldest = at;
    if (!oldest) break;
    CacheBlock *b = *oldest;
    *oldest = b->next;
    if (release_block(b, d)) return HL_ERR;
  }
  return HL_OK;
}

static CacheBlock *take_cached(size_t size) {
  for (CacheBlock **at = &freed[bucket_of_size(size)]; *at; at = &(*at)->next)
    if ((*at)->size == size) {
      CacheBlock *b = *at;
      *at = b->next;
      stats.cached -= size;
      return b;
    }
  return NULL;
}

/* A fresh block from the driver; on out-of-memory the cache is emptied and the call retried. */
static int driver_alloc(size_t size, CUdeviceptr *p, Diag *d) {
  CUresult rc = rt_cu.cuMemAlloc_v2(p, size);
  stats.driver_allocs++;
  if (rc == CUDA_ERROR_OUT_OF_MEMORY && stats.cached > 0) {
    stats.oom_retries++;
    if (release_all(d)) return HL_ERR;
    rc = rt_cu.cuMemAlloc_v2(p, size);
    stats.driver_allocs++;
  }
  return rt_cuda_check(rc, "cuMemAlloc_v2", "rt_cuda_alloc", __FILE__, d);
}

int rt_cuda_alloc(size_t nbytes, RtCudaPtr *out, Diag *d) {
  if (rt_cuda_enter(d)) return HL_ERR;
  size_t size = rt_cuda_cache_round(nbytes);
  if (!size) return diag_set(d, "allocating %zu bytes of device memory: too large", nbytes);
  pthread_mutex_lock(&cache_lock);
  int rc = read_cap(d);
  CacheBlock *b = rc ? NULL : take_cached(size);
  if (b) {
    stats.hits++;
  } else if (!rc) {
    b = mem_alloc(sizeof *b);
    CUdeviceptr p = 0;
    if (!b) {
      rc = diag_set(d, "out of host memory for the device allocator's bookkeeping");
    } else if (driver_alloc(size, &p, d)) {
      mem_free(b);
      b = NULL;
      rc = HL_ERR;
    } else {
      b->ptr = p;
      b->size = size;
      stats.misses++;
    }
  }
  if (b) {
    unsigned h = bucket_of_ptr(b->ptr);
    b->next = live[h];
    live[h] = b;
    stats.allocated += b->size;
    *out = (RtCudaPtr)b->ptr;
  }
  pthread_mutex_unlock(&cache_lock);
  if (rc) return diag_prefix(d, "allocating %zu bytes of device memory: ", nbytes);
  return HL_OK;
}

int rt_cuda_free(RtCudaPtr p, Diag *d) {
  /* After a shutdown the context (and every allocation in it) is gone already. */
  if (!p || rt_cuda_state.phase != RT_CUDA_READY) return HL_OK;
  if (rt_cuda_enter(d)) return HL_ERR;
  pthread_mutex_lock(&cache_lock);
  CacheBlock **at = &live[bucket_of_ptr((CUdeviceptr)p)];
  while (*at && (*at)->ptr != (CUdeviceptr)p) at = &(*at)->next;
  int rc = HL_OK;
  if (!*at) {
    /* Not ours: memory of a context shut down since, which went with it. */
    rc = diag_set(d, "rt_cuda_free: 0x%llx is not a live device allocation of this context",
                  (unsigned long long)p);
  } else {
    CacheBlock *b = *at;
    *at = b->next;
    stats.allocated -= b->size;
    b->stamp = ++clock_tick;
    unsigned h = bucket_of_size(b->size);
    b->next = freed[h];
    freed[h] = b;
    stats.cached += b->size;
    rc = trim(d);
  }
  pthread_mutex_unlock(&cache_lock);
  return rc;
}

int rt_cuda_empty_cache(Diag *d) {
  if (rt_cuda_state.phase != RT_CUDA_READY) return HL_OK; /* nothing can be cached */
  if (rt_cuda_enter(d)) return HL_ERR;
  pthread_mutex_lock(&cache_lock);
  int rc = release_all(d);
  pthread_mutex_unlock(&cache_lock);
  return rc;
}

void rt_cuda_mem_stats(RtCudaMemStats *out) {
  pthread_mutex_lock(&cache_lock);
  *out = stats;
  pthread_mutex_unlock(&cache_lock);
}

void rt_cuda_cache_shutdown(void) {
  Diag ignored;
  pthread_mutex_lock(&cache_lock);
  /* Cached blocks go back while the context is still current; blocks in use are forgotten. */
  if (rt_cuda_state.phase == RT_CUDA_READY && rt_cuda_enter(&ignored) == HL_OK)
    release_all(&ignored);
  for (int i = 0; i < NBUCKETS; i++) {
    CacheBlock *lists[2] = {live[i], freed[i]};
    for (int k = 0; k < 2; k++)
      while (lists[k]) {
        CacheBlock *b = lists[k];
        lists[k] = b->next;
        mem_free(b);
      }
    live[i] = freed[i] = NULL;
  }
  memset(&stats, 0, sizeof stats);
  cap_bytes = -1; /* read again: tests change HELUA_CUDA_CACHE_MB between runs */
  pthread_mutex_unlock(&cache_lock);
}
