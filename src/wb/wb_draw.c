/* The workbench's drawing: the source pane (line numbers, cursor, breakpoints, the step line,
 * lines linked to the code), the right pane's views (code stages, run report, tuning, step), the
 * status bar and the help overlay. Only the main loop calls wb_draw_all. Part of src/wb. */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb/wb_internal.h"

const char *const wb_view_names[NVIEWS] = {"ir",     "lowered", "llvm", "asm",  "ptx",
                                           "triton", "run",     "tune", "step", "nb"};

enum { PAIR_STATUS = 1, PAIR_GUTTER = 2, PAIR_LINK = 3, PAIR_STEP = 4, PAIR_BREAK = 5 };

static void put_clipped(int y, int x, int width, const char *s, size_t len, int skip) {
  char buf[4096];
  if (width <= 0) return;
  int n = wb_clip(buf, sizeof buf, s, len, skip, width);
  mvaddstr(y, x, buf);
  for (int c = n; c < width; c++)
    addch(' ');
}

static void put_str(int y, int x, int width, const char *s) {
  put_clipped(y, x, width, s, strlen(s), 0);
}

static void fill_rect(WbRect r) {
  for (int y = 0; y < r.h; y++)
    mvhline(r.y + y, r.x, ' ', r.w);
}

/* The source line linked to the selection: the source cursor's own line when the source pane has
 * the focus, else the origin of the code cursor's line (0: none). */
static int linked_line(Wb *w) {
  if (w->focus == &w->src_panel) return w->src_panel.cur + 1;
  if (w->view >= NSTAGES || w->have[w->view] != 2) return 0;
  const WbText *t = &w->text[w->view];
  int c = w->code_panel.cur;
  return c < t->n ? wb_line_origin(t->buf + t->start[c], t->len[c], w->base) : 0;
}

static int attr_for(Wb *w, int pair, int fallback) {
  return w->color ? (int)COLOR_PAIR(pair) : fallback;
}

void wb_src_draw(Wb *w, Panel *p) {
  char title[256];
  snprintf(title, sizeof title, " %s : %s", w->file,
           w->info.nkernels ? w->info.kernels[w->kernel] : "?");
  attron(A_BOLD | (w->focus == p ? A_REVERSE : 0));
  put_str(w->lay.src_title.y, w->lay.src_title.x, w->lay.src_title.w, title);
  attroff(A_BOLD | A_REVERSE);
  WbRect r = w->lay.src;
  int link = linked_line(w);
  for (int row = 0; row < r.h; row++) {
    int ln = p->top + row;
    if (ln >= w->source.n) {
      mvhline(r.y + row, r.x, ' ', r.w);
      continue;
    }
    int brk = wb_breaks_has(w->step.breaks, w->step.nbreaks, ln + 1);
    int at = w->step.active && w->step.line == ln + 1;
    char num[16];
    snprintf(num, sizeof num, "%*d%s", WB_GUTTER - 1, ln + 1, at ? ">" : brk ? "*" : " ");
    int ga = brk ? attr_for(w, PAIR_BREAK, A_BOLD) : attr_for(w, PAIR_GUTTER, 0);
    attron(ga);
    mvaddstr(r.y + row, r.x, num);
    attroff(ga);
    int a = at ? attr_for(w, PAIR_STEP, A_REVERSE) : 0;
    if (!at && link == ln + 1) a = attr_for(w, PAIR_LINK, A_UNDERLINE) | A_BOLD;
    if (w->focus == p && p->cur == ln) a |= A_REVERSE;
    attron(a);
    put_clipped(r.y + row, r.x + WB_GUTTER, r.w - WB_GUTTER, w->source.buf + w->source.start[ln],
                w->source.len[ln], p->left);
    attroff(a);
  }
}

static const char spin[] = "|/-\\";

