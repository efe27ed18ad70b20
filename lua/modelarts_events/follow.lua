--- Following a running job: its events in time order, each once, then new
-- ones as they come, until the job ends.
--
--     local follow = require "modelarts_events.follow"
--     local it = follow(client, job_id, { interval = 5 })
--     for event in it do print(event.message) end
--     print(it.result)   --> "failed", "completed", "canceled", "timeout" or "stopped"
--
-- It polls with `order = "asc"` and a window that starts at the newest
-- second seen. Events carry no id, so those of that edge second are told
-- apart by a count per `time|level|source|message`: a real repeat is yielded
-- again, a re-read one is not. Only the edge second's counts are kept.
-- @module modelarts_events.follow

local time = require "modelarts_events.time"

local M = {}

local DEFAULT_INTERVAL = 5
local MAX_BACKOFF = 60
local MARGIN_MS = 5 * 60 * 1000 -- window end past now, for clocks that disagree

local OUTCOMES = {
  failed = "failed", completed = "completed", succeeded = "completed",
  terminated = "canceled", stopped = "canceled", canceled = "canceled", cancelled = "canceled",
}

--- The default end-of-job rule: "Training job failed." and its siblings
-- (completed, succeeded, terminated, stopped, canceled), case-insensitively.
-- @return "failed", "completed" or "canceled"; nil for any other event
function M.is_terminal(event)
  local word = (event.message or ""):lower():match("^%s*training job (%a+)%.?%s*$")
  return word and OUTCOMES[word] or nil
end

local function argument_error(field, message)
  local ok, me = pcall(require, "modelarts_events")
  if ok and me.error then return me.error("invalid_argument", message, { field = field }) end
  return setmetatable({ kind = "invalid_argument", field = field, message = message },
    { __tostring = function(e) return "modelarts_events: invalid_argument: " .. e.message end })
end

local OPTIONS = { interval = "number", since = "any", timeout = "number", is_terminal = "function",
  stop = "function", level = "string", source = "string", pattern = "string", sleep = "function",
  on_wait = "function", language = "string" }

local function default_sleep()
  if type(ngx) == "table" and ngx.sleep and ngx.get_phase and ngx.get_phase() ~= "init" then
    return ngx.sleep
  end
  return require("modelarts_events").sleep
end

local function now_seconds()
  if type(ngx) == "table" and ngx.now then
    ngx.update_time()
    return ngx.now()
  end
  return os.time()
end

