-- Test helper: a module that fails as it loads (stack.lua requires it).
local cfg = nil
return cfg.name -- LINE:broken
