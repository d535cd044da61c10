-- cordon for Neovim: starts `cordon lsp` per workspace root, runs commands
-- in the sandbox, answers approvals, and leaves diagnostics to
-- vim.diagnostic (the server publishes them).
local approve = require("cordon.approve")
local policy = require("cordon.policy")
local runmod = require("cordon.run")

local M = {}

local defaults = {
  -- The server command; cmd[1] may be a path to the binary.
  cmd = { "cordon", "lsp" },
  -- "confirm" (vim.fn.confirm, synchronous, works on 0.7), "select"
  -- (vim.ui.select, waits for an asynchronous UI), or a function(params)
  -- returning "allow-once" | "allow-always" | "deny".
  prompt = "confirm",
  approval_timeout_ms = 60000,
  -- Open the run buffer in a split.
  open_window = true,
  -- Start automatically for buffers whose root holds a .sandbox.toml; false
  -- starts only on :Cordon* commands or M.start().
  autostart = true,
}

-- state lives in one table per setup() so tests can start over.
local S

local function notify(msg, level)
  vim.notify(msg, level or vim.log.levels.INFO)
end

-- output routes sandbox/output to the run it belongs to: the server names a
-- run only in its result, so a new runId goes to the oldest run without one
-- (runs start in request order).
local function on_output(_, params)
  if type(params) ~= "table" or type(params.runId) ~= "string" then
    return
  end
  local r = S.by_id[params.runId]
  if not r then
    for _, p in ipairs(S.pending) do
      if not p.run_id then
        p.run_id = params.runId
        S.by_id[params.runId] = p
        r = p
        break
      end
    end
  end
  if r then
    r.view:append(params.data)
    if r.capture then
      r.capture(params.stream, params.data)
    end
  end
end

local function client_for(root)
  local id = S.clients[root]
  if id then
    local c = vim.lsp.get_client_by_id(id)
    if c and not c.is_stopped() then
      return c
    end
    S.clients[root] = nil
  end
end

local function config(root)
  local handlers = {
    ["sandbox/approve"] = approve.handler(S.opts),
    ["sandbox/output"] = on_output,
    ["sandbox/violation"] = function() end,
  }
  return {
    name = "cordon",
    cmd = S.opts.cmd,
    cmd_cwd = root,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fn.fnamemodify(root, ":t") } },
    init_options = { approvals = true },
    handlers = handlers,
    on_init = function(client)
      S.ready[root] = true
      S.clients[root] = client.id
    end,
    on_exit = function(code)
      S.ready[root] = nil
      S.clients[root] = nil
      if code ~= 0 and not S.stopping then
        notify(("cordon: server for %s exited with %d"):format(root, code), vim.log.levels.WARN)
      end
    end,
  }
end

-- start starts (or finds) the server for root and attaches bufnr to it.
function M.start(root, bufnr)
  assert(S, "cordon: call require('cordon').setup() first")
  root = root or policy.root(vim.fn.getcwd())
  if vim.fn.executable(S.opts.cmd[1]) ~= 1 then
    notify(
      ("cordon: %q not found. Install it with `go install github.com/cordon-dev/cordon/cmd/cordon@latest`, "
        .. "or pass setup({ cmd = { '/path/to/cordon', 'lsp' } })"):format(S.opts.cmd[1]),
      vim.log.levels.ERROR
    )
    return nil
  end
  local id = S.clients[root]
  if not client_for(root) then
    if vim.lsp.start and bufnr then
      id = vim.lsp.start(config(root), { bufnr = bufnr })
    else
      id = vim.lsp.start_client(config(root))
    end
    if not id then
      notify("cordon: failed to start " .. table.concat(S.opts.cmd, " "), vim.log.levels.ERROR)
      return nil
    end
    S.clients[root] = id
  end
  if bufnr and vim.api.nvim_buf_is_valid(bufnr) and not vim.lsp.buf_is_attached(bufnr, id) then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

-- client returns the running, initialised client for root, starting it and
-- waiting for initialize when needed.
function M.client(root)
  root = root or policy.root(vim.fn.getcwd())
  local id = M.start(root)
  if not id then
    return nil
  end
  vim.wait(10000, function()
    return S.ready[root] == true
  end, 20)
  return client_for(root), root
end

