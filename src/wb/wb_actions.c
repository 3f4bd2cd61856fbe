/* The workbench's actions with a pane of their own: tuning (the trial records, the table's keys,
 * pick, export) and step mode (line records, n/c/b). State changes only; wb_draw.c draws them.
 * Part of src/wb. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curses.h>

#include "wb/wb_internal.h"

static void tune_push_point(WbTune *t, double x, double y) {
  if (t->np == t->pcap) {
    int nc = t->pcap ? t->pcap * 2 : 64;
    double *a = realloc(t->pt, sizeof(double) * (size_t)nc);
    if (!a) return;
    t->pt = a;
    double *b = realloc(t->py, sizeof(double) * (size_t)nc);
    if (!b) return;
    t->py = b;
    t->pcap = nc;
  }
  t->pt[t->np] = x;
  t->py[t->np] = y;
  t->np++;
}

void wb_on_trial(Wb *w, char **f, int n) {
  WbTune *t = &w->tune;
  if (n < 16) return;
  if (t->n == t->cap) {
    int nc = t->cap ? t->cap * 2 : 64;
    WbTrial *a = realloc(t->t, sizeof *a * (size_t)nc);
    if (!a) return;
    t->t = a;
    t->cap = nc;
  }
  WbTrial *r = &t->t[t->n++];
  memset(r, 0, sizeof *r);
  r->index = atoi(f[1]);
  snprintf(r->status, sizeof r->status, "%s", f[2]);
  r->time_ms = atof(f[3]);
  double best = atof(f[4]);
  t->done = atoi(f[5]);
  t->planned = atoi(f[6]);
  t->elapsed = atof(f[7]);
  r->generation = t->gen = atoi(f[8]);
  t->max_gen = atoi(f[9]);
  t->budget = atof(f[10]);
  r->tput = atof(f[11]);
  snprintf(r->unit, sizeof r->unit, "%s", f[12]);
  snprintf(r->config, sizeof r->config, "%s", f[13]);
  snprintf(r->json, sizeof r->json, "%s", f[14]);
  if (n > 16) snprintf(r->device, sizeof r->device, "%s", f[16]); /* after the message */
  if (best > 0 && (t->best_ms <= 0 || best < t->best_ms || t->np == 0)) {
    t->best_ms = best;
    for (int i = 0; i < t->n; i++)
      if (t->t[i].time_ms == best && strcmp(t->t[i].status, "ok") == 0) {
        snprintf(t->best_cfg, sizeof t->best_cfg, "%s", t->t[i].config);
        snprintf(t->best_json, sizeof t->best_json, "%s", t->t[i].json);
      }
    tune_push_point(t, t->elapsed, best);
  } else if (best > 0) {
    tune_push_point(t, t->elapsed, t->best_ms);
  }
}

void wb_on_step(Wb *w, char **f, int n) {
  WbStep *s = &w->step;
  if (strcmp(f[0], "at") == 0 && n >= 2) {
    s->line = atoi(f[1]);
    s->nvars = 0;
    s->paused = 0;
    /* keep the line on screen */
    Panel *p = &w->src_panel;
    p->cur = s->line - 1;
    if (p->cur < p->top || p->cur >= p->top + w->lay.src.h)
      p->top = wb_scroll(0, p->cur - w->lay.src.h / 3, w->source.n, w->lay.src.h);
  } else if (strcmp(f[0], "var") == 0 && n >= 3 && s->nvars < WB_MAX_VARS) {
    snprintf(s->vars[s->nvars++], sizeof s->vars[0], "  %-10s %s", f[1], f[2]);
  } else if (strcmp(f[0], "paused") == 0) {
    s->paused = 1;
  }
}

void wb_tune_reset(WbTune *t) {
  free(t->t);
  free(t->pt);
  free(t->py);
  memset(t, 0, sizeof *t);
  t->picked = -1;
}

