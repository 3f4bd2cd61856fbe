/* Config spaces: setting config fields from key/value items (the Lua binding) and Helion JSON.
 * Part of src/config (config space).
 *
 * A set either writes the whole field or, on any error, leaves cfg untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "config/config_internal.h"

/* Helion fields for backends or devices helua does not target: accepted and ignored. */
static const char *const helion_only[] = {"num_threads",
                                          "grid_fissions",
                                          "load_cache_modifiers",
                                          "store_cache_modifiers",
                                          "advanced_controls_file",
                                          "epilogue_subtile",
                                          "epilogue_subtiling",
                                          "xcd_remap"};

/* ---- finding the field --------------------------------------------------------------------- */

static const char *closest(const char *name, const char *const *cands, int n) {
  const char *best = NULL;
  int best_dist = (int)strlen(name) / 3 > 2 ? (int)strlen(name) / 3 + 1 : 3;
  for (int i = 0; i < n; i++) {
    int dist = cfg_edit_distance(name, cands[i]);
    if (dist < best_dist) best_dist = dist, best = cands[i];
  }
  return best;
}

/* Field index; or -1 with *rc = HL_ERR (unknown, with a did-you-mean) or CFG_IGNORED. */
static int resolve(const ConfigSpace *s, const char *name, int *rc, Diag *d) {
  if (!name) {
    *rc = HL_ERR;
    return diag_set(d, "config: a field name is missing");
  }
  int fi = cfgspace_find(s, name);
  if (fi >= 0) return fi;
  char plural[CFG_NAME_MAX + 1];
  if (snprintf(plural, sizeof plural, "%ss", name) < (int)sizeof plural &&
      (fi = cfgspace_find(s, plural)) >= 0 && s->fields[fi].is_list)
    return fi; /* Helion's singular aliases: block_size = 64 sets block_sizes */
  for (size_t i = 0; i < sizeof helion_only / sizeof helion_only[0]; i++)
    if (strcmp(name, helion_only[i]) == 0) {
      diag_set(d, "%s is a Helion knob for other backends; ignored", name);
      *rc = CFG_IGNORED;
      return -1;
    }
  const CfgKnownField *k = cfg_known_field(name);
  if (k && !(k->targets & (1u << s->target))) {
    diag_set(d, "%s does not apply to target %s; ignored", name, cfg_target_name(s->target));
    *rc = CFG_IGNORED;
    return -1;
  }
  *rc = HL_ERR;
  if (k) {
    diag_set(d, "this kernel has no %s knob; drop it from the config", name);
    return -1;
  }
  const char *names[256];
  int n = 0, nk;
  for (int i = 0; i < s->nfields && n < 256; i++)
    names[n++] = s->fields[i].name;
  const char *best = closest(name, names, n);
  const CfgKnownField *all = cfg_known_fields(&nk);
  if (!best) {
    for (int i = 0; i < nk && n < 256; i++)
      names[n++] = all[i].name;
    best = closest(name, names, n);
  }
  if (best) {
    diag_set(d, "unknown config field \"%s\"; did you mean \"%s\"?", name, best);
    return -1;
  }
  char list[768];
  CfgOut o;
  cfg_out_init(&o, list, sizeof list);
  for (int i = 0; i < s->nfields; i++)
    cfg_out_printf(&o, i ? ", %s" : "%s", s->fields[i].name);
  diag_set(d, "unknown config field \"%s\"; this kernel's fields on %s are: %s", name,
           cfg_target_name(s->target), s->nfields ? list : "(none)");
  return -1;
}

/* ---- one value ---------------------------------------------------------------------------- */

static void describe_item(CfgOut *o, const CfgItem *v) {
  switch (v->kind) {
  case CFG_ITEM_INT:
    cfg_out_printf(o, "a number (%lld)", v->i);
    return;
  case CFG_ITEM_BOOL:
    cfg_out_printf(o, "a boolean (%s)", v->i ? "true" : "false");
    return;
  case CFG_ITEM_STR:
    cfg_out_str(o, "a string (");
    cfg_out_quoted(o, v->s ? v->s : "");
    cfg_out_str(o, ")");
    return;
  case CFG_ITEM_NONE:
    cfg_out_str(o, "none");
    return;
  case CFG_ITEM_LIST:
    cfg_out_printf(o, "a list of %d", v->n);
    return;
  }
}

static int wrong_kind(const CfgFragment *f, const CfgItem *v, const char *what, int base, Diag *d) {
  char dom[768], got[128];
  CfgOut o;
  cfg_frag_describe_domain(f, base, dom, sizeof dom);
  cfg_out_init(&o, got, sizeof got);
  describe_item(&o, v);
  return diag_set(d, "%s takes %s; got %s", what, dom, got);
}

