/* The workbench's pure formatting (src/wb/wb_fmt.c): worker records, the progress bar, the
 * best-time plot, the trial table (sort, rank, rows), elapsed times, breakpoints and the
 * "# file.lua:N" origins of code lines. Part of tests/unit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wb/wb_fmt.h"
#include "wb/wb_layout.h"

static void records(void **state) {
  (void)state;
  char line[] = "text\tcode\tir\t1\tkernel add\\n  a\\tb \\\\ c\n";
  char *f[8];
  int n = wb_rec_split(line, f, 8);
  assert_int_equal(n, 5);
  assert_string_equal(f[0], "text");
  assert_string_equal(f[2], "ir");
  assert_string_equal(f[4], "kernel add\n  a\tb \\ c");
  char two[] = "done";
  assert_int_equal(wb_rec_split(two, f, 8), 1);
  assert_string_equal(f[0], "done");
  char many[] = "a\tb\tc\td";
  assert_int_equal(wb_rec_split(many, f, 2), 2); /* the rest stays in the last field */
  assert_string_equal(f[1], "b");
  char empty[] = "x\t\ty";
  assert_int_equal(wb_rec_split(empty, f, 8), 3);
  assert_string_equal(f[1], "");
}

static void escape(void **state) {
  (void)state;
  char out[64], *f[4];
  assert_int_equal(wb_rec_escape(out, sizeof out, "a\tb\nc\\d"), 0);
  assert_string_equal(out, "a\\tb\\nc\\\\d");
  char line[80];
  snprintf(line, sizeof line, "cell\t%s", out); /* round trip */
  assert_int_equal(wb_rec_split(line, f, 4), 2);
  assert_string_equal(f[1], "a\tb\nc\\d");
  assert_int_equal(wb_rec_escape(out, 4, "a\nb"), -1); /* does not fit */
}

static void transcript(void **state) {
  (void)state;
  WbCell c[3] = {{"x = 1", "", WB_CELL_OK},
                 {"for i = 1, 2 do\n  print(i) end", "1\n2", WB_CELL_OK},
                 {"f()", "error: boom", WB_CELL_RUNNING}};
  char *t = wb_nb_transcript(c, 3);
  assert_non_null(t);
  assert_string_equal(t, "[1]> x = 1\n"
                         "[2]> for i = 1, 2 do\n...>   print(i) end\n  1\n  2\n"
                         "[3]> f()\n  error: boom\n  (running)\n");
  free(t);
  t = wb_nb_transcript(c, 0);
  assert_string_equal(t, "");
  free(t);
}

static void bar(void **state) {
  (void)state;
  char out[256];
  assert_int_equal(wb_bar(out, sizeof out, 0.5, 12), 12);
  assert_string_equal(out, "[█████░░░░░]");
  assert_int_equal(wb_cols(out, strlen(out)), 12);
  wb_bar(out, sizeof out, 0, 6);
  assert_string_equal(out, "[░░░░]");
  wb_bar(out, sizeof out, 7.0, 6); /* clamped */
  assert_string_equal(out, "[████]");
  wb_bar(out, sizeof out, 0.0 / 0.0, 4); /* NaN: empty */
  assert_string_equal(out, "[░░]");
  assert_int_equal(wb_bar(out, sizeof out, 0.5, 1), 0);
  char tiny[8];
  assert_true(wb_bar(tiny, sizeof tiny, 1, 12) < 12); /* does not overflow */
}

static void plot(void **state) {
  (void)state;
  char out[1024];
  /* best time falls from 4 to 1 at t = 5 of 10: a column shows the value at its right edge, so
   * the column that ends at t = 5 is already low; the lowest value is one eighth high */
  double t[] = {0, 5, 10}, y[] = {4, 1, 1};
  assert_int_equal(wb_plot(out, sizeof out, t, y, 3, 2, 10), 0);
  assert_string_equal(out, "████      \n████▁▁▁▁▁▁");
  /* one point: a flat half-height line */
  double t1[] = {3}, y1[] = {2};
  assert_int_equal(wb_plot(out, sizeof out, t1, y1, 1, 1, 4), 0);
  assert_string_equal(out, "▅▅▅▅");
  assert_int_equal(wb_plot(out, sizeof out, t, y, 0, 2, 10), -1);
  assert_int_equal(wb_plot(out, 8, t, y, 3, 2, 10), -1); /* too small an output */
}

static WbTrial trial(int index, const char *status, double ms, const char *cfg) {
  WbTrial t;
  memset(&t, 0, sizeof t);
  t.index = index;
  snprintf(t.status, sizeof t.status, "%s", status);
  t.time_ms = ms;
  t.tput = ms > 0 ? 1.0 / ms : -1;
  snprintf(t.unit, sizeof t.unit, "GB/s");
  snprintf(t.config, sizeof t.config, "%s", cfg);
  return t;
}

