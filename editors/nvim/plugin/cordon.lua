-- cordon: user commands. Nothing starts until require("cordon").setup().
if vim.g.loaded_cordon then
  return
end
vim.g.loaded_cordon = true

local function cordon()
  return require("cordon")
end

vim.api.nvim_create_user_command("CordonRun", function(a)
  cordon().run(a.args)
end, { nargs = "+", complete = "shellcmd", desc = "Run a shell command in the cordon sandbox" })

vim.api.nvim_create_user_command("CordonStatus", function()
  cordon().status()
end, { nargs = 0, desc = "Show the cordon sandbox status" })

vim.api.nvim_create_user_command("CordonPolicy", function()
  cordon().policy()
end, { nargs = 0, desc = "Open (or create) the workspace .sandbox.toml" })

vim.api.nvim_create_user_command("CordonCancel", function()
  cordon().cancel()
end, { nargs = 0, desc = "Cancel the last cordon run" })

vim.api.nvim_create_user_command("CordonTerminal", function(a)
  cordon().terminal(a.args)
end, { nargs = "*", complete = "shellcmd", desc = "Open a sandboxed terminal (cordon shell); with a command, run it there" })

vim.api.nvim_create_user_command("CordonRuns", function()
  cordon().show_runs()
end, { nargs = 0, desc = "List this session's cordon runs; their blocked accesses go to the quickfix list" })

vim.api.nvim_create_user_command("CordonExplain", function()
  cordon().explain()
end, { nargs = 0, desc = "Show the effective cordon policy, rule by rule" })

vim.api.nvim_create_user_command("CordonTrust", function()
  cordon().trust()
end, { nargs = 0, desc = "Show what .sandbox.toml widens and trust its content" })

vim.api.nvim_create_user_command("CordonUntrust", function()
  cordon().untrust()
end, { nargs = 0, desc = "Withdraw the trust of .sandbox.toml's content" })

vim.api.nvim_create_user_command("CordonClear", function()
  cordon().clear()
end, { nargs = 0, desc = "Clear the blocked-access diagnostics of every run" })

vim.api.nvim_create_user_command("CordonLog", function()
  cordon().log()
end, { nargs = 0, desc = "Show what the cordon server logged" })

vim.api.nvim_create_user_command("CordonRestart", function()
  cordon().restart()
end, { nargs = 0, desc = "Restart the cordon server of this workspace" })
