/* The workbench's pure layer (src/wb/wb_layout.c): pane rectangles at 80x24 and 200x60, too-small
 * terminals, the tab and status bars, clipping, scrolling and text lines. Part of tests/unit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wb/wb_layout.h"

#define RECT_EQ(r, Y, X, H, W)                                                                     \
  do {                                                                                             \
    assert_int_equal((r).y, (Y));                                                                  \
    assert_int_equal((r).x, (X));                                                                  \
    assert_int_equal((r).h, (H));                                                                  \
    assert_int_equal((r).w, (W));                                                                  \
  } while (0)

static void layout_80x24(void **state) {
  (void)state;
  WbLayout l = wb_layout(24, 80);
  assert_true(l.ok);
  RECT_EQ(l.src_title, 0, 0, 1, 32);
  RECT_EQ(l.src, 1, 0, 22, 32);
  RECT_EQ(l.code_tabs, 0, 33, 1, 47);
  RECT_EQ(l.code, 1, 33, 22, 47);
  RECT_EQ(l.status, 23, 0, 1, 80);
  RECT_EQ(l.help, 3, 2, 18, 76);
}

static void layout_200x60(void **state) {
  (void)state;
  WbLayout l = wb_layout(60, 200);
  assert_true(l.ok);
  RECT_EQ(l.src_title, 0, 0, 1, 80);
  RECT_EQ(l.src, 1, 0, 58, 80);
  RECT_EQ(l.code_tabs, 0, 81, 1, 119);
  RECT_EQ(l.code, 1, 81, 58, 119);
  RECT_EQ(l.status, 59, 0, 1, 200);
  RECT_EQ(l.help, 21, 62, 18, 76);
}

static void layout_small(void **state) {
  (void)state;
  assert_false(wb_layout(9, 80).ok);
  assert_false(wb_layout(24, 39).ok);
  WbLayout l = wb_layout(WB_MIN_H, WB_MIN_W);
  assert_true(l.ok);
  /* every pane inside the screen, none overlapping the status bar */
  assert_true(l.code.x + l.code.w <= WB_MIN_W);
  assert_true(l.src.y + l.src.h <= l.status.y);
  assert_true(l.help.y >= 0 && l.help.x >= 0 && l.help.x + l.help.w <= WB_MIN_W);
}

static void tabs(void **state) {
  (void)state;
  const char *names[] = {"ir", "lowered", "llvm", "asm"};
  char out[256];
  int ax = -1, aw = -1;
  int n = wb_tabs(out, sizeof out, names, 4, 0, 100, &ax, &aw);
  assert_string_equal(out, "[1 ir]  2 lowered   3 llvm   4 asm ");
  assert_int_equal(n, (int)strlen(out));
  assert_int_equal(ax, 0);
  assert_int_equal(aw, 6);
  wb_tabs(out, sizeof out, names, 4, 2, 100, &ax, &aw);
  assert_string_equal(out, " 1 ir   2 lowered  [3 llvm]  4 asm ");
  assert_int_equal(ax, 19);
  assert_int_equal(aw, 8);
  wb_tabs(out, sizeof out, names, 4, 2, 30, &ax, &aw); /* compact */
  assert_string_equal(out, "1 ir 2 lowered [3 llvm] 4 asm");
  assert_int_equal(ax, 15);
  assert_int_equal(aw, 8);
  wb_tabs(out, sizeof out, names, 4, 1, 26, &ax, &aw); /* names cut to 3 columns */
  assert_string_equal(out, "1 ir [2 low] 3 llv 4 asm");
  assert_int_equal(ax, 5);
  wb_tabs(out, sizeof out, names, 4, 3, 13, NULL, NULL); /* keys only, the active tab named */
  assert_string_equal(out, "1 2 3 [4 asm]");
  wb_tabs(out, sizeof out, names, 4, 3, 12, NULL, NULL); /* clipped */
  assert_string_equal(out, "1 2 3 [4 asm");
  wb_tabs(out, sizeof out, names, 4, -1, 100, NULL, NULL); /* none active */
  assert_string_equal(out, " 1 ir   2 lowered   3 llvm   4 asm ");
}

/* The workbench's ten views (keys 1..9, 0) in the widths of its right pane: 59 columns at 100,
 * 47 at 80 (wb_layout), 23 at the 40-column minimum. */