static int tune_start(Wb *w, const char *effort) {
  w->prompt = 0;
  if (wb_action_busy(w)) return WB_REDRAW;
  char what[96];
  snprintf(what, sizeof what, "tuning %s (%s)", wb_cur_kernel(w), effort);
  int sort = w->tune.sort;
  wb_tune_reset(&w->tune);
  w->tune.sort = sort;
  snprintf(w->tune.effort, sizeof w->tune.effort, "%s", effort);
  const char *extra[] = {"--effort", effort, NULL};
  if (wb_start(w, J_ACTION, "tune", what, extra) == 0) w->tune.running = 1;
  wb_set_view(w, V_TUNE);
  w->focus = &w->code_panel;
  return WB_REDRAW;
}

/* The key after t: q quick, f full, anything else cancels. */
int wb_tune_prompt_key(Wb *w, int key) {
  if (key == 'q') return tune_start(w, "quick");
  if (key == 'f') return tune_start(w, "full");
  w->prompt = 0;
  snprintf(w->msg, sizeof w->msg, "tuning cancelled");
  return WB_REDRAW;
}

int wb_k_tune(Wb *w) {
  if (!w->info.nkernels || wb_action_busy(w)) return WB_REDRAW;
  const char *b = wb_cur_backend(w);
  /* llvm kernels tune on the CPU, cuda ones on the GPU (the worker says when CUDA is
   * unavailable); interpret mode has no config space */
  if (strcmp(b, "llvm") != 0 && strcmp(b, "cuda") != 0) {
    wb_tune_reset(&w->tune);
    snprintf(w->tune.final, sizeof w->tune.final,
             "cannot tune %s here: it runs in interpret mode, which has no config space "
             "(give the kernel backend = \"cpu\" or \"cuda\" to tune it)",
             wb_cur_kernel(w));
    snprintf(w->msg, sizeof w->msg, "tuning needs a compiled kernel (%s runs in interpret mode)",
             wb_cur_kernel(w));
    wb_set_view(w, V_TUNE);
    return WB_REDRAW;
  }
  w->prompt = 't';
  return WB_REDRAW;
}

/* The trial under the tuning table's selection, or NULL. */
static WbTrial *selected_trial(Wb *w) {
  WbTune *t = &w->tune;
  if (t->sel < 0 || t->sel >= t->n) return NULL;
  int *order = malloc(sizeof(int) * (size_t)t->n);
  if (!order) return NULL;
  wb_trials_sort(t->t, t->n, t->sort, order);
  WbTrial *r = &t->t[order[t->sel]];
  free(order);
  return r;
}

int wb_tune_on_key(Wb *w, int key) {
  WbTune *t = &w->tune;
  int rows = wb_tune_table_rows(w);
  switch (key) {
  case KEY_UP:
    t->sel = t->sel > 0 ? t->sel - 1 : 0;
    break;
  case KEY_DOWN:
    t->sel = t->sel + 1 < t->n ? t->sel + 1 : t->sel;
    break;
  case KEY_PPAGE:
    t->sel = t->sel > rows ? t->sel - rows : 0;
    break;
  case KEY_NPAGE:
    t->sel = t->sel + rows < t->n ? t->sel + rows : (t->n ? t->n - 1 : 0);
    break;
  case KEY_HOME:
    t->sel = 0;
    break;
  case KEY_END:
    t->sel = t->n ? t->n - 1 : 0;
    break;
  case 'o':
    t->sort = (t->sort + 1) % WB_NSORT;
    break;
  case '\n':
  case '\r':
  case KEY_ENTER: {
    WbTrial *r = selected_trial(w);
    if (!r || !r->json[0]) {
      snprintf(w->msg, sizeof w->msg, "no config to pick here");
      break;
    }
    t->picked = (int)(r - t->t);
    char label[64];
    snprintf(label, sizeof label, "trial %d", r->index);
    wb_use_config(w, r->json, label);
    wb_set_view(w, w->stage);
    if (!w->slot[J_ACTION].job.pid) {
      char what[96];
      snprintf(what, sizeof what, "timing trial %d", r->index);
      const char *extra[] = {"--config", w->config, NULL};
      wb_start(w, J_ACTION, "time", what, extra);
      snprintf(w->msg, sizeof w->msg, "picked trial %d: its code; timing it", r->index);
    } else {
      snprintf(w->msg, sizeof w->msg, "picked trial %d (timing waits for the tuning)", r->index);
    }
    break;
  }
  default:
    return WB_NONE;
  }
  if (t->sel < t->top) t->top = t->sel;
  if (rows > 0 && t->sel >= t->top + rows) t->top = t->sel - rows + 1;
  return WB_REDRAW;
}

