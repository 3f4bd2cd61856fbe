/* Lua binding of config spaces: a kernel's space derived from its IR function, its configs as
 * plain Lua tables with Helion's field names. Part of src/bind (the Lua boundary).
 *
 * Conventions (share/doc/config-space.md, "From Lua"): a config table holds every field of the
 * space; loop orders are 1-based; "none" is helua.none (require("helua.config").none), and
 * json.null is read as none too. A helua.Config is accepted wherever a table is. Tables given to
 * check / neighbours / to_lua / to_json start from the default config: missing fields keep their
 * defaults, fields of the other target are ignored (as Helion does), anything else wrong raises
 * an error naming the field. */
#include "bind/bind_config.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bind/bind_ir.h"
#include "config/config.h"

#define SPACE_MT  "helua.ConfigSpace"
#define NONE_KEY  "helua.config.none"
#define MAX_DEPTH 3 /* a field, a list, a permutation in it */

typedef struct LSpace {
  ConfigSpace *s; /* NULL until derived and after close */
} LSpace;

/* The uservalue of a space: {[tunable name] = {choice values}} for enum tunables whose choices
 * are numbers or booleans (the space stores them as text). */

static int raise(lua_State *L, const Diag *d) {
  if (d->file[0] && d->line > 0) return luaL_error(L, "%s:%d: %s", d->file, d->line, d->msg);
  return luaL_error(L, "%s", d->msg);
}

static ConfigSpace *check_space(lua_State *L) {
  LSpace *ls = luaL_checkudata(L, 1, SPACE_MT);
  if (!ls->s) luaL_error(L, "the config space was closed");
  return ls->s;
}

/* A scratch config (GC-managed, so an error never leaks it). */
static int *new_cfg(lua_State *L, const ConfigSpace *s) {
  return lua_newuserdatauv(L, sizeof(int) * (size_t)(cfgspace_slots(s) + 1), 0);
}

/* ---- none -------------------------------------------------------------------------------------
 */

static void push_none(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, NONE_KEY) != LUA_TNIL) return;
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushstring(L, "helua.config");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "none");
  lua_remove(L, -2);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, NONE_KEY);
}

static bool is_none(lua_State *L, int idx) {
  if (!lua_istable(L, idx)) return false;
  idx = lua_absindex(L, idx);
  bool none = false;
  if (luaL_getmetafield(L, idx, "__name") != LUA_TNIL) {
    none = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "helua.none") == 0;
    lua_pop(L, 1);
  }
  if (none) return true;
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "helua.json") == LUA_TTABLE) {
    lua_getfield(L, -1, "null");
    none = lua_rawequal(L, -1, idx);
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  return none;
}

/* ---- configs to Lua -------------------------------------------------------------------------
 */

/* Pushes one value of fragment f; lits is the index of the field's literal choices or 0. */
static void push_value(lua_State *L, const CfgFragment *f, const int *v, int lits) {
  switch (f->kind) {
  case CFG_POW2:
  case CFG_INT:
    if (v[0] == CFG_NONE)
      push_none(L);
    else
      lua_pushinteger(L, v[0]);
    return;
  case CFG_BOOL:
    if (v[0] == CFG_NONE)
      push_none(L);
    else
      lua_pushboolean(L, v[0]);
    return;
  case CFG_ENUM:
    if (lits)
      lua_rawgeti(L, lits, v[0] + 1);
    else
      lua_pushstring(L, f->choices[v[0]]);
    return;
  case CFG_PERM:
    lua_createtable(L, f->n, 0);
    for (int i = 0; i < f->n; i++) {
      lua_pushinteger(L, v[i] + 1);
      lua_rawseti(L, -2, i + 1);
    }
    return;
  }
}

