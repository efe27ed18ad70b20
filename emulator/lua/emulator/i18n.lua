-- X-Language: the service translates its own (Job-source) messages; what
-- the workers print (Task) and what Kubernetes reports (K8S) stay as they
-- are. en-us is the default.
local M = {}

M.ZH = {
  ["Training job is created."] = "训练作业已创建。",
  ["Training job is waiting for resources."] = "训练作业正在等待资源。",
  ["Training job is pending."] = "训练作业排队中。",
  ["Training job is initializing."] = "训练作业初始化中。",
  ["Training job is running."] = "训练作业运行中。",
  ["Training job failed."] = "训练作业运行失败。",
  ["Training job completed."] = "训练作业已完成。",
  ["Training job executed."] = "训练作业运行成功。",
  ["The training job has been manually stopped."] = "训练作业已被手动停止。",
  ["Training job is abnormal."] = "训练作业运行异常。",
}

--- The language an X-Language header asks for, or nil for the default.
function M.language(header)
  if type(header) == "string" and header:lower() == "zh-cn" then return "zh-cn" end
  return nil
end

--- The event as the language shows it (the same table where nothing changes).
function M.translate(event, language)
  if language ~= "zh-cn" or event.source ~= "Job" then return event end
  local zh = M.ZH[event.message]
  if not zh then return event end
  return { time = event.time, level = event.level, source = event.source, message = zh }
end

return M