static void tabs_ten(void **state) {
  (void)state;
  const char *names[] = {"ir",     "lowered", "llvm", "asm",  "ptx",
                         "triton", "run",     "tune", "step", "nb"};
  char out[256];
  int ax = -1, aw = -1;
  wb_tabs(out, sizeof out, names, 10, 5, 119, &ax, &aw); /* 200 columns: wide */
  assert_string_equal(out, " 1 ir   2 lowered   3 llvm   4 asm   5 ptx  [6 triton]  7 run "
                           "  8 tune   9 step   0 nb ");
  assert_int_equal(ax, 44);
  assert_int_equal(aw, 10);
  wb_tabs(out, sizeof out, names, 10, 9, 69, &ax, &aw); /* compact */
  assert_string_equal(out, "1 ir 2 lowered 3 llvm 4 asm 5 ptx 6 triton 7 run 8 tune 9 step [0 nb]");
  assert_int_equal(ax, 63);
  int n = wb_tabs(out, sizeof out, names, 10, 0, 59, &ax, &aw); /* 100 columns: names cut */
  assert_string_equal(out, "[1 ir] 2 low 3 llv 4 asm 5 ptx 6 tri 7 run 8 tun 9 ste 0 nb");
  assert_int_equal(n, 59);
  wb_tabs(out, sizeof out, names, 10, 4, 50, &ax, &aw); /* no space after the key */
  assert_string_equal(out, "1ir 2low 3llv 4asm [5 ptx] 6tri 7run 8tun 9ste 0nb");
  n = wb_tabs(out, sizeof out, names, 10, 5, 47, &ax, &aw); /* 80 columns: keys only */
  assert_string_equal(out, "1 2 3 4 5 [6 triton] 7 8 9 0");
  assert_true(n <= 47);
  assert_int_equal(ax, 10);
  assert_int_equal(aw, 10);
  for (int a = 0; a < 10; a++) { /* the active tab is named in full at 80 columns and above */
    wb_tabs(out, sizeof out, names, 10, a, 47, &ax, &aw);
    assert_true(wb_cols(out, strlen(out)) <= 47);
    assert_true(ax + aw <= 47);
    assert_non_null(strstr(out, names[a]));
  }
  wb_tabs(out, sizeof out, names, 10, 9, 23, &ax, &aw); /* 40 columns: every key, clipped */
  assert_string_equal(out, "1 2 3 4 5 6 7 8 9 [0 nb");
}

static void status(void **state) {
  (void)state;
  char out[256];
  assert_int_equal(wb_status(out, sizeof out, "cpu | add", "q quit", 20), 20);
  assert_string_equal(out, "cpu | add     q quit");
  wb_status(out, sizeof out, "cpu | add", "q quit ? help", 20); /* hints dropped first */
  assert_string_equal(out, "cpu | add           ");
  wb_status(out, sizeof out, "a long left text that is clipped", "", 10);
  assert_string_equal(out, "a long lef");
}

static void clip(void **state) {
  (void)state;
  char out[64];
  const char *s = "  x = a\tb";
  assert_int_equal(wb_clip(out, sizeof out, s, strlen(s), 0, 100), 9);
  assert_string_equal(out, "  x = a b");
  assert_int_equal(wb_clip(out, sizeof out, s, strlen(s), 2, 3), 3);
  assert_string_equal(out, "x =");
  assert_int_equal(wb_clip(out, sizeof out, s, strlen(s), 20, 3), 0);
  assert_string_equal(out, "");
  const char *u = "a\xc3\xa9"
                  "b\xe2\x94\x82"
                  "c"; /* a é b │ c: 5 columns */
  assert_int_equal(wb_cols(u, strlen(u)), 5);
  assert_int_equal(wb_clip(out, sizeof out, u, strlen(u), 1, 3), 3);
  assert_string_equal(out, "\xc3\xa9"
                           "b\xe2\x94\x82");
  char tiny[4]; /* a small buffer: whole code points only */
  wb_clip(tiny, sizeof tiny, u, strlen(u), 0, 5);
  assert_string_equal(tiny, "a\xc3\xa9");
}

static void scroll(void **state) {
  (void)state;
  assert_int_equal(wb_scroll(0, -1, 100, 20), 0);
  assert_int_equal(wb_scroll(0, 5, 100, 20), 5);
  assert_int_equal(wb_scroll(75, 19, 100, 20), 80);
  assert_int_equal(wb_scroll(0, 1000, 10, 20), 0); /* shorter than the pane */
  assert_int_equal(wb_scroll(50, -100, 100, 20), 0);
}

static void text_lines(void **state) {
  (void)state;
  WbText t = {0};
  assert_int_equal(wb_text_set(&t, "one\ntwo\r\n\nfour\n"), 0);
  assert_int_equal(t.n, 4);
  assert_int_equal((int)t.len[0], 3);
  assert_memory_equal(t.buf + t.start[1], "two", 3);
  assert_int_equal((int)t.len[1], 3);
  assert_int_equal((int)t.len[2], 0);
  assert_memory_equal(t.buf + t.start[3], "four", 4);
  assert_int_equal(wb_text_set(&t, "no newline"), 0);
  assert_int_equal(t.n, 1);
  assert_int_equal((int)t.len[0], 10);
  assert_int_equal(wb_text_set(&t, NULL), 0);
  assert_int_equal(t.n, 1);
  assert_int_equal((int)t.len[0], 0);
  wb_text_free(&t);
  assert_null(t.buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(layout_80x24), cmocka_unit_test(layout_200x60),
      cmocka_unit_test(layout_small), cmocka_unit_test(tabs),
      cmocka_unit_test(tabs_ten),     cmocka_unit_test(status),
      cmocka_unit_test(clip),         cmocka_unit_test(scroll),
      cmocka_unit_test(text_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
