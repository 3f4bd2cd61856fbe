/* Diagnostics: the error value every stage returns instead of raising or aborting.
 * Part of src/base (shared by every pipeline stage); only src/bind turns a Diag into a Lua error. */
#ifndef HELUA_BASE_DIAG_H
#define HELUA_BASE_DIAG_H

#include <stdarg.h>

/* A status is 0 on success and -1 on failure; on failure the callee filled the Diag. */
#define HL_OK 0
#define HL_ERR (-1)

typedef struct Diag {
  char msg[1024];   /* what went wrong and what to do, one or more lines */
  char file[256];   /* source anchor, "" when the error has none */
  int line;         /* 1-based line of the anchor, 0 when unknown */
} Diag;

void diag_clear(Diag *d);
/* Fills d->msg (printf-style), clears the anchor (file, line: set them after this call), and
 * returns HL_ERR, so callers can `return diag_set(d, ...)`.
 * d may be NULL, in which case the message is dropped. */
int diag_set(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int diag_vset(Diag *d, const char *fmt, va_list ap);
/* Prepends context ("while loading x: ") to an existing message. */
int diag_prefix(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
