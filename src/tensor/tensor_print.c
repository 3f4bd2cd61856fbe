/* Printing tensors like torch does: same number formatter (integer / fixed / scientific mode,
 * 4 digits), same line wrapping at 80 columns, same summarizing with "..." past 1000 elements
 * (3 edge items per dim). Differences: the dtype is always shown, bools print as true/false.
 * Part of src/tensor (host tensors). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/textbuf.h"
#include "tensor/tensor_internal.h"

#define LINE_WIDTH 80
#define EDGE 3
#define THRESHOLD 1000

typedef TextBuf Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
  textbuf_add(b, s, n, 256);
}

static void buf_str(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_spaces(Buf *b, int n) {
  for (int i = 0; i < n; i++) buf_add(b, " ", 1);
}

typedef struct Fmt {
  DType dt;
  bool floating, int_mode, sci_mode;
  int width;
  /* first pass: statistics over the shown values */
  bool any;
  double amin, amax;
} Fmt;

/* Calls visit(value pointer) for every shown element, in order. */
typedef void (*VisitFn)(const char *p, void *ctx);

static void walk(const Tensor *t, int dim, const char *p, bool summarize, VisitFn fn, void *ctx) {
  if (dim == t->ndim) {
    fn(p, ctx);
    return;
  }
  int64_t n = t->sizes[dim], es = (int64_t)tensor_dtype_size(t->dtype);
  for (int64_t i = 0; i < n; i++) {
    if (summarize && n > 2 * EDGE && i == EDGE) i = n - EDGE;
    walk(t, dim + 1, p + i * t->strides[dim] * es, summarize, fn, ctx);
  }
}

static void fmt_raw(const Fmt *f, const char *p, char *out, size_t cap) {
  if (f->dt == DT_BOOL) {
    snprintf(out, cap, "%s", *(const uint8_t *)p ? "true" : "false");
  } else if (!f->floating) {
    snprintf(out, cap, "%lld", (long long)tensor_read_i64(p, f->dt));
  } else {
    double v = tensor_read_f64(p, f->dt);
    if (v != v) snprintf(out, cap, "nan");
    else if (isinf(v)) snprintf(out, cap, v > 0 ? "inf" : "-inf");
    else if (f->sci_mode) snprintf(out, cap, "%.4e", v);
    else if (f->int_mode) snprintf(out, cap, "%.0f.", v);
    else snprintf(out, cap, "%.4f", v);
  }
}

static void stats_visit(const char *p, void *ctx) {
  Fmt *f = ctx;
  if (!f->floating) {
    char s[64];
    fmt_raw(f, p, s, sizeof s);
    int w = (int)strlen(s);
    if (w > f->width) f->width = w;
    return;
  }
  double v = tensor_read_f64(p, f->dt);
  if (v != v || isinf(v) || v == 0) return;
  double a = fabs(v);
  if (!f->any || a < f->amin) f->amin = a;
  if (!f->any || a > f->amax) f->amax = a;
  f->any = true;
  if (v != ceil(v)) f->int_mode = false;
}

static void width_visit(const char *p, void *ctx) {
  Fmt *f = ctx;
  double v = tensor_read_f64(p, f->dt);
  if (v != v || isinf(v) || v == 0) return;
  char s[64];
  fmt_raw(f, p, s, sizeof s);
  int w = (int)strlen(s); /* int mode's "." is already counted here, as torch adds 1 */
  if (w > f->width) f->width = w;
}

static void fmt_init(Fmt *f, const Tensor *t, const char *base, bool summarize) {
  memset(f, 0, sizeof *f);
  f->dt = t->dtype;
  f->floating = tensor_dtype_is_float(t->dtype);
  f->int_mode = true;
  f->width = 1;
  walk(t, 0, base, summarize, stats_visit, f);
  if (!f->floating || !f->any) return;
  double ratio = f->amax / f->amin;
  if (f->int_mode) f->sci_mode = ratio > 1000.0 || f->amax > 1.0e8;
  else f->sci_mode = ratio > 1000.0 || f->amax > 1.0e8 || f->amin < 1.0e-4;
  walk(t, 0, base, summarize, width_visit, f);
}

