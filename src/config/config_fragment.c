/* Config spaces: typed fragments (power of two, integer, enum, boolean, permutation) and their ops.
 * Part of src/config (config space).
 *
 * POW2 and INT values are handled through their *ordinal*: the position in the ordered domain
 * (lo, lo*2, ..., hi or lo, lo+1, ..., hi), with "none" one step above hi when the fragment is
 * nullable (a persistent reduction is the largest chunk; no maxnreg is the most registers). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"

CfgFragment cfg_pow2(int lo, int hi, int def) {
  return (CfgFragment){.kind = CFG_POW2, .lo = lo, .hi = hi, .def = def};
}
CfgFragment cfg_int(int lo, int hi, int def) {
  return (CfgFragment){.kind = CFG_INT, .lo = lo, .hi = hi, .def = def};
}
CfgFragment cfg_enum(const char *const *choices, int n, int def_index) {
  return (CfgFragment){.kind = CFG_ENUM, .n = n, .def = def_index, .choices = choices};
}
CfgFragment cfg_bool(bool def) {
  return (CfgFragment){.kind = CFG_BOOL, .def = def ? 1 : 0};
}
CfgFragment cfg_perm(int n) {
  return (CfgFragment){.kind = CFG_PERM, .n = n};
}
CfgFragment cfg_or_none(CfgFragment f, bool def_none) {
  f.nullable = true;
  if (def_none) f.def = CFG_NONE;
  return f;
}

static bool is_pow2(long long v) {
  return v > 0 && (v & (v - 1)) == 0;
}
static int ilog2(unsigned v) {
  return 31 - __builtin_clz(v);
}

int cfg_frag_validate(const CfgFragment *f, const char *what, Diag *d) {
  if (f->nullable && f->kind != CFG_POW2 && f->kind != CFG_INT && f->kind != CFG_BOOL)
    return diag_set(d, "%s: only power-of-two, integer and boolean fragments can be none", what);
  switch (f->kind) {
  case CFG_POW2:
    if (!is_pow2(f->lo) || !is_pow2(f->hi) || f->lo > f->hi || f->hi > (1 << 30))
      return diag_set(
          d, "%s: a power-of-two fragment needs powers of two lo <= hi <= 2^30, got %d..%d", what,
          f->lo, f->hi);
    return HL_OK;
  case CFG_INT:
    if (f->lo > f->hi || f->lo == INT_MIN)
      return diag_set(d, "%s: an integer fragment needs lo <= hi (lo > INT_MIN), got %d..%d", what,
                      f->lo, f->hi);
    return HL_OK;
  case CFG_ENUM:
    if (f->n < 1 || f->n > CFG_ENUM_MAX || !f->choices)
      return diag_set(d, "%s: an enum fragment needs 1 to %d choices, got %d", what, CFG_ENUM_MAX,
                      f->n);
    for (int i = 0; i < f->n; i++) {
      if (!f->choices[i] || strlen(f->choices[i]) >= CFG_CHOICE_MAX)
        return diag_set(d, "%s: enum choice %d is missing or longer than %d characters", what,
                        i + 1, CFG_CHOICE_MAX - 1);
      for (const char *c = f->choices[i]; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
          return diag_set(d, "%s: enum choice %d holds a control character", what, i + 1);
      for (int j = 0; j < i; j++)
        if (strcmp(f->choices[i], f->choices[j]) == 0)
          return diag_set(d, "%s: enum choice \"%s\" appears twice", what, f->choices[i]);
    }
    return HL_OK;
  case CFG_BOOL:
    return HL_OK;
  case CFG_PERM:
    if (f->n < 1 || f->n > CFG_PERM_MAX)
      return diag_set(d, "%s: a permutation fragment needs 1 to %d elements, got %d", what,
                      CFG_PERM_MAX, f->n);
    return HL_OK;
  }
  return diag_set(d, "%s: unknown fragment kind %d", what, (int)f->kind);
}

int cfg_frag_width(const CfgFragment *f) {
  return f->kind == CFG_PERM ? f->n : 1;
}

/* ---- ordinals (POW2, INT) --------------------------------------------------------------- */

static long long ord_count(const CfgFragment *f) {
  long long n = f->kind == CFG_POW2 ? ilog2((unsigned)f->hi) - ilog2((unsigned)f->lo) + 1
                                    : (long long)f->hi - f->lo + 1;
  return n + (f->nullable ? 1 : 0);
}

