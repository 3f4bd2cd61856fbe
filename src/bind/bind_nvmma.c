/* Lua binding of the tensor-core proof GEMM: core.nvmma_gemm(opts) -> PTX text and launch facts,
 * which tests/lua/test_nvmma.lua and share/scripts/nvmma-bench.lua load and run through
 * core.cuda_module. Part of src/bind (the Lua boundary); the kernel is built in src/lower. */
#include "bind/bind_nvmma.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "lower/lower_nvptx_mma_gemm.h"

static int opt_int(lua_State *L, const char *k, int dflt) {
  lua_getfield(L, 1, k);
  int isnum;
  lua_Integer v = lua_tointegerx(L, -1, &isnum);
  if (!lua_isnil(L, -1) && !isnum)
    luaL_error(L, "nvmma_gemm: %s must be an integer, got %s", k, luaL_typename(L, -1));
  lua_pop(L, 1);
  if (!isnum) return dflt;
  if (v < -1000000 || v > 1000000) luaL_error(L, "nvmma_gemm: %s = %I is out of range", k, v);
  return (int)v;
}

static bool opt_bool(lua_State *L, const char *k, bool dflt) {
  lua_getfield(L, 1, k);
  bool v = lua_isnil(L, -1) ? dflt : lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* "bfloat16" -> true, `other` -> false, nil -> dflt. */
static bool opt_bf16(lua_State *L, const char *k, const char *other, const char *dflt) {
  lua_getfield(L, 1, k);
  const char *s = luaL_optstring(L, -1, dflt);
  bool bf = !strcmp(s, "bfloat16");
  if (!bf && strcmp(s, other))
    luaL_error(L, "nvmma_gemm: %s = \"%s\" is not \"bfloat16\" or \"%s\"", k, s, other);
  lua_pop(L, 1);
  return bf;
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

/* core.nvmma_gemm{bm=, bn=, bk=, num_warps=, num_stages=, warps_m=, warps_n=, a_trans=,
 * b_trans=, wgmma=false, wg_overlap=false, dtype="bfloat16"|"float16", out="float32"|"bfloat16", vec16=true, group_m=8}
 * -> ptx, {threads=, smem_bytes=, warps_m=, warps_n=, acc_count=} */
static int core_nvmma_gemm(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  NvmmaGemm g = {0};
  g.desc.bm = opt_int(L, "bm", 128), g.desc.bn = opt_int(L, "bn", 128), g.desc.bk = opt_int(L, "bk", 32);
  g.desc.num_warps = opt_int(L, "num_warps", 4), g.desc.num_stages = opt_int(L, "num_stages", 3);
  g.desc.warps_m = opt_int(L, "warps_m", 0), g.desc.warps_n = opt_int(L, "warps_n", 0);
  g.desc.a_trans = opt_bool(L, "a_trans", false), g.desc.b_trans = opt_bool(L, "b_trans", false);
  g.desc.vec16 = opt_bool(L, "vec16", true);
  g.desc.wgmma = opt_bool(L, "wgmma", false);
  g.desc.wg_overlap = opt_bool(L, "wg_overlap", false);
  g.desc.dtype = opt_bf16(L, "dtype", "float16", "bfloat16") ? NVMMA_BF16 : NVMMA_F16;
  g.out_bf16 = opt_bf16(L, "out", "float32", "float32");
  g.group_m = opt_int(L, "group_m", 8);
  char *ptx = NULL;
  Diag d;
  if (nvmma_gemm_ptx(&g, &ptx, NULL, &d)) return luaL_error(L, "%s", d.msg);
  lua_pushstring(L, ptx);
  free(ptx);
  lua_createtable(L, 0, 5);
  set_int(L, "threads", 32 * g.desc.num_warps);
  set_int(L, "smem_bytes", nvmma_smem_bytes(&g.desc));
  set_int(L, "warps_m", g.desc.warps_m);
  set_int(L, "warps_n", g.desc.warps_n);
  set_int(L, "acc_count", nvmma_acc_count(&g.desc));
  return 2;
}

void bind_nvmma_register(lua_State *L) {
  lua_pushcfunction(L, core_nvmma_gemm);
  lua_setfield(L, -2, "nvmma_gemm");
}
