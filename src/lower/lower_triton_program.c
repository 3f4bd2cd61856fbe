/* The Triton renderer's program grid and module: which program runs which tile (flat, l2-grouped,
 * xyz, persistent), the kernel's signature, the header comment and the host function that launches
 * it. Part of src/lower (the "triton" stage; share/doc/triton.md). */
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "lower/lower_triton_internal.h"

#define E 1024

/* ---- the program grid -------------------------------------------------------------------------
 */

typedef struct Nest {
  const IrOp *op;
  int64_t count[IR_MAX_RANK]; /* programs along each dim */
  int64_t programs;
} Nest;

static int nest_counts(Tt *t, Nest *n) {
  const IrOp *op = n->op;
  n->programs = 1;
  if (op->body->nargs > op->attrs->ndims)
    return tt_fail(t, op, "a top-level loop carries values (give it its own nest)");
  for (int k = 0; k < op->attrs->ndims; k++) {
    int64_t b, e;
    if (!tt_fold_int(t, op->args[2 * k], &b) || !tt_fold_int(t, op->args[2 * k + 1], &e))
      return tt_fail(t, op,
                     "the bounds of a top-level loop depend on scalar arguments; the "
                     "triton stage needs them fixed (hl.specialize the scalar)");
    int64_t ext = e > b ? e - b : 0;
    if (op->kind == IR_OP_TILE) {
      if (tt_check_block(t, op, k)) return HL_ERR;
      int64_t bs = tt_block_value(t, op->attrs->block[k]);
      n->count[k] = (ext + bs - 1) / bs;
    } else {
      n->count[k] = ext;
    }
    n->programs *= n->count[k];
  }
  return HL_OK;
}

/* pid_<id> for every dim of nest n from the program number `pid` (a Python expression). */
static int nest_program(Tt *t, const Nest *n, const char *pid, bool xyz) {
  const IrOp *op = n->op;
  int nd = op->attrs->ndims;
  Knobs k = tt_knobs_of(t, op);
  int perm[IR_MAX_RANK], ids[IR_MAX_RANK], saved[IR_MAX_RANK];
  tt_order_of(t, op, k, perm);
  bool tile = op->kind == IR_OP_TILE;
  bool flat = k.multi >= 0 && cfgspace_get(t->s, t->cfg, "flatten_loops", k.multi, 0);
  int l2 = k.l2 >= 0 && !flat ? cfgspace_get(t->s, t->cfg, "l2_groupings", k.l2, 1) : 1;
  char pids[IR_MAX_RANK][E];
  int base = t->tmp++;
  if (xyz && !flat) {
    for (int j = nd - 1; j >= 0; j--)
      snprintf(pids[perm[j]], E, "tl.program_id(%d)", nd - 1 - j);
  } else if (l2 > 1 && nd >= 2) {
    int a = perm[nd - 2], b = perm[nd - 1];
    long long ca = (long long)n->count[a], cb = (long long)n->count[b];
    const char *inner = pid;
    char ib[E];
    if (nd > 2) {
      tt_stmt(t, op->loc, "inner_%d = %s %% %lld", base, pid, ca * cb);
      snprintf(ib, sizeof ib, "inner_%d", base);
      inner = ib;
    }
    tt_stmt(t, op->loc, "group_%d = %s // %lld", base, inner, (long long)l2 * cb);
    tt_stmt(t, op->loc, "first_%d = group_%d * %d", base, base, l2);
    tt_stmt(t, op->loc, "group_size_%d = tl.minimum(%lld - first_%d, %d)", base, ca, base, l2);
    if (snprintf(pids[a], E, "first_%d + (%s %% %lld) %% group_size_%d", base, inner,
                 (long long)l2 * cb, base) >= E ||
        snprintf(pids[b], E, "(%s %% %lld) // group_size_%d", inner, (long long)l2 * cb, base) >= E)
      return tt_fail(t, op, "a program id expression is too long to render");
    long long stride = ca * cb;
    for (int j = nd - 3; j >= 0; j--) {
      int d = perm[j];
      snprintf(pids[d], E, "(%s // %lld) %% %lld", pid, stride, (long long)n->count[d]);
      stride *= n->count[d];
    }
  } else {
    long long stride = 1;
    for (int j = nd - 1; j >= 0; j--) {
      int d = perm[j];
      if (nd == 1)
        snprintf(pids[d], E, "%s", pid);
      else if (n->count[d] == 1)
        snprintf(pids[d], E, "0");
      else if (j == 0 && stride == 1)
        snprintf(pids[d], E, "%s", pid);
      else if (j == 0)
        snprintf(pids[d], E, "%s // %lld", pid, stride);
      else if (stride == 1)
        snprintf(pids[d], E, "%s %% %lld", pid, (long long)n->count[d]);
      else
        snprintf(pids[d], E, "(%s // %lld) %% %lld", pid, stride, (long long)n->count[d]);
      stride *= n->count[d];
    }
  }
  for (int d = 0; d < nd; d++) {
    if (tile) {
      ids[d] = tt_open_tdim(t, op, d, &saved[d]);
      if (ids[d] < 0) return HL_ERR;
      const TtTdim *x = &t->tdims[ids[d]];
      tt_stmt(t, op->loc, "pid_%d = %s", ids[d], pids[d]);
      if (strcmp(x->begin, "0") == 0)
        tt_stmt(t, op->loc, "offset_%d = pid_%d * %s", ids[d], ids[d], x->block);
      else
        tt_stmt(t, op->loc, "offset_%d = %s + pid_%d * %s", ids[d], x->begin, ids[d], x->block);
      tt_tdim_lanes(t, op->loc, ids[d]);
    } else {
      tt_stmt(t, op->loc, "%s = %s + %s", t->name[op->body->args[d]], t->name[op->args[2 * d]],
              pids[d]);
    }
  }
  if (tt_emit_region(t, op->body)) return HL_ERR;
  if (tile)
    for (int d = nd - 1; d >= 0; d--)
      tt_close_tdim(t, op, d, saved[d]);
  return HL_OK;
}

