package lua

// What this binding adds to Lua 5.1's standard library (strpack.go), for
// `imscript types`: LuaLS annotations and the fields for luacheck.

// Std lists, per standard table, the fields the binding adds.
var Std = map[string][]string{
	"string": {"pack", "unpack", "packsize"},
	"table":  {"unpack"},
}

// Annotations are the LuaLS annotations of the fields in Std.
const Annotations = `---Lua 5.3's string.pack (added by imscript).
---@param fmt string
---@param ... any
---@return string
function string.pack(fmt, ...) end

---Lua 5.3's string.unpack (added by imscript): the values, then the next position.
---@param fmt string
---@param s string
---@param pos? integer
---@return any ...
function string.unpack(fmt, s, pos) end

---Lua 5.3's string.packsize (added by imscript).
---@param fmt string
---@return integer
function string.packsize(fmt) end

---Lua 5.2's table.unpack (added by imscript).
---@param list table
---@param i? integer
---@param j? integer
---@return any ...
function table.unpack(list, i, j) end
`