/* Pushes the field's literal choices (or nothing, returning 0). Space userdata at index 1. */
static int push_literals(lua_State *L, const CfgField *fd) {
  if (!fd->tunable) return 0;
  if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  if (lua_getfield(L, -1, fd->name) != LUA_TTABLE) {
    lua_pop(L, 2);
    return 0;
  }
  lua_remove(L, -2);
  return lua_gettop(L);
}

/* Pushes cfg as a table with every field of the space. */
static void push_config(lua_State *L, const ConfigSpace *s, const int *cfg) {
  int n = cfgspace_field_count(s);
  lua_createtable(L, 0, n);
  for (int i = 0; i < n; i++) {
    const CfgField *fd = cfgspace_field(s, i);
    int lits = push_literals(L, fd);
    const int *v = cfg + fd->offset;
    if (fd->is_list) {
      lua_createtable(L, fd->count, 0);
      for (int e = 0; e < fd->count; e++) {
        push_value(L, &fd->elems[e], v, lits);
        lua_rawseti(L, -2, e + 1);
        v += cfg_frag_width(&fd->elems[e]);
      }
    } else {
      push_value(L, &fd->elems[0], v, lits);
    }
    lua_setfield(L, lits ? -3 : -2, fd->name);
    if (lits) lua_pop(L, 1);
  }
}

ConfigSpace *bind_config_space(lua_State *L, int idx) {
  LSpace *ls = luaL_checkudata(L, idx, SPACE_MT);
  if (!ls->s) luaL_error(L, "the config space was closed");
  return ls->s;
}

void bind_config_push(lua_State *L, const ConfigSpace *s, const int *cfg) {
  push_config(L, s, cfg);
}

/* ---- Lua tables to configs ------------------------------------------------------------------
 */

typedef struct Items {
  CfgItem *v;
  int n, cap;
} Items;

static bool is_array(lua_State *L, int idx) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > n) {
      lua_pop(L, 1);
      return false;
    }
    count++;
  }
  return count == n;
}

