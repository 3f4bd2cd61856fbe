/* The Lua sources of lua/helua/, compiled into the binary by embed_lua.
 * Part of src/bind (the Lua boundary). */
#ifndef HELUA_BIND_EMBEDDED_H
#define HELUA_BIND_EMBEDDED_H

#include <stddef.h>

typedef struct EmbeddedLua {
  const char *module;    /* "helua.language" */
  const char *chunkname; /* "@lua/helua/language.lua", so errors name the source file */
  const char *source;
  size_t len;
} EmbeddedLua;

extern const EmbeddedLua bind_embedded_lua[]; /* ends with a {0} entry */

#endif
