-- Headless Chromium (Debian's `chromium`) for the specs that check what a
-- person sees: the DOM after parsing, a screenshot, and what the browser
-- asked of the network. Every run has a fresh profile and is cut off from
-- every host name, so Chromium's own background requests go nowhere.
local cjson = require "cjson"
local files = require "support.files"

local M = {}

M.path = os.getenv("CHROMIUM") or "/usr/bin/chromium"

--- Whether Chromium can run here; when not, why.
function M.available()
  local f = io.open(M.path, "rb")
  if not f then return false, M.path .. " is not installed (Debian: apt-get install chromium)" end
  f:close()
  return true
end

local sh_quote, read, write, tmpname = files.quote, files.read, files.write, files.tmpname
M.read, M.write, M.tmpname, M.tmpdir = read, write, tmpname, files.tmpdir

--- Run Chromium headless on a file with extra flags.
-- @return stdout, stderr (its log), seconds of wall time
function M.run(file, flags)
  local profile = files.tmpdir()
  local out, err = tmpname(), tmpname()
  local args = {
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--user-data-dir=" .. profile, "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND",
  }
  for _, f in ipairs(flags or {}) do args[#args + 1] = f end
  local cmd = { "env -u LD_PRELOAD", sh_quote(M.path) }
  for _, a in ipairs(args) do cmd[#cmd + 1] = sh_quote(a) end
  cmd[#cmd + 1] = sh_quote("file://" .. file)
  local started = os.time()
  os.execute(table.concat(cmd, " ") .. " >" .. out .. " 2>" .. err)
  local seconds = os.time() - started
  local stdout, stderr = read(out) or "", read(err) or ""
  os.remove(out)
  os.remove(err)
  os.execute("rm -rf " .. sh_quote(profile))
  return stdout, stderr, seconds
end

--- The DOM after the page loaded, Chromium's log, and the URLs the page
-- itself asked for (from Chromium's net log: requests in the page's
-- network partition, which Chromium's own background requests are not).
function M.dump_dom(file)
  local netlog = tmpname()
  local dom, log = M.run(file, { "--dump-dom", "--enable-logging=stderr", "--v=0", "--log-net-log=" .. netlog })
  local requested = {}
  local text = read(netlog)
  os.remove(netlog)
  local ok, decoded = pcall(cjson.decode, text or "")
  if not ok then
    -- Chromium may end before closing the JSON: the events are there
    ok, decoded = pcall(cjson.decode, (text or ""):gsub(",?%s*$", "") .. "]}")
  end
  assert(ok and type(decoded) == "table" and decoded.events, "no net log from chromium")
  for _, ev in ipairs(decoded.events) do
    local p = ev.params
    if type(p) == "table" and type(p.url) == "string" and type(p.network_isolation_key) == "string"
      and p.network_isolation_key:find("file://", 1, true) and not p.url:find("^file:") then
      requested[#requested + 1] = p.url
    end
  end
  return dom, log, requested
end

--- A PNG of the page.
function M.screenshot(file, png, width, height)
  os.remove(png)
  local _, log, seconds = M.run(file, { "--screenshot=" .. png, "--window-size=" .. width .. "," .. height })
  return read(png), log, seconds
end

-- Counts a PNG's colours inside Chromium itself: a page draws it on a
-- canvas and writes the counts into its DOM, which --dump-dom prints.
local COUNTER = [[<!DOCTYPE html><html><body><script>
function count(img) {
  var c = document.createElement("canvas"); c.width = img.naturalWidth; c.height = img.naturalHeight;
  var g = c.getContext("2d"); g.drawImage(img, 0, 0);
  var d = g.getImageData(0, 0, c.width, c.height).data, seen = new Map();
  for (var i = 0; i < d.length; i += 4) { var k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2]; seen.set(k, (seen.get(k) || 0) + 1); }
  var out = [];
  seen.forEach(function (n, k) { out.push(k.toString(16).padStart(6, "0") + "=" + n); });
  document.body.setAttribute("data-size", c.width + "x" + c.height);
  document.body.setAttribute("data-colors", out.join(" "));
}
</script><img onload="count(this)" src="data:image/png;base64,BASE64"></body></html>]]

--- The colours of a PNG: `{ ["d62728"] = pixels, ... }`, and "WxH".
function M.colors(png_path)
  local b64 = io.popen("base64 -w0 " .. sh_quote(png_path)):read("*a")
  local page = tmpname() .. ".html"
  write(page, (COUNTER:gsub("BASE64", function() return b64 end)))
  local dom = M.run(page, { "--dump-dom" })
  os.remove(page)
  local colors = {}
  for k, n in (dom:match('data%-colors="([^"]*)"') or ""):gmatch("(%x+)=(%d+)") do colors[k] = tonumber(n) end
  return colors, dom:match('data%-size="([^"]*)"')
end

return M
