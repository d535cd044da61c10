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

-- The policy buffer gets the language server's treatment from cordon lsp:
-- a diagnostic while typing (before any write), completion and hover.
local pbuf = vim.api.nvim_get_current_buf()
check(vim.wait(10000, function()
  return #cordon.clients_of(pbuf) > 0
end, 20), "the policy buffer is attached to the server")
vim.api.nvim_buf_set_lines(pbuf, 0, -1, false, { "[network]", 'unknown = "maybe"', "" })
local live = false
check(vim.wait(10000, function()
  for _, d in ipairs(vim.diagnostic.get(pbuf)) do
    if tostring(d.message):find("maybe", 1, true) and d.lnum == 1 then
      live = true
    end
  end
  return live
end, 50), "a live diagnostic on the unsaved buffer")
check(table.concat(vim.fn.readfile(path), "\n"):find("maybe", 1, true) == nil, "nothing was written to disk")
local function request(method, params)
  local res = vim.lsp.buf_request_sync(pbuf, method, params, 5000) or {}
  for _, r in pairs(res) do
    if r.result then
      return r.result
    end
  end
end
local uri = vim.uri_from_bufnr(pbuf)
local items = request("textDocument/completion", { textDocument = { uri = uri }, position = { line = 2, character = 0 } }) or {}
local labels = {}
for _, it in ipairs(items.items or items) do
  labels[it.label] = true
end
check(labels.allow and labels.deny and labels["[filesystem]"] and not labels.unknown, "completion offers [network]'s keys not given yet, and the tables")
local hov = request("textDocument/hover", { textDocument = { uri = uri }, position = { line = 1, character = 2 } })
check(hov and hov.contents and tostring(hov.contents.value):find("network.unknown", 1, true) ~= nil, "hover documents network.unknown")
local syms = request("textDocument/documentSymbol", { textDocument = { uri = uri } }) or {}
check(syms[1] and syms[1].name == "network" and syms[1].children[1].name == "unknown", "document symbols: the table and its key")

if failures > 0 then
  vim.cmd("cquit 1")
end
io.stderr:write("all checks passed\n")
vim.cmd("qall!")
