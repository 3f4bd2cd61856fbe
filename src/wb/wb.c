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
const char *wb_cur_kernel(Wb *w) {
  return w->info.nkernels ? w->info.kernels[w->kernel] : "";
}

const char *wb_cur_backend(Wb *w) {
  const char *b = w->info.nkernels ? w->info.backends[w->kernel] : "";
  return *b ? b : w->info.backend;
}

/* Starts ACTION in slot s (stopping what ran there) with extra "--key value" pairs. */
int wb_start(Wb *w, int s, const char *action, const char *what, const char *const *extra) {
  if (s == J_ACTION) w->export_queued = 0; /* another action: a queued export is dropped */
  const char *argv[48];
  int n = 0;
  argv[n++] = "wb";
  argv[n++] = "--worker";
  argv[n++] = action;
  argv[n++] = "--file";
  argv[n++] = w->file;
  argv[n++] = "--kernel";
  argv[n++] = wb_cur_kernel(w);
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
  if (wb_start(w, J_CODE, "code", what, extra) == 0) {
    w->have[w->view] = 1;
    w->slot[J_CODE].stage = w->view;
  }
}

static void forget_code(Wb *w) {
  if (w->slot[J_CODE].job.pid) wb_job_stop(&w->slot[J_CODE].job);
  for (int v = 0; v < NSTAGES; v++)
    w->have[v] = 0;
}

void wb_set_view(Wb *w, int v) {
  if (v != w->view) w->code_panel.top = w->code_panel.left = w->code_panel.cur = 0;
  w->view = v;
  if (v < NSTAGES) w->stage = v;
  request_code(w);
}

static void on_end(Wb *w, int s);

int wb_action_busy(Wb *w) {
  WbSlot *sl = &w->slot[J_ACTION];
  if (sl->job.pid && sl->ended) {
    /* its result is in ("done"); the process is only exiting (a cuda worker destroying its
     * context can take a second): reap it now rather than refuse the next action */
    wb_job_stop(&sl->job);
    on_end(w, J_ACTION);
  }
  if (!sl->job.pid) return 0;
  snprintf(w->msg, sizeof w->msg, "busy: %s (x stops it)", w->slot[J_ACTION].what);
  return 1;
}

