/* The workbench's shared state between its curses files (wb.c: loop, keys, workers; wb_draw.c:
 * panes). Not exported beyond src/wb. Part of src/wb. */
#ifndef HELUA_WB_INTERNAL_H
#define HELUA_WB_INTERNAL_H

#include <time.h>

#include "wb/wb.h"
#include "wb/wb_fmt.h"
#include "wb/wb_job.h"
#include "wb/wb_layout.h"

/* What a handler asks the loop to do (htop's HandlerResult). */
enum { WB_NONE = 0, WB_REDRAW = 1, WB_RELAYOUT = 2, WB_QUIT = 4 };

/* The right pane's views: six code stages (kernel.STAGES' order), the run/time report, tuning,
 * step mode, notebook. Keys 1-9 and 0 select them in this order. */
enum {
  V_IR,
  V_LOWERED,
  V_LLVM,
  V_ASM,
  V_PTX,
  V_TRITON,
  V_RUN,
  V_TUNE,
  V_STEP,
  V_NB,
  NVIEWS,
  NSTAGES = V_RUN
};
extern const char *const wb_view_names[NVIEWS];

/* Worker slots: a stage's code (replaced by the next request), an action (run, tune, time,
 * export, step: one at a time), information (device, reload) and the notebook (long-lived). */
enum { J_CODE, J_ACTION, J_INFO, J_NB, NSLOTS };

typedef struct WbSlot {
  WbJob job;
  char what[96]; /* "compiling llvm", "tuning add (quick)" */
  char action[16];
  double t0;
  int stage;   /* J_CODE: the stage it compiles */
  int ended;   /* saw "done" */
  int stopped; /* the user stopped it */
  char error[1024];
} WbSlot;

typedef struct WbTune {
  WbTrial *t;
  int n, cap;
  double *pt, *py; /* best time (ms) over elapsed time (s), one point per improvement */
  int np, pcap;
  int running, gen, max_gen, done, planned;
  double elapsed, budget, best_ms, default_ms;
  char effort[8], best_cfg[256], best_json[512], final[256], logline[256];
  int sel, top, sort, picked; /* sel: row in the sorted table; picked: trial slot or -1 */
} WbTune;

enum { WB_MAX_VARS = 64, WB_MAX_BREAKS = 64 };

typedef struct WbStep {
  int active, paused, line;
  int nvars;
  char vars[WB_MAX_VARS][256];
  int breaks[WB_MAX_BREAKS], nbreaks;
  char end[256];
} WbStep;

/* The notebook: cells, the input being edited (multi-line), history, scrolling. */
typedef struct WbNb {
  WbCell *cells;
  int n, cap;
  char input[4096];
  size_t len;
  int hist;        /* the history entry shown in the input; n: the new input */
  int editing;     /* keys go to the input */
  int back;        /* rows scrolled back from the end of the transcript */
  int interrupted; /* a SIGINT was sent to the running cell */
  WbText text;
} WbNb;

typedef struct Wb Wb;
typedef struct Panel {
  void (*draw)(Wb *w, struct Panel *p);
  int (*on_key)(Wb *w, struct Panel *p, int key);
  int top, left, cur;
} Panel;

struct Wb {
  const WbHost *host;
  const char *file;
  char base[256]; /* the file's basename, as the ir stage's "# add.lua:N" comments name it */
  WbKernelInfo info;
  char device[128];
  int kernel, view, stage, help, color, prompt;
  char msg[256];
  char config[600], config_label[64]; /* the picked config (JSON) or "" for the default */
  WbText source, text[V_RUN + 1];
  int have[V_RUN + 1]; /* 0 none, 1 loading, 2 loaded */
  WbSlot slot[NSLOTS];
  WbTune tune;
  WbStep step;
  WbNb nb;
  WbLayout lay;
  Panel src_panel, code_panel, *focus;
  time_t mtime;
  double last_check;
  int export_queued; /* e pressed while the finished tuning's worker was still exiting */
};

double wb_now(void);

/* wb.c: workers and views */
const char *wb_cur_kernel(Wb *w);
/* the selected kernel's backend: "llvm" (CPU), "cuda" or "interpret" */
const char *wb_cur_backend(Wb *w);
/* Starts ACTION in slot s (stopping what ran there) with extra "--key value" pairs (NULL-ended). */
int wb_start(Wb *w, int s, const char *action, const char *what, const char *const *extra);
/* 1 (and a message) when an action runs already */
int wb_action_busy(Wb *w);
void wb_set_view(Wb *w, int v);
/* Shows code for a config (JSON; "" the default) from now on; label names it in the status bar. */
void wb_use_config(Wb *w, const char *json, const char *label);

/* wb_actions.c: records and keys of the tuning and step panes */
void wb_on_trial(Wb *w, char **f, int n);
void wb_on_step(Wb *w, char **f, int n);
void wb_tune_reset(WbTune *t);
int wb_tune_on_key(Wb *w, int key);
int wb_k_tune(Wb *w);
int wb_tune_prompt_key(Wb *w, int key);
int wb_k_export(Wb *w);
int wb_k_step(Wb *w);
int wb_k_next(Wb *w);
int wb_k_continue(Wb *w);
int wb_k_break(Wb *w);

/* wb_nb.c: the notebook panel */
int wb_k_notebook(Wb *w);
int wb_nb_on_key(Wb *w, int key);
void wb_nb_record(Wb *w, char **f, int n);
void wb_nb_ended(Wb *w, const char *why);
/* the file was reloaded or another kernel selected: a running notebook refreshes its names */
void wb_nb_refresh(Wb *w); /* its worker is gone: running cells fail */
void wb_nb_draw(Wb *w, WbRect r);
void wb_nb_free(WbNb *nb);

/* wb_draw.c */
void wb_draw_all(Wb *w);
void wb_src_draw(Wb *w, Panel *p);
void wb_code_draw(Wb *w, Panel *p);
/* rows of the tuning table on screen (for scrolling) */
int wb_tune_table_rows(const Wb *w);

#endif
