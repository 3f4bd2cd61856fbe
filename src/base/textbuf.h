/* A growing NUL-terminated string: what the text stages (ir print, tensor print, the Triton
 * renderer, the code stages' source notes) append to. Part of src/base. */
#ifndef HELUA_BASE_TEXTBUF_H
#define HELUA_BASE_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct TextBuf {
  char *p;    /* mem_alloc'ed, NUL-terminated once anything was added; NULL before */
  size_t len; /* bytes before the NUL */
  size_t cap;
  bool oom;   /* an append failed: later ones do nothing; the owner reports it */
} TextBuf;

/* Appends n bytes of s (capacity doubles from `first` bytes; 0: 256). */
void textbuf_add(TextBuf *b, const char *s, size_t n, size_t first);

#endif
