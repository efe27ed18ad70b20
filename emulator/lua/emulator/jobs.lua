-- The emulator's jobs: the reference page's job, generated ones, jobs that
-- grow while they are read. A job is two parallel arrays in ascending time
-- order (ties in insertion order): `ms` (event times in epoch milliseconds,
-- kept for windows) and `events` (the tables the API returns). Two arrays
-- rather than one table per row: a million-event job stays in memory twice
-- as cheaply, and the event tables go to cjson as they are. A job also
-- says how it stands for the job-detail endpoint: `phase` (a string, for
-- jobs that have ended) or `status(job)` (for jobs that change; detail.lua).
local M = {}

local OFFSET = 8 * 3600 -- the service answers in +08:00

-- ISO-8601 at second precision with +08:00. The date part is cached per day
-- and the clock part computed: os.date per event was half of building gen-N.
local day_cache = {}
local function iso(ms)
  local sec = math.floor(ms / 1000) + OFFSET
  local day = math.floor(sec / 86400)
  local prefix = day_cache[day]
  if not prefix then
    prefix = os.date("!%Y-%m-%dT", day * 86400)
    day_cache[day] = prefix
  end
  local s = sec - day * 86400
  return string.format("%s%02d:%02d:%02d+08:00", prefix, math.floor(s / 3600), math.floor(s / 60) % 60, s % 60)
end
M.iso = iso

--- UTC with microseconds, as IAM and the metadata service write times:
-- 2020-01-04T09:05:22.701000Z.
function M.iso_utc(ms)
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(ms / 1000)) .. string.format(".%06dZ", ms % 1000 * 1000)
end

local function new_job(phase) return { ms = {}, events = {}, phase = phase } end
M.new_job = new_job

local function add(job, ms, level, message, source)
  local i = #job.ms + 1
  job.ms[i] = ms
  job.events[i] = { time = iso(ms), level = level, message = message, source = source }
end
M.add = add

-- 2022-11-26T16:00:00+08:00 in ms
local BASE = 1669449600000
M.BASE = BASE
local function at(hms) -- "16:03:41" on the reference day
  local h, m, s = hms:match("(%d+):(%d+):(%d+)")
  return BASE + ((tonumber(h) - 16) * 3600 + tonumber(m) * 60 + tonumber(s)) * 1000
end

local POD = "[Pod: modelarts-job-5bd61eea-9de2-4864-a0f7-5fae966171b5-worker-0] "
-- The newest 10 are the reference page's example, verbatim (with its "K8s");
-- the 17 before them are plausible steps of the same job's start.
local REFERENCE = {
  { "16:01:36", "Info", "Job", "Training job is created." },
  { "16:01:37", "Info", "Job", "Training job is waiting for resources." },
  { "16:01:39", "Info", "K8S", "[Job: modelarts-job-5bd61eea-9de2-4864-a0f7-5fae966171b5] Created job" },
  { "16:01:40", "Info", "Job", "Training job is pending." },
  { "16:01:42", "Info", "K8S", POD .. "Scheduled: Successfully assigned worker-0 to node 192.168.0.12" },
  { "16:01:43", "Info", "K8S", POD .. "SuccessfulAttachVolume: AttachVolume.Attach succeeded" },
  { "16:01:45", "Info", "Task", "[worker-0] Preparing the training environment." },
  { "16:01:46", "Info", "K8S", POD .. "Pulling: Pulling image \"swr.cn-north-7.myhuaweicloud.com/modelarts-job-dev-image/modelarts-tool-container:1.0.0-5.3.1-b002.2\"" },
  { "16:01:50", "Warning", "K8S", POD .. "FailedMount: MountVolume.SetUp failed for volume \"obs\": retrying" },
  { "16:01:52", "Info", "K8S", POD .. "SuccessfulMountVolume: MountVolume.SetUp succeeded for volume \"obs\"" },
  { "16:01:55", "Info", "Task", "[worker-0] Downloading training input(parameter name: data_url)." },
  { "16:01:58", "Info", "Task", "[worker-0][time used: 2.871s] Download training input(parameter name: data_url) finished." },
  { "16:02:00", "Info", "K8S", POD .. "Pulling: Pulling image \"swr.cn-north-7.myhuaweicloud.com/modelarts-job-dev-image/pytorch:1.8.0-cuda10.2\"" },
  { "16:02:01", "Info", "Task", "[worker-0] Code downloaded." },
  { "16:02:02", "Info", "K8S", POD .. "Created: Created container init" },
  { "16:02:03", "Info", "K8S", POD .. "Started: Started container init" },
  { "16:02:04", "Info", "Job", "Training job is initializing." },
  { "16:02:05", "Info", "K8s", POD .. "Pulled: Successfully pulled image \"swr.cn-north-7.myhuaweicloud.com/modelarts-job-dev-image/modelarts-tool-container:1.0.0-5.3.1-b002.2\"" },
  { "16:02:06", "Info", "K8S", POD .. "SuccessfulCreate: Created container" },
  { "16:02:06", "Info", "K8S", POD .. "Started: Started container" },
  { "16:02:09", "Info", "Job", "Training job is running." },
  { "16:02:10", "Info", "Task", "[worker-0] training started." },
  { "16:03:11", "Info", "Task", "[worker-0] Training finished. Exit code 1." },
  { "16:03:12", "Info", "Task", "[worker-0] Training output(parameter name: train_url) Uploading." },
  { "16:03:12", "Info", "Task", "[worker-0][time used: 0.296s] Upload training output(parameter name: train_url) finished." },
  { "16:03:16", "Info", "K8S", "[Job: modelarts-job-5bd61eea-9de2-4864-a0f7-5fae966171b5] ExecuteAction: Start to execute action TerminateJob" },
  { "16:03:41", "Error", "Job", "Training job failed." },
}

