/* Config spaces: typed fragments, a kernel's per-target space, configs as flat int vectors.
 * Part of src/config (config space). share/doc/config-space.md has the model and the tuner API.
 *
 * Model. A ConfigSpace is an ordered list of named fields (Helion's names and order, then CPU-only
 * knobs, then user tunables by name). A field is a single fragment or a list of element fragments.
 * A config is a flat `int` vector of cfgspace_slots() slots: one slot per scalar value (powers of
 * two and integers as themselves, enums as choice indices, booleans 0/1, "none" as CFG_NONE) and n
 * slots for a permutation (0-based). Every (field, element) pair is a *unit*: the thing the search
 * moves one at a time. Functions that can fail return HL_OK / HL_ERR and fill the Diag. */
#ifndef HELUA_CONFIG_CONFIG_H
#define HELUA_CONFIG_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"

/* ---- random numbers: xoshiro256** seeded by splitmix64; explicit state, so tuning replays --- */

typedef struct CfgRng {
  uint64_t s[4];
} CfgRng;

void cfg_rng_seed(CfgRng *r, uint64_t seed);
uint64_t cfg_rng_next(CfgRng *r);
uint64_t cfg_rng_below(CfgRng *r, uint64_t n); /* uniform in [0, n); 0 when n == 0 */
double cfg_rng_unit(CfgRng *r);                /* uniform in [0, 1), 53 bits */
uint64_t cfg_splitmix64(uint64_t *state);      /* one step of splitmix64 (also used for seeding) */

/* ---- fragments ---------------------------------------------------------------------------- */

#define CFG_NONE     INT_MIN /* "none" of a nullable fragment (Lua helua.none, JSON null) */
#define CFG_NAME_MAX 64      /* field names are identifiers of at most 63 characters */
#define CFG_PERM_MAX 16      /* longest permutation (loop nests deeper than this are not tiled) */
#define CFG_ENUM_MAX 64      /* most choices of one enum */

typedef enum CfgKind { CFG_POW2, CFG_INT, CFG_ENUM, CFG_BOOL, CFG_PERM } CfgKind;

typedef struct CfgFragment {
  CfgKind kind;
  int lo, hi;    /* POW2, INT: inclusive bounds (POW2: both powers of two, lo >= 1) */
  int def;       /* default: POW2/INT value, ENUM index, BOOL 0/1, or CFG_NONE; PERM: identity */
  int n;         /* ENUM: number of choices; PERM: length */
  bool nullable; /* POW2, INT, BOOL: CFG_NONE is a value too (above hi; first for BOOL) */
  const char *const *choices; /* ENUM: n distinct strings (a space keeps its own copy) */
} CfgFragment;

CfgFragment cfg_pow2(int lo, int hi, int def);
CfgFragment cfg_int(int lo, int hi, int def);
CfgFragment cfg_enum(const char *const *choices, int n, int def_index);
CfgFragment cfg_bool(bool def);
CfgFragment cfg_perm(int n);
/* f with "none" added (POW2, INT, BOOL); the default becomes CFG_NONE when def_none. */
CfgFragment cfg_or_none(CfgFragment f, bool def_none);

/* Well-formedness (bounds, choices); the message names `what`. */
int cfg_frag_validate(const CfgFragment *f, const char *what, Diag *d);
int cfg_frag_width(const CfgFragment *f);          /* slots of one value: n for PERM, else 1 */
double cfg_frag_cardinality(const CfgFragment *f); /* distinct values (n! for PERM) */
bool cfg_frag_same(const CfgFragment *a, const CfgFragment *b); /* same domain and default */
/* The fragment ops below read and write values of cfg_frag_width() ints. */
void cfg_frag_default(const CfgFragment *f, int *v);
void cfg_frag_random(const CfgFragment *f, CfgRng *r, int *v);
/* Upper bound on cfg_frag_neighbours()'s count for this radius (radius is taken into
 * [1, CFG_RADIUS_MAX]). */
