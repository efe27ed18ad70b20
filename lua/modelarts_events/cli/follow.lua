-- `--follow` for the command line: the events of running jobs as they come,
-- in time order, until every job has ended; `--cursor FILE` to resume where
-- an earlier run stood. Internal to `bin/modelarts-events`.
--
-- What is printed and what the cursor file says stay in step: the cursor is
-- written (a temporary file renamed over it, so a reader or a crash never
-- sees half of one) only once the events it covers are on stdout. text, json
-- and csv are written event by event; table holds its rows until the first
-- wait between polls (or TABLE_LOOKAHEAD rows) to measure its columns, then
-- streams; html and --summary are written when the follow ends.

local me = require "modelarts_events"
local follow = require "modelarts_events.follow"
local format = require "modelarts_events.format"
local options = require "modelarts_events.cli.options"

local M = {}

-- Exit status by how the follow ended (API.md, "Command line").
M.EXIT = { completed = 0, stopped = 0, failed = 3, terminated = 4, timeout = 5 }
local EXIT_FAILED = 1

-- The cursor an earlier run left in `path`, or nil (no file yet, or empty).
local function read_cursor(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a") or ""
  f:close()
  text = text:match("^%s*(.-)%s*$")
  return text ~= "" and text or nil
end

-- A function that keeps `path` holding the latest cursor, atomically.
local function cursor_keeper(path)
  local temporary, last = path .. ".tmp", nil
  return function(cursor)
    if cursor == last then return end
    local f, err = io.open(temporary, "wb")
    local ok = false
    if f then
      ok, err = f:write(cursor, "\n")
      f:close()
      if ok then ok, err = os.rename(temporary, path) end
    end
    if not ok then
      os.remove(temporary)
      error(me.error("invalid_argument", "--cursor: cannot write " .. path .. ": " .. tostring(err),
        { field = "cursor" }), 0)
    end
    last = cursor
  end
end

-- Follow and print.
-- @tparam table run `clients` (one per job), `jobs`, `settings` (from
-- `cli.options.check`), `params` (the server-side filters), `keep` (the
-- local filter), `output` (`add(event)`, `finish()`), `view` (`tz`, `jobs`
-- labels), `stats` (`printed` counted here), `flush` (stdout)
-- @return the exit status
function M.run(run)
  local o, params = run.settings, run.params
  local several = #run.jobs > 1
  local keep_cursor = o.cursor and cursor_keeper(o.cursor)
  local output, streaming = run.output, not (o.summary or o.format == "html")
  local table_rows -- rows a table holds until its columns are measured; nil once they are
  if o.format == "table" and not o.summary then
    output = format.table_writer(function(s) io.stdout:write(s) end,
      { tz = run.view.tz, jobs = run.view.jobs, lookahead = math.huge })
    streaming, table_rows = false, 0
  end
  local it

  local function written()
    run.flush()
    if keep_cursor then keep_cursor(it.cursor) end
  end
  local function measure_table()
    output.finish() -- writes the held rows; the writer streams from now on
    streaming, table_rows = true, nil
    written()
  end

  local ok
  ok, it = pcall(follow, several and run.clients or run.clients[1], several and run.jobs or run.jobs[1], {
    interval = o.interval, timeout = o.follow_timeout, since = o.since_ms, level = params.level,
    source = params.source, pattern = params.pattern, language = o.language,
    after = o.cursor and read_cursor(o.cursor) or nil,
    on_wait = function()
      if table_rows then measure_table() end
    end,
  })
  if not ok then
    if type(it) == "table" and it.field == "after" then
      options.usage("--cursor", o.cursor .. ": " .. tostring(it.message):gsub("^after: ", ""))
    end
    error(it, 0)
  end
  if streaming then written() end -- the cursor file exists (and can be written) from the start

  for ev in it do
    if run.keep(ev) then
      output.add(ev)
      run.stats.printed = run.stats.printed + 1
      if table_rows then table_rows = table_rows + 1 end
    end
    if table_rows and table_rows >= format.TABLE_LOOKAHEAD then
      measure_table()
    elseif streaming then
      written()
    end
    if o.max_items and run.stats.printed >= o.max_items then
      it:close()
      break
    end
  end
  output.finish()
  written()
  return M.EXIT[it.result] or EXIT_FAILED
end

return M
