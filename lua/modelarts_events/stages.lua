--- The stages of a training job read from its events: when it was created,
-- queued, initialised, ran, wrapped up and ended, and what happened beside
-- (image pulls, input downloads, output uploads). The timeline draws them.
--
-- Event text is only a fallback for the job's phase (REFERENCE.md, "The end
-- of a job"), but it is all a list of events holds. The messages are the
-- service's own in en-us and zh-cn as REFERENCE.md, Huawei's user guide and
-- the emulator show them; an event that matches nothing is simply no stage.
-- @module modelarts_events.stages

local M = {}

local find, lower = string.find, string.lower

-- The job's own phases, in the order a job goes through them. Each is
-- recognised by Job-source messages (lowercased, plain substrings).
M.PHASES = {
  { key = "created", label = "Created", texts = { "training job is created", "training job created", "已创建" } },
  { key = "queued", label = "Queued", texts = { "waiting for resources", "is pending", "is queuing", "queued",
                                               "等待资源", "排队" } },
  { key = "initializing", label = "Initializing", texts = { "is initializing", "is preparing", "初始化" } },
  { key = "running", label = "Running", texts = { "training job is running", "运行中" },
    -- the training process's own start line, when the Job event is missing
    task_texts = { "training started" } },
  -- after the training process ended: uploads, clean-up
  { key = "finishing", label = "Wrapping up", task_texts = { "training finished", "training completed" } },
}

-- How a job ended, by the Job event that says so. Checked in this order:
-- "Failed to be queued" is a failure, "has been stopped" a termination.
M.ENDS = {
  { key = "terminated", label = "Terminated", texts = { "manually stopped", "has been stopped", "terminated",
                                                        "已终止", "已停止", "手动停止" } },
  { key = "abnormal", label = "Abnormal", texts = { "abnormal", "异常" } },
  { key = "failed", label = "Failed", texts = { "training job failed", "failed to", "timed out", "运行失败", "失败",
                                                "超时" } },
  { key = "completed", label = "Completed", texts = { "training job completed", "training job executed",
                                                      "training job succeeded", "运行成功", "已完成", "执行成功" } },
}

-- Spans beside the phases, from the first start message to the last end
-- one (Lua patterns on the lowercased message of any source but Job).
M.ACTIVITIES = {
  { key = "pull", label = "Image pull", starts = { "pulling:" }, ends = { "pulled:" } },
  { key = "download", label = "Input download", starts = { "downloading training input" },
    ends = { "download training input.-finished" } },
  { key = "upload", label = "Output upload", starts = { "uploading%.?$" },
    ends = { "upload training output.-finished" } },
}

-- Does text hold any of the strings (plain) or patterns of a list?
local function any(text, list, plain)
  if not list then return false end
  for i = 1, #list do
    if find(text, list[i], 1, plain) then return true end
  end
  return false
end

local function first_match(rules, text, field)
  for _, rule in ipairs(rules) do
    if any(text, rule[field], true) then return rule end
  end
end

local function is_job_source(source)
  return type(source) == "string" and lower(source) == "job"
end

-- An activity runs from its first start message until as many ends came
-- as starts (or, where fewer come, the last end); later ones (a restart
-- pulling its image again) do not stretch it. An end without a start is none.
local function read_activity(act, a, text, ms)
  local span = act[a.key]
  if span and span.done then return end
  if any(text, a.starts) then
    if not span then
      span = { key = a.key, label = a.label, from = ms, to = ms, pending = 0 }
      act[a.key] = span
    end
    span.pending = span.pending + 1
  elseif span and any(text, a.ends) then
    span.to, span.pending = ms, span.pending - 1
    span.done = span.pending <= 0
  end
end

--- Read the stages of one job from its events.
-- @tparam table events a list of events in time order
-- @tparam table times their times in epoch ms (`times[i]` of `events[i]`)
-- @treturn table `{ phases = { {key, label, ms} ... } (first of each, in time
-- order), ending = {key, label, ms, event} or nil, activities = { {key, label,
-- from, to} ... }, exit_code = string or nil }`
function M.read(events, times)
  local phase_at, ending = {}, nil
  local act = {}
  local exit_code
  for i, ev in ipairs(events) do
    local message, ms = ev.message, times[i]
    if ms and type(message) == "string" then
      local text = lower(message)
      if is_job_source(ev.source) then
        local rule = first_match(M.ENDS, text, "texts")
        if rule then
          if not ending then ending = { key = rule.key, label = rule.label, ms = ms, event = ev } end
        else
          rule = first_match(M.PHASES, text, "texts")
          if rule and not phase_at[rule.key] then phase_at[rule.key] = ms end
        end
      else
        local rule = first_match(M.PHASES, text, "task_texts")
        if rule and not phase_at[rule.key] then phase_at[rule.key] = ms end
        if rule and rule.key == "finishing" then exit_code = exit_code or message:match("[Ee]xit code:? ?(%-?%d+)") end
        for _, a in ipairs(M.ACTIVITIES) do read_activity(act, a, text, ms) end
      end
    end
  end
  local phases = {}
  for _, p in ipairs(M.PHASES) do
    if phase_at[p.key] then phases[#phases + 1] = { key = p.key, label = p.label, ms = phase_at[p.key] } end
  end
  table.sort(phases, function(a, b) return a.ms < b.ms end)
  local activities = {}
  for _, a in ipairs(M.ACTIVITIES) do
    if act[a.key] then activities[#activities + 1] = act[a.key] end
  end
  return { phases = phases, ending = ending, activities = activities, exit_code = exit_code }
end

--- The phases as spans: each lasts until the next one starts, the last
-- until the job's end (or, while it has none, its last event).
-- @tparam table stages from `read`
-- @param last_ms the time of the job's last event
-- @treturn table `{ {key, label, from, to, open} ... }`; `open` when the span
-- has no known end
function M.spans(stages, last_ms)
  local spans, phases = {}, stages.phases
  for i, p in ipairs(phases) do
    local to = phases[i + 1] and phases[i + 1].ms or (stages.ending and stages.ending.ms) or last_ms
    if to < p.ms then to = p.ms end
    spans[i] = { key = p.key, label = p.label, from = p.ms, to = to, open = not phases[i + 1] and not stages.ending }
  end
  return spans
end

return M
