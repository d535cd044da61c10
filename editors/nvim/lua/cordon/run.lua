-- One run's scratch buffer: output streams in as it arrives.
local M = {}

local Run = {}
Run.__index = Run

local counter = 0

-- new opens a scratch buffer for a run of cmd in a split window.
function M.new(cmd, open_window)
  counter = counter + 1
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, ("cordon://run/%d"):format(counter))
  vim.api.nvim_buf_set_option(buf, "buftype", "nofile")
  vim.api.nvim_buf_set_option(buf, "bufhidden", "hide")
  vim.api.nvim_buf_set_option(buf, "swapfile", false)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "$ " .. cmd })
  if open_window ~= false then
    vim.cmd("botright split")
    vim.api.nvim_win_set_buf(0, buf)
    vim.cmd("wincmd p")
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

return M
