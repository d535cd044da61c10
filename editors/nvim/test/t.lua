-- Headless end-to-end test of the plugin against the real `cordon lsp`:
-- load the plugin on a temp workspace, run a command through :CordonRun,
-- answer an approval (vim.fn.confirm stubbed to pick Allow once), and check
-- the output buffer, the exit code and the diagnostics.
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
  if #failures > 0 then
    io.stderr:write(("%d check(s) failed\n"):format(#failures))
    vim.cmd("cquit 1")
  end
  io.stderr:write("all checks passed\n")
  vim.cmd("qall!")
end

local cordon_bin = assert(vim.env.CORDON, "CORDON unset")
local ws = assert(vim.env.CORDON_TEST_WS, "CORDON_TEST_WS unset")

-- The policy: one host denied by a rule (line 3), every other host asked.
local policy = ws .. "/.sandbox.toml"
local f = assert(io.open(policy, "w"))
f:write('[network]\nunknown = "ask"\ndeny = ["blocked.example"]\n')
f:close()
local main = ws .. "/main.txt"
f = assert(io.open(main, "w"))
f:write("hello\n")
f:close()

-- Play the user: record every question and allow once, whichever prompt
-- the release uses (confirm() on 0.7, vim.ui.select from 0.10 on).
local asked = {}
local answer = 1
vim.fn.confirm = function(msg, choices, default, kind)
  table.insert(asked, { how = "confirm", msg = msg, choices = choices, default = default, kind = kind })
  return answer
end
vim.ui.select = function(items, opts, on_choice)
  table.insert(asked, { how = "select", msg = opts.prompt, choices = table.concat(items, "\n") })
  -- Answer later, as an asynchronous picker does.
  vim.defer_fn(function()
    on_choice(items[answer], answer)
  end, 10)
end
local want_prompt = vim.fn.has("nvim-0.10") == 1 and "select" or "confirm"

local cordon = require("cordon")
cordon.setup({ cmd = { cordon_bin, "lsp" } })

vim.cmd("edit " .. vim.fn.fnameescape(main))
local buf = vim.api.nvim_get_current_buf()
local started = vim.wait(10000, function()
  return #cordon.clients_of(buf) > 0 and cordon._state().ready[ws] == true
end, 20)
check(started, "the server started for the workspace root and attached to the buffer")
if not started then
  return finish()
end

local cmd = "echo out-line; printf 'part'; echo 'ial'; echo err-line >&2; "
  .. "curl -s -o /dev/null -m 5 http://approve-me.example/; "
  .. "curl -s -o /dev/null -m 5 http://blocked.example/; exit 7"
local done = false
vim.api.nvim_create_autocmd("User", {
  pattern = "CordonRunDone",
  callback = function()
    done = true
  end,
})
vim.cmd("CordonRun " .. cmd)
check(vim.wait(30000, function()
  return done
end, 20), "the run finished")

local last = cordon.last or {}
check(last.exit_code == 7, "exit code 7 reported (got " .. tostring(last.exit_code) .. ")")
check(last.bufnr and vim.api.nvim_buf_get_var(last.bufnr, "cordon_exit_code") == 7, "b:cordon_exit_code is 7")
local lines = last.bufnr and vim.api.nvim_buf_get_lines(last.bufnr, 0, -1, false) or {}
local text = table.concat(lines, "\n")
io.stderr:write("--- run buffer ---\n" .. text .. "\n------------------\n")
check(lines[1] == "$ " .. cmd, "the buffer starts with the command")
check(vim.tbl_contains(lines, "out-line"), "stdout streamed into the buffer")
check(vim.tbl_contains(lines, "partial"), "a line split across chunks is joined")
check(vim.tbl_contains(lines, "err-line"), "stderr streamed into the buffer")
check(lines[#lines] == "[cordon] exit code 7", "the buffer ends with the exit code")
check(text:find("cordon: blocked net blocked.example:80 (", 1, true) ~= nil, "the rule-denied host is listed as blocked")

check(#asked == 1, "exactly one approval asked (got " .. #asked .. ")")
if asked[1] then
  check(asked[1].msg:find("approve-me.example", 1, true) ~= nil, "the approval names the host")
  check(asked[1].how == want_prompt, "asked with " .. want_prompt .. " (got " .. tostring(asked[1].how) .. ")")
  check(asked[1].choices:gsub("&", ""):find("Allow once", 1, true) ~= nil, "Allow once offered")
  check(asked[1].choices:gsub("&", ""):lower():find("always deny", 1, true) ~= nil, "Always deny offered")
  if asked[1].how == "confirm" then
    check(asked[1].default == 3, "the default button is Deny")
  end
end
-- confirm(): each choice has its own accelerator key.
local approve = require("cordon.approve")
local seen, dup = {}, false
for _, c in ipairs(approve.choices({ kind = "network", target = "x" })) do
  local k = c.key:match("&(.)"):lower()
  dup = dup or seen[k] ~= nil
  seen[k] = true
end
check(not dup, "every network choice has a distinct confirm() key")
check(approve.choices({ kind = "policy", target = "x" })[1].label == "Trust this file", "the trust question has its own buttons")
-- The answer reached the server: the audit log records it. (Offline the
-- allowed name then fails to resolve, so the connection is still refused.)
local audit = io.open(vim.env.XDG_STATE_HOME .. "/cordon/audit.log")
local answered = false
if audit then
  for l in audit:lines() do
    local ok, e = pcall(vim.fn.json_decode, l)
    if ok and type(e) == "table" and e.host == "approve-me.example" and e.asked == true and e.answer == "allow-once" then
      answered = true
    end
  end
  audit:close()
end
check(answered, "the audit log records the allow-once answer for approve-me.example")

-- Nothing left behind: once the run is over, the workspace holds only what
-- the test put there (no placeholder cordon made to protect paths).
local left = {}
vim.wait(3000, function()
  left = {}
  local h = vim.loop.fs_scandir(ws)
  while h do
    local name = vim.loop.fs_scandir_next(h)
    if not name then
      break
    end
    if name ~= ".sandbox.toml" and name ~= "main.txt" then
      table.insert(left, name)
    end
  end
  return #left == 0
end, 50)
check(#left == 0, "no placeholder left in the workspace after the run: " .. table.concat(left, " "))

-- Diagnostics: the server publishes the violation on the deciding rule's line.
local pbuf = vim.fn.bufadd(policy)
local diags
check(vim.wait(10000, function()
  diags = vim.diagnostic.get(pbuf)
  for _, d in ipairs(diags) do
    if d.code == "net-denied" or (d.user_data and d.user_data.lsp and d.user_data.lsp.code == "net-denied") then
      return true
    end
  end
  return false
end, 50), "a net-denied diagnostic arrived on .sandbox.toml")
local on_rule = false
for _, d in ipairs(diags or {}) do
  io.stderr:write(("diagnostic %s:%d %s [%s]\n"):format(policy, d.lnum + 1, d.message, tostring(d.code)))
  if d.source == "cordon" and tostring(d.message):find("net blocked.example:80", 1, true) then
    on_rule = d.lnum == 2
  end
end
check(on_rule, "the blocked.example diagnostic sits on line 3, the deny rule")

-- :CordonStatus answers, :CordonPolicy opens the existing file untouched.
local st = cordon.status()
check(st and st.root == ws, "sandbox/status names the root")
vim.cmd("CordonPolicy")
check(vim.api.nvim_buf_get_name(0) == policy, ":CordonPolicy opens the policy")
local pf = io.open(policy):read("*a")
check(pf:find("blocked.example", 1, true) ~= nil, ":CordonPolicy left the existing policy alone")

-- A second run reuses the output window; :CordonRuns lists both and
-- fills the quickfix list.
local wins = #vim.api.nvim_list_wins()
done = false
vim.cmd("CordonRun echo second")
check(vim.wait(30000, function()
  return done
end, 20), "the second run finished")
check(#vim.api.nvim_list_wins() == wins, "the second run reused the output window (" .. wins .. " windows before, " .. #vim.api.nvim_list_wins() .. " after)")
local runs = cordon.runs()
check(#runs == 2 and runs[1].cmd == "echo second" and runs[2].exit_code == 7, "the history holds both runs, newest first")
check(runs[2].duration_ms ~= nil and #runs[2].violations >= 1, "the history keeps the duration and the violations")
vim.cmd("CordonRuns")
local qf = vim.fn.getqflist()
local on_rule_qf = false
for _, it in ipairs(qf) do
  if it.text:find("blocked.example", 1, true) and it.lnum == 3 then
    on_rule_qf = true
  end
end
check(#qf >= 1 and on_rule_qf, "the quickfix list holds the violations, on the deciding rule (" .. #qf .. " items)")

-- Diagnostics of the first run are still there after the second.
local kept = false
for _, d in ipairs(vim.diagnostic.get(pbuf)) do
  kept = kept or tostring(d.message):find("blocked.example", 1, true) ~= nil
end
check(kept, "the first run's diagnostics survive the second run")

-- :CordonCancel: the run's output says it was cancelled.
done = false
vim.cmd("CordonRun sleep 30")
vim.wait(1500)
vim.cmd("CordonCancel")
check(vim.wait(10000, function()
  return done
end, 20), "the cancelled run ended")
local cl = vim.api.nvim_buf_get_lines(cordon.last.bufnr, 0, -1, false)
check(cl[#cl]:find("cancelled", 1, true) ~= nil, "the run buffer says cancelled (got " .. tostring(cl[#cl]) .. ")")
check(cordon.runs()[1].cancelled == true, "the history marks it cancelled")

-- :CordonExplain: a read-only buffer with the effective policy.
vim.cmd("CordonExplain")
local eb = vim.fn.bufnr("cordon://explain")
check(eb ~= -1, "explain opened cordon://explain")
if eb ~= -1 then
  local et = table.concat(vim.api.nvim_buf_get_lines(eb, 0, -1, false), "\n")
  check(et:find("blocked.example", 1, true) ~= nil, "explain lists the deny rule")
  check(vim.api.nvim_buf_get_option(eb, "modifiable") == false, "the explain buffer is read-only")
end

-- Trust: a widening is shown and asked with its own buttons, then trusted.
asked = {}
f = assert(io.open(policy, "w"))
f:write('[network]\nunknown = "ask"\ndeny = ["blocked.example"]\nallow = ["pkg.example:443"]\n')
f:close()
local st2
check(vim.wait(5000, function()
  st2 = cordon.status()
  return st2 and type(st2.untrusted) == "table" and #st2.untrusted == 1
end, 100), "the status lists the untrusted widening")
io.stderr:write("status root: " .. tostring(st2 and st2.root) .. " buf " .. vim.api.nvim_buf_get_name(0) .. "\n")
check(#asked == 0, "nothing asked about trust while editing")
check(cordon.trust() == true, ":CordonTrust trusted the file")
check(asked[1] and asked[1].choices:find("Trust this file", 1, true) ~= nil and asked[1].choices:find("Not now", 1, true) ~= nil, "the trust question offered Trust this file / Not now")
check(asked[1] and asked[1].msg:find("pkg.example:443", 1, true) ~= nil, "the trust question shows what widens")
check(cordon.status().trusted == true, "the status says trusted")
check(cordon.untrust() == true and cordon.status().trusted == false, ":CordonUntrust withdrew it")

-- :CordonRestart: a new server for the root.
local old = cordon._state().clients[ws]
cordon.restart()
local new = cordon._state().clients[ws]
check(new ~= nil and new ~= old and cordon._state().ready[ws] == true, "restart started a new server (" .. tostring(old) .. " -> " .. tostring(new) .. ")")
vim.cmd("CordonLog")
check(vim.fn.bufnr("cordon://log") ~= -1, ":CordonLog opened the log")

finish()
