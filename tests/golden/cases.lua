-- The golden-file cases: kernel, size and a fixed config per snapshot, and the stages to keep.
-- Part of tests/golden (read by tests/lua/test_golden.lua; update.sh regenerates the files).
-- Stages: "ir" (the tracer's output). "llvm" joins when its text is machine-independent (today it
-- names functions with a per-process counter and is optimized for the host CPU).
return {
  stages = {"ir"},
  cases = {
    {name = "add", file = "kernels/add.lua", kernel = "add", size = "small",
     config = "helua.Config{block_sizes = {16, 32}}"},
    {name = "softmax", file = "kernels/softmax.lua", kernel = "softmax", size = "small",
     config = "helua.Config{block_sizes = {8}}"},
    {name = "matmul", file = "kernels/matmul.lua", kernel = "matmul", size = "small",
     config = "helua.Config{block_sizes = {16, 16, 16}}"},
  },
}