static int count_items(lua_State *L, int idx, int depth) {
  if (!lua_istable(L, idx) || is_none(L, idx) || depth >= MAX_DEPTH) return 1;
  int n = 1;
  lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
  for (lua_Integer i = 1; i <= len && n < (1 << 20); i++) {
    lua_rawgeti(L, idx, i);
    n += count_items(L, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
  }
  return n;
}

/* A number or boolean given for an enum tunable with such choices: its choice text. */
static const char *literal_choice(lua_State *L, int idx, int lits, const CfgFragment *f,
                                  const char *name) {
  for (int i = 0; i < f->n; i++) {
    lua_rawgeti(L, lits, i + 1);
    bool same = lua_type(L, -1) == lua_type(L, idx) && lua_compare(L, -1, idx, LUA_OPEQ);
    lua_pop(L, 1);
    if (same) return f->choices[i];
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 0; i < f->n; i++) {
    if (i) luaL_addstring(&b, ", ");
    if (lua_rawgeti(L, lits, i + 1) == LUA_TSTRING)
      lua_pushfstring(L, "\"%s\"", f->choices[i]);
    else
      luaL_tolstring(L, -1, NULL);
    lua_remove(L, -2);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  const char *choices = lua_tostring(L, -1), *got = luaL_tolstring(L, idx, NULL);
  luaL_error(L, "config: %s = %s is not allowed: it must be one of %s", name, got, choices);
  return NULL;
}

/* Converts the value at idx into *out (list elements go into it->v after it->n). */
static void to_item(lua_State *L, int idx, Items *it, CfgItem *out, const char *name, int depth,
                    int lits, const CfgFragment *lit_frag) {
  idx = lua_absindex(L, idx);
  *out = (CfgItem){.kind = CFG_ITEM_INT};
  if (lits && (lua_type(L, idx) == LUA_TNUMBER || lua_type(L, idx) == LUA_TBOOLEAN)) {
    *out = (CfgItem){.kind = CFG_ITEM_STR, .s = literal_choice(L, idx, lits, lit_frag, name)};
    return;
  }
  switch (lua_type(L, idx)) {
  case LUA_TBOOLEAN:
    *out = (CfgItem){.kind = CFG_ITEM_BOOL, .i = lua_toboolean(L, idx)};
    return;
  case LUA_TNUMBER: {
    lua_Number x = lua_tonumber(L, idx);
    if (lua_isinteger(L, idx))
      out->i = lua_tointeger(L, idx);
    else if (x == (lua_Number)(long long)x && x > -9.2e18 && x < 9.2e18)
      out->i = (long long)x;
    else
      luaL_error(L, "%s = %s is not allowed: expected an integer", name, lua_tostring(L, idx));
    return;
  }
  case LUA_TSTRING:
    *out = (CfgItem){.kind = CFG_ITEM_STR, .s = lua_tostring(L, idx)};
    return;
  case LUA_TTABLE:
    if (is_none(L, idx)) {
      *out = (CfgItem){.kind = CFG_ITEM_NONE};
      return;
    }
    if (depth + 1 >= MAX_DEPTH || lua_getmetatable(L, idx) || !is_array(L, idx))
      luaL_error(L, "%s: expected a value or a list of values, got a table that is not one", name);
    break;
  default:
    luaL_error(L, "%s = %s is not allowed: expected a number, boolean, string, list or helua.none",
               name, luaL_typename(L, idx));
  }
  int n = (int)lua_rawlen(L, idx), first = it->n;
  if (it->n + n > it->cap) luaL_error(L, "%s: the list is too long", name);
  it->n += n;
  *out = (CfgItem){.kind = CFG_ITEM_LIST, .items = it->v + first, .n = n};
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, idx, i + 1);
    to_item(L, -1, it, &it->v[first + i], name, depth + 1, lits, lit_frag);
    lua_pop(L, 1);
  }
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reads the table (or helua.Config) at idx into cfg: the default, then each field set, then the
 * constraints checked. Raises naming the field. */
void bind_config_read(lua_State *L, const ConfigSpace *s, int idx, int *cfg) {
  idx = lua_absindex(L, idx);
  Diag d = {0};
  if (luaL_getmetafield(L, idx, "__name") != LUA_TNIL) {
    bool config =
        lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "helua.Config") == 0;
    lua_pop(L, 1);
    if (config) { /* a helua.Config: its plain table of set fields */
      lua_getfield(L, idx, "to_table");
      lua_pushvalue(L, idx);
      lua_call(L, 1, 1);
      lua_replace(L, idx);
    }
  }
  luaL_checktype(L, idx, LUA_TTABLE);
  if (cfgspace_default(s, cfg, &d)) raise(L, &d);
  int nkeys = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "config: field names must be strings, got a %s key", luaL_typename(L, -1));
    nkeys++;
  }
  const char **keys = lua_newuserdatauv(L, sizeof(char *) * (size_t)(nkeys + 1), 0);
  int k = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    keys[k++] = lua_tostring(L, -1); /* alive as long as the table holds the key */
  }
  qsort(keys, (size_t)nkeys, sizeof *keys, cmp_str);
  for (k = 0; k < nkeys; k++) {
    int top = lua_gettop(L);
    lua_getfield(L, idx, keys[k]);
    int fi = cfgspace_find(s, keys[k]);
    const CfgField *fd = fi >= 0 ? cfgspace_field(s, fi) : NULL;
    int lits = fd && fd->elems[0].kind == CFG_ENUM ? push_literals(L, fd) : 0;
    Items it = {.cap = count_items(L, top + 1, 0)};
    it.v = lua_newuserdatauv(L, sizeof(CfgItem) * (size_t)it.cap, 0);
    CfgItem root;
    it.n = 1;
    to_item(L, top + 1, &it, &root, keys[k], 0, lits, lits ? &fd->elems[0] : NULL);
    if (cfgspace_set(s, cfg, keys[k], &root, 1, &d) == HL_ERR) luaL_error(L, "config: %s", d.msg);
    lua_settop(L, top);
  }
  if (cfgspace_normalize(s, cfg, false, &d)) luaL_error(L, "config: %s", d.msg);
}

