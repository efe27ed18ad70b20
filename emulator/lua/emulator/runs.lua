-- run-OUTCOME-MS[-FLAGS]-TAG: a job that runs on the real clock. Its first
-- request (events or job detail) starts it; its phase goes Creating ->
-- Pending -> Running -> the terminal phase MS milliseconds later, its events
-- appear as it goes (stamped with the time they happen), the terminal event
-- comes at MS and one late event about a second after. Events are made
-- from a schedule fixed at the start, added to the job as their time comes:
-- every request sees exactly what had happened by then.
local jobs = require "emulator.jobs"

local M = {}

local OUTCOMES = {
  completed = { phase = "Completed", level = "Info", message = "Training job executed." },
  failed = { phase = "Failed", level = "Error", message = "Training job failed." },
  terminated = { phase = "Terminated", level = "Info", message = "The training job has been manually stopped." },
  abnormal = { phase = "Abnormal", level = "Error", message = "Training job is abnormal." },
}
local FLAGS = { quiet = true, forbidden = true }
local MAX_MS = 3600 * 1000
-- the service's secondary phases for each phase
local SECONDARY = { Creating = "Creating", Pending = "Queuing", Running = "Running", Completed = "Completed",
                    Failed = "Failed", Terminated = "Terminated", Abnormal = "Unknown" }

--- outcome, ms, flags (a set) of a run id; nil when id is not one.
function M.parse(id)
  local outcome, ms, rest = id:match("^run%-(%a+)%-(%d+)%-(.+)$")
  if not OUTCOMES[outcome] or #ms > 8 or tonumber(ms) > MAX_MS then return nil end
  local flags, words = {}, {}
  for word in rest:gmatch("[^-]+") do words[#words + 1] = word end
  -- leading known words are flags; at least one word stays for the tag
  local i = 1
  while i < #words and FLAGS[words[i]] do
    flags[words[i]] = true
    i = i + 1
  end
  return outcome, tonumber(ms), flags
end

-- The schedule: { at (ms after the start), level, source, message } in time order.
local function schedule(outcome, ms, flags)
  local pod = "[Pod: run-worker-0] "
  local plan = {
    { 0, "Info", "Job", "Training job is created." },
    { ms * 0.1, "Info", "Job", "Training job is waiting for resources." },
    { ms * 0.1, "Info", "Job", "Training job is pending." },
    { ms * 0.2, "Info", "K8S", pod .. "Scheduled: Successfully assigned worker-0" },
    { ms * 0.2, "Info", "Job", "Training job is running." },
    { ms * 0.2, "Info", "Task", "[worker-0] training started." },
  }
  -- a step every 5% of the run, at most 2 s apart and at least 50 ms
  local every = math.min(2000, math.max(50, ms / 20))
  local step, at = 0, ms * 0.2 + every
  while at < ms do
    step = step + 1
    plan[#plan + 1] = { at, "Info", "Task", string.format("[worker-0] step %d loss=%.3f", step, 1 / (step + 1)) }
    at = at + every
  end
  local o = OUTCOMES[outcome]
  if not flags.quiet then plan[#plan + 1] = { ms, o.level, "Job", o.message } end
  plan[#plan + 1] = { ms + 1000, "Info", "Task", "[worker-0] Log upload finished." }
  return plan
end

local function phase_at(run, now)
  local elapsed = now - run.start
  if elapsed >= run.ms then return OUTCOMES[run.outcome].phase end
  if elapsed >= run.ms * 0.2 then return "Running" end
  if elapsed >= run.ms * 0.1 then return "Pending" end
  return "Creating"
end

local function status(job)
  local run = job.run
  local now = jobs.now_ms()
  local phase = phase_at(run, now)
  local running_since = run.start + math.floor(run.ms * 0.2)
  local start = now >= running_since and running_since or nil
  local ended = now >= run.start + run.ms and run.start + run.ms or nil
  return phase, SECONDARY[phase], start, ended, run.start
end

--- The run job of id, with every event whose time has come added; nil when
-- id is not a run id.
function M.find(id)
  local outcome, ms, flags = M.parse(id)
  if not outcome then return nil end
  local job = jobs.state(id, function()
    local j = jobs.new_job()
    j.run = { outcome = outcome, ms = ms, start = jobs.now_ms(), plan = schedule(outcome, ms, flags), next = 1 }
    j.status, j.forbidden = status, flags.forbidden
    return j
  end)
  local run, now = job.run, jobs.now_ms()
  while run.plan[run.next] and run.start + run.plan[run.next][1] <= now do
    local e = run.plan[run.next]
    jobs.add(job, run.start + math.floor(e[1]), e[2], e[4], e[3])
    run.next = run.next + 1
  end
  return job
end

return M
