-- The helpers' speed: lua5.4 bench/helpers.lua [events]
-- Builds events in memory and measures filter, format and time.parse, the
-- median of 5 runs each. Prints a Markdown table, then `helpers.<name> <rate>`
-- lines for bench/run.
package.path = "./lua/?.lua;" .. package.path
local filter = require "modelarts_events.filter"
local format = require "modelarts_events.format"
local time = require "modelarts_events.time"

local N = tonumber(arg[1]) or 1000000
local LEVELS = { "Info", "Info", "Info", "Info", "Info", "Info", "Info", "Warning", "Error", "Info" }
local SOURCES = { "Task", "Task", "K8S", "K8s", "Job" }
local events = {}
for i = 1, N do
  local sec = i % 86400
  events[i] = {
    time = string.format("2022-11-%02dT%02d:%02d:%02d+08:00", 1 + i % 28, sec // 3600, sec // 60 % 60, sec % 60),
    level = LEVELS[i % #LEVELS + 1], source = SOURCES[i % #SOURCES + 1],
    message = string.format("[worker-%d] step %d loss=%.4f, \"lr\": 1e-4", i % 8, i, 1 / i),
  }
end

local function median(f)
  local runs = {}
  for r = 1, 5 do
    collectgarbage()
    local t0 = os.clock()
    f()
    runs[r] = os.clock() - t0
  end
  table.sort(runs)
  return N / runs[3]
end

local results = {}
local keep = filter.compile { level = { "Error", "Warning" }, source = "K8S" }
results[#results + 1] = { "filter", "filter.compile{level={...}, source=...}", median(function()
  local n = 0
  for i = 1, N do if keep(events[i]) then n = n + 1 end end
end), 2e6 }
results[#results + 1] = { "format_text", "format.text (no colour)", median(function()
  local text = format.text
  for i = 1, N do text(events[i]) end
end), 5e5 }
results[#results + 1] = { "time_parse", "time.parse", median(function()
  local parse = time.parse
  for i = 1, N do parse(events[i].time) end
end), 1e6 }
results[#results + 1] = { "format_json", "format.json", median(function()
  local json = format.json
  for i = 1, N do json(events[i]) end
end), nil }
results[#results + 1] = { "format_csv", "format.csv", median(function()
  local csv = format.csv
  for i = 1, N do csv(events[i]) end
end), nil }

print(string.format("Helpers over %d in-memory events, %s, median of 5 runs (os.clock):\n", N, _VERSION))
print("| helper | events/s | target | result |")
print("|---|---:|---:|---|")
for _, r in ipairs(results) do
  print(string.format("| %s | %s | %s | %s |", r[2], string.format("%.0f", r[3]):reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""),
    r[4] and string.format("≥ %.0fk", r[4] / 1000) or "—",
    r[4] and (r[3] >= r[4] and "**PASS**" or "**MISS**") or ""))
end
print()
for _, r in ipairs(results) do print(string.format("helpers.%s %.0f", r[1], r[3])) end
