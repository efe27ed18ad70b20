-- `--follow` for the command line: new events of a running job until it
-- ends. Internal to `bin/modelarts-events`; the seam where the follow work
-- plugs in (several jobs, `--cursor`, an exit status per result).

local follow = require "modelarts_events.follow"

local M = {}

local EXIT_OK, EXIT_JOB_FAILED = 0, 3

-- Follow and print.
-- @tparam table run `clients` (one per job), `jobs`, `settings` (from
-- `cli.options.check`), `params` (the server-side filters and window of the
-- run), `keep` (the local filter), `output` (`add(event)`, `finish()`),
-- `stats` (`printed` counted here), `flush` (after each event)
-- @return the exit status
function M.run(run)
  local o, params = run.settings, run.params
  local it = follow(run.clients[1], run.jobs[1], {
    interval = o.interval, timeout = o.follow_timeout, since = params.start_time,
    level = params.level, source = params.source, pattern = params.pattern, language = o.language })
  for ev in it do
    if run.keep(ev) then
      run.output.add(ev)
      run.stats.printed = run.stats.printed + 1
      run.flush()
      if o.max_items and run.stats.printed >= o.max_items then break end
    end
  end
  run.output.finish()
  return it.result == "failed" and EXIT_JOB_FAILED or EXIT_OK
end

return M
