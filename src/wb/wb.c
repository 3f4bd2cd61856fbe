/* The workbench's curses shell: panels with draw and on_key, a key table, the main loop (the only
 * place that draws) and terminal restoration on every exit path. Layout and strings come from
 * wb_layout.c. Part of src/wb — the only layer that includes curses (tests/layering.sh). */
#include "wb/wb.h"

#include <curses.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wb/wb_layout.h"

/* What a handler asks the loop to do (htop's HandlerResult). */
enum { WB_NONE = 0, WB_REDRAW = 1, WB_RELAYOUT = 2, WB_QUIT = 4 };

static const char *const stages[] = {"ir", "lowered", "llvm", "asm"};
enum { NSTAGES = 4 };

typedef struct Wb Wb;
typedef struct Panel {
  void (*draw)(Wb *w, struct Panel *p);
  int (*on_key)(Wb *w, struct Panel *p, int key);
  int top, left;
} Panel;

struct Wb {
  const WbHost *host;
  const char *file;
  WbKernelInfo info;
  int kernel, stage, help, showing_report, color;
  char msg[256];
  WbText source, code;
  WbLayout lay;
  Panel src_panel, code_panel, *focus;
};

/* ---- terminal restoration: atexit and fatal signals restore first ---- */
static volatile sig_atomic_t curses_on;

static void restore_terminal(void) {
  if (curses_on) {
    curses_on = 0;
    endwin();
  }
}

