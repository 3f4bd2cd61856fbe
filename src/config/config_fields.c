/* Config spaces: the table of known fields (config_fields.def) and the targets they apply to.
 * Part of src/config (config space). */
#include <string.h>

#include "config/config_internal.h"

static const char *const indexing_choices[] = {"pointer", "tensor_descriptor"};
static const char *const pid_type_choices[] = {"flat", "xyz", "persistent_blocked",
                                               "persistent_interleaved"};
static const char *const eviction_choices[] = {"", "first", "last"};

/* The fragment column of config_fields.def: has_standard, then the fragment. */
/* clang-format off */
#define F_NONE false, {0}
#define F_POW2(lo_, hi_, def_) true, {.kind = CFG_POW2, .lo = lo_, .hi = hi_, .def = def_}
#define F_POW2_OR_NONE(lo_, hi_) \
  true, {.kind = CFG_POW2, .lo = lo_, .hi = hi_, .def = CFG_NONE, .nullable = true}
#define F_INT(lo_, hi_, def_) true, {.kind = CFG_INT, .lo = lo_, .hi = hi_, .def = def_}
#define F_BOOL(def_) true, {.kind = CFG_BOOL, .def = def_}
#define F_BOOL_OR_NONE true, {.kind = CFG_BOOL, .def = CFG_NONE, .nullable = true}
#define F_ENUM(choices_, n_, def_) \
  true, {.kind = CFG_ENUM, .n = n_, .def = def_, .choices = choices_}
/* clang-format on */

static const CfgKnownField known[] = {
#define CFG_FIELD(name, list, targets, frag, doc) {#name, list, targets, frag, doc},
#include "config/config_fields.def"
#undef CFG_FIELD
};

const CfgKnownField *cfg_known_fields(int *count) {
  if (count) *count = (int)(sizeof known / sizeof known[0]);
  return known;
}

const CfgKnownField *cfg_known_field(const char *name) {
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(known[i].name, name) == 0) return &known[i];
  return NULL;
}

bool cfg_field_applies(const char *name, CfgTarget t) {
  const CfgKnownField *k = cfg_known_field(name);
  return !k || (k->targets & (1u << t)) != 0;
}

static const char *const target_names[CFG_TARGET_COUNT] = {"cpu", "cuda"};

const char *cfg_target_name(CfgTarget t) {
  return (unsigned)t < CFG_TARGET_COUNT ? target_names[t] : "?";
}

int cfg_target_from_name(const char *name, CfgTarget *out, Diag *d) {
  for (int t = 0; t < CFG_TARGET_COUNT; t++)
    if (strcmp(name, target_names[t]) == 0) {
      *out = (CfgTarget)t;
      return HL_OK;
    }
  return diag_set(d, "unknown target \"%s\": the targets are \"cpu\" and \"cuda\"", name);
}

/* Levenshtein distance on two rows; names are short (< CFG_NAME_MAX), longer input is capped. */
int cfg_edit_distance(const char *a, const char *b) {
  int la = (int)strnlen(a, CFG_NAME_MAX), lb = (int)strnlen(b, CFG_NAME_MAX);
  int prev[CFG_NAME_MAX + 1], cur[CFG_NAME_MAX + 1];
  for (int j = 0; j <= lb; j++)
    prev[j] = j;
  for (int i = 1; i <= la; i++) {
    cur[0] = i;
    for (int j = 1; j <= lb; j++) {
      int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
      int del = prev[j] + 1, ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
    memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
  }
  return prev[lb];
}