#define CFG_RADIUS_MAX 64
int cfg_frag_neighbour_bound(const CfgFragment *f, int radius);
/* Writes the neighbours of v into out (count * width ints) and returns the count: POW2 ±radius
 * steps in log2, INT ±radius, ENUM every other choice, BOOL the flip (nullable: both others),
 * PERM every pairwise swap. "none" sits one step above hi for POW2/INT. */
int cfg_frag_neighbours(const CfgFragment *f, const int *v, int radius, int *out);
/* Helion's differential mutation "a + (b - c)": POW2 ×2/÷2 and INT ±1 by the sign of b - c;
 * ENUM a choice among b, c other than a; BOOL flip; PERM a random swap of a. b == c gives a. */
void cfg_frag_mutate(const CfgFragment *f, const int *a, const int *b, const int *c, CfgRng *r,
                     int *out);
void cfg_frag_crossover(const CfgFragment *f, const int *a, const int *b, CfgRng *r, int *out);
bool cfg_frag_contains(const CfgFragment *f, const int *v);
/* HL_ERR naming `what` and the allowed domain when v is not in the domain. */
int cfg_frag_check(const CfgFragment *f, const int *v, const char *what, Diag *d);
/* Nearest value in the domain (POW2 rounds down to a power of two, then clamps; an invalid enum,
 * bool or permutation becomes the default). Returns true when v changed. */
bool cfg_frag_clamp(const CfgFragment *f, int *v);
/* Numeric encoding for surrogate models: POW2 log2 (none: log2(hi) + 1), INT the value (none:
 * hi + 1), ENUM one-hot, BOOL 0/1 (nullable: one-hot none/false/true), PERM the ints. */
int cfg_frag_encode_dim(const CfgFragment *f);
void cfg_frag_encode(const CfgFragment *f, const int *v, double *out);
/* "a power of two from 16 to 256", "one of \"pointer\", \"tensor_descriptor\"", ... (for messages;
 * perm_base is 1 for Lua, 0 for JSON). Returns snprintf's count. */
int cfg_frag_describe_domain(const CfgFragment *f, int perm_base, char *buf, size_t cap);

/* ---- targets and the known fields --------------------------------------------------------- */

typedef enum CfgTarget { CFG_TARGET_CPU, CFG_TARGET_CUDA, CFG_TARGET_COUNT } CfgTarget;
#define CFG_ON_CPU  (1u << CFG_TARGET_CPU)
#define CFG_ON_CUDA (1u << CFG_TARGET_CUDA)

const char *cfg_target_name(CfgTarget t); /* "cpu", "cuda" */
int cfg_target_from_name(const char *name, CfgTarget *out, Diag *d);

typedef struct CfgKnownField {
  const char *name;
  bool is_list;      /* one element per loop / tile / load ... */
  unsigned targets;  /* CFG_ON_CPU | CFG_ON_CUDA */
  bool has_standard; /* `standard` is the fragment (of each element, for a list) */
  CfgFragment standard;
  const char *doc; /* one line: what it changes in the generated code */
} CfgKnownField;

/* The table, in canonical field order (config_fields.def). */
const CfgKnownField *cfg_known_fields(int *count);
const CfgKnownField *cfg_known_field(const char *name); /* NULL when not a known field */
bool cfg_field_applies(const char *name, CfgTarget t);  /* user tunables apply everywhere */

/* ---- the space ------------------------------------------------------------------------------ */

typedef struct ConfigSpace ConfigSpace;

typedef struct CfgField {
  char name[CFG_NAME_MAX];
  bool is_list;
  bool tunable;       /* a user tunable (hl.register_tunable) */
  int rank;           /* canonical order: the known-field index; tunables after, by name */
  int count;          /* elements (1 for a scalar field) */
  CfgFragment *elems; /* count fragments */
  int offset, width;  /* first slot, number of slots */
  int first_unit;     /* unit index of elems[0] */
} CfgField;

typedef struct CfgUnit {
  int field, elem; /* which field, which element of it */
  int offset;      /* first slot */
  const CfgFragment *frag;
} CfgUnit;

ConfigSpace *cfgspace_new(CfgTarget target, Diag *d);
void cfgspace_free(ConfigSpace *s);
CfgTarget cfgspace_target(const ConfigSpace *s);