static int count_nests(const IrFunc *f) {
  int n = 0;
  for (const IrOp *op = f->body->first; op; op = op->next)
    n += op->kind == IR_OP_TILE || op->kind == IR_OP_GRID;
  return n;
}

/* The kernel body: host scalars, whole reduction dims' lanes, then the program dispatch. */
static int emit_programs(Tt *t, Nest *nests, int nn, const char *pid_type, bool xyz,
                         int64_t total) {
  const IrFunc *f = t->f;
  for (const IrOp *op = f->body->first; op; op = op->next)
    if (op->kind != IR_OP_TILE && op->kind != IR_OP_GRID && tt_emit_op(t, op)) return HL_ERR;
  for (int n = 0; n < f->nrdims; n++) {
    if (t->rlooped[n]) continue;
    tt_stmt(t, f->rdims[n].loc, "rindex_%d = tl.arange(0, _RDIM_SIZE_%d)", n, n);
    if (t->rsize[n] != f->rdims[n].extent)
      tt_stmt(t, f->rdims[n].loc, "rmask_%d = rindex_%d < %lld", n, n,
              (long long)f->rdims[n].extent);
  }
  IrLoc loc = nests[0].op->loc;
  const char *pid = "pid";
  if (strncmp(pid_type, "persistent", 10) == 0) {
    if (strcmp(pid_type, "persistent_blocked") == 0) {
      tt_stmt(t, loc, "num_per_program = tl.cdiv(%lld, tl.num_programs(0))", (long long)total);
      tt_stmt(t, loc, "first_pid = tl.program_id(0) * num_per_program");
      tt_stmt(t, loc,
              "for pid in tl.range(first_pid, tl.minimum(first_pid + num_per_program, %lld)):",
              (long long)total);
    } else {
      tt_stmt(t, loc,
              "for pid in tl.range(tl.program_id(0), %lld, tl.num_programs(0)):", (long long)total);
    }
    t->indent++;
  } else if (!xyz) {
    tt_stmt(t, loc, "pid = tl.program_id(0)");
  }
  int64_t first = 0;
  for (int i = 0; i < nn; i++) {
    const Nest *n = &nests[i];
    char local[64];
    if (nn > 1) {
      if (i == 0)
        tt_stmt(t, n->op->loc, "if pid < %lld:", (long long)n->programs);
      else if (i < nn - 1)
        tt_stmt(t, n->op->loc, "elif pid < %lld:", (long long)(first + n->programs));
      else
        tt_stmt(t, n->op->loc, "else:");
      t->indent++;
      snprintf(local, sizeof local, "pid_nest_%d", i);
      tt_stmt(t, n->op->loc, "pid_nest_%d = pid - %lld", i, (long long)first);
    } else {
      snprintf(local, sizeof local, "%s", pid);
    }
    if (nest_program(t, n, local, xyz)) return HL_ERR;
    if (nn > 1) t->indent--;
    first += n->programs;
  }
  return HL_OK;
}

