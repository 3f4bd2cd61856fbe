-- The autotuner's GPU path without a GPU: device lists, the refusal when CUDA is unavailable, the
-- cache key's device fields, and (HELUA_TEST_EXPECT=fake, HELUA_LIBCUDA = the fake driver of
-- tests/unit/test_cuda_fake_driver.c) the cuda worker protocol and whole searches on cuda:N
-- workers. Part of tests/lua; share/doc/tuning.md "The GPU path".
package.path = arg[0]:match("(.*/)") .. "?.lua;" .. package.path
local T = require "testing"
local helua = require "helua"
local core = require "helua.core"
local P = require "helua.tune_pool"
local W = require "helua.tune_worker"

local expect = os.getenv("HELUA_TEST_EXPECT") -- nil: whatever this machine has; "fake"
local gpus = tonumber(os.getenv("FAKE_CUDA_DEVICES") or "") or 1

local function plus_one(backend)
  return helua.kernel(function(x)
    local out = helua.zeros_like(x)
    for t in hl.tile(x:size(1)) do out[t] = x[t] + 1 end
    return out
  end, {backend = backend})
end

T.test("device names: cpu, cuda, cuda:N; anything else is refused", function()
  T.eq(W.parse_device("cpu").kind, "cpu", "cpu")
  T.eq(W.parse_device("cuda").name, "cuda:0", "cuda is cuda:0")
  local d = W.parse_device("cuda:3")
  T.eq(d.kind, "cuda", "kind")
  T.eq(d.ordinal, 3, "ordinal")
  for _, bad in ipairs({"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:99", "CPU"}) do
    local ok, why = W.parse_device(bad)
    T.eq(ok, nil, bad)
    T.truthy(why:find("unknown device", 1, true), "message: " .. why)
  end
  T.raises(function() P.devices({devices = {"cpu", "tpu"}}, "cpu") end, "unknown device")
  T.raises(function() P.devices({devices = {"cuda:0"}}, "cpu") end, "the kernel compiles for cpu")
  T.raises(function() P.devices({devices = {"cpu"}}, "cuda") end, "the kernel compiles for cuda")
  T.raises(function() P.devices({devices = {}}, "cuda") end, "non-empty list")
  T.eq(P.devices({workers = 2}, "cpu")[2], "cpu", "cpu workers")
end)