/* Builders. A known field that does not apply to the space's target is refused (DESIGN §3.4);
 * the deriving code should simply not add it. Fields land in canonical order whatever the order
 * of the calls; element idx of a list must be an existing element (replaced) or the next one. */
int cfgspace_add(ConfigSpace *s, const char *name, const CfgFragment *f, Diag *d);
int cfgspace_add_list(ConfigSpace *s, const char *name, const CfgFragment *elem, int n, Diag *d);
int cfgspace_set_element(ConfigSpace *s, const char *name, int idx, const CfgFragment *f, Diag *d);
/* A known field with its standard fragment (num_warps, num_stages, pid_type, l2_groupings[idx],
 * indexing[idx], range_unroll_factors[idx], ...); idx is ignored for a scalar field. */
int cfgspace_add_known(ConfigSpace *s, const char *name, int idx, Diag *d);
/* block_sizes[idx] (or another list named `field`): a power of two in [min, max]. */
int cfgspace_add_block_size(ConfigSpace *s, const char *field, int idx, int min, int max, int def,
                            Diag *d);
int cfgspace_add_loop_order(ConfigSpace *s, int idx, int ndims, Diag *d);
/* reduction_loops[idx] for a reduction of size_hint elements: chunk sizes 8 .. the largest power
 * of two below size_hint, or none (persistent: the whole row at once). The default is none when
 * size_hint <= persistent_max, else the largest chunk <= persistent_max. */
int cfgspace_add_reduction_loop(ConfigSpace *s, int idx, long long size_hint,
                                long long persistent_max, Diag *d);
int cfgspace_add_cpu_threads(ConfigSpace *s, int max_threads, int def, Diag *d);
/* hl.register_tunable(name, fragment): any identifier that is not a known field. */
int cfgspace_add_tunable(ConfigSpace *s, const char *name, const CfgFragment *f, Diag *d);
int cfgspace_add_tunable_list(ConfigSpace *s, const char *name, const CfgFragment *elem, int n,
                              Diag *d);

/* Constraints between fields, applied in registration order by cfgspace_normalize. With fix the
 * callback repairs cfg in place where it can; either way it returns HL_ERR with a Diag naming the
 * field when cfg breaks the constraint. `arg` and `field` are for the callback's own use and are
 * part of the fingerprint (ud is not). */
typedef struct CfgConstraint CfgConstraint;
typedef int (*CfgConstraintFn)(const ConfigSpace *s, int *cfg, bool fix, const CfgConstraint *c,
                               Diag *d);
struct CfgConstraint {
  char name[CFG_NAME_MAX];
  char field[CFG_NAME_MAX];
  long long arg;
  void *ud;
  CfgConstraintFn fn;
};
int cfgspace_add_constraint(ConfigSpace *s, const char *name, const char *field, long long arg,
                            CfgConstraintFn fn, void *ud, Diag *d);
/* num_warps * 32 <= max_threads (fix: halve num_warps). No-op without num_warps. */
int cfgspace_constrain_max_threads(ConfigSpace *s, int max_threads, Diag *d);
/* product of the list `field` <= cap (fix: halve the largest element above its minimum). */
int cfgspace_constrain_numel(ConfigSpace *s, const char *field, long long cap, Diag *d);
/* num_sm_multiplier and maxnreg only matter for persistent pid types: fix resets them to their
 * defaults otherwise, so configs that generate the same code compare equal. */
int cfgspace_constrain_persistent_only(ConfigSpace *s, Diag *d);
/* cuda: num_warps <= min(16, (bm/16) * (bn/16)) for the dot tile "M,N" (each a block slot "B3"
 * or a constant): the tensor cores' warp split. A repair only (fix halves num_warps; a checked
 * config over it stays valid: the lowering falls back). config_dot.c. */
int cfgspace_constrain_dot_warps(ConfigSpace *s, const char *mn, Diag *d);
/* wgmma = true repaired into a tile the lowering runs on wgmma (config_dot.c), else false.
 * mnk: "M,N,K" of the dot, each a block slot ("B2") or a constant. */
int cfgspace_constrain_dot_wgmma(ConfigSpace *s, const char *mnk, Diag *d);

