/* The helua command: scripts, -e, the REPL, and subcommands (run, ...) written in Lua.
 * Part of src/cli (the outermost layer: it owns the process, the Lua state and exit codes). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/flags.h"
#include "bind/bind.h"
#include "bind/bind_tune.h"
#include "bind/bind_wb.h"
#include "lower/lower_version.h"

static const char *const subcommands[][2] = {
  {"run", "run FILE [--size NAME|k=v,...] [--block-size N|full] [--kernel NAME] [--repeat N]\n"
          "               [--seed N] [--interpret]: run a kernel file, check it against its float64 reference,\n"
          "               print timings (helua run --help)"},
  {"show", "show FILE [--stage ir|lowered|llvm|asm] [--config CONFIG] [--kernel NAME]\n"
           "               [--size NAME|k=v,...]: print a kernel's code at a stage (helua show --help)"},
  {"tune", "tune FILE [--effort quick|full] [--kernel NAME] [--size ...] [--budget S]: autotune (helua tune --help)"},
  {"wb", "wb FILE [--size NAME|k=v,...] [--seed N]: the workbench, a terminal UI on a kernel file\n"
         "               (share/doc/workbench.md; helua wb --help)"},
  {NULL, NULL},
};

static void print_usage(FILE *out) {
  fprintf(out,
          "usage: helua [options] [script.lua [args...]]\n"
          "       helua COMMAND [args...]\n"
          "\n"
          "options:\n"
          "  -e CODE      run CODE (may repeat)\n"
          "  -i           interactive line REPL after the script (or alone)\n"
          "  -            read the script from standard input\n"
          "  -v, --version  print helua, Lua and LLVM versions\n"
          "  -h, --help   this text\n"
          "\ncommands:\n");
  for (int i = 0; subcommands[i][0]; i++) fprintf(out, "  %s\n", subcommands[i][1]);
  fprintf(out, "\nenvironment:\n");
  for (int i = 0; i < flags_count; i++) {
    const FlagInfo *f = &flags_table[i];
    fprintf(out, "  %-24s %-26s %s (default: %s)\n", f->name, f->type, f->doc,
            *f->def ? f->def : "unset");
  }
}

static void print_version(void) {
  printf("helua 0.1.0 (%s, LLVM %s)\n", LUA_RELEASE, lower_llvm_version());
}

/* Message handler: user errors (tables with a __tostring, raised by helua's diagnostics)
 * print as they are; anything else gets a traceback, since it is our bug or the script's. */
static int msghandler(lua_State *L) {
  if (!lua_isstring(L, 1)) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  const char *msg = lua_tostring(L, -1);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int docall(lua_State *L, int nargs, int nres) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  int status = lua_pcall(L, nargs, nres, base);
  lua_remove(L, base);
  return status;
}

static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "helua: %s\n", msg ? msg : "(error without a message)");
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

/* arg table as lua.c builds it: arg[0] = script, arg[1..] = its arguments. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  lua_createtable(L, argc - script - 1, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int run_script(lua_State *L, const char *path, char **argv, int argc, int script) {
  int status = luaL_loadfile(L, strcmp(path, "-") == 0 ? NULL : path);
  if (status != LUA_OK) return report(L, status);
  int n = argc - script - 1;
  for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
  return report(L, docall(L, n, 0));
}

static int run_string(lua_State *L, const char *code, const char *name) {
  int status = luaL_loadbuffer(L, code, strlen(code), name);
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

/* helua COMMAND args: the command is written in Lua (helua.cli), C only dispatches.
 * Returns the process exit code: the command's own, or 1 when it raised an error. */
static int run_subcommand(lua_State *L, char **argv, int argc) {
  create_arg_table(L, argv, argc, 1);
  lua_getglobal(L, "require");
  lua_pushstring(L, "helua.cli");
  int status = docall(L, 1, 1);
  if (status != LUA_OK) return report(L, status), 1;
  lua_getfield(L, -1, "main");
  lua_remove(L, -2);
  lua_createtable(L, argc - 1, 0);
  for (int i = 1; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  status = docall(L, 1, 1);
  if (status != LUA_OK) return report(L, status), 1;
  int code = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return code;
}

/* A plain line REPL: expressions print their values, incomplete chunks continue. */
static int incomplete(lua_State *L, int status) {
  if (status != LUA_ERRSYNTAX) return 0;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  return len >= 5 && strcmp(msg + len - 5, "<eof>") == 0;
}

static void repl(lua_State *L) {
  char line[4096];
  int tty = isatty(0);
  if (tty) {
    print_version();
    printf("type Lua; helua and hl are loaded; Ctrl-D exits\n");
  }
  for (;;) {
    if (tty) fputs("> ", stdout), fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) break;
    lua_pushstring(L, line);
    int status;
    for (;;) {
      const char *chunk = lua_tostring(L, -1);
      const char *ret = lua_pushfstring(L, "return %s", chunk);
      status = luaL_loadbuffer(L, ret, strlen(ret), "=stdin");
      if (status == LUA_OK) {
        lua_remove(L, -2); /* the "return" string */
        break;
      }
      lua_pop(L, 2);
      status = luaL_loadbuffer(L, chunk, strlen(chunk), "=stdin");
      if (!incomplete(L, status)) break;
      lua_pop(L, 1);
      if (tty) fputs(">> ", stdout), fflush(stdout);
      if (!fgets(line, sizeof line, stdin)) break;
      lua_pushfstring(L, "%s%s", lua_tostring(L, -1), line);
      lua_remove(L, -2);
    }
    if (status == LUA_OK) {
      lua_remove(L, -2); /* the source line */
      int top = lua_gettop(L) - 1;
      status = docall(L, 0, LUA_MULTRET);
      if (status == LUA_OK && lua_gettop(L) > top) {
        lua_getglobal(L, "print");
        lua_insert(L, top + 1);
        status = lua_pcall(L, lua_gettop(L) - top - 1, 0, 0);
      }
      report(L, status);
    } else {
      lua_remove(L, -2);
      report(L, status);
    }
    lua_settop(L, 0);
  }
  if (tty) putchar('\n');
}

