/* The lowering pipeline: one list of named passes, run in order, timed, checked after each one,
 * and dumped on request (HELUA_DUMP_IR=<pass>[,<pass>...] or "all" prints the stage after that
 * pass to stderr). Part of src/lower. Its product is the artifact record: every stage's text,
 * the object code, timings and launch info. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/flags.h"
#include "base/mem.h"
#include "lower/lower_internal.h"

typedef struct LowerPass {
  const char *name;
  int (*run)(LowerCtx *c, Diag *d);
} LowerPass;

static const LowerPass lower_passes[LOWER_NPASSES] = {
    {"decompose", lower_pass_decompose},     /* tile IR → tile IR */
    {"bind_config", lower_pass_bind_config}, /* Config → binding + "lowered" text */
    {"plan", lower_pass_plan},               /* scalar / lazy / buffer per value */
    {"emit_llvm", lower_pass_emit_llvm},     /* → LLVM IR (verified) */
    {"optimize", lower_pass_optimize},       /* O3 + vectorizers → "llvm" text */
    {"codegen", lower_pass_codegen},         /* → x86 object code */
};

const char *lower_pass_name(LowerPassId p) {
  return (unsigned)p < LOWER_NPASSES ? lower_passes[p].name : "?";
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static bool dump_wanted(const char *pass) {
  const char *v = flags_get("HELUA_DUMP_IR");
  if (!v) return false;
  size_t n = strlen(pass);
  for (const char *p = v; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if ((len == n && strncmp(p, pass, n) == 0) || (len == 3 && strncmp(p, "all", 3) == 0))
      return true;
    if (!e) break;
    p = e + 1;
  }
  return false;
}

static const char *plan_kind_name(int k) {
  static const char *names[] = {"-", "scalar", "lazy", "buffer", "registers"};
  return k >= 0 && k < 5 ? names[k] : "?";
}

static void dump_plan(const LowerCtx *c) {
  const IrFunc *f = c->ir;
  for (int i = 0; i < f->nvalues; i++) {
    const IrValue *v = ir_value(f, i);
    if (v->kind != IR_VAL_DATA || v->def_kind != IR_DEF_RESULT) continue;
    char n[96], t[256];
    fprintf(stderr, "  %-12s %-28s %s%s\n", ir_value_str(f, i, n, sizeof n),
            ir_type_str(v, t, sizeof t), plan_kind_name(c->plan->kind[i]),
            c->plan->rloop[i] >= 0           ? " (chunked)"
            : c->plan->inplace[i] != IR_NONE ? " (in place)"
            : c->plan->regv[i] > 0           ? " (register row)"
                                             : "");
  }
}

static void dump(const LowerCtx *c, LowerPassId p) {
  fprintf(stderr, "=== helua: %s after %s ===\n", c->input->name, lower_pass_name(p));
  char *text = NULL;
  size_t len;
  switch (p) {
  case LOWER_PASS_DECOMPOSE:
    if (ir_print(c->ir, 0, &text, &len, NULL) == HL_OK) fputs(text, stderr);
    mem_free(text);
    break;
  case LOWER_PASS_BIND_CONFIG:
    fputs(c->art->lowered, stderr);
    break;
  case LOWER_PASS_PLAN:
    dump_plan(c);
    break;
  case LOWER_PASS_EMIT_LLVM: {
    char *s = LLVMPrintModuleToString(c->mod);
    fputs(s, stderr);
    LLVMDisposeMessage(s);
    break;
  }
  case LOWER_PASS_OPTIMIZE:
    fputs(c->art->llvm, stderr);
    break;
  default:
    if (c->art->ptx)
      fputs(c->art->ptx, stderr);
    else
      fprintf(stderr, "x86 object code: %zu bytes (see the \"asm\" stage)\n", c->art->object_len);
  }
  fflush(stderr);
}

/* Checks after a pass: the tile IR verifies, the LLVM module still verifies. */
static int check_after(LowerCtx *c, LowerPassId p, Diag *d) {
  if (p <= LOWER_PASS_PLAN) {
    if (ir_verify(c->ir, IR_PHASE_TRACED, d))
      return diag_prefix(d, "internal: after lowering pass %s: ", lower_pass_name(p));
    return HL_OK;
  }
#ifndef NDEBUG
  if (p == LOWER_PASS_OPTIMIZE) {
    char *msg = NULL;
    if (LLVMVerifyModule(c->mod, LLVMReturnStatusAction, &msg)) {
      diag_set(d, "internal: LLVM IR does not verify after %s: %.800s", lower_pass_name(p),
               msg ? msg : "");
      LLVMDisposeMessage(msg);
      return HL_ERR;
    }
    LLVMDisposeMessage(msg);
  }
#endif
  return HL_OK;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s);
  char *r = mem_alloc(n + 1);
  if (r) memcpy(r, s, n + 1);
  return r;
}

