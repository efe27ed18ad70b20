-- Files and shell quoting for specs that write documents or run commands.
local M = {}

--- A string quoted for sh.
function M.quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- The whole file, or nil when it cannot be read.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.write(path, s)
  local f = assert(io.open(path, "wb"))
  assert(f:write(s))
  f:close()
end

--- A fresh path name under the temporary directory (nothing made there).
function M.tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

--- A fresh empty directory.
function M.tmpdir()
  local d = M.tmpname()
  assert(os.execute("mkdir -p " .. M.quote(d)))
  return d
end

return M
