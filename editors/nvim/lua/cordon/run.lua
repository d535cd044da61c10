-- One run's scratch buffer: output streams in as it arrives. Every run
-- gets its own buffer (they stay listed in :CordonRuns), shown in one
-- output window that is reused from run to run.
local M = {}

local Run = {}
Run.__index = Run

local counter = 0

-- show puts buf in the output window of place ({ win = id }), opening a
-- split only when that window is gone; the cursor stays where it was.
function M.show(buf, place)
  local win = place and place.win
  if win and vim.api.nvim_win_is_valid(win) then
    vim.api.nvim_win_set_buf(win, buf)
    return win
  end
  vim.cmd("botright split")
  win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_buf(win, buf)
  vim.cmd("wincmd p")
  if place then
    place.win = win
  end
  return win
end

-- new opens a scratch buffer for a run of cmd, shown in place's window.
function M.new(cmd, open_window, place)
  counter = counter + 1
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, ("cordon://run/%d"):format(counter))
  vim.api.nvim_buf_set_option(buf, "buftype", "nofile")
  vim.api.nvim_buf_set_option(buf, "bufhidden", "hide")
  vim.api.nvim_buf_set_option(buf, "swapfile", false)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "$ " .. cmd })
  if open_window ~= false then
    M.show(buf, place)
  end
  return setmetatable({ buf = buf, cmd = cmd, open = false }, Run)
end

local function set(buf, s, e, lines)
  if not vim.api.nvim_buf_is_valid(buf) then
    return
  end
  vim.api.nvim_buf_set_lines(buf, s, e, false, lines)
end

-- append adds a chunk of output; a chunk may end mid-line.
function Run:append(data)
  if type(data) ~= "string" or data == "" then
    return
  end
  local parts = vim.split(data:gsub("\r\n", "\n"), "\n", { plain = true })
  local n = vim.api.nvim_buf_line_count(self.buf)
  if self.open then
    local cur = vim.api.nvim_buf_get_lines(self.buf, n - 1, n, false)[1] or ""
    set(self.buf, n - 1, n, { cur .. parts[1] })
  else
    set(self.buf, n, n, { parts[1] })
  end
  if #parts > 1 then
    n = vim.api.nvim_buf_line_count(self.buf)
    set(self.buf, n, n, vim.list_slice(parts, 2))
  end
  self.open = true
end

-- line adds a full line of cordon's own, after any unfinished output.
function Run:line(s)
  local n = vim.api.nvim_buf_line_count(self.buf)
  if self.open then
    local cur = vim.api.nvim_buf_get_lines(self.buf, n - 1, n, false)[1]
    if cur == "" then
      set(self.buf, n - 1, n, {})
      n = n - 1
    end
  end
  self.open = false
  set(self.buf, n, n, { s })
end

function M.describe_violation(v)
  local rule = "default"
  if type(v.rule) == "table" and v.rule.file then
    rule = ("%s:%s"):format(v.rule.file, tostring(v.rule.line))
  end
  return ("cordon: blocked %s %s (%s)"):format(tostring(v.kind), tostring(v.target), rule)
end

-- qf_item is v as a quickfix entry: on the file written or read when it is
-- a path, else on the deciding rule's line, else on the policy file.
function M.qf_item(v, policy_file, run)
  local item = { text = M.describe_violation(v):gsub("^cordon: ", "") .. (run and (" [" .. run .. "]") or ""), type = "W" }
  if type(v.rule) == "table" and v.rule.file then
    item.filename, item.lnum = v.rule.file, tonumber(v.rule.line) or 1
  else
    item.filename, item.lnum = policy_file, 1
  end
  if v.kind ~= "net" and type(v.target) == "string" and v.target:sub(1, 1) == "/" and vim.loop.fs_stat(v.target) then
    item.filename, item.lnum = v.target, 1
  end
  return item
end

return M
