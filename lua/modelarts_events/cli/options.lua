-- The command line's options: the parser (argparse), and the checks that
-- turn what was typed into settings, each failure a usage error naming its
-- flag. Internal to `bin/modelarts-events`.

local argparse = require "argparse"
local time = require "modelarts_events.time"

local M = {}

-- A usage error: exit status 2, the message names the flag.
local USAGE = {}
M.USAGE = USAGE
local function usage(flag, message)
  error(setmetatable({ usage = true, message = (flag and flag .. ": " or "") .. message }, USAGE), 0)
end
M.usage = usage

local EPILOG = [[
Times (--since, --until): ISO-8601 with an offset (2022-11-26T16:03:41+08:00),
  a date or a date and time without one, read in the --tz zone or the machine's
  (2022-11-26, 2022-11-26T16:03), epoch seconds or milliseconds told apart by
  size (below 10^11 seconds, else milliseconds: 1669449821 and 1669449821000
  are the same instant), a duration back from now (90s, 15m, 1h30m, 2d, 1w),
  or now.

Output: text, json, csv and table stream as events arrive (table holds its
  first 1000 rows to measure the columns); --summary keeps counts and the
  first and last 5 errors, not the events; html is written at the end, from
  every event held in memory. With --follow: events in time order whatever
  --order says; table holds its rows until the first wait for new events (at
  most 1000), then streams; html and --summary are written when the follow
  ends; --max-items counts printed events and then ends the follow. A
  progress line goes to stderr when stderr is a terminal and stdout is not
  (or nothing is printed until the end).

Environment (credentials: the first way that is complete, in this order):
  HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK   AK/SK credentials (requests signed with SDK-HMAC-SHA256)
  HUAWEICLOUD_SDK_SECURITY_TOKEN           with AK/SK: temporary credentials
  MODELARTS_TOKEN                          an IAM token, unless --token
  HUAWEICLOUD_SDK_DOMAIN, HUAWEICLOUD_SDK_USER, HUAWEICLOUD_SDK_PASSWORD
                                           a password login to IAM (the account, the IAM user, the
                                           password; never a flag), renewed before the token expires
  HUAWEICLOUD_SDK_METADATA                 1: temporary AK/SK from the ECS/notebook metadata service
                                           (or its URL), renewed before they expire
  HUAWEICLOUD_SDK_PROJECT_ID               the project, unless --project-id; without either, found
                                           through IAM from the region
  HUAWEICLOUD_SDK_REGION                   the region, unless --region; beside --endpoint it names
                                           the region (for IAM)
  HUAWEICLOUD_SDK_IAM_ENDPOINT             IAM's URL (default https://iam.REGION.myhuaweicloud.com)
  MODELARTS_ENDPOINT                       the endpoint, unless --endpoint or --region
  https_proxy, http_proxy, no_proxy        proxies, as curl reads them, unless --proxy
  NO_COLOR                                 set and not empty: never colour with --color auto

Following (--follow): every few polls the job itself says whether it has
  ended (its phase, whatever the filters and the language); after the end
  one last read brings the late events. Several jobs: their events merged by
  time, until every job has ended. --cursor FILE resumes where the last run
  that used FILE stood (no event printed twice, none lost) and keeps FILE
  current (replaced atomically after each event is printed).

Exit status:
  0    done (with --follow: the job completed, or --max-items was reached)
  1    the API or the network failed
  2    bad usage
  3    with --follow: the job failed (Failed or Abnormal)
  4    with --follow: the job was terminated
  5    with --follow: --timeout was reached first
       (several jobs: the worst of them, in the order 3, 4, 5, 0)
  130  interrupted (Ctrl-C)

Examples:
  modelarts-events --region cn-north-4 5bd61eea-9de2-4864-a0f7-5fae966171b5
  modelarts-events -l error -l warning --since 2h JOB_ID
  modelarts-events -n 20 --tz Asia/Shanghai JOB_ID
  modelarts-events -o csv --max-items 1000 JOB_ID > events.csv
  modelarts-events --summary --since 2022-11-26 JOB_ID
  modelarts-events JOB_A JOB_B                  (merged by time, with a job column)
  modelarts-events -f --interval 10 JOB_ID; echo "exit $?"
  modelarts-events -f --cursor job.cursor -o json JOB_A JOB_B >> events.jsonl
  modelarts-events --endpoint http://127.0.0.1:18080 --project-id 0a1b2c3d4e5f \
                   --token emulator-token reference      (the emulator: make emulator)]]

