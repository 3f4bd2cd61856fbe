/* The workbench's notebook panel: Lua cells typed in a multi-line input (Enter runs a complete
 * chunk, an incomplete one gets another line), history with Up/Down, outputs kept with their
 * cell; the cells run in a long-lived worker (lua/helua/wb_notebook.lua). Part of src/wb. */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb/wb_internal.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void rebuild(WbNb *nb) {
  char *t = wb_nb_transcript(nb->cells, nb->n);
  wb_text_set(&nb->text, t ? t : "(out of memory)");
  free(t);
}

static void set_input(WbNb *nb, const char *s) {
  snprintf(nb->input, sizeof nb->input, "%s", s);
  nb->len = strlen(nb->input);
}

int wb_k_notebook(Wb *w) {
  wb_set_view(w, V_NB);
  w->focus = &w->code_panel;
  w->nb.editing = 1;
  return WB_REDRAW;
}

static void submit(Wb *w) {
  WbNb *nb = &w->nb;
  if (!nb->len) return;
  if (nb->n && nb->cells[nb->n - 1].state == WB_CELL_RUNNING) {
    snprintf(w->msg, sizeof w->msg, "a cell is running (Ctrl-C stops it)");
    return;
  }
  if (nb->n == nb->cap) {
    int nc = nb->cap ? nb->cap * 2 : 16;
    WbCell *c = realloc(nb->cells, sizeof *c * (size_t)nc);
    if (!c) return;
    nb->cells = c;
    nb->cap = nc;
  }
  if (!w->slot[J_NB].job.pid && wb_start(w, J_NB, "notebook", "notebook", NULL) != 0) return;
  WbCell *c = &nb->cells[nb->n++];
  c->code = dup_str(nb->input);
  c->out = dup_str("");
  c->state = WB_CELL_RUNNING;
  nb->interrupted = 0;
  size_t cap = 2 * sizeof nb->input + 32;
  char *line = malloc(cap);
  if (line) {
    int k = snprintf(line, cap, "cell\t%d\t", nb->n);
    wb_rec_escape(line + k, cap - (size_t)k, nb->input);
    wb_job_send(&w->slot[J_NB].job, line);
    free(line);
  }
  set_input(nb, "");
  nb->hist = nb->n;
  nb->back = 0;
  rebuild(nb);
}

int wb_nb_on_key(Wb *w, int key) {
  WbNb *nb = &w->nb;
  if (!nb->editing) {
    if (key == '\n' || key == '\r' || key == KEY_ENTER) return wb_k_notebook(w);
    if (key == KEY_PPAGE)
      nb->back += w->lay.code.h / 2;
    else if (key == KEY_NPAGE)
      nb->back = nb->back > w->lay.code.h / 2 ? nb->back - w->lay.code.h / 2 : 0;
    else
      return WB_NONE;
    return WB_REDRAW;
  }
  switch (key) {
  case 27: /* Esc: the keys are the workbench's again */
    nb->editing = 0;
    snprintf(w->msg, sizeof w->msg, "notebook: i or Enter to type again");
    break;
  case '\n':
  case '\r':
  case KEY_ENTER:
    submit(w);
    break;
  case KEY_BACKSPACE:
  case 127:
  case 8:
    while (nb->len > 0 && ((unsigned char)nb->input[nb->len - 1] & 0xC0) == 0x80)
      nb->len--; /* a whole UTF-8 character */
    if (nb->len > 0) nb->len--;
    nb->input[nb->len] = '\0';
    break;
  case 21: /* Ctrl-U */
    set_input(nb, "");
    break;
  case KEY_UP:
  case KEY_DOWN:
    if (key == KEY_UP && nb->hist > 0)
      nb->hist--;
    else if (key == KEY_DOWN && nb->hist < nb->n)
      nb->hist++;
    set_input(nb, nb->hist < nb->n ? nb->cells[nb->hist].code : "");
    break;
  case KEY_PPAGE:
  case KEY_NPAGE:
    nb->editing = 0;
    wb_nb_on_key(w, key);
    nb->editing = 1;
    break;
  case '\t': /* two spaces */
    for (int i = 0; i < 2 && nb->len + 1 < sizeof nb->input; i++)
      nb->input[nb->len++] = ' ';
    nb->input[nb->len] = '\0';
    break;
  default:
    if ((key >= 32 && key < 127) || (key >= 128 && key < 256)) {
      if (nb->len + 1 < sizeof nb->input) nb->input[nb->len++] = (char)key;
      nb->input[nb->len] = '\0';
    } else {
      return WB_NONE;
    }
  }
  return WB_REDRAW;
}

static void append_out(WbCell *c, const char *pre, const char *text) {
  size_t a = strlen(c->out), b = strlen(pre), k = strlen(text);
  char *o = realloc(c->out, a + b + k + 2);
  if (!o) return;
  snprintf(o + a, b + k + 2, "%s%s%s", a ? "\n" : "", pre, text);
  c->out = o;
}

void wb_nb_refresh(Wb *w) {
  if (!w->slot[J_NB].job.pid) return; /* the next cell starts a notebook on the current file */
  char line[2 * WB_NAME + 8];
  int k = snprintf(line, sizeof line, "env\t");
  wb_rec_escape(line + k, sizeof line - (size_t)k, wb_cur_kernel(w));
  wb_job_send(&w->slot[J_NB].job, line);
}