/* ---- the module -------------------------------------------------------------------------------
 */

/* maxnreg as launched: an SM has 65536 registers, so num_warps * 32 threads get at most
 * 65536 / threads each (a larger cap cannot launch: H100, num_warps = 32 with maxnreg = 128). */
static int tt_maxnreg(Tt *t) {
  int nreg = cfgspace_get(t->s, t->cfg, "maxnreg", 0, CFG_NONE);
  int warps = cfgspace_get(t->s, t->cfg, "num_warps", 0, 4);
  if (nreg == CFG_NONE || warps < 1) return nreg;
  int most = 65536 / (warps * 32);
  return nreg > most ? most : nreg;
}

static void header(Tt *t) {
  const IrFunc *f = t->f;
  char cfgtext[4096];
  cfgspace_to_lua(t->s, t->cfg, 0, cfgtext, sizeof cfgtext);
  tt_printf(t, "# Triton code for kernel %s (helua's \"triton\" stage) with\n# %s\n", f->name,
            cfgtext);
  tt_printf(t,
            "# %s(...) takes the kernel's arguments in order, outputs included (the caller "
            "allocates them),\n# as CUDA tensors of the shapes, strides and dtypes below, and "
            "launches _helua_%s.\n",
            f->name, f->name);
  bool td = false;
  for (int i = 0; i < 64 && !td; i++) {
    const char *p = cfgspace_get_enum(t->s, t->cfg, "indexing", i, NULL);
    const char *q = cfgspace_get_enum(t->s, t->cfg, "atomic_indexing", i, NULL);
    if (!p && !q) break;
    td = (p && strcmp(p, "tensor_descriptor") == 0) || (q && strcmp(q, "tensor_descriptor") == 0);
  }
  if (td)
    tt_put(t, "# indexing = \"tensor_descriptor\" is rendered as pointer indexing (tl.load / "
              "tl.store with offsets).\n");
  tt_put(t, t->notes);
  for (int n = 0; n < f->nrdims; n++)
    if (t->rwhole[n])
      tt_printf(t,
                "# reduction_loops[%d] = %d: R%d is held whole (its values reach a dot, a "
                "loop, a view or an arg-reduction, which the chunk loops do not recompute).\n",
                n + 1, cfgspace_get(t->s, t->cfg, "reduction_loops", n, 0), n);
  int nreg = cfgspace_get(t->s, t->cfg, "maxnreg", 0, CFG_NONE);
  if (nreg != CFG_NONE && tt_maxnreg(t) != nreg)
    tt_printf(t,
              "# maxnreg = %d is launched as %d: %d warps of 32 threads share an SM's 65536 "
              "registers.\n",
              nreg, tt_maxnreg(t), cfgspace_get(t->s, t->cfg, "num_warps", 0, 4));
  tt_put(t, "import torch\nimport triton\nimport triton.language as tl\n");
  if (t->libdevice) tt_put(t, "from triton.language.extra import libdevice\n");
  tt_put(t, "\n\n");
}

