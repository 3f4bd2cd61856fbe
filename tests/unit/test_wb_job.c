/* The workbench's worker processes (src/wb/wb_job.c): records from fd 3 (also split across reads
 * and many at once), the log, commands on stdin, exit codes, a worker dying of a signal, and a
 * hanging worker with a child of its own stopped by process group. The test binary is its own
 * worker: wb_job_start execs /proc/self/exe, so `test_wb_job wb --worker ACTION` plays one.
 * Part of tests/unit. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wb/wb_job.h"

static int worker(const char *action) {
  FILE *rec = fdopen(3, "w");
  if (!rec) return 9;
  if (!strcmp(action, "echo")) {
    fprintf(rec, "text\tone\n");
    fflush(rec);
    fprintf(stderr, "a log line\n");
    fprintf(rec, "te");
    fflush(rec);
    usleep(20000); /* a record split across two reads */
    fprintf(rec, "xt\ttwo\ndone\n");
  } else if (!strcmp(action, "stdin")) {
    char line[256];
    if (!fgets(line, sizeof line, stdin)) return 8;
    line[strcspn(line, "\n")] = '\0';
    fprintf(rec, "got\t%s\n", line);
  } else if (!strcmp(action, "many")) {
    for (int i = 0; i < 20000; i++)
      fprintf(rec, "n\t%d\n", i);
  } else if (!strcmp(action, "crash")) {
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    fflush(rec);
    raise(SIGSEGV);
  } else if (!strcmp(action, "exit3")) {
    return 3;
  } else if (!strcmp(action, "hang")) {
    pid_t kid = fork();
    if (kid == 0) /* a child of its own, in the same process group */
      for (;;)
        pause();
    fprintf(rec, "started\t%d\n", (int)kid);
    fflush(rec);
    for (;;)
      pause();
  }
  fclose(rec);
  return 0;
}

typedef struct Got {
  int n;
  char last[64], all[256];
} Got;

static void on_rec(void *ctx, char *line) {
  Got *g = ctx;
  g->n++;
  snprintf(g->last, sizeof g->last, "%s", line);
  size_t k = strlen(g->all);
  if (k + strlen(line) + 2 < sizeof g->all) snprintf(g->all + k, sizeof g->all - k, "%s|", line);
}

/* 1 while process pid runs (exists and is not a zombie waiting to be reaped). */
static int running(int pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* "pid (comm) S ..." */
  return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Polls until the job ends (1) or 5 s pass (0). */
static int wait_end(WbJob *j, Got *g) {
  for (int i = 0; i < 500; i++) {
    if (wb_job_poll(j, on_rec, g)) return 1;
    usleep(10000);
  }
  return 0;
}

static void start(WbJob *j, const char *action) {
  const char *argv[] = {"wb", "--worker", action, NULL};
  char err[256];
  assert_int_equal(wb_job_start(j, argv, err, sizeof err), 0);
  assert_true(j->pid > 0);
}

static void records_and_log(void **state) {
  (void)state;
  WbJob j;
  Got g = {0};
  start(&j, "echo");
  assert_true(wait_end(&j, &g));
  assert_string_equal(g.all, "text\tone|text\ttwo|done|");
  assert_non_null(strstr(j.log, "a log line"));
  assert_int_equal(j.pid, 0);
  char how[64];
  wb_job_describe(&j, how, sizeof how);
  assert_string_equal(how, "exited 0");
}

static void commands(void **state) {
  (void)state;
  WbJob j;
  Got g = {0};
  start(&j, "stdin");
  assert_int_equal(wb_job_send(&j, "hello there"), 0);
  assert_true(wait_end(&j, &g));
  assert_string_equal(g.last, "got\thello there");
  assert_int_equal(wb_job_send(&j, "gone"), -1); /* the job is closed */
}

static void many(void **state) {
  (void)state;
  WbJob j;
  Got g = {0};
  start(&j, "many");
  assert_true(wait_end(&j, &g));
  assert_int_equal(g.n, 20000);
  assert_string_equal(g.last, "n\t19999");
}

static void exits_and_signals(void **state) {
  (void)state;
  WbJob j;
  Got g = {0};
  char how[64];
  start(&j, "exit3");
  assert_true(wait_end(&j, &g));
  wb_job_describe(&j, how, sizeof how);
  assert_string_equal(how, "exited 3");
  start(&j, "crash");
  assert_true(wait_end(&j, &g));
  wb_job_describe(&j, how, sizeof how);
  assert_string_equal(how, "died of SIGSEGV");
}

static void stop_kills_the_group(void **state) {
  (void)state;
  WbJob j;
  Got g = {0};
  start(&j, "hang");
  for (int i = 0; i < 500 && !g.n; i++) {
    wb_job_poll(&j, on_rec, &g);
    usleep(10000);
  }
  assert_memory_equal(g.last, "started\t", 8);
  int kid = atoi(g.last + 8);
  assert_true(running(kid));
  wb_job_stop(&j);
  assert_int_equal(j.pid, 0);
  char how[64];
  wb_job_describe(&j, how, sizeof how);
  assert_string_equal(how, "died of SIGKILL");
  for (int i = 0; i < 100 && running(kid); i++) /* its own child is killed too */
    usleep(10000);
  assert_false(running(kid));
  wb_job_stop(&j); /* stopping a closed job does nothing */
}

int main(int argc, char **argv) {
  if (argc > 3 && !strcmp(argv[1], "wb") && !strcmp(argv[2], "--worker")) return worker(argv[3]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(records_and_log),
      cmocka_unit_test(commands),
      cmocka_unit_test(many),
      cmocka_unit_test(exits_and_signals),
      cmocka_unit_test(stop_kills_the_group),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
