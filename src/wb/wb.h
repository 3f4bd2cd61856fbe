/* The workbench (helua wb FILE): an ncurses UI over a host that loads kernel files, gives a
 * stage's code and runs the check and timing. The host is a table of function pointers
 * (src/bind/bind_wb.c implements it on the Lua side), so src/wb never sees Lua. Part of src/wb. */
#ifndef HELUA_WB_H
#define HELUA_WB_H

enum { WB_MAX_KERNELS = 32, WB_NAME = 64 };

typedef struct WbKernelInfo {
  char name[WB_NAME]; /* the file's description name */
  char device[WB_NAME], backend[WB_NAME];
  int nkernels;
  char kernels[WB_MAX_KERNELS][WB_NAME];
} WbKernelInfo;

/* Every text result is malloc'd and owned by the caller; *ok is 1 on success, 0 when the text is
 * an error message to show. */
typedef struct WbHost {
  void *ctx;
  char *(*load)(void *ctx, const char *file, WbKernelInfo *info, int *ok);
  char *(*code)(void *ctx, const char *file, const char *kernel, const char *stage, int *ok);
  char *(*run)(void *ctx, const char *file, const char *kernel, int *ok);
} WbHost;

/* Runs the UI on the terminal until the user quits. Returns the exit code (0, or 1 with a message
 * on stderr when the terminal cannot be used). */
int wb_main(const WbHost *host, const char *file);

#endif
