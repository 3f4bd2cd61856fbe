/* The workbench's curses shell: the key table, the panels' on_key, the worker slots and their
 * records, reload and $EDITOR, and the main loop (the only place that draws, through wb_draw.c)
 * with terminal restoration on every exit path. Part of src/wb — the only layer that includes
 * curses (tests/layering.sh). */
#include <curses.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wb/wb_internal.h"

/* ---- terminal restoration: atexit and fatal signals restore first ---- */
static volatile sig_atomic_t curses_on;
static Wb *live; /* for the fatal path: its workers are killed too */

static void restore_terminal(void) {
  if (curses_on) {
    curses_on = 0;
    endwin();
  }
}

static void kill_workers(void) {
  if (!live) return;
  for (int s = 0; s < NSLOTS; s++)
    if (live->slot[s].job.pid) kill(-live->slot[s].job.pid, SIGKILL);
}

static void on_fatal(int sig) {
  restore_terminal();
  kill_workers();
  signal(sig, SIG_DFL);
  raise(sig);
}

double wb_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- workers ---- */
static const char *cur_kernel(Wb *w) {
  return w->info.nkernels ? w->info.kernels[w->kernel] : "";
}

/* Starts ACTION in slot s (stopping what ran there) with extra "--key value" pairs. */
static int start(Wb *w, int s, const char *action, const char *what, const char *const *extra) {
  const char *argv[48];
  int n = 0;
  argv[n++] = "wb";
  argv[n++] = "--worker";
  argv[n++] = action;
  argv[n++] = "--file";
  argv[n++] = w->file;
  argv[n++] = "--kernel";
  argv[n++] = cur_kernel(w);
  for (int i = 0; extra && extra[i] && n < 40; i++)
    argv[n++] = extra[i];
  for (int i = 0; w->host->worker_args && w->host->worker_args[i] && n < 46; i++)
    argv[n++] = w->host->worker_args[i];
  argv[n] = NULL;
  WbSlot *sl = &w->slot[s];
  if (sl->job.pid) wb_job_stop(&sl->job);
  memset(sl, 0, sizeof *sl);
  char err[256];
  if (wb_job_start(&sl->job, argv, err, sizeof err) != 0) {
    snprintf(w->msg, sizeof w->msg, "%s", err);
    return -1;
  }
  snprintf(sl->what, sizeof sl->what, "%s", what);
  snprintf(sl->action, sizeof sl->action, "%s", action);
  sl->t0 = wb_now();
  return 0;
}

static void set_text(Wb *w, int v, const char *text) {
  wb_text_set(&w->text[v], text ? text : "(no text)");
  w->have[v] = 2;
  if (w->view == v) w->code_panel.top = w->code_panel.left = w->code_panel.cur = 0;
}

/* The code of the current view, from a worker unless it is already there. */
static void request_code(Wb *w) {
  if (w->view >= NSTAGES || w->have[w->view] || !w->info.nkernels) return;
  if (w->slot[J_CODE].job.pid) w->have[w->slot[J_CODE].stage] = 0;
  char what[96];
  snprintf(what, sizeof what, "compiling %s", wb_view_names[w->view]);
  const char *extra[5] = {"--stage", wb_view_names[w->view], NULL, NULL, NULL};
  if (*w->config) extra[2] = "--config", extra[3] = w->config;
  if (start(w, J_CODE, "code", what, extra) == 0) {
    w->have[w->view] = 1;
    w->slot[J_CODE].stage = w->view;
  }
}

static void forget_code(Wb *w) {
  if (w->slot[J_CODE].job.pid) wb_job_stop(&w->slot[J_CODE].job);
  for (int v = 0; v < NSTAGES; v++)
    w->have[v] = 0;
}

static void set_view(Wb *w, int v) {
  if (v != w->view) w->code_panel.top = w->code_panel.left = w->code_panel.cur = 0;
  w->view = v;
  if (v < NSTAGES) w->stage = v;
  request_code(w);
}

static int action_busy(Wb *w) {
  if (!w->slot[J_ACTION].job.pid) return 0;
  snprintf(w->msg, sizeof w->msg, "busy: %s (x stops it)", w->slot[J_ACTION].what);
  return 1;
}

/* ---- records ---- */
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