static int fill_args(LowerArtifact *a, const IrFunc *f, Diag *d) {
  a->nargs = f->nargs;
  a->args = mem_calloc((size_t)(f->nargs > 0 ? f->nargs : 1), sizeof *a->args);
  if (!a->args) return diag_set(d, "out of memory while lowering");
  for (int i = 0; i < f->nargs; i++) {
    const IrValue *v = ir_value(f, f->args[i]);
    LowerArgSig *s = &a->args[i];
    snprintf(s->name, sizeof s->name, "%s", v->name ? v->name : "");
    s->is_tensor = v->kind == IR_VAL_TENSOR;
    s->dtype = v->dtype;
    s->rank = s->is_tensor ? v->shape.rank : 0;
    int64_t bytes = s->is_tensor ? (int64_t)tensor_dtype_size(v->dtype) : 0;
    for (int k = 0; k < s->rank; k++)
      bytes *= v->shape.dims[k].v;
    a->work_bytes += bytes;
    for (int k = 0; k < s->rank; k++) {
      s->sizes[k] = v->shape.dims[k].v;
      s->strides[k] = v->strides[k];
    }
  }
  return HL_OK;
}

/* The functions' symbol prefix: "helua_softmax". Every kernel has its own JIT, so names need
 * not differ between compiles, and the same kernel gives the same text every time. */
static void make_symbol(LowerCtx *c) {
  char clean[64];
  size_t k = 0;
  for (const char *p = c->input->name ? c->input->name : "kernel"; *p && k < sizeof clean - 1; p++)
    clean[k++] =
        (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ? *p : '_';
  clean[k] = '\0';
  snprintf(c->sym, sizeof c->sym, "helua_%s", clean);
}

int lower_artifact_threads(const LowerArtifact *a) {
  if (a->threads > 0) return a->threads;
  return a->work_bytes < ((int64_t)256 << 10) ? 1 : 0;
}

void lower_artifact_free(LowerArtifact *a) {
  if (!a) return;
  mem_free(a->name);
  mem_free(a->ir);
  mem_free(a->lowered);
  mem_free(a->llvm);
  mem_free(a->asm_text);
  mem_free(a->object);
  mem_free(a->ptx);
  mem_free(a->args);
  mem_free(a);
}

int lower_compile(const IrFunc *f, const LowerConfig *cfg, LowerTarget target, LowerArtifact **out,
                  Diag *d) {
  double t0 = now_ms();
  LowerCtx c = {.input = f, .cfg = cfg, .target = target};
  LowerArtifact *a = mem_calloc(1, sizeof *a);
  if (!a) return diag_set(d, "out of memory while lowering");
  c.art = a;
  a->grid = -1;
  a->target = target;
  size_t len;
  int rc = HL_ERR;
  a->name = dup_str(f->name ? f->name : "kernel");
  if (!a->name) {
    diag_set(d, "out of memory while lowering");
    goto out;
  }
  if (ir_print(f, 0, &a->ir, &len, d) || fill_args(a, f, d)) goto out;
  if (target == LOWER_TARGET_CUDA) {
    if (lower_nvptx_target_machine(&c.tm, d)) goto out;
    snprintf(a->cpu, sizeof a->cpu, "sm_90a");
  } else if (lower_x86_target_machine(&c.tm, a->cpu, sizeof a->cpu, d)) {
    goto out;
  }
  make_symbol(&c);
  snprintf(a->program_sym, sizeof a->program_sym, "%s_program", c.sym);
  snprintf(a->grid_sym, sizeof a->grid_sym, "%s_grid", c.sym);
  for (int p = 0; p < LOWER_NPASSES; p++) {
    double ts = now_ms();
    if (lower_passes[p].run(&c, d)) {
      if (p > LOWER_PASS_BIND_CONFIG)
        diag_prefix(d, "lowering %s (pass %s): ", f->name, lower_passes[p].name);
      goto out;
    }
    a->ms[p] = now_ms() - ts;
    if (check_after(&c, (LowerPassId)p, d)) goto out;
    if (dump_wanted(lower_passes[p].name)) dump(&c, (LowerPassId)p);
  }
  rc = HL_OK;
out:
  if (c.mod) LLVMDisposeModule(c.mod);
  if (c.llctx) LLVMContextDispose(c.llctx);
  if (c.tm) LLVMDisposeTargetMachine(c.tm);
  lower_plan_free(c.plan);
  ir_func_free(c.ir);
  a->total_ms = now_ms() - t0;
  if (rc == HL_OK)
    *out = a;
  else
    lower_artifact_free(a);
  return rc;
}
