-- Approvals: the server's sandbox/approve request, answered by the user.
-- Every path that is not an explicit answer the server offered answers
-- "deny" (fail closed).
local M = {}

-- Each choice: its label for vim.ui.select, its label for confirm() with a
-- distinct accelerator key (& marks it), and the wire decision.
local NETWORK = {
  { label = "Allow once", key = "Allow &once", decision = "allow-once" },
  { label = "Always allow", key = "&Always allow", decision = "allow-always" },
  { label = "Deny", key = "&Deny", decision = "deny" },
  { label = "Always deny", key = "Always de&ny", decision = "deny-always" },
}
local FILESYSTEM = { NETWORK[1], NETWORK[2], NETWORK[3] }
-- The trust question has its own answers, not the network ones.
local POLICY = {
  { label = "Trust this file", key = "&Trust this file", decision = "allow-always" },
  { label = "Not now", key = "&Not now", decision = "deny" },
}
local BY_DECISION = {}
for _, c in ipairs(NETWORK) do
  BY_DECISION[c.decision] = c
end

-- choices lists what may be answered to p: the server's own list when it
-- sends one (params.choices, wire decisions), else the kind's usual set.
function M.choices(p)
  if type(p) == "table" and type(p.choices) == "table" and #p.choices > 0 and p.kind ~= "policy" then
    local out = {}
    for _, d in ipairs(p.choices) do
      if BY_DECISION[d] then
        table.insert(out, BY_DECISION[d])
      end
    end
    if #out > 0 then
      return out
    end
  end
  if type(p) == "table" and p.kind == "policy" then
    return POLICY
  elseif type(p) == "table" and p.kind == "filesystem" then
    return FILESYSTEM
  end
  return NETWORK
end

-- deny_index is the position of the refusing choice: confirm()'s default
-- button, so a stray <CR> never allows.
local function deny_index(cs)
  for i, c in ipairs(cs) do
    if c.decision == "deny" then
      return i
    end
  end
  return #cs
end

local function title(p)
  if p.kind == "network" then
    return "cordon: allow a connection to " .. p.target .. "?"
  elseif p.kind == "filesystem" then
    return "cordon: allow access to " .. p.target .. "?"
  elseif p.kind == "policy" then
    return "cordon: trust the workspace policy " .. p.target .. "?"
  end
  return "cordon: allow " .. tostring(p.target) .. "?"
end

function M.text(p)
  local parts = { title(p) }
  if type(p.message) == "string" and p.message ~= "" then
    table.insert(parts, p.message)
  end
  if type(p.command) == "string" and p.command ~= "" then
    table.insert(parts, "Command: " .. p.command)
  end
  return table.concat(parts, "\n")
end

-- decision maps a 1-based choice among cs to the wire decision; anything
-- else (0 = dismissed, nil) is deny.
function M.decision(choice, cs)
  local c = (cs or NETWORK)[choice]
  return c and c.decision or "deny"
end

local function valid(p)
  return type(p) == "table" and type(p.target) == "string" and type(p.kind) == "string"
end

-- confirm asks synchronously with vim.fn.confirm, one accelerator key per
-- choice; Neovim 0.7 needs the reply from inside the handler.
function M.confirm(p)
  if not valid(p) then
    return "deny"
  end
  local cs = M.choices(p)
  local keys = {}
  for _, c in ipairs(cs) do
    table.insert(keys, c.key)
  end
  local ok, choice = pcall(vim.fn.confirm, M.text(p), table.concat(keys, "\n"), deny_index(cs), "Warning")
  if not ok then
    return "deny"
  end
  return M.decision(choice, cs)
end

-- select asks with vim.ui.select, which UI plugins may make asynchronous;
-- the handler waits for the answer (processing events meanwhile, so the
-- editor stays usable) up to timeout_ms, then denies.
function M.select(p, timeout_ms)
  if not valid(p) then
    return "deny"
  end
  local cs = M.choices(p)
  local labels = {}
  for _, c in ipairs(cs) do
    table.insert(labels, c.label)
  end
  local answer
  vim.ui.select(labels, { prompt = M.text(p) .. "\n", kind = "cordon.approve" }, function(_, idx)
    answer = M.decision(idx, cs)
  end)
  vim.wait(timeout_ms or 60000, function()
    return answer ~= nil
  end, 50)
  return answer or "deny"
end

-- handler returns the sandbox/approve handler for the chosen prompt.
function M.handler(opts)
  local prompt = opts.prompt
  return function(_, params)
    local d
    if type(prompt) == "function" then
      local ok, r = pcall(prompt, params)
      d = "deny"
      if ok then
        for _, c in ipairs(M.choices(params)) do
          if c.decision == r then
            d = r
          end
        end
      end
    elseif prompt == "select" then
      d = M.select(params, opts.approval_timeout_ms)
    else
      d = M.confirm(params)
    end
    return { decision = d }
  end
end

return M