static void params(Tt *t, bool constexprs, char *buf, size_t cap) {
  const IrFunc *f = t->f;
  size_t n = 0;
  buf[0] = '\0';
  for (int i = 0; i < f->nargs; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", t->name[f->args[i]]);
  for (int i = 0; i < f->nslots; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s_BLOCK_SIZE_%d%s", n ? ", " : "", i,
                          constexprs ? ": tl.constexpr" : "");
  for (int i = 0; i < f->nrdims; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%s_%d%s", n ? ", " : "",
                          t->rlooped[i] ? "_REDUCTION_BLOCK" : "_RDIM_SIZE", i,
                          constexprs ? ": tl.constexpr" : "");
}

static void host(Tt *t, const Nest *nests, int nn, const char *pid_type, bool xyz, int64_t total) {
  const IrFunc *f = t->f;
  char ps[4096];
  IrLoc loc = nests[0].op->loc;
  tt_put(t, "\n\ndef _helua_check(name, t, shape, strides, dtype):\n"
            "    if tuple(t.shape) != shape or t.dtype != dtype or any(\n"
            "            s != w for s, w, n in zip(t.stride(), strides, shape) if n != 1):\n"
            "        raise ValueError(f\"{name}: expected a {dtype} tensor of shape {shape}, "
            "strides {strides}; got {t.dtype} {tuple(t.shape)} strides {t.stride()}\")\n\n\n");
  params(t, false, ps, sizeof ps);
  size_t n = 0;
  char args[2048] = "";
  for (int i = 0; i < f->nargs; i++)
    n += (size_t)snprintf(args + n, sizeof args - n, "%s%s", n ? ", " : "", t->name[f->args[i]]);
  tt_printf(t, "def %s(%s):\n", f->name, args);
  t->indent = 1;
  const char *first_tensor = NULL;
  for (int i = 0; i < f->nargs; i++) {
    const IrValue *v = tt_val(t, f->args[i]);
    if (v->kind != IR_VAL_TENSOR) continue;
    if (!first_tensor) first_tensor = t->name[f->args[i]];
    char shape[512] = "(", strides[512] = "(";
    for (int k = 0; k < v->shape.rank; k++) {
      size_t a = strlen(shape), b = strlen(strides);
      snprintf(shape + a, sizeof shape - a, "%lld%s", (long long)v->shape.dims[k].v,
               v->shape.rank == 1      ? ",)"
               : k + 1 < v->shape.rank ? ", "
                                       : ")");
      snprintf(strides + b, sizeof strides - b, "%lld%s", (long long)v->strides[k],
               v->shape.rank == 1      ? ",)"
               : k + 1 < v->shape.rank ? ", "
                                       : ")");
    }
    if (v->shape.rank == 0) strcat(shape, ")"), strcat(strides, ")");
    tt_stmt(t, v->loc, "_helua_check(\"%s\", %s, %s, %s, %s)", t->name[f->args[i]],
            t->name[f->args[i]], shape, strides, tt_torch_dtype(v->dtype));
  }
  for (int i = 0; i < f->nslots; i++)
    tt_stmt(t, f->slots[i].loc, "_BLOCK_SIZE_%d = %lld", i, (long long)t->bs[i]);
  for (int i = 0; i < f->nrdims; i++)
    tt_stmt(t, f->rdims[i].loc, "%s_%d = %lld", t->rlooped[i] ? "_REDUCTION_BLOCK" : "_RDIM_SIZE",
            i, (long long)t->rsize[i]);
  if (strncmp(pid_type, "persistent", 10) == 0) {
    tt_stmt(t, loc, "num_sms = torch.cuda.get_device_properties(%s.device).multi_processor_count",
            first_tensor ? first_tensor : "torch.cuda.current_device()");
    tt_stmt(t, loc, "grid = (max(1, min(%lld, num_sms * %d)),)", (long long)total,
            cfgspace_get(t->s, t->cfg, "num_sm_multiplier", 0, 1));
  } else if (xyz) {
    const Nest *x = &nests[0];
    int nd = x->op->attrs->ndims, perm[IR_MAX_RANK];
    tt_order_of(t, x->op, tt_knobs_of(t, x->op), perm);
    char g[256] = "(";
    for (int a = 0; a < nd; a++) {
      size_t m = strlen(g);
      snprintf(g + m, sizeof g - m, "%lld%s", (long long)x->count[perm[nd - 1 - a]],
               a + 1 < nd ? ", " : ")");
    }
    tt_stmt(t, loc, "grid = %s", g);
  } else {
    tt_stmt(t, loc, "grid = (%lld,)", (long long)(total > 0 ? total : 1));
  }
  char launch[256];
  int nreg = tt_maxnreg(t), warps = cfgspace_get(t->s, t->cfg, "num_warps", 0, 4);
  snprintf(launch, sizeof launch, "num_warps=%d, num_stages=%d", warps,
           cfgspace_get(t->s, t->cfg, "num_stages", 0, 1));
  if (nreg != CFG_NONE) {
    size_t m = strlen(launch);
    snprintf(launch + m, sizeof launch - m, ", maxnreg=%d", nreg);
  }
  tt_stmt(t, loc, "_helua_%s[grid](%s, %s)", f->name, ps, launch);
  t->indent = 0;
}

int tt_render(Tt *t) {
  const IrFunc *f = t->f;
  for (int i = 0; i < f->nslots; i++)
    t->bs[i] = cfgspace_get(t->s, t->cfg, "block_sizes", i, 16);
  for (int i = 0; i < f->nslots; i++)
    t->slot_tdim[i] = -1;
  for (int i = 0; i < f->nvalues; i++)
    t->tdim[i] = -1;
  if (tt_analyze_rdims(t) || tt_name_values(t)) return HL_ERR;
  int nn = count_nests(f);
  if (nn == 0) return tt_fail(t, NULL, "kernel %s has no device loops", f->name);
  Nest *nests = mem_calloc((size_t)nn, sizeof *nests);
  if (!nests) return tt_fail(t, NULL, "out of memory");
  int k = 0;
  int64_t total = 0;
  int rc = HL_OK;
  for (const IrOp *op = f->body->first; op && !rc; op = op->next)
    if (op->kind == IR_OP_TILE || op->kind == IR_OP_GRID) {
      nests[k].op = op;
      rc = nest_counts(t, &nests[k]);
      total += nests[k++].programs;
    }
  const char *pid_type = cfgspace_get_enum(t->s, t->cfg, "pid_type", 0, "flat");
  bool xyz = strcmp(pid_type, "xyz") == 0 && nn == 1 && nests[0].op->attrs->ndims >= 2;
  if (xyz) {
    Knobs kn = tt_knobs_of(t, nests[0].op);
    if (kn.multi >= 0 && cfgspace_get(t->s, t->cfg, "flatten_loops", kn.multi, 0)) xyz = false;
  }
  /* the kernel body first: emitting it tells whether libdevice is needed for the imports */
  TtBuf head = t->out;
  t->out = (TtBuf){0};
  char ps[4096];
  if (!rc) {
    params(t, true, ps, sizeof ps);
    tt_printf(t, "@triton.jit\ndef _helua_%s(%s):\n", f->name, ps);
    t->indent = 1;
    rc = emit_programs(t, nests, nn, pid_type, xyz, total);
    t->indent = 0;
  }
  if (!rc) host(t, nests, nn, pid_type, xyz, total);
  TtBuf body = t->out;
  t->out = head;
  if (body.oom) t->out.oom = true;
  if (!rc) {
    header(t);
    if (body.p) tt_put(t, body.p);
  }
  mem_free(body.p);
  mem_free(nests);
  return rc || t->failed ? HL_ERR : HL_OK;
}
