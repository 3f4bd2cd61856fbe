-- The autotuner's progress: a redrawn bar on a terminal, the on_progress callback per finished
-- trial. Part of lua/helua (policy: what the tuner reports); the search is helua.tune.
--
-- On a terminal (stderr is a tty and the log goes to stderr) one line is redrawn after every
-- trial, below the Helion-style log lines:
--   [12s] [##########----------] 34/72 configs  ok 30  failed 4  best 3.9571 ms
-- Elsewhere (a pipe, a file, a log function) only the log lines are written. on_progress(t)
-- gets one table per finished trial: {index, status, time_ms, config, device, best_ms, done,
-- planned, elapsed_s} (time_ms and best_ms nil when there is none; config a helua.Config).
local core = require "helua.core"

local M = {}

local WIDTH = 24 -- bar cells

-- The bar's text for the state (pure, for tests).
function M.bar_text(s)
  local frac = s.planned > 0 and math.min(1, s.done / s.planned) or 0
  local cells = math.floor(frac * WIDTH + 0.5)
  return string.format("[%ds] [%s%s] %d/%d configs  ok %d  failed %d  best %s",
    math.floor(s.elapsed_s), string.rep("#", cells), string.rep("-", WIDTH - cells), s.done,
    s.planned, s.ok, s.failed, s.best_ms and string.format("%.4f ms", s.best_ms) or "-")
end

local Progress = {}
Progress.__index = Progress

-- M.new{tty = bool, stream = file (stderr), on_progress = fn | nil}
function M.new(o)
  return setmetatable({tty = o.tty, stream = o.stream or io.stderr, on_progress = o.on_progress,
                       shown = false}, Progress)
end

-- Whether the bar can be drawn: stderr is a terminal and TERM is not "dumb".
function M.stderr_is_tty()
  local term = os.getenv("TERM")
  return core.tune_isatty ~= nil and core.tune_isatty(2) and term ~= nil and term ~= "dumb"
end

function Progress:clear()
  if self.shown then
    self.stream:write("\r\27[K")
    self.shown = false
  end
end

-- A log line: above the bar on a terminal.
function Progress:line(text)
  self:clear()
  self.stream:write(text, "\n")
  if self.last then self:draw(self.last) end
  self.stream:flush()
end

function Progress:draw(s)
  if not self.tty then return end
  self.stream:write("\r\27[K", M.bar_text(s))
  self.stream:flush()
  self.shown = true
end

-- One finished trial; s: {done, planned, ok, failed, best_ms, elapsed_s, generation,
-- max_generations, budget_s}. on_progress gets {index, status, time_ms (ok trials only), config
-- (nil when invalid), key (its JSON), message, device, best_ms, done, planned, elapsed_s,
-- generation, max_generations, budget_s}.
function Progress:trial(t, s)
  self.last = s
  self:draw(s)
  if self.on_progress then
    self.on_progress({index = t.index, status = t.status,
      time_ms = t.time and t.time < math.huge and t.time * 1e3 or nil, config = t.cfg,
      key = t.key, message = t.message, device = t.device or "cpu", best_ms = s.best_ms,
      done = s.done, planned = s.planned, elapsed_s = s.elapsed_s, generation = s.generation,
      max_generations = s.max_generations, budget_s = s.budget_s})
  end
end

-- The end of the search: the bar goes away (the final log lines follow).
function Progress:finish()
  self:clear()
  self.last = nil
  self.stream:flush()
end

return M
