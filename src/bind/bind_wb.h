/* The workbench's bridge: `helua wb FILE [--size NAME] [--seed N]` runs the ncurses UI (src/wb)
 * with a WbHost whose functions call helua.wb (lua/helua/wb.lua). Part of src/bind. */
#ifndef HELUA_BIND_WB_H
#define HELUA_BIND_WB_H

#include <lua.h>

/* argv[0] is "wb". Returns the exit code. */
int bind_wb_main(lua_State *L, int argc, char **argv);

#endif