static void on_trial(Wb *w, char **f, int n) {
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

static void on_step(Wb *w, char **f, int n) {
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

typedef struct RecCtx {
  Wb *w;
  int slot;
  int *got;
} RecCtx;

static void on_record(void *ctx, char *line) {
  RecCtx *c = ctx;
  *c->got = 1;
  Wb *w = c->w;
  WbSlot *sl = &w->slot[c->slot];
  char *f[24];
  int n = wb_rec_split(line, f, 24);
  const char *tag = f[0];
  if (strcmp(tag, "done") == 0) {
    sl->ended = 1;
  } else if (strcmp(tag, "error") == 0 && n >= 2) {
    snprintf(sl->error, sizeof sl->error, "%s", f[1]);
  } else if (strcmp(tag, "text") == 0 && n >= 5) {
    int ok = strcmp(f[3], "1") == 0;
    if (strcmp(f[1], "code") == 0) {
      set_text(w, sl->stage, f[4]);
      if (!ok) snprintf(w->msg, sizeof w->msg, "%s: error", wb_view_names[sl->stage]);
    } else {
      set_text(w, V_RUN, f[4]);
      set_view(w, V_RUN);
      snprintf(w->msg, sizeof w->msg, "%s %s", f[1], ok ? "PASS" : "FAILED");
    }
  } else if (strcmp(tag, "device") == 0 && n >= 2) {
    if (n >= 3 && *f[2]) { /* "cpu (no CUDA: libcuda.so.1 not found)": the reason's first clause */
      f[2][strcspn(f[2], "(;\n")] = '\0';
      size_t k = strlen(f[2]);
      while (k && f[2][k - 1] == ' ')
        f[2][--k] = '\0';
      snprintf(w->device, sizeof w->device, "%s (no CUDA: %.36s)", f[1], f[2]);
    } else {
      snprintf(w->device, sizeof w->device, "%s", f[1]);
    }
  } else if (strcmp(tag, "kernels") == 0 && n >= 5) {
    char keep[WB_NAME];
    snprintf(keep, sizeof keep, "%s", cur_kernel(w));
    w->info.nkernels = 0;
    snprintf(w->info.backend, sizeof w->info.backend, "%s", f[3]);
    for (int i = 4; i < n && w->info.nkernels < WB_MAX_KERNELS; i++)
      snprintf(w->info.kernels[w->info.nkernels++], WB_NAME, "%s", f[i]);
    w->kernel = 0;
    for (int i = 0; i < w->info.nkernels; i++)
      if (strcmp(w->info.kernels[i], keep) == 0) w->kernel = i;
  } else if (strcmp(tag, "tune-start") == 0 && n >= 2) {
    snprintf(w->tune.effort, sizeof w->tune.effort, "%s", f[1]);
  } else if (strcmp(tag, "trial") == 0) {
    on_trial(w, f, n);
  } else if (strcmp(tag, "log") == 0 && n >= 2) {
    snprintf(w->tune.logline, sizeof w->tune.logline, "%s", f[1]);
  } else if (strcmp(tag, "tuned") == 0 && n >= 8) {
    WbTune *t = &w->tune;
    t->best_ms = atof(f[1]);
    t->default_ms = atof(f[2]);
    snprintf(t->best_cfg, sizeof t->best_cfg, "%s", f[3]);
    snprintf(t->best_json, sizeof t->best_json, "%s", f[4]);
    snprintf(t->final, sizeof t->final,
             "done: best %.4f ms, default %.4f ms (%.2fx) after %s trials, re-timed", t->best_ms,
             t->default_ms, atof(f[5]), f[7]);
  } else if (strcmp(tag, "export") == 0 && n >= 2) {
    snprintf(w->msg, sizeof w->msg, "exported %s to %s", n >= 3 ? f[2] : "", f[1]);
  } else if (strcmp(tag, "at") == 0 || strcmp(tag, "var") == 0 || strcmp(tag, "paused") == 0) {
    on_step(w, f, n);
  } else if (strcmp(tag, "step-end") == 0 && n >= 2) {
    snprintf(w->step.end, sizeof w->step.end, "%s", f[1]);
  }
}

/* A worker ended: say how, and show its error (with its log) where the user looks. */
static void on_end(Wb *w, int s) {
  WbSlot *sl = &w->slot[s];
  char how[64], first[160];
  wb_job_describe(&sl->job, how, sizeof how);
  if (!strcmp(sl->action, "tune")) {
    w->tune.running = 0;
    if (sl->stopped) {
      snprintf(w->tune.final, sizeof w->tune.final, "stopped: kept %d trials, best %.4f ms",
               w->tune.n, w->tune.best_ms);
      if (w->tune.best_ms <= 0) snprintf(w->tune.final, sizeof w->tune.final, "stopped");
    }
  }
  if (!strcmp(sl->action, "step")) {
    w->step.active = w->step.paused = 0;
    if (!w->step.end[0]) snprintf(w->step.end, sizeof w->step.end, "step mode ended");
  }
  if (sl->stopped) {
    snprintf(w->msg, sizeof w->msg, "stopped %s", sl->what);
    if (s == J_CODE) w->have[sl->stage] = 0;
    return;
  }
  if (sl->ended) return;
  char text[6144];
  if (sl->error[0])
    snprintf(text, sizeof text, "ERROR  %s\n\n%s\n\n%s", sl->what, sl->error, sl->job.log);
  else
    snprintf(text, sizeof text, "ERROR  %s: the worker %s\n\n%s", sl->what, how, sl->job.log);
  snprintf(first, sizeof first, "%s", sl->error[0] ? sl->error : how);
  char *nl = strchr(first, '\n');
  if (nl) *nl = '\0';
  snprintf(w->msg, sizeof w->msg, "%s failed: %s", sl->what, first);
  if (s == J_CODE) {
    set_text(w, sl->stage, text);
  } else if (s == J_ACTION) {
    if (!strcmp(sl->action, "tune")) snprintf(w->tune.final, sizeof w->tune.final, "%s", first);
    else if (!strcmp(sl->action, "step")) snprintf(w->step.end, sizeof w->step.end, "%s", first);
    else {
      set_text(w, V_RUN, text);
      set_view(w, V_RUN);
    }
  }
}

/* Polls every worker; returns WB_REDRAW when a record came or one ended, and sets *busy when
 * one is still running (its spinner moves). */
static int poll_workers(Wb *w, int *busy) {
  int r = WB_NONE;
  *busy = 0;
  for (int s = 0; s < NSLOTS; s++) {
    WbSlot *sl = &w->slot[s];
    if (!sl->job.pid) continue;
    RecCtx c = {w, s, NULL};
    size_t before = sl->job.llen;
    int got = 0;
    c.got = &got;
    if (wb_job_poll(&sl->job, on_record, &c)) {
      on_end(w, s);
      r = WB_REDRAW;
    } else {
      *busy = 1;
    }
    if (got || sl->job.llen != before) r = WB_REDRAW;
  }
  return r;
}

static void stop_slot(Wb *w, int s) {
  w->slot[s].stopped = 1;
  wb_job_stop(&w->slot[s].job);
  on_end(w, s);
}

/* ---- reload and $EDITOR ---- */
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

static time_t file_mtime(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_mtime : 0;
}

static void reload(Wb *w) {
  char *src = read_file(w->file);
  if (!src) {
    snprintf(w->msg, sizeof w->msg, "cannot read %s", w->file);
    return;
  }
  wb_text_set(&w->source, src);
  free(src);
  if (w->src_panel.cur >= w->source.n) w->src_panel.cur = w->source.n ? w->source.n - 1 : 0;
  w->src_panel.top = wb_scroll(w->src_panel.top, 0, w->source.n, w->lay.src.h);
  forget_code(w);
  w->have[V_RUN] = 0;
  start(w, J_INFO, "load", "reloading", NULL);
  request_code(w);
  snprintf(w->msg, sizeof w->msg, "reloaded %s", w->file);
}

static int check_reload(Wb *w) {
  double now = wb_now();
  if (now - w->last_check < 0.5) return WB_NONE;
  w->last_check = now;
  time_t m = file_mtime(w->file);
  if (!m || m == w->mtime) return WB_NONE;
  w->mtime = m;
  reload(w);
  return WB_REDRAW;
}

static int k_editor(Wb *w) {
  const char *ed = getenv("EDITOR");
  if (!ed || !*ed) {
    snprintf(w->msg, sizeof w->msg, "set $EDITOR to edit the file");
    return WB_REDRAW;
  }
  def_prog_mode();
  endwin();
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGINT, SIG_DFL);
    execl("/bin/sh", "sh", "-c", "exec $EDITOR \"$1\"", "sh", w->file, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  if (pid > 0)
    while (waitpid(pid, &st, 0) < 0) {
    }
  reset_prog_mode();
  refresh();
  w->mtime = file_mtime(w->file);
  reload(w);
  return WB_RELAYOUT;
}

/* ---- panels' keys ---- */
static int pane_height(Wb *w, Panel *p) {
  return p == &w->src_panel ? w->lay.src.h : w->lay.code.h;
}

static int tune_on_key(Wb *w, int key);

static int move_keys(Wb *w, Panel *p, int key) {
  const WbText *t = p == &w->src_panel ? &w->source : &w->text[w->view < V_TUNE ? w->view : 0];
  int h = pane_height(w, p), n = t->n, d;
  switch (key) {
  case KEY_UP: d = -1; break;
  case KEY_DOWN: d = 1; break;
  case KEY_PPAGE: d = -(h > 1 ? h - 1 : 1); break;
  case KEY_NPAGE: d = h > 1 ? h - 1 : 1; break;
  case KEY_HOME: d = -n; break;
  case KEY_END: d = n; break;
  case KEY_LEFT:
    p->left = p->left > 8 ? p->left - 8 : 0;
    return WB_REDRAW;
  case KEY_RIGHT:
    p->left += 8;
    return WB_REDRAW;
  default:
    return WB_NONE;
  }
  long c = (long)p->cur + d;
  p->cur = (int)(c < 0 ? 0 : c >= n ? (n ? n - 1 : 0) : c);
  if (p->cur < p->top) p->top = p->cur;
  if (p->cur >= p->top + h) p->top = p->cur - h + 1;
  p->top = wb_scroll(p->top, 0, n, h);
  return WB_REDRAW;
}

static int src_on_key(Wb *w, Panel *p, int key) {
  return move_keys(w, p, key);
}

static int code_on_key(Wb *w, Panel *p, int key) {
  if (w->view == V_TUNE) return tune_on_key(w, key);
  return move_keys(w, p, key);
}

/* ---- actions ---- */
static int k_run(Wb *w) {
  if (!w->info.nkernels || action_busy(w)) return WB_REDRAW;
  char what[96];
  snprintf(what, sizeof what, "running %s", cur_kernel(w));
  if (start(w, J_ACTION, "run", what, NULL) == 0) {
    w->have[V_RUN] = 1;
    set_view(w, V_RUN);
  }
  return WB_REDRAW;
}

static void tune_reset(WbTune *t) {
  free(t->t);
  free(t->pt);
  free(t->py);
  memset(t, 0, sizeof *t);
  t->picked = -1;
}

static int tune_start(Wb *w, const char *effort) {
  w->prompt = 0;
  if (action_busy(w)) return WB_REDRAW;
  char what[96];
  snprintf(what, sizeof what, "tuning %s (%s)", cur_kernel(w), effort);
  int sort = w->tune.sort;
  tune_reset(&w->tune);
  w->tune.sort = sort;
  snprintf(w->tune.effort, sizeof w->tune.effort, "%s", effort);
  const char *extra[] = {"--effort", effort, NULL};
  if (start(w, J_ACTION, "tune", what, extra) == 0) w->tune.running = 1;
  set_view(w, V_TUNE);
  w->focus = &w->code_panel;
  return WB_REDRAW;
}

static int k_tune(Wb *w) {
  if (!w->info.nkernels || action_busy(w)) return WB_REDRAW;
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

static void use_config(Wb *w, const char *json, const char *label) {
  snprintf(w->config, sizeof w->config, "%s", json);
  snprintf(w->config_label, sizeof w->config_label, "%s", label);
  forget_code(w);
}

static int tune_on_key(Wb *w, int key) {
  WbTune *t = &w->tune;
  int rows = wb_tune_table_rows(w);
  switch (key) {
  case KEY_UP: t->sel = t->sel > 0 ? t->sel - 1 : 0; break;
  case KEY_DOWN: t->sel = t->sel + 1 < t->n ? t->sel + 1 : t->sel; break;
  case KEY_PPAGE: t->sel = t->sel > rows ? t->sel - rows : 0; break;
  case KEY_NPAGE: t->sel = t->sel + rows < t->n ? t->sel + rows : (t->n ? t->n - 1 : 0); break;
  case KEY_HOME: t->sel = 0; break;
  case KEY_END: t->sel = t->n ? t->n - 1 : 0; break;
  case 'o': t->sort = (t->sort + 1) % WB_NSORT; break;
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
    use_config(w, r->json, label);
    set_view(w, w->stage);
    if (!w->slot[J_ACTION].job.pid) {
      char what[96];
      snprintf(what, sizeof what, "timing trial %d", r->index);
      const char *extra[] = {"--config", w->config, NULL};
      start(w, J_ACTION, "time", what, extra);
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

static int k_export(Wb *w) {
  WbTune *t = &w->tune;
  const WbTrial *pick = t->picked >= 0 && t->picked < t->n ? &t->t[t->picked] : NULL;
  const char *json = pick ? pick->json : t->best_json;
  double ms = pick ? pick->time_ms : t->best_ms;
  if (!json[0]) {
    snprintf(w->msg, sizeof w->msg, "nothing to export: tune first (t)");
    return WB_REDRAW;
  }
  if (action_busy(w)) return WB_REDRAW;
  char tm[32], what[96];
  snprintf(tm, sizeof tm, "%.6f", ms > 0 ? ms : 0);
  snprintf(what, sizeof what, "exporting %s", pick ? "the picked config" : "the best config");
  const char *extra[] = {"--config", json, "--time-ms", tm, NULL};
  start(w, J_ACTION, "export", what, extra);
  return WB_REDRAW;
}

static int k_default(Wb *w) {
  use_config(w, "", "");
  w->tune.picked = -1;
  set_view(w, w->stage);
  snprintf(w->msg, sizeof w->msg, "default config");
  return WB_REDRAW;
}

static void breaks_text(Wb *w, char *out, size_t cap) {
  size_t o = 0;
  out[0] = '\0';
  for (int i = 0; i < w->step.nbreaks && o + 12 < cap; i++)
    o += (size_t)snprintf(out + o, cap - o, "%s%d", i ? "," : "", w->step.breaks[i]);
}

static int k_step(Wb *w) {
  if (!w->info.nkernels || action_busy(w)) return WB_REDRAW;
  char br[512], what[96];
  breaks_text(w, br, sizeof br);
  snprintf(what, sizeof what, "stepping %s", cur_kernel(w));
  const char *extra[] = {"--breaks", br, NULL};
  memset(w->step.vars, 0, sizeof w->step.vars);
  w->step.nvars = w->step.line = w->step.paused = 0;
  w->step.end[0] = '\0';
  if (start(w, J_ACTION, "step", what, extra) == 0) w->step.active = 1;
  set_view(w, V_STEP);
  return WB_REDRAW;
}

static int step_cmd(Wb *w, const char *cmd) {
  if (!w->step.active || !w->step.paused) return WB_NONE;
  w->step.paused = 0;
  wb_job_send(&w->slot[J_ACTION].job, cmd);
  return WB_REDRAW;
}

static int k_next(Wb *w) {
  return step_cmd(w, "n");
}
static int k_continue(Wb *w) {
  return step_cmd(w, "c");
}

static int k_break(Wb *w) {
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

static int k_stop(Wb *w) {
  if (w->prompt) {
    w->prompt = 0;
    return WB_REDRAW;
  }
  if (w->slot[J_ACTION].job.pid) stop_slot(w, J_ACTION);
  else if (w->slot[J_CODE].job.pid) stop_slot(w, J_CODE);
  else snprintf(w->msg, sizeof w->msg, "nothing to stop (q quits)");
  return WB_REDRAW;
}

/* ---- the key table ---- */
static int k_quit(Wb *w) {
  (void)w;
  return WB_QUIT;
}
static int k_help(Wb *w) {
  w->help = !w->help;
  return WB_REDRAW;
}
static int k_tab(Wb *w) {
  set_view(w, (w->view + 1) % NVIEWS);
  return WB_REDRAW;
}
static int k_view(Wb *w, int v) {
  set_view(w, v);
  return WB_REDRAW;
}
static int k_1(Wb *w) { return k_view(w, V_IR); }
static int k_2(Wb *w) { return k_view(w, V_LOWERED); }
static int k_3(Wb *w) { return k_view(w, V_LLVM); }
static int k_4(Wb *w) { return k_view(w, V_ASM); }
static int k_5(Wb *w) { return k_view(w, V_RUN); }
static int k_6(Wb *w) { return k_view(w, V_TUNE); }
static int k_7(Wb *w) { return k_view(w, V_STEP); }
static int k_focus(Wb *w) {
  w->focus = w->focus == &w->src_panel ? &w->code_panel : &w->src_panel;
  return WB_REDRAW;
}
static int k_kernel(Wb *w) {
  if (w->info.nkernels < 2) return WB_NONE;
  w->kernel = (w->kernel + 1) % w->info.nkernels;
  use_config(w, "", "");
  w->have[V_RUN] = 0;
  set_view(w, w->view < NSTAGES ? w->view : w->stage);
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
    {'q', k_quit},    {'?', k_help},     {'\t', k_tab},     {'1', k_1},        {'2', k_2},
    {'3', k_3},       {'4', k_4},        {'5', k_5},        {'6', k_6},        {'7', k_7},
    {'s', k_focus},   {'r', k_run},      {'k', k_kernel},   {'t', k_tune},     {'e', k_export},
    {'d', k_default}, {'p', k_step},     {'n', k_next},     {'c', k_continue}, {'b', k_break},
    {'x', k_stop},    {3 /* Ctrl-C */, k_stop}, {'E', k_editor}, {KEY_RESIZE, k_resize},
};

static int handle_key(Wb *w, int key) {
  if (w->help && key != KEY_RESIZE) { /* any key closes the help; q still quits */
    w->help = 0;
    return key == 'q' ? WB_QUIT : WB_REDRAW;
  }
  if (w->prompt == 't' && key != KEY_RESIZE) { /* the tuning effort */
    if (key == 'q') return tune_start(w, "quick");
    if (key == 'f') return tune_start(w, "full");
    w->prompt = 0;
    snprintf(w->msg, sizeof w->msg, "tuning cancelled");
    return WB_REDRAW;
  }
  for (size_t i = 0; i < sizeof keytable / sizeof keytable[0]; i++)
    if (keytable[i].key == key) return keytable[i].fn(w);
  return w->focus->on_key(w, w->focus, key);
}

static void basename_of(const char *path, char *out, size_t cap) {
  const char *s = strrchr(path, '/');
  snprintf(out, cap, "%s", s ? s + 1 : path);
}

static void free_all(Wb *w) {
  for (int s = 0; s < NSLOTS; s++)
    wb_job_stop(&w->slot[s].job);
  wb_text_free(&w->source);
  for (int v = 0; v <= V_RUN; v++)
    wb_text_free(&w->text[v]);
  tune_reset(&w->tune);
}

int wb_main(const WbHost *host, const char *file) {
  static Wb w;
  memset(&w, 0, sizeof w);
  w.host = host;
  w.file = file;
  basename_of(file, w.base, sizeof w.base);
  w.src_panel = (Panel){.draw = wb_src_draw, .on_key = src_on_key};
  w.code_panel = (Panel){.draw = wb_code_draw, .on_key = code_on_key};
  w.focus = &w.code_panel;
  w.tune.picked = -1;
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
  snprintf(w.device, sizeof w.device, "%s", w.info.device);
  w.mtime = file_mtime(file);

  setlocale(LC_ALL, "");
  live = &w;
  atexit(restore_terminal);
  atexit(kill_workers);
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
  set_escdelay(25);
  /* a key timeout: getch comes back every 50 ms to read the workers' records, check the file's
   * mtime and move the spinner; a SIGWINCH that lands just before a read still becomes
   * KEY_RESIZE */
  timeout(50);
  if (!getenv("NO_COLOR") && has_colors()) {
    start_color();
    use_default_colors();
    init_pair(1, COLOR_BLACK, COLOR_CYAN);
    init_pair(2, COLOR_YELLOW, -1);
    init_pair(3, COLOR_GREEN, -1);
    init_pair(4, COLOR_BLACK, COLOR_YELLOW);
    init_pair(5, COLOR_RED, -1);
    w.color = 1;
  }
  w.lay = wb_layout(LINES, COLS);
  start(&w, J_INFO, "device", "device", NULL); /* lazily: the UI is up before CUDA is asked */
  request_code(&w);
  int r = WB_REDRAW;
  double last_draw = 0;
  for (;;) {
    if (r & WB_RELAYOUT) w.lay = wb_layout(LINES, COLS);
    if (r & (WB_REDRAW | WB_RELAYOUT)) {
      wb_draw_all(&w);
      last_draw = wb_now();
    }
    int key = getch(), busy = 0;
    r = poll_workers(&w, &busy) | check_reload(&w);
    if (busy && wb_now() - last_draw >= 0.1) r |= WB_REDRAW; /* the spinner: 10 frames/s */
    if (key == ERR) continue;
    r |= handle_key(&w, key);
    if (r & WB_QUIT) break;
  }
  restore_terminal();
  free_all(&w);
  live = NULL;
  return 0;
}
