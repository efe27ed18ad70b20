-- The pure-Lua helpers: time, filter, format. Nothing here depends on the
-- machine's time zone: `make spec` runs it as it is, and the matrix reruns it.
local time = require "modelarts_events.time"
local filter = require "modelarts_events.filter"
local format = require "modelarts_events.format"
local cjson = require "cjson"

local ERROR_EVENT = { time = "2022-11-26T16:03:41+08:00", level = "Error", message = "Training job failed.", source = "Job" }
local K8S_EVENT = { time = "2022-11-26T16:02:05+08:00", level = "Info", source = "K8s",
  message = "[Pod: x-worker-0] Pulled: Successfully pulled image \"swr/img:1.0\"" }
local TRICKY = { time = "2022-11-26T16:03:12+08:00", level = "Warning", source = "Task",
  message = "[worker-0] a, \"quoted\"\nsecond line\ttab 训练 é" }

describe("time", function()
  it("parses the service's form into epoch ms", function()
    assert.equal(1669449821000, time.parse("2022-11-26T16:03:41+08:00"))
    assert.equal(1669449821000, time.parse("2022-11-26T08:03:41Z"))
    assert.equal(1669449821000, time.parse("2022-11-26 03:03:41-0500"))
    assert.equal(1669449821250, time.parse("2022-11-26T08:03:41.25Z"))
    assert.equal(0, time.parse("1970-01-01T00:00:00Z"))
    assert.equal(-1000, time.parse("1969-12-31T23:59:59Z"))
    assert.equal(42, time.parse(42))
  end)

  it("tells now to the millisecond, never behind the system clock", function()
    -- an event stamped a moment ago must not look as if it came from the
    -- future: a whole-second clock (os.time) lags by up to a second
    for _ = 1, 5 do
      local f = assert(io.popen("date +%s%3N"))
      local before = assert(tonumber(f:read("*l")))
      f:close()
      local now = time.now_ms()
      assert.is_true(now >= before, now .. " < " .. before)
      assert.is_true(now - before < 2000, now .. " is far from " .. before)
    end
  end)

  it("knows leap years", function()
    assert.equal(time.parse("2024-03-01T00:00:00Z") - 86400000, time.parse("2024-02-29T00:00:00Z"))
    assert.equal(time.parse("2000-03-01T00:00:00Z") - 86400000, time.parse("2000-02-29T00:00:00Z"))
    assert.is_nil(time.parse("2023-02-29T00:00:00Z"))
    assert.is_nil(time.parse("1900-02-29T00:00:00Z"))
  end)

  it("refuses what is not a date-time with an offset", function()
    for _, s in ipairs { "", "yesterday", "2022-11-26", "2022-11-26T16:03:41", "2022-13-01T00:00:00Z",
      "2022-11-31T00:00:00Z", "2022-11-26T24:00:00Z", "2022-11-26T16:03:41+25:00", "2022-11-26T16:03:41.Z",
      -- the service's own 25-byte shape, read by the fast path
      "2022-13-26T16:03:41+08:00", "2022-02-30T16:03:41+08:00", "2022-11-26T16:03:41+08:x0", "2022-1a-26T16:03:41+08:00",
      "2022-11-26T16:63:41+08:00", "2022-11-26X16:03:41+08:00", "2022-11-26T16:03:41*08:00" } do
      local ms, err = time.parse(s)
      assert.is_nil(ms, s)
      assert.is_string(err)
    end
    assert.is_nil(time.parse(1.5))
  end)

  it("prints ISO-8601 in a given offset, UTC or the machine's zone", function()
    assert.equal("2022-11-26T16:03:41+08:00", time.iso(1669449821000, "+08:00"))
    assert.equal("2022-11-26T08:03:41Z", time.iso(1669449821999, "Z"))
    assert.equal("2022-11-26T08:03:41Z", time.iso(1669449821000, "utc"))
    assert.equal("2022-11-26T02:33:41-05:30", time.iso(1669449821000, "-05:30"))
    assert.equal("1969-12-31T23:59:59Z", time.iso(-1000))
    local here = time.iso(1669449821000, "local")
    assert.equal(1669449821000, time.parse(here))
    -- the offset printed is the one os.date reports for that instant
    local t, u = os.date("*t", 1669449821), os.date("!*t", 1669449821)
    local minutes = ((t.day ~= u.day) and ((t.day > u.day or t.day == 1) and 1440 or -1440) or 0) +
      (t.hour - u.hour) * 60 + (t.min - u.min)
    if math.abs(minutes) > 1440 then minutes = minutes > 0 and minutes - 43200 or minutes + 43200 end
    local sign, hh, mm = here:match("([+-])(%d%d):(%d%d)$")
    if minutes == 0 and not sign then return end
    assert.equal(minutes, (sign == "-" and -1 or 1) * (tonumber(hh) * 60 + tonumber(mm)))
  end)

  it("round-trips every hour of a leap year", function()
    local ms = time.parse("2024-01-01T00:30:00Z")
    for _ = 1, 366 * 24 do
      assert.equal(ms, time.parse(time.iso(ms, "+05:45")))
      ms = ms + 3600000
    end
  end)

  it("reads relative durations, compound ones too", function()
    assert.equal(1000000 - 30000, time.relative("30s", 1000000))
    assert.equal(1000000 - 900000, time.relative("15m", 1000000))
    assert.equal(10000000 - 7200000, time.relative("2h", 10000000))
    assert.equal(100000000 - 86400000, time.relative("1d", 100000000))
    assert.equal(90000, time.duration("90s"))
    assert.equal(5400000, time.duration("1h30m"))
    assert.equal(2 * 86400000, time.duration("2d"))
    assert.equal(7 * 86400000, time.duration("1w"))
    assert.equal(7 * 86400000 + 86400000 + 3600000 + 60000 + 1000, time.duration("1w1d1h1m1s"))
    for _, bad in ipairs { "15x", "", "h", "1.5h", "1h 30m", "-5m", "30", "1hh", "99999999999999999999w" } do
      local ms, err = time.duration(bad)
      assert.is_nil(ms, bad)
      assert.is_string(err, bad)
    end
    assert.is_nil(time.relative("15x", 0))
  end)

  it("passes every shared ISO-8601 vector", function()
    local vectors = dofile("spec/fixtures/iso8601.lua")
    assert.is_true(#vectors > 40)
    for _, v in ipairs(vectors) do
      local ms, err = time.parse(v[1])
      if v[2] == false then
        assert.is_nil(ms, ("accepted %q"):format(v[1]))
        assert.is_string(err)
      else
        assert.equal(v[2], ms, ("%q: %s"):format(v[1], tostring(err)))
      end
    end
  end)

  it("refuses numbers that are no time, with a message", function()
    for _, n in ipairs { 1e300, -1e300, math.huge, -math.huge, 0 / 0, 1.5, 253402300800000 } do
      local ms, err = time.parse(n)
      assert.is_nil(ms, tostring(n))
      assert.is_string(err, tostring(n))
      ms, err = time.parse_when(n)
      assert.is_nil(ms, tostring(n))
      assert.is_string(err, tostring(n))
      if n ~= 1.5 then assert.is_nil((time.iso(n)), tostring(n)) end
    end
  end)

  it("reads every form parse_when documents", function()
    local now = 1669449821000
    assert.equal(5, time.parse_when(5))                              -- a Lua number is ms
    assert.equal(1669449821000, time.parse_when("1669449821000"))    -- ms
    assert.equal(1669449821000, time.parse_when("1669449821"))       -- seconds: told apart by size
    assert.equal(99999999999000, time.parse_when("99999999999"))     -- the largest seconds (year 5138)
    assert.equal(100000000000, time.parse_when("100000000000"))      -- the smallest ms (1973-03-03)
    assert.equal(0, time.parse_when("0"))
    assert.equal(1669449821000, time.parse_when("2022-11-26T16:03:41+08:00"))
    assert.equal(1669449821250, time.parse_when("2022-11-26T08:03:41.250Z"))
    assert.equal(now - 40000, time.parse_when("40s", now))
    assert.equal(now - 5400000, time.parse_when("1h30m", now))
    assert.equal(now - 604800000, time.parse_when("1w", now))
    assert.equal(now, time.parse_when("now", now))
    -- without an offset: in the zone given
    assert.equal(time.parse("2022-11-26T00:00:00Z"), time.parse_when("2022-11-26", now, "UTC"))
    assert.equal(time.parse("2022-11-26T00:00:00+08:00"), time.parse_when("2022-11-26", now, "+08:00"))
    assert.equal(time.parse("2022-11-26T16:03:00-05:30"), time.parse_when("2022-11-26T16:03", now, "-05:30"))
    assert.equal(time.parse("2022-11-26T16:03:41.5+08:00"), time.parse_when("2022-11-26 16:03:41.5", now, "+08:00"))
    assert.equal(time.parse("2022-11-26T00:00:00+08:00"), time.parse_when("2022-11-26", now, "Asia/Shanghai"))
    assert.equal(time.parse("2023-07-04T00:00:00-04:00"), time.parse_when("2023-07-04", now, "America/New_York"))
    assert.equal(time.parse("2023-01-04T00:00:00-05:00"), time.parse_when("2023-01-04", now, "America/New_York"))
    -- the default zone is the machine's, as os.time reads a date
    assert.equal(os.time { year = 2022, month = 11, day = 26, hour = 0 } * 1000, time.parse_when("2022-11-26", now))
    assert.equal(os.time { year = 2022, month = 7, day = 1, hour = 12, min = 30 } * 1000,
      time.parse_when("2022-07-01T12:30", now))
  end)

  it("refuses what parse_when cannot read, listing the forms", function()
    for _, bad in ipairs { "soon", "", "yesterday", "2022-11-31", "2022-11-26T25:00", "2022-11-26T16:03:41+08",
      "12345678901234567890", "1h30", "-5m", "2022-11-26T16:03:41.Z", "2022/11/26" } do
      local ms, err = time.parse_when(bad, 0, "UTC")
      assert.is_nil(ms, bad)
      assert.is_string(err, bad)
    end
    local _, err = time.parse_when("soon")
    for _, form in ipairs { "ISO-8601", "2022-11-26", "epoch seconds", "milliseconds", "1h30m", "1w" } do
      assert.truthy(err:find(form, 1, true), form)
    end
    assert.matches("no such date", select(2, time.parse_when("2022-02-30")))
    assert.is_nil(time.parse_when("2022-11-26", 0, "Nowhere/Special"))
    assert.is_nil(time.parse_when({}))
  end)

  it("prints in IANA zones from the system's zone database, across DST changes", function()
    assert.equal("2022-11-26T16:03:41+08:00", time.iso(1669449821000, "Asia/Shanghai"))
    assert.equal("2022-11-26T03:03:41-05:00", time.iso(1669449821000, "America/New_York"))
    assert.equal("2022-11-26T13:33:41+05:30", time.iso(1669449821000, "Asia/Kolkata"))
    -- New York, 2023-03-12: 01:59:59 EST is followed by 03:00:00 EDT
    local change = time.parse("2023-03-12T07:00:00Z")
    assert.equal("2023-03-12T03:00:00-04:00", time.iso(change, "America/New_York"))
    assert.equal("2023-03-12T01:59:59-05:00", time.iso(change - 1000, "America/New_York"))
    assert.equal("2023-03-12T03:00:00-04:00", time.iso(change, "America/New_York"))
    assert.equal(-14400, time.offset("America/New_York", change))
    assert.equal(-18000, time.offset("America/New_York", change - 1000))
    assert.equal(28800, time.offset("+08:00"))
    assert.equal(0, time.offset("UTC", 0))
    for _, bad in ipairs { "Nowhere/Special", "garbage", "../../etc/passwd", "+8", "+08:60", "Asia/", "", "Asia//Tokyo" } do
      local s, err = time.iso(0, bad)
      assert.is_nil(s, bad)
      assert.matches("Asia/Shanghai", err) -- shows the forms
      assert.is_nil(time.offset(bad), bad)
    end
  end)

  it("gives filter's since and till the same forms", function()
    local now = time.parse("2022-11-26T16:04:00+08:00")
    local at = function(t) return { time = t, level = "Info", source = "Job", message = "m" } end
    local keep = filter.compile({ since = "1h30m" }, now)
    assert.is_true(keep(at("2022-11-26T14:34:00+08:00")))
    assert.is_false(keep(at("2022-11-26T14:33:59+08:00")))
    keep = filter.compile({ since = "1669449780", till = "1669449800000" }, now) -- seconds, then ms
    assert.is_true(keep(at("2022-11-26T16:03:00+08:00")))
    assert.is_true(keep(at("2022-11-26T16:03:20+08:00")))
    assert.is_false(keep(at("2022-11-26T16:03:21+08:00")))
    keep = filter.compile({ since = "1w" }, now)
    assert.is_true(keep(at("2022-11-19T16:04:00+08:00")))
    assert.is_false(keep(at("2022-11-19T16:03:59+08:00")))
  end)

  it("remembers zone offsets without ever giving a stale one", function()
    -- every answer agrees with libc's, instants asked in a scattered order
    -- over years with DST changes, and at each change's edges
    local me = require "modelarts_events"
    local zone = "Europe/Berlin"
    local instants = {}
    local t0 = time.parse("2021-01-01T00:00:00Z") / 1000
    for i = 0, 3000 do instants[#instants + 1] = t0 + (i * 7919 % 3001) * 11113 end
    for _, change in ipairs { "2021-03-28T01:00:00Z", "2021-10-31T01:00:00Z", "2022-03-27T01:00:00Z" } do
      local s = time.parse(change) / 1000
      for d = -2, 2 do instants[#instants + 1] = s + d end
    end
    for _, t in ipairs(instants) do
      assert.equal(me.utc_offset(zone, t), time.offset(zone, t * 1000), os.date("!%c", t))
    end
  end)
end)

describe("filter", function()
  it("keeps everything without conditions", function()
    assert.is_true(filter.compile {} (ERROR_EVENT))
    assert.is_true(filter.compile()(ERROR_EVENT))
  end)

  it("matches level and source case-insensitively, as a string or a list", function()
    assert.is_true(filter.compile { level = "error" } (ERROR_EVENT))
    assert.is_false(filter.compile { level = "Info" } (ERROR_EVENT))
    assert.is_true(filter.compile { level = { "Warning", "ERROR" } } (ERROR_EVENT))
    assert.is_true(filter.compile { source = "K8S" } (K8S_EVENT))
    assert.is_false(filter.compile { source = { "Job", "Task" } } (K8S_EVENT))
  end)

  it("requires every condition", function()
    local keep = filter.compile { level = "Info", source = "k8s", pattern = "Pulled" }
    assert.is_true(keep(K8S_EVENT))
    assert.is_false(keep(ERROR_EVENT))
    assert.is_false(filter.compile { level = "Info", source = "k8s", pattern = "nope" } (K8S_EVENT))
  end)

  it("matches plain substrings and Lua patterns", function()
    assert.is_true(filter.compile { pattern = "\"swr/img" } (K8S_EVENT))
    assert.is_false(filter.compile { pattern = "img:1.0." } (K8S_EVENT))
    assert.is_true(filter.compile { match = "img:%d+%.%d" } (K8S_EVENT))
    assert.is_false(filter.compile { match = "^Pulled" } (K8S_EVENT))
  end)

  it("keeps a worker's messages", function()
    assert.is_true(filter.compile { worker = "worker-0" } (TRICKY))
    assert.is_false(filter.compile { worker = "worker-1" } (TRICKY))
    assert.is_false(filter.compile { worker = "worker-0" } (K8S_EVENT))
  end)

  it("keeps a time range, inclusive, in any form", function()
    local keep = filter.compile { since = "2022-11-26T16:03:00+08:00", till = 1669449821000 }
    assert.is_true(keep(ERROR_EVENT))   -- exactly till
    assert.is_true(keep(TRICKY))
    assert.is_false(keep(K8S_EVENT))
    local now = time.parse("2022-11-26T16:04:00+08:00")
    local recent = filter.compile({ since = "30s" }, now)
    assert.is_true(recent(ERROR_EVENT))
    assert.is_false(recent(TRICKY))
  end)

  it("calls a where function", function()
    assert.is_true(filter.compile { where = function(ev) return #ev.message > 10 end } (ERROR_EVENT))
    assert.is_false(filter.compile { level = "Error", where = function() return nil end } (ERROR_EVENT))
  end)

  it("names the key of a bad specification", function()
    for key, spec in pairs {
      levle = { levle = "Error" }, level = { level = 5 }, source = { source = {} },
      pattern = { pattern = 1 }, match = { match = "[" }, since = { since = "soon" },
      till = { till = {} }, where = { where = "x" }, worker = { worker = 0 },
    } do
      local ok, err = pcall(filter.compile, spec)
      assert.is_false(ok, key)
      assert.equal("invalid_argument", err.kind)
      assert.equal(key, err.field)
      assert.matches(key, tostring(err))
    end
  end)
end)

describe("format", function()
  it("prints one line of text per event", function()
    assert.equal("2022-11-26T16:03:41+08:00  Error    Job   Training job failed.", format.text(ERROR_EVENT))
    local line = format.text(TRICKY)
    assert.is_nil(line:find("\n", 1, true))
    assert.equal('2022-11-26T16:03:12+08:00  Warning  Task  [worker-0] a, "quoted"\\nsecond line\\ttab 训练 é', line)
    assert.equal("2022-11-26T08:03:41Z  Error    Job   Training job failed.", format.text(ERROR_EVENT, { tz = "Z" }))
  end)

  it("colours by level only when asked", function()
    assert.is_nil(format.text(ERROR_EVENT):find("\27", 1, true))
    local coloured = format.text(ERROR_EVENT, { color = true })
    assert.truthy(coloured:find("\27[31mError", 1, true))
    assert.truthy(format.text(TRICKY, { color = true }):find("\27[33mWarning", 1, true))
  end)

  it("writes one JSON object a line, keys in a stable order", function()
    local line = format.json(TRICKY)
    assert.is_nil(line:find("\n", 1, true))
    assert.matches('^{"time":.*,"level":.*,"source":.*,"message":.*}$', line)
    assert.same(TRICKY, cjson.decode(line))
  end)

  it("writes RFC 4180 rows that read back", function()
    assert.equal("time,level,source,message", format.csv_header())
    local row = format.csv(TRICKY)
    assert.equal('2022-11-26T16:03:12+08:00,Warning,Task,"[worker-0] a, ""quoted""\nsecond line\ttab 训练 é"', row)
    -- read it back: the quoted last field, quotes undoubled
    local last = row:match(',"(.*)"$'):gsub('""', '"')
    assert.equal(TRICKY.message, last)
    assert.equal("2022-11-26T16:03:41+08:00,Error,Job,Training job failed.", format.csv(ERROR_EVENT))
  end)

  it("aligns a table and cuts multi-line messages visibly", function()
    local text = format.table { ERROR_EVENT, TRICKY, K8S_EVENT }
    local lines = {}
    for l in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
    assert.equal(4, #lines)
    assert.matches("^TIME%s+LEVEL%s+SOURCE%s+MESSAGE$", lines[1])
    local col = lines[1]:find("MESSAGE", 1, true)
    assert.equal("Training job failed.", lines[2]:sub(col))
    assert.equal('[worker-0] a, "quoted" …', lines[3]:sub(col))
    assert.equal("\n", text:sub(-1))
  end)

  it("prints times in another zone in every format", function()
    assert.equal('{"time":"2022-11-26T08:03:41Z","level":"Error","source":"Job","message":"Training job failed."}',
      format.json(ERROR_EVENT, { tz = "UTC" }))
    assert.equal("2022-11-26T03:03:41-05:00,Error,Job,Training job failed.",
      format.csv(ERROR_EVENT, { tz = "America/New_York" }))
    assert.matches("\n2022%-11%-26T16:03:41%+08:00  Error", format.table({ ERROR_EVENT }, { tz = "Asia/Shanghai" }))
    -- a time that does not parse is shown as sent
    assert.equal("yesterday  Error    Job   x",
      format.text({ time = "yesterday", level = "Error", source = "Job", message = "x" }, { tz = "UTC" }))
  end)

  it("shows the job of events that carry one", function()
    local ev = { time = ERROR_EVENT.time, level = "Error", source = "Job", message = "m", job = "job-a" }
    assert.equal("2022-11-26T16:03:41+08:00  job-a  Error    Job   m", format.text(ev))
    assert.equal("2022-11-26T16:03:41+08:00  A      Error    Job   m", format.text(ev, { jobs = { ["job-a"] = "A    " } }))
    assert.equal("job-a", cjson.decode(format.json(ev)).job)
    assert.matches('^{"time":"[^"]*","job":"job%-a","level"', format.json(ev))
    assert.equal("time,job,level,source,message", format.csv_header { job = true })
    assert.equal("2022-11-26T16:03:41+08:00,job-a,Error,Job,m", format.csv(ev, { job = true }))
    assert.matches("^TIME%s+JOB%s+LEVEL%s+SOURCE%s+MESSAGE\n2022%-11%-26T16:03:41%+08:00  job%-a  Error", format.table { ev })
  end)

  it("labels jobs with the shortest unambiguous prefix", function()
    local a, b = "5bd61eea-9de2-4864-a0f7-5fae966171b5", "5bd61eeb-0000-4864-a0f7-5fae966171b5"
    local c = "0f1e2d3c-9de2-4864-a0f7-5fae966171b5"
    assert.same({ [a] = "5bd61eea", [c] = "0f1e2d3c" }, format.job_labels { a, c })
    assert.same({ [a] = "5bd61eea", [b] = "5bd61eeb", [c] = "0f1e2d3c" }, format.job_labels { a, b, c })
    local long1, long2 = "training-job-2024-tag-0001", "training-job-2024-tag-0002"
    assert.same({ [long1] = long1, [long2] = long2 }, format.job_labels { long1, long2 })
    assert.same({ ["gen-1000"] = "gen-1000 ", ["gen-10000"] = "gen-10000", reference = "reference" },
      format.job_labels { "gen-1000", "gen-10000", "reference" })
  end)

  it("writes a table as rows come, after a bounded look-ahead", function()
    local written = {}
    local writer = format.table_writer(function(s) written[#written + 1] = s end, { lookahead = 3 })
    local function ev(i, source) return { time = ERROR_EVENT.time, level = "Info", source = source or "Job", message = "m" .. i } end
    writer.add(ev(1))
    writer.add(ev(2, "Task"))
    assert.equal(0, #written, "held while measuring")
    writer.add(ev(3))
    assert.equal(1, #written, "the header and the first rows once the look-ahead is full")
    writer.add(ev(4))
    assert.equal(2, #written, "then each row as it comes")
    writer.add(ev(5, "SomethingWide"))
    writer.finish()
    local text = table.concat(written)
    local l = {}
    for line in text:gmatch("([^\n]*)\n") do l[#l + 1] = line end
    assert.equal(6, #l)
    local col = l[1]:find("MESSAGE", 1, true)
    for i = 2, 5 do assert.equal("m" .. (i - 1), l[i]:sub(col)) end
    assert.matches("SomethingWide  m5$", l[6]) -- wider than measured: pushed right, never cut
    -- an empty table is a header
    written = {}
    writer = format.table_writer(function(s) written[#written + 1] = s end)
    writer.finish()
    assert.matches("^TIME%s+LEVEL%s+SOURCE%s+MESSAGE\n$", table.concat(written))
  end)

  it("summarises as events pass, keeping only the first and last errors", function()
    local summarizer = format.summarizer { keep_errors = 2 }
    for i = 1, 1000 do
      summarizer.add { time = time.iso(1669449821000 + i * 1000, "+08:00"), level = i % 100 == 0 and "Error" or "Info",
        source = i % 2 == 0 and "K8s" or "Task", message = "#" .. i }
    end
    local s = summarizer.result()
    assert.equal(1000, s.total)
    assert.same({ Error = 10, Info = 990 }, s.by_level)
    assert.same({ K8S = 500, Task = 500 }, s.by_source)
    assert.equal(10, s.error_count)
    assert.equal(6, s.errors_omitted)
    local kept = {}
    for i, ev in ipairs(s.errors) do kept[i] = ev.message end
    assert.same({ "#100", "#200", "#900", "#1000" }, kept)
    assert.equal("2022-11-26T16:03:42+08:00", s.first)
    assert.equal("2022-11-26T16:20:21+08:00", s.last)
    local text = format.summary_text(s, { tz = "UTC" })
    assert.matches("errors: 10\n  [^\n]+#100\n  [^\n]+#200\n  … and 6 more\n  [^\n]+#900\n  [^\n]+#1000\n$", text)
    assert.matches("span: 2022%-11%-26T08:03:42Z %.%. 2022%-11%-26T08:20:21Z", text)
    -- fewer errors than kept: all of them, no gap
    summarizer = format.summarizer { keep_errors = 5 }
    summarizer.add(ERROR_EVENT)
    s = summarizer.result()
    assert.same({ ERROR_EVENT }, s.errors)
    assert.equal(0, s.errors_omitted)
    assert.is_nil(format.summary_text(s):find("more", 1, true))
  end)

  it("summarises counts, span and errors", function()
    local s = format.summary { TRICKY, ERROR_EVENT, K8S_EVENT, { time = "2022-11-26T16:02:00+08:00", level = "Info", source = "K8S", message = "m" } }
    assert.equal(4, s.total)
    assert.same({ Error = 1, Warning = 1, Info = 2 }, s.by_level)
    assert.same({ K8S = 2, Job = 1, Task = 1 }, s.by_source)
    assert.equal("2022-11-26T16:02:00+08:00", s.first)
    assert.equal("2022-11-26T16:03:41+08:00", s.last)
    assert.same({ ERROR_EVENT }, s.errors)
    local text = format.summary_text(s)
    assert.matches("events: 4", text)
    assert.matches("by level: Error 1, Info 2, Warning 1", text)
    assert.matches("errors: 1", text)
  end)
end)