/* helua --tune-worker DEVICE (hidden): a tuning worker process, started by the autotuner as
 * /proc/self/exe (lua/helua/tune_worker.lua speaks the protocol on stdin/stdout). */
static int run_worker(lua_State *L, const char *device) {
  lua_getglobal(L, "require");
  lua_pushstring(L, "helua.tune_worker");
  int status = docall(L, 1, 1);
  if (status == LUA_OK) {
    lua_getfield(L, -1, "main");
    lua_pushstring(L, device);
    status = docall(L, 1, 1);
  }
  if (status != LUA_OK) {
    report(L, status);
    return 1;
  }
  return (int)lua_tointeger(L, -1);
}

/* In scripts, -e code and the REPL, `helua` and `hl` are preloaded globals for convenience. */
static int preload_globals(lua_State *L) {
  const char *code = "helua = require 'helua'; hl = require 'helua.language'";
  return run_string(L, code, "=preload");
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "helua: cannot create a Lua state (out of memory)\n");
    return 1;
  }
  luaL_openlibs(L);
  /* The generational collector: a kernel call's garbage (its output's userdata, the shape and
   * option tables of its host code) dies young, and minor collections free it, and the device
   * memory it holds, without marking the whole heap (share/doc/gpu.md, "The cached call"). */
  const char *gc = flags_get("HELUA_GC");
  if (gc && strcmp(gc, "incremental") == 0) {
    lua_gc(L, LUA_GCINC, 0, 0, 0);
  } else {
    if (gc && *gc && strcmp(gc, "generational") != 0)
      fprintf(stderr, "helua: HELUA_GC is '%s'; use generational (the default) or incremental\n",
              gc);
    lua_gc(L, LUA_GCGEN, 0, 0);
  }
  bind_install(L);
  bind_worker_enable(); /* this process is helua: the tuner may exec it as a worker */

  int status = LUA_OK, want_repl = 0, ran = 0;
  int i = 1;
  if (argc == 3 && strcmp(argv[1], "--tune-worker") == 0) {
    int code = run_worker(L, argv[2]);
    lua_close(L);
    return code;
  }
  if (argc > 1) {
    for (int k = 0; subcommands[k][0]; k++)
      if (strcmp(argv[1], subcommands[k][0]) == 0) {
        /* wb is C (src/wb through src/bind/bind_wb.c); the others are helua.cli's */
        int code = strcmp(argv[1], "wb") == 0 ? bind_wb_main(L, argc - 1, argv + 1)
                                              : run_subcommand(L, argv, argc);
        lua_close(L);
        return code;
      }
  }
  for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      print_usage(stdout);
      lua_close(L);
      return 0;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
      print_version();
      lua_close(L);
      return 0;
    } else if (strcmp(a, "-i") == 0) {
      want_repl = 1;
    } else if (strcmp(a, "-e") == 0) {
      if (++i >= argc) {
        fprintf(stderr, "helua: -e needs an argument\n");
        lua_close(L);
        return 2;
      }
      if (!ran && preload_globals(L) != LUA_OK) break;
      ran = 1;
      create_arg_table(L, argv, argc, i);
      if ((status = run_string(L, argv[i], "=(command line)")) != LUA_OK) break;
    } else if (strcmp(a, "--") == 0) {
      i++;
      break;
    } else {
      fprintf(stderr, "helua: unknown option '%s'\n\n", a);
      print_usage(stderr);
      lua_close(L);
      return 2;
    }
  }
  if (status == LUA_OK && i < argc) {
    if (!ran) status = preload_globals(L);
    ran = 1;
    if (status == LUA_OK) {
      create_arg_table(L, argv, argc, i);
      status = run_script(L, argv[i], argv, argc, i);
    }
  } else if (status == LUA_OK && !ran && !want_repl && !isatty(0)) {
    status = preload_globals(L);
    ran = 1;
    if (status == LUA_OK) status = run_script(L, "-", argv, argc, argc - 1);
  }
  if (status == LUA_OK && (want_repl || !ran)) {
    if (!ran) status = preload_globals(L);
    if (status == LUA_OK) repl(L);
  }
  lua_close(L);
  return status == LUA_OK ? 0 : 1;
}
