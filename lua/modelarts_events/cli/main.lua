-- The command line `modelarts-events`: options in, events out, an exit
-- status. `bin/modelarts-events` calls `main(arg)`; this module is internal.

local me = require "modelarts_events"
local filter = require "modelarts_events.filter"
local format = require "modelarts_events.format"
local time = require "modelarts_events.time"
local options = require "modelarts_events.cli.options"
local read = require "modelarts_events.cli.read"
local progress_line = require "modelarts_events.cli.progress"

local M = {}

local EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

-- The errors of the first and last few Error events `--summary` shows.
M.SUMMARY_ERRORS = 5

local function noop() end

local stdout = io.stdout
local function write(...) stdout:write(...) end

-- Where the events go: `add(event)` for each, `finish()` at the end.
local function output_for(o, view)
  if o.summary then
    local summarizer = format.summarizer { keep_errors = M.SUMMARY_ERRORS }
    return { add = summarizer.add,
      finish = function() write(format.summary_text(summarizer.result(), view)) end }
  elseif o.format == "json" then
    local json = format.json
    return { add = function(ev) write(json(ev, view), "\n") end, finish = noop }
  elseif o.format == "csv" then
    local csv_opts = { tz = view.tz, job = view.jobs ~= nil }
    write(format.csv_header(csv_opts), "\r\n")
    local csv = format.csv
    return { add = function(ev) write(csv(ev, csv_opts), "\r\n") end, finish = noop }
  elseif o.format == "table" then
    return format.table_writer(write, view)
  elseif o.format == "html" then
    -- a page drawn from every event: held until the end
    local events = {}
    return { add = function(ev) events[#events + 1] = ev end,
      finish = function()
        write(format.html(events, { title = "ModelArts events: " .. table.concat(o.jobs, ", "), tz = o.tz }))
      end }
  end
  local text = format.text
  return { add = function(ev) write(text(ev, view), "\n") end, finish = noop }
end

-- A client; `on_retry` is passed where the client knows it, and dropped
-- where it does not (the progress line then only lacks what it waits for).
local function new_client(config)
  local ok, client = pcall(me.new, config)
  if not ok and config.on_retry and type(client) == "table" and client.field == "on_retry" then
    config.on_retry = nil
    ok, client = pcall(me.new, config)
  end
  if not ok then error(client, 0) end
  return client
end

-- The server's filters and window, and what is left for the local filter.
local function request_of(o, now)
  local params = { limit = o.page_size, pattern = o.pattern }
  local local_spec = {}
  if #o.levels == 1 then params.level = o.levels[1] elseif #o.levels > 1 then local_spec.level = o.levels end
  if #o.sources == 1 then params.source = o.sources[1] elseif #o.sources > 1 then local_spec.source = o.sources end
  if o.since_ms or o.until_ms then
    params.start_time = o.since_ms or 0
    params.end_time = o.until_ms or now
  end
  return params, local_spec
end

-- Read, filter, print: every mode without --follow.
local function print_events(o, clients, params, keep, filtering, output, stats, progress)
  local several = #o.jobs > 1
  local wanted = o.tail or o.max_items
  if wanted and not filtering then
    -- nothing is dropped here: the server can stop at the count itself
    params.max_items = wanted
    params.limit = params.limit or math.min(100, wanted)
  end
  local descending
  if o.tail then
    descending = true
  elseif several then
    descending = o.order == "desc"
  end
  if descending ~= nil then
    params.order = descending and "desc" or "asc"
  else
    -- a summary's first errors are the earliest
    params.order = o.order or (o.summary and "asc" or nil)
  end

  local streams = {}
  for i, job in ipairs(o.jobs) do streams[i] = read.job_events(clients[i], job, params, stats, several) end
  local stream = read.merge(streams, descending)

  if o.tail then
    local newest = read.take(stream, keep, o.tail, progress.update)
    local from, to, step = #newest, 1, -1 -- oldest first
    if o.order == "desc" then from, to, step = 1, #newest, 1 end
    for i = from, to, step do
      output.add(newest[i])
      stats.printed = stats.printed + 1
    end
    return
  end
  local last_pages = -1
  while true do
    local ev = stream.next()
    if ev == nil then break end
    if keep(ev) then
      output.add(ev)
      stats.printed = stats.printed + 1
      if o.max_items and stats.printed >= o.max_items then
        stream.close()
        break
      end
    end
    if stats.pages ~= last_pages then
      last_pages = stats.pages
      progress.update()
    end
  end
end

local function run(argv, state)
  local parser = options.parser("modelarts-events " .. me.VERSION)
  local parsed, args = parser:pparse(options.normalize(argv))
  if not parsed then options.usage(nil, args) end
  local now = time.now_ms()
  local o = options.check(args, now)
  if o.format == "html" and not format.html then
    error(me.error("invalid_argument", "--format html needs format.html (the timeline), missing from this install"), 0)
  end

  local stdout_tty, stderr_tty = me.isatty(1), me.isatty(2)
  local stats = { events = 0, pages = 0, printed = 0 }
  -- nothing reaches stdout before the end: the line cannot get in the way
  local deferred = o.summary or o.format == "html"
  local show_progress = not o.follow and stderr_tty and (not stdout_tty or deferred)
  local progress = progress_line.new(stats, show_progress, me.monotonic, function(s) io.stderr:write(s) end)
  state.progress = progress

  local params, local_spec = request_of(o, now)
  local keep = filter.compile(local_spec)
  local config = me.config_from_env {
    endpoint = o.endpoint, region = o.region, project_id = o.project_id, token = o.token,
    language = o.language, ca_file = o.ca_file, insecure = o.insecure or nil, proxy = o.proxy,
    timeout = o.timeout, retries = o.retries,
    on_retry = show_progress and progress.retry or nil,
  }
  local clients = {}
  for i = 1, #o.jobs do clients[i] = new_client(config) end

  local no_color = os.getenv("NO_COLOR")
  local color = o.color == "always" or (o.color == "auto" and stdout_tty and (no_color == nil or no_color == ""))
  local view = { color = color, tz = o.tz, jobs = #o.jobs > 1 and format.job_labels(o.jobs) or nil }
  local output = output_for(o, view)

  if o.follow then
    return require("modelarts_events.cli.follow").run {
      clients = clients, jobs = o.jobs, settings = o, params = params, keep = keep, output = output,
      view = view, stats = stats, flush = function() stdout:flush() end,
    }
  end
  print_events(o, clients, params, keep, next(local_spec) ~= nil, output, stats, progress)
  progress.clear()
  output.finish()
  for _, client in ipairs(clients) do client:close() end
  return EXIT_OK
end

-- The flag behind a configuration field or a request parameter that the
-- client refused.
local FLAG_OF = { endpoint = "--endpoint", region = "--region", project_id = "--project-id", token = "--token",
  language = "--language", timeout = "--request-timeout", retries = "--retries", ca_file = "--ca-file",
  proxy = "--proxy", insecure = "--insecure", pattern = "--pattern", level = "--level", source = "--source",
  limit = "--page-size", start_time = "--since", end_time = "--until", order = "--order",
  training_job_id = "TRAINING_JOB_ID" }

-- lua.c's SIGINT handler raises "interrupted!" in Lua code; the C driver
-- raises the same string (or an error object saying so) in a transfer or a
-- wait.
local function is_interrupt(err)
  if type(err) == "string" then return err:find("interrupted!", 1, true) ~= nil end
  return type(err) == "table" and (err.kind == "interrupted" or err.message == "interrupted!")
end

-- Run the command line.
-- @tparam table argv the arguments (the global `arg`)
-- @return the exit status
function M.main(argv)
  local state = {}
  -- The interpreter's Ctrl-C handler is in place now; it puts the default
  -- back when a Ctrl-C comes. An error after that is the Ctrl-C's doing,
  -- even where a protected call in C (cjson.safe's) swallowed the
  -- "interrupted!" and something else came out.
  local armed = me.sigint_disposition() == "handler"
  local ok, result = xpcall(function() return run(argv, state) end, function(err)
    if is_interrupt(err) or getmetatable(err) == options.USAGE or (type(err) == "table" and err.kind) then
      return err
    end
    return { internal = tostring(err), traceback = debug.traceback(tostring(err), 2) }
  end)
  if ok then return result end
  if is_interrupt(result) or (armed and me.sigint_disposition() == "default") then
    -- a second Ctrl-C must not cut the exit short
    me.ignore_interrupts()
    if state.progress then state.progress.clear() end
    pcall(stdout.flush, stdout)
    return EXIT_INTERRUPTED
  end
  if state.progress then state.progress.clear() end
  pcall(stdout.flush, stdout)
  local err = io.stderr
  if getmetatable(result) == options.USAGE then
    err:write("modelarts-events: ", result.message, "\nRun 'modelarts-events --help' for the options.\n")
    return EXIT_USAGE
  end
  if result.internal then
    err:write("modelarts-events: internal error: ", result.internal:match("^[^\n]*"),
      " (please report it; set MODELARTS_EVENTS_DEBUG=1 for details)\n")
    if os.getenv("MODELARTS_EVENTS_DEBUG") then err:write(result.traceback, "\n") end
    return EXIT_FAILED
  end
  local message = tostring(result):gsub("^modelarts_events: ", "")
  if result.kind == "invalid_argument" then
    local flag = FLAG_OF[result.field]
    message = message:gsub("^invalid_argument: ", "")
    if flag and not message:find(flag, 1, true) then message = flag .. ": " .. message end
    err:write("modelarts-events: ", message, "\nRun 'modelarts-events --help' for the options.\n")
    return EXIT_USAGE
  end
  if result.job then message = result.job .. ": " .. message end
  err:write("modelarts-events: ", message, "\n")
  return EXIT_FAILED
end

return M
