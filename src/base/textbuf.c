/* A growing NUL-terminated string (see textbuf.h). Part of src/base. */
#include "base/textbuf.h"

#include <string.h>

#include "base/mem.h"

void textbuf_add(TextBuf *b, const char *s, size_t n, size_t first) {
  if (b->oom) return;
  if (!mem_reserve((void **)&b->p, &b->cap, b->len + n + 1, first ? first : 256)) {
    b->oom = true;
    return;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}
