/* The source line of each line of the llvm, asm and ptx texts, written as a trailing comment
 * ("; add.lua:11", "# add.lua:11", "// add.lua:11") from the locations lower_dbg.c recorded.
 * Part of src/lower (the text of the llvm / asm / ptx stages); pure text, no LLVM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/textbuf.h"
#include "lower/lower.h"

typedef TextBuf Out;

static void put(Out *o, const char *s, size_t n) {
  textbuf_add(o, s, n, 4096);
}

/* One line's end: the line is [s, e), e at '\n' or the string's end. */
static const char *line_end(const char *s) {
  const char *e = strchr(s, '\n');
  return e ? e : s + strlen(s);
}

static bool starts(const char *s, const char *e, const char *word) {
  size_t n = strlen(word);
  return (size_t)(e - s) >= n && memcmp(s, word, n) == 0;
}

/* Where word starts within [s, e), or NULL (never past the line: the text can be megabytes). */
static const char *within(const char *s, const char *e, const char *word) {
  return memmem(s, (size_t)(e - s), word, strlen(word));
}

/* The number right after the first `key` within [s, e), or -1. */
static long number_after(const char *s, const char *e, const char *key) {
  const char *p = within(s, e, key);
  if (!p) return -1;
  p += strlen(key);
  if (p >= e || *p < '0' || *p > '9') return -1;
  long v = 0;
  for (; p < e && *p >= '0' && *p <= '9'; p++)
    v = v * 10 + (*p - '0');
  return v;
}

/* The last double-quoted string within [s, e) (a file name), its base name copied to out. */
static bool last_quoted(const char *s, const char *e, char *out, size_t cap) {
  const char *q0 = NULL, *q1 = NULL;
  for (const char *p = s; p < e; p++) {
    if (*p != '"') continue;
    const char *c = memchr(p + 1, '"', (size_t)(e - p - 1));
    if (!c) break;
    if (c > p + 1) q0 = p + 1, q1 = c;
    p = c;
  }
  if (!q0) return false;
  for (const char *p = q0; p < q1; p++)
    if (*p == '/') q0 = p + 1;
  snprintf(out, cap, "%.*s", (int)(q1 - q0), q0);
  return out[0] != '\0';
}

/* ---- LLVM IR: "!dbg !N" with "!N = !DILocation(line: L, scope: !S)" ----------------------- */

typedef struct MdTable {
  long *line;  /* DILocation: its line; else -1 */
  long *owner; /* DILocation: its scope; a node with a "file:" (DISubprogram): that file */
  char (*name)[64]; /* DIFile: its base name */
  long n;
} MdTable;

static long md_id(const char *s, const char *e) {
  if (s >= e || *s != '!') return -1;
  return number_after(s, e, "!");
}

static bool md_read(const char *text, MdTable *t) {
  long max = -1;
  for (const char *s = text; *s;) {
    const char *e = line_end(s);
    long id = md_id(s, e);
    if (id > max && id < 10000000) max = id;
    s = *e ? e + 1 : e;
  }
  t->n = max + 1;
  if (t->n == 0) return true;
  t->line = mem_alloc(sizeof *t->line * (size_t)t->n);
  t->owner = mem_alloc(sizeof *t->owner * (size_t)t->n);
  t->name = mem_calloc((size_t)t->n, sizeof *t->name);
  if (!t->line || !t->owner || !t->name) return false;
  for (long i = 0; i < t->n; i++)
    t->line[i] = t->owner[i] = -1;
  for (const char *s = text; *s;) {
    const char *e = line_end(s);
    long id = md_id(s, e);
    if (id >= 0 && id < t->n) {
      const char *eq = within(s, e, " = ");
      if (eq) {
        if (within(eq, e, "!DILocation(")) {
          t->line[id] = number_after(eq, e, "line: ");
          t->owner[id] = number_after(eq, e, "scope: !");
        } else if (within(eq, e, "!DIFile(")) {
          last_quoted(eq, e, t->name[id], sizeof t->name[id]);
        } else {
          t->owner[id] = number_after(eq, e, "file: !");
        }
      }
    }
    s = *e ? e + 1 : e;
  }
  return true;
}

