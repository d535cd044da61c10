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
  -- "confirm" (vim.fn.confirm, synchronous, one key per choice), "select"
  -- (vim.ui.select, waits for an asynchronous UI), or a function(params)
  -- returning one of the offered decisions ("allow-once" | "allow-always" |
  -- "deny" | "deny-always"). Unset: "select" on 0.10+, else "confirm".
  prompt = nil,
  approval_timeout_ms = 60000,
  -- Open the run buffer in a split.
  open_window = true,
  -- Start automatically for buffers whose root holds a .sandbox.toml; false
  -- starts only on :Cordon* commands or M.start().
  autostart = true,
  -- How many finished runs :CordonRuns keeps.
  history = 20,
}

-- clients_of lists the LSP clients attached to bufnr on every release
-- (vim.lsp.buf_get_clients is deprecated from 0.10 on).
function M.clients_of(bufnr)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ bufnr = bufnr })
  end
  return vim.tbl_values(vim.lsp.buf_get_clients(bufnr))
end

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
  local base = {}
  if vim.lsp.config and type(vim.lsp.config) == "table" then
    -- 0.11+: what the user set with vim.lsp.config("cordon", {...}) applies.
    base = vim.lsp.config.cordon or {}
  end
  local handlers = {
    ["sandbox/approve"] = approve.handler(S.opts),
    ["sandbox/output"] = on_output,
    ["sandbox/violation"] = function() end,
  }
  return vim.tbl_deep_extend("force", base, {
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
        notify(("cordon: server for %s exited with %d (:CordonLog)"):format(root, code), vim.log.levels.WARN)
      end
    end,
  })
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
  local view = runmod.new(label, open_window, S.place)
  local out = { stdout = {}, stderr = {} }
  local entry = {
    view = view,
    started = vim.loop.hrtime(),
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
  -- complete runs once per run: from the reply, or from M.cancel (Neovim
  -- drops the callback of a request it cancelled).
  local function complete(err, res)
    if entry.completed then
      return
    end
    entry.completed = true
    finish()
    local rec = {
      cmd = label,
      root = root,
      bufnr = view.buf,
      run_id = entry.run_id,
      duration_ms = math.floor((vim.loop.hrtime() - entry.started) / 1e6),
      violations = {},
    }
    if err then
      -- -32800: the request was cancelled (:CordonCancel); the run was killed.
      rec.cancelled = err.code == -32800 or entry.cancelled == true
      rec.error = tostring(err.message or err)
      M.remember(rec)
      if rec.cancelled then
        view:line("[cordon] cancelled: every process of the run was killed")
        notify("cordon: " .. label .. ": cancelled")
      else
        view:line("[cordon] run failed: " .. rec.error)
        notify("cordon: run failed: " .. rec.error, vim.log.levels.ERROR)
      end
      M.last = { bufnr = view.buf, error = err, cancelled = rec.cancelled }
      if on_done then
        on_done(nil, err)
      end
      vim.cmd("doautocmd <nomodeline> User CordonRunDone")
      return
    end
    rec.run_id, rec.exit_code, rec.violations = res.runId, res.exitCode, res.violations or {}
    M.remember(rec)
    res.exit_code, res.run_id = res.exitCode, res.runId
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
  end
  entry.complete = complete
  local ok, req = client.request("sandbox/run", params, function(err, res)
    complete(err, res)
  end, view.buf)
  if not ok then
    finish()
    view:line("[cordon] run failed: the server is not running")
    return nil
  end
  S.last_request = { client = client, id = req, entry = entry }
  M.last = { bufnr = view.buf }
  return view.buf
end

-- remember keeps a finished run in the history, newest first.
function M.remember(rec)
  table.insert(S.history, 1, rec)
  while #S.history > S.opts.history do
    table.remove(S.history)
  end
end

-- runs returns the history: { cmd, root, bufnr, run_id, exit_code,
-- duration_ms, violations, cancelled?, error? }, newest first.
function M.runs()
  return S and S.history or {}
end

-- show_runs lists the history and puts every violation of it into the
-- quickfix list (newest run first).
function M.show_runs()
  local lines, items = {}, {}
  for i, r in ipairs(M.runs()) do
    local state = r.cancelled and "cancelled" or (r.error and "failed") or ("exit " .. tostring(r.exit_code))
    table.insert(lines, ("%2d. %-9s %6d ms  %d blocked  %s  (buffer %d)"):format(i, state, r.duration_ms, #r.violations, r.cmd, r.bufnr))
    for _, v in ipairs(r.violations) do
      table.insert(items, runmod.qf_item(v, r.root .. "/" .. policy.FILE, r.run_id))
    end
  end
  if #lines == 0 then
    lines = { "cordon: no runs yet" }
  end
  vim.fn.setqflist({}, " ", { title = "cordon: blocked accesses", items = items })
  vim.api.nvim_echo({ { table.concat(lines, "\n") } }, true, {})
  return lines, items
end

-- cancel cancels the last run ($/cancelRequest kills it); its output says so.
function M.cancel()
  local l = S and S.last_request
  if l then
    l.entry.cancelled = true
    l.client.cancel_request(l.id)
    l.entry.complete({ code = -32800, message = "cancelled" })
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
  local has_file = type(r.policyFile) == "string" and r.policyFile ~= ""
  local lines = {
    "root:     " .. tostring(r.root),
    "policy:   " .. (has_file and r.policyFile or "(none: built-in defaults)"),
    "trusted:  " .. (has_file and tostring(r.trusted) or "-"),
    "backend:  " .. tostring(r.backend),
  }
  if r.lastGood then
    table.insert(lines, "INVALID:  the file on disk has errors; the last good policy is in force")
  end
  if type(r.error) == "string" and r.error ~= "" then
    table.insert(lines, "error:    " .. r.error)
  end
  for _, w in ipairs(type(r.untrusted) == "table" and r.untrusted or {}) do
    table.insert(lines, ("widens (not in force until trusted): %s %s (line %s)"):format(w.kind, w.target, tostring(w.line)))
  end
  M.last_status = r
  vim.api.nvim_echo({ { table.concat(lines, "\n") } }, true, {})
  return r
end

-- policy opens the root's .sandbox.toml, running `cordon init` when missing.
function M.policy()
  local root = buf_root(0)
  local path, err = policy.ensure(root, S.opts.cmd[1])
  if not path then
    notify("cordon: cannot create the policy: " .. tostring(err), vim.log.levels.ERROR)
    return
  end
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  return path
end

-- command runs one of the server's workspace/executeCommand commands for
-- the current buffer's root and returns its result, or nil and an error.
local function command(name, args)
  local client, root = M.client(buf_root(0))
  if not client then
    return nil, "no server"
  end
  local a = vim.tbl_extend("force", { root = root }, args or {})
  local res, err = client.request_sync("workspace/executeCommand", { command = name, arguments = { a } }, 10000, 0)
  if not res or res.err then
    return nil, tostring(err or (res and res.err and res.err.message))
  end
  return res.result, nil, root
end

-- scratch shows lines in a read-only buffer called name, in the output window.
local function scratch(name, lines, ft)
  local buf = vim.fn.bufnr(name)
  if buf == -1 then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, name)
    vim.api.nvim_buf_set_option(buf, "buftype", "nofile")
    vim.api.nvim_buf_set_option(buf, "bufhidden", "hide")
    vim.api.nvim_buf_set_option(buf, "swapfile", false)
  end
  vim.api.nvim_buf_set_option(buf, "modifiable", true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.api.nvim_buf_set_option(buf, "modifiable", false)
  vim.api.nvim_buf_set_option(buf, "readonly", true)
  if ft then
    vim.api.nvim_buf_set_option(buf, "filetype", ft)
  end
  runmod.show(buf, S.place)
  return buf
end

-- explain shows the effective policy, rule by rule (`cordon explain` of the
-- policy the server holds), in a read-only buffer.
function M.explain()
  local r, err = command("cordon.server.explain")
  if not r then
    notify("cordon: explain: " .. err, vim.log.levels.ERROR)
    return nil
  end
  return scratch("cordon://explain", vim.split(r.text or "", "\n", { plain = true }))
end

-- trust shows what the policy file widens and asks before trusting it;
-- the question has its own answers ("Trust this file" / "Not now").
function M.trust(answer)
  local st = M.status()
  if not st then
    return nil
  end
  if type(st.policyFile) ~= "string" or st.policyFile == "" then
    notify("cordon: no .sandbox.toml here: nothing to trust")
    return false
  end
  if st.trusted and #(st.untrusted or {}) == 0 then
    notify("cordon: " .. st.policyFile .. " is trusted")
    return true
  end
  local lines = {}
  for _, w in ipairs(st.untrusted or {}) do
    table.insert(lines, ("- %s %s (line %s)"):format(w.kind, w.target, tostring(w.line)))
  end
  local p = {
    kind = "policy",
    target = st.policyFile,
    message = st.policyFile .. " widens what the sandbox allows:\n" .. table.concat(lines, "\n"),
  }
  local d = answer or approve.handler(S.opts)(nil, p).decision
  if d ~= "allow-always" and d ~= "allow-once" then
    return false
  end
  local _, err = command("cordon.server.trust", { hash = st.policyHash })
  if err then
    notify("cordon: trust: " .. err, vim.log.levels.ERROR)
    return false
  end
  notify("cordon: trusted " .. st.policyFile)
  return true
end

-- untrust withdraws the approval of the policy file's content.
function M.untrust()
  local _, err = command("cordon.server.untrust")
  if err then
    notify("cordon: untrust: " .. err, vim.log.levels.ERROR)
    return false
  end
  notify("cordon: the policy file is no longer trusted")
  return true
end

-- clear drops the violation diagnostics of every run (or of run_id).
function M.clear(run_id)
  return command("cordon.server.clearViolations", { runId = run_id })
end

-- log shows what the servers wrote on stderr: Neovim keeps it in its LSP
-- log, among other servers' lines.
function M.log()
  local path = vim.lsp.get_log_path()
  local lines = {}
  local fh = io.open(path)
  if fh then
    for l in fh:lines() do
      if l:find("cordon", 1, true) then
        table.insert(lines, l)
      end
    end
    fh:close()
  end
  if #lines == 0 then
    lines = { "cordon: nothing logged yet in " .. path }
  end
  return scratch("cordon://log", lines)
end

-- restart stops the server of the current root and starts it again.
function M.restart()
  local root = buf_root(0)
  local c = client_for(root)
  if c then
    S.stopping = true
    c.stop()
    vim.wait(5000, function()
      return c.is_stopped()
    end, 20)
    S.stopping = false
    S.clients[root] = nil
    S.ready[root] = nil
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local id = M.start(root, vim.bo[bufnr].buftype == "" and bufnr or nil)
  if id then
    vim.wait(10000, function()
      return S.ready[root] == true
    end, 20)
  end
  return id
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
  if opts.prompt == nil then
    opts.prompt = vim.fn.has("nvim-0.10") == 1 and "select" or "confirm"
  end
  if opts.prompt == "select" and vim.fn.has("nvim-0.8") ~= 1 then
    -- 0.7 cannot wait inside a server request handler reliably: confirm.
    opts.prompt = "confirm"
  end
  if S then
    M.stop()
  end
  S = { opts = opts, clients = {}, ready = {}, pending = {}, by_id = {}, history = {}, place = {} }
  if vim.lsp.config and type(vim.lsp.config) == "table" and not vim.lsp.config.cordon then
    -- 0.11+: a named config users can extend with vim.lsp.config("cordon", ...).
    vim.lsp.config("cordon", { cmd = opts.cmd, init_options = { approvals = true } })
  end
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
