-- :checkhealth cordon
local M = {}

local h = vim.health or require("health")
local start = h.start or h.report_start
local ok = h.ok or h.report_ok
local warn = h.warn or h.report_warn
local err = h.error or h.report_error
local info = h.info or h.report_info

function M.check()
  start("cordon")
  if vim.fn.has("nvim-0.7") == 1 then
    ok("Neovim " .. tostring(vim.version().major) .. "." .. tostring(vim.version().minor))
  else
    err("Neovim 0.7 or newer is required")
  end
  local S = require("cordon")._state()
  if not S then
    warn("setup() has not been called", { "require('cordon').setup()" })
    return
  end
  local bin = S.opts.cmd[1]
  if vim.fn.executable(bin) == 1 then
    local out = vim.fn.system({ vim.fn.exepath(bin), "version" })
    ok(("cordon: %s (%s)"):format(vim.fn.exepath(bin), (out:gsub("%s+$", ""))))
    local doctor = vim.fn.system({ vim.fn.exepath(bin), "doctor" })
    if vim.v.shell_error == 0 then
      ok("cordon doctor: the sandbox backend works")
    else
      err("cordon doctor reports problems", vim.split(doctor, "\n", { plain = true, trimempty = true }))
    end
  else
    err(("cordon binary %q not found"):format(bin), {
      "go install github.com/cordon-dev/cordon/cmd/cordon@latest",
      "or setup({ cmd = { '/path/to/cordon', 'lsp' } })",
    })
  end
  info("approval prompt: " .. (type(S.opts.prompt) == "function" and "custom function" or S.opts.prompt))
  local n = 0
  for root, id in pairs(S.clients) do
    n = n + 1
    info(("server %d for %s"):format(id, root))
  end
  if n == 0 then
    info("no server running (it starts for buffers under a .sandbox.toml, or on :CordonRun)")
  end
end

return M