/* ---- the space --------------------------------------------------------------------------------
 */

/* The literal choices of the kernel's enum tunables, as the space's uservalue. */
static void set_literals(lua_State *L, int ud, const IrFunc *f) {
  lua_newtable(L);
  CfgTunableFragment *tf = lua_newuserdatauv(L, sizeof *tf, 0);
  for (int i = 0; i < f->ntunables; i++) {
    Diag d = {0};
    if (cfg_tunable_parse(f->tunables[i].fragment, tf, &d) || tf->frag.kind != CFG_ENUM) continue;
    bool literal = false;
    for (int c = 0; c < tf->frag.n; c++)
      literal = literal || tf->choice_kind[c] != 's';
    if (!literal) continue;
    lua_createtable(L, tf->frag.n, 0);
    for (int c = 0; c < tf->frag.n; c++) {
      if (tf->choice_kind[c] == 'b')
        lua_pushboolean(L, strcmp(tf->choices[c], "true") == 0);
      else if (tf->choice_kind[c] == 's' || !lua_stringtonumber(L, tf->choices[c]))
        lua_pushstring(L, tf->choices[c]);
      lua_rawseti(L, -2, c + 1);
    }
    lua_setfield(L, -3, f->tunables[i].name);
  }
  lua_pop(L, 1);
  lua_setiuservalue(L, ud, 1);
}

/* core.config_space(irfunc, target [, {cpu_cores = n}]) -> space */
static int core_config_space(lua_State *L) {
  IrFunc *f = bind_ir_check_func(L, 1);
  const char *target = luaL_checkstring(L, 2);
  CfgDeriveOptions o = {.cpu_cores = (int)sysconf(_SC_NPROCESSORS_ONLN)};
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    if (lua_getfield(L, 3, "cpu_cores") != LUA_TNIL) {
      lua_Integer n = luaL_checkinteger(L, -1);
      luaL_argcheck(L, n >= 1 && n <= 4096, 3, "cpu_cores must be from 1 to 4096");
      o.cpu_cores = (int)n;
    }
    lua_pop(L, 1);
  }
  LSpace *ls = lua_newuserdatauv(L, sizeof *ls, 1);
  ls->s = NULL;
  luaL_setmetatable(L, SPACE_MT);
  int ud = lua_gettop(L);
  set_literals(L, ud, f);
  Diag d = {0};
  if (cfgspace_derive_ex(f, target, &o, &ls->s, &d)) return raise(L, &d);
  return 1;
}

static int s_gc(lua_State *L) {
  LSpace *ls = luaL_checkudata(L, 1, SPACE_MT);
  cfgspace_free(ls->s);
  ls->s = NULL;
  return 0;
}

static int s_tostring(lua_State *L) {
  LSpace *ls = luaL_checkudata(L, 1, SPACE_MT);
  if (!ls->s)
    lua_pushstring(L, "ConfigSpace(closed)");
  else
    lua_pushfstring(L, "ConfigSpace(%s, %d fields)", cfg_target_name(cfgspace_target(ls->s)),
                    cfgspace_field_count(ls->s));
  return 1;
}

static int s_target(lua_State *L) {
  lua_pushstring(L, cfg_target_name(cfgspace_target(check_space(L))));
  return 1;
}

static int s_default(lua_State *L) {
  ConfigSpace *s = check_space(L);
  int *cfg = new_cfg(L, s);
  Diag d = {0};
  if (cfgspace_default(s, cfg, &d)) return raise(L, &d);
  push_config(L, s, cfg);
  return 1;
}

