/* Memory: allocation through one hook, with failure injection and a live count for tests.
 * Part of src/base. */
#include "base/mem.h"

#include <stdatomic.h>
#include <stdlib.h>

static atomic_long fail_countdown;
static atomic_long live;

static int should_fail(void) {
  long n = atomic_load(&fail_countdown);
  if (n <= 0) return 0;
  if (atomic_fetch_sub(&fail_countdown, 1) == 1) return 1;
  return 0;
}

void mem_fail_after(long n) { atomic_store(&fail_countdown, n); }
long mem_live_count(void) { return atomic_load(&live); }

void *mem_alloc(size_t n) {
  if (should_fail()) return NULL;
  void *p = malloc(n ? n : 1);
  if (p) atomic_fetch_add(&live, 1);
  return p;
}

void *mem_calloc(size_t count, size_t size) {
  if (should_fail()) return NULL;
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (p) atomic_fetch_add(&live, 1);
  return p;
}

void *mem_realloc(void *p, size_t n) {
  if (!p) return mem_alloc(n);
  if (should_fail()) return NULL;
  return realloc(p, n ? n : 1);
}

void mem_free(void *p) {
  if (!p) return;
  atomic_fetch_sub(&live, 1);
  free(p);
}

bool mem_reserve(void **p, size_t *cap, size_t need, size_t first) {
  if (need <= *cap) return true;
  size_t ncap = *cap ? *cap * 2 : first;
  while (ncap < need)
    ncap *= 2;
  void *q = mem_realloc(*p, ncap);
  if (!q) return false;
  *p = q;
  *cap = ncap;
  return true;
}

bool mem_grow(void **p, int *cap, int need, size_t elem, int first) {
  size_t bytes = (size_t)*cap * elem;
  if (!mem_reserve(p, &bytes, (size_t)need * elem, (size_t)first * elem)) return false;
  *cap = (int)(bytes / elem);
  return true;
}

void *mem_alloc_aligned(size_t n) {
  if (should_fail()) return NULL;
  void *p = NULL;
  size_t rounded = (n + 63) & ~(size_t)63;
  if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0) return NULL;
  atomic_fetch_add(&live, 1);
  return p;
}

void mem_free_aligned(void *p) { mem_free(p); }