static long long to_ord(const CfgFragment *f, int v) {
  if (v == CFG_NONE) return ord_count(f) - 1;
  return f->kind == CFG_POW2 ? ilog2((unsigned)v) - ilog2((unsigned)f->lo) : (long long)v - f->lo;
}

static int from_ord(const CfgFragment *f, long long o) {
  if (f->nullable && o == ord_count(f) - 1) return CFG_NONE;
  return f->kind == CFG_POW2 ? f->lo << o : (int)(f->lo + o);
}

/* Nullable BOOL is ordered none, false, true. */
static int bool_value(int o, bool nullable) {
  return nullable ? (o == 0 ? CFG_NONE : o - 1) : o;
}

double cfg_frag_cardinality(const CfgFragment *f) {
  switch (f->kind) {
  case CFG_POW2:
  case CFG_INT:
    return (double)ord_count(f);
  case CFG_ENUM:
    return f->n;
  case CFG_BOOL:
    return f->nullable ? 3 : 2;
  case CFG_PERM: {
    double c = 1;
    for (int i = 2; i <= f->n; i++)
      c *= i;
    return c;
  }
  }
  return 1;
}

bool cfg_frag_same(const CfgFragment *a, const CfgFragment *b) {
  if (a->kind != b->kind || a->nullable != b->nullable || a->n != b->n) return false;
  switch (a->kind) {
  case CFG_POW2:
  case CFG_INT:
    return a->lo == b->lo && a->hi == b->hi && a->def == b->def;
  case CFG_ENUM:
    if (a->def != b->def) return false;
    for (int i = 0; i < a->n; i++)
      if (strcmp(a->choices[i], b->choices[i]) != 0) return false;
    return true;
  case CFG_BOOL:
    return a->def == b->def;
  case CFG_PERM:
    return true;
  }
  return false;
}

/* ---- membership and repair -------------------------------------------------------------- */

static bool perm_ok(const int *v, int n) {
  unsigned seen = 0;
  for (int i = 0; i < n; i++) {
    if (v[i] < 0 || v[i] >= n || (seen >> v[i]) & 1u) return false;
    seen |= 1u << v[i];
  }
  return true;
}

bool cfg_frag_contains(const CfgFragment *f, const int *v) {
  int x = v[0];
  switch (f->kind) {
  case CFG_POW2:
    if (x == CFG_NONE) return f->nullable;
    return is_pow2(x) && x >= f->lo && x <= f->hi;
  case CFG_INT:
    if (x == CFG_NONE) return f->nullable;
    return x >= f->lo && x <= f->hi;
  case CFG_ENUM:
    return x >= 0 && x < f->n;
  case CFG_BOOL:
    return x == 0 || x == 1 || (x == CFG_NONE && f->nullable);
  case CFG_PERM:
    return perm_ok(v, f->n);
  }
  return false;
}

static void identity(int *v, int n) {
  for (int i = 0; i < n; i++)
    v[i] = i;
}

bool cfg_frag_clamp(const CfgFragment *f, int *v) {
  if (cfg_frag_contains(f, v)) return false;
  int x = v[0];
  switch (f->kind) {
  case CFG_POW2:
    if (x == CFG_NONE) x = f->def == CFG_NONE ? f->lo : f->def; /* not nullable here */
    if (x < f->lo)
      x = f->lo;
    else if (x > f->hi)
      x = f->hi;
    else
      x = 1 << ilog2((unsigned)x);
    v[0] = x;
    return true;
  case CFG_INT:
    if (x == CFG_NONE) x = f->def == CFG_NONE ? f->lo : f->def;
    v[0] = x < f->lo ? f->lo : x > f->hi ? f->hi : x;
    return true;
  case CFG_ENUM:
    v[0] = f->def >= 0 && f->def < f->n ? f->def : 0;
    return true;
  case CFG_BOOL:
    v[0] = x == CFG_NONE ? (f->def == 1) : 1;
    return true;
  case CFG_PERM:
    identity(v, f->n);
    return true;
  }
  return false;
}

void cfg_frag_default(const CfgFragment *f, int *v) {
  if (f->kind == CFG_PERM) {
    identity(v, f->n);
    return;
  }
  v[0] = f->def;
  cfg_frag_clamp(f, v);
}

