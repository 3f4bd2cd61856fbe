/* The workbench's pure layer: pane rectangles from the terminal size, the tab bar and status bar
 * strings, text split into lines, clipping and scrolling. No curses here (unit tested by
 * tests/unit/test_wb_layout.c). Part of src/wb. */
#ifndef HELUA_WB_LAYOUT_H
#define HELUA_WB_LAYOUT_H

#include <stddef.h>

typedef struct WbRect {
  int y, x, h, w;
} WbRect;

/* The screen's panes. src_title and code_tabs are one row each above their bodies; status is the
 * last row; help is the overlay, centred. ok is 0 when the terminal is below WB_MIN_W×WB_MIN_H. */
typedef struct WbLayout {
  int ok;
  WbRect src_title, src, code_tabs, code, status, help;
} WbLayout;

enum { WB_MIN_W = 40, WB_MIN_H = 10, WB_GUTTER = 5 /* line numbers: 4 digits and a space */ };

WbLayout wb_layout(int rows, int cols);

/* Columns of a UTF-8 string (one per code point; wide characters are not special-cased). */
int wb_cols(const char *s, size_t len);

/* Writes to out (size cap) the columns [skip, skip + width) of s[0..len), replacing tabs and
 * control characters by spaces; returns the columns written. */
int wb_clip(char *out, size_t cap, const char *s, size_t len, int skip, int width);

/* The tab bar: "[1 ir]  2 lowered  3 llvm  4 asm", the active tab in brackets, keys 1..9, 0;
 * narrower styles when it does not fit ("[1 ir] 2 lowered 3 llvm", then names cut to 3 columns,
 * then "1ir 2low", then keys only with the active tab named), clipped to width.
 * *act_x, *act_w (may be NULL) get the active tab's column and width. Returns the columns. */
int wb_tabs(char *out, size_t cap, const char *const *names, int n, int active, int width,
            int *act_x, int *act_w);

/* The status bar: left text, right text (key hints) right-aligned, padded to exactly width
 * columns; the right text is dropped first when both do not fit. */
int wb_status(char *out, size_t cap, const char *left, const char *right, int width);

/* The new top line after scrolling by delta, kept within [0, max(0, nlines - height)]. */
int wb_scroll(int top, int delta, int nlines, int height);

/* A text as lines: one owned copy, line starts and lengths (no newlines). */
typedef struct WbText {
  char *buf;
  size_t *start, *len;
  int n;
} WbText;

/* Replaces t's text with a copy of s (NULL: empty). Returns 0, or -1 when out of memory. */
int wb_text_set(WbText *t, const char *s);
void wb_text_free(WbText *t);

#endif
