-- :checkhealth cordon reports the binary and the backend; a missing binary
-- is an error that says how to install it.
local failures = 0
local function check(cond, msg)
  io.stderr:write((cond and "ok: " or "FAIL: ") .. msg .. "\n")
  if not cond then
    failures = failures + 1
  end
end

local function health()
  vim.cmd("checkhealth cordon")
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  vim.cmd("bwipeout!")
  return text
end

require("cordon").setup({ cmd = { vim.env.CORDON, "lsp" }, autostart = false })
local text = health()
check(text:find("OK: cordon: " .. vim.env.CORDON, 1, true) ~= nil, "the binary is found")
check(text:find("OK: cordon doctor", 1, true) ~= nil, "cordon doctor passes")

require("cordon").setup({ cmd = { "/nonexistent/cordon", "lsp" }, autostart = false })
text = health()
check(text:find("ERROR: cordon binary", 1, true) ~= nil, "a missing binary is an error")
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
