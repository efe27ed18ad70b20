-- Print the fenced code block that follows `<!-- run: NAME -->` in the
-- README, so that make targets and specs run the README's own text.
--
--   lua5.4 tools/readme-block.lua NAME [README.md]
local name, path = arg[1], arg[2] or "README.md"
local f = assert(io.open(path))
local readme = f:read("*a")
f:close()
local block = readme:match("<!%-%- run: " .. name:gsub("%p", "%%%0") .. " %-%->\n```%w*\n(.-\n)```")
if not block then
  io.stderr:write(path, " has no block marked <!-- run: ", name, " -->\n")
  os.exit(1)
end
io.write(block)
