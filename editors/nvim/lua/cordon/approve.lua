-- Approvals: the server's sandbox/approve request, answered by the user.
-- Every path that is not an explicit allow answers "deny" (fail closed).
local M = {}

M.CHOICES = { "&Allow once", "Always &allow", "&Deny" }
local DECISIONS = { "allow-once", "allow-always", "deny" }

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

local function text(p)
  local parts = { title(p) }
  if type(p.message) == "string" and p.message ~= "" then
    table.insert(parts, p.message)
  end
  if type(p.command) == "string" and p.command ~= "" then
    table.insert(parts, "Command: " .. p.command)
  end
  return table.concat(parts, "\n")
end

-- decision maps a 1-based choice to the wire decision; anything else
-- (0 = dismissed, nil) is deny.
function M.decision(choice)
  return DECISIONS[choice] or "deny"
end

local function valid(p)
  return type(p) == "table" and type(p.target) == "string" and type(p.kind) == "string"
end

-- confirm asks synchronously with vim.fn.confirm; Neovim 0.7 needs the
-- reply from inside the handler.
function M.confirm(p)
  if not valid(p) then
    return "deny"
  end
  -- Default button 3 (Deny): a stray <CR> must not allow.
  local ok, choice = pcall(vim.fn.confirm, text(p), table.concat(M.CHOICES, "\n"), 3, "Warning")
  if not ok then
    return "deny"
  end
  return M.decision(choice)
end

-- select asks with vim.ui.select, which UI plugins may make asynchronous;
-- the handler waits for the answer (processing events meanwhile) up to
-- timeout_ms, then denies.
function M.select(p, timeout_ms)
  if not valid(p) then
    return "deny"
  end
  local answer
  local items = { "Allow once", "Always allow", "Deny" }
  vim.ui.select(items, { prompt = text(p) .. "\n" }, function(_, idx)
    answer = M.decision(idx)
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
      d = (ok and (r == "allow-once" or r == "allow-always")) and r or "deny"
    elseif prompt == "select" then
      d = M.select(params, opts.approval_timeout_ms)
    else
      d = M.confirm(params)
    end
    return { decision = d }
  end
end

return M
