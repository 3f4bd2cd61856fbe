/* Config spaces: configs as text (helua.Config{...}, Helion JSON), describe and fingerprint.
 * Part of src/config (config space). */
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"

/* ---- the bounded writer --------------------------------------------------------------------- */

void cfg_out_init(CfgOut *o, char *buf, size_t cap) {
  *o = (CfgOut){.buf = buf, .cap = buf ? cap : 0, .hash = CFG_FNV_OFFSET};
  if (o->cap) o->buf[0] = '\0';
}

static void out_bytes(CfgOut *o, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    o->hash = (o->hash ^ (unsigned char)p[i]) * CFG_FNV_PRIME;
    if (o->len + 1 < o->cap) o->buf[o->len] = p[i];
    o->len++;
  }
  if (o->cap) o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
}

void cfg_out_str(CfgOut *o, const char *s) {
  out_bytes(o, s, strlen(s));
}

void cfg_out_printf(CfgOut *o, const char *fmt, ...) {
  char tmp[512]; /* every piece we format is a number or a name (< CFG_NAME_MAX) */
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) out_bytes(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Enum choices hold no control characters (cfg_frag_validate), so \" and \\ are the only escapes,
 * and they mean the same in Lua and JSON. */
void cfg_out_quoted(CfgOut *o, const char *s) {
  cfg_out_str(o, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      out_bytes(o, esc, 2);
    } else {
      out_bytes(o, (const char *)&c, 1);
    }
  }
  cfg_out_str(o, "\"");
}

void cfg_out_value(CfgOut *o, const CfgFragment *f, const int *v, bool lua) {
  const char *none = lua ? "helua.none" : "null";
  switch (f->kind) {
  case CFG_POW2:
  case CFG_INT:
    if (v[0] == CFG_NONE)
      cfg_out_str(o, none);
    else
      cfg_out_printf(o, "%d", v[0]);
    return;
  case CFG_ENUM:
    if (v[0] >= 0 && v[0] < f->n)
      cfg_out_quoted(o, f->choices[v[0]]);
    else
      cfg_out_printf(o, "%d", v[0]);
    return;
  case CFG_BOOL:
    cfg_out_str(o, v[0] == CFG_NONE ? none : v[0] ? "true" : "false");
    return;
  case CFG_PERM:
    cfg_out_str(o, lua ? "{" : "[");
    for (int i = 0; i < f->n; i++)
      cfg_out_printf(o, i ? ", %d" : "%d", v[i] + (lua ? 1 : 0));
    cfg_out_str(o, lua ? "}" : "]");
    return;
  }
}

/* ---- configs as text ----------------------------------------------------------------------------
 */

static bool field_is_default(const CfgField *f, const int *cfg) {
  const int *v = cfg + f->offset;
  for (int e = 0; e < f->count; e++) {
    int def[CFG_PERM_MAX], w = cfg_frag_width(&f->elems[e]);
    cfg_frag_default(&f->elems[e], def);
    if (memcmp(def, v, sizeof(int) * (size_t)w) != 0) return false;
    v += w;
  }
  return true;
}

static bool lua_name_ok(const char *name) {
  static const char *const reserved[] = {"and",   "break", "do",       "else", "elseif", "end",
                                         "false", "for",   "function", "goto", "if",     "in",
                                         "local", "nil",   "not",      "or",   "repeat", "return",
                                         "then",  "true",  "until",    "while"};
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (strcmp(name, reserved[i]) == 0) return false;
  return true;
}

static int config_text(const ConfigSpace *s, const int *cfg, unsigned flags, bool lua, char *buf,
                       size_t cap) {
  CfgOut o;
  cfg_out_init(&o, buf, cap);
  cfg_out_str(&o, lua ? "helua.Config{" : "{");
  bool first = true;
  for (int i = 0; i < s->nfields; i++) {
    const CfgField *f = &s->fields[i];
    if ((flags & CFG_TEXT_MINIMAL) && field_is_default(f, cfg)) continue;
    if (!first) cfg_out_str(&o, ", ");
    first = false;
    if (!lua) {
      cfg_out_quoted(&o, f->name);
      cfg_out_str(&o, ": ");
    } else if (lua_name_ok(f->name)) {
      cfg_out_printf(&o, "%s = ", f->name);
    } else {
      cfg_out_printf(&o, "[\"%s\"] = ", f->name);
    }
    if (f->is_list) cfg_out_str(&o, lua ? "{" : "[");
    const int *v = cfg + f->offset;
    for (int e = 0; e < f->count; e++) {
      if (e) cfg_out_str(&o, ", ");
      cfg_out_value(&o, &f->elems[e], v, lua);
      v += cfg_frag_width(&f->elems[e]);
    }
    if (f->is_list) cfg_out_str(&o, lua ? "}" : "]");
  }
  cfg_out_str(&o, "}");
  return (int)o.len;
}

int cfgspace_to_lua(const ConfigSpace *s, const int *cfg, unsigned flags, char *buf, size_t cap) {
  return config_text(s, cfg, flags, true, buf, cap);
}

int cfgspace_to_json(const ConfigSpace *s, const int *cfg, unsigned flags, char *buf, size_t cap) {
  return config_text(s, cfg, flags, false, buf, cap);
}

/* ---- the space as text, and its fingerprint
 * ------------------------------------------------------ */

static void describe(const ConfigSpace *s, CfgOut *o, bool header) {
  if (header)
    cfg_out_printf(o, "config space for %s: %d fields, %d units, %d slots, %.4g configs\n",
                   cfg_target_name(s->target), s->nfields, s->nunits, s->slots,
                   cfgspace_cardinality(s));
  else
    cfg_out_printf(o, "helua-cfgspace-1 %s\n", cfg_target_name(s->target));
  for (int u = 0; u < s->nunits; u++) {
    const CfgField *f = &s->fields[s->units[u].field];
    const CfgFragment *fr = s->units[u].frag;
    int def[CFG_PERM_MAX];
    cfg_out_str(o, "  ");
    if (f->is_list)
      cfg_out_printf(o, "%s[%d]", f->name, s->units[u].elem + 1);
    else
      cfg_out_str(o, f->name);
    cfg_out_str(o, f->tunable ? " (tunable): " : ": ");
    cfg_out_domain(o, fr, 1);
    cfg_out_str(o, "; default ");
    cfg_frag_default(fr, def);
    cfg_out_value(o, fr, def, true);
    cfg_out_str(o, "\n");
  }
  for (int i = 0; i < s->ncons; i++) {
    const CfgConstraint *c = &s->cons[i];
    cfg_out_printf(o, "  constraint %s(%s, %lld)\n", c->name, c->field, c->arg);
  }
}

int cfgspace_describe(const ConfigSpace *s, char *buf, size_t cap) {
  CfgOut o;
  cfg_out_init(&o, buf, cap);
  describe(s, &o, true);
  return (int)o.len;
}

uint64_t cfgspace_fingerprint(const ConfigSpace *s) {
  CfgOut o;
  cfg_out_init(&o, NULL, 0);
  describe(s, &o, false);
  return o.hash;
}
