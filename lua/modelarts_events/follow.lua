--- Following running jobs: their events in time order, each once, then new
-- ones as they come, until every job has ended.
--
--     local follow = require "modelarts_events.follow"
--     local it = follow(client, job_id, { interval = 5 })   -- or { id1, id2 }
--     for event in it do print(event.message) end
--     print(it.result, it.phase)   --> "failed"  "Abnormal"
--
-- Each poll is one `client:events` iteration (the client's paging and
-- retries, `order = "asc"`) over a window that starts at the second of the
-- newest event yielded; the re-read events of that second are dropped by
-- content (`modelarts_events.follow.edge`). Every few polls the job itself
-- (`client:job`) says whether it has ended; once its phase is terminal the
-- follow waits a little, reads the events one last time (the late ones) and
-- ends. Where the job call is forbidden (403) the terminal events' text is
-- the fallback (`modelarts_events.follow.ending`). With several jobs, each
-- poll reads them side by side and merges their events by time, each
-- carrying `job`. Waits are slept in slices of at most 0.2 s, so that Ctrl-C
-- (lua's "interrupted!") ends a follow at once; inside nginx `ngx.sleep`.
-- @module modelarts_events.follow

local me = require "modelarts_events"
local time = require "modelarts_events.time"
local edge = require "modelarts_events.follow.edge"
local ending = require "modelarts_events.follow.ending"

local M = {}

local DEFAULT_INTERVAL = 5
local PHASE_EVERY = 3        -- polls per look at the job (the API is rate-limited)
local MIN_GRACE = 2          -- seconds from the end of a job to its last read, at least
local SLICE = 0.2            -- the longest single sleep
local PAGE_SIZE = 100
local MARGIN_MS = 5 * 60 * 1000 -- a window ends this far past the server's estimated now

--- The fallback rule (used only where `client:job` answers 403): the result
-- an event's text announces ("completed", "failed", "terminated"), or nil.
M.is_terminal = ending.from_text

local function argument_error(field, message)
  return me.error("invalid_argument", message, { field = field })
end

local OPTIONS = { interval = "number", since = "any", timeout = "number", stop = "function",
  level = "string", source = "string", pattern = "string", language = "string", after = "string",
  grace = "number", phase_every = "number", sleep = "function", is_terminal = "function", on_wait = "function" }

local function check_options(opts)
  if type(opts) ~= "table" then error(argument_error("opts", "opts must be a table"), 3) end
  for k, v in pairs(opts) do
    local want = OPTIONS[k]
    if not want then error(argument_error(k, "unknown follow option '" .. tostring(k) .. "'"), 3) end
    if want ~= "any" and type(v) ~= want then error(argument_error(k, k .. " must be a " .. want), 3) end
  end
  for _, k in ipairs { "interval", "timeout", "grace", "phase_every" } do
    local v = opts[k]
    if v ~= nil and not (v >= 0 and v < math.huge) then
      error(argument_error(k, k .. " must be a finite number, 0 or more"), 3)
    end
  end
  if opts.interval == 0 then error(argument_error("interval", "interval must be positive"), 3) end
  if opts.phase_every and (opts.phase_every < 1 or opts.phase_every % 1 ~= 0) then
    error(argument_error("phase_every", "phase_every must be a whole number, 1 or more"), 3)
  end
end

local function check_jobs(jobs)
  local list = type(jobs) == "table" and jobs or { jobs }
  local seen = {}
  if #list == 0 then error(argument_error("training_job_id", "no job to follow"), 3) end
  for _, id in ipairs(list) do
    if type(id) ~= "string" or id == "" then
      error(argument_error("training_job_id", "a job id must be a non-empty string"), 3)
    end
    if seen[id] then error(argument_error("training_job_id", "job " .. id .. " is listed twice"), 3) end
    seen[id] = true
  end
  return list, type(jobs) == "table"
end

-- One client for every job, or a list of them, one per job.
local function check_clients(client, n)
  local is_list = type(client) == "table" and getmetatable(client) == nil
  if not is_list then
    if client == nil then error(argument_error("client", "a client is required"), 3) end
    local clients = {}
    for i = 1, n do clients[i] = client end
    return clients
  end
  if #client ~= n then
    error(argument_error("client", "a list of clients must hold one per job: " .. #client .. " for " .. n), 3)
  end
  return client
end

-- Sleeping and the clock, as the environment allows: inside nginx the
-- worker's own (never blocking it); elsewhere `me.sleep` and `me.monotonic`.
-- A caller's own `sleep` gets a clock that never runs ahead of the time that
-- really passed: os.time counts whole seconds, what was slept counts finer.
local function environment(custom_sleep)
  local ngx = rawget(_G, "ngx")
  if not custom_sleep and type(ngx) == "table" and ngx.sleep and ngx.get_phase and ngx.get_phase() ~= "init" then
    return ngx.sleep, function()
      ngx.update_time()
      return ngx.now()
    end
  end
  if not custom_sleep and me.monotonic then return me.sleep, me.monotonic end
  local base, began, slept = custom_sleep or me.sleep, os.time(), 0
  return function(s)
    base(s)
    slept = slept + s
  end, function()
    return math.max(os.time() - began - 1, slept)
  end
end

--- Follow one job or several.
-- @param client a client of `modelarts_events` or `modelarts_events.resty`
-- (only its `events` and `job` are used); with several jobs also a list of
-- clients, one per job, so that each keeps its read-ahead (the merge moves
-- between jobs, and a client serves one iteration at a time)
-- @param jobs a training job id, or a list of them
-- @tparam[opt] table opts `interval` (seconds between polls, default 5),
-- `since` (ms, ISO-8601 or relative like "15m"), `timeout` (seconds),
-- `level`, `source`, `pattern`, `language` (as in `list`), `after` (a cursor),
-- `stop(event)` (true ends the follow, result "stopped"); and, rarely needed,
-- `grace` (seconds between a job's end and its last read, default
-- max(interval, 2)), `phase_every` (polls per look at the job, default 3),
-- `sleep(seconds)`, `is_terminal(event)` (the 403 fallback rule: "completed",
-- "failed" or "terminated", true for completed, nil while the job runs),
-- `on_wait(seconds)` (called before each wait between polls: what came so
-- far has been yielded)
-- @return an iterator object: call it (or use it in `for`) for events; its
-- fields `result`, `phase`, `cursor`, and for a list of jobs `results` and
-- `phases` (by job id), say how it ended and where it stands; `it:close()`
-- ends it early
function M.follow(client, jobs, opts)
  opts = opts or {}
  check_options(opts)
  local ids, several = check_jobs(jobs)
  local clients = check_clients(client, #ids)
  local interval = opts.interval or DEFAULT_INTERVAL
  local grace = opts.grace or math.max(interval, MIN_GRACE)
  local phase_every = opts.phase_every or PHASE_EVERY
  local is_terminal = opts.is_terminal or ending.from_text
  -- a rule of the caller's may answer true, or a word of its own: completed
  local function text_result(event)
    local result = is_terminal(event)
    if not result then return nil end
    return ending.RANK[result] and result or "completed"
  end
  local since
  if opts.since ~= nil then
    local err
    since, err = time.parse_when(opts.since)
    if not since then error(argument_error("since", "since: " .. err), 2) end
  end
  local resumed = {}
  if opts.after then
    local err
    resumed, err = edge.decode(opts.after)
    if not resumed then error(err, 2) end
  end
  local sleep, clock = environment(opts.sleep)
  local started = clock()
  local deadline = opts.timeout and started + opts.timeout

  local base_params = { order = "asc", limit = PAGE_SIZE, level = opts.level, source = opts.source,
    pattern = opts.pattern, language = opts.language }
  local states = {}
  for i, id in ipairs(ids) do
    -- state: "running" (polled every interval), "ending" (its end is known,
    -- its last read is due at final_at), "final" (in its last read), "done"
    states[i] = { id = id, client = clients[i], edge = resumed[id] or edge.new(), state = "running", polls = 0 }
  end
  local skew_ms = 0        -- how far the server's clock is seen ahead of ours
  local next_poll_at = started
  local merge              -- the poll under way (`open_merge`), or nil between polls
  local self = {}

  local function sleep_until(t)
    while true do
      local left = t - clock()
      if left <= 0 then return end
      sleep(left < SLICE and left or SLICE)
    end
  end

  -- One job's poll: an iteration of `client:events` from its edge, without
  -- the events it re-reads.
  local function open_poll(job)
    local params = {}
    for k, v in pairs(base_params) do params[k] = v end
    local start = job.edge.ms or since
    if start then
      params.start_time = start
      params.end_time = math.max(start, time.now_ms() + skew_ms) + MARGIN_MS
    end
    local rereads = job.edge:rereads()
    local next_event, _, _, closing = job.client:events(job.id, params)
    local poll = { closing = closing or next_event }
    function poll.pull()
      while true do
        local event = next_event()
        if not event then return nil end
        local ms = time.parse(event.time)
        if ms and ms - time.now_ms() > skew_ms then skew_ms = ms - time.now_ms() end
        if not rereads(event, ms) then return event, ms or job.edge.ms or 0 end
      end
    end
    return poll
  end

  local function release(poll)
    local target = poll.closing
    local ok, close = pcall(function() return target.close end)
    if ok and type(close) == "function" then pcall(close, target) end
  end

  -- A poll of these jobs, merged by time (ties: the jobs' order): `next()`
  -- gives an event and its job, nil at the end of every job's poll.
  local function open_merge(polled)
    local heads = {}
    for _, job in ipairs(polled) do
      local poll = open_poll(job)
      local event, ms = poll.pull()
      heads[#heads + 1] = { job = job, poll = poll, event = event, ms = ms }
    end
    local merged = { jobs = polled }
    function merged.next()
      local best
      for _, head in ipairs(heads) do
        if head.event and (not best or head.ms < best.ms) then best = head end
      end
      if not best then return nil end
      local event, job = best.event, best.job
      best.event, best.ms = best.poll.pull()
      return event, job
    end
    function merged.close()
      for _, head in ipairs(heads) do release(head.poll) end
    end
    return merged
  end

  local function to_ending(job, result, ended_at)
    job.state, job.result = "ending", result
    local wait = grace
    if ended_at then
      local since_end = (time.now_ms() + skew_ms - ended_at) / 1000
      wait = math.max(0, math.min(grace, grace - since_end))
    end
    job.final_at = clock() + wait
  end

  -- After a job's poll: its last read done, or time to look at the job.
  local function after_poll(job)
    job.polls = job.polls + 1
    if job.state == "final" then
      job.state = "done"
      return
    end
    if job.state ~= "running" then return end
    if not job.client.job then job.text_only = true end -- a client without the job call
    if not job.text_only and (job.polls - 1) % phase_every == 0 then
      local info, err = job.client:job(job.id)
      if info then
        job.phase = info.phase
        if info.terminal then to_ending(job, info.result, ending.ended_at(info)) end
        return
      elseif type(err) == "table" and err.status == 403 then
        job.text_only = true
      else
        error(err, 0)
      end
    end
    if job.text_only and job.text_result then to_ending(job, job.text_result) end
  end

  local function finish(unfinished)
    local worst, worst_job
    local results, phases = {}, {}
    for _, job in ipairs(states) do
      local result = job.result or unfinished
      results[job.id], phases[job.id] = result, job.phase
      if ending.worse(worst, result) ~= worst then worst, worst_job = result, job end
    end
    self.result, self.phase = worst, worst_job and worst_job.phase
    if several then self.results, self.phases = results, phases end
    self.ended = true
    return nil
  end

  local function stop_polls()
    if merge then merge.close() end
    merge = nil
  end

  -- Sleep until the next poll is due and open it; false when the follow is over.
  local function start_poll()
    local due, running = math.huge, false
    for _, job in ipairs(states) do
      if job.state == "running" then running = true end
      if job.state == "ending" and job.final_at < due then due = job.final_at end
    end
    if running and next_poll_at < due then due = next_poll_at end
    if due == math.huge then
      finish(nil)
      return false
    end
    local wait = due - clock()
    if wait > 0 and opts.on_wait then opts.on_wait(deadline and math.min(wait, deadline - clock()) or wait) end
    if deadline and due > deadline then
      sleep_until(deadline)
      finish("timeout")
      return false
    end
    sleep_until(due)
    local now, polled, polls_running = clock(), {}, false
    for _, job in ipairs(states) do
      if job.state == "ending" and job.final_at <= now then job.state = "final" end
      if job.state == "final" then
        polled[#polled + 1] = job
      elseif job.state == "running" and now >= next_poll_at then
        polled[#polled + 1], polls_running = job, true
      end
    end
    merge = open_merge(polled)
    merge.polls_running = polls_running
    return true
  end

  local function next_event()
    while not self.ended do
      if merge then
        local event, job = merge.next()
        if event then
          job.edge:add(event, time.parse(event.time))
          if several then event.job = job.id end
          if not job.text_result then job.text_result = text_result(event) end
          if opts.stop and opts.stop(event) then
            stop_polls()
            finish("stopped")
          end
          return event
        end
        local done = merge
        merge = nil
        for _, polled in ipairs(done.jobs) do after_poll(polled) end
        if done.polls_running then next_poll_at = clock() + interval end
      elseif not start_poll() then
        return nil
      end
    end
    return nil
  end

  local function guarded_next()
    if self.ended then return nil end
    local ok, event = pcall(next_event)
    if ok then return event end
    stop_polls()
    self.ended, self.error = true, event
    error(event, 0)
  end

  local methods = {}
  --- End the follow early (what it has yielded stays yielded; `cursor` resumes after it).
  function methods.close()
    if not self.ended then
      stop_polls()
      finish("stopped")
    end
  end
  local meta = { __call = guarded_next }
  function meta.__index(_, k)
    if k == "cursor" then
      -- where the follow stands, as a string for `opts.after` (made when asked)
      local edges = {}
      for _, job in ipairs(states) do edges[job.id] = job.edge end
      return edge.encode(edges)
    end
    return methods[k]
  end
  return setmetatable(self, meta)
end

--- Follow, calling on_event for each event.
-- @return how it ended: "completed", "failed", "terminated", "timeout" or "stopped"
function M.run(client, jobs, opts, on_event)
  local it = M.follow(client, jobs, opts)
  for event in it do on_event(event) end
  return it.result
end

return setmetatable(M, { __call = function(_, ...) return M.follow(...) end })
