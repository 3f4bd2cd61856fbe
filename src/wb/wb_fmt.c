/* The workbench's pure formatting (see wb_fmt.h): records, bar, plot, trial table, breakpoints,
 * line origins. Part of src/wb. */
#include "wb/wb_fmt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb/wb_layout.h"

static void unescape(char *s) {
  char *o = s;
  for (char *p = s; *p; p++) {
    if (*p == '\\' && p[1]) {
      p++;
      *o++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
}

int wb_rec_split(char *line, char **fields, int max) {
  int n = 0;
  size_t len = strlen(line);
  if (len && line[len - 1] == '\n') line[--len] = '\0';
  char *p = line;
  while (n < max) {
    fields[n++] = p;
    char *tab = strchr(p, '\t');
    if (!tab) break;
    *tab = '\0';
    p = tab + 1;
  }
  for (int i = 0; i < n; i++)
    unescape(fields[i]);
  return n;
}

int wb_rec_escape(char *out, size_t cap, const char *s) {
  size_t o = 0;
  for (; *s; s++) {
    const char *e = *s == '\\' ? "\\\\" : *s == '\t' ? "\\t" : *s == '\n' ? "\\n" : NULL;
    size_t k = e ? 2 : 1;
    if (o + k + 1 > cap) return -1;
    if (e)
      memcpy(out + o, e, 2);
    else
      out[o] = *s;
    o += k;
  }
  if (o + 1 > cap) return -1;
  out[o] = '\0';
  return 0;
}

/* A growing string for the transcript. */
typedef struct Buf {
  char *s;
  size_t n, cap;
  int oom;
} Buf;

static void buf_add(Buf *b, const char *s, size_t k) {
  if (b->oom) return;
  if (b->n + k + 1 > b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 256;
    while (nc < b->n + k + 1)
      nc *= 2;
    char *ns = realloc(b->s, nc);
    if (!ns) {
      b->oom = 1;
      return;
    }
    b->s = ns;
    b->cap = nc;
  }
  memcpy(b->s + b->n, s, k);
  b->n += k;
  b->s[b->n] = '\0';
}

/* Each line of text with a prefix (first for the first line, rest for the others). */
static void buf_lines(Buf *b, const char *text, const char *first, const char *rest) {
  const char *p = text;
  for (int i = 0;; i++) {
    const char *e = strchr(p, '\n');
    size_t k = e ? (size_t)(e - p) : strlen(p);
    const char *pre = i ? rest : first;
    buf_add(b, pre, strlen(pre));
    buf_add(b, p, k);
    buf_add(b, "\n", 1);
    if (!e || !e[1]) break;
    p = e + 1;
  }
}

char *wb_nb_transcript(const WbCell *cells, int n) {
  Buf b = {0};
  buf_add(&b, "", 0);
  for (int i = 0; i < n; i++) {
    char pre[32];
    snprintf(pre, sizeof pre, "[%d]> ", i + 1);
    buf_lines(&b, cells[i].code ? cells[i].code : "", pre, "...> ");
    if (cells[i].out && *cells[i].out) buf_lines(&b, cells[i].out, "  ", "  ");
    if (cells[i].state == WB_CELL_RUNNING) buf_add(&b, "  (running)\n", 12);
  }
  if (b.oom) {
    free(b.s);
    return NULL;
  }
  return b.s;
}

/* Appends the UTF-8 string s to out at *o; 0 when it does not fit. */
static int put(char *out, size_t cap, size_t *o, const char *s) {
  size_t k = strlen(s);
  if (*o + k + 1 > cap) return 0;
  memcpy(out + *o, s, k + 1);
  *o += k;
  return 1;
}

int wb_bar(char *out, size_t cap, double frac, int width) {
  size_t o = 0;
  if (cap == 0) return 0;
  out[0] = '\0';
  if (width < 2) return 0;
  if (!(frac >= 0)) frac = 0; /* NaN too */
  if (frac > 1) frac = 1;
  int inner = width - 2, full = (int)(frac * inner + 0.5);
  if (!put(out, cap, &o, "[")) return 0;
  for (int i = 0; i < inner; i++)
    if (!put(out, cap, &o, i < full ? "█" : "░")) return 1 + i;
  if (!put(out, cap, &o, "]")) return width - 1;
  return width;
}

static const char *const eighths[9] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};

int wb_plot(char *out, size_t cap, const double *t, const double *y, int n, int rows, int cols) {
  if (n < 1 || rows < 1 || cols < 1 || cap == 0) return -1;
  double lo = y[0], hi = y[0], t0 = t[0], t1 = t[n - 1];
  for (int i = 1; i < n; i++) {
    if (y[i] < lo) lo = y[i];
    if (y[i] > hi) hi = y[i];
  }
  int *height = malloc(sizeof(int) * (size_t)cols); /* in eighths of a row */
  if (!height) return -1;
  int levels = rows * 8;
  for (int c = 0, k = 0; c < cols; c++) {
    /* the value at the column's right edge: the last point at or before it */
    double edge = t1 > t0 ? t0 + (t1 - t0) * (c + 1) / cols : t1;
    while (k + 1 < n && t[k + 1] <= edge)
      k++;
    double v = y[k];
    /* the lowest value is one eighth high (visible), the highest the full height */
    height[c] = hi > lo ? 1 + (int)((v - lo) / (hi - lo) * (levels - 1) + 0.5) : levels / 2 + 1;
  }
  size_t o = 0;
  int ok = 1;
  for (int r = 0; r < rows && ok; r++) {
    int base = (rows - 1 - r) * 8; /* eighths below this row */
    for (int c = 0; c < cols && ok; c++) {
      int e = height[c] - base;
      ok = put(out, cap, &o, eighths[e < 0 ? 0 : e > 8 ? 8 : e]);
    }
    if (ok && r + 1 < rows) ok = put(out, cap, &o, "\n");
  }
  free(height);
  return ok ? 0 : -1;
}

const char *const wb_sort_names[WB_NSORT] = {"rank", "trial", "status", "config"};

static const WbTrial *sort_base;
static int sort_col;

static int is_ok(const WbTrial *t) {
  return strcmp(t->status, "ok") == 0 && t->time_ms >= 0;
}

static int by_time(const WbTrial *a, const WbTrial *b) {
  int oa = is_ok(a), ob = is_ok(b);
  if (oa != ob) return ob - oa;
  if (oa && a->time_ms != b->time_ms) return a->time_ms < b->time_ms ? -1 : 1;
  return 0;
}

static int cmp_trials(const void *pa, const void *pb) {
  int ia = *(const int *)pa, ib = *(const int *)pb;
  const WbTrial *a = sort_base + ia, *b = sort_base + ib;
  int c = 0;
  switch (sort_col) {
  case WB_SORT_RANK:
    c = by_time(a, b);
    break;
  case WB_SORT_STATUS:
    c = strcmp(a->status, b->status);
    if (!c) c = by_time(a, b);
    break;
  case WB_SORT_CONFIG:
    c = strcmp(a->config, b->config);
    break;
  default:
    break;
  }
  if (!c) c = a->index != b->index ? (a->index < b->index ? -1 : 1) : (ia < ib ? -1 : ia > ib);
  return c;
}

void wb_trials_sort(const WbTrial *t, int n, int col, int *order) {
  for (int i = 0; i < n; i++)
    order[i] = i;
  sort_base = t;
  sort_col = col;
  qsort(order, (size_t)n, sizeof *order, cmp_trials);
}

void wb_trials_rank(const WbTrial *t, int n, int *rank) {
  for (int i = 0; i < n; i++) {
    rank[i] = 0;
    if (!is_ok(&t[i])) continue;
    int r = 1;
    for (int j = 0; j < n; j++)
      if (j != i && is_ok(&t[j]) &&
          (t[j].time_ms < t[i].time_ms || (t[j].time_ms == t[i].time_ms && j < i)))
        r++;
    rank[i] = r;
  }
}

static int pad_to(char *out, size_t cap, const char *s, int width) {
  char tmp[1024];
  int got = wb_clip(tmp, sizeof tmp, s, strlen(s), 0, width);
  size_t o = strlen(tmp);
  if (o + (size_t)(width - got) + 1 > cap) {
    if (cap) out[0] = '\0';
    return 0;
  }
  memcpy(out, tmp, o);
  for (int c = got; c < width; c++)
    out[o++] = ' ';
  out[o] = '\0';
  return width;
}

int wb_trial_header(char *out, size_t cap, const char *unit, int width) {
  char line[256];
  snprintf(line, sizeof line, " rank trial gen    time ms %10s  status   device  config",
           unit && *unit ? unit : "");
  return pad_to(out, cap, line, width);
}

int wb_trial_row(char *out, size_t cap, const WbTrial *t, int rank, int width) {
  char line[1024], r[16], tm[32], tp[32];
  if (rank > 0)
    snprintf(r, sizeof r, "%5d", rank);
  else
    snprintf(r, sizeof r, "%5s", "-");
  if (t->time_ms >= 0)
    snprintf(tm, sizeof tm, "%10.4f", t->time_ms);
  else
    snprintf(tm, sizeof tm, "%10s", "-");
  if (t->tput >= 0 && t->time_ms >= 0)
    snprintf(tp, sizeof tp, "%10.2f", t->tput);
  else
    snprintf(tp, sizeof tp, "%10s", "");
  snprintf(line, sizeof line, "%s %5d %3d %s %s  %-8s %-7s %s", r, t->index, t->generation, tm,
           tp, t->status, t->device, t->config);
  return pad_to(out, cap, line, width);
}

void wb_elapsed(char *out, size_t cap, double s) {
  if (!(s >= 0)) s = 0;
  if (s < 60)
    snprintf(out, cap, "%.1fs", s);
  else
    snprintf(out, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

int wb_breaks_has(const int *lines, int n, int line) {
  for (int i = 0; i < n; i++)
    if (lines[i] == line) return 1;
  return 0;
}

int wb_breaks_toggle(int *lines, int *n, int max, int line) {
  for (int i = 0; i < *n; i++) {
    if (lines[i] == line) {
      memmove(lines + i, lines + i + 1, sizeof *lines * (size_t)(*n - i - 1));
      (*n)--;
      return 0;
    }
  }
  if (*n >= max) return -1;
  int i = *n;
  while (i > 0 && lines[i - 1] > line) {
    lines[i] = lines[i - 1];
    i--;
  }
  lines[i] = line;
  (*n)++;
  return 1;
}

int wb_line_origin(const char *s, size_t len, const char *base) {
  size_t bl = strlen(base);
  /* the last "# ", "; " or "// " comment of the line (ir, triton and x86 asm; LLVM IR; PTX) */
  for (size_t i = len; i-- > 0;) {
    bool mark = s[i] == '#' || s[i] == ';' || (s[i] == '/' && i > 0 && s[i - 1] == '/');
    if (!mark || i + 2 + bl + 1 > len || s[i + 1] != ' ') continue;
    const char *p = s + i + 2;
    if (memcmp(p, base, bl) != 0 || p[bl] != ':') return 0;
    int v = 0;
    size_t k = i + 2 + bl + 1;
    if (k >= len || s[k] < '0' || s[k] > '9') return 0;
    for (; k < len && s[k] >= '0' && s[k] <= '9'; k++)
      v = v * 10 + (s[k] - '0');
    return v;
  }
  return 0;
}
