-- The golden-file cases: kernel, size and a fixed config per snapshot, and the stages to keep.
-- Part of tests/golden (read by tests/lua/test_golden.lua; update.sh regenerates the files).
-- Stages: "ir" (the tracer's output), "lowered" (after bind_config/plan) and "llvm" (optimized LLVM
-- IR). The compiled stages are made for a fixed CPU (HELUA_TARGET_CPU = golden_cpu, set by meson
-- and update.sh), so the text is the same on every machine. A case's `stages` replaces the list
-- ("ptx": the cuda target's PTX, the same on every machine, no GPU needed); `stages_extra` adds
-- stages for that case only ("triton": the Triton text for the case's config on the cuda target).
return {
  stages = {"ir", "lowered", "llvm"},
  golden_cpu = "x86-64-v3",
  cases = {
    {name = "add", file = "kernels/add.lua", kernel = "add", size = "small",
     config = "helua.Config{block_sizes = {16, 32}}", stages_extra = {"triton"}},
    {name = "softmax", file = "kernels/softmax.lua", kernel = "softmax", size = "small",
     config = "helua.Config{block_sizes = {8}}", stages_extra = {"triton"}},
    {name = "matmul", file = "kernels/matmul.lua", kernel = "matmul", size = "small",
     config = "helua.Config{block_sizes = {16, 16, 16}}"},
    {name = "add", file = "kernels/add.lua", kernel = "add", size = "small", stages = {"ptx"},
     config = "helua.Config{block_sizes = {16, 32}, num_warps = 4, pid_type = \"flat\"}"},
  },
}