static int not_allowed(const CfgFragment *f, const char *val, const char *what, int base, Diag *d) {
  char dom[768];
  cfg_frag_describe_domain(f, base, dom, sizeof dom);
  return diag_set(d, "%s = %s is not allowed: it must be %s", what, val, dom);
}

/* Converts item v into the ints of one value of f (out has cfg_frag_width(f) ints). With clamp,
 * a number outside a POW2/INT domain is moved into it instead of refused. */
static int convert(const CfgFragment *f, const CfgItem *v, int base, bool clamp, const char *what,
                   int *out, Diag *d) {
  char val[160];
  if (v->kind == CFG_ITEM_NONE) {
    if (f->nullable) {
      out[0] = CFG_NONE;
      return HL_OK;
    }
    return not_allowed(f, "none", what, base, d);
  }
  switch (f->kind) {
  case CFG_POW2:
  case CFG_INT:
    if (v->kind != CFG_ITEM_INT) return wrong_kind(f, v, what, base, d);
    if (clamp) {
      out[0] = v->i < f->lo ? f->lo : v->i > INT_MAX ? INT_MAX : (int)v->i;
      cfg_frag_clamp(f, out);
      return HL_OK;
    }
    snprintf(val, sizeof val, "%lld", v->i);
    if (v->i < INT_MIN + 1 || v->i > INT_MAX) return not_allowed(f, val, what, base, d);
    out[0] = (int)v->i;
    return cfg_frag_contains(f, out) ? HL_OK : not_allowed(f, val, what, base, d);
  case CFG_BOOL:
    if (v->kind != CFG_ITEM_BOOL) return wrong_kind(f, v, what, base, d);
    out[0] = v->i ? 1 : 0;
    return HL_OK;
  case CFG_ENUM: {
    if (v->kind != CFG_ITEM_STR || !v->s) return wrong_kind(f, v, what, base, d);
    for (int i = 0; i < f->n; i++)
      if (strcmp(v->s, f->choices[i]) == 0) {
        out[0] = i;
        return HL_OK;
      }
    CfgOut o;
    cfg_out_init(&o, val, sizeof val);
    cfg_out_quoted(&o, v->s);
    not_allowed(f, val, what, base, d);
    const char *best = closest(v->s, (const char *const *)f->choices, f->n);
    if (best && d) {
      size_t len = strlen(d->msg);
      snprintf(d->msg + len, sizeof d->msg - len, "; did you mean \"%s\"?", best);
    }
    return HL_ERR;
  }
  case CFG_PERM: {
    if (v->kind != CFG_ITEM_LIST) return wrong_kind(f, v, what, base, d);
    CfgOut o;
    cfg_out_init(&o, val, sizeof val);
    cfg_out_str(&o, "{");
    bool ints = true;
    for (int i = 0; i < v->n; i++) {
      if (v->items[i].kind != CFG_ITEM_INT)
        ints = false;
      else
        cfg_out_printf(&o, i ? ", %lld" : "%lld", v->items[i].i);
    }
    cfg_out_str(&o, "}");
    if (!ints) return wrong_kind(f, v, what, base, d);
    for (int i = 0; i < v->n && i < f->n; i++) {
      long long x = v->items[i].i - base;
      out[i] = x >= 0 && x < f->n ? (int)x : -1;
    }
    if (v->n != f->n || !cfg_frag_contains(f, out)) return not_allowed(f, val, what, base, d);
    return HL_OK;
  }
  }
  return wrong_kind(f, v, what, base, d);
}

/* ---- fields ---------------------------------------------------------------------------------- */

/* Two passes: convert and check every element, then write (so an error leaves cfg as it was). */
static int set_field(int *cfg, const CfgField *f, const CfgItem *v, int base, bool clamp, Diag *d) {
  bool per_element = f->is_list && v->kind == CFG_ITEM_LIST;
  /* loop_orders = {2, 1}: one permutation for every element, not a list of elements */
  if (per_element && f->elems[0].kind == CFG_PERM && v->n > 0 && v->items[0].kind != CFG_ITEM_LIST)
    per_element = false;
  if (per_element && v->n != f->count)
    return diag_set(d, "%s has %d element%s in this kernel; got a list of %d", f->name, f->count,
                    f->count == 1 ? "" : "s", v->n);
  for (int pass = 0; pass < 2; pass++) {
    int *dst = cfg + f->offset;
    for (int e = 0; e < f->count; e++) {
      char what[CFG_NAME_MAX + 16];
      int tmp[CFG_PERM_MAX], w = cfg_frag_width(&f->elems[e]);
      if (f->is_list)
        snprintf(what, sizeof what, "%s[%d]", f->name, e + base);
      else
        snprintf(what, sizeof what, "%s", f->name);
      if (convert(&f->elems[e], per_element ? &v->items[e] : v, base, clamp, what, tmp, d) != HL_OK)
        return HL_ERR;
      if (pass == 1) memcpy(dst, tmp, sizeof(int) * (size_t)w);
      dst += w;
    }
  }
  return HL_OK;
}

