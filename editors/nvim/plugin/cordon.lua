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