/* Introspection. */
int cfgspace_slots(const ConfigSpace *s);
int cfgspace_field_count(const ConfigSpace *s);
const CfgField *cfgspace_field(const ConfigSpace *s, int i);
int cfgspace_find(const ConfigSpace *s, const char *name); /* field index or -1 */
int cfgspace_unit_count(const ConfigSpace *s);
CfgUnit cfgspace_unit(const ConfigSpace *s, int u);
int cfgspace_constraint_count(const ConfigSpace *s);
const CfgConstraint *cfgspace_constraint(const ConfigSpace *s, int i);
double cfgspace_cardinality(const ConfigSpace *s); /* product over units, before constraints */
/* Value of field[elem] (first slot), or fallback when the space has no such field/element:
 * what lowering calls, e.g. cfgspace_get(s, cfg, "num_warps", 0, 4). */
int cfgspace_get(const ConfigSpace *s, const int *cfg, const char *name, int elem, int fallback);
const char *cfgspace_get_enum(const ConfigSpace *s, const int *cfg, const char *name, int elem,
                              const char *fallback);

/* ---- configs ------------------------------------------------------------------------------ */

/* A growable list of configs, cfgspace_slots() ints each (populations, neighbour sets). */
typedef struct CfgList {
  int *v;
  int count, cap, slots;
} CfgList;
void cfglist_init(CfgList *l, const ConfigSpace *s);
int cfglist_push(CfgList *l, const int *cfg, Diag *d);
void cfglist_clear(CfgList *l);
void cfglist_free(CfgList *l);
static inline int *cfglist_at(const CfgList *l, int i) {
  return l->v + (size_t)i * l->slots;
}

/* Default and random configs come back normalized. Random retries up to 64 draws when the
 * constraints reject one. */
int cfgspace_default(const ConfigSpace *s, int *cfg, Diag *d);
int cfgspace_random(const ConfigSpace *s, CfgRng *r, int *cfg, Diag *d);
/* Appends to out the normalized, distinct neighbours of cfg (which must be normalized) other than
 * cfg: every one-unit move, plus the uniform moves of a list whose elements share one fragment
 * (every element set to the default or one of its neighbours, as Helion's ListOf). Neighbours
 * the constraints cannot repair are left out. */
int cfgspace_neighbours(const ConfigSpace *s, const int *cfg, int radius, CfgList *out, Diag *d);
/* Appends the moves that change two elements of list `field` at once (pattern search's block-size
 * pairs), normalized and distinct from cfg and from each other. */
int cfgspace_neighbours_pairs(const ConfigSpace *s, const int *cfg, const char *field, int radius,
                              CfgList *out, Diag *d);
/* Differential evolution: out = x with each unit replaced, with probability cr, by
 * mutate(a, b, c) (at least one unit is); x may be NULL (x = a). out is normalized (fix);
 * HL_ERR when the constraints cannot repair it. */
int cfgspace_mutate(const ConfigSpace *s, const int *x, const int *a, const int *b, const int *c,
                    double cr, CfgRng *r, int *out, Diag *d);
/* Uniform crossover: each unit from y with probability cr, else from x; normalized. */
int cfgspace_crossover(const ConfigSpace *s, const int *x, const int *y, double cr, CfgRng *r,
                       int *out, Diag *d);
/* Repair (fix) or check cfg: every unit into its domain, then every constraint (repeated until
 * stable). Check mode never writes cfg. */
int cfgspace_normalize(const ConfigSpace *s, int *cfg, bool fix, Diag *d);
int cfgspace_encode_dim(const ConfigSpace *s);
void cfgspace_encode(const ConfigSpace *s, const int *cfg, double *out);
bool cfgspace_equal(const ConfigSpace *s, const int *a, const int *b);
uint64_t cfgspace_hash(const ConfigSpace *s, const int *cfg);
/* Hash of the definition: target, fields, fragments (domains and defaults), constraints. */
uint64_t cfgspace_fingerprint(const ConfigSpace *s);

/* ---- search strategies (config_strategy.c) ------------------------------------------------ */