static int set_named(const ConfigSpace *s, int *cfg, const char *field, const CfgItem *v,
                     int index_base, bool clamp, Diag *d) {
  int rc = HL_ERR;
  int fi = resolve(s, field, &rc, d);
  /* Helion writes an empty list (or null) for a knob a kernel does not have: nothing to set */
  if (fi < 0 && rc == HL_ERR && field && cfg_known_field(field) &&
      ((v->kind == CFG_ITEM_LIST && v->n == 0) || v->kind == CFG_ITEM_NONE))
    return CFG_IGNORED;
  if (fi < 0) return rc;
  return set_field(cfg, &s->fields[fi], v, index_base, clamp, d);
}

int cfgspace_set(const ConfigSpace *s, int *cfg, const char *field, const CfgItem *v,
                 int index_base, Diag *d) {
  return set_named(s, cfg, field, v, index_base, false, d);
}

int cfgspace_set_int(const ConfigSpace *s, int *cfg, const char *field, long long v, Diag *d) {
  CfgItem it = {.kind = CFG_ITEM_INT, .i = v};
  return cfgspace_set(s, cfg, field, &it, 1, d);
}

int cfgspace_set_bool(const ConfigSpace *s, int *cfg, const char *field, bool v, Diag *d) {
  CfgItem it = {.kind = CFG_ITEM_BOOL, .i = v};
  return cfgspace_set(s, cfg, field, &it, 1, d);
}

int cfgspace_set_none(const ConfigSpace *s, int *cfg, const char *field, Diag *d) {
  CfgItem it = {.kind = CFG_ITEM_NONE};
  return cfgspace_set(s, cfg, field, &it, 1, d);
}

int cfgspace_set_enum(const ConfigSpace *s, int *cfg, const char *field, const char *v, Diag *d) {
  CfgItem it = {.kind = CFG_ITEM_STR, .s = v};
  return cfgspace_set(s, cfg, field, &it, 1, d);
}

int cfgspace_set_list(const ConfigSpace *s, int *cfg, const char *field, const CfgItem *items,
                      int n, int index_base, Diag *d) {
  CfgItem it = {.kind = CFG_ITEM_LIST, .items = items, .n = n};
  return cfgspace_set(s, cfg, field, &it, index_base, d);
}

/* ---- JSON ----------------------------------------------------------------------------------- */

typedef struct Json {
  const char *p, *start;
  CfgItem *pool; /* at most one item per input byte */
  int used;
  char *text; /* unescaped strings, at most the input's size */
  bool clamp;
  Diag *d;
} Json;

#define JSON_MAX_DEPTH 8

static void ws(Json *j) {
  while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
    j->p++;
}

static int jerr(Json *j, const char *what) {
  return diag_set(j->d, "JSON config: %s at offset %d", what, (int)(j->p - j->start));
}

/* Consumes c, or fails pointing at what is there instead. */
static int expect(Json *j, char c, const char *what) {
  if (*j->p != c) return jerr(j, what);
  j->p++;
  return HL_OK;
}

static int jstring(Json *j, const char **out) {
  if (*j->p != '"') return jerr(j, "expected a string");
  j->p++;
  char *w = j->text;
  *out = w;
  for (;;) {
    char c = *j->p;
    if (c == '\0') return jerr(j, "unterminated string");
    j->p++;
    if (c == '"') break;
    if (c == '\\') {
      c = *j->p++;
      if (c == 'n')
        c = '\n';
      else if (c == 't')
        c = '\t';
      else if (c == 'u') {
        unsigned x = 0;
        for (int i = 0; i < 4; i++) {
          char h = *j->p++;
          int v = h >= '0' && h <= '9'   ? h - '0'
                  : h >= 'a' && h <= 'f' ? h - 'a' + 10
                  : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                         : -1;
          if (v < 0) return jerr(j, "bad \\u escape");
          x = x * 16 + (unsigned)v;
        }
        if (x == 0 || x > 0x7f) return jerr(j, "only ASCII \\u escapes are supported");
        c = (char)x;
      } else if (c != '"' && c != '\\' && c != '/') {
        return jerr(j, "bad escape");
      }
    }
    *w++ = c;
  }
  *w++ = '\0';
  j->text = w;
  return HL_OK;
}

