-- Hand-written PTX for the CUDA runtime checks: float32 vector add, one element per thread (vadd)
-- and one float4 per thread (vadd4), both c[i] = a[i] + b[i] for i < n; and a broken copy whose
-- JIT error log the tests read. Part of tests/lua (used by test_cuda.lua and
-- share/scripts/gpu_bench.lua). Checked with `ptxas -arch=sm_90`.
local P = {}

-- Signature for CudaModule:func: three cuda tensors and a uint32 count ("pppi").
P.sig = "pppi"

local function entry(name, body_regs, body)
  return ([[
.visible .entry NAME(.param .u64 pa, .param .u64 pb, .param .u64 pc, .param .u32 pn)
{
  .reg .pred %p<2>;
  .reg .b32 %r<6>;
REGS
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [pa];
  ld.param.u64 %rd2, [pb];
  ld.param.u64 %rd3, [pc];
  ld.param.u32 %r1, [pn];
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r5, %r2, %r3, %r4;
  setp.ge.u32 %p1, %r5, %r1;
  @%p1 bra DONE;
BODY
DONE:
  ret;
}
]]):gsub("%u%u%u%u+", {NAME = name, REGS = body_regs, BODY = body}) -- a table: no % escapes
end

local header = ".version 8.0\n.target sm_90\n.address_size 64\n\n"

local scalar = [[
  mul.wide.u32 %rd4, %r5, 4;
  add.s64 %rd5, %rd1, %rd4;
  add.s64 %rd6, %rd2, %rd4;
  add.s64 %rd7, %rd3, %rd4;
  ld.global.nc.f32 %f1, [%rd5];
  ld.global.nc.f32 %f2, [%rd6];
  add.f32 %f3, %f1, %f2;
  st.global.f32 [%rd7], %f3;]]

local vector = [[
  mul.wide.u32 %rd4, %r5, 16;
  add.s64 %rd5, %rd1, %rd4;
  add.s64 %rd6, %rd2, %rd4;
  add.s64 %rd7, %rd3, %rd4;
  ld.global.nc.v4.f32 {%f1, %f2, %f3, %f4}, [%rd5];
  ld.global.nc.v4.f32 {%f5, %f6, %f7, %f8}, [%rd6];
  add.f32 %f9, %f1, %f5;
  add.f32 %f10, %f2, %f6;
  add.f32 %f11, %f3, %f7;
  add.f32 %f12, %f4, %f8;
  st.global.v4.f32 [%rd7], {%f9, %f10, %f11, %f12};]]

P.vadd = header .. entry("vadd", "  .reg .f32 %f<4>;", scalar)
  .. "\n" .. entry("vadd4", "  .reg .f32 %f<13>;", vector)

-- %f9 is not declared (only %f<4>): ptxas reports "Unknown symbol '%f9'". The word BROKEN is for
-- the fake driver of tests/unit, which fails any PTX containing it.
P.broken = header .. "// BROKEN on purpose\n"
  .. entry("vadd", "  .reg .f32 %f<4>;", (scalar:gsub("%%f1, %%f2;", "%%f1, %%f9;")))

return P
