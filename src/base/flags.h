/* Flags: the declared HELUA_* environment variables (see flags.def).
 * Part of src/base. */
#ifndef HELUA_BASE_FLAGS_H
#define HELUA_BASE_FLAGS_H

typedef struct FlagInfo {
  const char *name, *type, *def, *doc;
} FlagInfo;

extern const FlagInfo flags_table[];
extern const int flags_count;

/* The variable's value, or NULL when unset or empty. Only declared names may be asked for. */
const char *flags_get(const char *name);

#endif