void cfg_frag_random(const CfgFragment *f, CfgRng *r, int *v) {
  switch (f->kind) {
  case CFG_POW2:
  case CFG_INT:
    v[0] = from_ord(f, (long long)cfg_rng_below(r, (uint64_t)ord_count(f)));
    return;
  case CFG_ENUM:
    v[0] = (int)cfg_rng_below(r, (uint64_t)f->n);
    return;
  case CFG_BOOL:
    v[0] = bool_value((int)cfg_rng_below(r, f->nullable ? 3 : 2), f->nullable);
    return;
  case CFG_PERM:
    identity(v, f->n);
    for (int i = f->n - 1; i > 0; i--) { /* Fisher-Yates */
      int j = (int)cfg_rng_below(r, (uint64_t)i + 1), t = v[i];
      v[i] = v[j];
      v[j] = t;
    }
    return;
  }
}

/* ---- neighbours, mutation, crossover ---------------------------------------------------- */

static int clamp_radius(int radius) {
  return radius < 1 ? 1 : radius > CFG_RADIUS_MAX ? CFG_RADIUS_MAX : radius;
}

int cfg_frag_neighbour_bound(const CfgFragment *f, int radius) {
  radius = clamp_radius(radius);
  switch (f->kind) {
  case CFG_POW2:
  case CFG_INT: {
    long long n = ord_count(f) - 1, r2 = 2LL * radius;
    return (int)(n < r2 ? n : r2);
  }
  case CFG_ENUM:
    return f->n - 1;
  case CFG_BOOL:
    return f->nullable ? 2 : 1;
  case CFG_PERM:
    return f->n * (f->n - 1) / 2;
  }
  return 0;
}

int cfg_frag_neighbours(const CfgFragment *f, const int *v, int radius, int *out) {
  int cur[CFG_PERM_MAX], k = 0;
  radius = clamp_radius(radius);
  memcpy(cur, v, sizeof(int) * (size_t)cfg_frag_width(f));
  cfg_frag_clamp(f, cur);
  switch (f->kind) {
  case CFG_POW2:
  case CFG_INT: {
    long long o = to_ord(f, cur[0]), last = ord_count(f) - 1;
    long long from = o - radius < 0 ? 0 : o - radius, to = o + radius > last ? last : o + radius;
    for (long long i = from; i <= to; i++)
      if (i != o) out[k++] = from_ord(f, i);
    return k;
  }
  case CFG_ENUM:
    for (int i = 0; i < f->n; i++)
      if (i != cur[0]) out[k++] = i;
    return k;
  case CFG_BOOL:
    for (int o = 0; o < (f->nullable ? 3 : 2); o++) {
      int b = bool_value(o, f->nullable);
      if (b != cur[0]) out[k++] = b;
    }
    return k;
  case CFG_PERM:
    for (int i = 0; i < f->n; i++)
      for (int j = i + 1; j < f->n; j++) {
        int *w = out + (size_t)k++ * f->n;
        memcpy(w, cur, sizeof(int) * (size_t)f->n);
        w[i] = cur[j];
        w[j] = cur[i];
      }
    return k;
  }
  return 0;
}

void cfg_frag_mutate(const CfgFragment *f, const int *a, const int *b, const int *c, CfgRng *r,
                     int *out) {
  int w = cfg_frag_width(f), ca[CFG_PERM_MAX], cb[CFG_PERM_MAX], cc[CFG_PERM_MAX];
  memcpy(ca, a, sizeof(int) * (size_t)w);
  memcpy(cb, b, sizeof(int) * (size_t)w);
  memcpy(cc, c, sizeof(int) * (size_t)w);
  cfg_frag_clamp(f, ca);
  cfg_frag_clamp(f, cb);
  cfg_frag_clamp(f, cc);
  memcpy(out, ca, sizeof(int) * (size_t)w);
  if (memcmp(cb, cc, sizeof(int) * (size_t)w) == 0) return;
  switch (f->kind) {
  case CFG_POW2:
  case CFG_INT: {
    long long o = to_ord(f, ca[0]), step = to_ord(f, cb[0]) < to_ord(f, cc[0]) ? -1 : 1;
    o += step;
    if (o >= 0 && o < ord_count(f)) out[0] = from_ord(f, o);
    return;
  }
  case CFG_BOOL:
    if (!f->nullable) {
      out[0] = !ca[0];
      return;
    }
    /* nullable BOOL mutates like a three-way enum */
    __attribute__((fallthrough));
  case CFG_ENUM: {
    int cand[2] = {ca[0], ca[0]}, k = 0; /* b != c, so at least one differs from a */
    if (cb[0] != ca[0]) cand[k++] = cb[0];
    if (cc[0] != ca[0]) cand[k++] = cc[0];
    out[0] = k == 2 ? cand[cfg_rng_below(r, 2)] : cand[0];
    return;
  }
  case CFG_PERM:
    if (f->n >= 2) {
      int i = (int)cfg_rng_below(r, (uint64_t)f->n);
      int j = (int)cfg_rng_below(r, (uint64_t)f->n - 1);
      if (j >= i) j++;
      out[i] = ca[j];
      out[j] = ca[i];
    }
    return;
  }
}