/* ---- records ---- */
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
      wb_set_view(w, V_RUN);
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
    snprintf(keep, sizeof keep, "%s", wb_cur_kernel(w));
    w->info.nkernels = 0;
    snprintf(w->info.backend, sizeof w->info.backend, "%s", f[3]);
    for (int i = 4; i < n && w->info.nkernels < WB_MAX_KERNELS; i++)
      snprintf(w->info.kernels[w->info.nkernels++], WB_NAME, "%s", f[i]);
    w->kernel = 0;
    for (int i = 0; i < w->info.nkernels; i++) {
      snprintf(w->info.backends[i], sizeof w->info.backends[i], "%.15s", f[3]);
      if (strcmp(w->info.kernels[i], keep) == 0) w->kernel = i;
    }
  } else if (strcmp(tag, "backends") == 0) { /* after "kernels": each kernel's backend */
    for (int i = 1; i < n && i <= w->info.nkernels; i++)
      snprintf(w->info.backends[i - 1], sizeof w->info.backends[0], "%.15s", f[i]);
  } else if (strcmp(tag, "tune-start") == 0 && n >= 2) {
    snprintf(w->tune.effort, sizeof w->tune.effort, "%s", f[1]);
  } else if (strcmp(tag, "trial") == 0) {
    wb_on_trial(w, f, n);
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
    wb_on_step(w, f, n);
  } else if (strncmp(tag, "nb-", 3) == 0) {
    wb_nb_record(w, f, n);
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
  if (s == J_NB) {
    char why[1200];
    if (sl->stopped)
      snprintf(why, sizeof why, "stopped");
    else
      snprintf(why, sizeof why, "%s", sl->error[0] ? sl->error : how);
    wb_nb_ended(w, why);
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
  if (s == J_NB) return;
  if (s == J_CODE) {
    set_text(w, sl->stage, text);
  } else if (s == J_ACTION) {
    if (!strcmp(sl->action, "tune"))
      snprintf(w->tune.final, sizeof w->tune.final, "%s", first);
    else if (!strcmp(sl->action, "step"))
      snprintf(w->step.end, sizeof w->step.end, "%s", first);
    else {
      set_text(w, V_RUN, text);
      wb_set_view(w, V_RUN);
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
      if (s == J_ACTION && w->export_queued) {
        w->export_queued = 0;
        if (!sl->stopped && !strncmp(w->tune.final, "done:", 5)) wb_k_export(w);
      }
    } else {
      *busy = 1;
    }
    if (got || sl->job.llen != before) r = WB_REDRAW;
  }
  return r;
}

static void stop_slot(Wb *w, int s) {
  if (s == J_ACTION) w->export_queued = 0;
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
  wb_start(w, J_INFO, "load", "reloading", NULL);
  wb_nb_refresh(w);
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

static int move_keys(Wb *w, Panel *p, int key) {
  const WbText *t = p == &w->src_panel ? &w->source : &w->text[w->view < V_TUNE ? w->view : 0];
  int h = pane_height(w, p), n = t->n, d;
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
  if (w->view == V_TUNE) return wb_tune_on_key(w, key);
  if (w->view == V_NB) return wb_nb_on_key(w, key);
  return move_keys(w, p, key);
}

/* ---- actions ---- */
static int k_run(Wb *w) {
  if (!w->info.nkernels || wb_action_busy(w)) return WB_REDRAW;
  char what[96];
  snprintf(what, sizeof what, "running %s", wb_cur_kernel(w));
  if (wb_start(w, J_ACTION, "run", what, NULL) == 0) {
    w->have[V_RUN] = 1;
    wb_set_view(w, V_RUN);
  }
  return WB_REDRAW;
}

void wb_use_config(Wb *w, const char *json, const char *label) {
  snprintf(w->config, sizeof w->config, "%s", json);
  snprintf(w->config_label, sizeof w->config_label, "%s", label);
  forget_code(w);
}

static int k_default(Wb *w) {
  wb_use_config(w, "", "");
  w->tune.picked = -1;
  wb_set_view(w, w->stage);
  snprintf(w->msg, sizeof w->msg, "default config");
  return WB_REDRAW;
}

static int k_stop(Wb *w) {
  if (w->prompt) {
    w->prompt = 0;
    return WB_REDRAW;
  }
  int cell_runs = w->nb.n && w->nb.cells[w->nb.n - 1].state == WB_CELL_RUNNING;
  if (w->slot[J_ACTION].job.pid)
    stop_slot(w, J_ACTION);
  else if (w->slot[J_NB].job.pid && cell_runs && !w->nb.interrupted) {
    /* first SIGINT: the cell stops with an error and the notebook keeps its state */
    kill(w->slot[J_NB].job.pid, SIGINT);
    w->nb.interrupted = 1;
    snprintf(w->msg, sizeof w->msg, "interrupting the cell (Ctrl-C again ends the notebook)");
  } else if (w->slot[J_NB].job.pid && cell_runs)
    stop_slot(w, J_NB);
  else if (w->slot[J_CODE].job.pid)
    stop_slot(w, J_CODE);
  else
    snprintf(w->msg, sizeof w->msg, "nothing to stop (q quits)");
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
  wb_set_view(w, (w->view + 1) % NVIEWS);
  return WB_REDRAW;
}
static int k_view(Wb *w, int v) {
  wb_set_view(w, v);
  return WB_REDRAW;
}
static int k_focus(Wb *w) {
  w->focus = w->focus == &w->src_panel ? &w->code_panel : &w->src_panel;
  return WB_REDRAW;
}
static int k_kernel(Wb *w) {
  if (w->info.nkernels < 2) return WB_NONE;
  w->kernel = (w->kernel + 1) % w->info.nkernels;
  wb_use_config(w, "", "");
  w->have[V_RUN] = 0;
  wb_nb_refresh(w);
  wb_set_view(w, w->view < NSTAGES ? w->view : w->stage);
  return WB_REDRAW;
}
static int k_resize(Wb *w) {
  (void)w;
  return WB_RELAYOUT;
}

/* The global keys: a function, or a view to show (fn NULL). */
static const struct {
  int key;
  int (*fn)(Wb *);
  int view;
} keytable[] = {
    /* clang-format off */
    {'q', k_quit, 0},          {'?', k_help, 0},          {'\t', k_tab, 0},
    {'1', NULL, V_IR},         {'2', NULL, V_LOWERED},    {'3', NULL, V_LLVM},
    {'4', NULL, V_ASM},        {'5', NULL, V_PTX},        {'6', NULL, V_TRITON},
    {'7', NULL, V_RUN},        {'8', NULL, V_TUNE},       {'9', NULL, V_STEP},
    {'0', NULL, V_NB},         {'i', wb_k_notebook, 0},
    {'s', k_focus, 0},         {'r', k_run, 0},           {'k', k_kernel, 0},
    {'t', wb_k_tune, 0},       {'e', wb_k_export, 0},     {'d', k_default, 0},
    {'p', wb_k_step, 0},       {'n', wb_k_next, 0},       {'c', wb_k_continue, 0},
    {'b', wb_k_break, 0},      {'x', k_stop, 0},          {3 /* Ctrl-C */, k_stop, 0},
    {'E', k_editor, 0},        {KEY_RESIZE, k_resize, 0},
    /* clang-format on */
};

static int handle_key(Wb *w, int key) {
  if (w->help && key != KEY_RESIZE) { /* any key closes the help; q still quits */
    w->help = 0;
    return key == 'q' ? WB_QUIT : WB_REDRAW;
  }
  if (w->prompt == 't' && key != KEY_RESIZE) return wb_tune_prompt_key(w, key);
  /* typing in the notebook: its keys first; Ctrl-C still stops a cell */
  if (w->view == V_NB && w->focus == &w->code_panel && w->nb.editing && key != KEY_RESIZE &&
      key != 3)
    return wb_nb_on_key(w, key);
  for (size_t i = 0; i < sizeof keytable / sizeof keytable[0]; i++)
    if (keytable[i].key == key)
      return keytable[i].fn ? keytable[i].fn(w) : k_view(w, keytable[i].view);
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
  wb_tune_reset(&w->tune);
  wb_nb_free(&w->nb);
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
  wb_start(&w, J_INFO, "device", "device", NULL); /* lazily: the UI is up before CUDA is asked */
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
