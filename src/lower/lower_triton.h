/* The Triton renderer's API: tile IR x a cuda Config -> Triton Python text (the "triton" stage).
 * Part of src/lower (a pure text renderer: no LLVM, no GPU). share/doc/triton.md has the mapping.
 */
#ifndef HELUA_LOWER_LOWER_TRITON_H
#define HELUA_LOWER_LOWER_TRITON_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"
#include "config/config.h"
#include "ir/ir.h"

/* Renders f (traced IR) for the config cfg of s (a space derived for target "cuda", cfg
 * normalized) as one Python module: `import`s, a @triton.jit `_helua_<name>` and a host function
 * `<name>(args...)` taking the kernel's arguments in IR order (outputs included: the caller
 * allocates them) that computes the grid and launches. Every statement from the kernel ends with
 * `  # file:line`. *out is mem_alloc'ed and NUL-terminated (mem_free it); *len is its length.
 * An op or form the renderer cannot express is an error naming the op and the kernel line.
 * tf32: float32 dots take input_precision="tf32" (the kernel setting dot_precision), else "ieee". */
int lower_triton_render(const IrFunc *f, const ConfigSpace *s, const int *cfg, bool tf32, char **out,
                        size_t *len, Diag *d);

#endif