/* The base name of the file a DILocation's scope names, or NULL. */
static const char *md_file(const MdTable *t, long loc) {
  long scope = t->owner[loc];
  if (scope < 0 || scope >= t->n) return NULL;
  long file = t->owner[scope];
  if (file < 0 || file >= t->n || !t->name[file][0]) return NULL;
  return t->name[file];
}

static void annotate_llvm(const char *text, Out *o, const MdTable *t) {
  char note[96];
  for (const char *s = text; *s;) {
    const char *e = line_end(s);
    put(o, s, (size_t)(e - s));
    long loc = number_after(s, e, "!dbg !");
    if (loc >= 0 && loc < t->n && t->line[loc] > 0 && !starts(s, e, "define ")) {
      const char *file = md_file(t, loc);
      if (file) put(o, note, (size_t)snprintf(note, sizeof note, "  ; %s:%ld", file, t->line[loc]));
    }
    if (*e) put(o, "\n", 1);
    s = *e ? e + 1 : e;
  }
}

/* ---- assembly and PTX: ".file N ..." and ".loc N LINE COL" before the instructions ----------- */

#define MAX_FILES 64

static const char *skip_space(const char *s, const char *e) {
  while (s < e && (*s == ' ' || *s == '\t')) s++;
  return s;
}

/* An instruction line (what gets a note): not a directive, label, comment or brace. */
static bool is_instruction(const char *s, const char *e, LowerTextKind kind) {
  s = skip_space(s, e);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
  if (s >= e || *s == '.' || *s == '#' || *s == '/' || *s == '{' || *s == '}' || *s == ';') return false;
  if (e[-1] == ':') return false; /* a label */
  if (kind == LOWER_TEXT_PTX && !memchr(s, ';', (size_t)(e - s))) return false;
  return true;
}

static void annotate_asm(const char *text, LowerTextKind kind, Out *o) {
  char files[MAX_FILES][64];
  memset(files, 0, sizeof files);
  /* the .file table first: NVPTX writes it at the end of the PTX */
  for (const char *s = text; *s;) {
    const char *e = line_end(s);
    const char *t = skip_space(s, e);
    if (starts(t, e, ".file") && (t + 5 < e && (t[5] == ' ' || t[5] == '\t'))) {
      const char *p = skip_space(t + 5, e);
      long n = (p < e && *p >= '0' && *p <= '9') ? strtol(p, NULL, 10) : -1;
      if (n >= 0 && n < MAX_FILES) last_quoted(p, e, files[n], sizeof files[n]);
    }
    s = *e ? e + 1 : e;
  }
  long cur_file = -1, cur_line = 0;
  const char *mark = kind == LOWER_TEXT_PTX ? "//" : "#";
  char note[96];
  for (const char *s = text; *s;) {
    const char *e = line_end(s);
    const char *t = skip_space(s, e);
    if (starts(t, e, ".loc") && t + 4 < e && (t[4] == ' ' || t[4] == '\t')) {
      char *q;
      cur_file = strtol(t + 4, &q, 10);
      cur_line = (q && q < e) ? strtol(q, NULL, 10) : 0;
    }
    put(o, s, (size_t)(e - s));
    if (cur_line > 0 && cur_file >= 0 && cur_file < MAX_FILES && files[cur_file][0] &&
        is_instruction(s, e, kind))
      put(o, note, (size_t)snprintf(note, sizeof note, "  %s %s:%ld", mark, files[cur_file], cur_line));
    if (*e) put(o, "\n", 1);
    s = *e ? e + 1 : e;
  }
}

int lower_annotate_lines(const char *text, LowerTextKind kind, char **out, Diag *d) {
  *out = NULL;
  Out o = {0};
  put(&o, "", 0);
  if (kind == LOWER_TEXT_LLVM) {
    MdTable t = {0};
    if (md_read(text, &t))
      annotate_llvm(text, &o, &t);
    else
      o.oom = true;
    mem_free(t.line);
    mem_free(t.owner);
    mem_free(t.name);
  } else {
    annotate_asm(text, kind, &o);
  }
  if (o.oom) {
    mem_free(o.p);
    return diag_set(d, "out of memory while annotating the code's source lines");
  }
  *out = o.p;
  return HL_OK;
}
