/* The workbench (helua wb FILE): an ncurses UI over a host that lists a kernel file's kernels and
 * over worker processes that compile, run, tune and step them. The host is a table of function
 * pointers (src/bind/bind_wb.c implements it on the Lua side), so src/wb never sees Lua.
 * Part of src/wb. */
#ifndef HELUA_WB_H
#define HELUA_WB_H

enum { WB_MAX_KERNELS = 32, WB_NAME = 64 };

typedef struct WbKernelInfo {
  char name[WB_NAME];                     /* the file's description name */
  char device[WB_NAME], backend[WB_NAME]; /* backend: the first kernel's */
  int nkernels;
  char kernels[WB_MAX_KERNELS][WB_NAME];
  char backends[WB_MAX_KERNELS][16]; /* each kernel's: "llvm" (CPU), "cuda" or "interpret" */
} WbKernelInfo;

/* load lists a kernel file's kernels before the UI starts (its text result is malloc'd and owned
 * by the caller; *ok is 1 on success, 0 when the text is an error message). Everything else runs
 * in worker processes (`helua wb --worker ACTION ...`, wb_job.h), which get worker_args (a
 * NULL-terminated list: the command line's --size and --seed) after their own. */
typedef struct WbHost {
  void *ctx;
  char *(*load)(void *ctx, const char *file, WbKernelInfo *info, int *ok);
  const char *const *worker_args;
} WbHost;

/* Runs the UI on the terminal until the user quits. Returns the exit code (0, or 1 with a message
 * on stderr when the terminal cannot be used). */
int wb_main(const WbHost *host, const char *file);

#endif
