/* The workbench's bridge (see bind_wb.h): WbHost on the Lua side. Part of src/bind. */
#include "bind/bind_wb.h"

#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wb/wb.h"

static const char USAGE[] =
    "usage: helua wb FILE [--size NAME|k=v,...] [--seed N]\n"
    "\n"
    "Opens the workbench, a terminal UI, on a kernel file (kernels/*.lua): its source, the code "
    "of\n"
    "each stage (ir, lowered, llvm, asm), runs (check + timing), live tuning, step mode, export\n"
    "and a Lua notebook; every action runs in a worker process (helua wb --worker ..., internal).\n"
    "Keys: ? in the UI, and share/doc/workbench.md. Needs a terminal; helua run FILE is the\n"
    "non-interactive run.\n";

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Pushes helua.wb's function name; returns 0, or -1 with the message left on the stack. */
static int push_fn(lua_State *L, const char *name) {
  lua_getglobal(L, "require");
  lua_pushstring(L, "helua.wb");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) return -1;
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
  return 0;
}

/* Calls helua.wb.name(args...) (strings), returns its (ok, text) as a malloc'd text; the
 * result value on success is left on the stack when keep is set (else popped). */
static char *call(lua_State *L, const char *name, const char *a, const char *b, const char *c,
                  int *ok, int keep) {
  int top = lua_gettop(L);
  *ok = 0;
  if (push_fn(L, name) != 0) {
    char *m = dup_str(lua_tostring(L, -1) ? lua_tostring(L, -1) : "cannot load helua.wb");
    lua_settop(L, top);
    return m;
  }
  int n = 0;
  const char *args[3] = {a, b, c};
  for (int i = 0; i < 3 && args[i]; i++, n++)
    lua_pushstring(L, args[i]);
  if (lua_pcall(L, n, 2, 0) != LUA_OK) {
    const char *m = lua_tostring(L, -1);
    char *r = dup_str(m ? m : "(error without a message)");
    lua_settop(L, top);
    return r;
  }
  *ok = lua_toboolean(L, -2);
  char *r = NULL;
  if (lua_type(L, -1) == LUA_TSTRING) r = dup_str(lua_tostring(L, -1));
  if (keep && *ok) {
    lua_remove(L, -2);
    return r;
  }
  lua_settop(L, top);
  return r;
}

static void copy_field(lua_State *L, const char *field, char *out, size_t cap) {
  lua_getfield(L, -1, field);
  snprintf(out, cap, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "?");
  lua_pop(L, 1);
}

static char *host_load(void *ctx, const char *file, WbKernelInfo *info, int *ok) {
  lua_State *L = ctx;
  int top = lua_gettop(L);
  char *err = call(L, "load", file, NULL, NULL, ok, 1);
  if (!*ok) return err;
  memset(info, 0, sizeof *info);
  copy_field(L, "name", info->name, sizeof info->name);
  copy_field(L, "device", info->device, sizeof info->device);
  copy_field(L, "backend", info->backend, sizeof info->backend);
  lua_getfield(L, -1, "kernels");
  int n = (int)luaL_len(L, -1);
  for (int i = 1; i <= n && info->nkernels < WB_MAX_KERNELS; i++) {
    lua_rawgeti(L, -1, i);
    snprintf(info->kernels[info->nkernels++], WB_NAME, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_getfield(L, -1, "backends");
  for (int i = 1; i <= info->nkernels && lua_istable(L, -1); i++) {
    lua_rawgeti(L, -1, i);
    snprintf(info->backends[i - 1], sizeof info->backends[0], "%.15s",
             lua_isstring(L, -1) ? lua_tostring(L, -1) : info->backend);
    lua_pop(L, 1);
  }
  lua_settop(L, top);
  if (info->nkernels == 0) {
    *ok = 0;
    return dup_str("the file has no kernels");
  }
  return err;
}

/* SIGINT in the notebook's worker interrupts the running cell, the way lua.c does: a hook set
 * from the handler (lua_sethook is safe there) raises an error at the next Lua instruction,
 * which the cell's pcall catches; the notebook's state stays. */
static lua_State *interrupt_L;

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted (Ctrl-C)");
}

static void on_sigint(int sig) {
  (void)sig;
  lua_sethook(interrupt_L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* helua wb --worker ACTION ...: one action in a child of the UI (lua/helua/wb_worker.lua). */
static int worker_main(lua_State *L, int argc, char **argv) {
  if (argc > 2 && strcmp(argv[2], "notebook") == 0) {
    interrupt_L = L;
    signal(SIGINT, on_sigint);
  }
  lua_getglobal(L, "require");
  lua_pushstring(L, "helua.wb_worker");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fprintf(stderr, "helua wb --worker: %s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_getfield(L, -1, "main");
  lua_createtable(L, argc - 2, 0);
  for (int i = 2; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fprintf(stderr, "helua wb --worker: %s\n", lua_tostring(L, -1));
    return 1;
  }
  return (int)lua_tointeger(L, -1);
}

int bind_wb_main(lua_State *L, int argc, char **argv) {
  const char *file = NULL, *size = NULL, *seed = "0";
  if (argc > 1 && strcmp(argv[1], "--worker") == 0) return worker_main(L, argc, argv);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(USAGE, stdout);
      return 0;
    } else if ((strcmp(a, "--size") == 0 || strcmp(a, "--seed") == 0) && i + 1 < argc) {
      *(strcmp(a, "--size") == 0 ? &size : &seed) = argv[++i];
    } else if (a[0] != '-' && !file) {
      file = a;
    } else {
      fprintf(stderr, "helua wb: unknown or incomplete argument %s\n%s", a, USAGE);
      return 2;
    }
  }
  if (!file) {
    fprintf(stderr, "helua wb: missing FILE\n%s", USAGE);
    return 2;
  }
  int top = lua_gettop(L);
  if (push_fn(L, "load") != 0) {
    fprintf(stderr, "helua wb: %s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_settop(L, top);
  lua_getglobal(L, "require");
  lua_pushstring(L, "helua.wb");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "options");
  if (size) {
    lua_pushstring(L, size);
    lua_setfield(L, -2, "size");
  }
  lua_pushinteger(L, strtol(seed, NULL, 10));
  lua_setfield(L, -2, "seed");
  lua_settop(L, top);
  /* every worker gets the command line's --size and --seed */
  const char *wargs[5] = {NULL};
  int nw = 0;
  if (size) wargs[nw++] = "--size", wargs[nw++] = size;
  wargs[nw++] = "--seed", wargs[nw++] = seed;
  WbHost host = {L, host_load, wargs};
  return wb_main(&host, file);
}
