-- GET /v2/{project_id}/training-jobs/{id}: the job itself, in the shape of
-- ModelArts' ShowTrainingJobDetails answer (kind, metadata, status,
-- algorithm, spec; emulator/README.md says where the shape comes from).
-- Times are epoch milliseconds there, as numbers.
local jobs = require "emulator.jobs"

local M = {}

local TERMINAL = { Completed = true, Failed = true, Terminated = true, Abnormal = true }

-- phase, secondary_phase, start_ms, end_ms, create_ms of a job
local function status_of(job)
  if job.status then return job:status() end
  local first, last = job.ms[1], job.ms[#job.ms]
  local phase = job.phase or "Completed"
  return phase, phase, first, TERMINAL[phase] and last or nil, first
end

local function name_of(id)
  if id == "reference" then return "modelarts-job-5bd61eea-9de2-4864-a0f7-5fae966171b5" end
  return (id:sub(1, 64):gsub("[^%w_%-]", "_"))
end

--- The detail body (a table) of job under the id it was asked by.
function M.body(id, job)
  local phase, secondary, start, ended, created = status_of(job)
  local duration = 0
  if start then duration = (ended or jobs.now_ms()) - start end
  return {
    kind = "job",
    metadata = {
      id = id, name = name_of(id), workspace_id = "0", description = "",
      create_time = created or start, user_name = "emulator-user",
      annotations = { ["fault-tolerance/job-retry-num"] = "0" },
    },
    status = {
      phase = phase, secondary_phase = secondary, duration = math.max(0, duration),
      start_time = start, tasks = { "worker-0" },
    },
    algorithm = {
      code_dir = "obs://emulator-bucket/code/", boot_file = "obs://emulator-bucket/code/train.py",
      engine = { engine_name = "PyTorch", engine_version = "pytorch_1.8.0-cuda_10.2-py_3.7-ubuntu_18.04-x86_64" },
    },
    spec = { resource = { flavor_id = "modelarts.vm.cpu.8u", node_count = 1 } },
  }
end

return M