void cfg_frag_crossover(const CfgFragment *f, const int *a, const int *b, CfgRng *r, int *out) {
  const int *src = (cfg_rng_next(r) >> 63) ? b : a;
  memmove(out, src, sizeof(int) * (size_t)cfg_frag_width(f));
}

/* ---- encoding and messages ---------------------------------------------------------------- */

int cfg_frag_encode_dim(const CfgFragment *f) {
  switch (f->kind) {
  case CFG_ENUM:
  case CFG_PERM:
    return f->n;
  case CFG_BOOL:
    return f->nullable ? 3 : 1;
  default:
    return 1;
  }
}

void cfg_frag_encode(const CfgFragment *f, const int *v, double *out) {
  switch (f->kind) {
  case CFG_POW2:
    out[0] = v[0] == CFG_NONE ? ilog2((unsigned)f->hi) + 1 : v[0] > 0 ? log2(v[0]) : 0;
    return;
  case CFG_INT:
    out[0] = v[0] == CFG_NONE ? (double)f->hi + 1 : v[0];
    return;
  case CFG_ENUM:
    for (int i = 0; i < f->n; i++)
      out[i] = v[0] == i ? 1.0 : 0.0;
    return;
  case CFG_BOOL:
    if (!f->nullable) {
      out[0] = v[0] ? 1.0 : 0.0;
      return;
    }
    for (int o = 0; o < 3; o++)
      out[o] = v[0] == bool_value(o, true) ? 1.0 : 0.0;
    return;
  case CFG_PERM:
    for (int i = 0; i < f->n; i++)
      out[i] = v[i];
    return;
  }
}

void cfg_out_domain(CfgOut *o, const CfgFragment *f, int perm_base) {
  switch (f->kind) {
  case CFG_POW2:
    if (f->lo == f->hi)
      cfg_out_printf(o, "the power of two %d", f->lo);
    else
      cfg_out_printf(o, "a power of two from %d to %d", f->lo, f->hi);
    break;
  case CFG_INT:
    if (f->lo == f->hi)
      cfg_out_printf(o, "the integer %d", f->lo);
    else
      cfg_out_printf(o, "an integer from %d to %d", f->lo, f->hi);
    break;
  case CFG_ENUM:
    cfg_out_str(o, f->n == 1 ? "" : "one of ");
    for (int i = 0; i < f->n; i++) {
      if (i) cfg_out_str(o, ", ");
      cfg_out_quoted(o, f->choices[i]);
    }
    break;
  case CFG_BOOL:
    cfg_out_str(o, "true or false");
    break;
  case CFG_PERM:
    cfg_out_printf(o, "a permutation of %d..%d", perm_base, f->n - 1 + perm_base);
    break;
  }
  if (f->nullable) cfg_out_str(o, ", or none");
}

int cfg_frag_describe_domain(const CfgFragment *f, int perm_base, char *buf, size_t cap) {
  CfgOut o;
  cfg_out_init(&o, buf, cap);
  cfg_out_domain(&o, f, perm_base);
  return (int)o.len;
}

int cfg_frag_check(const CfgFragment *f, const int *v, const char *what, Diag *d) {
  if (cfg_frag_contains(f, v)) return HL_OK;
  char dom[1024], val[256];
  CfgOut o;
  cfg_frag_describe_domain(f, 1, dom, sizeof dom);
  cfg_out_init(&o, val, sizeof val);
  if (f->kind == CFG_ENUM)
    cfg_out_printf(&o, "choice #%d", v[0]);
  else if (f->kind == CFG_BOOL && v[0] != CFG_NONE)
    cfg_out_printf(&o, "%d", v[0]);
  else
    cfg_out_value(&o, f, v, true);
  return diag_set(d, "%s = %s is not allowed: it must be %s", what, val, dom);
}