static void fmt_value(const Fmt *f, const char *p, Buf *b) {
  char s[64];
  fmt_raw(f, p, s, sizeof s);
  buf_spaces(b, f->width - (int)strlen(s));
  buf_str(b, s);
}

static void print_dim(const Tensor *t, int dim, const char *p, int indent, bool summarize,
                      const Fmt *f, Buf *b) {
  int64_t n = t->sizes[dim], es = (int64_t)tensor_dtype_size(t->dtype);
  int rest = t->ndim - dim; /* dims left including this one */
  buf_str(b, "[");
  if (rest == 1) {
    int per_line = (LINE_WIDTH - indent) / (f->width + 2);
    if (per_line < 1) per_line = 1;
    int on_line = 0;
    for (int64_t i = 0; i < n; i++) {
      bool dots = summarize && n > 2 * EDGE && i == EDGE;
      if (i > 0) {
        if (on_line == per_line) {
          buf_str(b, ",\n");
          buf_spaces(b, indent + 1);
          on_line = 0;
        } else {
          buf_str(b, ", ");
        }
      }
      if (dots) {
        buf_str(b, " ...");
        i = n - EDGE - 1;
      } else {
        fmt_value(f, p + i * t->strides[dim] * es, b);
      }
      on_line++;
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      if (i > 0) {
        buf_str(b, ",");
        for (int k = 0; k < rest - 1; k++) buf_str(b, "\n");
        buf_spaces(b, indent + 1);
      }
      if (summarize && n > 2 * EDGE && i == EDGE) {
        buf_str(b, "...");
        i = n - EDGE - 1;
        continue;
      }
      print_dim(t, dim + 1, p + i * t->strides[dim] * es, indent + 1, summarize, f, b);
    }
  }
  buf_str(b, "]");
}

/* torch's _add_suffixes: ", suffix" on the last line, or on a new line past 80 columns. */
static void add_suffix(Buf *b, const char *suffix) {
  if (b->oom) return;
  const char *nl = strrchr(b->p, '\n');
  size_t last = nl ? (size_t)(b->p + b->len - nl) + 1 : b->len + 2;
  if (last + strlen(suffix) + 2 > LINE_WIDTH) {
    buf_str(b, ",\n");
    buf_spaces(b, 7);
  } else {
    buf_str(b, ", ");
  }
  buf_str(b, suffix);
}

int tensor_to_string(const Tensor *t, char **out, Diag *d) {
  Buf b = {0};
  const char *base = tensor_data(t);
  buf_str(&b, "tensor(");
  int64_t numel = tensor_numel(t);
  char suffix[200];
  if (numel == 0) {
    buf_str(&b, "[]");
    if (t->ndim != 1) {
      size_t n = (size_t)snprintf(suffix, sizeof suffix, "size=(");
      for (int i = 0; i < t->ndim; i++)
        n += (size_t)snprintf(suffix + n, sizeof suffix - n, i ? ", %lld" : "%lld",
                              (long long)t->sizes[i]);
      snprintf(suffix + n, sizeof suffix - n, t->ndim == 1 ? ",)" : ")");
      add_suffix(&b, suffix);
    }
  } else {
    bool summarize = numel > THRESHOLD;
    Fmt f;
    fmt_init(&f, t, base, summarize);
    if (t->ndim == 0) fmt_value(&f, base, &b);
    else print_dim(t, 0, base, 7, summarize, &f, &b);
  }
  snprintf(suffix, sizeof suffix, "dtype=%s", tensor_dtype_name(t->dtype));
  add_suffix(&b, suffix);
  buf_str(&b, ")");
  if (b.oom) {
    mem_free(b.p);
    return diag_set(d, "out of memory printing a tensor");
  }
  *out = b.p;
  return HL_OK;
}