T.test("a frame sent as a list of parts; a zero budget still runs the default", function()
  if not core.worker_available() then return end
  local w = core.worker_spawn("cpu")
  T.truthy(w:send(W.pack_parts({op = "ping"})), "sent in parts")
  local got, frame = core.worker_wait({w}, 30)
  T.eq(got, w, "answered")
  T.eq(W.unpack(frame).status, "ok", "the parts made one frame")
  T.raises(function() w:send({"x", 1}) end, "not a string")
  w:kill()
  -- a big tensor's bytes decode as a slice of the frame and unpack in place
  local big = helua.arange(0, 5 << 20, 1, {dtype = helua.float32})
  local bytes = core.tensor_pack(big)
  local msg = W.unpack(W.pack({t = bytes, small = "abc"}), true)
  T.eq(type(msg.t), "table", "a slice")
  T.eq(msg.small, "abc", "small strings stay strings")
  local back = core.tensor_unpack(msg.t.slice, msg.t.at, msg.t.len)
  T.eq(helua.max_abs_err(back, big), 0, "unpacked in place")
  T.eq(W.unpack(W.pack({t = bytes})).t, bytes, "without slices: the string")
  T.raises(function() core.tensor_unpack(bytes, 2, #bytes) end, "outside the bytes")
  local x = helua.randn({64})
  local best, rep = plus_one("cpu"):bind(x):autotune({budget_seconds = 0, cache = false,
                                                      log = false})
  T.truthy(best ~= nil and rep.default.status == "ok", "the default ran")
  T.eq(rep.best, rep.default, "and is the best")
  for _, t in ipairs(rep.trials) do T.truthy(t.status ~= "skipped", "no skipped trial kept") end
  -- jobs a worker would start past the budget (stop_at) come back skipped, not run
  local bk = plus_one("cpu"):bind(x)
  local setup = assert(P.setup({bound = bk, args = table.pack(x), space = bk:config_spec()}))
  local cfg = bk:_config_table(setup.v, require("helua.config").new(bk:config_spec():default()))
  local pool = P.new({"cpu"}, 30)
  pool.stop_at = core.clock() - 1
  local n, got = 0, {}
  pool:run(function()
    n = n + 1
    if n > 2 then return nil end
    return {setup = setup, config = cfg, key = "k" .. n, repeats = 1}
  end, function(_, r) got[#got + 1] = r end)
  pool:close()
  T.eq(#got, 2, "both answered")
  for _, r in ipairs(got) do T.eq(r.status, "skipped", "skipped: " .. tostring(r.message)) end
end)

T.test("the cache key of a cuda search names the target, the GPU and the driver", function()
  local cache = require "helua.tune_cache"
  local base = {fingerprint = "f", args = "a", space = "s"}
  local cpu = cache.key(base)
  local cuda = cache.key({fingerprint = "f", args = "a", space = "s", target = "cuda",
                          device = "NVIDIA H100 80GB HBM3 driver 13000"})
  T.truthy(cpu:find("|cpu|", 1, true), "cpu key: " .. cpu)
  T.truthy(cuda:find("|cuda|", 1, true), "target in the key: " .. cuda)
  T.truthy(cuda:find("device NVIDIA H100 80GB HBM3 driver 13000", 1, true), "device in the key")
  local other = cache.key({fingerprint = "f", args = "a", space = "s", target = "cuda",
                           device = "NVIDIA H100 80GB HBM3 driver 12080"})
  T.truthy(other ~= cuda and cache.path("/d", other) ~= cache.path("/d", cuda),
           "another driver is another entry")
end)

T.test("compile_many / compile_start for cuda: PTX on threads (no GPU), binary keys", function()
  local x = helua.randn({256})
  local bk = plus_one("cpu"):bind(x)
  local v = bk:_variant(nil)
  local space = core.config_space(v.func, "cuda")
  local d = space:default()
  local other = space:default()
  other.num_warps = d.num_warps == 4 and 8 or 4
  local ks = core.compile_many(v.func, {d, d, other, {num_warps = 3}}, 2, "cuda")
  T.eq(type(ks[1]), "userdata", "compiled: " .. tostring(ks[1]))
  T.eq(ks[1]:info().target, "cuda", "the cuda target")
  T.truthy(ks[1]:code("ptx"):find(".entry", 1, true), "PTX")
  T.eq(ks[1]:info().binary_key, ks[2]:info().binary_key, "the same PTX and launch: one key")
  T.truthy(ks[1]:info().binary_key ~= ks[3]:info().binary_key, "another block: another key")
  T.eq(type(ks[4]), "string", "a config the lowering refuses is its error text")
  T.raises(function() core.compile_many(v.func, {d}, 1, "tpu") end, "unknown target")
  -- in the background (a GPU worker times the previous chunk meanwhile)
  local job = core.compile_start(v.func, {d, other, {num_warps = 3}}, 2, "cuda")
  local got, secs = job:wait()
  T.eq(#got, 3, "three results")
  T.eq(got[1]:info().binary_key, ks[1]:info().binary_key, "the same PTX as compile_many's")
  T.eq(type(got[3]), "string", "errors in place")
  T.truthy(secs >= 0, "the compile's seconds")
  T.eq(job:wait(), got, "waiting again returns the same table")
  T.eq(select("#", job:wait()), 3, "wait: the table, the wall seconds, the JIT's seconds")
  local unwaited = core.compile_start(v.func, {d, other}, 2, "cuda")
  unwaited = nil -- collected unwaited: joined first, nothing leaks or crashes
  collectgarbage()
  collectgarbage()
  T.raises(function() core.compile_start(v.func, {{num_warps = "x"}}, 1, "cuda") end,
           "must be an integer")
end)

local avail, why = core.cuda_available()

if not avail then
  T.test("without CUDA: cuda devices and cuda tuning are refused with the reason", function()
    T.raises(function() P.devices({}, "cuda") end, "cuda: unavailable (")
    T.raises(function() P.devices({devices = {"cuda:0"}}, "cuda") end, "cuda: unavailable (")
    local ok, err = pcall(function()
      plus_one("cuda"):bind(helua.randn({64})):autotune({log = false})
    end)
    T.truthy(not ok, "refused")
    T.truthy(tostring(err):find("cuda: unavailable (", 1, true), "message: " .. tostring(err))
    T.truthy(tostring(err):find(why, 1, true), "with the driver's reason: " .. tostring(err))
  end)
elseif expect == "fake" then
  T.test("fake driver: the default cuda list is one worker per GPU; bad lists refused", function()
    local list = P.devices({}, "cuda")
    T.eq(#list, gpus, "one per GPU")
    T.eq(list[#list], "cuda:" .. (gpus - 1), "the last GPU")
    T.eq(#P.devices({workers = 1}, "cuda"), 1, "workers = 1")
    T.raises(function() P.devices({devices = {"cuda:" .. gpus}}, "cuda") end, "does not exist")
    T.raises(function() P.devices({devices = {"cuda:0", "cuda:0"}}, "cuda") end, "listed twice")
  end)

  T.test("fake driver: the cuda worker protocol (setup, jobs, retime) on the last GPU", function()
    local x = helua.randn({256}):cuda()
    local bk = plus_one("cuda"):bind(x)
    local space = bk:config_spec()
    T.truthy(space:default().num_warps ~= nil, "the cuda space")
    local search = {bound = bk, args = table.pack(x), space = space}
    local setup = assert(P.setup(search))
    T.eq(#setup.msg.outputs, 1, "one output")
    local dev = "cuda:" .. (gpus - 1)
    local pool = P.new({dev}, 30)
    local got
    local cfg = bk:_config_table(setup.v, require("helua.config").new(space:default()))
    pool:run(function()
      if got ~= nil then return nil end
      got = false
      return {setup = setup, config = cfg, key = "k", repeats = 3}
    end, function(_, r) got = r end)
    T.eq(got.status, "ok", "ok: " .. tostring(got.message))
    T.eq(got.device, dev, "the device")
    T.eq(#got.samples, 3, "timed three times (CUDA events)")
    local reply = assert(pool:call(setup, {op = "retime", sid = setup.sid, configs = {cfg, cfg},
                                           rounds = 2, repeats = 2}))
    T.eq(reply.status, "ok", "retime: " .. tostring(reply.message))
    T.eq(#reply.times, 2, "a time per config")
    pool:close()
    -- a worker that cannot use its GPU (cuda:15 does not exist) fails its jobs with the reason,
    -- once, instead of being restarted for every job
    local dead = P.new({"cuda:15"}, 30)
    local n, results = 0, {}
    dead:run(function()
      n = n + 1
      if n > 3 then return nil end
      return {setup = setup, config = cfg, key = "k" .. n, repeats = 1}
    end, function(_, r) results[#results + 1] = r end)
    T.eq(#results, 3, "every job answered")
    for _, r in ipairs(results) do
      T.eq(r.status, "error", "an error: " .. tostring(r.message))
      T.truthy(r.message:find("could not start on its device", 1, true), "why: " .. r.message)
    end
    T.eq(dead.started, 1, "started once")
    dead:close()
    -- a binary another worker measured is not run again: the pool passes it on (pool.known)
    local bkey = core.compile_many(setup.v.func, {cfg}, 1, "cuda")[1]:info().binary_key
    local shared = P.new({dev}, 30)
    shared.known[setup.sid] = {[bkey] = {status = "ok", samples = {1e-3, 1e-3}, key = "earlier"}}
    local r2
    shared:run(function()
      if r2 ~= nil then return nil end
      r2 = false
      return {setup = setup, config = cfg, key = "k2", repeats = 3}
    end, function(_, r) r2 = r end)
    T.eq(r2.same_binary_as, "earlier", "the other worker's measurement: "
      .. tostring(r2.same_binary_as))
    T.eq(#r2.samples, 2, "its samples")
    T.eq(r2.binary_key, bkey, "the reply names the binary")
    shared:close()
    -- the module loads (the PTX JIT) on the compile threads when asked: the launch needs no JIT
    local job = core.compile_start(setup.v.func, {cfg, cfg}, 2, "cuda", true)
    local ks, _, jit_s = job:wait()
    T.truthy(jit_s > 0, "the threads' JIT seconds: " .. tostring(jit_s))
    local loaded = {}
    for i = 1, 2 do
      if ks[i]:info().compile_ms.jit > 0 then loaded[#loaded + 1] = ks[i] end
    end
    T.eq(#loaded, 1, "one module loaded for the two configs of one binary")
    local largs = {}
    for i, n in ipairs(ks[1]:info().args) do
      largs[i] = n == "x" and x or helua.empty({256}, {device = "cuda"})
    end
    local ms = loaded[1]:info().compile_ms.jit
    loaded[1]:launch(largs)
    T.eq(loaded[1]:info().compile_ms.jit, ms, "the first launch did not load it again")
    -- a binary the caller already measured is not loaded at all (a launch would load it)
    local skipped = core.compile_start(setup.v.func, {cfg}, 1, "cuda", true, {bkey}):wait()
    T.eq(skipped[1]:info().compile_ms.jit, 0, "in the skip list: not loaded")
    skipped[1]:launch(largs)
    T.truthy(skipped[1]:info().compile_ms.jit > 0, "its launch loaded it")
  end)

  T.test("fake driver: a whole search on cuda workers; every trial names its GPU", function()
    local x = helua.randn({512}):cuda()
    local csv = os.tmpname()
    local devices = {}
    for i = 1, gpus do devices[i] = "cuda:" .. (i - 1) end
    local best, rep = plus_one("cuda"):bind(x):autotune({effort = "quick", budget_seconds = 4,
      cache = false, log = false, repeats = 2, devices = devices, csv = csv})
    T.truthy(best ~= nil and rep.best ~= nil, "a best config")
    T.truthy(rep.best.tbl.num_warps ~= nil, "a cuda config")
    local seen = {}
    for _, t in ipairs(rep.trials) do
      if t.device then seen[t.device] = (seen[t.device] or 0) + 1 end
    end
    for _, d in ipairs(devices) do T.truthy((seen[d] or 0) > 0, "trials on " .. d) end
    -- a generation is shared out among the workers (a fair share per batch), not one batch
    -- filling the first worker
    for _, d in ipairs(devices) do
      T.truthy((seen[d] or 0) >= #rep.trials / (3 * #devices), string.format(
        "a fair share on %s: %d of %d", d, seen[d] or 0, #rep.trials))
    end
    T.truthy(rep.phases and rep.phases.check > 0 and rep.phases.compile > 0, "phase seconds")
    T.truthy(rep.search_s > 0 and rep.setup_s > 0, "search and setup seconds")
    local f = assert(io.open(csv))
    local text = f:read("a")
    f:close()
    os.remove(csv)
    T.truthy(text:find('"cuda:0"', 1, true), "the CSV names the device")
    local illegal = os.getenv("FAKE_CUDA_ILLEGAL_BLOCK")
    if illegal then -- those launches kill the context: failed trials, the search goes on
      local dead = 0
      for _, t in ipairs(rep.trials) do
        if t.status == "error" and tostring(t.message):find("context is dead", 1, true) then
          dead = dead + 1
        end
      end
      T.truthy(dead > 0, "trials with an illegal address")
      T.truthy(rep.ok > dead, "and the search went on")
    end
  end)

  T.test("fake driver: device tensors pack straight from the GPU; same_bytes", function()
    local d = helua.randn({64, 32}, {device = "cuda", seed = 1})
    local h = core.to_device(d, "cpu")
    local bytes = core.tensor_pack(d)
    T.eq(bytes, core.tensor_pack(h), "the bytes of its host copy")
    T.truthy(core.tensor_same_bytes(d, bytes) and core.tensor_same_bytes(h, bytes), "same")
    T.eq(helua.max_abs_err(core.tensor_unpack(bytes), h), 0, "unpacks to the same values")
    d:fill_(1)
    T.truthy(not core.tensor_same_bytes(d, bytes), "changed on the GPU: not the same")
    local v = h:transpose(1, 2)
    T.truthy(not core.tensor_same_bytes(v, bytes), "another view: not the same")
    T.truthy(core.tensor_same_bytes(v, core.tensor_pack(v)), "a view's own bytes")
  end)

  T.test("fake driver: two worker processes on one GPU take turns (procs_per_gpu)", function()
    local x = helua.randn({512}):cuda()
    local lines = {}
    local best, rep = plus_one("cuda"):bind(x):autotune({effort = "quick", budget_seconds = 3,
      cache = false, repeats = 2, devices = {"cuda:0"}, procs_per_gpu = 2,
      log = function(l) lines[#lines + 1] = l end})
    T.truthy(best ~= nil and rep.ok > 2, "a search: " .. tostring(rep.ok) .. " ok")
    T.truthy(table.concat(lines, "\n"):find("(2 worker processes per GPU)", 1, true),
             "the start line says so")
    for _, t in ipairs(rep.trials) do T.eq(t.device, "cuda:0", "on cuda:0") end
    T.raises(function()
      plus_one("cuda"):bind(x):autotune({procs_per_gpu = 0, log = false, cache = false})
    end, "procs_per_gpu must be a positive integer")
  end)

  T.test("fake driver: bk:autotune on a cuda kernel sets the config later calls use", function()
    local k = plus_one("cuda")
    k.settings.autotune_effort = "quick"
    local x = helua.randn({128}):cuda()
    local bk = k:bind(x)
    bk:autotune({effort = "quick", budget_seconds = 2, cache = false, log = false, repeats = 1,
                 devices = {"cuda:0"}})
    T.truthy(bk.tuned and bk.tuned.best, "tuned")
    k(x) -- runs with the tuned config
  end)
end

T.done()
