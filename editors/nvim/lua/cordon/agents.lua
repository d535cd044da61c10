-- What agents and terminals use: a sandboxed terminal buffer running
-- `cordon shell`. Its approvals and violations reach this Neovim through
-- the workspace's control socket, so the server for the root is started
-- first.
local M = {}

-- terminal opens a terminal buffer in a new split running `cordon shell`
-- (interactive; with cmd, `cordon shell -c cmd`) in the current buffer's
-- workspace root. opts = { cwd, split = "botright split" | "vsplit" | ... }.
-- It returns the buffer and the job id.
function M.terminal(cordon, cmd, opts)
  opts = opts or {}
  local S = cordon._state()
  assert(S, "cordon: call require('cordon').setup() first")
  local root = opts.cwd and require("cordon.policy").root(opts.cwd) or cordon._buf_root(0)
  -- The editor session is the control room of runs in this root.
  cordon.client(root)
  local argv = { S.opts.cmd[1], "shell" }
  if cmd and cmd ~= "" then
    vim.list_extend(argv, { "-c", cmd })
  else
    table.insert(argv, "-l")
  end
  vim.cmd(opts.split or "botright split")
  vim.cmd("enew")
  local buf = vim.api.nvim_get_current_buf()
  local job = vim.fn.termopen(argv, { cwd = opts.cwd or root })
  if job <= 0 then
    vim.notify("cordon: cannot start " .. table.concat(argv, " "), vim.log.levels.ERROR)
    return nil
  end
  vim.api.nvim_buf_set_var(buf, "cordon_terminal", true)
  pcall(vim.api.nvim_buf_set_name, buf, ("cordon://terminal/%d"):format(job))
  return buf, job
end

return M