/* "running add  / 2.3s" for a slot in flight */
static void slot_label(Wb *w, int s, char *out, size_t cap) {
  char el[32];
  double dt = wb_now() - w->slot[s].t0;
  wb_elapsed(el, sizeof el, dt);
  snprintf(out, cap, "%s %c %s", w->slot[s].what, spin[(int)(dt * 8) % 4], el);
}

static void draw_text(Wb *w, Panel *p, WbRect r, const WbText *t, int link) {
  for (int row = 0; row < r.h; row++) {
    int ln = p->top + row;
    if (ln >= t->n) {
      mvhline(r.y + row, r.x, ' ', r.w);
      continue;
    }
    const char *s = t->buf + t->start[ln];
    int a = 0;
    if (link && wb_line_origin(s, t->len[ln], w->base) == link)
      a = attr_for(w, PAIR_LINK, A_UNDERLINE) | A_BOLD;
    if (w->focus == p && p->cur == ln) a |= A_REVERSE;
    attron(a);
    put_clipped(r.y + row, r.x, r.w, s, t->len[ln], p->left);
    attroff(a);
  }
}

int wb_tune_table_rows(const Wb *w) {
  int plot = w->lay.code.h >= 20 ? 6 : w->lay.code.h >= 14 ? 3 : 0;
  int rows = w->lay.code.h - 5 - plot - 1;
  return rows > 0 ? rows : 0;
}

static void tune_draw(Wb *w, WbRect r) {
  WbTune *t = &w->tune;
  char line[4200], el[32];
  int y = r.y, W = r.w;
  wb_elapsed(el, sizeof el, t->elapsed);
  if (!t->n && !t->running) { /* the message, wrapped at spaces */
    const char *m = t->final[0] ? t->final : "no tuning yet: t tunes (then q quick, f full)";
    while (*m && y < r.y + r.h && W > 0) {
      size_t len = strlen(m), cut = len;
      if (wb_cols(m, len) > W) {
        cut = 0;
        for (size_t i = 0; m[i] && wb_cols(m, i) <= W; i++)
          if (m[i] == ' ') cut = i;
        if (!cut) cut = len;
      }
      put_clipped(y++, r.x, W, m, cut, 0);
      m += cut;
      while (*m == ' ')
        m++;
    }
    for (; y < r.y + r.h; y++)
      mvhline(y, r.x, ' ', W);
    return;
  }
  double rate = t->elapsed > 0 ? t->done / t->elapsed : 0;
  snprintf(line, sizeof line, "%s %s (%s)  generation %d/%d  %d/%d trials  %.1f configs/s  %s",
           t->running ? "tuning" : "tuned", w->info.kernels[w->kernel], t->effort, t->gen,
           t->max_gen, t->done, t->planned, rate, el);
  put_str(y++, r.x, W, line);
  double frac = t->planned > 0 ? (double)t->done / t->planned : 0;
  if (t->budget > 0 && t->elapsed / t->budget > frac) frac = t->elapsed / t->budget;
  if (!t->running && t->final[0]) frac = 1;
  char bar[4096];
  int bw = W > 12 ? W - 7 : W;
  wb_bar(bar, sizeof bar, frac, bw);
  snprintf(line, sizeof line, "%s %3d%%", bar, (int)(frac * 100 + 0.5));
  put_str(y++, r.x, W, line);
  if (t->best_ms > 0)
    snprintf(line, sizeof line, "best %.4f ms  %s", t->best_ms, t->best_cfg);
  else
    snprintf(line, sizeof line, "best -");
  put_str(y++, r.x, W, line);
  put_str(y++, r.x, W, t->final[0] ? t->final : t->logline);
  int plot = w->lay.code.h >= 20 ? 6 : w->lay.code.h >= 14 ? 3 : 0;
  if (plot) {
    char *buf = malloc(64 * 1024);
    int lab = 11, pw = W - lab;
    if (buf && t->np > 0 && pw > 4 && wb_plot(buf, 64 * 1024, t->pt, t->py, t->np, plot, pw) == 0) {
      double lo = t->py[0], hi = t->py[0];
      for (int i = 0; i < t->np; i++) {
        if (t->py[i] < lo) lo = t->py[i];
        if (t->py[i] > hi) hi = t->py[i];
      }
      char *p = buf;
      for (int i = 0; i < plot; i++) {
        char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char l[32] = "";
        if (i == 0) snprintf(l, sizeof l, "%8.4f ms", hi);
        if (i == plot - 1) snprintf(l, sizeof l, "%8.4f ms", lo);
        put_str(y, r.x, lab, l);
        put_clipped(y++, r.x + lab, pw, p, len, 0);
        p = e ? e + 1 : p + len;
      }
    } else {
      for (int i = 0; i < plot; i++)
        mvhline(y++, r.x, ' ', W);
    }
    free(buf);
  }
  /* the keys, and the selected trial's config (the table's column may be cut off) */
  int *order = malloc(sizeof(int) * (size_t)(t->n + 1));
  const WbTrial *sel = NULL;
  if (order && t->n) {
    wb_trials_sort(t->t, t->n, t->sort, order);
    if (t->sel >= 0 && t->sel < t->n) sel = &t->t[order[t->sel]];
  }
  snprintf(line, sizeof line, "sort: %s (o)  Enter: pick  e: export  x: stop%s%s",
           wb_sort_names[t->sort], sel ? "  | " : "", sel ? sel->config : "");
  attron(A_DIM);
  put_str(y++, r.x, W, line);
  attroff(A_DIM);
  const char *unit = "";
  for (int i = 0; i < t->n && !*unit; i++)
    unit = t->t[i].unit;
  wb_trial_header(line, sizeof line, unit, W);
  attron(A_BOLD);
  put_str(y++, r.x, W, line);
  attroff(A_BOLD);
  int *rank = malloc(sizeof(int) * (size_t)(t->n + 1));
  if (order && rank) {
    wb_trials_rank(t->t, t->n, rank);
    for (int row = t->top; row < t->n && y < r.y + r.h; row++) {
      int i = order[row];
      wb_trial_row(line, sizeof line, &t->t[i], rank[i], W);
      int a = (row == t->sel && w->focus == &w->code_panel) ? A_REVERSE : 0;
      if (i == t->picked) a |= A_BOLD;
      attron(a);
      put_str(y++, r.x, W, line);
      attroff(a);
    }
  }
  free(order);
  free(rank);
  for (; y < r.y + r.h; y++)
    mvhline(y, r.x, ' ', W);
}

