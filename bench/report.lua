-- Turns bench/run's raw figures into bench/results.md, the chart's data and
-- the README's generated Performance block.
--
--   lua5.4 bench/report.lua TMPDIR OUTDIR
--
-- Reads from TMPDIR: samples ("KEY METRIC VALUE" lines), info ("name<TAB>value"),
-- helpers (bench/helpers.lua's "helpers.<name> <rate>" lines), log-runs (nginx
-- access-log lines, each prefixed "KEY RUN"), profile (callgrind_annotate of
-- this client), www/bench-delay/delays.txt.  Writes OUTDIR/results.md,
-- TMPDIR/chart.dat, TMPDIR/chart-latency.dat and TMPDIR/readme.md.
-- Exits 1 when a target is missed, 0 otherwise (also when the client was not
-- built and there is nothing to compare).
local tmp, outdir = arg[1], arg[2]
assert(outdir, "usage: report.lua TMPDIR OUTDIR")

local EVENTS, SMALL = 100000, 10000
local LATENCY_PAGES, LATENCY_CONC = 80, 8

local function lines(path)
  local f = io.open(path)
  if not f then return function() return nil end end
  return function()
    local l = f:read("*l")
    if not l then f:close() end
    return l
  end
end

-- callgrind_annotate's lines: "  1,234 (12.3%)  file:function [object]"
local function annotated(path)
  local rows, total = {}, nil
  for line in lines(path) do
    local n = line:match("^%s*([%d,]+) %(100%.0%%%)%s+PROGRAM TOTALS")
    if n then total = tonumber((n:gsub(",", ""))) end
    local ir, fn, object = line:match("^%s*([%d,]+) %(%s*[%d.]+%%%)%s+(.-) %[(.-)%]%s*$")
    if ir then
      local lib = object:match("([^/]+)$"):gsub("%.so.*$", ""):gsub("^lib", "")
      rows[#rows + 1] = { tonumber((ir:gsub(",", ""))), (fn:gsub("^%?%?%?:", ""):gsub("^.*/", "")), lib }
    end
  end
  return rows, total
end

-- ---- the samples -------------------------------------------------------------
local S = {}              -- S[key][metric] = { values... }
for line in lines(tmp .. "/samples") do
  local key, metric, value = line:match("^(%S+)%s+(%S+)%s+(.-)%s*$")
  if key then
    S[key] = S[key] or {}
    S[key][metric] = S[key][metric] or {}
    table.insert(S[key][metric], tonumber(value) or value)
  end
end
local function values(key, metric) return S[key] and S[key][metric] end
local function median_of(v)
  if not v or #v == 0 or type(v[1]) ~= "number" then return nil end
  local s = {}
  for i, x in ipairs(v) do s[i] = x end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end
local function median(key, metric) return median_of(values(key, metric)) end
local function range(key, metric)
  local v = values(key, metric)
  if not v or #v == 0 or type(v[1]) ~= "number" then return nil end
  return math.min(table.unpack(v)), math.max(table.unpack(v))
end
local client_state = (values("client", "state") or { "not built" })[1]
local built = client_state == "built"
-- why a figure is missing: "failed: ...", or the client's state
local function state(key)
  local v = values(key, "state")
  if v then return tostring(v[1]) end
  if key:match("^client") or key:match("^delay_c") or key:match("_client$") then return client_state end
  return "not measured"
end
local function ratio(a, b) return (a and b and b > 0) and a / b or nil end
-- A over B, round by round: both ran in the same round, moments apart, so
-- the median of the per-round ratios shrugs off a noisy moment of a shared
-- machine that a ratio of medians would not.  Falls back to the ratio of
-- the medians when a run failed and the rounds no longer pair up.
local function paired(a, b, metric)
  local va, vb = values(a, metric), values(b, metric)
  if not va or not vb or #va == 0 or type(va[1]) ~= "number" or type(vb[1]) ~= "number" then return nil end
  if #va ~= #vb then return ratio(median(a, metric), median(b, metric)) end
  local r = {}
  for i = 1, #va do r[i] = va[i] / vb[i] end
  return median_of(r)
end
-- instructions per event: the 100k run minus the 10k run, over the difference
local function ir_per_event(key)
  local big, small = median(key, "ir100k"), median(key, "ir10k")
  if not big or not small then return nil end
  return (big - small) / (EVENTS - SMALL)
end

local function f3(x) return x and string.format("%.3f", x) or "—" end
local function group(n)   -- 1234567 -> 1,234,567
  local s = string.format("%.0f", n)
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end
local function sec_range(key, metric)
  local lo, hi = range(key, metric)
  return lo and (f3(lo) .. "–" .. f3(hi)) or ""
end

local info, info_order = {}, {}
for line in lines(tmp .. "/info") do
  local k, v = line:match("^([^\t]+)\t(.*)$")
  if k then info[k] = v; info_order[#info_order + 1] = k end
end

-- ---- nginx's log, per run ------------------------------------------------------
-- L[key][run] = { requests, conns = {id = first reused flag}, protocol }
local L = {}
for line in lines(tmp .. "/log-runs") do
  local key, run, _, conn, _, reused, proto = line:match('^(%S+) (%d+) (%d+) (%d+) (%d+) "([^"]*)" (%S+)')
  if key then
    L[key] = L[key] or {}
    local r = L[key][run] or { requests = 0, conns = {}, nconns = 0, protocol = proto }
    L[key][run] = r
    r.requests = r.requests + 1
    if not r.conns[conn] then r.conns[conn] = reused; r.nconns = r.nconns + 1 end
  end
end
-- per-run counts of KEY: requests, connections, full handshakes, resumptions
local function log_counts(key)
  local c = { requests = {}, connections = {}, full = {}, resumed = {}, protocol = nil }
  for _, r in pairs(L[key] or {}) do
    local full, resumed = 0, 0
    for _, flag in pairs(r.conns) do
      if flag == "r" then resumed = resumed + 1 elseif flag == "." then full = full + 1 end
    end
    table.insert(c.requests, r.requests)
    table.insert(c.connections, r.nconns)
    table.insert(c.full, full)
    table.insert(c.resumed, resumed)
    c.protocol = r.protocol
  end
  return c
end
local function count_text(v)
  if #v == 0 then return "—" end
  local lo, hi = math.min(table.unpack(v)), math.max(table.unpack(v))
  return lo == hi and tostring(lo) or ("%d–%d"):format(lo, hi)
end

-- ---- the latency job's ideal ---------------------------------------------------
-- Think times of the pages that hold events, in order; with C requests in
-- flight and nothing else costing time, greedy list scheduling is the best
-- any client can do (curl --parallel does exactly that).
local delays = {}
for line in lines(tmp .. "/www/bench-delay/delays.txt") do
  local offset, ms = line:match("^(%d+) (%d+)$")
  if offset and tonumber(offset) % 100 == 0 and tonumber(offset) < LATENCY_PAGES * 100 then
    delays[#delays + 1] = tonumber(ms) / 1000
  end
end
local function schedule(c)
  local free = {}
  for i = 1, c do free[i] = 0 end
  local finish = 0
  for _, d in ipairs(delays) do
    table.sort(free)
    free[1] = free[1] + d
    if free[1] > finish then finish = free[1] end
  end
  return finish
end
local ideal_serial, ideal_par = schedule(1), schedule(LATENCY_CONC)
-- The same with the first page alone: a client that sends nothing beside
-- it until it tells the total (so that a one-page job costs one request).
local ideal_first_alone = 0
if #delays > 0 then
  local first = table.remove(delays, 1)
  ideal_first_alone = first + schedule(LATENCY_CONC)
  table.insert(delays, 1, first)
end

-- What this client's transfer costs per event, from its profile: libcurl's
-- curl_multi_perform with all it calls (zlib's inflate among them).
local transfer_ir
for _, f in ipairs((annotated(tmp .. "/profile-inclusive"))) do
  if f[2] == "curl_multi_perform" and f[3] == "curl" then transfer_ir = f[1] / EVENTS break end
end

-- ---- the rows ----------------------------------------------------------------------
local STATIC = {
  { "client_c4", "this client, Lua 5.4, `concurrency = 4` (default)", "client c4",
    "one core: libcurl, gunzip, cjson, validation and the iterator share the Lua thread" },
  { "client_c1", "this client, Lua 5.4, `concurrency = 1`", "client c1",
    "the same work, but idle while each page crosses loopback" },
  { "floor", "decode floor: `cjson.decode` of the 1,000 bodies in memory + the touch loop", "decode floor",
    "cjson and the Lua loop alone, on one core" },
  { "luahttp_c4", "lua-http + cqueues, Lua 5.1, 4 coroutines on 4 kept-alive connections, cjson", "lua-http c4",
    "lua-http's HTTP/1.1 code in Lua; pages uncompressed" },
  { "luasocket", "LuaSocket `socket.http` + ltn12 + cjson, page by page", "LuaSocket",
    "a new connection per page; pages uncompressed" },
  { "python", "Python `requests.Session()` + `.json()`, page by page", "Python requests",
    "the interpreter: requests, urllib3 and json in Python" },
  { "curl", "curl CLI, the 1,000 URLs one after another, no decoding", "curl serial",
    "one request at a time: loopback round trips and gunzip" },
  { "curl_par4", "curl CLI `--parallel --parallel-immediate --parallel-max 4`, no decoding", "curl parallel 4",
    "transfer and gunzip only: the transport floor" },
}

local out = {}
local function w(fmt, ...) out[#out + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end

-- ---- targets -------------------------------------------------------------------------
local missed = 0
local targets = {}
local function target(name, value, shown, goal, pass, bound)
  local result
  if value == nil then
    result = "— (" .. (built and "not measured" or client_state) .. ")"
  else
    result = pass and "**met**" or "**missed**"
    if not pass then missed = missed + 1 end
  end
  targets[#targets + 1] = { name, value and shown or "n/a", goal, result, bound }
end

local floor_loop = median("floor", "loop")
local t1 = paired("client_c4", "floor", "loop")
local t1_cpu, t1_ir = paired("client_c4", "floor", "loopcpu"), ratio(ir_per_event("client_c4"), ir_per_event("floor"))
target("1. static job: client at its default concurrency / decode floor (loop wall time)", t1,
  t1 and ("%.3f (CPU time %s, instructions %s)"):format(t1, t1_cpu and ("%.2f"):format(t1_cpu) or "—",
    t1_ir and ("%.2f"):format(t1_ir) or "—"), "≤ 1.10", t1 and t1 <= 1.10,
  transfer_ir and ("transfer and gunzip in the same thread: libcurl with zlib costs %s instructions per event "
    .. "(%.0f%% of the floor's %s) on top of decoding"):format(group(transfer_ir),
      100 * transfer_ir / (ir_per_event("floor") or transfer_ir), group(ir_per_event("floor") or 0))
    or "the client's single thread does transfer, gunzip, validation and iteration on top of the floor's work")
local t2 = paired("delay_c8", "delay_curl8", "wall")
target("2. latency-bound, concurrency 8: client / `curl --parallel-max 8` (process wall time)", t2,
  t2 and ("%.3f"):format(t2), "≤ 1.05", t2 and t2 <= 1.05,
  ("the first page alone, before the total is known: %.3f s at best that way, %.3f s with speculation"):format(
    ideal_first_alone, ideal_par))
local h1 = log_counts("tls_client")
local h1_full = #h1.full > 0 and math.max(table.unpack(h1.full)) or nil
target("3a. HTTPS, HTTP/1.1: full TLS handshakes per client run", h1_full,
  h1_full and ("%s (of %s connections)"):format(count_text(h1.full), count_text(h1.connections)), "≤ 1",
  h1_full and h1_full <= 1, "one full handshake, then resumptions from the shared session cache; under TLS 1.3 "
    .. "nginx's session cache sometimes turns a reused ticket down (never with TLS 1.2 or tickets alone)")
local h2 = log_counts("h2_client")
local h2_conns = #h2.connections > 0 and math.max(table.unpack(h2.connections)) or nil
target("3b. HTTPS, HTTP/2 offered: connections per client run", h2_conns,
  h2_conns and ("%s (%s)"):format(count_text(h2.connections), h2.protocol or "?"), "1",
  h2_conns and h2_conns == 1 and h2.protocol == "HTTP/2.0", "every request multiplexed over one connection")
local r_ls, r_py, r_curl = paired("client_c4", "luasocket", "wall"), paired("client_c4", "python", "wall"),
  paired("client_c4", "curl", "wall")
target("client c4 / LuaSocket (process wall time)", r_ls, r_ls and ("%.3f"):format(r_ls), "≤ 0.8", r_ls and r_ls <= 0.8,
  "LuaSocket connects once per page")
target("client c4 / Python requests (process wall time)", r_py, r_py and ("%.3f"):format(r_py), "≤ 0.3", r_py and r_py <= 0.3,
  "Python's interpreter")
target("client c4 / serial curl (process wall time)", r_curl, r_curl and ("%.3f"):format(r_curl), "≤ 1.2",
  r_curl and r_curl <= 1.2, "curl waits a round trip per page but decodes nothing")
local rss10, rss100 = median("client_10k", "rss"), median("client_c4", "rss")
local r_rss = ratio(rss100, rss10)
target("peak RSS, 100k events / 10k events", r_rss, r_rss and ("%.3f"):format(r_rss), "≤ 1.3", r_rss and r_rss <= 1.3,
  "one page per slot in flight, one page delivered: memory does not grow with the job")

local function targets_table()
  w("| target | value | goal | result | bounded by |")
  w("|---|---:|---:|---|---|")
  for _, t in ipairs(targets) do w("| %s | %s | %s | %s | %s |", t[1], t[2], t[3], t[4], t[5]) end
end

-- ---- the tables --------------------------------------------------------------------
local dat = {}
-- this client orange, the floors grey, the other programs blue
local function color_of(key)
  if key == "floor" or key:match("curl") or key == "ideal" then return 0x9a9a9a end
  if key:match("^client") or key:match("^delay_c") then return 0xd9822b end
  return 0x5b8fd0
end
local function static_table(compact)
  if compact then
    w("| what | loop s | CPU s | CPU / wall | instructions / event | / floor |")
    w("|---|---:|---:|---:|---:|---:|")
  else
    w("| what | process s (min–max) | loop s | loop CPU s | process CPU s | CPU / wall | instructions / event | time / floor | bounded by |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---|")
  end
  local floor_ir = ir_per_event("floor")
  for _, r in ipairs(STATIC) do
    local key, what, label, bound = r[1], r[2], r[3], r[4]
    local wall, loop = median(key, "wall"), median(key, "loop")
    local cpu, loopcpu = median(key, "cpu"), median(key, "loopcpu")
    -- programs without their own clock (curl): the process figures
    local t, c = loop or wall, loopcpu or cpu
    local to_floor = loop and paired(key, "floor", "loop") or ratio(t, floor_loop)
    local ir = ir_per_event(key)
    local irtext = ir and group(ir) or "—"
    if ir and floor_ir and key ~= "floor" then irtext = irtext .. (" (%.2f×)"):format(ir / floor_ir) end
    if wall then
      if compact then
        w("| %s | %s | %s | %.2f | %s | %s |", what, f3(t), f3(c), c / t, irtext,
          to_floor and ("%.2f×"):format(to_floor) or "—")
      else
        w("| %s | %s (%s) | %s | %s | %s | %.2f | %s | %s | %s |", what, f3(wall), sec_range(key, "wall"), f3(loop),
          f3(loopcpu), f3(cpu), c / t, irtext, to_floor and ("%.2f×"):format(to_floor) or "—", bound)
      end
      dat[#dat + 1] = string.format('"%s" %.6f %.6f "%.3f s" %d', label, t, c, t, color_of(key))
    else
      w(compact and "| %s | %s | | | | |" or "| %s | %s | | | | | | | |", what, state(key))
      dat[#dat + 1] = string.format('"%s" 0 0 "%s" %d', label, state(key):match("^[^:(]*"), color_of(key))
    end
  end
end

local LATENCY = {
  { "delay_c8", "this client, `concurrency = 8`", "client c8" },
  { "delay_curl8", "curl `--parallel --parallel-immediate --parallel-max 8`, the same 80 URLs", "curl parallel 8" },
  { "delay_c1", "this client, `concurrency = 1`" },
}
local latdat = {}
local function latency_table()
  w("| what | process s (min–max) | requests nginx saw | / curl |")
  w("|---|---:|---:|---:|")
  for _, r in ipairs(LATENCY) do
    local m = median(r[1], "wall")
    if m then
      local to_curl = paired(r[1], "delay_curl8", "wall")
      w("| %s | %s (%s) | %s | %s |", r[2], f3(m), sec_range(r[1], "wall"), count_text(log_counts(r[1]).requests),
        to_curl and ("%.3f"):format(to_curl) or "—")
      if r[3] then latdat[#latdat + 1] = string.format('"%s" %.6f "%.3f s" %d', r[3], m, m, color_of(r[1])) end
    else
      w("| %s | %s | | |", r[2], state(r[1]))
    end
  end
  w("| ideal: %d in flight, nothing but the server's think time | %s | %d | |", LATENCY_CONC, f3(ideal_par), LATENCY_PAGES)
  latdat[#latdat + 1] = string.format('"ideal" %.6f "%.3f s" %d', ideal_par, ideal_par, color_of("ideal"))
end

local HTTPS = {
  { "tls_client", "this client, HTTP/1.1 only (`concurrency = 4`)" },
  { "tls_curl4", "curl `--parallel --parallel-max 4`, HTTP/1.1 only" },
  { "h2_client", "this client, HTTP/2 offered (`concurrency = 4`)" },
  { "h2_curl4", "curl `--parallel --parallel-max 4`, HTTP/2 offered" },
}
local function https_table()
  w("| what | process s (min–max) | protocol | requests | connections | full handshakes | resumed |")
  w("|---|---:|---|---:|---:|---:|---:|")
  for _, r in ipairs(HTTPS) do
    local m = median(r[1], "wall")
    if m then
      local c = log_counts(r[1])
      w("| %s | %s (%s) | %s | %s | %s | %s | %s |", r[2], f3(m), sec_range(r[1], "wall"), c.protocol or "?",
        count_text(c.requests), count_text(c.connections), count_text(c.full), count_text(c.resumed))
    else
      w("| %s | %s | | | | | |", r[2], state(r[1]))
    end
  end
end

local function profile_tables()
  local functions, total = annotated(tmp .. "/profile")
  if not total or #functions == 0 then return false end
  local by_object, objs = {}, {}
  for _, f in ipairs(functions) do by_object[f[3]] = (by_object[f[3]] or 0) + f[1] end
  for lib, ir in pairs(by_object) do objs[#objs + 1] = { lib, ir } end
  table.sort(objs, function(a, b) return a[2] > b[2] end)
  local function per_event(ir) return group(ir / EVENTS) end
  w("Instructions of the whole process over its 100,000 events (start-up included), by library, by function")
  w("(own instructions), and this module's functions with what they call (inclusive). `lua5.4` is the")
  w("interpreter (Debian strips its internal names); `c` is libc (malloc, memcpy); `z` is zlib (gunzip).")
  w("")
  w("| library | instructions / event | share |")
  w("|---|---:|---:|")
  for i = 1, math.min(#objs, 8) do
    w("| `%s` | %s | %.1f%% |", objs[i][1], per_event(objs[i][2]), 100 * objs[i][2] / total)
  end
  w("")
  w("| function (own instructions) | library | instructions / event | share |")
  w("|---|---|---:|---:|")
  for i = 1, math.min(#functions, 12) do
    local f = functions[i]
    w("| `%s` | `%s` | %s | %.1f%% |", f[2], f[3], per_event(f[1]), 100 * f[1] / total)
  end
  local inclusive = annotated(tmp .. "/profile-inclusive")
  local shown = 0
  for _, f in ipairs(inclusive) do
    if f[3] == "modelarts_events" and shown < 10 then
      if shown == 0 then
        w("")
        w("| this module's function (inclusive) | instructions / event | share |")
        w("|---|---:|---:|")
      end
      shown = shown + 1
      w("| `%s` | %s | %.1f%% |", f[2], per_event(f[1]), 100 * f[1] / total)
    end
  end
  return true
end

local function rss_table()
  w("| what | median peak RSS KiB |")
  w("|---|---:|")
  w("| this client, 10,000 events, `concurrency = 4` | %s |", rss10 and group(rss10) or state("client_10k"))
  w("| this client, 100,000 events, `concurrency = 4` | %s |", rss100 and group(rss100) or state("client_c4"))
  local ls = median("luasocket", "rss")
  w("| for scale: LuaSocket + cjson, one page at a time | %s |", ls and group(ls) or "—")
end

-- ---- results.md ----------------------------------------------------------------------
local runs = info.runs or "?"
w("# modelarts-events benchmark")
w("")
w("Generated by `bench/run` (`make bench`) on %s: a warm-up round, then %s rounds in which every", info.date or "?", runs)
w("program runs once in turn; medians of the rounds (ratios: the median of the per-round ratios). One nginx")
w("(1 worker) on loopback serves static pages; it and the programs share the machine's %s cores (load averages at the end, 1/5/15 min: %s).",
  info.nproc or "?", info.load or "?")
if not built then
  w("")
  w("**client: %s** — only the other programs were measured; the targets need the client.", client_state)
end
w("")
w("## Targets (issue 15)")
w("")
targets_table()
w("")
w("## Static job: 100,000 events, 1,000 pages of 100")
w("")
static_table(false)
w("")
w("*loop*: the program's own clocks (wall and `os.clock`/`process_time`) around its fetch-and-decode loop, start-up")
w("excluded; for curl, which has no loop, the process figures. *process*: from fork to exit, with CPU time (user + sys)")
w("from `getrusage` (`bench/measure.py`). *CPU / wall* near 1 means the program is bound by its own CPU; well below 1,")
w("by waiting (the server, the network). *instructions / event*: callgrind, the 100k run minus the 10k run over 90,000")
w("events, the program's own process only. Every Lua program touches each event the same way (counts it, compares")
w("`level`, adds `#message`) and every program's counts are checked against the job.")
local conns = median("curl", "conns")
local gz, raw = median("curl", "gzbytes"), median("curl", "rawbytes")
w("This client, Python and curl ask for gzip (%s of JSON as %s gzipped; serial curl used %s connection(s));",
  raw and ("%.1f MB"):format(raw / 1e6) or "?", gz and ("%.1f MB"):format(gz / 1e6) or "?",
  conns and ("%.0f"):format(conns) or "?")
w("LuaSocket and lua-http do not, and get the pages uncompressed — as their users do.")
w("")
w("## Latency-bound paging: 8,000 events, 80 pages, 30–50 ms of server think time per page")
w("")
latency_table()
w("")
w("Serial paging needs the sum of the think times, %.3f s; %d requests in flight need at least %.3f s (greedy",
  ideal_serial, LATENCY_CONC, ideal_par)
w("scheduling of the same think times), or %.3f s when the first page goes alone. *requests nginx saw*: all of them,",
  ideal_first_alone)
w("pages past the end and cancelled ones included.")
w("")
w("## HTTPS: 10,000 events, 100 pages, a throwaway certificate")
w("")
https_table()
w("")
w("From nginx's access log of each run: `$connection` (connections), `$ssl_session_reused` on each connection's first")
w("request (`.` a full handshake, `r` a resumption), `$server_protocol`. nginx keeps a session cache and tickets.")
w("")
w("## Where this client's instructions go (callgrind, the 100k run at `concurrency = 4`)")
w("")
if not profile_tables() then w("(not measured: %s)", built and "BENCH_CALLGRIND=0 or callgrind failed" or client_state) end
w("")
w("## Peak memory")
w("")
rss_table()

local helpers = {}
for line in lines(tmp .. "/helpers") do
  local name, rate = line:match("^helpers%.(%S+)%s+(.-)%s*$")
  if name then helpers[#helpers + 1] = { name, rate } end
end
if #helpers > 0 then
  w("")
  w("## Helpers (`lua5.4 bench/helpers.lua`)")
  w("")
  w("| helper | events/s |")
  w("|---|---:|")
  for _, h in ipairs(helpers) do w("| `%s` | %s |", h[1], tonumber(h[2]) and group(tonumber(h[2])) or h[2]) end
end
w("")
w("## Machine")
w("")
w("| | |")
w("|---|---|")
for _, k in ipairs(info_order) do w("| %s | %s |", k, (info[k]:gsub("|", "/"))) end
w("")
w("Server and programs share one machine, so the figures compare with each other, not with a remote endpoint.")
w("Re-run with `make bench` (or `BENCH_RUNS=9 bench/run`).")
local md = table.concat(out, "\n") .. "\n"

-- ---- the README's block ---------------------------------------------------------------
out, dat, latdat = {}, {}, {}
w("Last run: %s, commit %s, %s rounds (medians), %s cores shared with nginx; the whole report with", info.date or "?",
  info.commit or "?", runs, info.nproc or "?")
w("every figure's range is [bench/results.md](bench/results.md).")
w("")
targets_table()
w("")
w("100,000 events as 1,000 static pages from nginx on loopback (*loop*: each program's own clock around its")
w("fetch-and-decode loop; curl: the whole process):")
w("")
static_table(true)
w("")
w("![Fetch and decode 100,000 events; latency-bound paging](bench/results.png)")
w("")
w("Latency-bound paging, 80 pages with 30–50 ms of server think time each:")
w("")
latency_table()
w("")
w("HTTPS, 100 pages (nginx's log: connections, full handshakes, resumptions):")
w("")
https_table()
local readme = table.concat(out, "\n") .. "\n"

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end
write(outdir .. "/results.md", md)
write(tmp .. "/readme.md", readme)
-- gnuplot draws the first row at the bottom: list them top to bottom
local function reversed(t)
  local r = {}
  for i = #t, 1, -1 do r[#r + 1] = t[i] end
  return table.concat(r, "\n") .. "\n"
end
write(tmp .. "/chart.dat", reversed(dat))
write(tmp .. "/chart-latency.dat", reversed(latdat))

os.exit(missed > 0 and 1 or 0)
