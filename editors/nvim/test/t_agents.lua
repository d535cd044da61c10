-- Headless test of what agent plugins use: :CordonTerminal runs commands in
-- the sandbox (a terminal through `cordon shell`, its violations shown by
-- this Neovim through the control socket), and require("cordon").run(cmd,
-- opts, on_exit) hands on_exit the exit code, the violations and the output.
-- Environment: CORDON (the binary), CORDON_TEST_WS (an empty temp dir).
local failures = {}
local function check(cond, msg)
  if not cond then
    table.insert(failures, msg)
    io.stderr:write("FAIL: " .. msg .. "\n")
  else
    io.stderr:write("ok: " .. msg .. "\n")
  end
end
local function finish()
  require("cordon").stop()
  vim.wait(3000, function()
    return next(vim.lsp.get_active_clients()) == nil
  end, 50)
  if #failures > 0 then
    io.stderr:write(("%d check(s) failed\n"):format(#failures))
    vim.cmd("cquit 1")
  end
  io.stderr:write("all checks passed\n")
  vim.cmd("qall!")
end

local cordon_bin = assert(vim.env.CORDON, "CORDON unset")
local ws = assert(vim.env.CORDON_TEST_WS, "CORDON_TEST_WS unset") .. "/agents"
vim.fn.mkdir(ws, "p")
-- The control sockets of this test's sessions.
vim.env.XDG_RUNTIME_DIR = vim.fn.fnamemodify(ws, ":h") .. "/run-agents"
vim.fn.mkdir(vim.env.XDG_RUNTIME_DIR, "p", 448) -- 0700
local policy = ws .. "/.sandbox.toml"
local f = assert(io.open(policy, "w"))
f:write('[network]\ndeny = ["blocked.example"]\n')
f:close()
vim.fn.confirm = function()
  return 3 -- Deny
end

local cordon = require("cordon")
cordon.setup({ cmd = { cordon_bin, "lsp" }, open_window = false })
vim.cmd("cd " .. vim.fn.fnameescape(ws))

-- The Lua API.
local got
local outside = "/etc/cordon-nvim-probe-" .. vim.fn.getpid()
cordon.run("echo hello; echo oops >&2; touch " .. outside .. "; exit 4", { cwd = ws }, function(res, err)
  got = res or { error = err }
end)
vim.wait(30000, function()
  return got ~= nil
end, 20)
check(got and got.exit_code == 4, "on_exit gets the exit code: " .. vim.inspect(got and got.exit_code))
check(got and got.stdout == "hello\n", "on_exit gets stdout: " .. vim.inspect(got and got.stdout))
check(got and got.stderr and got.stderr:find("oops") ~= nil, "on_exit gets stderr")
local found = false
for _, v in ipairs(got and got.violations or {}) do
  if v.kind == "write" and v.target == outside then
    found = true
  end
end
check(found, "on_exit gets the violations: " .. vim.inspect(got and got.violations))
check(vim.loop.fs_stat(outside) == nil, "the write outside did not land")

-- The older form still works.
local old
cordon.run("exit 3", function(res)
  old = res
end)
vim.wait(30000, function()
  return old ~= nil
end, 20)
check(old and old.exitCode == 3, "run(cmd, on_done) still works")

-- :CordonTerminal: an interactive sandboxed shell in a terminal buffer.
vim.cmd("CordonTerminal")
local tbuf = vim.api.nvim_get_current_buf()
local job = vim.b[tbuf].terminal_job_id
check(vim.b[tbuf].cordon_terminal == true and job ~= nil, "a terminal buffer opened")
local function text()
  return table.concat(vim.api.nvim_buf_get_lines(tbuf, 0, -1, false), "\n")
end
vim.fn.chansend(job, "echo inside-$((6*7)) $CORDON_SANDBOX; touch " .. outside .. "-t; echo rc=$?\n")
local ran = vim.wait(30000, function()
  return text():find("inside%-42 1") ~= nil and text():find("rc=1") ~= nil
end, 50)
check(ran, "the terminal runs commands in the sandbox:\n" .. text())
check(vim.loop.fs_stat(outside .. "-t") == nil, "the terminal's write outside did not land")
vim.fn.chansend(job, "exit\n")
local exited = vim.wait(15000, function()
  return vim.fn.jobwait({ job }, 0)[1] ~= -1
end, 50)
check(exited, "the sandboxed shell exits")
-- Its violation reached this Neovim through the control socket: a
-- diagnostic on the policy (the default rule: its first line).
local pbuf = vim.fn.bufadd(policy)
vim.fn.bufload(pbuf)
local shown = vim.wait(10000, function()
  for _, d in ipairs(vim.diagnostic.get(pbuf)) do
    if d.message:find(outside .. "-t", 1, true) then
      return true
    end
  end
  return false
end, 50)
check(shown, "the terminal's violation is a diagnostic here: " .. vim.inspect(vim.diagnostic.get(pbuf)))

-- :CordonTerminal CMD runs one command.
vim.cmd("CordonTerminal echo one-shot-$((1+1))")
local obuf = vim.api.nvim_get_current_buf()
local oneshot = vim.wait(30000, function()
  return table.concat(vim.api.nvim_buf_get_lines(obuf, 0, -1, false), "\n"):find("one%-shot%-2") ~= nil
end, 50)
check(oneshot, ":CordonTerminal CMD runs CMD")

finish()