static void step_draw(Wb *w, WbRect r) {
  WbStep *s = &w->step;
  char line[512];
  int y = r.y;
  if (s->active)
    snprintf(line, sizeof line, "step %s  line %d %s  (n next, c continue, b breakpoint, x stop)",
             w->info.kernels[w->kernel], s->line, s->paused ? "" : "(running)");
  else
    snprintf(line, sizeof line, "%s",
             s->end[0] ? s->end : "no stepping: p steps the kernel in interpret mode");
  attron(A_BOLD);
  put_str(y++, r.x, r.w, line);
  attroff(A_BOLD);
  if (s->nbreaks) {
    size_t o = (size_t)snprintf(line, sizeof line, "breakpoints:");
    for (int i = 0; i < s->nbreaks && o < sizeof line - 8; i++)
      o += (size_t)snprintf(line + o, sizeof line - o, " %d", s->breaks[i]);
    put_str(y++, r.x, r.w, line);
  }
  for (int i = 0; i < s->nvars && y < r.y + r.h; i++)
    put_str(y++, r.x, r.w, s->vars[i]);
  for (; y < r.y + r.h; y++)
    mvhline(y, r.x, ' ', r.w);
}

void wb_code_draw(Wb *w, Panel *p) {
  WbRect t = w->lay.code_tabs;
  char tabs[1024];
  int ax = 0, aw = 0;
  wb_tabs(tabs, sizeof tabs, wb_view_names, NVIEWS, w->view, t.w, &ax, &aw);
  attron(A_BOLD);
  put_str(t.y, t.x, t.w, tabs);
  attroff(A_BOLD);
  if (ax < t.w) {
    attron(A_REVERSE | A_BOLD);
    mvaddnstr(t.y, t.x + ax, tabs + ax, aw < t.w - ax ? aw : t.w - ax);
    attroff(A_REVERSE | A_BOLD);
  }
  WbRect r = w->lay.code;
  if (w->view == V_TUNE) {
    tune_draw(w, r);
  } else if (w->view == V_STEP) {
    step_draw(w, r);
  } else if (w->view == V_NB) {
    wb_nb_draw(w, r);
  } else if (w->have[w->view] == 1) {
    char l[256];
    int s = w->view == V_RUN ? J_ACTION : J_CODE;
    if (w->slot[s].job.pid)
      slot_label(w, s, l, sizeof l);
    else
      snprintf(l, sizeof l, "...");
    put_str(r.y, r.x, r.w, l);
    for (int y = 1; y < r.h; y++)
      mvhline(r.y + y, r.x, ' ', r.w);
  } else {
    draw_text(w, p, r, &w->text[w->view], w->view < NSTAGES ? linked_line(w) : 0);
  }
}