--- Follow a job.
-- @param client a client of `modelarts_events` (or `modelarts_events.resty`)
-- @string job_id the training job
-- @tparam[opt] table opts `interval` (seconds between polls, default 5),
-- `since` (ms, ISO-8601 or relative like "15m"), `timeout` (seconds),
-- `is_terminal(event)` (returns an outcome string or true to end; replaces the
-- default rule), `stop(event)` (true ends with result "stopped"), `level`,
-- `source`, `pattern` (server-side filters), `sleep(seconds)`, `on_wait(seconds)`
-- @return an iterator object: call it (or use it in `for`) for events; its
-- `result` field says how it ended
function M.follow(client, job_id, opts)
  opts = opts or {}
  if type(opts) ~= "table" then error(argument_error("opts", "opts must be a table"), 2) end
  for k, v in pairs(opts) do
    local want = OPTIONS[k]
    if not want then error(argument_error(k, "unknown follow option '" .. tostring(k) .. "'"), 2) end
    if want ~= "any" and type(v) ~= want then error(argument_error(k, k .. " must be a " .. want), 2) end
  end
  local interval = opts.interval or DEFAULT_INTERVAL
  if interval <= 0 then error(argument_error("interval", "interval must be positive"), 2) end
  local cursor = 0
  if opts.since ~= nil then
    local ms, err = time.parse_when(opts.since)
    if not ms then error(argument_error("since", "since: " .. err), 2) end
    cursor = ms
  end
  local is_terminal = opts.is_terminal or M.is_terminal
  local sleep = opts.sleep or default_sleep()
  local started = now_seconds()

  local queue, head = {}, 1
  local edge_counts = {}   -- key -> how many of the edge second's events were yielded
  local polls, backoff = 0, nil
  local self = {}

  local function key_of(ev)
    return ev.time .. "|" .. ev.level .. "|" .. ev.source .. "|" .. ev.message
  end

  -- One poll: every page of the window [cursor, now + margin]; queue the new events.
  local function poll()
    local params = { order = "asc", limit = 100, start_time = cursor, end_time = time.now_ms() + MARGIN_MS,
      level = opts.level, source = opts.source, pattern = opts.pattern, language = opts.language }
    local fetched, offset = {}, 0
    while true do
      params.offset = offset
      local page, err = client:list(job_id, params)
      if not page then return nil, err end
      for _, ev in ipairs(page.events) do fetched[#fetched + 1] = ev end
      offset = offset + #page.events
      if #page.events == 0 or offset >= page.total then break end
    end
    local edge_sec = math.floor(cursor / 1000)
    local seen_now, newest = {}, cursor
    for _, ev in ipairs(fetched) do
      local ms = time.parse(ev.time) or cursor
      local key = key_of(ev)
      local n = (seen_now[key] or 0) + 1
      seen_now[key] = n
      if math.floor(ms / 1000) ~= edge_sec or n > (edge_counts[key] or 0) then
        queue[#queue + 1] = ev
      end
      if ms > newest then newest = ms end
    end
    -- The new edge second's counts, for the next poll to skip re-read rows.
    local newest_sec = math.floor(newest / 1000)
    local counts = {}
    for _, ev in ipairs(fetched) do
      local ms = time.parse(ev.time)
      if ms and math.floor(ms / 1000) == newest_sec then
        local key = key_of(ev)
        counts[key] = (counts[key] or 0) + 1
      end
    end
    if newest_sec == edge_sec then
      for key, n in pairs(edge_counts) do counts[key] = math.max(counts[key] or 0, n) end
    end
    edge_counts, cursor = counts, newest_sec * 1000
    return true
  end

  local function finish(result)
    self.result = result
    return nil
  end

  local function next_event()
    if self.result then return nil end
    while true do
      if head <= #queue then
        -- (no queue[head] = nil: a hole at the front makes # unreliable on 5.1)
        local ev = queue[head]
        head = head + 1
        local outcome = is_terminal(ev)
        if outcome then
          self.result = type(outcome) == "string" and outcome or "completed"
          return ev
        end
        if opts.stop and opts.stop(ev) then
          self.result = "stopped"
          return ev
        end
        return ev
      end
      queue, head = {}, 1
      if polls > 0 then
        local wait = backoff or interval
        if opts.timeout and now_seconds() - started + wait > opts.timeout then
          local left = opts.timeout - (now_seconds() - started)
          if left > 0 then sleep(left) end
          return finish("timeout")
        end
        if opts.on_wait then opts.on_wait(wait) end
        sleep(wait)
      end
      polls = polls + 1
      local ok, err = poll()
      if ok then
        backoff = nil
      elseif err.retryable then
        -- Throttled or failing: wait longer, as the server asks where it says.
        backoff = err.retry_after or math.min((backoff or interval) * 2, MAX_BACKOFF)
      else
        self.result = "error"
        error(err, 0)
      end
    end
  end

  return setmetatable(self, { __call = function() return next_event() end })
end

--- Follow a job, calling on_event for each event.
-- @return how it ended: "failed", "completed", "canceled", "timeout" or "stopped"
function M.run(client, job_id, opts, on_event)
  local it = M.follow(client, job_id, opts)
  for event in it do on_event(event) end
  return it.result
end

return setmetatable(M, { __call = function(_, ...) return M.follow(...) end })
