-- The tuner's worker pool: long-lived worker processes, one per entry of a device list, started
-- by exec'ing helua itself (core.worker_spawn: /proc/self/exe --tune-worker DEVICE; never a fork
-- of the tuner, so a GPU worker can own a fresh CUDA context). The parent sends each worker the
-- kernel's tile IR, its launch arguments and the reference outputs once (a "setup"), then one
-- job per candidate config, to whichever worker is free: N workers run N trials at once. A
-- worker that crashes or hangs is killed and replaced; its trial is a crash / timeout. Part of
-- lua/helua (policy); the worker side is helua.tune_worker. share/doc/tuning.md, "Worker pool".
local core = require "helua.core"
local helua = require "helua"
local W = require "helua.tune_worker"

local M = {}

-- The devices the pool runs on, for the search's target ("cpu" or "cuda"): opts.devices (a list
-- such as {"cpu", "cpu"} or {"cuda:0", "cuda:1"}), else opts.workers workers: "cpu" ones
-- (default 1, at most the machine's cores), or for cuda one per GPU ("cuda:0" ..; default: every
-- visible GPU, core.cuda_device_count()). A cuda list needs a working driver ("cuda: unavailable
-- (reason)" otherwise), names each GPU once (two workers on one GPU would time each other) and
-- only GPUs the machine has.
function M.devices(opts, target)
  target = target or "cpu"
  local list = {}
  local ngpu
  local function gpus()
    if ngpu then return ngpu end
    local avail, why = false, "this build has no CUDA runtime"
    if core.cuda_available then avail, why = core.cuda_available() end
    if not avail then error("autotune: cuda: unavailable (" .. tostring(why) .. ")", 0) end
    ngpu = core.cuda_device_count()
    return ngpu
  end
  if opts.devices then
    if type(opts.devices) ~= "table" or #opts.devices == 0 then
      error("autotune: devices must be a non-empty list such as {\"cpu\"} or {\"cuda:0\"}", 0)
    end
    local seen = {}
    for i, d in ipairs(opts.devices) do
      local dev, why = W.parse_device(d)
      if not dev then error("autotune: " .. why, 0) end
      if dev.kind ~= target then
        error("autotune: device " .. dev.name .. " cannot run this search: the kernel compiles for "
          .. target .. " (give " .. (target == "cuda" and "\"cuda:N\"" or "\"cpu\"")
          .. " devices)", 0)
      end
      if dev.kind == "cuda" then
        if seen[dev.name] then
          error("autotune: device " .. dev.name .. " is listed twice (one worker per GPU: two "
            .. "would time each other)", 0)
        end
        seen[dev.name] = true
        if dev.ordinal >= gpus() then
          error(string.format("autotune: device %s does not exist (this machine has %d GPU%s)",
                              dev.name, gpus(), gpus() == 1 and "" or "s"), 0)
        end
      end
      list[i] = dev.name
    end
    if target == "cuda" then return list end
  else
    local n = opts.workers
    if n ~= nil and (math.type(n) ~= "integer" or n < 1) then
      error("autotune: workers must be a positive integer, got " .. tostring(n), 0)
    end
    if target == "cuda" then
      for i = 1, math.min(n or gpus(), gpus()) do list[i] = "cuda:" .. (i - 1) end
      return list
    end
    for i = 1, n or 1 do list[i] = "cpu" end
  end
  local cores = core.cpu_count and core.cpu_count() or nil
  if cores and #list > cores then
    for i = #list, cores + 1, -1 do list[i] = nil end
  end
  return list
end

local Pool = {}
Pool.__index = Pool

-- M.new(devices, timeout_s [, batch [, locks]]) -> a pool (workers start on first use). A worker
-- takes up to `batch` jobs at once and compiles them on `threads` threads (the cores shared
-- among the workers); batch 1 compiles one candidate at a time. locks[i]: the path of the file
-- lock slot i's worker holds while it uses its GPU (workers that share a GPU take turns).
function M.new(devices, timeout, batch, locks)
  local slots = {}
  for i, d in ipairs(devices) do
    slots[i] = {device = d, setups = {}, jobs = {}, expect = {}, known_sent = {},
                lock = locks and locks[i] or nil}
  end
  local cores = core.cpu_count and core.cpu_count() or 1
  local threads = math.max(1, cores // math.max(1, #devices))
  return setmetatable({slots = slots, timeout = timeout, started = 0, threads = threads,
                       batch = batch or 2 * threads, requeue = {}, known = {}}, Pool)
end

function Pool:close()
  for _, s in ipairs(self.slots) do
    if s.w then s.w:kill() end
    s.w = nil
  end
end

-- The setup for a search (the default config's launch, captured without running it, then run
-- here for the reference outputs): {sid, v (the variant), msg}; nil and a reason when the
-- kernel cannot go through workers.
function M.setup(search)
  local bound, args, space = search.bound, search.args, search.space
  local cfg = require("helua.config").new(space:default())
  local captured
  bound._launch = function(_, v, _, a) -- a may be a reused table: copy it
    captured = {v = v, args = table.move(a, 1, #a, 1, {})}
  end
  local ok, err = pcall(function() bound:run(cfg, table.unpack(args, 1, args.n)) end)
  bound._launch = nil
  if not ok then return nil, tostring(err) end
  if not captured then return nil, "the kernel did not launch" end
  local inputs = {}
  for i = 1, args.n do
    if helua.is_tensor(args[i]) then inputs[args[i]] = true end
  end
  -- a device tensor travels as its bytes, copied straight from the GPU (the worker puts it on
  -- its own GPU)
  local function pack_host(t) return core.tensor_pack(t) end
  local packed, outputs = {}, {}
  for i, a in ipairs(captured.args) do
    if helua.is_tensor(a) then
      local okp, bytes = pcall(pack_host, a)
      if not okp then return nil, tostring(bytes) end
      packed[i] = {tensor = bytes}
      if not inputs[a] then outputs[#outputs + 1] = i end
    else
      packed[i] = {number = a}
    end
  end
  bound:_launch(captured.v, cfg, captured.args) -- the reference: it already ran here safely
  -- an input the kernel writes in place is an output too (fresh for every job, compared)
  for i, a in ipairs(captured.args) do
    if helua.is_tensor(a) and inputs[a] and not core.tensor_same_bytes(a, packed[i].tensor) then
      outputs[#outputs + 1] = i
    end
  end
  table.sort(outputs)
  local want = {}
  for k, i in ipairs(outputs) do want[k] = pack_host(captured.args[i]) end
  return {sid = 1, v = captured.v, msg = {op = "setup", sid = 1,
    ir = core.ir_serialize(captured.v.func), args = packed, outputs = outputs, want = want}}
end

-- Starts the slot's worker when it has none; false and a message when it cannot.
local function ensure(self, s)
  if s.w then return true end
  local ok, w = pcall(core.worker_spawn, s.device)
  if not ok then return false, tostring(w) end
  s.w, s.setups, s.expect, s.jobs, s.known_sent = w, {}, {}, {}, {}
  self.started = self.started + 1
  return true
end

-- msg: a table (encoded here) or a setup (its msg encoded once, kept: each worker gets the
-- same bytes, and a setup can carry a gigabyte of tensors).
local function send(s, msg)
  if msg.msg then
    if not msg.bytes then
      msg.bytes = W.pack_parts(msg.msg)
      if #msg.bytes > 4000 then msg.bytes = table.concat(msg.bytes) end -- w:send's limit
    end
    return s.w:send(msg.bytes)
  end
  local ok, err = s.w:send(W.pack(msg))
  return ok, err
end

-- Hands a batch of jobs (one setup) to slot s: the setup first when this worker lacks it.
-- false on a send failure.
local function dispatch(self, s, jobs)
  local ok, err = ensure(self, s)
  if not ok then return false, err end
  s.expect = s.expect or {} -- a setup sent ahead (Pool:warm) may still owe its reply
  local setup = jobs[1].setup
  if not s.setups[setup.sid] then
    ok, err = send(s, setup)
    if not ok then return false, err end
    s.setups[setup.sid] = true
    s.expect[#s.expect + 1] = "setup"
  end
  local list = {}
  for i, job in ipairs(jobs) do
    list[i] = {config = job.config, key = job.key, repeats = job.repeats, cut_s = job.cut_s}
  end
  -- the binaries other workers measured since this one last heard: it reuses them
  local known, sent = {}, s.known_sent[setup.sid] or {}
  s.known_sent[setup.sid] = sent
  for bkey, r in pairs(self.known[setup.sid] or {}) do
    if not sent[bkey] then known[bkey], sent[bkey] = r, true end
  end
  ok, err = send(s, {op = "jobs", sid = setup.sid, threads = self.threads, jobs = list,
                     known = known, stop_at = self.stop_at, gpu_lock = s.lock})
  if not ok then return false, err end
  for i, job in ipairs(jobs) do
    s.expect[#s.expect + 1] = "job"
    s.jobs[i] = job
  end
  -- the batch compiles first (every config at once, `threads` at a time), then runs job by job
  s.deadline = core.clock() + self.timeout * (1 + math.ceil(#jobs / self.threads))
  return true
end

-- Starts every worker but the first and sends it the setup now, so that its process start,
-- CUDA context and upload overlap the default's trial on the first worker instead of delaying
-- its first batch. Its reply is read with that batch's. A worker that cannot start is left to
-- the first dispatch (which reports it).
function Pool:warm(setup)
  for k, s in ipairs(self.slots) do
    if k > 1 and not s.broken and not s.w and ensure(self, s) then
      if send(s, setup) then
        s.setups[setup.sid] = true
        s.expect = {"setup"}
      else
        s.w:kill()
        s.w = nil
      end
    end
  end
end

local function drop(s)
  if s.w then s.w:kill() end
  s.w, s.deadline, s.expect, s.jobs = nil, nil, {}, {}
end

-- The next job: one a dead worker left over first, then next_job().
local function take(self, next_job)
  if #self.requeue > 0 then return table.remove(self.requeue, 1) end
  return next_job()
end

-- A dead worker's jobs: the one it was running failed (fail_status), the rest run again.
local function fail_slot(self, s, result, done)
  local jobs = s.jobs
  drop(s)
  if jobs[1] then done(jobs[1], result) end
  for i = #jobs, 2, -1 do table.insert(self.requeue, 1, jobs[i]) end
end

-- A worker that exited with 3 could not use its device (its stderr says why, e.g. "cuda:
-- unavailable"): its slot takes no more jobs; the other workers take its batch.
local function broken_slot(self, s)
  local jobs = s.jobs
  drop(s)
  s.broken = "the worker for " .. s.device .. " could not start on its device (see stderr)"
  for i = #jobs, 1, -1 do table.insert(self.requeue, 1, jobs[i]) end
end

-- Remembers a worker's measurement of a binary (its binary_key), for the other workers.
function Pool:learn(job, r)
  if not r.binary_key or r.same_binary_as or r.status == "error" or r.status == "crash"
    or r.status == "timeout" or r.status == "skipped" then
    return
  end
  local sid = job.setup.sid
  self.known[sid] = self.known[sid] or {}
  self.known[sid][r.binary_key] = self.known[sid][r.binary_key]
    or {status = r.status, message = r.message, samples = r.samples, cut = r.cut, key = job.key}
end

-- Runs jobs from next_job() (nil: no more) on free workers, in batches of up to `batch` per
-- worker; done(job, result) per finished job, in completion order. result: {status, message,
-- samples, cut, compile_s, device}. A worker that dies fails the job it was on; its other jobs
-- go to the next free worker. left() (optional): about how many jobs next_job() still has;
-- a batch then takes only a fair share of them (ceil(left / workers)), so that a generation
-- spreads over every worker instead of filling the first one's batch.
function Pool:run(next_job, done, left)
  local more = true
  local inner_done = done
  done = function(job, r)
    self:learn(job, r)
    return inner_done(job, r)
  end
  while true do
    local broken = 0
    for _, s in ipairs(self.slots) do
      if s.broken then broken = broken + 1 end
    end
    if broken == #self.slots then -- no worker can start: every job left fails with the reason
      local why = self.slots[1].broken
      while true do
        local job = take(self, next_job)
        if not job then return end
        done(job, {status = "error", message = why, device = self.slots[1].device})
      end
    end
    local usable = #self.slots - broken
    for _, s in ipairs(self.slots) do
      while not s.broken and (more or #self.requeue > 0) and #s.jobs == 0 do
        local batch = {}
        local size = self.batch
        if left then
          size = math.max(1, math.min(size, -(-(left() + #self.requeue) // math.max(1, usable))))
        end
        while #batch < size do
          local job = take(self, next_job)
          if not job then more = false break end
          batch[#batch + 1] = job
        end
        if #batch == 0 then break end
        local ok, err = dispatch(self, s, batch)
        if not ok then
          s.jobs = batch
          local how, detail -- a worker that exited at start says why by its status
          if s.w then
            local w, frame, h, d = core.worker_wait({s.w}, 2)
            if w and not frame then how, detail = h, d end
          end
          if how == "exit" and detail == 3 then
            broken_slot(self, s)
          else
            fail_slot(self, s, {status = "crash", device = s.device,
                                message = "the worker could not take the job: " .. tostring(err)},
                      done)
          end
        end
      end
    end
    local busy = {}
    local first_deadline = math.huge
    for _, s in ipairs(self.slots) do
      if #s.jobs > 0 then
        busy[#busy + 1] = s.w
        first_deadline = math.min(first_deadline, s.deadline)
      end
    end
    if #busy == 0 then
      if not more and #self.requeue == 0 then return end
    else
      local w, frame, how, detail = core.worker_wait(busy,
                                                     math.max(0.001, first_deadline - core.clock()))
      local s
      for _, x in ipairs(self.slots) do if w and x.w == w then s = x end end
      if s and frame then
        local okm, reply = pcall(W.unpack, frame)
        if not okm then
          reply = {status = "error", message = "bad worker reply: " .. tostring(reply)}
        end
        local kind = table.remove(s.expect, 1)
        if kind == "setup" then -- the slowest worker's setup (decode, upload), for the log
          self.setup_s = math.max(self.setup_s or 0, tonumber(reply.seconds) or 0)
        end
        if kind == "setup" and reply.status ~= "ok" then
          s.setup_error = reply.message
        elseif kind == "job" then
          local job = table.remove(s.jobs, 1)
          s.deadline = core.clock() + self.timeout
          if s.setup_error then
            reply = {status = "error", message = "the worker's setup failed: " .. s.setup_error}
            if #s.jobs == 0 then s.setup_error, s.setups = nil, {} end
          end
          reply.device = reply.device or s.device
          done(job, reply)
          if reply.fatal then -- its CUDA context died: it exits; a fresh one takes the rest
            for i = #s.jobs, 1, -1 do table.insert(self.requeue, 1, s.jobs[i]) end
            drop(s)
          end
        end
      elseif s and how == "exit" and detail == 3 then
        broken_slot(self, s)
      elseif s then -- the worker ended: a crash for its current job; a fresh one takes the rest
        local msg = how == "signal" and ("the worker died of " .. tostring(detail))
          or ("the worker exited with " .. tostring(detail))
        fail_slot(self, s, {status = "crash", message = msg, device = s.device}, done)
      else -- timeout: the jobs past their deadline
        local now = core.clock()
        for _, x in ipairs(self.slots) do
          if #x.jobs > 0 and x.deadline <= now then
            fail_slot(self, x, {status = "timeout", device = x.device,
                                message = string.format("ran past %gs; killed", self.timeout)},
                      done)
          end
        end
      end
    end
  end
end

-- One request outside the job stream (the leaders' re-timing): sent to the first worker with
-- the setup (sent first when it lacks it); the reply table, or nil and why (the worker is then
-- replaced on next use).
function Pool:call(setup, msg, timeout)
  local s = self.slots[1]
  local ok, err = ensure(self, s)
  if not ok then return nil, err end
  local want = 1
  if not s.setups[setup.sid] then
    ok, err = send(s, setup)
    if not ok then drop(s) return nil, err end
    s.setups[setup.sid] = true
    want = 2
  end
  ok, err = send(s, msg)
  if not ok then drop(s) return nil, err end
  local deadline = core.clock() + (timeout or self.timeout)
  local reply
  for _ = 1, want do
    local w, frame, how, detail = core.worker_wait({s.w}, math.max(0.001, deadline - core.clock()))
    if not w then drop(s) return nil, "timed out" end
    if not frame then
      drop(s)
      return nil, "the worker ended (" .. tostring(how) .. " " .. tostring(detail) .. ")"
    end
    reply = W.unpack(frame)
  end
  return reply
end

-- A generation through the pool (Search:evaluate_all): candidates of the setup's variant run as
-- worker jobs; another variant (a config that changes what the host code traces) runs in a
-- forked worker, as before. Stops handing out jobs at the budget.
function Pool:evaluate_all(search, cands)
  local out, i = {}, 0
  local bound = search.bound
  local function next_job()
    while true do
      i = i + 1
      if i > #cands or search:over_budget() then return nil end
      local trial, new = search:admit(cands[i])
      out[i] = trial
      if new then
        local okv, v = pcall(bound._variant, bound, trial.cfg)
        if okv and v == search.setup.v then
          local okt, tbl = pcall(bound._config_table, bound, v, trial.cfg)
          if okt then
            return {trial = trial, setup = search.setup, config = tbl, key = trial.key,
                    repeats = search.repeats, index = i,
                    cut_s = search.best and search.best.time * search.slower or nil}
          end
          search:record(trial, {status = "error", message = tostring(tbl):gsub("\n.*", ""),
                                device = search.host_device})
        elseif not okv then
          search:record(trial, {status = "error", message = tostring(v):gsub("\n.*", ""),
                                device = search.host_device})
        elseif search.target == "cuda" then -- no fork after CUDA is initialized in this process
          search:record(trial, {status = "error", device = search.host_device,
            message = "this config changes what the host code traces; a GPU worker runs only the "
              .. "default's trace"})
        else
          search:run_forked(trial)
        end
      end
    end
  end
  -- a worker skips the jobs it would start past the budget (stop_at: the same monotonic clock)
  self.stop_at = not search.unbudgeted and search.t0 + search.budget or nil
  self:run(next_job, function(job, r)
    if r.status == "skipped" then -- not run: as if never proposed (not told to the strategy)
      search:unadmit(job.trial)
      out[job.index] = nil
    else
      search:record(job.trial, r)
    end
  end, function() return math.max(0, #cands - i) end)
  return out
end

return M