static void status_draw(Wb *w) {
  char left[1024], line[4096], act[160] = "";
  for (int s = J_ACTION; s >= J_CODE; s--)
    if (w->slot[s].job.pid) {
      slot_label(w, s, act, sizeof act);
      break;
    }
  if (w->step.active && w->step.paused) /* waiting for the user, not working */
    snprintf(act, sizeof act, "paused at line %d", w->step.line);
  snprintf(left, sizeof left, " %s | %s | %s%s%s%s%s%s%s", w->device, wb_cur_backend(w),
           w->info.nkernels ? w->info.kernels[w->kernel] : "-", *w->config_label ? " | " : "",
           w->config_label, *act ? " | " : "", act, *w->msg ? " | " : "", w->msg);
  if (w->prompt == 't') snprintf(left, sizeof left, " tune effort: q quick  f full  (x: cancel)");
  int typing = w->view == V_NB && w->nb.editing && w->focus == &w->code_panel;
  wb_status(line, sizeof line, left,
            typing ? "Enter run  Up/Down history  Esc leave "
                   : "q quit  ? help  r run  t tune  p step  x stop ",
            w->lay.status.w);
  int a = attr_for(w, PAIR_STATUS, A_REVERSE);
  attron(a);
  mvaddstr(w->lay.status.y, 0, line);
  attroff(a);
}

static const char *const help_lines[] = {
    "helua workbench - keys",
    "",
    "  q  quit          ?  this help         s  focus source / right pane",
    "  1-6  code: ir, lowered, llvm, asm, ptx, triton (5, 6: the cuda target)",
    "  7 run report  8 tune  9 step  0 notebook        Tab  next view",
    "  arrows, PgUp, PgDn, Home, End  move the cursor / scroll",
    "  r  run: check against the reference, time",
    "  t  tune (then q quick, f full); o sort column, Enter pick a trial",
    "  e  export the picked (or best) config beside the file",
    "  d  back to the default config      k  next kernel",
    "  p  step mode (interpret): n next line, c continue, b breakpoint",
    "  i  notebook (0): Lua cells in the file's environment; Esc leaves",
    "  E  edit the file in $EDITOR (reloads when it changes on disk)",
    "  x, Ctrl-C  stop the running action (never quits)",
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
    put_str(r.y + 1 + i, r.x + 1, r.w - 2, help_lines[i]);
}

void wb_draw_all(Wb *w) {
  erase();
  if (!w->lay.ok) {
    mvaddstr(0, 0, "terminal too small (40x10 at least); q quits");
  } else {
    w->src_panel.draw(w, &w->src_panel);
    mvvline(0, w->lay.src.w, ACS_VLINE, w->lay.src.h + 1);
    w->code_panel.draw(w, &w->code_panel);
    status_draw(w);
    if (w->help) help_draw(w);
  }
  refresh();
}
