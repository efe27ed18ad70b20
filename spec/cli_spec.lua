-- The command line, run as a subprocess against the emulator, with a clean
-- environment (env -i plus what each case needs), under a pseudo-terminal
-- (script) where the point is about a terminal.
local cjson = require "cjson"
local emulator = require "support.emulator"
local time = require "modelarts_events.time"

local cli = require "support.cli"
local files = require "support.files"

local command, run = cli.command, cli.run
local q, exit_code = files.quote, files.status

local slurp = files.take

-- Run the CLI on a pseudo-terminal (script): stderr is the terminal, stdout
-- too unless `opts.stdout` names a file. Returns what the terminal showed,
-- stdout's file content, and the exit code.
local function run_on_terminal(args, opts)
  opts = opts or {}
  local file = opts.stdout and os.tmpname()
  local inner = command(args, opts) .. (file and " >" .. file or "")
  local screen = os.tmpname()
  local code = exit_code(os.execute(string.format("%s script -qfec %s /dev/null </dev/null >%s 2>&1",
    opts.before or "", q(inner), screen)))
  return slurp(screen), file and slurp(file) or nil, code
end

local function lines(s)
  local t = {}
  for l in s:gsub("\r\n", "\n"):gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

-- Max resident set of a run, in KB. (Under AddressSanitizer freed memory
-- waits in a quarantine of 256 MB before reuse: off for this measure.)
local function max_rss_kb(args)
  local rss = os.tmpname()
  local asan = os.getenv("LD_PRELOAD") and "ASAN_OPTIONS=" .. q((os.getenv("ASAN_OPTIONS") or "") ..
    ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0")
  local code = exit_code(os.execute(string.format("/usr/bin/time -f %%M -o %s %s >/dev/null 2>&1", rss,
    command(args, { env = asan }))))
  assert.equal(0, code, args)
  return tonumber((slurp(rss):match("(%d+)%s*$")))
end

local function args_of_last() return emulator.last().args end

describe("modelarts-events", function()
  it("prints a job's events as text", function()
    local out, err, code = run("reference")
    assert.equal(0, code, err)
    local l = lines(out)
    assert.equal(27, #l)
    assert.equal("2022-11-26T16:03:41+08:00  Error    Job   Training job failed.", l[1])
    assert.equal("", err)
  end)

  it("writes JSON lines, CSV and a table", function()
    local out = run("reference --format json --order asc")
    local l = lines(out)
    assert.equal(27, #l)
    assert.equal("Training job is created.", cjson.decode(l[1]).message)
    assert.equal("Training job failed.", cjson.decode(l[27]).message)
    out = run("gen-50 --format csv")
    l = lines(out)
    assert.equal("time,level,source,message", l[1])
    assert.truthy(out:find('"', 1, true)) -- quoted fields with quotes, commas or line breaks
    out = run("reference --format table --max-items 3")
    l = lines(out)
    assert.equal(4, #l)
    assert.matches("^TIME%s+LEVEL%s+SOURCE%s+MESSAGE$", l[1])
  end)

  it("takes the short flags -l, -n, -o and prints --version", function()
    local out, _, code = run("-l error -o json reference")
    assert.equal(0, code)
    assert.equal(1, #lines(out))
    assert.equal("Error", cjson.decode(out).level)
    out = run("-n 2 -o csv gen-100")
    assert.equal(3, #lines(out))
    out, _, code = run("--version", { bare = true })
    assert.equal(0, code)
    local me = require "modelarts_events"
    assert.equal("modelarts-events " .. me.VERSION .. "\n", out)
  end)

  describe("levels and sources", function()
    it("take any case and go to the server in its spelling", function()
      local out, err, code = run("reference --level error")
      assert.equal(0, code, err)
      assert.equal(1, #lines(out))
      assert.matches("level=Error", args_of_last())
      out = run("reference --source k8s --format json")
      assert.matches("source=K8S", args_of_last())
      for _, l in ipairs(lines(out)) do assert.equal("K8S", cjson.decode(l).source:upper()) end
      assert.equal(13, #lines(out))
    end)

    it("are repeatable (or comma-separated) and then filtered here", function()
      local out = run("reference -l error --level WARNING")
      assert.equal(2, #lines(out))
      assert.is_nil(args_of_last():find("level=", 1, true))
      assert.equal(out, (run("reference --level error,warning")))
      out = run("reference --source JOB --source task --format json")
      assert.equal(14, #lines(out))
      for _, l in ipairs(lines(out)) do
        local source = cjson.decode(l).source
        assert.is_true(source == "Job" or source == "Task", source)
      end
    end)

    it("name the flag for an unknown value", function()
      local _, err, code = run("reference --level debug")
      assert.equal(2, code)
      assert.matches("^modelarts%-events: %-%-level: unknown value 'debug' %(expected Info, Error or Warning", err)
      _, err, code = run("reference --source pod")
      assert.equal(2, code)
      assert.matches("%-%-source: unknown value 'pod' %(expected K8S, Job or Task", err)
    end)
  end)

  it("counts --max-items in printed events, after every filter", function()
    local out = run("--level Error --level Warning --max-items 2 reference")
    assert.equal(2, #lines(out))
    out = run("gen-500 --page-size 7 --max-items 20")
    assert.equal(20, #lines(out))
    assert.matches("limit=7", args_of_last())
    out = run("-l warning -l error --max-items 30 -o json gen-2000")
    local l = lines(out)
    assert.equal(30, #l)
    for _, line in ipairs(l) do assert.is_not_equal("Info", cjson.decode(line).level) end
  end)

  describe("--tail", function()
    it("prints the newest N events oldest first, from one descending request", function()
      emulator.reset()
      local out, err, code = run("--tail 3 --format json gen-100000")
      assert.equal(0, code, err)
      local l = lines(out)
      assert.equal(3, #l)
      for i, line in ipairs(l) do assert.equal(99997 + i, emulator.index(cjson.decode(line))) end
      assert.equal(1, emulator.stats().requests)
      assert.matches("order=desc", args_of_last())
      -- --order desc: newest first
      out = run("-n 3 --order desc -o json gen-100000")
      assert.equal(100000, emulator.index(cjson.decode(lines(out)[1])))
    end)

    it("counts what the filters keep and stops reading there", function()
      emulator.reset()
      local out = run("-n 5 -l warning -l error -o json gen-100000")
      local l = lines(out)
      assert.equal(5, #l)
      local previous = 0
      for _, line in ipairs(l) do
        local ev = cjson.decode(line)
        assert.is_not_equal("Info", ev.level)
        assert.is_true(emulator.index(ev) > previous)
        previous = emulator.index(ev)
      end
      assert.is_true(previous > 99000, "the newest ones")
      assert.is_true(emulator.stats().requests <= 8, "read a few pages, not the job's 1000")
    end)

    it("refuses nonsense", function()
      for _, args in ipairs { "-n 0 reference", "-n x reference", "--tail 1.5 reference", "-n 3 --max-items 2 reference" } do
        local _, err, code = run(args)
        assert.equal(2, code, args)
        assert.matches("%-%-tail", err, 1, args)
      end
    end)
  end)

  describe("--tz", function()
    it("prints every format in the zone given: IANA names, offsets, UTC, local", function()
      local function first_time(args, env) return cjson.decode(lines((run(args .. " -o json -n 1 reference",
        { env = env })))[1]).time end
      assert.equal("2022-11-26T16:03:41+08:00", first_time("--tz Asia/Shanghai"))
      assert.equal("2022-11-26T03:03:41-05:00", first_time("--tz America/New_York"))
      assert.equal("2022-11-26T08:03:41Z", first_time("--tz UTC"))
      assert.equal("2022-11-26T08:03:41Z", first_time("--tz Z"))
      assert.equal("2022-11-26T02:33:41-05:30", first_time("--tz -05:30"))
      assert.equal("2022-11-26T02:33:41-05:30", first_time("--tz=-05:30"))
      assert.equal("2022-11-26T03:03:41-05:00", first_time("--tz local", "TZ=America/New_York"))
      assert.equal("2022-11-26T09:03:41+01:00", first_time("--tz local", "TZ=Europe/Berlin"))
      -- text, csv, table and the summary too
      assert.matches("^2022%-11%-26T08:03:41Z  Error", (run("--tz UTC -n 1 reference")))
      assert.matches("\n2022%-11%-26T08:03:41Z,Error,Job", (run("--tz UTC -n 1 -o csv reference")))
      assert.matches("\n2022%-11%-26T08:03:41Z  Error", (run("--tz UTC -n 1 -o table reference")))
      local summary = run("--tz UTC --summary reference")
      assert.matches("span: 2022%-11%-26T08:01:36Z %.%. 2022%-11%-26T08:03:41Z", summary)
      assert.matches("\n  2022%-11%-26T08:03:41Z  Error    Job   Training job failed%.", summary)
    end)

    it("refuses anything else, naming the flag", function()
      for _, tz in ipairs { "garbage", "Mars/Olympus", "+25:00", "+8", "08:00", "../../etc/passwd" } do
        local out, err, code = run("--tz " .. q(tz) .. " reference")
        assert.equal(2, code, tz)
        assert.equal("", out)
        assert.matches("^modelarts%-events: %-%-tz: ", err)
        assert.matches("Asia/Shanghai", err) -- the forms
      end
    end)
  end)

  describe("--since and --until", function()
    it("take ISO-8601, dates and times in --tz, epoch seconds and milliseconds", function()
      for _, window in ipairs {
        "--since 2022-11-26T16:03:00+08:00 --until 2022-11-26T16:03:20+08:00",
        "--since 1669449780 --until 1669449800",
        "--since 1669449780000 --until 1669449800000",
        "--tz UTC --since 2022-11-26T08:03 --until 2022-11-26T08:03:20",
        "--tz -05:00 --since 2022-11-26T03:03 --until 2022-11-26T03:03:20",
        "--since 2022-11-26T16:03 --until '2022-11-26 16:03:20'",
      } do
        local out, err, code = run(window .. " reference", { env = "TZ=Asia/Shanghai" })
        assert.equal(0, code, window .. ": " .. err)
        assert.equal(4, #lines(out), window)
      end
      local out = run("--tz Asia/Shanghai --since 2022-11-26 --until 2022-11-27 reference")
      assert.equal(27, #lines(out))
      assert.equal(0, #lines((run("--tz Asia/Shanghai --since 2022-11-27 reference"))))
    end)

    it("count relative forms back from now, compound units too", function()
      for form, ms in pairs { ["90s"] = 90000, ["1h30m"] = 5400000, ["2d"] = 172800000, ["1w"] = 604800000 } do
        local before = time.now_ms()
        local _, err, code = run("--since " .. form .. " reference")
        assert.equal(0, code, err)
        local args = args_of_last()
        local start_time, end_time = tonumber(args:match("start_time=(%d+)")), tonumber(args:match("end_time=(%d+)"))
        assert.is_true(math.abs(start_time - (before - ms)) <= 5000, form)
        assert.is_true(math.abs(end_time - before) <= 5000, form)
      end
      run("--until 2022-11-26T16:03:00+08:00 reference")
      assert.matches("end_time=1669449780000", args_of_last())
    end)

    it("name the flag and show the forms when they cannot", function()
      for _, args in ipairs { "--since soon", "--since 1x", "--until 2022-02-30", "--since -5m", "--until ''" } do
        local out, err, code = run(args .. " reference")
        assert.equal(2, code, args)
        assert.equal("", out)
        assert.matches("^modelarts%-events: " .. args:match("^%-%-%a+"):gsub("%-", "%%-") .. ": ", err)
      end
      local _, err = run("--since soon reference")
      for _, form in ipairs { "2022-11-26", "epoch seconds", "milliseconds", "1h30m", "1w" } do
        assert.truthy(err:find(form, 1, true), form)
      end
      _, err = run("--since 2022-11-26T16:03:41+08:00 --until 2022-11-26T16:00:00+08:00 reference")
      assert.matches("%-%-since: it is after %-%-until", err)
      local code
      _, err, code = run("--since 2999-01-01 reference")
      assert.equal(2, code)
      assert.matches("^modelarts%-events: %-%-since: it is in the future %(2999%-01%-01T", err)
      assert.is_nil(err:find("start_time", 1, true)) -- the flag's words, not the API's
    end)
  end)

  describe("several jobs", function()
    it("merges their events by time, with a job column", function()
      local out, err, code = run("gen-300 gen-200 gen-300 -o json")
      assert.equal(0, code, err)
      local l = lines(out)
      assert.equal(500, #l) -- a job named twice is read once
      local previous, per_job = -math.huge, {}
      for _, line in ipairs(l) do
        local ev = cjson.decode(line)
        local ms = time.parse(ev.time)
        assert.is_true(ms >= previous, "in time order")
        previous = ms
        per_job[ev.job] = (per_job[ev.job] or 0) + 1
      end
      assert.same({ ["gen-300"] = 300, ["gen-200"] = 200 }, per_job)
      out = run("gen-3 reference --max-items 4")
      l = lines(out)
      assert.equal(4, #l)
      assert.matches("^2022%-11%-26T16:00:%d%d%+08:00  gen%-3      Info", l[1])
      out = run("gen-3 reference -o table -n 2")
      assert.matches("^TIME%s+JOB%s+LEVEL%s+SOURCE%s+MESSAGE\n", out)
      out = run("gen-3 reference -o csv --max-items 1")
      assert.matches("^time,job,level,source,message\r\n2022%-11%-26T16:00:00%+08:00,gen%-3,", out)
      out = run("gen-3 reference --summary")
      assert.matches("by job: gen%-3 3, reference 27", out)
    end)

    it("reads each job in time order and keeps --order and --tail", function()
      local out = run("gen-30 gen-20 --order desc -o json")
      local previous = math.huge
      for _, line in ipairs(lines(out)) do
        local ms = time.parse(cjson.decode(line).time)
        assert.is_true(ms <= previous)
        previous = ms
      end
      out = run("gen-30 reference -n 2 -o json")
      local l = lines(out)
      assert.equal(2, #l)
      assert.equal("Training job failed.", cjson.decode(l[2]).message) -- the newest of both, last
    end)

    it("names the job that failed", function()
      local out, err, code = run("gen-5 no-such-job")
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("^modelarts%-events: job 'no%-such%-job': http 404 ", err)
    end)
  end)

  describe("in bounded memory", function()
    -- RSS of a run over few events and over many: the difference is what
    -- the run holds per event (the old --summary held 423 MB for 1M events)
    for _, case in ipairs { { "--summary", "summary" }, { "--format table", "table" },
      { "--format json", "json" } } do
      it("streams " .. case[2], function()
        local small = max_rss_kb("gen-10000 " .. case[1])
        local large = max_rss_kb("gen-200000 " .. case[1])
        assert.is_true(large - small < 12 * 1024, ("%s: %d KB for 10k, %d KB for 200k"):format(case[2], small, large))
      end)
    end

    it("merges several jobs without holding them", function()
      local small = max_rss_kb("gen-5000 gen-4000 --summary")
      local large = max_rss_kb("gen-100000 gen-90000 --summary")
      assert.is_true(large - small < 12 * 1024, ("%d KB, %d KB"):format(small, large))
    end)
  end)

  describe("--summary", function()
    it("shows the first and last errors and how many more", function()
      local out, _, code = run("reference --summary")
      assert.equal(0, code)
      assert.matches("events: 27", out)
      assert.matches("errors: 1", out)
      assert.matches("Training job failed%.", out)
      out = run("gen-100000 --summary")
      local l = lines(out)
      assert.is_true(#l < 20, #l .. " lines")
      local errors = tonumber(out:match("errors: (%d+)"))
      assert.is_true(errors > 100)
      assert.matches("\n  … and " .. (errors - 10) .. " more\n", out)
      assert.matches("#%d+\n$", out)
    end)
  end)

  describe("on a terminal", function()
    it("shows progress on stderr only while stdout goes elsewhere", function()
      local screen, out, code = run_on_terminal("gen-20000", { stdout = true })
      assert.equal(0, code)
      assert.equal(20000, #lines(out))
      assert.is_nil(out:find("\27", 1, true))
      assert.matches("\r[%d,]+ events? read, [%d,]+ pages?, [%d,]+ events/s", screen)
      assert.matches("\r\27%[K$", screen) -- wiped at the end
      -- one of each, said so
      screen = run_on_terminal("gen-1", { stdout = true })
      assert.matches("\r1 event read, 1 page, [%d,]+ events/s", screen)
      -- stdout on the terminal: the events themselves show progress
      screen = run_on_terminal("gen-2000")
      assert.is_nil(screen:find("events read", 1, true))
      assert.equal(2000, #lines(screen))
      -- no terminal at all: nothing on stderr
      local _, err = run("gen-20000")
      assert.equal("", err)
      -- a summary prints nothing until the end: progress, wiped, then the summary
      screen = run_on_terminal("gen-20000 --summary")
      assert.matches("events? read.*\r\27%[Kevents: 20000\r?\n", screen)
    end)

    it("colours with --color auto unless NO_COLOR is set and not empty", function()
      assert.truthy(run_on_terminal("reference -n 2"):find("\27[31mError", 1, true))
      assert.truthy(run_on_terminal("reference -n 2", { env = "NO_COLOR=" }):find("\27[31mError", 1, true))
      assert.is_nil(run_on_terminal("reference -n 2", { env = "NO_COLOR=1" }):find("\27[", 1, true))
      assert.is_nil((run("reference -n 2")):find("\27[", 1, true))
      assert.truthy((run("reference -n 2 --color always")):find("\27[31mError", 1, true))
    end)

    -- A real Ctrl-C typed on the terminal `after` seconds into the run;
    -- returns the exit code, what the terminal showed, and the milliseconds
    -- from the keystroke to the exit.
    local function interrupted(args, after)
      local stamp = os.tmpname()
      local typed = string.format("(sleep %s; date +%%s%%N >%s; printf '\\003') |", after, stamp)
      local inner = command(args) .. " >/dev/null"
      local screen = os.tmpname()
      local code = exit_code(os.execute(string.format(
        "%s script -qfec %s /dev/null >%s 2>&1; rc=$?; date +%%s%%N >>%s; exit $rc", typed, q(inner), screen, stamp)))
      local t0, t1 = slurp(stamp):match("(%d+)%s+(%d+)")
      return code, slurp(screen), (tonumber(t1) - tonumber(t0)) / 1e6
    end

    it("ends at once with exit 130 and no traceback on Ctrl-C", function()
      -- 1.5 s into a read of about 5 s
      local code, shown, ms = interrupted("delay20-100000", 1.5)
      assert.equal(130, code, shown)
      assert.is_nil(shown:find("traceback", 1, true), shown)
      assert.is_nil(shown:find("interrupted", 1, true), shown)
      assert.is_true(ms < 2000, "ended within 2 s, not " .. ms .. " ms")
    end)

    -- lua.c's handler only acts once Lua code runs again: the C driver
    -- notices the signal while it waits for the response
    it("ends at once on Ctrl-C while a request is in flight", function()
      local code, shown, ms = interrupted("fault-slow-12000", 1)
      assert.equal(130, code, shown)
      assert.is_nil(shown:find("traceback", 1, true), shown)
      assert.is_true(ms < 2000, "ended within 2 s, not " .. ms .. " ms")
    end)

    it("says what a retry waits for (the client's on_retry hook)", function()
      -- the line itself, drawn by the CLI's progress module: the client calls
      -- the hook once it has one (until then the line shows counts only)
      local me = require "modelarts_events"
      local progress = require "modelarts_events.cli.progress"
      local drawn, now = {}, 0
      local stats = { events = 1500, pages = 15, printed = 1500 }
      local line = progress.new(stats, true, function() return now end, function(s) drawn[#drawn + 1] = s end)
      now = 3
      line.update()
      assert.equal("\r1,500 events read, 15 pages, 500 events/s\27[K", drawn[#drawn])
      line.retry(me.error("http", "The throttling threshold has been reached", { status = 429 }), 2)
      assert.matches("; waiting 2%.0 s to retry after throttled %(429%)\27%[K$", drawn[#drawn])
      line.retry(me.error("network", "Connection refused"), 0.5)
      assert.matches("; waiting 0%.5 s to retry after network\27%[K$", drawn[#drawn])
      stats.pages, now = 16, 4 -- a page came: the wait is over
      line.update()
      assert.is_nil(drawn[#drawn]:find("waiting", 1, true))
      stats.printed = 10
      now = 5
      line.update()
      assert.matches(", 10 kept\27%[K$", drawn[#drawn])
      line.clear()
      assert.equal("\r\27[K", drawn[#drawn])
      -- disabled: nothing at all
      drawn = {}
      line = progress.new(stats, false, function() return now end, function(s) drawn[#drawn + 1] = s end)
      line.update()
      line.retry(me.error("network", "x"), 1)
      line.clear()
      assert.same({}, drawn)
    end)
  end)

  describe("connection flags", function()
    it("--ca-file and --insecure for HTTPS", function()
      local tls = "--endpoint " .. emulator.tls_url .. " --project-id " .. emulator.project_id ..
        " --token " .. emulator.token .. " -n 1 reference"
      local out, err, code = run(tls .. " --ca-file " .. q(emulator.ca_file), { bare = true })
      assert.equal(0, code, err)
      assert.equal(1, #lines(out))
      out, err, code = run(tls, { bare = true })
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("tls", err)
      out, err, code = run(tls .. " --insecure", { bare = true })
      assert.equal(0, code, err)
      assert.equal(1, #lines(out))
      out, err, code = run("--ca-file /nonexistent/ca.pem reference")
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("%-%-ca%-file: cannot read", err)
    end)

    it("--proxy sends through the proxy given", function()
      -- nothing listens there: the request can only fail if it went that way
      local _, err, code = run("--proxy http://127.0.0.1:9 --retries 0 -n 1 reference")
      assert.equal(1, code)
      assert.matches("network", err)
    end)

    if os.getenv("MODELARTS_EMULATOR_PROXY") then
      it("--proxy through the emulator's forward proxy", function()
        emulator.reset()
        local out, err, code = run("--proxy " .. os.getenv("MODELARTS_EMULATOR_PROXY") .. " -n 1 reference")
        assert.equal(0, code, err)
        assert.equal(1, #lines(out))
        assert.equal(1, emulator.stats().proxied)
      end)
    else
      pending("--proxy through the emulator's forward proxy: needs MODELARTS_EMULATOR_PROXY (make spec, once merged)")
    end

    it("--request-timeout and --retries", function()
      local started = os.time()
      local _, err, code = run("--request-timeout 1 --retries 0 fault-slow-4000")
      assert.equal(1, code)
      assert.matches("timeout", err)
      assert.is_true(os.time() - started < 4, "gave up after about 1 s")
      _, err, code = run("--retries 0 fault-503-1-" .. emulator.tag())
      assert.equal(1, code)
      assert.matches("503", err)
      _, err, code = run("--retries 1 fault-503-1-" .. emulator.tag())
      assert.equal(0, code, err)
      for _, args in ipairs { "--retries -1", "--retries x", "--request-timeout 0", "--request-timeout soon" } do
        _, err, code = run(args .. " reference")
        assert.equal(2, code, args)
        assert.matches("^modelarts%-events: " .. args:match("^%S+"):gsub("%-", "%%-") .. ": ", err)
      end
    end)
  end)

  it("checks --language and sends it", function()
    local out, err, code = run("--language ZH-CN -l error reference")
    assert.equal(0, code, err)
    assert.equal("zh-cn", emulator.last().headers["x-language"])
    assert.matches("训练作业运行失败", out)
    out, err, code = run("--language fr reference")
    assert.equal(2, code)
    assert.equal("", out)
    assert.matches("^modelarts%-events: %-%-language: expected en%-us or zh%-cn", err)
  end)

  it("writes the html timeline at the end", function()
    local out, err, code = run("-o html reference")
    assert.equal(0, code, err)
    assert.matches("^%s*<!DOCTYPE html>", out)
    assert.truthy(out:find("Training job failed.", 1, true))
  end)

  it("writes one html timeline of several jobs, with the filters applied", function()
    local out, err, code = run("-o html -l error -l warning reference gen-300")
    assert.equal(0, code, err)
    assert.matches("^%s*<!DOCTYPE html>", out)
    local groups = {}
    for id in out:gmatch("<h2>([^<]*)</h2>") do groups[id] = true end
    assert.is_true(groups.reference) -- a lane group per job (in the order of their first events)
    assert.is_true(groups["gen-300"])
    assert.truthy(out:find("<th>job</th>", 1, true))
    assert.truthy(out:find("Training job failed.", 1, true)) -- an Error
    assert.is_nil(out:find("Training job is created.", 1, true)) -- an Info, filtered out
    out, err, code = run("-o html --tail 2 reference")
    assert.equal(0, code, err)
    assert.truthy(out:find("Training job failed.", 1, true)) -- the last event
    assert.is_nil(out:find("Training job is created.", 1, true)) -- the first one
  end)

  it("exits 1 with one line for an API failure", function()
    local out, err, code = run("no-such-job")
    assert.equal(1, code)
    assert.equal("", out)
    assert.equal(1, #lines(err))
    assert.matches("^modelarts%-events: job 'no%-such%-job': http 404 ModelArts%.2775: ", err)
    -- the id quoted, so that a stray space shows
    local _, spaced, spaced_code = run("'reference '")
    assert.equal(1, spaced_code)
    assert.matches("^modelarts%-events: job 'reference ': http 404 ", spaced)
  end)

  it("names the variable, not the flag, for a bad setting taken from the environment", function()
    local bad = "MODELARTS_ENDPOINT=htp:/nowhere"
    local _, err, code = run("--project-id p --token t reference", { bare = true, env = bad })
    assert.equal(2, code, err)
    assert.matches("^modelarts%-events: MODELARTS_ENDPOINT: endpoint must be", err)
    assert.is_nil(err:find("--endpoint", 1, true), err)
    -- given as a flag, the flag is named (and wins over the variable)
    _, err, code = run("--endpoint htp:/flag --project-id p --token t reference", { bare = true, env = bad })
    assert.equal(2, code, err)
    assert.matches("^modelarts%-events: %-%-endpoint: endpoint must be", err)
    _, err, code = run("--endpoint " .. emulator.url .. " --token t reference",
      { bare = true, env = "HUAWEICLOUD_SDK_PROJECT_ID='bad id'" })
    assert.equal(2, code, err)
    assert.matches("^modelarts%-events: HUAWEICLOUD_SDK_PROJECT_ID: project_id must", err)
  end)

  it("exits 2 for bad usage, naming the flag, without a traceback", function()
    for args, flag in pairs { [""] = "job", ["--bogus reference"] = "--bogus", ["reference --page-size 500"] = "--page-size",
      ["reference --max-items 0"] = "--max-items", ["reference --format xml"] = "--format",
      ["reference --interval 2"] = "--interval", ["reference --order sideways"] = "--order",
      ["reference --pattern " .. string.rep("x", 257)] = "--pattern", ["'a/b'"] = "TRAINING_JOB_ID",
      ["-o csv --project-id 'bad id' reference"] = "--project-id" } do
      local out, err, code = run(args)
      assert.equal(2, code, args .. ": " .. err)
      assert.equal("", out)
      assert.truthy(err:find(flag, 1, true), args .. ": " .. err)
      assert.is_nil(err:find("traceback", 1, true), args)
    end
  end)

  it("reads like a manual with --help", function()
    local out, _, code = run("--help", { bare = true })
    assert.equal(0, code)
    for _, option in ipairs { "--endpoint", "--region", "--project-id", "--token", "--level", "-l", "--source",
      "--pattern", "--since", "--until", "--order", "--page-size", "--max-items", "--tail", "-n", "--format", "-o",
      "--summary", "--follow", "-f", "--interval", "--color", "--tz", "--language", "--ca-file", "--insecure",
      "--proxy", "--request-timeout", "--retries", "--version", "HUAWEICLOUD_SDK_AK", "NO_COLOR", "Exit status",
      "130", "Examples", "1h30m", "10^11" } do
      assert.truthy(out:find(option, 1, true), option)
    end
    -- the prose after the options reads as written: no line cut short
    -- mid-paragraph by the help's rewrapping
    local prose = assert(out:match("\n(Times %(.-)\n\nEnvironment"), out)
    for paragraph in (prose .. "\n\n"):gmatch("(.-)\n\n") do
      local l = lines(paragraph .. "\n")
      for i = 1, #l - 1 do
        assert.is_true(#l[i] >= 60 and #l[i] <= 80, "a line of " .. #l[i] .. " characters:\n" .. paragraph)
      end
    end
  end)
end)
