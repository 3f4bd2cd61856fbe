-- A tuning worker process (`helua --tune-worker DEVICE`, started by helua.tune_pool through
-- /proc/self/exe) and the messages it exchanges with the tuner. Part of lua/helua (the worker
-- side of the autotuner's worker pool; share/doc/tuning.md, "Worker pool").
--
-- DEVICE is "cpu" or "cuda:N": a cuda worker makes its own CUDA context on device N at start
-- (core.cuda_select_device before the first CUDA call), keeps the inputs on the GPU, compiles
-- for the cuda target and times with CUDA events, the L2 flushed before every timed launch.
--
-- The worker reads frames on stdin and answers each on stdout (core.worker_* frames: a u32
-- length and the bytes; the body is M.encode of a Lua table):
--   {op = "setup", sid, ir, args = {{tensor = bytes} | {number = x}, ...}, outputs = {i...},
--    want = {bytes...}}       the kernel's tile IR, its launch arguments in IR order, which of
--                             them are outputs, and the default config's outputs (the reference)
--   {op = "jobs", sid, threads, jobs = {{config, key, repeats, cut_s}, ...},
--    known = {[binary_key] = {status, samples, cut, message, key}},
--    stop_at,                 (core.clock() time of the search's budget: a job not started by
--                             then is answered {status = "skipped"}, not run)
--    gpu_lock}                (a file lock's path: held while checking and timing, when
--                             several workers share the GPU)
--                             compile every config on `threads` threads (core.compile_many),
--                             then per job in order: launch once on fresh outputs, compare with
--                             the reference, time `repeats` launches; one reply per job:
--   -> {status = "ok"|"wrong"|"error", samples, cut, message, device, binary_key,
--       compile_s, jit_s, wait_s, check_s, time_s,   (the phases' seconds: Worker:jobs)
--       same_binary_as,    (a config whose binary this worker, or another one (`known`, from
--                            the tuner), already ran: that measurement)
--       fatal}             (cuda: the context died with this job; the worker exits after it)
--   {op = "job", sid, config, key, repeats, cut_s}: a batch of one
--   {op = "retime", sid, threads, configs, rounds, repeats} -> {status, times = {s...}}: the
--                             configs timed interleaved, `rounds` rounds of `repeats` launches
--                             (the median of each round; times[i] = the median of the rounds)
--   {op = "ping"} -> {status = "ok", device}
-- End of input ends the worker (exit 0).
local core = require "helua.core"

local M = {}

-- ---- the message codec: nil, booleans, numbers, strings, tables, helua.none ------------------

local NONE_TAG = "N"

function M.encode(v, out)
  out = out or {}
  local t = type(v)
  if v == nil then
    out[#out + 1] = "z"
  elseif t == "boolean" then
    out[#out + 1] = v and "T" or "F"
  elseif math.type(v) == "integer" then
    out[#out + 1] = string.pack("<c1j", "i", v)
  elseif t == "number" then
    out[#out + 1] = string.pack("<c1n", "d", v)
  elseif t == "string" then -- the bytes themselves go in as they are (tensors: no extra copy)
    out[#out + 1] = string.pack("<c1I4", "s", #v)
    out[#out + 1] = v
  elseif t == "table" and v == require("helua.config").none then
    out[#out + 1] = NONE_TAG
  elseif t == "table" then
    out[#out + 1] = "t"
    for k, x in pairs(v) do
      M.encode(k, out)
      M.encode(x, out)
    end
    out[#out + 1] = "e"
  else
    error("tune_worker: cannot encode a " .. t, 0)
  end
  return out
end

function M.pack(v) return table.concat(M.encode(v)) end

-- The encoding as a list of strings (w:send writes them as one frame without joining them).
function M.pack_parts(v) return M.encode(v) end

-- Strings this long decode (with slices on) as {slice = frame, at, len}: a tensor's bytes stay
-- in the frame they came in (core.tensor_unpack reads them there), never copied out.
local SLICE_MIN = 16 << 20

local function decode_at(s, pos, slices)
  local tag = s:sub(pos, pos)
  if tag == "z" then return nil, pos + 1 end
  if tag == "T" then return true, pos + 1 end
  if tag == "F" then return false, pos + 1 end
  if tag == NONE_TAG then return require("helua.config").none, pos + 1 end
  if tag == "i" then return string.unpack("<j", s, pos + 1) end
  if tag == "d" then return string.unpack("<n", s, pos + 1) end
  if tag == "s" then
    local n = string.unpack("<I4", s, pos + 1)
    if slices and n >= SLICE_MIN and pos + 4 + n <= #s then
      return {slice = s, at = pos + 5, len = n}, pos + 5 + n
    end
    return string.unpack("<s4", s, pos + 1)
  end
  if tag == "t" then
    local t = {}
    pos = pos + 1
    while s:sub(pos, pos) ~= "e" do
      if pos > #s then error("tune_worker: truncated message", 0) end
      local k, v
      k, pos = decode_at(s, pos, slices)
      v, pos = decode_at(s, pos, slices)
      if k == nil then error("tune_worker: a nil key", 0) end
      t[k] = v
    end
    return t, pos + 1
  end
  error("tune_worker: malformed message (tag " .. string.format("%q", tag) .. ")", 0)
end

-- slices: big strings come back as slices of s (the worker's setup; see SLICE_MIN).
function M.unpack(s, slices)
  local v, pos = decode_at(s, 1, slices)
  if pos ~= #s + 1 then error("tune_worker: bytes left over in a message", 0) end
  return v
end

-- ---- the worker --------------------------------------------------------------------------------

-- A device name: "cpu" -> {kind = "cpu"}; "cuda" or "cuda:N" -> {kind = "cuda", ordinal = N};
-- anything else -> nil and a message.
function M.parse_device(d)
  if d == "cpu" then return {kind = "cpu", name = "cpu"} end
  if d == "cuda" then return {kind = "cuda", ordinal = 0, name = "cuda:0"} end
  local n = type(d) == "string" and d:match("^cuda:(%d+)$")
  if n and tonumber(n) < 16 then
    return {kind = "cuda", ordinal = math.tointeger(tonumber(n)), name = "cuda:" .. tonumber(n)}
  end
  return nil, "unknown device " .. string.format("%q", tostring(d))
    .. " (devices are \"cpu\" and \"cuda:N\", N = 0..15)"
end

local median = require("helua.run").median

-- A tensor from its packed bytes: a string, or a slice of the frame they came in.
local function unpack_tensor(x)
  if type(x) == "table" and x.slice then return core.tensor_unpack(x.slice, x.at, x.len) end
  return core.tensor_unpack(x)
end

local function read_frame()
  local hdr = io.stdin:read(4)
  if not hdr or #hdr < 4 then return nil end
  local n = string.unpack("<I4", hdr)
  local body = n > 0 and io.stdin:read(n) or ""
  if not body or #body < n then return nil end
  return body
end

local function write_frame(v)
  local body = M.pack(v)
  io.stdout:write(string.pack("<I4", #body), body)
  io.stdout:flush()
end

local function first_line(e) return (tostring(e):gsub("\n.*", "")) end

local Worker = {}
Worker.__index = Worker

-- A tensor of the setup on this worker's device (cuda: a copy on the GPU).
function Worker:place(t)
  if self.cuda then return core.to_device(t, "cuda") end
  return t
end

-- Back on the host for the comparison with the reference. cuda: into the setup's page-locked
-- host buffer for output k (made by the first copy, then reused: the copy runs at full PCIe
-- speed and touches no fresh pages; pageable memory when pinning fails).
function Worker:host(t, s, k)
  if not self.cuda then return t end
  local buf = s and s.host_bufs[k]
  if buf and pcall(buf.copy_, buf, t) then return buf end
  buf = core.to_device(t, "cpu")
  if s then
    local okp, pinned = pcall(core.cuda_pin, buf)
    s.host_bufs[k] = okp and pinned or buf
  end
  return buf
end

-- Releases a candidate's fresh outputs now (device memory; the collector would keep gigabytes
-- of them alive between collections), not the setup's inputs.
function Worker:release(s, args)
  for _, i in ipairs(s.outputs) do
    local t = args[i]
    if t ~= s.inputs[i] and t ~= s.pristine[i] then
      local mt = getmetatable(t)
      if type(mt) == "table" and mt.__close then mt.__close(t) end
    end
  end
end

function Worker:setup(msg)
  local t0 = core.clock()
  local s = {sid = msg.sid, func = core.ir_deserialize(msg.ir), packed = msg.args,
             outputs = msg.outputs, want = {n = #msg.want}, is_out = {}}
  for i, w in ipairs(msg.want) do s.want[i] = unpack_tensor(w) end
  for _, i in ipairs(msg.outputs) do s.is_out[i] = true end
  s.inputs, s.pristine, s.host_bufs = {}, {}, {}
  for i, a in ipairs(msg.args) do
    if a.tensor and not s.is_out[i] then s.inputs[i] = self:place(unpack_tensor(a.tensor)) end
  end
  self.setups[msg.sid] = s
  self.order[#self.order + 1] = msg.sid
  while #self.order > 4 do self.setups[table.remove(self.order, 1)] = nil end
  return {status = "ok", seconds = core.clock() - t0}
end

local function contiguous(t)
  local st, want = t:stride(), 1
  local sz = t:size()
  sz = type(sz) == "table" and sz or {t:size()}
  for d = #sz, 1, -1 do
    if sz[d] > 1 and st[d] ~= want then return false end
    want = want * sz[d]
  end
  return true
end

-- The launch arguments: the inputs as set up, every output fresh from its packed bytes (cuda:
-- a device-to-device copy of the output's pristine copy on the GPU, made once per setup, when
-- it is contiguous).
function Worker:launch_args(s)
  local args = {}
  for i, a in ipairs(s.packed) do
    if a.tensor then
      if s.inputs[i] then
        args[i] = s.inputs[i]
      elseif self.cuda then
        local p = s.pristine[i]
        if p == nil then
          p = self:place(unpack_tensor(a.tensor))
          s.pristine[i] = contiguous(p) and p
          args[i] = s.pristine[i] and p:clone() or p
        elseif p then
          args[i] = p:clone()
        else
          args[i] = self:place(unpack_tensor(a.tensor))
        end
      else
        args[i] = unpack_tensor(a.tensor)
      end
    else
      args[i] = a.number
    end
  end
  return args
end

-- ---- timing ------------------------------------------------------------------------------------

-- The L2 flush buffer of a cuda worker: twice the L2 (from the device info; at least 8 MiB),
-- written (a memset) before every timed launch so that no candidate reads what the previous
-- launch left in L2.
function Worker:flush()
  if not self.flush_buf then
    local info = core.cuda_device_info(self.ordinal)
    local bytes = math.max(2 * (info.l2_bytes or 0), 8 << 20)
    self.flush_buf = require("helua").empty({bytes // 4}, {device = "cuda",
                                                          dtype = require("helua").int32})
    self.flush_n = 0
  end
  self.flush_n = self.flush_n + 1
  self.flush_buf:fill_(self.flush_n % 2)
end

-- Seconds of one launch of ck on args: CUDA events around the launch alone (after an L2 flush)
-- on a GPU, core.clock() around the launch on the CPU.
function Worker:time_launch(ck, args)
  if not self.cuda then
    local t0 = core.clock()
    ck:launch(args)
    return core.clock() - t0
  end
  self:flush()
  self.e0:record()
  ck:launch(args)
  self.e1:record()
  self.e1:synchronize()
  return self.e0:elapsed_ms(self.e1) / 1e3
end

-- After a failed cuda launch: whether the context still works. An illegal address, a misaligned
-- access or an illegal instruction leave the context dead: every later call fails, so the
-- worker answers this job and exits (the pool starts a fresh one for the rest).
function Worker:context_dead()
  if not self.cuda then return false end
  return not pcall(core.cuda_synchronize)
end

-- ---- jobs --------------------------------------------------------------------------------------

-- One job of a batch whose config compiled into ck (a kernel, or the compile's error text):
-- checked, timed, answered. Returns true when the CUDA context died with it (the worker exits).
function Worker:one(s, j, ck, compile_s, reply, wait_s)
  local fault = core.flag("HELUA_TEST_FAULT_CONFIG")
  if fault and fault ~= "" and j.key and j.key:find(fault, 1, true) then core.tune_fault() end
  local r = {compile_s = compile_s, wait_s = wait_s, samples = {}, device = self.device}
  if type(ck) ~= "userdata" then
    r.status, r.message = "error", first_line(ck)
    reply(r)
    return false
  end
  local okr, res = pcall(self.run_compiled, self, s, ck, j, r)
  if not okr then res = {status = "error", message = first_line(res)} end
  if res.status ~= "ok" and self:context_dead() then
    res.fatal = true
    res.message = tostring(res.message) .. " (the CUDA context is dead: the worker restarts)"
  end
  reply(res)
  return res.fatal
end

-- A batch of jobs, one reply frame each (reply(result)), in order. On the CPU every config
-- compiles at once on `threads` threads (core.compile_many), then each job is checked and timed
-- alone on the machine. On a GPU the batch compiles in chunks on background threads
-- (core.compile_start, one core left to the launching thread), and each thread also loads its
-- module (the driver's PTX JIT) right after the lowering: while chunk k + 1 compiles and loads,
-- chunk k's candidates are checked and timed on the device, so the launching thread waits for
-- neither. msg.known: measurements of binaries other workers ran ({[binary_key] = result}),
-- reused here (see run_compiled).
-- Each reply carries the phases' seconds: compile_s (its share of the chunk's compile wall
-- time), jit_s (its module's load), wait_s (its share of the time this thread waited for the
-- chunk), check_s (first launch, copy back, compare) and time_s (the timed launches).
function Worker:jobs(msg, reply)
  local s = self.setups[msg.sid]
  if not s then
    for _ = 1, #msg.jobs do
      reply({status = "error", message = "unknown setup " .. tostring(msg.sid)})
    end
    return
  end
  for bkey, r in pairs(msg.known or {}) do
    self.binaries[s.sid .. "/" .. bkey] = self.binaries[s.sid .. "/" .. bkey] or r
  end
  local jobs, threads = msg.jobs, msg.threads or 1
  self.check_threads = threads
  if self.cuda then threads = math.max(1, threads - 1) end
  local chunk = self.cuda and threads or #jobs
  -- cuda: a smaller first chunk, so that checking and timing start sooner (the rest of the
  -- batch compiles and loads meanwhile)
  local first_chunk = self.cuda and math.max(1, math.min(chunk, -(-#jobs // 4))) or chunk
  local prefix = s.sid .. "/"
  -- the binaries this worker measured (or heard of), and those of the chunk being measured:
  -- a compile thread does not load (JIT) another copy of one of them
  local function skip_list(cur)
    local keys = {}
    for k in pairs(self.binaries) do
      if k:sub(1, #prefix) == prefix then keys[#keys + 1] = k:sub(#prefix + 1) end
    end
    for k = 1, cur and cur.cks and cur.n or 0 do
      local ck = cur.cks[k]
      if type(ck) == "userdata" then
        local ok, info = pcall(ck.info, ck)
        if ok and info.binary_key then keys[#keys + 1] = info.binary_key end
      end
    end
    return keys
  end
  local function start(first, cur)
    if first > #jobs then return nil end
    if msg.stop_at and core.clock() > msg.stop_at then -- past the budget: nothing more compiles
      return {first = first, n = #jobs - first + 1, skipped = true}
    end
    local configs = {}
    local size = first == 1 and first_chunk or chunk
    for i = first, math.min(#jobs, first + size - 1) do configs[#configs + 1] = jobs[i].config end
    local c = {first = first, n = #configs, t0 = core.clock()}
    if self.cuda then
      local oks, skip = pcall(skip_list, cur)
      local ok, job = pcall(core.compile_start, s.func, configs, threads, "cuda", true,
                            oks and skip or nil)
      if ok then c.job = job else c.err = job end
    else
      local ok, cks = pcall(core.compile_many, s.func, configs, threads, "cpu")
      if ok then c.cks = cks else c.err = cks end
      c.secs = core.clock() - c.t0
    end
    return c
  end
  local cur = start(1)
  while cur do
    local w0 = core.clock()
    if cur.job then
      local ok, cks, secs = pcall(cur.job.wait, cur.job)
      if ok then cur.cks, cur.secs = cks, secs else cur.err = cks end
    end
    local wait_s = (self.cuda and core.clock() - w0 or cur.secs or 0) / math.max(1, cur.n)
    -- the next chunk compiles (and loads) while this one is checked and timed
    local nxt = self.cuda and start(cur.first + cur.n, cur) or nil
    local compile_s = (cur.secs or 0) / math.max(1, cur.n)
    for k = 1, cur.n do
      local ck = cur.cks and (cur.cks[k] or "not compiled") or cur.err
      if cur.skipped or (msg.stop_at and core.clock() > msg.stop_at) then
        -- the search's budget ran out while this batch waited: not run (the tuner forgets it)
        if type(ck) == "userdata" then ck:close() end
        reply({status = "skipped", samples = {}, message = "not run: past the search's budget"})
      elseif self:one(s, jobs[cur.first + k - 1], ck, compile_s, reply, wait_s) then
        return "fatal"
      end
      if cur.cks then cur.cks[k] = nil end -- closed by the collector once measured
    end
    cur = nxt or (not self.cuda and start(cur.first + cur.n)) or nil
  end
end

function Worker:run_compiled(s, ck, msg, r)
  -- identical binaries (two configs that lower to the same code and launch shape) run once:
  -- the later config gets the earlier one's measurement (this worker's, or another worker's
  -- that the tuner passed on in msg.known)
  local okb, info = pcall(ck.info, ck)
  r.binary_key = okb and info.binary_key or nil
  local bkey = r.binary_key and (s.sid .. "/" .. r.binary_key) or nil
  local same = bkey and self.binaries[bkey]
  if same then
    ck:close()
    return {status = same.status, message = same.message, samples = same.samples, cut = same.cut,
            compile_s = r.compile_s, wait_s = r.wait_s, device = self.device,
            same_binary_as = same.key, binary_key = r.binary_key}
  end
  local result = self:exclusive(self.measure, self, s, ck, msg, r)
  result.jit_s = okb and info.compile_ms and (info.compile_ms.jit or 0) / 1e3 or nil
  if bkey and result.status ~= "error" then
    result.key = msg.key
    self.binaries[bkey] = {status = result.status, message = result.message,
                           samples = result.samples, cut = result.cut, key = msg.key}
  end
  return result
end

-- fn(...) with the GPU to this worker alone when workers share it (self.lock, a file lock);
-- released whatever fn does.
function Worker:exclusive(fn, ...)
  if not self.lock then return fn(...) end
  self.lock:hold(true)
  local res = table.pack(pcall(fn, ...))
  self.lock:hold(false)
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

function Worker:measure(s, ck, msg, r)
  local t0 = core.clock()
  local args = self:launch_args(s)
  local result = self:measure_on(s, ck, msg, r, args, t0)
  self:release(s, args)
  return result
end

function Worker:measure_on(s, ck, msg, r, args, t0)
  local okl, err = pcall(ck.launch, ck, args)
  if okl and self.cuda then okl, err = pcall(core.cuda_synchronize) end
  if not okl then
    r.status, r.message = "error", first_line(err)
    r.check_s = core.clock() - t0
    return r
  end
  local got = {n = #s.outputs}
  for k, i in ipairs(s.outputs) do got[k] = self:host(args[i], s, k) end
  local msg_wrong = require("helua.tune").compare(got, s.want, self.check_threads)
  r.check_s = core.clock() - t0
  if msg_wrong then
    r.status, r.message = "wrong", msg_wrong
    return r
  end
  local t1 = core.clock()
  for _ = 1, msg.repeats or 3 do
    local dt = self:time_launch(ck, args)
    r.samples[#r.samples + 1] = dt
    if msg.cut_s and dt >= msg.cut_s then r.cut = true break end
  end
  r.time_s = core.clock() - t1
  r.status = "ok"
  r.time = median(r.samples)
  ck:close()
  return r
end

-- The leaders of a search re-timed interleaved: every config compiled and launched once, then
-- `rounds` rounds in which each config runs `repeats` timed launches (a round's median kept).
function Worker:retime(msg)
  local s = self.setups[msg.sid]
  if not s then return {status = "error", message = "unknown setup " .. tostring(msg.sid)} end
  local cks = core.compile_many(s.func, msg.configs, msg.threads or 1, self.target)
  local args = self:launch_args(s)
  local rounds = {}
  for i, ck in ipairs(cks) do
    if type(ck) ~= "userdata" then
      return {status = "error", message = "config " .. i .. ": " .. first_line(ck)}
    end
    ck:launch(args)
    rounds[i] = {}
  end
  for _ = 1, msg.rounds or 5 do
    for i, ck in ipairs(cks) do
      local xs = {}
      for r = 1, msg.repeats or 3 do xs[r] = self:time_launch(ck, args) end
      rounds[i][#rounds[i] + 1] = median(xs)
    end
  end
  local times = {}
  for i, ck in ipairs(cks) do
    times[i] = median(rounds[i])
    ck:close()
  end
  return {status = "ok", times = times}
end

-- A cuda worker's context on its device; nil and the reason when CUDA is unavailable.
function Worker:start_cuda()
  local ok, err = pcall(core.cuda_select_device, self.ordinal)
  if not ok then return nil, first_line(err) end
  local avail, why = core.cuda_available()
  if not avail then return nil, "cuda: unavailable (" .. tostring(why) .. ")" end
  local okn, n = pcall(core.cuda_device_count)
  if not okn then return nil, first_line(n) end
  if self.ordinal >= n then
    return nil, string.format("cuda device %d does not exist (this machine has %d)", self.ordinal,
                              n)
  end
  self.e0, self.e1 = core.cuda_event(), core.cuda_event()
  return true
end

-- The worker's main loop; returns the exit code (3: the device cannot be used; 4: the CUDA
-- context died).
function M.main(device)
  core.worker_enter()
  local dev, why = M.parse_device(device)
  if not dev then
    io.stderr:write("helua worker: ", why, "\n")
    return 2
  end
  local self = setmetatable({device = dev.name, setups = {}, order = {}, binaries = {},
                             cuda = dev.kind == "cuda", ordinal = dev.ordinal,
                             target = dev.kind}, Worker)
  if self.cuda then
    local ok, err = self:start_cuda()
    if not ok then
      io.stderr:write("helua worker ", dev.name, ": ", err, "\n")
      return 3
    end
  end
  while true do
    local body = read_frame()
    if not body then return 0 end
    local sent = 0
    local function reply(r)
      r.device = self.device
      write_frame(r)
      sent = sent + 1
    end
    local ok, err = pcall(function()
      local msg = M.unpack(body, true)
      if msg.op == "setup" then return reply(self:setup(msg)) end
      if msg.op == "jobs" then
        if msg.gpu_lock and not self.lock then self.lock = core.gpu_lock(msg.gpu_lock) end
        return self:jobs({sid = msg.sid, jobs = msg.jobs, threads = msg.threads,
                          known = msg.known, stop_at = msg.stop_at}, reply)
      end
      if msg.op == "job" then return self:jobs({sid = msg.sid, jobs = {msg}}, reply) end
      if msg.op == "retime" then return reply(self:exclusive(self.retime, self, msg)) end
      if msg.op == "ping" then return reply({status = "ok"}) end
      return reply({status = "error", message = "unknown request " .. tostring(msg.op)})
    end)
    if ok and err == "fatal" then return 4 end
    if not ok and sent == 0 then
      reply({status = "error", message = first_line(err)})
      if self:context_dead() then return 4 end
    elseif not ok then
      io.stderr:write("helua worker: ", tostring(err), "\n")
      return 1 -- part of a batch answered: the tuner sees the exit and re-runs the rest
    end
  end
end

return M
