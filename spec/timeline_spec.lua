-- format.html: the timeline (issue 17). Events come from the emulator
-- through the real client; the documents are opened in headless Chromium
-- (Debian's `chromium`) to check the DOM, the network and the picture.
local format = require "modelarts_events.format"
local timeline = require "modelarts_events.timeline"
local support = require "support.emulator"
local browser = require "support.browser"

local function read_events(job, overrides)
  local client = support.client(overrides)
  local events = {}
  for ev in client:events(job) do events[#events + 1] = ev end
  client:close()
  return events
end

local function count(s, pattern)
  local n = 0
  for _ in s:gmatch(pattern) do n = n + 1 end
  return n
end

-- Marks (`class="m i|w|e|o"`) and the events the bands say they hold.
local function drawn(doc)
  local marks = count(doc, '<%a+ class="m [iweo]"')
  local banded = 0
  for n in doc:gmatch('<g class="band" data%-count="(%d+)"') do banded = banded + tonumber(n) end
  return marks, banded
end

local function esc(s)
  return (s:gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end

-- Whether s is well-formed UTF-8 (utf8.len on 5.3+, a byte walk elsewhere).
local function valid_utf8(s)
  if utf8 and utf8.len then return utf8.len(s) ~= nil end -- luacheck: ignore
  return not s:find("[\192\193\245-\255]") and s:gsub("[\194-\244][\128-\191]+", ""):find("[\128-\255]") == nil
end

-- Each job is read and drawn once for every test that needs it.
local drawn_jobs = {}
local function html_of(job)
  local d = drawn_jobs[job]
  if not d then
    local events = read_events(job)
    d = { doc = format.html(events, { title = job }), events = events }
    drawn_jobs[job] = d
  end
  return d.doc, d.events
end
local function reference_html() return html_of("reference") end
local function big_html() return html_of("gen-100000") end

describe("format.html", function()
  it("is one self-contained document: nothing to fetch, no script", function()
    local doc = reference_html()
    assert.equal("<!DOCTYPE html>", doc:sub(1, 15))
    assert.equal("</html>\n", doc:sub(-8))
    assert.truthy(doc:find([[<meta http-equiv="Content-Security-Policy" content="default-src 'none';]], 1, true))
    assert.truthy(doc:find('<meta charset="utf-8">', 1, true))
    local lower = doc:lower()
    for _, banned in ipairs { "<script", "<link", "<img", "<iframe", "<object", "<embed", "src=", "href=", "url(",
                              "@import", "http:", "https:", "//" } do
      assert.is_nil(lower:find(banned, 1, true), banned)
    end
  end)

  it("draws one mark per event, with its time, level, source and message on hover", function()
    local doc, events = reference_html()
    assert.equal(27, #events)
    local marks, banded = drawn(doc)
    assert.equal(27, marks)
    assert.equal(0, banded)
    -- the shape tells the level: circles Info, a triangle the warning, a diamond the error
    assert.equal(25, count(doc, '<circle class="m i"'))
    assert.equal(1, count(doc, '<path class="m w"'))
    assert.equal(1, count(doc, '<path class="m e"'))
    for _, ev in ipairs(events) do
      local hover = esc(ev.time .. " · " .. ev.level .. " · " .. ev.source .. "\n" .. ev.message)
      assert.truthy(doc:find("<title>" .. hover .. "</title>", 1, true), ev.message)
    end
  end)

  it("draws the same picture from an ascending or a descending read", function()
    local function read(order)
      local client, events = support.client(), {}
      for ev in client:events("reference", { order = order }) do events[#events + 1] = ev end
      client:close()
      return events
    end
    local asc, desc = read("asc"), read("desc")
    assert.are_not.same(asc, desc)
    assert.equal(format.html(asc), format.html(desc))
    -- shuffled: the same again but for events of one second, kept in the order given
    local shuffled = {}
    for i = 1, #asc, 2 do shuffled[#shuffled + 1] = asc[i] end
    for i = #asc - (#asc % 2 == 0 and 0 or 1), 2, -2 do shuffled[#shuffled + 1] = asc[i] end
    local marks = drawn(format.html(shuffled))
    assert.equal(27, marks)
  end)

  it("lays out one lane per source and per worker, counting their events", function()
    local doc = reference_html()
    local lanes = {}
    for label, n in doc:gmatch('<text class="lane"[^>]*>([^<]-) <tspan class="k">%((%d+)%)</tspan>') do
      lanes[#lanes + 1] = label .. "=" .. n
    end
    assert.same({ "Job=6", "K8S=2", "worker-0 · K8S=11", "worker-0 · Task=8" }, lanes)
  end)

  it("shows the job's stages with their durations and how it ended", function()
    local doc = reference_html()
    for _, label in ipairs { ">Queued 27 s<", ">Running 1 min 02 s<", ">Wrapping up 30 s<", ">Failed at 16:03:41<",
                             ">Image pull 19 s<", ">Input download 3 s<", ">Output upload 0 s<" } do
      assert.truthy(doc:find(label, 1, true), label)
    end
    assert.truthy(doc:find('<b class="e">Failed at 16:03:41</b> after 2 min 05 s: queued 27 s, initializing 5 s, ' ..
      "ran 1 min 02 s, exit code 1, wrapping up 30 s. 27 events, 1 error (the first at 16:03:41), 1 warning.", 1, true))
  end)

  it("reads the stages from Chinese messages too", function()
    local events = read_events("reference", { language = "zh-cn" })
    local messages = {}
    for _, ev in ipairs(events) do messages[ev.message] = true end
    assert.is_true(messages["训练作业运行失败。"])
    local doc = format.html(events)
    for _, label in ipairs { ">Queued 27 s<", ">Running 1 min 02 s<", ">Failed at 16:03:41<" } do
      assert.truthy(doc:find(label, 1, true), label)
    end
  end)

  it("tells a completed job from a failed one", function()
    local doc = format.html(read_events("life-completed-1-" .. support.tag()))
    assert.truthy(doc:find('<b class="ok">Completed at ', 1, true))
    assert.truthy(doc:find(">Running ", 1, true))
    assert.is_nil(doc:find("Failed at", 1, true))
  end)

  -- run jobs end MS ms after their first request, the late event 1 s later:
  -- start them all, wait once, then read each
  it("tells how each run job ended, in en-us and zh-cn, and says so when its events do not", function()
    local me = require "modelarts_events"
    local tag = support.tag()
    local cases = {
      { "run-completed-400-" .. tag, "en-us", '<b class="ok">Completed at ' },
      { "run-failed-400-" .. tag, "zh-cn", '<b class="e">Failed at ' },
      { "run-terminated-400-" .. tag, "zh-cn", '<b class="e">Terminated at ' },
      { "run-abnormal-400-" .. tag, "en-us", '<b class="e">Abnormal at ' },
      { "run-failed-400-quiet-" .. tag, "en-us", "<b>Running</b> (no end seen)" },
    }
    local client = support.client()
    for _, c in ipairs(cases) do assert(client:list(c[1], { limit = 1 })) end
    client:close()
    me.sleep(1.8)
    for _, c in ipairs(cases) do
      local events = read_events(c[1], { language = c[2] })
      local doc = format.html(events)
      assert.truthy(doc:find(c[3], 1, true), c[1] .. " in " .. c[2])
      -- (its stages share a second or two: spans too narrow for a label)
      assert.truthy(doc:find("<title>Running: ", 1, true), c[1])
      assert.truthy(doc:find("<title>Queued: ", 1, true), c[1])
    end
  end)

  it("lists the errors and warnings below the picture", function()
    local doc = reference_html()
    local list = doc:match('<section class="issues">(.-)</section>')
    assert.truthy(list:find("(1 error, 1 warning)", 1, true))
    assert.equal(2, count(list, "<tr class="))
    assert.truthy(list:find('<td class="msg">Training job failed.</td>', 1, true))
    assert.truthy(list:find("FailedMount: MountVolume.SetUp failed for volume &quot;obs&quot;: retrying", 1, true))
  end)

  it("escapes every text: quotes, markup, ampersands, line breaks, non-ASCII, emoji, bad bytes", function()
    local hostile = {
      { time = "2022-11-26T16:00:00+08:00", level = "Error", source = "Job",
        message = "</title></path><script>alert('x')</script> & \"quoted\" <b>" },
      { time = "2022-11-26T16:00:01+08:00", level = "Warning", source = "<K8S>",
        message = "[worker-1] two\nlines\ttab 训练 é 🚀" },
      { time = "2022-11-26T16:00:02+08:00", level = "Info\"", source = "Task",
        message = "bad bytes \255\254 and \192\128, controls \0\1\27 end" },
    }
    local doc = format.html(hostile, { title = "<script>t</script> & \"t\"" })
    assert.is_nil(doc:lower():find("<script", 1, true))
    assert.is_nil(doc:find("<b>", 1, true))
    assert.truthy(doc:find("&lt;/title&gt;&lt;/path&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; " ..
      "&quot;quoted&quot; &lt;b&gt;", 1, true))
    assert.truthy(doc:find("<title>&lt;script&gt;t&lt;/script&gt; &amp; &quot;t&quot;</title>", 1, true))
    assert.truthy(doc:find("[worker-1] two\nlines\ttab 训练 é 🚀", 1, true))
    assert.truthy(doc:find("&lt;K8S&gt;", 1, true))
    assert.truthy(valid_utf8(doc), "the document is well-formed UTF-8")
    assert.is_nil(doc:find("[%z\1-\8\11\12\14-\31\127]"))
    assert.truthy(doc:find("bad bytes \239\191\189\239\191\189 and \239\191\189\239\191\189, controls " ..
      "\239\191\189\239\191\189\239\191\189 end", 1, true))
    local marks = drawn(doc)
    assert.equal(3, marks)
  end)

  it("draws one lane group per job, in the order the jobs first appear", function()
    local events = {}
    for _, ev in ipairs(read_events("reference")) do
      local a, b = {}, {}
      for k, v in pairs(ev) do a[k], b[k] = v, v end
      a.job, b.job = "job-b", "job-a"
      events[#events + 1] = a
      events[#events + 1] = b
    end
    local doc = format.html(events)
    local groups = {}
    for id in doc:gmatch("<h2>([^<]*)</h2>") do groups[#groups + 1] = id end
    assert.same({ "job-b", "job-a", "Errors and warnings (2 errors, 2 warnings)" }, groups)
    assert.equal(2, count(doc, '<svg [^>]*role="img"'))
    assert.equal(2, count(doc, '<text class="endl failed"[^>]*>Failed at 16:03:41<'))
    assert.equal(54, (drawn(doc)))
    assert.truthy(doc:find("<th>job</th>", 1, true))
  end)

  it("shows times in opts.tz, by default in the zone the events came in", function()
    local _, events = reference_html()
    local utc = format.html(events, { tz = "Z" })
    assert.truthy(utc:find(">Failed at 08:03:41<", 1, true))
    assert.truthy(utc:find("times in UTC", 1, true))
    assert.truthy(utc:find(">08:02:00<", 1, true)) -- a tick
    local india = format.html(events, { tz = "+05:30" })
    assert.truthy(india:find(">Failed at 13:33:41<", 1, true))
    assert.truthy(india:find(">13:32:00<", 1, true)) -- ticks fall on the zone's round minutes
    local doc = reference_html()
    assert.truthy(doc:find("times in +08:00", 1, true))
    assert.truthy(doc:find(">16:02:00<", 1, true))
  end)

  it("refuses bad arguments with invalid_argument naming them", function()
    for field, call in pairs {
      tz = function() return format.html({}, { tz = "Mars/Olympus" }) end,
      title = function() return format.html({}, { title = 42 }) end,
      events = function() return format.html("events") end,
      opts = function() return format.html({}, "opts") end,
    } do
      local ok, err = pcall(call)
      assert.is_false(ok, field)
      assert.equal("invalid_argument", err.kind)
      assert.equal(field, err.field)
    end
  end)

  it("draws events without a level, source or message, and lists those without a time", function()
    local doc = format.html {
      { time = "2022-11-26T16:00:00+08:00" },
      { time = "2022-11-26T16:00:05+08:00", level = "Error" },
      { level = "Error", message = "when?" },
      { time = "soon", message = "never" },
      42,
    }
    assert.equal(2, (drawn(doc)))
    assert.truthy(doc:find("2 events without a readable time", 1, true))
    assert.truthy(doc:find('data-events="4" data-marks="2" data-banded="0" data-untimed="2"', 1, true))
    assert.truthy(format.html({}):find("0 events, none with a readable time", 1, true))
  end)

  it("draws 100,000 events as bands that count every one, in a file of a few hundred KB", function()
    local doc, events = big_html()
    assert.equal(100000, #events)
    local marks, banded = drawn(doc)
    assert.equal(100000, marks + banded)
    assert.is_true(banded > 90000, "dense stretches are bands")
    local lanes = 0
    for n in doc:gmatch('<tspan class="k">%(([%d,]+)%)</tspan>') do lanes = lanes + tonumber((n:gsub(",", ""))) end
    assert.equal(100000, lanes)
    assert.is_true(#doc < 1024 * 1024, #doc .. " bytes")
    -- the list below holds the first hundreds and counts the rest
    assert.truthy(doc:find("Not listed: [%d,]+ more errors? and [%d,]+ more warnings?"))
  end)

  it("keeps a file small however the events spread: fewer marks, more bands", function()
    -- 100,000 events 3 s apart over 400 workers: each lane holds 250, about
    -- one per density bin, so each could be a mark of its own
    local iso = require("modelarts_events.time").iso
    local events = {}
    for i = 1, 100000 do
      events[i] = { time = iso(1669449600000 + i * 3000, "+08:00"), level = i % 50 == 0 and "Error" or "Info",
                    source = "Task", message = string.format("[worker-%d] step %d loss=0.5", i % 400, i) }
    end
    local doc = format.html(events)
    local marks, banded = drawn(doc)
    assert.equal(100000, marks + banded)
    assert.is_true(marks <= 8000, marks .. " marks")
    assert.is_true(banded >= 92000, banded .. " in bands")
    assert.is_true(#doc < 2 * 1024 * 1024, #doc .. " bytes")
  end)

  it("names the worker of a message", function()
    assert.equal("worker-0", timeline.worker_of("[worker-0] training started."))
    assert.equal("worker-0", timeline.worker_of("[worker-0][time used: 2.871s] Download finished."))
    assert.equal("worker-12", timeline.worker_of("[Pod: modelarts-job-5bd61eea-9de2-worker-12] Pulled: x"))
    assert.is_nil(timeline.worker_of("[Job: modelarts-job-5bd61eea] Created job"))
    assert.is_nil(timeline.worker_of("Training job failed."))
    assert.is_nil(timeline.worker_of(nil))
  end)
end)

describe("the timeline in a real browser", function()
  local ok, why = browser.available()
  local dir = browser.tmpdir()

  local function needs_chromium()
    if not ok then pending("skipped: " .. why) end
    return ok
  end

  teardown(function() os.execute("rm -rf " .. dir) end)

  it("parses the reference job's timeline: a mark per event, the stages, nothing fetched", function()
    if not needs_chromium() then return end
    local file = dir .. "/reference.html"
    browser.write(file, (reference_html()))
    local dom, log, requested = browser.dump_dom(file)
    local marks, banded = drawn(dom)
    assert.equal(27, marks)
    assert.equal(0, banded)
    assert.equal(27, count(dom, 'class="m [iweo]"[^>]*><title>'))
    for _, label in ipairs { "Queued 27 s", "Running 1 min 02 s", "Failed at 16:03:41", "worker-0 · Task" } do
      assert.truthy(dom:find(label, 1, true), label)
    end
    assert.same({}, requested)
    assert.is_nil(log:find("Content Security Policy", 1, true))
    assert.is_nil(dom:lower():find("src=", 1, true))
    assert.is_nil(dom:lower():find("href=", 1, true))
  end)

  it("would notice a fetch: the policy blocks it and the net log shows one without the policy", function()
    if not needs_chromium() then return end
    local doc = reference_html()
    local injected = doc:gsub("<body>", '<body><img src="http://127.0.0.1:9/tracker.png">', 1)
    local file = dir .. "/injected.html"
    browser.write(file, injected)
    local _, log, requested = browser.dump_dom(file)
    assert.truthy(log:find("Content Security Policy", 1, true))
    assert.same({}, requested)
    browser.write(file, (injected:gsub('<meta http%-equiv="Content%-Security%-Policy"[^>]*>', "", 1)))
    _, _, requested = browser.dump_dom(file)
    assert.same({ "http://127.0.0.1:9/tracker.png" }, requested)
  end)

  it("paints the reference job: marks of every level, the stages", function()
    if not needs_chromium() then return end
    local file, png = dir .. "/reference.html", dir .. "/reference.png"
    browser.write(file, (reference_html()))
    assert.truthy(browser.screenshot(file, png, 1400, 600), "a PNG")
    local colors, size = browser.colors(png)
    assert.equal("1400x600", size)
    local distinct = 0
    for _ in pairs(colors) do distinct = distinct + 1 end
    assert.is_true(distinct > 100, distinct .. " colours")
    for hex, what in pairs { d62728 = "the error mark", f2b21b = "the warning mark", ["4e79a7"] = "info marks",
                             f5d9a8 = "the queued span", a8d5a2 = "the running span" } do
      assert.is_true((colors[hex] or 0) > 20, what .. ": " .. tostring(colors[hex]))
    end
  end)

  it("parses and paints 100,000 events as bands that count them", function()
    if not needs_chromium() then return end
    local file, png = dir .. "/big.html", dir .. "/big.png"
    browser.write(file, (big_html()))
    local dom, _, requested = browser.dump_dom(file)
    local marks, banded = drawn(dom)
    assert.equal(100000, marks + banded)
    assert.same({}, requested)
    assert.truthy(browser.screenshot(file, png, 1400, 900), "a PNG")
    local colors = browser.colors(png)
    assert.is_true((colors["8fa9cc"] or 0) > 20000, "band pixels: " .. tostring(colors["8fa9cc"]))
    assert.is_true((colors["a50f15"] or 0) > 500, "error pixels in bands: " .. tostring(colors["a50f15"]))
  end)
end)

describe("the stages read from event messages", function()
  local stages = require "modelarts_events.stages"
  local function ended(message, source)
    local info = stages.read({ { message = message, source = source or "Job" } }, { 0 })
    return info.ending and info.ending.key
  end
  -- (time in s, source, message) -> events and their times in ms
  local function job(rows)
    local events, times = {}, {}
    for i, r in ipairs(rows) do events[i], times[i] = { source = r[2], message = r[3] }, r[1] * 1000 end
    return events, times
  end

  it("knows how a job ended, in en-us and zh-cn, from the Job source only", function()
    for message, key in pairs {
      ["Training job failed."] = "failed", ["训练作业运行失败。"] = "failed",
      ["Failed to run the training job."] = "failed", ["Failed to be queued."] = "failed",
      ["Preparations timed out. Check the image."] = "failed",
      ["Training job executed."] = "completed", ["训练作业运行成功。"] = "completed",
      ["Training job completed."] = "completed", ["训练作业已完成。"] = "completed",
      ["The training job has been manually stopped."] = "terminated", ["训练作业已被手动停止。"] = "terminated",
      ["The training job has been stopped. (Maximum running duration: 1 h)"] = "terminated",
      ["Training job is abnormal."] = "abnormal", ["训练作业运行异常。"] = "abnormal",
    } do
      assert.equal(key, ended(message), message)
    end
    for _, message in ipairs { "Training job is running.", "训练作业运行中。", "Training job is created.", "训练作业排队中。" } do
      assert.is_nil(ended(message), message)
    end
    assert.is_nil(ended("[worker-0] Training failed.", "Task"))
    assert.is_nil(ended("[Job: x] ExecuteAction: Start to execute action TerminateJob", "K8S"))
  end)

  it("spans the phases from one to the next, the last to the end", function()
    local info = stages.read(job {
      { 0, "Job", "训练作业已创建。" }, { 10, "Job", "训练作业正在等待资源。" }, { 12, "Job", "训练作业排队中。" },
      { 70, "Job", "训练作业运行中。" }, { 75, "Task", "[worker-0] training started." },
      { 200, "Task", "[worker-0] Training finished. Exit code 137." }, { 230, "Job", "训练作业运行失败。" },
    })
    local spans = {}
    for _, s in ipairs(stages.spans(info, 230000)) do spans[#spans + 1] = s.key .. " " .. math.floor((s.to - s.from) / 1000) end
    assert.same({ "created 10", "queued 60", "running 130", "finishing 30" }, spans)
    assert.equal("failed", info.ending.key)
    assert.equal(230000, info.ending.ms)
    assert.equal("137", info.exit_code)
  end)

  it("leaves the last phase open while no end is seen", function()
    local info = stages.read(job { { 0, "Job", "Training job is created." }, { 5, "Job", "Training job is running." },
                                   { 50, "Task", "[worker-0] step 9" } })
    local spans = stages.spans(info, 50000)
    assert.equal("running", spans[2].key)
    assert.equal(50000, spans[2].to)
    assert.is_true(spans[2].open)
    assert.is_nil(info.ending)
  end)

  it("spans an activity from its first start until its ends match its starts", function()
    local info = stages.read(job {
      { 1, "K8S", "[Pod: j-worker-0] Pulling: Pulling image \"a\"" },
      { 2, "K8S", "[Pod: j-worker-0] Pulling: Pulling image \"b\"" },
      { 9, "K8S", "[Pod: j-worker-0] Pulled: Successfully pulled image \"a\"" },
      { 12, "K8S", "[Pod: j-worker-0] Pulled: Successfully pulled image \"b\"" },
      { 500, "K8S", "[Pod: j-worker-0] Pulling: Pulling image \"a\"" },      -- a restart: not the first pull
      { 510, "K8S", "[Pod: j-worker-0] Pulled: Successfully pulled image \"a\"" },
      { 600, "Task", "[worker-0] Download training input(parameter name: data_url) finished." }, -- no start: none
    })
    assert.equal(1, #info.activities)
    assert.same({ "pull", 1000, 12000 }, { info.activities[1].key, info.activities[1].from, info.activities[1].to })
  end)
end)
