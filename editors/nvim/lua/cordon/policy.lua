-- The workspace policy file: where it is and the starter written when
-- there is none.
local M = {}

M.FILE = ".sandbox.toml"

-- Every rule commented out: creating the file changes nothing until the
-- user decides (the spirit of `cordon init`).
M.STARTER = [[
# cordon sandbox policy for this workspace.
# Every command cordon runs here gets: this workspace and a private temp dir
# writable, the rest of the machine read-only, your credentials (~/.ssh,
# ~/.aws, ...) unreadable, and no network except the hosts allowed below.
# Rules that widen your defaults (~/.config/cordon/sandbox.toml) apply only
# after you approve this file's content (the editor asks, or: cordon trust).
# Check it with: cordon check    See the result with: cordon explain

[filesystem]
# allow_write = ["~/.cache/go-build"]   # writable besides the workspace
# deny_write  = [".env", "*.pem"]       # read-only even inside the workspace
# deny_read   = ["secrets/**"]          # unreadable
# allow_read  = ["~/.aws/config"]       # readable again inside a deny_read

[network]
# allow   = ["github.com", "*.npmjs.org", "proxy.golang.org:443", "localhost:5173"]
# deny    = ["telemetry.example.com"]  # wins over allow
# unknown = "ask"                      # "ask" (in an editor or terminal) or "deny"

[env]
# pass = ["NPM_TOKEN"]                 # let these secret-looking variables through
# set  = { CI = "1" }

[limits]
# timeout   = "15m"
# memory    = "8GiB"
# processes = 1024
]]

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

-- ensure writes the starter at root unless a policy exists; it never
-- overwrites. It returns the path, or nil and an error.
function M.ensure(root)
  local path = root .. "/" .. M.FILE
  if vim.loop.fs_stat(path) then
    return path
  end
  -- O_EXCL: a file that appeared meanwhile is left alone.
  local fd, err = vim.loop.fs_open(path, "wx", 420)
  if not fd then
    if vim.loop.fs_stat(path) then
      return path
    end
    return nil, err
  end
  local _, werr = vim.loop.fs_write(fd, M.STARTER, 0)
  vim.loop.fs_close(fd)
  if werr then
    return nil, werr
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
