/* Pass "bind_config": the Config resolved against the kernel (defaults filled in, every value
 * checked), and the "lowered" stage text: what each block-size symbol, reduction dim and loop
 * became, above the decomposed tile IR. Part of src/lower.
 *
 * The tile IR keeps its symbols (B0, R0): the emitter needs to know which dims are tiles (their
 * last tile may be partial) and which are whole dims, which plain numbers would lose. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "lower/lower_internal.h"

typedef struct Text {
  char *s;
  size_t len, cap;
  bool oom;
} Text;

static void put(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(Text *t, const char *fmt, ...) {
  if (t->oom) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (!mem_reserve((void **)&t->s, &t->cap, t->len + (size_t)n + 1, 1024)) {
    t->oom = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

static const char *dim_name(const IrFunc *f, const IrOp *op, int d, char *buf, size_t cap) {
  return ir_value_str(f, op->body->args[d], buf, cap);
}

/* Programs of the top-level nests when every bound is a constant, else -1. */
static int64_t static_grid(const LowerCtx *c, const IrLoopInfo *loops, int n) {
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    if (loops[i].depth != 0) continue;
    int64_t p = 1;
    for (int d = 0; d < loops[i].ndims; d++) {
      if (loops[i].extent[d] < 0) return -1;
      int64_t b =
          loops[i].kind == IR_OP_TILE ? lower_dim_size(&c->bind, c->ir, loops[i].block[d]) : 1;
      p *= (loops[i].extent[d] + b - 1) / b;
    }
    total += p;
  }
  return total;
}

static void header(LowerCtx *c, Text *t) {
  const IrFunc *f = c->ir;
  const LowerBinding *b = &c->bind;
  put(t,
      c->target == LOWER_TARGET_CUDA ? "# lowered for CUDA (sm_90a)\n" : "# lowered for the CPU\n");
  for (int i = 0; i < f->nslots; i++) {
    const IrBlockSlot *s = &f->slots[i];
    put(t, "# block B%d = %lld", i, (long long)b->block[i]);
    if (s->kind == IR_SLOT_REGISTERED)
      put(t, "  (hl.register_block_size %lld..%lld)", (long long)s->min, (long long)s->max);
    else if (s->extent > 0)
      put(t, "  (extent %lld: %lld tiles, the last holds %lld)", (long long)s->extent,
          (long long)((s->extent + b->block[i] - 1) / b->block[i]),
          (long long)(s->extent - (s->extent - 1) / b->block[i] * b->block[i]));
    put(t, "\n");
  }
  for (int i = 0; i < f->nrdims; i++) {
    int64_t e = f->rdims[i].extent, ch = b->rchunk[i];
    if (ch == 0)
      put(t, "# rdim R%d : extent %lld, persistent (whole dim at once)\n", i, (long long)e);
    else
      put(t, "# rdim R%d : extent %lld, looped in chunks of %lld (%lld chunks)\n", i, (long long)e,
          (long long)ch, (long long)((e + ch - 1) / ch));
  }
  IrLoopInfo loops[LOWER_MAX_LIST];
  int n = ir_func_loops(f, loops, LOWER_MAX_LIST);
  for (int i = 0; i < n && i < LOWER_MAX_LIST; i++) {
    char nm[96];
    put(t, "# loop %d: %s over", i + c->cfg->base, ir_op_info(loops[i].kind)->name);
    for (int k = 0; k < loops[i].ndims; k++)
      put(t, " %s", dim_name(f, loops[i].op, b->order[i][k], nm, sizeof nm));
    put(t, "%s", loops[i].ndims > 1 ? " (outermost first)" : "");
    put(t, ", %s", loops[i].depth == 0 ? "the program grid" : "sequential");
    if (b->unroll[i] > 0) put(t, ", unrolled x%d", b->unroll[i]);
    put(t, "\n");
  }
  for (int i = 0; i < f->ntunables; i++)
    put(t, "# tunable %s = %g\n", f->tunables[i].name, b->tunable[i]);
  int64_t g = static_grid(c, loops, n < LOWER_MAX_LIST ? n : LOWER_MAX_LIST);
  c->art->grid = g;
  if (g >= 0)
    put(t, "# programs: %lld", (long long)g);
  else
    put(t, "# programs: computed at launch");
  if (b->target == LOWER_TARGET_CUDA) {
    put(t, ", %d threads each (num_warps %d), pid_type %s", 32 * b->num_warps, b->num_warps,
        lower_pid_type_names[b->pid_type]);
    if (b->pid_type >= LOWER_PID_PERSISTENT_BLOCKED)
      put(t, " on %d SMs x %d", b->sm_count, b->num_sm_multiplier);
    if (b->maxnreg) put(t, ", maxnreg %d", b->maxnreg);
    put(t, "\n");
    return;
  }
  if (b->vector_width)
    put(t, ", vector width %d", b->vector_width);
  else
    put(t, ", vector width: the compiler's choice");
  if (b->threads)
    put(t, ", threads: at most %d\n", b->threads);
  else
    put(t, ", threads: all cores\n");
}

int lower_pass_bind_config(LowerCtx *c, Diag *d) {
  if (lower_config_bind_for(c->input, c->cfg, c->target, &c->bind, d)) return HL_ERR;
  c->art->bind = c->bind;
  c->art->threads = c->bind.threads;
  Text t = {0};
  header(c, &t);
  char *ir = NULL;
  size_t len;
  if (ir_print(c->ir, 0, &ir, &len, d)) {
    mem_free(t.s);
    return HL_ERR;
  }
  put(&t, "lowered %s", ir); /* "lowered kernel softmax": this is not the traced IR */
  mem_free(ir);
  if (t.oom) {
    mem_free(t.s);
    return diag_set(d, "out of memory while printing the lowered IR");
  }
  c->art->lowered = t.s;
  return HL_OK;
}
