/* Config spaces: reading a user tunable's fragment text (hl.register_tunable) into a fragment.
 * Part of src/config (config space); the text is what lua/helua/config.lua's fragments print.
 *
 *   fragment := Name "(" [value {"," value}] ")"
 *   value    := integer | number | "string" | 'string' | true | false | "{" [value {"," value}] "}"
 *
 * Strings take Lua's escapes (\" \\ \n \t \r \ddd \xXX), as string.format("%q") writes them. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

#define MAX_ARGS 4

typedef enum { V_INT, V_NUM, V_STR, V_BOOL, V_LIST } VKind;

typedef struct Val {
  VKind kind;
  long long i;      /* V_INT, V_BOOL */
  double num;       /* V_INT, V_NUM */
  const char *text; /* V_STR: unquoted; V_INT, V_NUM: as written; V_BOOL: "true" / "false" */
  int first, n;     /* V_LIST: elements in the parser's list pool */
} Val;

typedef struct Parser {
  const char *src, *p;
  char *out; /* text storage (the fragment's own) */
  size_t used, cap;
  Val pool[CFG_ENUM_MAX + 1]; /* list elements */
  int npool;
  Diag *d;
} Parser;

static void skip_space(Parser *ps) {
  while (isspace((unsigned char)*ps->p))
    ps->p++;
}

static int fail(Parser *ps, const char *what) {
  return diag_set(ps->d, "cannot read the fragment: %s at \"%.24s\"", what, ps->p);
}

static char *store(Parser *ps, const char *s, size_t n) {
  if (ps->used + n + 1 > ps->cap) return NULL;
  char *dst = ps->out + ps->used;
  memcpy(dst, s, n);
  dst[n] = '\0';
  ps->used += n + 1;
  return dst;
}

static int parse_string(Parser *ps, Val *v) {
  char q = *ps->p++, buf[CFG_CHOICE_MAX];
  size_t n = 0;
  while (*ps->p && *ps->p != q) {
    int c = (unsigned char)*ps->p++;
    if (c == '\\') {
      c = (unsigned char)*ps->p++;
      if (c == 'n' || c == '\n')
        c = '\n';
      else if (c == 't')
        c = '\t';
      else if (c == 'r')
        c = '\r';
      else if (c == 'x' && isxdigit((unsigned char)ps->p[0]) && isxdigit((unsigned char)ps->p[1])) {
        char hex[3] = {ps->p[0], ps->p[1], 0};
        c = (int)strtol(hex, NULL, 16);
        ps->p += 2;
      } else if (isdigit(c)) {
        int x = c - '0';
        for (int k = 0; k < 2 && isdigit((unsigned char)*ps->p); k++)
          x = x * 10 + (*ps->p++ - '0');
        if (x > 255) return fail(ps, "a \\ddd escape above 255");
        c = x;
      } else if (c != '"' && c != '\'' && c != '\\') {
        ps->p--;
        return fail(ps, "an unknown escape");
      }
    }
    if (n + 1 >= sizeof buf)
      return diag_set(ps->d, "cannot read the fragment: a choice is longer than %d characters",
                      CFG_CHOICE_MAX - 1);
    buf[n++] = (char)c;
  }
  if (*ps->p != q) return fail(ps, "an unfinished string");
  ps->p++;
  v->kind = V_STR;
  if (!(v->text = store(ps, buf, n))) return diag_set(ps->d, "the fragment text is too long");
  return HL_OK;
}

static int parse_number(Parser *ps, Val *v) {
  const char *start = ps->p;
  char *end;
  double x = strtod(start, &end);
  if (end == start) return fail(ps, "expected a value");
  bool integral = true;
  for (const char *c = start; c < end; c++)
    if (*c == '.' || *c == 'e' || *c == 'E' || *c == 'n' || *c == 'N' || *c == 'i' || *c == 'I')
      integral = false;
  const char *digits = start + (*start == '-' || *start == '+');
  bool hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
  if (hex)
    integral = memchr(start, 'p', (size_t)(end - start)) == NULL &&
               memchr(start, 'P', (size_t)(end - start)) == NULL &&
               memchr(start, '.', (size_t)(end - start)) == NULL;
  v->kind = integral ? V_INT : V_NUM;
  v->num = x;
  if (integral) v->i = strtoll(start, NULL, hex ? 16 : 10);
  ps->p = end;
  if (!(v->text = store(ps, start, (size_t)(end - start))))
    return diag_set(ps->d, "the fragment text is too long");
  return HL_OK;
}

static int parse_value(Parser *ps, Val *v, bool in_list);

static int parse_list(Parser *ps, Val *v) {
  ps->p++; /* { */
  v->kind = V_LIST;
  v->first = ps->npool;
  v->n = 0;
  skip_space(ps);
  while (*ps->p != '}') {
    if (ps->npool >= CFG_ENUM_MAX)
      return diag_set(ps->d, "cannot read the fragment: more than %d choices", CFG_ENUM_MAX);
    if (parse_value(ps, &ps->pool[ps->npool], true)) return HL_ERR;
    ps->npool++;
    v->n++;
    skip_space(ps);
    if (*ps->p == ',') {
      ps->p++;
      skip_space(ps);
    } else if (*ps->p != '}') {
      return fail(ps, "expected ',' or '}'");
    }
  }
  ps->p++;
  return HL_OK;
}

static int parse_value(Parser *ps, Val *v, bool in_list) {
  skip_space(ps);
  *v = (Val){0};
  const char *c = ps->p;
  if (*c == '"' || *c == '\'') return parse_string(ps, v);
  if (*c == '{') {
    if (in_list) return fail(ps, "a list inside a list");
    return parse_list(ps, v);
  }
  for (int b = 0; b < 2; b++) {
    const char *word = b ? "true" : "false";
    size_t n = strlen(word);
    if (strncmp(c, word, n) == 0 && !isalnum((unsigned char)c[n]) && c[n] != '_') {
      ps->p += n;
      v->kind = V_BOOL;
      v->i = b;
      v->text = word;
      return HL_OK;
    }
  }
  return parse_number(ps, v);
}

