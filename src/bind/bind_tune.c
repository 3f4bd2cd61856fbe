/* core.tune_fork(fn, timeout_s) -> status, text: runs fn() in a forked child (a copy of this
 * process: the Lua state, the tensors, the compiled kernels) and reports how it ended, so that a
 * candidate config that faults (SIGSEGV, SIGBUS, ...) or hangs is a failed trial and never takes
 * the tuner's process down (DESIGN §3.5). fn must return a string; the child sends it back
 * through a pipe and exits with _exit (no atexit handlers, no stdio flush).
 *   "ok", text        fn returned text
 *   "error", message  fn raised
 *   "signal", name    the child died of a signal ("SIGSEGV")
 *   "timeout", nil    the child ran past timeout_s and was killed (SIGKILL)
 *   "exit", code      the child exited another way
 * core.tune_mkdir(path) -> true | nil, message: mkdir -p (the cache folder).
 * core.tune_pid() -> this process's id (unique temp file names for atomic cache writes).
 * core.tune_isatty(fd) -> whether the descriptor is a terminal (the progress bar: stderr = 2).
 * core.tune_fault(): raises SIGSEGV, only inside a tune_fork child and only when
 * HELUA_TEST_FAULT_CONFIG is set (the test hook for a planted faulting config).
 * Part of src/bind. */
#include "bind/bind_tune.h"

#include <errno.h>
#include <lauxlib.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/flags.h"

static int in_worker = 0;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

static void child_run(lua_State *L, int fd) {
  in_worker = 1;
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core); /* a faulting candidate leaves no core file */
  lua_pushvalue(L, 1);
  int rc = lua_pcall(L, 0, 1, 0);
  size_t n = 0;
  const char *s = lua_tolstring(L, -1, &n);
  if (rc == LUA_OK && !s) {
    rc = LUA_ERRRUN;
    s = "the worker function did not return a string";
    n = strlen(s);
  } else if (!s) {
    s = "(error object is not a string)";
    n = strlen(s);
  }
  write_all(fd, rc == LUA_OK ? "O" : "E", 1);
  write_all(fd, s, n);
  close(fd);
  _exit(0);
}

const char *bind_tune_signal_name(int sig) {
  switch (sig) {
  case SIGSEGV: return "SIGSEGV";
  case SIGBUS: return "SIGBUS";
  case SIGFPE: return "SIGFPE";
  case SIGILL: return "SIGILL";
  case SIGABRT: return "SIGABRT";
  case SIGKILL: return "SIGKILL";
  case SIGTERM: return "SIGTERM";
  default: return NULL;
  }
}

static int tune_fork(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  double timeout = luaL_optnumber(L, 2, 60.0);
  int fds[2];
  if (pipe(fds) != 0) return luaL_error(L, "tune_fork: pipe failed: %s", strerror(errno));
  fflush(NULL); /* nothing buffered is written twice */
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return luaL_error(L, "tune_fork: fork failed: %s", strerror(errno));
  }
  if (pid == 0) {
    close(fds[0]);
    child_run(L, fds[1]);
  }
  close(fds[1]);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  double deadline = now_s() + timeout;
  int timed_out = 0;
  for (;;) {
    double left = deadline - now_s();
    if (left <= 0) {
      timed_out = 1;
      break;
    }
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    int ms = left > 1e6 ? 1000000000 : (int)(left * 1e3) + 1;
    int r = poll(&p, 1, ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == 0) continue;
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) break; /* EOF: the child closed its end (or died) */
    luaL_addlstring(&b, buf, (size_t)n);
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  luaL_pushresult(&b);
  size_t len = 0;
  const char *text = lua_tolstring(L, -1, &len);
  if (timed_out) {
    lua_pushstring(L, "timeout");
    lua_pushnil(L);
    return 2;
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char *name = bind_tune_signal_name(sig);
    lua_pushstring(L, "signal");
    if (name) lua_pushstring(L, name);
    else lua_pushfstring(L, "signal %d", sig);
    return 2;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && len >= 1) {
    lua_pushstring(L, text[0] == 'O' ? "ok" : "error");
    lua_pushlstring(L, text + 1, len - 1);
    return 2;
  }
  lua_pushstring(L, "exit");
  lua_pushinteger(L, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 2;
}

static int tune_fault(lua_State *L) {
  if (!in_worker || !flags_get("HELUA_TEST_FAULT_CONFIG"))
    return luaL_error(L, "tune_fault is a test hook: it runs only in a tuning worker with "
                         "HELUA_TEST_FAULT_CONFIG set");
  raise(SIGSEGV);
  return 0;
}

static int tune_mkdir(lua_State *L) {
  size_t n = 0;
  const char *path = luaL_checklstring(L, 1, &n);
  if (n == 0 || n >= 4096) return luaL_error(L, "tune_mkdir: bad path");
  char buf[4096];
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char c = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
      lua_pushnil(L);
      lua_pushfstring(L, "cannot create %s: %s", buf, strerror(errno));
      return 2;
    }
    buf[i] = c;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s is not a folder", path);
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int tune_pid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

static int tune_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
  return 1;
}

void bind_tune_mark_worker(void) {
  in_worker = 1;
}

void bind_tune_register(lua_State *L) {
  bind_worker_register(L);
  lua_pushcfunction(L, tune_isatty);
  lua_setfield(L, -2, "tune_isatty");
  lua_pushcfunction(L, tune_mkdir);
  lua_setfield(L, -2, "tune_mkdir");
  lua_pushcfunction(L, tune_pid);
  lua_setfield(L, -2, "tune_pid");
  lua_pushcfunction(L, tune_fork);
  lua_setfield(L, -2, "tune_fork");
  lua_pushcfunction(L, tune_fault);
  lua_setfield(L, -2, "tune_fault");
}