assert(#REFERENCE == 27)

local reference
function M.reference()
  if not reference then
    reference = new_job("Failed")
    for _, e in ipairs(REFERENCE) do add(reference, at(e[1]), e[2], e[4], e[3]) end
  end
  return reference
end

-- A deterministic generator of our own (Park-Miller: the product stays
-- below 2^53, so doubles compute it exactly), not math.random, whose
-- sequence differs between Lua builds.
local function prng(seed)
  local state = seed % 2147483646 + 1
  return function(n)
    state = state * 48271 % 2147483647
    return state % n
  end
end

local SOURCES = { "Task", "Task", "Task", "K8S", "K8s", "Job" }
-- The plain kind most of the time; the others carry what breaks naive
-- printers and CSV writers: quotes, commas, tabs, newlines, backslashes,
-- non-ASCII text and an emoji outside the BMP.
local MESSAGES = {
  function(i, r) return string.format("[worker-%d] step %d loss=%.4f #%d", r(8), i, r(10000) / 10000, i) end,
  function(i, r) return string.format("[worker-%d] step %d loss=%.4f #%d", r(8), i, r(10000) / 10000, i) end,
  function(i, r) return string.format("[worker-%d] step %d loss=%.4f #%d", r(8), i, r(10000) / 10000, i) end,
  function(i, r) return string.format("[worker-%d] epoch %d, \"accuracy\": 0.%03d, lr=1e-4 #%d", r(8), i % 90, r(1000), i) end,
  function(i) return "[worker-0] Traceback (most recent call last):\n  File \"train.py\", line 42\n\tValueError: bad shape #" .. i end,
  function(i, r) return string.format("[worker-%d] 训练进行中, batch %d \\ ok — é ✓ 🚀 #%d", r(8), i, i) end,
  function(i) return "[Pod: job-worker-0] Pulled: image \"swr.example/pytorch:1.8\", size=1.2GB, path=C:\\data #" .. i end,
}

-- Built once per N; only the few most recent sizes are kept, so a test
-- sweeping sizes cannot grow the worker without bound.
local generated, generated_order, KEEP = {}, {}, 4
function M.generated(n)
  if generated[n] then return generated[n] end
  local r = prng(n)
  local job, ms = new_job("Completed"), BASE
  for i = 1, n do
    local roll = r(100)
    local level = roll < 3 and "Error" or (roll < 13 and "Warning" or "Info")
    local source = SOURCES[r(#SOURCES) + 1]
    add(job, ms, level, MESSAGES[r(#MESSAGES) + 1](i, r), source)
    ms = ms + r(3) * 1000 -- 0, 1 or 2 s: some events share a second
  end
  generated[n] = job
  generated_order[#generated_order + 1] = n
  if #generated_order > KEEP then generated[table.remove(generated_order, 1)] = nil end
  return job
end

-- N identical events: a client must not take real repeats for duplicates.
function M.same(n)
  local job = new_job("Completed")
  for _ = 1, n do add(job, BASE, "Info", "[worker-0] the same line", "Task") end
  return job
end

function M.now_ms()
  ngx.update_time()
  return math.floor(ngx.now() * 1000)
end

-- Jobs that change while they are read, and fault counters, by whole id.
local dynamic = {}
function M.reset() dynamic = {} end

function M.grow(id, n, k)
  local job = dynamic[id]
  local now = M.now_ms()
  if not job then
    job = new_job("Running") -- it never stops growing
    for i = 1, n do add(job, now - (n - i + 1) * 1000, "Info", "[worker-0] line #" .. i, "Task") end
    dynamic[id] = job
  end
  -- new events land at "now": inside the edge second of a window a client
  -- pinned a moment ago
  for _ = 1, k do
    local i = #job.ms + 1
    add(job, now, "Info", "[worker-0] line #" .. i, "Task")
  end
  return job
end

local LIFE_START = {
  { "Info", "Job", "Training job is created." },
  { "Info", "K8S", "[Pod: life-worker-0] Scheduled: Successfully assigned worker-0" },
  { "Info", "Job", "Training job is running." },
  { "Info", "Task", "[worker-0] training started." },
  { "Info", "Task", "[worker-0] step 0 loss=1.000" },
}

-- Running until the terminal event, then Failed or Completed.
local function life_status(job)
  if not job.ended then return "Running", "Running", job.ms[1] end
  local phase = job.outcome == "failed" and "Failed" or "Completed"
  return phase, phase, job.ms[1], job.ms[#job.ms]
end

--- A life job as the job-detail endpoint finds it: the events requests are
-- its polls, a look at its status is not one.
function M.life_peek(id, outcome)
  local job = dynamic[id]
  if job then return job end
  job = new_job()
  job.polls, job.step, job.outcome, job.status = 0, 0, outcome, life_status
  local now = M.now_ms()
  for i, e in ipairs(LIFE_START) do add(job, now - (#LIFE_START - i + 1) * 1000, e[1], e[3], e[2]) end
  dynamic[id] = job
  return job
end

function M.life(id, outcome, polls)
  local job = M.life_peek(id, outcome)
  if job.ended then return job end
  local now = M.now_ms()
  job.polls = job.polls + 1
  for _ = 1, 2 do
    job.step = job.step + 1
    add(job, now, "Info", string.format("[worker-0] step %d loss=%.3f", job.step, 1 / job.step), "Task")
  end
  if job.polls >= polls then
    job.ended = true
    if outcome == "failed" then
      add(job, now, "Error", "Training job failed.", "Job")
    else
      add(job, now, "Info", "Training job completed.", "Job")
    end
  end
  return job
end

-- How many times a fault job has been asked for, this request included.
function M.count(id)
  local c = dynamic[id] or { n = 0 }
  dynamic[id] = c
  c.n = c.n + 1
  return c.n
end

--- State kept per whole id until the next reset (runs.lua, clock jobs).
function M.state(id, make)
  local s = dynamic[id]
  if s == nil then
    s = make()
    dynamic[id] = s
  end
  return s
end

--- gen-N's events moved in time so that the newest is at end_ms: a job on
-- a server whose clock is not the client's.
function M.shifted(n, end_ms)
  local source = M.generated(n)
  local shift = end_ms - source.ms[#source.ms]
  local job = new_job("Completed")
  for i, e in ipairs(source.events) do add(job, source.ms[i] + shift, e.level, e.message, e.source) end
  return job
end

return M
