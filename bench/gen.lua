-- Writes the benchmark's jobs as static page files, deterministically:
--
--   lua5.4 bench/gen.lua OUTDIR JOB=EVENTS[@MIN-MAX] ...
--
-- For each job, OUTDIR/JOB/OFFSET.json for OFFSET = 0, 100, ... (and 1)
-- holds the page of 100 events the API would answer to
-- ?offset=OFFSET&limit=100 with order=desc, in the key order the real
-- service uses.  A few empty pages
-- follow the last one (as the service answers past the end), so a client
-- that reads ahead does not meet a 404.
--
-- OUTDIR/JOB/expected.txt holds what a full iteration must see, so that
-- every program measured is checked against the same figures:
--   events N  errors E  bytes B  chars C
-- (E: events whose level is "Error"; B, C: the messages' length in bytes
-- and in characters).
--
-- With @MIN-MAX, OUTDIR/JOB/delays.txt lists "OFFSET MS" for every page: the
-- server's think time for it, spread over MIN..MAX milliseconds (bench/nginx.conf
-- sleeps that long; bench/report.lua computes the ideal schedule from it).  Messages are modelled on real
-- training-job events: scheduler and Kubernetes lines, worker logs, quotes,
-- commas, backslashes, non-ASCII text and multi-line tracebacks.

local LIMIT = 100
local EMPTY_PAGES = 16
local START = 1669449600          -- 2022-11-26T16:00:00+08:00
local SPAN = 3 * 24 * 3600        -- to 2022-11-29T16:00:00+08:00
local TZ = 8 * 3600

local outdir = assert(arg[1], "usage: gen.lua OUTDIR JOB=EVENTS ...")

-- A small LCG, so the data are the same on every Lua and every machine.
local seed = 20221126
local function rand(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n + 1
end
local function pick(list) return list[rand(#list)] end

local function iso(epoch)
  return os.date("!%Y-%m-%dT%H:%M:%S", epoch + TZ) .. "+08:00"
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"'
    elseif c == "\\" then return "\\\\"
    elseif c == "\n" then return "\\n"
    elseif c == "\t" then return "\\t"
    elseif c == "\r" then return "\\r"
    else return string.format("\\u%04x", c:byte()) end
  end) .. '"'
end

local workers = { "worker-0", "worker-1", "worker-2", "worker-3", "launcher" }
local nodes = { "192.168.0.21", "192.168.0.37", "192.168.1.8", "192.168.2.143" }

local templates = {
  { "Info", "Task", function(w, step)
      return string.format("[%s] Epoch %d/%d, step %d: loss=%.4f, acc=%.4f, lr=%.2e", w,
        step // 1000 + 1, 100, step, 2.5 / (1 + step / 500) + rand(1000) / 1e5,
        0.5 + (step % 1000) / 2500, 1e-3 / (1 + step // 2000))
    end },
  { "Info", "Task", function(w, step)
      return string.format('[%s] saved checkpoint to "obs://bench-bucket/output/ckpt-%06d.pth", size=%d MB', w, step, 400 + rand(80))
    end },
  { "Info", "Task", function(w)
      return string.format("[%s] 训练进行中：已完成 %d%%，预计剩余 %d 分钟", w, rand(100) - 1, rand(300))
    end },
  { "Info", "K8S", function(w)
      return string.format('Successfully assigned modelarts/job-bench-%s to %s', w, pick(nodes))
    end },
  { "Info", "K8S", function(w)
      return string.format('Container image "swr.cn-north-4.myhuaweicloud.com/atelier/pytorch_1_8:train-%d" already present on machine (%s)', rand(9), w)
    end },
  { "Info", "Job", function()
      return "Training job is running."
    end },
  { "Warning", "K8S", function(w)
      return string.format("Back-off restarting failed container %s in pod job-bench-%s_modelarts(5b1d%04x-…)", w, w, rand(65535) - 1)
    end },
  { "Warning", "Task", function(w)
      return string.format("[%s] WARNING: NCCL_DEBUG unset, using \"INFO\"; latency=%dms, retry %d/3, path=C:\\data\\train", w, rand(900), rand(3))
    end },
  { "Error", "Task", function(w, step)
      return string.format("[%s] Traceback (most recent call last):\n  File \"/home/ma-user/train.py\", line %d, in <module>\n" ..
        "    loss.backward()\nRuntimeError: CUDA out of memory. Tried to allocate %d.00 MiB (GPU %d; 31.75 GiB total capacity)\n" ..
        "\tstep=%d, batch=[%d, %d]", w, 100 + rand(400), rand(2048), rand(8) - 1, step, rand(64), rand(512))
    end },
  { "Error", "Job", function()
      return "Worker exited abnormally, restarting (attempt 1/3): «exit code 137» — OOMKilled"
    end },
}
-- Mostly worker progress lines, as in a real job.
local weights = { 60, 6, 8, 4, 3, 3, 4, 5, 4, 3 }
local bag = {}
for i, w in ipairs(weights) do for _ = 1, w do bag[#bag + 1] = templates[i] end end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function make_job(dir, total, delay_min, delay_max)
  -- Events in ascending time order; pages list them newest first.
  local events = {}
  local errors, bytes, chars = 0, 0, 0
  for i = 1, total do
    local t = bag[rand(#bag)]
    local w = pick(workers)
    local step = (i * 3) % 100000
    local message = t[3](w, step)
    local ev = string.format('{"time":%s,"level":%s,"message":%s,"source":%s}',
      json_string(iso(START + (i - 1) * SPAN // total)), json_string(t[1]), json_string(message), json_string(t[2]))
    events[i] = ev
    if t[1] == "Error" then errors = errors + 1 end
    bytes, chars = bytes + #message, chars + utf8.len(message)
  end
  write(dir .. "/expected.txt", string.format("events %d errors %d bytes %d chars %d\n", total, errors, bytes, chars))
  local head = '{"total":%d,"limit":%d,"offset":%d,"order":"desc","start_time":"%s","end_time":"%s","events":[%s]}'
  local last = total + EMPTY_PAGES * LIMIT
  local delays = {}
  -- Every page a client asks for, plus offset=1: a client may ask it once to
  -- tell a server that counts offset in records from one that counts pages.
  local offsets = { 1 }
  for offset = 0, last - 1, LIMIT do offsets[#offsets + 1] = offset end
  for _, offset in ipairs(offsets) do
    if delay_min then
      -- 13 and 21 are coprime: consecutive pages step through every value.
      local span = delay_max - delay_min + 1
      delays[#delays + 1] = string.format("%d %d\n", offset, delay_min + (offset // LIMIT * 13) % span)
    end
    local page = {}
    for k = offset + 1, math.min(offset + LIMIT, total) do
      page[#page + 1] = events[total - k + 1]
    end
    write(string.format("%s/%d.json", dir, offset),
      head:format(total, LIMIT, offset, iso(START), iso(START + SPAN), table.concat(page, ",")))
  end
  if delay_min then write(dir .. "/delays.txt", table.concat(delays)) end
end

for i = 2, #arg do
  local job, n, rest = arg[i]:match("^([%w%-]+)=(%d+)(.*)$")
  local lo, hi = rest:match("^@(%d+)%-(%d+)$")
  assert(job and (rest == "" or lo), "bad job spec " .. arg[i])
  local dir = outdir .. "/" .. job
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  make_job(dir, tonumber(n), tonumber(lo), tonumber(hi))
end