/* Ask/tell generators of candidate configs; the caller times them (share/doc/tuning.md).
 * Generation 0 is the default config then random ones up to `population`; after it:
 *   RANDOM   `population` new random configs per generation
 *   PATTERN  every neighbour of the `copies` best configs so far, radius 1, radius 2 after a
 *            generation that found nothing better; stops after a radius-2 generation without one
 *   DE       DE/rand/1/bin: per population member x, cfgspace_mutate(x, a, b, c, crossover) of
 *            three other random members; the trial replaces x when faster (selection)
 * RANDOM and DE stop after `patience` generations in a row without a better best (0: never);
 * every algorithm after max_generations generations past generation 0, or when it has nothing
 * new to propose. A config is never proposed twice (the strategy keeps every config told). */
typedef enum CfgAlgorithm { CFG_ALGO_RANDOM, CFG_ALGO_PATTERN, CFG_ALGO_DE } CfgAlgorithm;
typedef struct CfgStrategyParams {
  CfgAlgorithm algorithm;
  int population;      /* generation 0's size; DE's population; RANDOM's generation size */
  int copies;          /* PATTERN: starting points per generation */
  int max_generations; /* generations after generation 0 */
  int patience;        /* RANDOM, DE: see above */
  double crossover;    /* DE: probability that a unit comes from the mutant, in (0, 1] */
  uint64_t seed;
} CfgStrategyParams;
typedef struct CfgStrategy CfgStrategy;

const char *cfg_algorithm_name(CfgAlgorithm a); /* "random", "pattern", "de" */
int cfg_algorithm_from_name(const char *name, CfgAlgorithm *out, Diag *d);
CfgStrategyParams cfg_strategy_defaults(CfgAlgorithm a);
/* The space must outlive the strategy. NULL (and the Diag) on bad parameters. */
CfgStrategy *cfg_strategy_new(const ConfigSpace *s, const CfgStrategyParams *p, Diag *d);
void cfg_strategy_free(CfgStrategy *q);
/* Replaces out's contents with the next generation's candidates (normalized, never seen before);
 * an empty list means the search is over. Candidates not told before the next ask count as not
 * run (a budget cut a generation short). */
int cfg_strategy_ask(CfgStrategy *q, CfgList *out, Diag *d);
/* The time of candidate i (0-based) of the last generation: seconds, INFINITY when it failed. */
int cfg_strategy_tell(CfgStrategy *q, int i, double time, Diag *d);
int cfg_strategy_generation(const CfgStrategy *q); /* generations asked so far */
/* Best time told so far (INFINITY: none) and, when cfg is not NULL, its config. */
double cfg_strategy_best(const CfgStrategy *q, int *cfg);

/* ---- text --------------------------------------------------------------------------------- */

/* snprintf-style: write at most cap bytes (NUL included), return the full length. */
#define CFG_TEXT_MINIMAL 1u /* leave out fields equal to their defaults */
int cfgspace_to_lua(const ConfigSpace *s, const int *cfg, unsigned flags, char *buf, size_t cap);
int cfgspace_to_json(const ConfigSpace *s, const int *cfg, unsigned flags, char *buf, size_t cap);
/* One line per unit and constraint (what the workbench and the search-space log show). */
int cfgspace_describe(const ConfigSpace *s, char *buf, size_t cap);

/* Setting fields from key/value pairs (the Lua binding, JSON import). A value is an item tree:
 * a list field takes a LIST of element items (or one item, which sets every element); a
 * permutation is a LIST of INTs counted from index_base (1 from Lua, 0 from JSON). Returns HL_OK,
 * CFG_IGNORED (a known field that does not apply to this target, a Helion knob of other backends
 * such as epilogue_subtile, or an empty list / none for a known field this kernel lacks: the Diag
 * says so and cfg is untouched; Helion drops such keys for portability) or HL_ERR (unknown field,
 * with a did-you-mean; wrong kind; out of the domain; wrong list length). */
