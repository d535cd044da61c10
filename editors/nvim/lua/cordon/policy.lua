-- The workspace policy file: where it is, and making one with `cordon init`.
local M = {}

M.FILE = ".sandbox.toml"

-- root finds the workspace root for a directory: the nearest ancestor
-- holding .sandbox.toml, else .git, else the directory itself.
function M.root(dir)
  dir = vim.fn.fnamemodify(dir, ":p")
  local f = vim.fn.findfile(M.FILE, dir .. ";")
  if f ~= "" then
    return vim.fn.fnamemodify(f, ":p:h")
  end
  local g = vim.fn.finddir(".git", dir .. ";")
  if g ~= "" then
    return vim.fn.fnamemodify(g, ":p:h:h")
  end
  return (dir:gsub("/$", ""))
end

-- ensure makes sure root has a policy file: when there is none it runs
-- `BIN init -w ROOT`, so the starter is the one text cordon itself writes.
-- It never overwrites. It returns the path, or nil and an error.
function M.ensure(root, bin)
  local path = root .. "/" .. M.FILE
  if vim.loop.fs_stat(path) then
    return path
  end
  local out = vim.fn.system({ bin, "init", "-w", root })
  if vim.v.shell_error ~= 0 and not vim.loop.fs_stat(path) then
    return nil, (out:gsub("%s+$", ""))
  end
  return path
end

-- state_dir is cordon's state directory ($XDG_STATE_HOME/cordon).
function M.state_dir()
  local x = vim.env.XDG_STATE_HOME
  if x and x:sub(1, 1) == "/" then
    return x .. "/cordon"
  end
  return (vim.env.HOME or vim.loop.os_homedir()) .. "/.local/state/cordon"
end

return M
