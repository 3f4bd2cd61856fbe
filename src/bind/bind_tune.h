/* Lua binding of the autotuner's mechanisms: core.tune_fork (run a Lua function in a forked
 * worker with a timeout) and core.tune_fault (the test hook that makes a worker fault).
 * Part of src/bind (the Lua boundary); the search itself is Lua policy (lua/helua/tune.lua). */
#ifndef HELUA_BIND_TUNE_H
#define HELUA_BIND_TUNE_H

#include <lua.h>

/* Adds tune_fork and tune_fault to the table on top of the stack (helua.core). */
void bind_tune_register(lua_State *L);
/* This process is a tuning worker (core.tune_fault may fault here). */
void bind_tune_mark_worker(void);
/* core.worker_* and the IR / tensor byte forms (bind_worker.c); called by bind_tune_register. */
void bind_worker_register(lua_State *L);
/* Called by the helua executable (src/cli): /proc/self/exe is helua, so workers can start. */
void bind_worker_enable(void);
/* "SIGSEGV" for the signals a worker dies of (SEGV, BUS, FPE, ILL, ABRT, KILL, TERM), else NULL. */
const char *bind_tune_signal_name(int sig);

#endif