static bool same_value(const Val *a, const Val *b) {
  if (a->kind == V_STR || b->kind == V_STR || a->kind == V_BOOL || b->kind == V_BOOL)
    return a->kind == b->kind && strcmp(a->text, b->text) == 0;
  return a->num == b->num; /* numbers compare by value, as in Lua (4 == 4.0) */
}

static int int_arg(Parser *ps, const Val *v, const char *what, int *out) {
  if (v->kind != V_INT || v->i < -(1ll << 31) + 1 || v->i > (1ll << 31) - 1)
    return diag_set(ps->d, "%s must be an integer, got %s", what, v->text ? v->text : "a list");
  *out = (int)v->i;
  return HL_OK;
}

static int build_range(Parser *ps, const char *name, bool pow2, const Val *args, int n,
                       CfgFragment *f) {
  int lo = 0, hi = 0, def;
  if (n < 2 || n > 3)
    return diag_set(ps->d, "%s takes (lo, hi[, default]), got %d values", name, n);
  if (int_arg(ps, &args[0], "lo", &lo) || int_arg(ps, &args[1], "hi", &hi)) return HL_ERR;
  def = lo;
  if (n == 3 && int_arg(ps, &args[2], "the default", &def)) return HL_ERR;
  *f = pow2 ? cfg_pow2(lo, hi, def) : cfg_int(lo, hi, def);
  if (cfg_frag_validate(f, name, ps->d)) return HL_ERR;
  int v = def;
  if (!cfg_frag_contains(f, &v))
    return diag_set(ps->d, "%s: the default %d is not in its range", name, def);
  return HL_OK;
}

static int build_enum(Parser *ps, const Val *args, int n, CfgTunableFragment *out) {
  if (n < 1 || n > 2 || args[0].kind != V_LIST || args[0].n < 1)
    return diag_set(ps->d, "EnumFragment takes ({choice, ...}[, default])");
  const Val *choices = &ps->pool[args[0].first];
  int nc = args[0].n, def = 0;
  for (int i = 0; i < nc; i++) {
    out->choices[i] = choices[i].text;
    out->choice_kind[i] = choices[i].kind == V_STR ? 's' : choices[i].kind == V_BOOL ? 'b' : 'n';
    for (int j = 0; j < i; j++)
      if (same_value(&choices[i], &choices[j]))
        return diag_set(ps->d, "EnumFragment: the choice %s is listed twice", choices[i].text);
  }
  if (n == 2) {
    def = -1;
    for (int i = 0; i < nc && def < 0; i++)
      if (args[1].kind != V_LIST && same_value(&args[1], &choices[i])) def = i;
    if (def < 0) return diag_set(ps->d, "EnumFragment: the default is not one of the choices");
  }
  out->frag = cfg_enum(out->choices, nc, def);
  return cfg_frag_validate(&out->frag, "EnumFragment", ps->d);
}

int cfg_tunable_parse(const char *text, CfgTunableFragment *out, Diag *d) {
  memset(out, 0, offsetof(CfgTunableFragment, text));
  if (!text) return diag_set(d, "cannot read the fragment: no text");
  Parser *ps = &(Parser){.src = text, .p = text, .out = out->text, .cap = sizeof out->text, .d = d};
  skip_space(ps);
  const char *name = ps->p;
  while (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '.')
    ps->p++;
  size_t nlen = (size_t)(ps->p - name);
  const char *dot = memchr(name, '.', nlen); /* helua.Config.IntegerFragment: the last part */
  while (dot) {
    nlen -= (size_t)(dot + 1 - name);
    name = dot + 1;
    dot = memchr(name, '.', nlen);
  }
  skip_space(ps);
  if (nlen == 0 || *ps->p != '(')
    return diag_set(d, "cannot read the fragment \"%.80s\": expected e.g. IntegerFragment(1, 8, 4)",
                    text);
  ps->p++;
  Val args[MAX_ARGS];
  int n = 0;
  skip_space(ps);
  while (*ps->p != ')') {
    if (n == MAX_ARGS) return fail(ps, "too many values");
    if (parse_value(ps, &args[n++], false)) return HL_ERR;
    skip_space(ps);
    if (*ps->p == ',')
      ps->p++;
    else if (*ps->p != ')')
      return fail(ps, "expected ',' or ')'");
    skip_space(ps);
  }
  ps->p++;
  skip_space(ps);
  if (*ps->p) return fail(ps, "unexpected text after the fragment");
  char nm[32];
  snprintf(nm, sizeof nm, "%.*s", (int)(nlen < 31 ? nlen : 31), name);
  if (strcmp(nm, "PowerOfTwoFragment") == 0) return build_range(ps, nm, true, args, n, &out->frag);
  if (strcmp(nm, "IntegerFragment") == 0) return build_range(ps, nm, false, args, n, &out->frag);
  if (strcmp(nm, "EnumFragment") == 0) return build_enum(ps, args, n, out);
  if (strcmp(nm, "BooleanFragment") == 0) {
    if (n > 1 || (n == 1 && args[0].kind != V_BOOL))
      return diag_set(d, "BooleanFragment takes ([default]) with true or false");
    out->frag = cfg_bool(n == 1 && args[0].i);
    return HL_OK;
  }
  return diag_set(d,
                  "unknown fragment %s: use PowerOfTwoFragment, IntegerFragment, EnumFragment or "
                  "BooleanFragment",
                  nm);
}
