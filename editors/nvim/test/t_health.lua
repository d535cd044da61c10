-- :checkhealth cordon reports the binary and the backend; a missing binary
-- is an error that says how to install it.
local failures = 0
local function check(cond, msg)
  io.stderr:write((cond and "ok: " or "FAIL: ") .. msg .. "\n")
  if not cond then
    failures = failures + 1
  end
end

-- The report's markup changed across releases ("OK: x" on 0.7, "- OK x"
-- on 0.10, "- ✅ OK x" on 0.12): look for the level, then the text.
local function has(text, level, what)
  for line in text:gmatch("[^\n]+") do
    local at = line:find(level, 1, true)
    if at and line:find(what, at, true) then
      return true
    end
  end
  return false
end

local function health()
  vim.cmd("checkhealth cordon")
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  vim.cmd("bwipeout!")
  return text
end

require("cordon").setup({ cmd = { vim.env.CORDON, "lsp" }, autostart = false })
local text = health()
check(has(text, "OK", "cordon: " .. vim.env.CORDON), "the binary is found")
check(has(text, "OK", "cordon doctor"), "cordon doctor passes")

require("cordon").setup({ cmd = { "/nonexistent/cordon", "lsp" }, autostart = false })
text = health()
check(has(text, "ERROR", "cordon binary"), "a missing binary is an error")
check(text:find("go install github.com/cordon-dev/cordon/cmd/cordon@latest", 1, true) ~= nil, "it says how to install")

-- :CordonRun with no binary reports instead of running anything.
local msgs = {}
vim.notify = function(m)
  table.insert(msgs, m)
end
check(require("cordon").run("true") == nil, ":CordonRun without a binary runs nothing")
check(msgs[1] and msgs[1]:find("not found", 1, true) ~= nil, "and says the binary is not found")

if failures > 0 then
  vim.cmd("cquit 1")
end
io.stderr:write("all checks passed\n")
vim.cmd("qall!")
