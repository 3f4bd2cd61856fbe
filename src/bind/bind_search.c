/* Lua binding of the search strategies (src/config/config_strategy.c): space:search(opts) gives an
 * ask/tell object the autotuner (lua/helua/tune.lua) drives. Part of src/bind (the Lua boundary).
 *
 *   local q = space:search{algorithm = "de", population = 12, copies = 2, max_generations = 5,
 *                          patience = 5, crossover = 0.8, seed = 1}
 *   local cands = q:ask()        -- the next generation's configs (tables); {} when it is over
 *   q:tell(i, seconds)           -- candidate i's time (1-based); nil or math.huge: it failed
 *   q:generation()               -- generations asked so far
 * Every option is optional (cfg_strategy_defaults). The search keeps its space alive. */
#include <lauxlib.h>
#include <math.h>
#include <string.h>

#include "bind/bind_config.h"

#define SEARCH_MT "helua.ConfigSearch"

typedef struct LSearch {
  CfgStrategy *q; /* NULL after close */
  int last;       /* candidates in the last generation */
} LSearch;

static int raise(lua_State *L, const Diag *d) {
  return luaL_error(L, "%s", d->msg);
}

/* The search at index 1 and its space (raises when either was closed). */
static LSearch *check_search(lua_State *L, ConfigSpace **s) {
  LSearch *ls = luaL_checkudata(L, 1, SEARCH_MT);
  if (!ls->q) luaL_error(L, "the search was closed");
  lua_getiuservalue(L, 1, 1);
  *s = bind_config_space(L, -1);
  lua_pop(L, 1);
  return ls;
}

static lua_Integer opt_int(lua_State *L, const char *name, lua_Integer def, lua_Integer lo,
                           lua_Integer hi) {
  lua_Integer v = def;
  if (lua_getfield(L, 2, name) != LUA_TNIL) {
    int ok = 0;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < lo || v > hi)
      luaL_error(L, "search: %s must be an integer from %d to %d", name, (int)lo, (int)hi);
  }
  lua_pop(L, 1);
  return v;
}

int bind_search_new(lua_State *L) {
  bind_config_space(L, 1);
  if (lua_isnoneornil(L, 2)) {
    lua_settop(L, 1);
    lua_newtable(L);
  }
  luaL_checktype(L, 2, LUA_TTABLE);
  Diag d = {0};
  CfgAlgorithm a = CFG_ALGO_PATTERN;
  if (lua_getfield(L, 2, "algorithm") != LUA_TNIL &&
      cfg_algorithm_from_name(luaL_checkstring(L, -1), &a, &d))
    return raise(L, &d);
  lua_pop(L, 1);
  CfgStrategyParams p = cfg_strategy_defaults(a);
  p.population = (int)opt_int(L, "population", p.population, 1, 100000);
  p.copies = (int)opt_int(L, "copies", p.copies, 1, 100000);
  p.max_generations = (int)opt_int(L, "max_generations", p.max_generations, 0, 100000);
  p.patience = (int)opt_int(L, "patience", p.patience, 0, 100000);
  p.seed = (uint64_t)opt_int(L, "seed", (lua_Integer)p.seed, LUA_MININTEGER, LUA_MAXINTEGER);
  if (lua_getfield(L, 2, "crossover") != LUA_TNIL) {
    p.crossover = luaL_checknumber(L, -1);
    if (!(p.crossover > 0 && p.crossover <= 1))
      return luaL_error(L, "search: crossover must be a probability in (0, 1]");
  }
  lua_pop(L, 1);
  LSearch *ls = lua_newuserdatauv(L, sizeof *ls, 1);
  *ls = (LSearch){0};
  luaL_setmetatable(L, SEARCH_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  ls->q = cfg_strategy_new(bind_config_space(L, 1), &p, &d);
  if (!ls->q) return raise(L, &d);
  return 1;
}

static int q_gc(lua_State *L) {
  LSearch *ls = luaL_checkudata(L, 1, SEARCH_MT);
  cfg_strategy_free(ls->q);
  ls->q = NULL;
  return 0;
}

static int q_ask(lua_State *L) {
  ConfigSpace *s;
  LSearch *ls = check_search(L, &s);
  CfgList l;
  cfglist_init(&l, s);
  Diag d = {0};
  if (cfg_strategy_ask(ls->q, &l, &d)) {
    cfglist_free(&l);
    return raise(L, &d);
  }
  /* copied out before anything can raise, so the list is never leaked */
  int n = l.count, slots = cfgspace_slots(s);
  int *all = lua_newuserdatauv(L, sizeof(int) * ((size_t)n * (size_t)slots + 1), 0);
  if (n) memcpy(all, l.v, sizeof(int) * (size_t)n * (size_t)slots);
  cfglist_free(&l);
  ls->last = n;
  lua_getiuservalue(L, 1, 1); /* bind_config_push reads the space at index 1 */
  lua_insert(L, 1);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    bind_config_push(L, s, all + (size_t)i * slots);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int q_tell(lua_State *L) {
  ConfigSpace *s;
  LSearch *ls = check_search(L, &s);
  lua_Integer i = luaL_checkinteger(L, 2);
  double t = luaL_optnumber(L, 3, INFINITY);
  if (i < 1 || i > ls->last)
    return luaL_error(L, "search: tell(%d): the last generation has %d candidates", (int)i,
                      ls->last);
  Diag d = {0};
  if (cfg_strategy_tell(ls->q, (int)i - 1, t, &d)) return raise(L, &d);
  return 0;
}

static int q_generation(lua_State *L) {
  ConfigSpace *s;
  LSearch *ls = check_search(L, &s);
  lua_pushinteger(L, cfg_strategy_generation(ls->q));
  return 1;
}

void bind_search_register(lua_State *L) {
  static const luaL_Reg methods[] = {{"ask", q_ask},
                                     {"tell", q_tell},
                                     {"generation", q_generation},
                                     {"close", q_gc},
                                     {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", q_gc}, {"__close", q_gc}, {NULL, NULL}};
  luaL_newmetatable(L, SEARCH_MT);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
