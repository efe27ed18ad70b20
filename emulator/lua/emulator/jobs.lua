-- The emulator's jobs: the reference page's job, generated ones, jobs that
-- grow while they are read, and fault jobs chosen by id. Events are kept in
-- ascending time order as { ms, sec, event } where event is what the API
-- returns.
local M = {}

local OFFSET = 8 * 3600 -- the service answers in +08:00

local function iso(ms)
  local sec = math.floor(ms / 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", sec + OFFSET) .. "+08:00"
end
M.iso = iso

local function row(ms, level, message, source)
  return { ms = ms, sec = math.floor(ms / 1000),
           event = { time = iso(ms), level = level, message = message, source = source } }
end

-- 2022-11-26T16:00:00+08:00 in ms
local BASE = 1669449600000
local function at(hms) -- "16:03:41" on the reference day
  local h, m, s = hms:match("(%d+):(%d+):(%d+)")
  return BASE + ((tonumber(h) - 16) * 3600 + tonumber(m) * 60 + tonumber(s)) * 1000
end

local POD = "[Pod: modelarts-job-5bd61eea-9de2-4864-a0f7-5fae966171b5-worker-0] "
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

local reference
function M.reference()
  if not reference then
    reference = {}
    for i, e in ipairs(REFERENCE) do reference[i] = row(at(e[1]), e[2], e[4], e[3]) end
  end
  return reference
end

-- A small deterministic generator (an LCG), so every run serves the same job.
local function lcg(seed)
  local state = seed
  return function(n)
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n
  end
end

local SOURCES = { "Task", "Task", "Task", "K8S", "K8s", "Job" }
local MESSAGES = {
  function(i, r) return string.format("[worker-%d] step %d loss=%.4f #%d", r(8), i, r(10000) / 10000, i) end,
  function(i, r) return string.format("[worker-%d] epoch %d, \"accuracy\": 0.%03d, lr=1e-4 #%d", r(8), i % 90, r(1000), i) end,
  function(i) return "[worker-0] Traceback (most recent call last):\n  File \"train.py\", line 42\n\tValueError: bad shape #" .. i end,
  function(i, r) return string.format("[worker-%d] 训练进行中, batch %d \\ ok — é ✓ #%d", r(8), i, i) end,
  function(i) return "[Pod: job-worker-0] Pulled: image \"swr.example/pytorch:1.8\", size=1.2GB #" .. i end,
}

local generated = {}
function M.generated(n)
  if generated[n] then return generated[n] end
  local r = lcg(n)
  local rows, ms = {}, BASE
  for i = 1, n do
    local roll = r(100)
    local level = roll < 3 and "Error" or (roll < 13 and "Warning" or "Info")
    local source = SOURCES[r(#SOURCES) + 1]
    rows[i] = row(ms, level, MESSAGES[r(#MESSAGES) + 1](i, r), source)
    ms = ms + r(3) * 1000
  end
  generated[n] = rows
  return rows
end

function M.same(n)
  local rows = {}
  for i = 1, n do rows[i] = row(BASE, "Info", "[worker-0] the same line", "Task") end
  return rows
end

function M.now_ms()
  ngx.update_time()
  return math.floor(ngx.now() * 1000)
end

-- Jobs that change while they are read, by their whole id.
local dynamic = {}
function M.reset() dynamic = {} end

function M.grow(id, n, k)
  local job = dynamic[id]
  local now = M.now_ms()
  if not job then
    job = { rows = {} }
    for i = 1, n do
      job.rows[i] = row(now - (n - i + 1) * 1000, "Info", "[worker-0] line #" .. i, "Task")
    end
    dynamic[id] = job
  end
  local count = #job.rows
  for i = count + 1, count + k do
    job.rows[i] = row(now, "Info", "[worker-0] line #" .. i, "Task")
  end
  return job.rows
end

function M.life(id, outcome, polls)
  local job = dynamic[id]
  local now = M.now_ms()
  if not job then
    job = { rows = {}, polls = 0 }
    local first = { "Training job is created.", "Training job is pending.", "[worker-0] Scheduled",
                    "Training job is running.", "[worker-0] training started." }
    for i, msg in ipairs(first) do
      job.rows[i] = row(now - (6 - i) * 1000, "Info", msg, i == 3 and "K8S" or (i == 5 and "Task" or "Job"))
    end
    dynamic[id] = job
  end
  if job.ended then return job.rows end
  job.polls = job.polls + 1
  for _ = 1, 2 do
    job.step = (job.step or 0) + 1
    job.rows[#job.rows + 1] = row(now, "Info",
      string.format("[worker-0] step %d loss=%.3f", job.step, 1 / job.step), "Task")
  end
  if job.polls >= polls then
    job.ended = true
    if outcome == "failed" then
      job.rows[#job.rows + 1] = row(now, "Error", "Training job failed.", "Job")
    else
      job.rows[#job.rows + 1] = row(now, "Info", "Training job completed.", "Job")
    end
  end
  return job.rows
end

-- How many times a fault job has been asked for (per whole id).
function M.count(id)
  local job = dynamic[id] or { n = 0 }
  dynamic[id] = job
  job.n = (job.n or 0) + 1
  return job.n
end

return M