/* s:random([seed]) -> a random config (the same for the same seed) */
static int s_random(lua_State *L) {
  ConfigSpace *s = check_space(L);
  lua_Integer seed = luaL_optinteger(L, 2, 0);
  int *cfg = new_cfg(L, s);
  CfgRng r;
  cfg_rng_seed(&r, (uint64_t)seed);
  Diag d = {0};
  if (cfgspace_random(s, &r, cfg, &d)) return raise(L, &d);
  push_config(L, s, cfg);
  return 1;
}

/* s:check(tbl) -> the config with every field, or an error naming the field */
static int s_check(lua_State *L) {
  ConfigSpace *s = check_space(L);
  int *cfg = new_cfg(L, s);
  bind_config_read(L, s, 2, cfg);
  push_config(L, s, cfg);
  return 1;
}

/* s:neighbours(tbl [, radius = 1]) -> array of configs one move away */
static int s_neighbours(lua_State *L) {
  ConfigSpace *s = check_space(L);
  lua_Integer radius = luaL_optinteger(L, 3, 1);
  int *cfg = new_cfg(L, s);
  bind_config_read(L, s, 2, cfg);
  CfgList l;
  cfglist_init(&l, s);
  Diag d = {0};
  if (cfgspace_neighbours(s, cfg, radius > CFG_RADIUS_MAX ? CFG_RADIUS_MAX : (int)radius, &l, &d)) {
    cfglist_free(&l);
    return raise(L, &d);
  }
  /* copied out before anything can raise, so the list is never leaked */
  int n = l.count, slots = cfgspace_slots(s);
  int *all = lua_newuserdatauv(L, sizeof(int) * ((size_t)n * (size_t)slots + 1), 0);
  if (n) memcpy(all, l.v, sizeof(int) * (size_t)n * (size_t)slots);
  cfglist_free(&l);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    push_config(L, s, all + (size_t)i * slots);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

typedef int (*TextFn)(const ConfigSpace *s, const int *cfg, unsigned flags, char *buf, size_t cap);

static int push_text(lua_State *L, const ConfigSpace *s, const int *cfg, unsigned flags,
                     TextFn fn) {
  int n = cfg ? fn(s, cfg, flags, NULL, 0) : cfgspace_describe(s, NULL, 0);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)n + 1);
  if (cfg)
    fn(s, cfg, flags, p, (size_t)n + 1);
  else
    cfgspace_describe(s, p, (size_t)n + 1);
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

/* The space keeps enum choices as text, so its text forms quote every choice: unquote those of
 * tunables whose choices are numbers or booleans (`mode = "2.5"` -> `mode = 2.5`). The text is
 * on top of the stack and is replaced. */
static void unquote_literals(lua_State *L, const ConfigSpace *s, const int *cfg, bool json) {
  for (int i = 0; i < cfgspace_field_count(s); i++) {
    const CfgField *fd = cfgspace_field(s, i);
    if (fd->elems[0].kind != CFG_ENUM || fd->is_list) continue;
    int lits = push_literals(L, fd);
    if (!lits) continue;
    int v = cfg[fd->offset];
    if (lua_rawgeti(L, lits, v + 1) != LUA_TSTRING) {
      const char *c = fd->elems[0].choices[v];
      for (int sep = 0; sep < 2; sep++) {
        const char *pre = sep ? ", " : "{";
        if (json) {
          lua_pushfstring(L, "%s\"%s\": \"%s\"", pre, fd->name, c);
          lua_pushfstring(L, "%s\"%s\": %s", pre, fd->name, c);
        } else {
          lua_pushfstring(L, "%s%s = \"%s\"", pre, fd->name, c);
          lua_pushfstring(L, "%s%s = %s", pre, fd->name, c);
        }
        luaL_gsub(L, lua_tostring(L, lits - 1), lua_tostring(L, -2), lua_tostring(L, -1));
        lua_replace(L, lits - 1);
        lua_pop(L, 2);
      }
    }
    lua_pop(L, 2);
  }
}

