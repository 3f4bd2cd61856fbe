/* Memory: the one allocation hook every stage allocates through.
 * Part of src/base. Tests make the N-th allocation fail to check that errors are handled. */
#ifndef HELUA_BASE_MEM_H
#define HELUA_BASE_MEM_H

#include <stdbool.h>
#include <stddef.h>

void *mem_alloc(size_t n);            /* NULL on failure (real or injected) */
void *mem_calloc(size_t count, size_t size);
void *mem_realloc(void *p, size_t n);
void mem_free(void *p);
/* Room for `need` bytes in the buffer *p (mem_realloc'ed, *cap bytes): the capacity doubles,
 * from `first` when empty. false when out of memory (*p, *cap unchanged). */
bool mem_reserve(void **p, size_t *cap, size_t need, size_t first);
/* The same for an array of *cap elements of `elem` bytes: room for `need` elements. */
bool mem_grow(void **p, int *cap, int need, size_t elem, int first);
/* Aligned allocation for tensor storage (64-byte aligned); free with mem_free_aligned. */
void *mem_alloc_aligned(size_t n);
void mem_free_aligned(void *p);

/* Test hook: make the n-th allocation from now fail (1 = the next one); 0 disables. */
void mem_fail_after(long n);
/* Number of live allocations made through this hook (for leak checks in tests). */
long mem_live_count(void);

#endif
