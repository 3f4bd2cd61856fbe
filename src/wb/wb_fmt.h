/* The workbench's pure formatting: worker records (tab-separated, escaped fields), the tuning
 * pane's progress bar, best-time plot and trial table, and the step pane's values. No curses, no
 * processes (unit tested by tests/unit/test_wb_fmt.c). Part of src/wb. */
#ifndef HELUA_WB_FMT_H
#define HELUA_WB_FMT_H

#include <stddef.h>

/* A worker record is one line: TAG\tFIELD\tFIELD..., each field with '\\', '\t' and '\n' escaped
 * as \\, \t, \n (lua/helua/wb_worker.lua writes them). Splits line in place at the tabs and
 * unescapes each field; fields[0] is the tag. Returns the number of fields (at most max). */
int wb_rec_split(char *line, char **fields, int max);

/* Escapes s as a record field (\\, \t, \n). Returns 0, or -1 when it does not fit in cap. */
int wb_rec_escape(char *out, size_t cap, const char *s);

/* A notebook cell as the UI keeps it: its code, its outputs (text), its state. */
enum { WB_CELL_RUNNING, WB_CELL_OK, WB_CELL_ERROR };
typedef struct WbCell {
  char *code, *out;
  int state;
} WbCell;

/* The notebook's transcript (malloc'd; NULL when out of memory): per cell "[N]> " and its first
 * code line, "...> " before each further line, then each output line indented by two; a running
 * cell shows "  (running)" and a failed one ends with its error. */
char *wb_nb_transcript(const WbCell *cells, int n);

/* A progress bar of exactly width columns: "[#####.....]" (UTF-8 blocks: "█" full, "░" empty).
 * frac is clamped to [0, 1]. Returns the columns written. */
int wb_bar(char *out, size_t cap, double frac, int width);

/* A plot of y over t (n points, t increasing; y is read as a step function: a point holds until
 * the next) on a rows x cols grid of block characters (" ▁▂▃▄▅▆▇█"), the lowest y at the bottom
 * eighth and the highest at the top. Column c covers t in [t0, tmax] split in cols parts.
 * Writes rows lines separated by '\n' (each exactly cols columns). Returns 0, or -1 when the
 * output does not fit or there is nothing to plot (n == 0, rows or cols < 1). */
int wb_plot(char *out, size_t cap, const double *t, const double *y, int n, int rows, int cols);

/* One tuning trial as the UI keeps it. */
typedef struct WbTrial {
  int index, generation;
  char status[16];
  double time_ms; /* < 0: none (a failed trial) */
  double tput;    /* GB/s or GFLOP/s; < 0: the kernel file gives neither */
  char unit[8];   /* "GB/s", "GFLOP/s" or "" */
  char device[16]; /* the worker's device that ran it: "cpu", "cuda:1"; "" when not said */
  char config[256], json[512];
} WbTrial;

enum { WB_SORT_RANK, WB_SORT_INDEX, WB_SORT_STATUS, WB_SORT_CONFIG, WB_NSORT };
extern const char *const wb_sort_names[WB_NSORT];

/* order[0..n) gets the trial indices sorted by column col: rank (time, fastest first, failed
 * trials last in index order), index, status (then time), config text. Stable. */
void wb_trials_sort(const WbTrial *t, int n, int col, int *order);

/* The rank (1 = fastest) of every ok trial, 0 for the others. */
void wb_trials_rank(const WbTrial *t, int n, int *rank);

/* The table's header and one row, exactly width columns:
 * " rank trial gen    time ms       GB/s  status   device  config". */
int wb_trial_header(char *out, size_t cap, const char *unit, int width);
int wb_trial_row(char *out, size_t cap, const WbTrial *t, int rank, int width);

/* Seconds as "0.4s", "12.3s", "2m05s". */
void wb_elapsed(char *out, size_t cap, double seconds);

/* Breakpoints: a sorted set of line numbers. Toggles line; returns 1 when now set, 0 when
 * cleared, -1 when full. */
int wb_breaks_toggle(int *lines, int *n, int max, int line);
int wb_breaks_has(const int *lines, int n, int line);

/* The source line (1-based) named by a code line's trailing "# FILE:N" comment (the ir, triton
 * and asm stages), "; FILE:N" (llvm) or "// FILE:N" (ptx); 0 when the line has none. base is
 * the kernel file's basename. */
int wb_line_origin(const char *s, size_t len, const char *base);

#endif