/* s:to_lua(tbl [, minimal]) / s:to_json(tbl [, minimal]) -> text */
static int config_text(lua_State *L, TextFn fn) {
  ConfigSpace *s = check_space(L);
  unsigned flags = lua_toboolean(L, 3) ? CFG_TEXT_MINIMAL : 0;
  lua_settop(L, 2);
  int *cfg = new_cfg(L, s);
  bind_config_read(L, s, 2, cfg);
  push_text(L, s, cfg, flags, fn);
  unquote_literals(L, s, cfg, fn == cfgspace_to_json);
  return 1;
}

static int s_to_lua(lua_State *L) {
  return config_text(L, cfgspace_to_lua);
}

static int s_to_json(lua_State *L) {
  return config_text(L, cfgspace_to_json);
}

static int s_describe(lua_State *L) {
  return push_text(L, check_space(L), NULL, 0, NULL);
}

static int s_fingerprint(lua_State *L) {
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)cfgspace_fingerprint(check_space(L)));
  lua_pushstring(L, hex);
  return 1;
}

static const char *const kind_names[] = {"power_of_two", "integer", "enum", "boolean",
                                         "permutation"};

static void push_domain(lua_State *L, const CfgFragment *f) {
  int n = cfg_frag_describe_domain(f, 1, NULL, 0);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)n + 1);
  cfg_frag_describe_domain(f, 1, p, (size_t)n + 1);
  luaL_pushresultsize(&b, (size_t)n);
}

/* s:fields() -> {{name=, kind=, list=, count=, domain=, domains=, tunable=, doc=}, ...}: domain
 * is the element's domain in words when every element has the same one, domains one per element
 * (lists only). */
static int s_fields(lua_State *L) {
  ConfigSpace *s = check_space(L);
  int n = cfgspace_field_count(s);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    const CfgField *fd = cfgspace_field(s, i);
    const CfgKnownField *k = cfg_known_field(fd->name);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, fd->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, kind_names[fd->elems[0].kind]);
    lua_setfield(L, -2, "kind");
    lua_pushboolean(L, fd->is_list);
    lua_setfield(L, -2, "list");
    lua_pushinteger(L, fd->count);
    lua_setfield(L, -2, "count");
    lua_pushboolean(L, fd->tunable);
    lua_setfield(L, -2, "tunable");
    if (k) {
      lua_pushstring(L, k->doc);
      lua_setfield(L, -2, "doc");
    }
    bool same = true;
    for (int e = 1; e < fd->count; e++)
      same = same && cfg_frag_same(&fd->elems[e], &fd->elems[0]);
    if (same) {
      push_domain(L, &fd->elems[0]);
      lua_setfield(L, -2, "domain");
    }
    if (fd->is_list) {
      lua_createtable(L, fd->count, 0);
      for (int e = 0; e < fd->count; e++) {
        push_domain(L, &fd->elems[e]);
        lua_rawseti(L, -2, e + 1);
      }
      lua_setfield(L, -2, "domains");
    }
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static const luaL_Reg space_methods[] = {{"target", s_target},
                                         {"default", s_default},
                                         {"random", s_random},
                                         {"check", s_check},
                                         {"neighbours", s_neighbours},
                                         {"to_lua", s_to_lua},
                                         {"to_json", s_to_json},
                                         {"describe", s_describe},
                                         {"fingerprint", s_fingerprint},
                                         {"fields", s_fields},
                                         {"search", bind_search_new},
                                         {"close", s_gc},
                                         {NULL, NULL}};

void bind_config_register(lua_State *L) {
  luaL_newmetatable(L, SPACE_MT);
  const luaL_Reg meta[] = {
      {"__gc", s_gc}, {"__close", s_gc}, {"__tostring", s_tostring}, {NULL, NULL}};
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, space_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, core_config_space);
  lua_setfield(L, -2, "config_space");
  bind_search_register(L);
}
