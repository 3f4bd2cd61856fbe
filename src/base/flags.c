/* Flags: the table of declared environment variables and their lookup.
 * Part of src/base. */
#include "base/flags.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

const FlagInfo flags_table[] = {
#define X(name, type, def, doc) {#name, type, def, doc},
#include "base/flags.def"
#undef X
};
const int flags_count = sizeof flags_table / sizeof flags_table[0];

const char *flags_get(const char *name) {
  int known = 0;
  for (int i = 0; i < flags_count; i++)
    if (strcmp(flags_table[i].name, name) == 0) known = 1;
  assert(known && "flag not declared in flags.def");
  (void)known;
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}
