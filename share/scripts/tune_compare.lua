-- Compares the autotuner's search algorithms (pattern, de, random) on kernel files, CPU target:
-- per kernel, effort and algorithm, the median over seeds of the best time found, the configs
-- tried and the tuning seconds. Part of share/scripts (benchmarks print tables; tests never time).
-- The numbers pick the default algorithm (share/doc/tuning.md, "Choosing the algorithm").
--
-- Run: helua share/scripts/tune_compare.lua [options]
--   --kernels FILE:NAME,...  default kernels/softmax.lua:softmax,kernels/matmul.lua:matmul
--   --efforts quick,full     default quick,full
--   --algorithms LIST        default pattern,de,random
--   --seeds N                seeds per cell (default 3)
--   --size NAME|k=v,...      the kernel files' size (default: "default")
--   --budget SECONDS         per search (default: the effort's)
--   --workers N              worker processes per search (default 1)
-- Every search runs with the cache off. On a shared machine the times carry the noise of the
-- other load: compare the best times of one run, and repeat the run.
local helua = require "helua"
local run = require "helua.run"

local opts = {kernels = "kernels/softmax.lua:softmax,kernels/matmul.lua:matmul",
              efforts = "quick,full", algorithms = "pattern,de,random", seeds = "3"}
local i = 1
while arg and arg[i] do
  local name = arg[i]:match("^%-%-(.+)$")
  local known = opts[name] ~= nil or name == "size" or name == "budget" or name == "workers"
  if not name or not known or not arg[i + 1] then
    io.stderr:write("tune_compare: unknown or incomplete option " .. arg[i]
      .. " (see the top of the script)\n")
    os.exit(2)
  end
  opts[name] = arg[i + 1]
  i = i + 2
end

local function list(s)
  local out = {}
  for x in s:gmatch("[^,]+") do out[#out + 1] = x end
  return out
end

local function median(xs)
  table.sort(xs)
  local n = #xs
  if n == 0 then return 0 / 0 end
  return n % 2 == 1 and xs[(n + 1) // 2] or (xs[n // 2] + xs[n // 2 + 1]) / 2
end

local seeds = math.tointeger(tonumber(opts.seeds)) or 3
local core = require "helua.core"
print(string.format("# %s, %d cores, helua tune_compare: %s", os.date("!%Y-%m-%d %H:%M UTC"),
                    core.cpu_count and core.cpu_count() or 0, table.concat(arg or {}, " ")))
local budget = opts.budget and tonumber(opts.budget)
local workers = opts.workers and math.tointeger(tonumber(opts.workers)) or nil
print(string.format("%-22s %-6s %-8s %5s %12s %12s %12s %8s %8s", "kernel", "effort", "algo",
                    "seeds", "best ms", "min best ms", "default ms", "configs", "seconds"))
for _, spec in ipairs(list(opts.kernels)) do
  local file, kname = spec:match("^(.-):(.+)$")
  local d = run.load(file or spec)
  local size = run.size(d, opts.size)
  for _, e in ipairs(run.select(d, kname)) do
    local args = run.inputs(e, size, 0)
    for _, effort in ipairs(list(opts.efforts)) do
      for _, algo in ipairs(list(opts.algorithms)) do
        local best, configs, secs, defaults = {}, {}, {}, {}
        for seed = 1, seeds do
          -- a fresh kernel object per search: no compiled variant carries over from the last one
          local bk = helua.kernel(e.kernel.fn):bind(table.unpack(args, 1, args.n))
          local ok, _, rep = pcall(bk.autotune, bk, {effort = effort, algorithm = algo,
            seed = seed * 1000, cache = false, log = false, budget_seconds = budget,
            workers = workers})
          if ok then
            best[#best + 1] = rep.best.time * 1e3
            defaults[#defaults + 1] = rep.default.time * 1e3
            configs[#configs + 1] = #rep.trials
            secs[#secs + 1] = rep.seconds
          else
            io.stderr:write(string.format("tune_compare: %s %s %s seed %d failed: %s\n", e.name,
                                          effort, algo, seed, tostring(_)))
          end
          collectgarbage("collect")
        end
        local lo = math.huge
        for _, b in ipairs(best) do lo = math.min(lo, b) end
        if #best == 0 then
          print(string.format("%-22s %-6s %-8s %5d  every search failed (see stderr)", e.name,
                              effort, algo, seeds))
        else
          print(string.format("%-22s %-6s %-8s %5d %12.4f %12.4f %12.4f %8d %8.1f", e.name,
                              effort, algo, seeds, median(best), lo, median(defaults),
                              math.floor(median(configs)), median(secs)))
        end
        io.stdout:flush()
      end
    end
  end
end