static void on_fatal(int sig) {
  restore_terminal();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* ---- drawing helpers (thin curses) ---- */
static void put_clipped(int y, int x, int width, const char *s, size_t len, int skip) {
  char buf[4096];
  int n = wb_clip(buf, sizeof buf, s, len, skip, width);
  mvaddstr(y, x, buf);
  for (int c = n; c < width; c++)
    addch(' ');
}

static void fill_rect(WbRect r) {
  for (int y = 0; y < r.h; y++)
    mvhline(r.y + y, r.x, ' ', r.w);
}

static void draw_text(Wb *w, Panel *p, WbRect r, const WbText *t, int gutter) {
  for (int row = 0; row < r.h; row++) {
    int ln = p->top + row;
    if (ln < t->n) {
      if (gutter) {
        char num[16];
        snprintf(num, sizeof num, "%*d ", WB_GUTTER - 1, ln + 1);
        if (w->color) attron(COLOR_PAIR(2));
        mvaddstr(r.y + row, r.x, num);
        if (w->color) attroff(COLOR_PAIR(2));
      }
      int gx = gutter ? WB_GUTTER : 0;
      put_clipped(r.y + row, r.x + gx, r.w - gx, t->buf + t->start[ln], t->len[ln], p->left);
    } else {
      mvhline(r.y + row, r.x, ' ', r.w);
    }
  }
}

static void src_draw(Wb *w, Panel *p) {
  char title[256];
  snprintf(title, sizeof title, " %s : %s", w->file,
           w->info.nkernels ? w->info.kernels[w->kernel] : "?");
  attron(A_BOLD | (w->focus == p ? A_REVERSE : 0));
  put_clipped(w->lay.src_title.y, w->lay.src_title.x, w->lay.src_title.w, title, strlen(title), 0);
  attroff(A_BOLD | A_REVERSE);
  draw_text(w, p, w->lay.src, &w->source, 1);
}

static void code_draw(Wb *w, Panel *p) {
  WbRect t = w->lay.code_tabs;
  char tabs[1024];
  int ax = 0, aw = 0;
  wb_tabs(tabs, sizeof tabs, stages, NSTAGES, w->showing_report ? -1 : w->stage, t.w, &ax, &aw);
  if (w->showing_report) {
    size_t l = strlen(tabs);
    snprintf(tabs + l, sizeof tabs - l, " [run]");
  }
  attron(A_BOLD);
  put_clipped(t.y, t.x, t.w, tabs, strlen(tabs), 0);
  attroff(A_BOLD);
  if (!w->showing_report && ax < t.w) {
    attron(A_REVERSE | A_BOLD);
    mvaddnstr(t.y, t.x + ax, tabs + ax, aw < t.w - ax ? aw : t.w - ax);
    attroff(A_REVERSE | A_BOLD);
  }
  draw_text(w, p, w->lay.code, &w->code, 0);
}

static void separator_draw(Wb *w) {
  mvvline(0, w->lay.src.w, ACS_VLINE, w->lay.src.h + 1);
}

static void status_draw(Wb *w) {
  char left[512], line[4096];
  snprintf(left, sizeof left, " %s | %s | %s%s%s", w->info.device, w->info.backend,
           w->info.nkernels ? w->info.kernels[w->kernel] : "-", *w->msg ? " | " : "", w->msg);
  wb_status(line, sizeof line, left, "q quit  ? help  Tab/1-4 stage  r run  k kernel ",
            w->lay.status.w);
  attron(w->color ? COLOR_PAIR(1) : A_REVERSE);
  mvaddstr(w->lay.status.y, 0, line);
  attroff(w->color ? COLOR_PAIR(1) : A_REVERSE);
}

static const char *const help_lines[] = {
    "helua workbench - keys",
    "",
    "  q            quit",
    "  ?            this help (any key closes it)",
    "  Tab, 1-4     code tab: ir, lowered, llvm, asm",
    "  arrows       scroll the focused pane",
    "  PgUp, PgDn   scroll a page; Home, End",
    "  s            focus the source / code pane",
    "  r            run: check against the reference, time",
    "  k            next kernel of the file",
    "  Ctrl-C       cancel (does not quit)",
    NULL,
};

static void help_draw(Wb *w) {
  WbRect r = w->lay.help;
  fill_rect(r);
  attron(A_BOLD);
  mvhline(r.y, r.x, ACS_HLINE, r.w);
  mvhline(r.y + r.h - 1, r.x, ACS_HLINE, r.w);
  attroff(A_BOLD);
  for (int i = 0; help_lines[i] && i + 1 < r.h - 1; i++)
    put_clipped(r.y + 1 + i, r.x + 1, r.w - 2, help_lines[i], strlen(help_lines[i]), 0);
}

static void draw_all(Wb *w) {
  erase();
  if (!w->lay.ok) {
    mvaddstr(0, 0, "terminal too small (40x10 at least); q quits");
  } else {
    w->src_panel.draw(w, &w->src_panel);
    separator_draw(w);
    w->code_panel.draw(w, &w->code_panel);
    status_draw(w);
    if (w->help) help_draw(w);
  }
  refresh();
}

/* ---- state changes (no drawing) ---- */
static void set_code(Wb *w, char *text) {
  wb_text_set(&w->code, text ? text : "(no text)");
  free(text);
  w->code_panel.top = w->code_panel.left = 0;
}

static void load_stage(Wb *w) {
  int ok = 0;
  w->showing_report = 0;
  if (!w->info.nkernels) return;
  char *t = w->host->code(w->host->ctx, w->file, w->info.kernels[w->kernel], stages[w->stage], &ok);
  snprintf(w->msg, sizeof w->msg, "stage %s%s", stages[w->stage], ok ? "" : ": error");
  set_code(w, t);
}

static int pane_height(Wb *w, Panel *p) {
  return p == &w->src_panel ? w->lay.src.h : w->lay.code.h;
}
static const WbText *pane_text(Wb *w, Panel *p) {
  return p == &w->src_panel ? &w->source : &w->code;
}

static int scroll_keys(Wb *w, Panel *p, int key) {
  int h = pane_height(w, p), n = pane_text(w, p)->n, d;
  switch (key) {
  case KEY_UP:
    d = -1;
    break;
  case KEY_DOWN:
    d = 1;
    break;
  case KEY_PPAGE:
    d = -(h > 1 ? h - 1 : 1);
    break;
  case KEY_NPAGE:
    d = h > 1 ? h - 1 : 1;
    break;
  case KEY_HOME:
    d = -n;
    break;
  case KEY_END:
    d = n;
    break;
  case KEY_LEFT:
    p->left = p->left > 8 ? p->left - 8 : 0;
    return WB_REDRAW;
  case KEY_RIGHT:
    p->left += 8;
    return WB_REDRAW;
  default:
    return WB_NONE;
  }
  p->top = wb_scroll(p->top, d, n, h);
  return WB_REDRAW;
}

static int src_on_key(Wb *w, Panel *p, int key) {
  return scroll_keys(w, p, key);
}
static int code_on_key(Wb *w, Panel *p, int key) {
  return scroll_keys(w, p, key);
}

/* The key table: global bindings, then the focused panel's on_key. */
static int k_quit(Wb *w) {
  (void)w;
  return WB_QUIT;
}
static int k_help(Wb *w) {
  w->help = !w->help;
  return WB_REDRAW;
}
static int k_tab(Wb *w) {
  w->stage = w->showing_report ? w->stage : (w->stage + 1) % NSTAGES;
  load_stage(w);
  return WB_REDRAW;
}
static int k_stage(Wb *w, int s) {
  w->stage = s;
  load_stage(w);
  return WB_REDRAW;
}
static int k_1(Wb *w) {
  return k_stage(w, 0);
}
static int k_2(Wb *w) {
  return k_stage(w, 1);
}
static int k_3(Wb *w) {
  return k_stage(w, 2);
}
static int k_4(Wb *w) {
  return k_stage(w, 3);
}
static int k_focus(Wb *w) {
  w->focus = w->focus == &w->src_panel ? &w->code_panel : &w->src_panel;
  return WB_REDRAW;
}
static int k_run(Wb *w) {
  if (!w->info.nkernels) return WB_NONE;
  snprintf(w->msg, sizeof w->msg, "running %s ...", w->info.kernels[w->kernel]);
  draw_all(w); /* the run blocks (this slice): say so before it starts */
  int ok = 0;
  char *t = w->host->run(w->host->ctx, w->file, w->info.kernels[w->kernel], &ok);
  set_code(w, t);
  w->showing_report = 1;
  snprintf(w->msg, sizeof w->msg, "run %s", ok ? "PASS" : "FAILED");
  return WB_REDRAW;
}
static int k_kernel(Wb *w) {
  if (w->info.nkernels < 2) return WB_NONE;
  w->kernel = (w->kernel + 1) % w->info.nkernels;
  load_stage(w);
  return WB_REDRAW;
}
static int k_cancel(Wb *w) {
  snprintf(w->msg, sizeof w->msg, "nothing to cancel (q quits)");
  return WB_REDRAW;
}
static int k_resize(Wb *w) {
  (void)w;
  return WB_RELAYOUT;
}

static const struct {
  int key;
  int (*fn)(Wb *);
} keytable[] = {
    {'q', k_quit},
    {'?', k_help},
    {'\t', k_tab},
    {'1', k_1},
    {'2', k_2},
    {'3', k_3},
    {'4', k_4},
    {'s', k_focus},
    {'r', k_run},
    {'k', k_kernel},
    {3 /* Ctrl-C */, k_cancel},
    {KEY_RESIZE, k_resize},
};

static int handle_key(Wb *w, int key) {
  if (w->help && key != KEY_RESIZE) { /* any key closes the help; q still quits */
    w->help = 0;
    return key == 'q' ? WB_QUIT : WB_REDRAW;
  }
  for (size_t i = 0; i < sizeof keytable / sizeof keytable[0]; i++)
    if (keytable[i].key == key) return keytable[i].fn(w);
  return w->focus->on_key(w, w->focus, key);
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  for (size_t k; b && (k = fread(b + n, 1, cap - n - 1, f)) > 0;) {
    n += k;
    if (cap - n - 1 == 0) {
      char *nb = realloc(b, cap *= 2);
      if (!nb) free(b);
      b = nb;
    }
  }
  fclose(f);
  if (b) b[n] = '\0';
  return b;
}

int wb_main(const WbHost *host, const char *file) {
  static Wb w;
  memset(&w, 0, sizeof w);
  w.host = host;
  w.file = file;
  w.src_panel = (Panel){.draw = src_draw, .on_key = src_on_key};
  w.code_panel = (Panel){.draw = code_draw, .on_key = code_on_key};
  w.focus = &w.code_panel;
  char *src = read_file(file);
  if (!src) {
    fprintf(stderr, "helua wb: cannot read %s\n", file);
    return 1;
  }
  wb_text_set(&w.source, src);
  free(src);
  if (!isatty(0) || !isatty(1)) {
    fprintf(stderr, "helua wb: needs a terminal (use helua run %s otherwise)\n", file);
    wb_text_free(&w.source);
    return 1;
  }
  int ok = 0;
  char *err = host->load(host->ctx, file, &w.info, &ok);
  if (!ok) {
    fprintf(stderr, "helua wb: %s\n", err ? err : "cannot load the file");
    free(err);
    wb_text_free(&w.source);
    return 1;
  }
  free(err);

  setlocale(LC_ALL, "");
  atexit(restore_terminal);
  signal(SIGTERM, on_fatal);
  signal(SIGSEGV, on_fatal);
  signal(SIGABRT, on_fatal);
  signal(SIGHUP, on_fatal);
  signal(SIGINT, SIG_IGN); /* raw mode delivers Ctrl-C as a key; never die of it */
  if (!initscr()) {
    fprintf(stderr, "helua wb: cannot initialize the terminal\n");
    return 1;
  }
  curses_on = 1;
  raw();
  noecho();
  keypad(stdscr, TRUE);
  curs_set(0);
  /* a key timeout: getch comes back every 100 ms, so a SIGWINCH that lands just before a blocking
   * read still becomes KEY_RESIZE (and the loop has a tick for later work, e.g. the tuner) */
  timeout(100);
  if (!getenv("NO_COLOR") && has_colors()) {
    start_color();
    use_default_colors();
    init_pair(1, COLOR_BLACK, COLOR_CYAN);
    init_pair(2, COLOR_YELLOW, -1);
    w.color = 1;
  }
  w.lay = wb_layout(LINES, COLS);
  load_stage(&w);
  int r = WB_REDRAW;
  for (;;) {
    if (r & WB_RELAYOUT) w.lay = wb_layout(LINES, COLS);
    if (r & (WB_REDRAW | WB_RELAYOUT)) draw_all(&w);
    int key = getch();
    if (key == ERR) continue;
    r = handle_key(&w, key);
    if (r & WB_QUIT) break;
  }
  restore_terminal();
  wb_text_free(&w.source);
  wb_text_free(&w.code);
  return 0;
}
