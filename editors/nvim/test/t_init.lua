-- A workspace without a policy: the status says "defaults" honestly, and
-- :CordonPolicy writes the starter with `cordon init` (one text for the CLI
-- and every editor).
local failures = 0
local function check(cond, msg)
  io.stderr:write((cond and "ok: " or "FAIL: ") .. msg .. "\n")
  if not cond then
    failures = failures + 1
  end
end
local ws = assert(vim.env.CORDON_TEST_WS)
local bin = assert(vim.env.CORDON)
local f = assert(io.open(ws .. "/notes.txt", "w"))
f:write("x\n")
f:close()
vim.fn.mkdir(ws .. "/.git", "p")

local cordon = require("cordon")
cordon.setup({ cmd = { bin, "lsp" } })
vim.cmd("edit " .. vim.fn.fnameescape(ws .. "/notes.txt"))
local st = cordon.status()
check(st and st.root == ws, "the server serves the .git root without a policy")
-- 0.7 decodes a JSON null inside an object as nil, later releases as vim.NIL.
check(st and (st.policyFile == vim.NIL or st.policyFile == nil), "policyFile is null without a file (got " .. vim.inspect(st and st.policyFile) .. ")")
check(st and st.trusted == false, "trusted is false without a file")

vim.cmd("CordonPolicy")
local path = ws .. "/.sandbox.toml"
check(vim.api.nvim_buf_get_name(0) == path, ":CordonPolicy opened " .. path)
local got = table.concat(vim.fn.readfile(path), "\n") .. "\n"
local other = vim.fn.tempname()
vim.fn.mkdir(other, "p")
vim.fn.system({ bin, "init", "-w", other })
local want = table.concat(vim.fn.readfile(other .. "/.sandbox.toml"), "\n") .. "\n"
check(got == want, "the starter is exactly what `cordon init` writes")
check(vim.fn.system({ bin, "check", path }) and vim.v.shell_error == 0, "the starter is a valid policy")

if failures > 0 then
  vim.cmd("cquit 1")
end
io.stderr:write("all checks passed\n")
vim.cmd("qall!")
