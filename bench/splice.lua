-- Puts a generated block into a Markdown file between its two markers:
--
--   lua5.4 bench/splice.lua README.md BLOCK.md
--
-- The lines between "<!-- bench:begin ... -->" and "<!-- bench:end -->" are
-- replaced by BLOCK.md; the markers and everything else stay as they are.
-- Fails (and leaves the file alone) when the markers are missing.
local target, block_file = arg[1], arg[2]
assert(block_file, "usage: splice.lua FILE BLOCK")
local f = assert(io.open(target, "rb"))
local text = f:read("*a")
f:close()
f = assert(io.open(block_file, "rb"))
local block = f:read("*a")
f:close()

local head, rest = text:match("^(.-<!%-%- bench:begin[^\n]*%-%->\n)(.*)$")
local tail = rest and rest:match("\n?(<!%-%- bench:end %-%->.*)$")
if not head or not tail then
  io.stderr:write("splice.lua: ", target, " has no <!-- bench:begin --> ... <!-- bench:end --> block\n")
  os.exit(1)
end
local tmp = target .. ".bench-tmp"
f = assert(io.open(tmp, "wb"))
f:write(head, block, tail)
f:close()
assert(os.rename(tmp, target))
