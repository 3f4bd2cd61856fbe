/* Config spaces: the space's layout and the text-writer shared by the config files (not exported).
 * Part of src/config (config space). */
#ifndef HELUA_CONFIG_CONFIG_INTERNAL_H
#define HELUA_CONFIG_CONFIG_INTERNAL_H

#include <stdarg.h>

#include "config/config.h"

struct ConfigSpace {
  CfgTarget target;
  CfgField *fields; /* canonical order (rank) */
  int nfields, cap_fields;
  CfgUnit *units; /* every (field, element), in slot order */
  int nunits, cap_units;
  int slots;
  CfgConstraint *cons;
  int ncons, cap_cons;
};

/* A bounded text writer: keeps the full length like snprintf, and can hash what it writes
 * (the fingerprint hashes the description without storing it). */
typedef struct CfgOut {
  char *buf;
  size_t cap, len;
  uint64_t hash; /* FNV-1a 64 over every byte written */
} CfgOut;

#define CFG_FNV_OFFSET 0xcbf29ce484222325ull
#define CFG_FNV_PRIME  0x100000001b3ull

void cfg_out_init(CfgOut *o, char *buf, size_t cap);
void cfg_out_str(CfgOut *o, const char *s);
void cfg_out_printf(CfgOut *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a double-quoted string with \" \\ and control characters escaped (valid Lua and JSON). */
void cfg_out_quoted(CfgOut *o, const char *s);
/* One value of fragment f: lua (1-based perms, helua.none) or JSON (0-based, null). */
void cfg_out_value(CfgOut *o, const CfgFragment *f, const int *v, bool lua);

/* The domain of f in words (cfg_frag_describe_domain without a length limit). */
void cfg_out_domain(CfgOut *o, const CfgFragment *f, int perm_base);

/* The unit of field[elem], or NULL. */
const CfgUnit *cfg_find_unit(const ConfigSpace *s, const char *name, int elem);

/* Maximum length of an enum choice, like field names. */
#define CFG_CHOICE_MAX 64

/* Levenshtein distance, capped; for did-you-mean. */
int cfg_edit_distance(const char *a, const char *b);

/* a * b, saturating at 2^50 (element counts of tiles). */
static inline long long cfg_sat_mul(long long a, long long b) {
  const long long big = 1ll << 50;
  return a > big / (b > 0 ? b : 1) ? big : a * b;
}

#endif
