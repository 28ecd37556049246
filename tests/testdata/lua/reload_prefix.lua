-- Module required by reload_main.lua; the tests rewrite the PREFIX line.
local M = {}
M.PREFIX = "A"
return M
