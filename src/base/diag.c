/* Diagnostics: filling and composing error messages.
 * Part of src/base (shared by every pipeline stage). */
#include "base/diag.h"

#include <stdio.h>
#include <string.h>

void diag_clear(Diag *d) {
  if (!d) return;
  d->msg[0] = '\0';
  d->file[0] = '\0';
  d->line = 0;
}

int diag_vset(Diag *d, const char *fmt, va_list ap) {
  if (!d) return HL_ERR;
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  /* a new diagnosis has no anchor until its caller sets one (after this call): a Diag on the
   * stack that nobody cleared must not carry a stale or garbage file:line into the message */
  d->file[0] = '\0';
  d->line = 0;
  return HL_ERR;
}

int diag_set(Diag *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_vset(d, fmt, ap);
  va_end(ap);
  return HL_ERR;
}

int diag_prefix(Diag *d, const char *fmt, ...) {
  if (!d) return HL_ERR;
  char head[512], old[sizeof d->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  memcpy(old, d->msg, sizeof old);
  size_t n = strlen(head);
  if (n >= sizeof d->msg) n = sizeof d->msg - 1;
  memcpy(d->msg, head, n);
  snprintf(d->msg + n, sizeof d->msg - n, "%s", old);
  return HL_ERR;
}
