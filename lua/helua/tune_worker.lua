-- A tuning worker process (`helua --tune-worker DEVICE`, started by helua.tune_pool through
-- /proc/self/exe) and the messages it exchanges with the tuner. Part of lua/helua (the worker
-- side of the autotuner's worker pool; share/doc/tuning.md, "Worker pool").
--
-- The worker reads frames on stdin and answers each on stdout (core.worker_* frames: a u32
-- length and the bytes; the body is M.encode of a Lua table):
--   {op = "setup", sid, ir, args = {{tensor = bytes} | {number = x}, ...}, outputs = {i...},
--    want = {bytes...}}       the kernel's tile IR, its launch arguments in IR order, which of
--                             them are outputs, and the default config's outputs (the reference)
--   {op = "jobs", sid, threads, jobs = {{config, key, repeats, cut_s}, ...}}
--                             compile every config on `threads` threads (core.compile_many),
--                             then per job in order: launch once on fresh outputs, compare with
--                             the reference, time `repeats` launches; one reply per job:
--   -> {status = "ok"|"wrong"|"error", samples, cut, compile_s, message, device,
--       same_binary_as}    (a config whose binary this worker already ran: its measurement)
--   {op = "job", sid, config, key, repeats, cut_s}: a batch of one
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
  elseif t == "string" then
    out[#out + 1] = string.pack("<c1s4", "s", v)
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

local function decode_at(s, pos)
  local tag = s:sub(pos, pos)
  if tag == "z" then return nil, pos + 1 end
  if tag == "T" then return true, pos + 1 end
  if tag == "F" then return false, pos + 1 end
  if tag == NONE_TAG then return require("helua.config").none, pos + 1 end
  if tag == "i" then return string.unpack("<j", s, pos + 1) end
  if tag == "d" then return string.unpack("<n", s, pos + 1) end
  if tag == "s" then return string.unpack("<s4", s, pos + 1) end
  if tag == "t" then
    local t = {}
    pos = pos + 1
    while s:sub(pos, pos) ~= "e" do
      if pos > #s then error("tune_worker: truncated message", 0) end
      local k, v
      k, pos = decode_at(s, pos)
      v, pos = decode_at(s, pos)
      if k == nil then error("tune_worker: a nil key", 0) end
      t[k] = v
    end
    return t, pos + 1
  end
  error("tune_worker: malformed message (tag " .. string.format("%q", tag) .. ")", 0)
end

function M.unpack(s)
  local v, pos = decode_at(s, 1)
  if pos ~= #s + 1 then error("tune_worker: bytes left over in a message", 0) end
  return v
end

-- ---- the worker --------------------------------------------------------------------------------

local function median(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  if n == 0 then return math.huge end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
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

local Worker = {}
Worker.__index = Worker

function Worker:setup(msg)
  local s = {sid = msg.sid, func = core.ir_deserialize(msg.ir), packed = msg.args,
             outputs = msg.outputs, want = {n = #msg.want}, is_out = {}}
  for i, w in ipairs(msg.want) do s.want[i] = core.tensor_unpack(w) end
  for _, i in ipairs(msg.outputs) do s.is_out[i] = true end
  s.inputs = {}
  for i, a in ipairs(msg.args) do
    if a.tensor and not s.is_out[i] then s.inputs[i] = core.tensor_unpack(a.tensor) end
  end
  self.setups[msg.sid] = s
  self.order[#self.order + 1] = msg.sid
  while #self.order > 4 do self.setups[table.remove(self.order, 1)] = nil end
  return {status = "ok"}
end

-- The launch arguments: the inputs as set up, every output fresh from its packed bytes.
local function launch_args(s)
  local args = {}
  for i, a in ipairs(s.packed) do
    if a.tensor then
      args[i] = s.inputs[i] or core.tensor_unpack(a.tensor)
    else
      args[i] = a.number
    end
  end
  return args
end

-- A batch of jobs: every config compiled at once on `threads` threads (core.compile_many), then
-- each job checked and timed in order, one reply frame each (reply(result)).
function Worker:jobs(msg, reply)
  local s = self.setups[msg.sid]
  if not s then
    for _ = 1, #msg.jobs do
      reply({status = "error", message = "unknown setup " .. tostring(msg.sid)})
    end
    return
  end
  -- GPU workers go here once the NVPTX backend lands (another branch): this process creates its
  -- own CUDA context on self.device at start (cuInit, cuDeviceGet, cuCtxCreate: a context never
  -- crosses a fork or a process), compiles for "cuda" on host threads while the device times
  -- the previous candidate, times each launch with CUDA events (cuEventRecord before and after,
  -- cuEventElapsedTime) and flushes L2 between repeats (a write over a buffer larger than L2).
  -- Until then only "cpu" workers run jobs.
  local configs = {}
  for i, j in ipairs(msg.jobs) do configs[i] = j.config end
  local c0 = core.clock()
  local okc, cks = pcall(core.compile_many, s.func, configs, msg.threads or 1)
  local compile_s = (core.clock() - c0) / math.max(1, #msg.jobs)
  for i, j in ipairs(msg.jobs) do
    local fault = core.flag("HELUA_TEST_FAULT_CONFIG")
    if fault and fault ~= "" and j.key and j.key:find(fault, 1, true) then core.tune_fault() end
    local ck = okc and cks[i] or (okc and "not compiled" or cks)
    local r = {compile_s = compile_s, samples = {}, device = self.device}
    if type(ck) ~= "userdata" then
      r.status, r.message = "error", tostring(ck):gsub("\n.*", "")
      reply(r)
    else
      local okr, res = pcall(self.run_compiled, self, s, ck, j, r)
      if not okr then res = {status = "error", message = tostring(res):gsub("\n.*", "")} end
      reply(res)
    end
    if okc then cks[i] = nil end -- closed by the collector once measured
  end
end

function Worker:run_compiled(s, ck, msg, r)
  -- identical binaries (two configs that lower to the same code and launch shape) run once:
  -- the later config gets the earlier one's measurement
  local okb, info = pcall(ck.info, ck)
  local bkey = okb and info.binary_key and (s.sid .. "/" .. info.binary_key) or nil
  local same = bkey and self.binaries[bkey]
  if same then
    ck:close()
    return {status = same.status, message = same.message, samples = same.samples, cut = same.cut,
            compile_s = r.compile_s, device = self.device, same_binary_as = same.key}
  end
  local result = self:measure(s, ck, msg, r)
  if bkey then
    result.key = msg.key
    self.binaries[bkey] = result
  end
  return result
end

function Worker:measure(s, ck, msg, r)
  local args = launch_args(s)
  local okl, err = pcall(ck.launch, ck, args)
  if not okl then
    r.status, r.message = "error", tostring(err):gsub("\n.*", "")
    return r
  end
  local got = {n = #s.outputs}
  for k, i in ipairs(s.outputs) do got[k] = args[i] end
  local msg_wrong = require("helua.tune").compare(got, s.want)
  if msg_wrong then
    r.status, r.message = "wrong", msg_wrong
    return r
  end
  for _ = 1, msg.repeats or 3 do
    local t0 = core.clock()
    ck:launch(args)
    local dt = core.clock() - t0
    r.samples[#r.samples + 1] = dt
    if msg.cut_s and dt >= msg.cut_s then r.cut = true break end
  end
  r.status = "ok"
  r.time = median(r.samples)
  ck:close()
  return r
end

-- The worker's main loop; returns the exit code.
function M.main(device)
  core.worker_enter()
  if device ~= "cpu" then
    io.stderr:write("helua worker: device " .. device .. " is not supported yet (only cpu)\n")
    return 2
  end
  local self = setmetatable({device = device, setups = {}, order = {}, binaries = {}}, Worker)
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
      local msg = M.unpack(body)
      if msg.op == "setup" then return reply(self:setup(msg)) end
      if msg.op == "jobs" then
        return self:jobs({sid = msg.sid, jobs = msg.jobs, threads = msg.threads}, reply)
      end
      if msg.op == "job" then return self:jobs({sid = msg.sid, jobs = {msg}}, reply) end
      if msg.op == "ping" then return reply({status = "ok"}) end
      return reply({status = "error", message = "unknown request " .. tostring(msg.op)})
    end)
    if not ok and sent == 0 then
      reply({status = "error", message = tostring(err):gsub("\n.*", "")})
    elseif not ok then
      io.stderr:write("helua worker: ", tostring(err), "\n")
      return 1 -- part of a batch answered: the tuner sees the exit and re-runs the rest
    end
  end
end

return M