-- The parser.
-- @string version what `--version` prints
function M.parser(version)
  local parser = argparse("modelarts-events", "Print the events of Huawei Cloud ModelArts training jobs.")
    :usage("Usage: modelarts-events [options] TRAINING_JOB_ID...")
    :epilog(EPILOG)
    :help_max_width(100)
    :help_description_margin(30)
  parser:argument("training_job_id", "The training job's id; several: their events merged by time, with a job "
    .. "column."):args("+")
  parser:flag("--version", "Print the version and exit."):action(function()
    io.stdout:write(version, "\n")
    os.exit(0)
  end)
  parser:group("Where and who",
    parser:option("--endpoint", "The service's URL, e.g. https://modelarts.cn-north-4.myhuaweicloud.com."):argname("URL"),
    parser:option("--region", "A region name; the endpoint is https://modelarts.REGION.myhuaweicloud.com."):argname("NAME"),
    parser:option("--project-id", "The project id (default: $HUAWEICLOUD_SDK_PROJECT_ID; without it, IAM is "
      .. "asked for the region's)."):argname("ID"),
    parser:option("--token", "An IAM token (default: $MODELARTS_TOKEN). AK/SK and passwords come only from "
      .. "the environment."):argname("TOKEN"),
    parser:option("--language", "X-Language: en-us or zh-cn."):argname("LANG")
  )
  parser:group("Connection",
    parser:option("--ca-file", "Trust the CA certificates in FILE (PEM) for HTTPS."):argname("FILE"),
    parser:flag("--insecure", "Do not verify the server's TLS certificate."),
    parser:option("--proxy", "Proxy URL (default: https_proxy/http_proxy/no_proxy); '' for none."):argname("URL"),
    parser:option("--request-timeout", "Seconds for one HTTP exchange (default 30)."):argname("SECONDS"),
    parser:option("--retries", "Further attempts after 429, 5xx and network errors (default 3)."):argname("N")
  )
  parser:group("Which events",
    parser:option("-l --level", "Info, Error or Warning, any case; repeat (or comma-separate) for several."):argname("LEVEL")
      :count("*"),
    parser:option("--source", "K8S, Job or Task, any case; repeat (or comma-separate) for several."):argname("SOURCE"):count("*"),
    parser:option("--pattern", "Text the message contains."):argname("TEXT"),
    parser:option("--since", "From this time (see Times below)."):argname("TIME"),
    parser:option("--until", "Up to this time, in the same forms."):argname("TIME"),
    parser:option("--order", "asc or desc (default: the server's, newest first; with --tail: oldest first)."):argname("ORDER")
      :choices { "asc", "desc" },
    parser:option("--page-size", "Events per request, 1 to 100 (default 100)."):argname("N"),
    parser:option("--max-items", "Stop after printing this many events."):argname("N"),
    parser:option("-n --tail", "Only the newest N events, printed oldest first."):argname("N")
  )
  parser:group("Output",
    parser:option("-o --format", "text, json (one object a line), csv, table or html (a timeline page).", "text"):argname("FORMAT")
      :choices { "text", "json", "csv", "table", "html" },
    parser:flag("--summary", "Counts by level and source, the time span and the errors, instead of the events."),
    parser:option("--color", "auto (only on a terminal, never with NO_COLOR), always or never.", "auto"):argname("WHEN")
      :choices { "auto", "always", "never" },
    parser:option("--tz", "Print times in this zone: local, UTC (or Z), +08:00, or an IANA name such as "
      .. "Asia/Shanghai (default: as the server sent them)."):argname("ZONE")
  )
  parser:group("Following",
    parser:flag("-f --follow", "Keep printing new events, in time order, until the job ends (polls with "
      .. "--interval)."),
    parser:option("--interval", "Seconds between polls with --follow (default 5)."):argname("SECONDS"),
    parser:option("--timeout", "With --follow: give up after this many seconds (exit 5)."):argname("SECONDS"),
    parser:option("--cursor", "With --follow: resume from FILE, and keep it current."):argname("FILE")
  )
  return parser
end

-- Options whose value may begin with '-' (an offset, -05:00, or a negative
-- number, which then gets its own message): argparse would take the value
-- for an option, so it is joined to its flag.
local SIGNED_VALUES = { ["--tz"] = true, ["--since"] = true, ["--until"] = true, ["--page-size"] = true,
  ["--max-items"] = true, ["--tail"] = true, ["-n"] = true, ["--request-timeout"] = true, ["--retries"] = true,
  ["--interval"] = true, ["--timeout"] = true }