void wb_nb_record(Wb *w, char **f, int n) {
  WbNb *nb = &w->nb;
  if (!strcmp(f[0], "nb-env") && n >= 3) { /* a note after the last cell (a failure: the status) */
    if (nb->n) append_out(&nb->cells[nb->n - 1], "-- ", f[2]);
    if (strcmp(f[1], "1") != 0) snprintf(w->msg, sizeof w->msg, "notebook: %s", f[2]);
    rebuild(nb);
    return;
  }
  int id = n >= 2 ? atoi(f[1]) : 0;
  if (id < 1 || id > nb->n) return;
  WbCell *c = &nb->cells[id - 1];
  if (!strcmp(f[0], "nb-out") && n >= 4) {
    append_out(c, !strcmp(f[2], "error") ? "error: " : "", f[3]);
  } else if (!strcmp(f[0], "nb-done") && n >= 3) {
    c->state = !strcmp(f[2], "1") ? WB_CELL_OK : WB_CELL_ERROR;
    if (nb->interrupted && id == nb->n) snprintf(w->msg, sizeof w->msg, "cell %d interrupted", id);
  } else if (!strcmp(f[0], "nb-incomplete") && id == nb->n) {
    /* more lines: the cell goes back to the input with a new line (before what was typed since) */
    char typed[sizeof nb->input];
    size_t a = strlen(c->code), t = nb->len;
    memcpy(typed, nb->input, t);
    if (a + 1 + t + 1 > sizeof nb->input) t = 0; /* no room: what was typed since is dropped */
    if (a + 2 > sizeof nb->input) a = sizeof nb->input - 2;
    memcpy(nb->input, c->code, a);
    nb->input[a] = '\n';
    memcpy(nb->input + a + 1, typed, t);
    nb->len = a + 1 + t;
    nb->input[nb->len] = '\0';
    free(c->code);
    free(c->out);
    nb->n--;
    nb->hist = nb->n;
  }
  rebuild(nb);
}

void wb_nb_ended(Wb *w, const char *why) {
  WbNb *nb = &w->nb;
  for (int i = 0; i < nb->n; i++)
    if (nb->cells[i].state == WB_CELL_RUNNING) {
      append_out(&nb->cells[i], "error: ", why);
      append_out(&nb->cells[i], "", "(the next cell starts a fresh notebook)");
      nb->cells[i].state = WB_CELL_ERROR;
    }
  rebuild(nb);
}

void wb_nb_draw(Wb *w, WbRect r) {
  WbNb *nb = &w->nb;
  /* the input's rows at the bottom (at most half the pane), a rule above them */
  int in_rows = 1;
  for (size_t i = 0; i < nb->len; i++)
    in_rows += nb->input[i] == '\n';
  if (in_rows > r.h / 2) in_rows = r.h / 2 > 0 ? r.h / 2 : 1;
  int body = r.h - in_rows - 1;
  if (body < 0) body = 0;
  int first = nb->text.n - body - nb->back;
  if (first < 0) first = 0;
  for (int row = 0; row < body; row++) {
    int ln = first + row;
    if (ln < nb->text.n && nb->n > 0) {
      char buf[4096];
      int k = wb_clip(buf, sizeof buf, nb->text.buf + nb->text.start[ln], nb->text.len[ln], 0, r.w);
      mvaddstr(r.y + row, r.x, buf);
      for (int c = k; c < r.w; c++)
        addch(' ');
    } else {
      mvhline(r.y + row, r.x, ' ', r.w);
      if (row == 0 && nb->n == 0)
        mvaddnstr(r.y, r.x,
                  "Lua cells: helua, hl, the file's kernels, inputs, size, file. Enter runs; "
                  "Up/Down history; Esc leaves the input",
                  r.w);
    }
  }
  attron(A_DIM);
  mvhline(r.y + body, r.x, ACS_HLINE, r.w);
  attroff(A_DIM);
  /* the input's last in_rows lines, each after a prompt */
  int nl = 1;
  for (size_t i = 0; i < nb->len; i++)
    nl += nb->input[i] == '\n';
  const char *p = nb->input;
  for (int i = 0; i < nl; i++) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (i >= nl - in_rows) {
      int y = r.y + body + 1 + (i - (nl - in_rows));
      const char *pre = i == 0 ? (nb->editing ? "lua> " : "lua  ") : "...> ";
      char buf[4096];
      int k = wb_clip(buf, sizeof buf, p, len, 0, r.w - 6);
      attron(A_BOLD);
      mvaddstr(y, r.x, pre);
      attroff(A_BOLD);
      addstr(buf);
      if (i == nl - 1 && nb->editing) addch('_'), k++;
      for (int c = k + 5; c < r.w; c++)
        addch(' ');
    }
    if (!e) break;
    p = e + 1;
  }
}

void wb_nb_free(WbNb *nb) {
  for (int i = 0; i < nb->n; i++) {
    free(nb->cells[i].code);
    free(nb->cells[i].out);
  }
  free(nb->cells);
  wb_text_free(&nb->text);
  memset(nb, 0, sizeof *nb);
}
