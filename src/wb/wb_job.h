/* The workbench's child processes: each action (compile a stage, run, tune, step) runs in
 * `helua wb --worker ...`, a fresh process of this same binary, so the UI never blocks and a
 * crash, a hang or Ctrl-C ends the action, not the program. Part of src/wb. */
#ifndef HELUA_WB_JOB_H
#define HELUA_WB_JOB_H

#include <stddef.h>

/* One child. Its fd 3 carries records (one line each, wb_fmt.h), its stdout and stderr go to the
 * log (the last WB_JOB_LOG bytes are kept), its stdin takes commands (wb_job_send). */
typedef struct WbJob {
  int pid; /* 0: no child */
  int rec_fd, log_fd, cmd_fd;
  char *rbuf;
  size_t rlen, rcap;
  char log[4096];
  size_t llen;
  int reaped, status; /* the waitpid status once reaped */
} WbJob;

/* Starts `EXE argv[0] argv[1] ...` where EXE is this program (/proc/self/exe). The child gets its
 * own process group (wb_job_stop ends its workers too), SIGINT back to the default, and no
 * terminal. Returns 0, or -1 with a message in err. */
int wb_job_start(WbJob *j, const char *const *argv, char *err, size_t cap);

/* Reads what the child wrote (never blocks) and calls on_rec(ctx, line) for each complete record
 * line (the line is the callee's to modify until it returns). Returns 1 once the child has
 * exited and been reaped (the job is then closed: pid 0, status kept), else 0. */
int wb_job_poll(WbJob *j, void (*on_rec)(void *ctx, char *line), void *ctx);

/* Writes one command line to the child's stdin. Returns 0, or -1 when it is gone. */
int wb_job_send(WbJob *j, const char *line);

/* Kills the child's process group (SIGKILL), reaps it and closes the pipes. */
void wb_job_stop(WbJob *j);

/* How the child ended: "exited 0", "exited 2", "died of SIGSEGV". */
void wb_job_describe(const WbJob *j, char *out, size_t cap);

#endif