local function buf_root(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" or name:match("^%a+://") then
    return policy.root(vim.fn.getcwd())
  end
  return policy.root(vim.fn.fnamemodify(name, ":p:h"))
end

-- run runs cmd (a shell string for /bin/sh -c, or an argv list) in the
-- sandbox of the current buffer's root (or of opts.cwd) and streams its
-- output into a scratch buffer. See |cordon-api|: opts = { cwd, env,
-- timeout_ms, label, open_window, on_output = function(stream, data) };
-- on_exit(result) gets the result with exit_code, violations, stdout and
-- stderr (or nil, err). The older form run(cmd, on_done) still works.
function M.run(cmd, opts, on_exit)
  if type(opts) == "function" then
    opts, on_exit = nil, opts
  end
  opts = opts or {}
  local on_done = on_exit
  local start_root = opts.cwd and policy.root(opts.cwd) or buf_root(0)
  local client, root = M.client(start_root)
  if not client then
    notify("cordon: no server", vim.log.levels.ERROR)
    if on_done then
      on_done(nil, { message = "no server" })
    end
    return nil
  end
  local label = opts.label or (type(cmd) == "table" and table.concat(cmd, " ") or cmd)
  local open_window = S.opts.open_window
  if opts.open_window ~= nil then
    open_window = opts.open_window
  end
  local view = runmod.new(label, open_window)
  local out = { stdout = {}, stderr = {} }
  local entry = {
    view = view,
    capture = function(stream, data)
      table.insert(out[stream == "stderr" and "stderr" or "stdout"], data)
      if opts.on_output then
        opts.on_output(stream, data)
      end
    end,
  }
  table.insert(S.pending, entry)
  local function finish()
    for i, p in ipairs(S.pending) do
      if p == entry then
        table.remove(S.pending, i)
        break
      end
    end
    if entry.run_id then
      S.by_id[entry.run_id] = nil
    end
  end
  local params = { command = cmd, cwd = opts.cwd or root, label = label, env = opts.env, timeoutMs = opts.timeout_ms }
  local ok, req = client.request("sandbox/run", params, function(err, res)
    finish()
    if err then
      view:line("[cordon] run failed: " .. tostring(err.message or err))
      M.last = { bufnr = view.buf, error = err }
      notify("cordon: run failed: " .. tostring(err.message or err), vim.log.levels.ERROR)
      if on_done then
        on_done(nil, err)
      end
      return
    end
    res.exit_code = res.exitCode
    res.violations = res.violations or {}
    res.stdout = table.concat(out.stdout)
    res.stderr = table.concat(out.stderr)
    for _, v in ipairs(res.violations or {}) do
      view:line(runmod.describe_violation(v))
    end
    view:line(("[cordon] exit code %d"):format(res.exitCode))
    vim.api.nvim_buf_set_var(view.buf, "cordon_exit_code", res.exitCode)
    M.last = { bufnr = view.buf, run_id = res.runId, exit_code = res.exitCode, violations = res.violations or {} }
    notify(("cordon: %s: exit code %d"):format(label, res.exitCode), res.exitCode == 0 and vim.log.levels.INFO or vim.log.levels.WARN)
    if on_done then
      on_done(res)
    end
    vim.cmd("doautocmd <nomodeline> User CordonRunDone")
  end, view.buf)
  if not ok then
    finish()
    view:line("[cordon] run failed: the server is not running")
    return nil
  end
  S.last_request = { client = client, id = req }
  M.last = { bufnr = view.buf }
  return view.buf
end

-- cancel cancels the last run ($/cancelRequest kills it).
function M.cancel()
  local l = S and S.last_request
  if l then
    l.client.cancel_request(l.id)
  end
end

-- status shows sandbox/status.
function M.status()
  local client = M.client(buf_root(0))
  if not client then
    return
  end
  local res, err = client.request_sync("sandbox/status", {}, 5000, 0)
  if not res or res.err then
    notify("cordon: status: " .. tostring(err or (res and res.err and res.err.message)), vim.log.levels.ERROR)
    return
  end
  local r = res.result or {}
  local lines = {
    "root:     " .. tostring(r.root),
    "policy:   " .. ((r.policyFile and r.policyFile ~= "") and r.policyFile or "(none: built-in defaults)"),
    "trusted:  " .. tostring(r.trusted),
    "backend:  " .. tostring(r.backend),
  }
  M.last_status = r
  vim.api.nvim_echo({ { table.concat(lines, "\n") } }, true, {})
  return r
end

-- policy opens the root's .sandbox.toml, writing the starter when missing.
function M.policy()
  local root = buf_root(0)
  local path, err = policy.ensure(root)
  if not path then
    notify("cordon: cannot create the policy: " .. tostring(err), vim.log.levels.ERROR)
    return
  end
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  return path
end

-- stop stops every server.
function M.stop()
  if not S then
    return
  end
  S.stopping = true
  for _, id in pairs(S.clients) do
    local c = vim.lsp.get_client_by_id(id)
    if c then
      c.stop()
    end
  end
end

function M.setup(opts)
  opts = vim.tbl_deep_extend("force", defaults, opts or {})
  if type(opts.cmd) == "string" then
    opts.cmd = { opts.cmd, "lsp" }
  end
  if opts.prompt == "select" and vim.fn.has("nvim-0.8") ~= 1 then
    -- 0.7 cannot wait inside a server request handler reliably: confirm.
    opts.prompt = "confirm"
  end
  S = { opts = opts, clients = {}, ready = {}, pending = {}, by_id = {} }
  local group = vim.api.nvim_create_augroup("cordon", { clear = true })
  if opts.autostart then
    vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile" }, {
      group = group,
      callback = function(a)
        if vim.bo[a.buf].buftype ~= "" then
          return
        end
        local root = buf_root(a.buf)
        if vim.loop.fs_stat(root .. "/" .. policy.FILE) then
          M.start(root, a.buf)
        end
      end,
    })
  end
  vim.api.nvim_create_autocmd("VimLeavePre", { group = group, callback = M.stop })
end

-- terminal opens a sandboxed terminal buffer (`cordon shell`); see
-- |:CordonTerminal|.
function M.terminal(cmd, opts)
  return require("cordon.agents").terminal(M, cmd, opts)
end

-- _buf_root is the workspace root of a buffer, for cordon.agents.
M._buf_root = buf_root

-- _state is for tests and :checkhealth.
function M._state()
  return S
end

return M
