--- How a followed job ended: results, their order, and the event-text
-- fallback for where the job itself may not be read.
--
-- The job's phase (`client:job`) is what says a job has ended (REFERENCE.md,
-- "The end of a job"). Event text is only the fallback for a caller whom the
-- job-detail call is forbidden (403): the server's filters may hide the
-- terminal event and its language changes its words, so the fallback knows
-- the messages in both languages the service speaks and can still miss an
-- end it never sees (a follow then ends at its `timeout`).
-- @module modelarts_events.follow.ending

local M = {}

--- Results, worst last: the result of a follow of several jobs is the
-- worst of theirs.
M.RANK = { completed = 1, stopped = 2, timeout = 3, terminated = 4, failed = 5 }

--- The worse of two results (either may be nil).
function M.worse(a, b)
  if not a then return b end
  if not b then return a end
  return M.RANK[b] > M.RANK[a] and b or a
end

-- Terminal messages, en-us from REFERENCE.md (the reference page's example
-- and Huawei's user guide "Viewing training job events"), zh-cn as the
-- service translates its own Job-source messages; compared after trimming,
-- the English ones case-insensitively.
local EXACT = {
  ["training job executed."] = "completed",
  ["training job completed."] = "completed",
  ["training job failed."] = "failed",
  ["failed to run the training job."] = "failed",
  ["training job is abnormal."] = "failed",
  ["failed to be queued."] = "failed",
  ["the training job has been manually stopped."] = "terminated",
  ["训练作业运行成功。"] = "completed",
  ["训练作业已完成。"] = "completed",
  ["训练作业运行失败。"] = "failed",
  ["训练作业运行异常。"] = "failed",
  ["训练作业已被手动停止。"] = "terminated",
}

-- Messages that go on with details ("... (Maximum running duration: 2h)").
local PREFIXES = {
  { "the training job has been stopped.", "terminated" },
  { "preparations timed out", "failed" },
}

--- The fallback rule: the result a terminal event's text says, or nil.
-- @tparam table event an event `{ time, level, source, message }`
-- @return "completed", "failed" or "terminated"; nil for any other event
function M.from_text(event)
  local message = type(event.message) == "string" and event.message:match("^%s*(.-)%s*$"):lower() or ""
  local result = EXACT[message]
  if result then return result end
  for _, entry in ipairs(PREFIXES) do
    if message:sub(1, #entry[1]) == entry[1] then return entry[2] end
  end
  return nil
end

--- The server's clock when the job ended (`status.start_time` plus
-- `status.duration`), epoch ms, or nil where the job does not say.
function M.ended_at(job)
  local status = type(job.status) == "table" and job.status or {}
  local start, duration = status.start_time, job.duration_ms or status.duration
  if type(start) == "number" and type(duration) == "number" then return start + duration end
  return nil
end

return M