int wb_k_export(Wb *w) {
  WbTune *t = &w->tune;
  const WbTrial *pick = t->picked >= 0 && t->picked < t->n ? &t->t[t->picked] : NULL;
  const char *json = pick ? pick->json : t->best_json;
  double ms = pick ? pick->time_ms : t->best_ms;
  if (!json[0]) {
    snprintf(w->msg, sizeof w->msg, "nothing to export: tune first (t)");
    return WB_REDRAW;
  }
  WbSlot *sl = &w->slot[J_ACTION];
  if (sl->job.pid && !sl->ended && !strcmp(sl->action, "tune") && !strncmp(t->final, "done:", 5)) {
    /* the result is in; the worker is still closing its GPU workers: export when it has */
    w->export_queued = 1;
    snprintf(w->msg, sizeof w->msg, "export queued: it starts when the tuning worker has exited");
    return WB_REDRAW;
  }
  if (wb_action_busy(w)) return WB_REDRAW;
  char tm[32], what[96];
  snprintf(tm, sizeof tm, "%.6f", ms > 0 ? ms : 0);
  snprintf(what, sizeof what, "exporting %s", pick ? "the picked config" : "the best config");
  const char *extra[] = {"--config", json, "--time-ms", tm, NULL};
  wb_start(w, J_ACTION, "export", what, extra);
  return WB_REDRAW;
}

static void breaks_text(Wb *w, char *out, size_t cap) {
  size_t o = 0;
  out[0] = '\0';
  for (int i = 0; i < w->step.nbreaks && o + 12 < cap; i++)
    o += (size_t)snprintf(out + o, cap - o, "%s%d", i ? "," : "", w->step.breaks[i]);
}

int wb_k_step(Wb *w) {
  if (!w->info.nkernels || wb_action_busy(w)) return WB_REDRAW;
  char br[512], what[96];
  breaks_text(w, br, sizeof br);
  snprintf(what, sizeof what, "stepping %s", wb_cur_kernel(w));
  const char *extra[] = {"--breaks", br, NULL};
  memset(w->step.vars, 0, sizeof w->step.vars);
  w->step.nvars = w->step.line = w->step.paused = 0;
  w->step.end[0] = '\0';
  if (wb_start(w, J_ACTION, "step", what, extra) == 0) w->step.active = 1;
  wb_set_view(w, V_STEP);
  return WB_REDRAW;
}

static int step_cmd(Wb *w, const char *cmd) {
  if (!w->step.active || !w->step.paused) return WB_NONE;
  w->step.paused = 0;
  wb_job_send(&w->slot[J_ACTION].job, cmd);
  return WB_REDRAW;
}

int wb_k_next(Wb *w) {
  return step_cmd(w, "n");
}
int wb_k_continue(Wb *w) {
  return step_cmd(w, "c");
}

int wb_k_break(Wb *w) {
  int line = w->src_panel.cur + 1;
  int on = wb_breaks_toggle(w->step.breaks, &w->step.nbreaks, WB_MAX_BREAKS, line);
  snprintf(w->msg, sizeof w->msg, on < 0 ? "too many breakpoints" : "breakpoint %s line %d",
           on ? "on" : "off", line);
  if (w->step.active) {
    char cmd[600], br[512];
    breaks_text(w, br, sizeof br);
    snprintf(cmd, sizeof cmd, "b %s", br);
    wb_job_send(&w->slot[J_ACTION].job, cmd);
  }
  return WB_REDRAW;
}