/* Number of values in the array at j->p (just after '['), without parsing them. */
static int count_elements(const char *p) {
  int depth = 0, n = 0;
  bool any = false, in_str = false;
  for (; *p; p++) {
    if (in_str) {
      if (*p == '\\' && p[1])
        p++;
      else if (*p == '"')
        in_str = false;
      continue;
    }
    if (*p == '"') in_str = true;
    if (*p == '[' || *p == '{')
      depth++;
    else if ((*p == ']' || *p == '}') && depth-- == 0)
      break;
    else if (*p == ',' && depth == 0)
      n++;
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') any = true;
  }
  return any ? n + 1 : 0;
}

static int jvalue(Json *j, CfgItem *out, int depth) {
  ws(j);
  char c = *j->p;
  if (c == '"') {
    *out = (CfgItem){.kind = CFG_ITEM_STR};
    return jstring(j, &out->s);
  }
  if (c == '[') {
    if (depth >= JSON_MAX_DEPTH) return jerr(j, "lists nested too deeply");
    j->p++;
    int n = count_elements(j->p);
    CfgItem *items = j->pool + j->used;
    j->used += n;
    *out = (CfgItem){.kind = CFG_ITEM_LIST, .items = items, .n = n};
    for (int i = 0; i < n; i++) {
      if (jvalue(j, &items[i], depth + 1) != HL_OK) return HL_ERR;
      ws(j);
      if (*j->p != (i + 1 < n ? ',' : ']'))
        return jerr(j, i + 1 < n ? "expected ','" : "expected ']'");
      j->p++;
    }
    if (n == 0) {
      ws(j);
      if (expect(j, ']', "expected ']'") != HL_OK) return HL_ERR;
    }
    return HL_OK;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    char *end;
    long long v = strtoll(j->p, &end, 10);
    if (end == j->p) return jerr(j, "expected a number");
    if (*end == '.' || *end == 'e' || *end == 'E') return jerr(j, "config values are integers");
    j->p = end;
    *out = (CfgItem){.kind = CFG_ITEM_INT, .i = v};
    return HL_OK;
  }
  static const struct {
    const char *word;
    CfgItemKind kind;
    int v;
  } words[] = {{"true", CFG_ITEM_BOOL, 1}, {"false", CFG_ITEM_BOOL, 0}, {"null", CFG_ITEM_NONE, 0}};
  for (int i = 0; i < 3; i++)
    if (strncmp(j->p, words[i].word, strlen(words[i].word)) == 0) {
      j->p += strlen(words[i].word);
      *out = (CfgItem){.kind = words[i].kind, .i = words[i].v};
      return HL_OK;
    }
  return jerr(j, "expected a value");
}

static int json_object(const ConfigSpace *s, Json *j, int *cfg) {
  ws(j);
  if (expect(j, '{', "expected '{'") != HL_OK) return HL_ERR;
  ws(j);
  if (*j->p == '}') {
    j->p++;
    return HL_OK;
  }
  for (;;) {
    const char *key;
    CfgItem v;
    ws(j);
    if (jstring(j, &key) != HL_OK) return HL_ERR;
    ws(j);
    if (expect(j, ':', "expected ':'") != HL_OK) return HL_ERR;
    if (jvalue(j, &v, 0) != HL_OK) return HL_ERR;
    if (set_named(s, cfg, key, &v, 0, j->clamp, j->d) == HL_ERR)
      return diag_prefix(j->d, "JSON config: ");
    ws(j);
    if (*j->p == '}') {
      j->p++;
      return HL_OK;
    }
    if (expect(j, ',', "expected ',' or '}'") != HL_OK) return HL_ERR;
  }
}

static int from_json(const ConfigSpace *s, const char *json, int *cfg, bool clamp, Diag *d) {
  if (cfgspace_default(s, cfg, d) != HL_OK) return HL_ERR;
  size_t len = strlen(json);
  void *block = mem_alloc(sizeof(CfgItem) * (len + 1) + len + 1);
  if (!block) return diag_set(d, "JSON config: out of memory");
  Json j = {.p = json,
            .start = json,
            .pool = block,
            .text = (char *)block + sizeof(CfgItem) * (len + 1),
            .clamp = clamp,
            .d = d};
  int rc = json_object(s, &j, cfg);
  if (rc == HL_OK) {
    ws(&j);
    if (*j.p) rc = jerr(&j, "trailing text after the config");
  }
  mem_free(block);
  if (rc != HL_OK) return HL_ERR;
  return cfgspace_normalize(s, cfg, clamp, d);
}

int cfgspace_from_json(const ConfigSpace *s, const char *json, int *cfg, Diag *d) {
  return from_json(s, json, cfg, false, d);
}

int cfgspace_from_json_clamped(const ConfigSpace *s, const char *json, int *cfg, Diag *d) {
  return from_json(s, json, cfg, true, d);
}