-- The arguments with `--tz -05:00` rewritten as `--tz=-05:00`.
function M.normalize(argv)
  local out, i = {}, 1
  while argv[i] ~= nil do
    local a, v = argv[i], argv[i + 1]
    if SIGNED_VALUES[a] and v and v:match("^[+-]%d") then
      out[#out + 1] = a .. "=" .. v
      i = i + 2
    else
      out[#out + 1] = a
      i = i + 1
    end
    if a == "--" then
      for j = i, #argv do out[#out + 1] = argv[j] end
      break
    end
  end
  return out
end

-- The server's spelling of a level or a source, whatever case was typed.
local LEVELS = { info = "Info", error = "Error", warning = "Warning" }
local SOURCES = { k8s = "K8S", job = "Job", task = "Task" }

local function names(flag, given, known, listed)
  local out, seen = {}, {}
  for _, value in ipairs(given) do
    for name in (value .. ","):gmatch("([^,]*),") do
      local canonical = known[name:lower()]
      if not canonical then usage(flag, "unknown value '" .. name .. "' (expected " .. listed .. ", in any case)") end
      if not seen[canonical] then
        seen[canonical] = true
        out[#out + 1] = canonical
      end
    end
  end
  return out
end

local function number(flag, v, check, expected)
  if v == nil then return nil end
  local n = tonumber(v)
  if not n or n ~= n or not check(n) then usage(flag, "expected " .. expected .. ", got '" .. v .. "'") end
  return n
end

local function whole(n) return n == math.floor(n) and n < 2 ^ 53 end
local function positive(n) return n > 0 and n < math.huge end

-- Check the parsed arguments; raise a usage error naming the flag.
-- @param args what argparse returned
-- @param now_ms the instant relative times count back from
-- @return the settings: `jobs`, `levels`, `sources`, `since_ms`, `until_ms`,
-- `page_size`, `max_items`, `tail`, `tz`, `language`, `timeout`, `retries`,
-- `interval`, `follow_timeout`, `proxy`, and the rest of `args` as they were
function M.check(args, now_ms)
  local o = {}
  for k, v in pairs(args) do o[k] = v end
  -- the same id twice is one job
  local jobs, seen = {}, {}
  for _, id in ipairs(args.training_job_id) do
    if not seen[id] then
      seen[id] = true
      jobs[#jobs + 1] = id
    end
  end
  o.jobs = jobs
  o.levels = names("--level", args.level, LEVELS, "Info, Error or Warning")
  o.sources = names("--source", args.source, SOURCES, "K8S, Job or Task")
  if args.tz then
    local ok, err = time.offset(args.tz, now_ms)
    if not ok then usage("--tz", err) end
  end
  local function when(flag, v)
    if v == nil then return nil end
    local ms, err = time.parse_when(v, now_ms, args.tz or "local")
    if not ms then usage(flag, err) end
    return ms
  end
  o.since_ms, o.until_ms = when("--since", args.since), when("--until", args["until"])
  if o.since_ms and o.until_ms and o.since_ms > o.until_ms then
    usage("--since", "it is after --until (" .. time.iso(o.since_ms, args.tz) .. " > " ..
      time.iso(o.until_ms, args.tz) .. ")")
  end
  if o.since_ms and not o.until_ms and not args.follow and o.since_ms > now_ms then
    -- the window would end (now) before it starts; a follow waits for it
    usage("--since", "it is in the future (" .. time.iso(o.since_ms, args.tz) .. " > now, " ..
      time.iso(now_ms, args.tz) .. "): give --until too, or --follow to wait for it")
  end
  o.page_size = number("--page-size", args.page_size, function(n) return whole(n) and n >= 1 and n <= 100 end,
    "a whole number from 1 to 100")
  o.max_items = number("--max-items", args.max_items, function(n) return whole(n) and n >= 1 end,
    "a whole number of events, at least 1")
  o.tail = number("--tail", args.tail, function(n) return whole(n) and n >= 1 end,
    "a whole number of events, at least 1")
  o.timeout = number("--request-timeout", args.request_timeout, positive, "a number of seconds above 0")
  o.retries = number("--retries", args.retries, function(n) return whole(n) and n >= 0 and n <= 100 end,
    "a whole number from 0 to 100")
  o.interval = number("--interval", args.interval, positive, "a number of seconds above 0") or 5
  o.follow_timeout = number("--timeout", args.timeout, positive, "a number of seconds above 0")
  if args.language then
    o.language = args.language:lower()
    if o.language ~= "en-us" and o.language ~= "zh-cn" then
      usage("--language", "expected en-us or zh-cn, got '" .. args.language .. "'")
    end
  end
  if args.ca_file then
    local f = io.open(args.ca_file, "rb")
    if not f then usage("--ca-file", "cannot read '" .. args.ca_file .. "'") end
    f:close()
  end
  if args.proxy == "" then o.proxy = false end
  if o.tail and o.max_items then usage("--tail", "cannot be combined with --max-items") end
  if args.summary and args.format ~= "text" then usage("--summary", "cannot be combined with --format") end
  if args.follow then
    if o.tail then usage("--tail", "cannot be combined with --follow yet") end
    if args["until"] then usage("--until", "cannot be combined with --follow (it ends when the job does)") end
  elseif args.timeout or args.interval or args.cursor then
    usage(args.timeout and "--timeout" or args.interval and "--interval" or "--cursor",
      "only means something with --follow")
  end
  return o
end

return M