#define CFG_IGNORED 1
typedef enum CfgItemKind {
  CFG_ITEM_INT,
  CFG_ITEM_BOOL,
  CFG_ITEM_STR,
  CFG_ITEM_NONE,
  CFG_ITEM_LIST
} CfgItemKind;
typedef struct CfgItem {
  CfgItemKind kind;
  long long i;                 /* INT value, BOOL 0/1 */
  const char *s;               /* STR */
  const struct CfgItem *items; /* LIST */
  int n;
} CfgItem;
int cfgspace_set(const ConfigSpace *s, int *cfg, const char *field, const CfgItem *v,
                 int index_base, Diag *d);
int cfgspace_set_int(const ConfigSpace *s, int *cfg, const char *field, long long v, Diag *d);
int cfgspace_set_bool(const ConfigSpace *s, int *cfg, const char *field, bool v, Diag *d);
int cfgspace_set_none(const ConfigSpace *s, int *cfg, const char *field, Diag *d);
int cfgspace_set_enum(const ConfigSpace *s, int *cfg, const char *field, const char *v, Diag *d);
int cfgspace_set_list(const ConfigSpace *s, int *cfg, const char *field, const CfgItem *items,
                      int n, int index_base, Diag *d);
/* Helion's JSON Config ({"block_sizes": [64, 32], "num_warps": 4, ...}): starts from the
 * default, sets each key, ignores keys for other targets, then checks the constraints. */
int cfgspace_from_json(const ConfigSpace *s, const char *json, int *cfg, Diag *d);
/* The same for a config tuned for another shape of the kernel (nearest-shape fallback): numbers
 * outside their range are moved into it and the constraints repaired instead of refused. */
int cfgspace_from_json_clamped(const ConfigSpace *s, const char *json, int *cfg, Diag *d);

/* ---- a kernel's space, derived from its tile IR (config_derive.c) ------------------------- */

/* share/doc/config-space.md ("Deriving a kernel's space") lists which IR records give which
 * fields on each target, the default heuristic and the constraints. */
struct IrFunc;

typedef struct CfgDeriveOptions {
  int cpu_cores; /* cpu_threads runs from 0 (= all cores) to this; <= 0: CFG_DERIVE_CORES */
} CfgDeriveOptions;
#define CFG_DERIVE_CORES 64

/* The config space of kernel f for target "cpu" or "cuda", with the default heuristic's values as
 * the fragments' defaults and the tile-size constraints registered. On error *out is NULL and the
 * Diag says why (anchored at the kernel line of a bad hl.register_tunable fragment). */
int cfgspace_derive(const struct IrFunc *f, const char *target, ConfigSpace **out, Diag *d);
int cfgspace_derive_ex(const struct IrFunc *f, const char *target, const CfgDeriveOptions *o,
                       ConfigSpace **out, Diag *d);

/* The elements of one tile value stay <= cap. `tile` names its factors, joined by '*': "B<n>"
 * block_sizes[n + 1], "R<n>:<size>" reduction_loops[n + 1] (its chunk, or size when none =
 * persistent), or a constant: "B0*R0:1024", "4*B1". Fix halves the largest block size above its
 * minimum, then turns a persistent reduction into its largest chunk, then halves a chunk. */
int cfgspace_constrain_tile_numel(ConfigSpace *s, const char *tile, long long cap, Diag *d);

/* A user tunable's fragment text, as lua/helua/config.lua writes it (tostring(fragment)):
 * PowerOfTwoFragment(lo, hi[, default]), IntegerFragment(lo, hi[, default]),
 * EnumFragment({choice, ...}[, default]), BooleanFragment([default]). Defaults are lo, the first
 * choice, false. Enum choices are strings, numbers or booleans: `choices` holds their text
 * (strings unquoted, numbers as written, "true"/"false") and `choice_kind` says which ('s', 'n',
 * 'b'), so the Lua binding can hand back the original values. */
#define CFG_TUNABLE_TEXT_MAX 4096
typedef struct CfgTunableFragment {
  CfgFragment frag; /* frag.choices points at choices (ENUM) */
  const char *choices[CFG_ENUM_MAX];
  char choice_kind[CFG_ENUM_MAX];
  char text[CFG_TUNABLE_TEXT_MAX]; /* storage of the choices */
} CfgTunableFragment;
int cfg_tunable_parse(const char *text, CfgTunableFragment *out, Diag *d);

#endif