static void trials(void **state) {
  (void)state;
  WbTrial t[4] = {trial(1, "ok", 0.5, "{b}"), trial(2, "error", -1, "{a}"),
                  trial(3, "ok", 0.25, "{c}"), trial(4, "ok", 0.5, "{a}")};
  int order[4], rank[4];
  wb_trials_sort(t, 4, WB_SORT_RANK, order);
  assert_int_equal(order[0], 2);
  assert_int_equal(order[1], 0); /* ties keep the trial order */
  assert_int_equal(order[2], 3);
  assert_int_equal(order[3], 1); /* failed last */
  wb_trials_sort(t, 4, WB_SORT_INDEX, order);
  for (int i = 0; i < 4; i++)
    assert_int_equal(order[i], i);
  wb_trials_sort(t, 4, WB_SORT_STATUS, order);
  assert_int_equal(order[0], 1); /* "error" < "ok" */
  assert_int_equal(order[1], 2);
  wb_trials_sort(t, 4, WB_SORT_CONFIG, order);
  assert_int_equal(order[0], 1);
  assert_int_equal(order[1], 3);
  assert_int_equal(order[2], 0);
  wb_trials_rank(t, 4, rank);
  assert_int_equal(rank[0], 2);
  assert_int_equal(rank[1], 0);
  assert_int_equal(rank[2], 1);
  assert_int_equal(rank[3], 3);
  char out[512];
  snprintf(t[2].device, sizeof t[2].device, "cuda:1");
  assert_int_equal(wb_trial_row(out, sizeof out, &t[2], 1, 62), 62);
  assert_int_equal(wb_cols(out, strlen(out)), 62);
  assert_memory_equal(out, "    1     3   0     0.2500       4.00  ok       cuda:1  {c}", 59);
  wb_trial_row(out, sizeof out, &t[1], 0, 60);
  assert_non_null(strstr(out, "    -     2   0          -"));
  assert_non_null(strstr(out, "error" "            " "{a}")); /* no device said: blank */
  assert_int_equal(wb_trial_header(out, sizeof out, "GB/s", 58), 58);
  assert_non_null(strstr(out, " rank trial gen    time ms       GB/s  status   device"));
  assert_int_equal(wb_trial_row(out, 10, &t[0], 2, 60), 0); /* too small: empty, no overflow */
}

static void elapsed(void **state) {
  (void)state;
  char out[32];
  wb_elapsed(out, sizeof out, 0.04);
  assert_string_equal(out, "0.0s");
  wb_elapsed(out, sizeof out, 12.34);
  assert_string_equal(out, "12.3s");
  wb_elapsed(out, sizeof out, 125);
  assert_string_equal(out, "2m05s");
  wb_elapsed(out, sizeof out, -3);
  assert_string_equal(out, "0.0s");
}

static void breaks(void **state) {
  (void)state;
  int b[3], n = 0;
  assert_int_equal(wb_breaks_toggle(b, &n, 3, 10), 1);
  assert_int_equal(wb_breaks_toggle(b, &n, 3, 4), 1);
  assert_int_equal(wb_breaks_toggle(b, &n, 3, 7), 1);
  assert_int_equal(n, 3);
  assert_int_equal(b[0], 4);
  assert_int_equal(b[1], 7);
  assert_int_equal(b[2], 10);
  assert_int_equal(wb_breaks_toggle(b, &n, 3, 8), -1); /* full */
  assert_true(wb_breaks_has(b, n, 7));
  assert_int_equal(wb_breaks_toggle(b, &n, 3, 7), 0);
  assert_false(wb_breaks_has(b, n, 7));
  assert_int_equal(n, 2);
  assert_int_equal(b[1], 10);
}

static void origins(void **state) {
  (void)state;
  const char *a = "    %9 = add %6, %8 : float32[B0, B1]  # add.lua:11";
  assert_int_equal(wb_line_origin(a, strlen(a), "add.lua"), 11);
  assert_int_equal(wb_line_origin(a, strlen(a), "sub.lua"), 0);
  const char *b = "  tl.store(out + offs, v)  # see # add.lua:7";
  assert_int_equal(wb_line_origin(b, strlen(b), "add.lua"), 7);
  const char *c = "kernel add";
  assert_int_equal(wb_line_origin(c, strlen(c), "add.lua"), 0);
  const char *d = "x  # add.lua:";
  assert_int_equal(wb_line_origin(d, strlen(d), "add.lua"), 0);
  assert_int_equal(wb_line_origin(a, 20, "add.lua"), 0); /* only within len */
  const char *ll = "  %x = load ptr, ptr %args, align 8, !dbg !9  ; add.lua:10";
  assert_int_equal(wb_line_origin(ll, strlen(ll), "add.lua"), 10);
  const char *preds = "body:                                   ; preds = %entry";
  assert_int_equal(wb_line_origin(preds, strlen(preds), "add.lua"), 0);
  const char *ptx = "\tadd.rn.f32 \t%f9, %f1, %f5;  // add.lua:11";
  assert_int_equal(wb_line_origin(ptx, strlen(ptx), "add.lua"), 11);
  const char *half = "\tmov.u32 %r1, %tid.x; / add.lua:3"; /* one slash is no comment */
  assert_int_equal(wb_line_origin(half, strlen(half), "add.lua"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(records), cmocka_unit_test(escape), cmocka_unit_test(transcript),
      cmocka_unit_test(bar),     cmocka_unit_test(plot),   cmocka_unit_test(trials),
      cmocka_unit_test(elapsed), cmocka_unit_test(breaks), cmocka_unit_test(origins),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
