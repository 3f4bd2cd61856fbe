/* The workbench's pure layer (see wb_layout.h). Part of src/wb. */
#include "wb/wb_layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

WbLayout wb_layout(int rows, int cols) {
  WbLayout l;
  memset(&l, 0, sizeof l);
  if (rows < WB_MIN_H || cols < WB_MIN_W) return l;
  l.ok = 1;
  int body = rows - 1;      /* the last row is the status bar */
  int src_w = cols * 2 / 5; /* source pane, then a one-column separator, then the code */
  int code_x = src_w + 1;
  l.src_title = (WbRect){0, 0, 1, src_w};
  l.src = (WbRect){1, 0, body - 1, src_w};
  l.code_tabs = (WbRect){0, code_x, 1, cols - code_x};
  l.code = (WbRect){1, code_x, body - 1, cols - code_x};
  l.status = (WbRect){rows - 1, 0, 1, cols};
  int hw = cols - 4 < 76 ? cols - 4 : 76, hh = rows - 4 < 18 ? rows - 4 : 18;
  l.help = (WbRect){(rows - hh) / 2, (cols - hw) / 2, hh, hw};
  return l;
}

static int is_cont(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

int wb_cols(const char *s, size_t len) {
  int n = 0;
  for (size_t i = 0; i < len; i++)
    n += !is_cont((unsigned char)s[i]);
  return n;
}

int wb_clip(char *out, size_t cap, const char *s, size_t len, int skip, int width) {
  size_t o = 0;
  int col = 0, written = 0;
  if (cap == 0) return 0;
  for (size_t i = 0; i < len && written < width;) {
    size_t j = i + 1;
    while (j < len && is_cont((unsigned char)s[j]))
      j++;
    if (col >= skip) {
      unsigned char c = (unsigned char)s[i];
      if (c < 0x20 || c == 0x7f) {
        if (o + 1 >= cap) break;
        out[o++] = ' ';
      } else {
        if (o + (j - i) >= cap) break;
        memcpy(out + o, s + i, j - i);
        o += j - i;
      }
      written++;
    }
    col++;
    i = j;
  }
  out[o] = '\0';
  return written;
}

/* One style of the tab bar into full: wide (" 1 ir  "), compact ("1 ir " items), short (names
 * cut to 3 columns), shorter ("1low": no space) or keys only ("1 2 [3 llvm] 4": only the active
 * tab named). The key of tab i is i + 1, and 0 for the tenth. Returns its length in bytes. */
static size_t tabs_style(char *full, size_t cap, const char *const *names, int n, int active,
                         int style, int *act_x, int *act_w) {
  size_t o = 0;
  full[0] = '\0';
  for (int i = 0; i < n && o < cap; i++) {
    int x = (int)o, cut = style >= 2 ? 3 : 64, key = (i + 1) % 10, k;
    if (i == active)
      k = snprintf(full + o, cap - o, "[%d %.*s]", key, style == 4 ? 64 : cut, names[i]);
    else if (style == 4)
      k = snprintf(full + o, cap - o, "%d", key);
    else
      k = snprintf(full + o, cap - o,
                   style == 0   ? " %d %.*s "
                   : style == 3 ? "%d%.*s"
                                : "%d %.*s",
                   key, cut, names[i]);
    if (k < 0) break;
    if (i == active) {
      if (act_x) *act_x = x;
      if (act_w) *act_w = k;
    }
    o += (size_t)k;
    if (i + 1 < n && o + 1 < cap) full[o++] = ' ', full[o] = '\0';
  }
  return o > cap - 1 ? cap - 1 : o;
}

int wb_tabs(char *out, size_t cap, const char *const *names, int n, int active, int width,
            int *act_x, int *act_w) {
  char full[512];
  size_t o = 0;
  for (int style = 0; style < 5; style++) { /* the widest style that fits */
    o = tabs_style(full, sizeof full, names, n, active, style, act_x, act_w);
    if (wb_cols(full, o) <= width) break;
  }
  return wb_clip(out, cap, full, o, 0, width);
}

int wb_status(char *out, size_t cap, const char *left, const char *right, int width) {
  if (cap == 0) return 0;
  if (width < 0) width = 0;
  if ((size_t)width * 4 + 1 > cap) width = (int)((cap - 1) / 4);
  int lw = wb_cols(left, strlen(left)), rw = wb_cols(right, strlen(right));
  size_t o = 0;
  char tmp[1024];
  if (lw + 1 + rw > width) rw = 0; /* drop the hints first */
  int room = width - (rw ? rw + 1 : 0);
  int got = wb_clip(tmp, sizeof tmp, left, strlen(left), 0, room);
  memcpy(out, tmp, strlen(tmp));
  o = strlen(tmp);
  for (int c = got; c < width - rw; c++)
    out[o++] = ' ';
  if (rw) {
    memcpy(out + o, right, strlen(right));
    o += strlen(right);
  }
  out[o] = '\0';
  return width;
}

int wb_scroll(int top, int delta, int nlines, int height) {
  int max = nlines - height;
  if (max < 0) max = 0;
  long t = (long)top + delta;
  if (t > max) t = max;
  if (t < 0) t = 0;
  return (int)t;
}

void wb_text_free(WbText *t) {
  free(t->buf);
  free(t->start);
  free(t->len);
  memset(t, 0, sizeof *t);
}

int wb_text_set(WbText *t, const char *s) {
  if (!s) s = "";
  size_t n = strlen(s);
  int lines = 1;
  for (size_t i = 0; i < n; i++)
    lines += s[i] == '\n';
  if (n > 0 && s[n - 1] == '\n') lines--;
  WbText nt = {malloc(n + 1), malloc(sizeof(size_t) * (size_t)(lines + 1)),
               malloc(sizeof(size_t) * (size_t)(lines + 1)), 0};
  if (!nt.buf || !nt.start || !nt.len) {
    wb_text_free(&nt);
    return -1;
  }
  memcpy(nt.buf, s, n + 1);
  size_t b = 0;
  for (size_t i = 0; i <= n && nt.n < lines; i++) {
    if (i == n || s[i] == '\n') {
      size_t e = i;
      if (e > b && s[e - 1] == '\r') e--;
      nt.start[nt.n] = b;
      nt.len[nt.n] = e - b;
      nt.n++;
      b = i + 1;
    }
  }
  wb_text_free(t);
  *t = nt;
  return 0;
}
