/* The workbench's child processes (see wb_job.h): fork + exec of this binary in its worker mode,
 * non-blocking pipes read on the UI loop's key timeout, kill by process group. Part of src/wb. */
#include "wb/wb_job.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Puts fd at number target in the child, without close-on-exec. */
static int move_fd(int fd, int target) {
  if (fd == target) return fcntl(fd, F_SETFD, 0);
  return dup2(fd, target) < 0 ? -1 : 0;
}

int wb_job_start(WbJob *j, const char *const *argv, char *err, size_t cap) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    snprintf(err, cap, "cannot find this program (/proc/self/exe): %s", strerror(errno));
    return -1;
  }
  exe[n] = '\0';
  int rec[2], log[2], cmd[2];
  if (pipe2(rec, O_CLOEXEC) != 0) goto fail0;
  if (pipe2(log, O_CLOEXEC) != 0) goto fail1;
  if (pipe2(cmd, O_CLOEXEC) != 0) goto fail2;
  int argc = 0;
  while (argv[argc])
    argc++;
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args) goto fail3;
  args[0] = exe;
  for (int i = 0; i < argc; i++)
    args[i + 1] = (char *)argv[i];
  pid_t pid = fork();
  if (pid < 0) {
    free(args);
    goto fail3;
  }
  if (pid == 0) {
    /* the child: no curses, no stdio of the parent's; only async-signal-safe calls until exec */
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    if (move_fd(cmd[0], 0) || move_fd(log[1], 1) || move_fd(log[1], 2) || move_fd(rec[1], 3))
      _exit(126);
    execv(exe, args);
    _exit(127);
  }
  free(args);
  setpgid(pid, pid); /* both sides, so a kill right after the fork finds the group */
  close(rec[1]);
  close(log[1]);
  close(cmd[0]);
  fcntl(rec[0], F_SETFL, O_NONBLOCK);
  fcntl(log[0], F_SETFL, O_NONBLOCK);
  memset(j, 0, sizeof *j);
  j->pid = pid;
  j->rec_fd = rec[0];
  j->log_fd = log[0];
  j->cmd_fd = cmd[1];
  return 0;
fail3:
  close(cmd[0]);
  close(cmd[1]);
fail2:
  close(log[0]);
  close(log[1]);
fail1:
  close(rec[0]);
  close(rec[1]);
fail0:
  snprintf(err, cap, "cannot start a worker: %s", strerror(errno));
  return -1;
}

static void log_append(WbJob *j, const char *s, size_t n) {
  size_t cap = sizeof j->log - 1;
  if (n >= cap) {
    s += n - cap;
    n = cap;
  }
  if (j->llen + n > cap) {
    size_t drop = j->llen + n - cap;
    memmove(j->log, j->log + drop, j->llen - drop);
    j->llen -= drop;
  }
  memcpy(j->log + j->llen, s, n);
  j->llen += n;
  j->log[j->llen] = '\0';
}

/* Reads fd until it would block; returns 1 at end of file (fd closed). */
static int drain(WbJob *j, int *fd, int records, void (*on_rec)(void *, char *), void *ctx) {
  char buf[8192];
  while (*fd >= 0) {
    ssize_t k = read(*fd, buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return 0; /* EAGAIN */
    if (k == 0) {
      close_fd(fd);
      return 1;
    }
    if (!records) {
      log_append(j, buf, (size_t)k);
      continue;
    }
    if (j->rlen + (size_t)k + 1 > j->rcap) {
      size_t nc = (j->rcap ? j->rcap : 8192);
      while (nc < j->rlen + (size_t)k + 1)
        nc *= 2;
      char *nb = realloc(j->rbuf, nc);
      if (!nb) continue; /* out of memory: drop this chunk */
      j->rbuf = nb;
      j->rcap = nc;
    }
    memcpy(j->rbuf + j->rlen, buf, (size_t)k);
    j->rlen += (size_t)k;
    size_t start = 0;
    for (size_t i = 0; i < j->rlen; i++) {
      if (j->rbuf[i] != '\n') continue;
      j->rbuf[i] = '\0';
      on_rec(ctx, j->rbuf + start);
      start = i + 1;
    }
    memmove(j->rbuf, j->rbuf + start, j->rlen - start);
    j->rlen -= start;
  }
  return 1;
}

static void close_all(WbJob *j) {
  close_fd(&j->rec_fd);
  close_fd(&j->log_fd);
  close_fd(&j->cmd_fd);
  free(j->rbuf);
  j->rbuf = NULL;
  j->rlen = j->rcap = 0;
  j->pid = 0;
}

int wb_job_poll(WbJob *j, void (*on_rec)(void *ctx, char *line), void *ctx) {
  if (!j->pid) return 0;
  drain(j, &j->rec_fd, 1, on_rec, ctx);
  drain(j, &j->log_fd, 0, on_rec, ctx);
  int st;
  pid_t r = waitpid(j->pid, &st, WNOHANG);
  if (r != j->pid) return 0;
  /* exited: take what is still in the pipes, end any workers it left, close */
  drain(j, &j->rec_fd, 1, on_rec, ctx);
  drain(j, &j->log_fd, 0, on_rec, ctx);
  kill(-j->pid, SIGKILL);
  j->reaped = 1;
  j->status = st;
  close_all(j);
  return 1;
}

int wb_job_send(WbJob *j, const char *line) {
  if (!j->pid || j->cmd_fd < 0) return -1;
  size_t n = strlen(line);
  void (*old)(int) = signal(SIGPIPE, SIG_IGN);
  ssize_t k = write(j->cmd_fd, line, n);
  if (k == (ssize_t)n && (n == 0 || line[n - 1] != '\n'))
    k = write(j->cmd_fd, "\n", 1) == 1 ? k : -1;
  signal(SIGPIPE, old);
  return k == (ssize_t)n ? 0 : -1;
}

void wb_job_stop(WbJob *j) {
  if (!j->pid) return;
  kill(-j->pid, SIGKILL);
  kill(j->pid, SIGKILL);
  int st = 0;
  while (waitpid(j->pid, &st, 0) < 0 && errno == EINTR) {
  }
  j->reaped = 1;
  j->status = st;
  close_all(j);
}

void wb_job_describe(const WbJob *j, char *out, size_t cap) {
  if (WIFSIGNALED(j->status)) {
    int s = WTERMSIG(j->status);
    const char *name = s == SIGSEGV   ? "SIGSEGV"
                       : s == SIGKILL ? "SIGKILL"
                       : s == SIGABRT ? "SIGABRT"
                       : s == SIGBUS  ? "SIGBUS"
                       : s == SIGFPE  ? "SIGFPE"
                       : s == SIGTERM ? "SIGTERM"
                                      : NULL;
    if (name)
      snprintf(out, cap, "died of %s", name);
    else
      snprintf(out, cap, "died of signal %d", s);
  } else {
    snprintf(out, cap, "exited %d", WEXITSTATUS(j->status));
  }
}
